package readlimit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFileAndCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("a", n)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		tooBig  bool
		missing bool
	}{
		{"under", write("under", 99), false, false},
		{"at the limit", write("at", 100), false, false},
		{"one byte over", write("over", 101), true, false},
		{"endless device", "/dev/zero", true, false},
		{"missing", filepath.Join(dir, "nope"), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ReadFile(tt.path, 100, "test files")
			switch {
			case tt.tooBig:
				if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tt.path+" is larger than 100 bytes, iammap's limit for test files") {
					t.Errorf("ReadFile = %d bytes, %v; want ErrTooLarge", len(b), err)
				}
			case tt.missing:
				if !errors.Is(err, os.ErrNotExist) {
					t.Errorf("ReadFile = %v, want not-exist", err)
				}
			case err != nil:
				t.Errorf("ReadFile: %v", err)
			}
			err = Check(tt.path, 100, "test files")
			if tt.tooBig != errors.Is(err, ErrTooLarge) || (!tt.tooBig && err != nil) {
				t.Errorf("Check = %v, too large: %v", err, tt.tooBig)
			}
		})
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{AccessFile: "4 MiB", Kubeconfig: "16 MiB", 100: "100 bytes"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}
