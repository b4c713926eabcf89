package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		prepare func(path string) error
		wantErr error
	}{
		{"new file", filepath.Join(dir, "new"), nil, nil},
		{"existing file is kept", target, nil, ErrExists},
		{"a link to a file is not followed", filepath.Join(dir, "link"), func(p string) error { return os.Symlink(target, p) }, ErrExists},
		{"a dangling link is not followed", filepath.Join(dir, "dangling"), func(p string) error { return os.Symlink(filepath.Join(dir, "nowhere"), p) }, ErrExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.prepare != nil {
				if err := tt.prepare(tt.path); err != nil {
					t.Fatal(err)
				}
			}
			err := Create(tt.path, []byte("secret"))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Create = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			info, err := os.Lstat(tt.path)
			if err != nil || info.Mode().Perm() != 0o600 || !info.Mode().IsRegular() {
				t.Errorf("file = %v, %v; want a regular 0600 file", info, err)
			}
		})
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the link's target was written: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "nowhere")); !os.IsNotExist(err) {
		t.Errorf("the dangling link's target was created: %v", err)
	}
}
