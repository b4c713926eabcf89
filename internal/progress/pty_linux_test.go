package progress

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns both ends of a new pseudo-terminal, or skips.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pts: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 100}); err != nil {
		t.Skipf("set window size: %v", err)
	}
	return m, s
}

func TestNewOnTerminal(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv("NO_PROGRESS", "")
	t.Setenv("TERM", "xterm-256color")
	master, tty := openPTY(t)
	var got bytes.Buffer
	read := make(chan struct{})
	go func() { _, _ = io.Copy(&got, master); close(read) }()

	r := New(tty, 2, "clusters")
	if r.bar == nil {
		t.Fatal("no bar on a terminal")
	}
	r.Start("prod-eu")
	r.Done("prod-eu", "denied", true, time.Second)
	r.Start("prod-us")
	r.Done("prod-us", "ok", false, time.Second)
	r.Finish()

	t.Setenv("CI", "true")
	if r := New(tty, 1, "clusters"); r.bar != nil {
		t.Error("CI=true: got a bar")
	}
	t.Setenv("CI", "")
	t.Setenv("TERM", "dumb")
	if r := New(tty, 1, "clusters"); r.bar != nil {
		t.Error("TERM=dumb: got a bar")
	}

	tty.Close()
	select {
	case <-read:
	case <-time.After(5 * time.Second):
		t.Fatal("reading the terminal did not end")
	}
	out := got.String()
	for _, want := range []string{"[1/2] prod-eu: failed: denied (1.0s)", "2/2", "1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal lacks %q:\n%q", want, out)
		}
	}
}

// A pseudo-terminal nobody sized reports 0 columns (`script` without a
// size, some `docker exec -t`): a bar there draws nothing, so New writes
// plain lines, and every finished item reaches the screen.
func TestNewOnTerminalWithoutWidth(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv("NO_PROGRESS", "")
	t.Setenv("TERM", "xterm-256color")
	master, tty := openPTY(t)
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{}); err != nil {
		t.Skipf("set window size: %v", err)
	}
	var got bytes.Buffer
	read := make(chan struct{})
	go func() { _, _ = io.Copy(&got, master); close(read) }()

	r := New(tty, 2, "clusters")
	if r.bar != nil {
		t.Error("a bar on a terminal 0 columns wide")
	}
	r.Start("prod-eu")
	r.Done("prod-eu", "2 change(s) pending", false, time.Second)
	r.Start("prod-us")
	r.Done("prod-us", "denied", true, time.Second)
	r.Finish()

	tty.Close()
	select {
	case <-read:
	case <-time.After(5 * time.Second):
		t.Fatal("reading the terminal did not end")
	}
	out := got.String()
	for _, want := range []string{"[1/2] prod-eu: 2 change(s) pending (1.0s)", "[2/2] prod-us: failed: denied (1.0s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal lacks %q:\n%q", want, out)
		}
	}
}
