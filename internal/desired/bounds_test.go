package desired

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/iammap/iammap/internal/readlimit"
)

// TestLoadRefusesMultipleDocuments: only the first document was read, so
// with --prune apply removed the principals of the others. A file with a
// second document is refused, naming the line where it starts; a trailing
// "---" with nothing after it carries nothing and is read.
func TestLoadRefusesMultipleDocuments(t *testing.T) {
	tests := []struct {
		file string
		want string // "" when the file loads
	}{
		{"multidoc.yaml", "line 8: a second YAML document starts here"},
		{"multidoc-eksctl.yaml", "line 11: a second YAML document starts here"},
		{"trailing-separator.yaml", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := Load(filepath.Join("testdata", tt.file))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tgt, _ := f.Target(""); len(tgt.AWSAuth.Mappings) != 1 {
					t.Errorf("mappings = %+v", tgt.AWSAuth.Mappings)
				}
				return
			}
			if err == nil {
				t.Fatalf("loaded %+v, want an error", f)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "split the file") {
				t.Errorf("err = %v, want ErrInvalid with %q and advice", err, tt.want)
			}
		})
	}
}

func TestParseRefusesMultipleDocuments(t *testing.T) {
	head := "apiVersion: iammap/v1\nkind: AccessConfig\n"
	tests := []struct{ name, doc, want string }{
		{"second document", head + "---\n" + head, "line 3: a second YAML document starts here"},
		{"third after an empty second", head + "---\n---\n" + head, "line 4: a second YAML document starts here"},
		{"second does not parse", head + "---\n: :\n  - x\n", "more than one YAML document, and the second does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalid with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// TestLoadRefusesOversizedFile: /dev/zero and huge files were read whole
// until memory ran out (and the runtime's exit status 2 is diff's "changes
// pending"). Load reads at most MaxFileSize+1 bytes.
func TestLoadRefusesOversizedFile(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.yaml")
	// A valid file padded with a comment just past the limit.
	pad := "apiVersion: iammap/v1\nkind: AccessConfig\n#"
	if err := os.WriteFile(big, []byte(pad+strings.Repeat("x", MaxFileSize-len(pad)+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	atLimit := filepath.Join(t.TempDir(), "limit.yaml")
	if err := os.WriteFile(atLimit, []byte(pad+strings.Repeat("x", MaxFileSize-len(pad))), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(atLimit); err != nil {
		t.Errorf("a file of exactly %d bytes: %v", MaxFileSize, err)
	}
	paths := []string{big}
	if runtime.GOOS != "windows" {
		paths = append(paths, "/dev/zero")
	}
	for _, p := range paths {
		_, err := Load(p)
		if !errors.Is(err, readlimit.ErrTooLarge) || !strings.Contains(err.Error(), p+" is larger than 4 MiB") {
			t.Errorf("Load(%s) = %v, want ErrTooLarge naming the file and 4 MiB", p, err)
		}
	}
}
