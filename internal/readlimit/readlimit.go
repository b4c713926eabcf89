// Package readlimit reads the files iammap is given (access files, eksctl
// ClusterConfigs, kubeconfigs) with a size limit. Without one, a path such
// as /dev/zero or a runaway generated file is read until memory runs out,
// and the Go runtime then exits with status 2, which `iammap diff` uses for
// "changes pending": a CI job would read a crash as a pending change.
package readlimit

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge is wrapped by the error for a file over its limit.
var ErrTooLarge = errors.New("file too large")

// Limits, documented in docs/access-files.md and README.md. Access files
// and ClusterConfigs of thousands of principals are a few hundred KiB;
// kubeconfigs hold certificates and many contexts, so get more room.
const (
	AccessFile = 4 << 20  // access files and eksctl ClusterConfigs
	Kubeconfig = 16 << 20 // each kubeconfig file
)

// ReadFile reads path, refusing it when it holds more than limit bytes.
// It reads at most limit+1 bytes, whatever the file is (a device, a pipe, a
// file still growing), so memory stays bounded. what names the kind of
// files for the message ("access files").
func ReadFile(path string, limit int64, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, path, limit, what)
}

// Read is [ReadFile] for an open reader; name is what the message calls it.
func Read(r io.Reader, name string, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, TooLarge(name, limit, what)
	}
	return b, nil
}

// Check reads path through to its end without keeping it, and fails when it
// holds more than limit bytes; for files another library reads afterwards.
// A missing file is not an error here: the reader that follows reports it
// in its own words.
func Check(path string, limit int64, what string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(io.Discard, io.LimitReader(f, limit+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if n > limit {
		return TooLarge(path, limit, what)
	}
	return nil
}

// TooLarge is the error for a file over its limit; the advice is in the
// message because the packages that return it cannot attach hints.
func TooLarge(name string, limit int64, what string) error {
	return fmt.Errorf("%w: %s is larger than %s, iammap's limit for %s; check the path (a device such as /dev/zero, or a generated file gone wrong?), or split the file", ErrTooLarge, name, Size(limit), what)
}

// Size renders a byte count as the limits are documented: "4 MiB".
func Size(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
