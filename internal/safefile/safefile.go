// Package safefile writes a new file that nobody can redirect: it never
// follows a symbolic link, never overwrites an existing file (whose mode
// and owner would be kept), and is readable by its owner only. iammap
// writes aws-auth backups with it: they hold who may administer a cluster.
package safefile

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrExists is wrapped when the path already exists (a file, or a link,
// even a dangling one).
var ErrExists = errors.New("already exists; iammap never overwrites a file or follows a link")

// Create writes data to a new file at path with mode 0600. On any error the
// file is removed again, so a partial backup never passes for a whole one.
func Create(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s %w", path, ErrExists)
		}
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
