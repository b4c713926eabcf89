package progress

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPlainLines(t *testing.T) {
	type done struct {
		name, status string
		failed       bool
		took         time.Duration
	}
	tests := []struct {
		name  string
		total int
		items []done
		want  string
	}{
		{"ok and failed", 10, []done{
			{"prod-eu", "2 change(s) pending", false, 1234 * time.Millisecond},
			{"prod-us", "access denied", true, 312 * time.Millisecond},
		}, "[1/10] prod-eu: 2 change(s) pending (1.2s)\n[2/10] prod-us: failed: access denied (312ms)\n"},
		{"escapes name and status", 2, []done{
			{"evil\x1b[2J\nrow", "bad\ttab\u202e", true, time.Second},
		}, `[1/2] evil\x1b[2J\x0arow: failed: bad\x09tab\u202e (1.0s)` + "\n"},
		{"unknown total", 0, []done{{"a", "ok", false, 0}}, "[1] a: ok (0ms)\n"},
		{"more than total", 1, []done{{"a", "ok", false, 0}, {"b", "ok", false, 2 * time.Minute}},
			"[1/1] a: ok (0ms)\n[2/1] b: ok (2m0s)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			r := Plain(&buf, tt.total, "clusters")
			for _, d := range tt.items {
				r.Start(d.name)
				r.Done(d.name, d.status, d.failed, d.took)
			}
			r.Finish()
			if got := buf.String(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:              "0ms",
		0:                         "0ms",
		1400 * time.Microsecond:   "1ms",
		999 * time.Millisecond:    "999ms",
		time.Second:               "1.0s",
		1249 * time.Millisecond:   "1.2s",
		1250 * time.Millisecond:   "1.3s",
		59 * time.Second:          "59.0s",
		125400 * time.Millisecond: "2m5s",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

// Items finishing in parallel get counters 1..n in the order their lines
// appear, each line whole.
func TestPlainConcurrent(t *testing.T) {
	const n = 64
	var buf bytes.Buffer
	r := Plain(&buf, n, "principals")
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("item-%d", i)
			r.Start(name)
			r.Done(name, "done", i%3 == 0, time.Duration(i)*time.Millisecond)
		})
	}
	wg.Wait()
	r.Finish()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), n, buf.String())
	}
	re := regexp.MustCompile(`^\[(\d+)/64\] (item-\d+): (failed: )?done \(\d+ms\)$`)
	seen := map[string]bool{}
	for i, l := range lines {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q does not match %v", l, re)
		}
		if got, _ := strconv.Atoi(m[1]); got != i+1 {
			t.Errorf("line %d has counter %d", i+1, got)
		}
		if seen[m[2]] {
			t.Errorf("%s reported twice", m[2])
		}
		seen[m[2]] = true
	}
}

func TestFinishIdempotent(t *testing.T) {
	var buf bytes.Buffer
	r := Plain(&buf, 2, "clusters")
	r.Done("a", "ok", false, 0)
	r.Finish()
	r.Finish()
	r.Start("b")
	r.Done("b", "ok", false, 0)
	if got, want := buf.String(), "[1/2] a: ok (0ms)\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestQuiet(t *testing.T) {
	for _, r := range []*Reporter{Discard(), nil, {}} {
		r.Start("a")
		r.Done("a", "ok", true, time.Second)
		r.Finish()
		r.Finish()
	}
}

func TestEnvForcesPlain(t *testing.T) {
	for _, tt := range []struct {
		ci, noProgress, term string
		want                 bool
	}{
		{"", "", "xterm-256color", true},
		{"true", "", "xterm-256color", false},
		{"1", "", "xterm", false},
		{"", "1", "xterm", false},
		{"", "", "dumb", false},
	} {
		t.Setenv("CI", tt.ci)
		t.Setenv("NO_PROGRESS", tt.noProgress)
		t.Setenv("TERM", tt.term)
		if got := envAllowsBar(); got != tt.want {
			t.Errorf("CI=%q NO_PROGRESS=%q TERM=%q: bar %v, want %v", tt.ci, tt.noProgress, tt.term, got, tt.want)
		}
	}
}

// Not a terminal, whatever the environment: a buffer, a pipe, /dev/null
// (a character device) all get plain lines.
func TestNewPlainOffTerminal(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv("TERM", "xterm")
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	for _, w := range []any{&bytes.Buffer{}, devnull, pw} {
		var r *Reporter
		switch w := w.(type) {
		case *os.File:
			r = New(w, 1, "clusters")
		case *bytes.Buffer:
			r = New(w, 1, "clusters")
		}
		if r.bar != nil {
			t.Errorf("%T: got a bar", w)
		}
		r.Finish()
	}
}

// The bar, drawn into a buffer: counters, failure count, and the failed
// item as a line of its own.
func TestBar(t *testing.T) {
	var buf bytes.Buffer
	r := newBar(&buf, 3, "principals", true)
	r.Start("role/a")
	r.Start("role/b\x1b[31m")
	if got := r.inFlight(40); got != ` role/a, role/b\x1b[31m` {
		t.Errorf("in flight: %q", got)
	}
	r.Done("role/a", "created", false, 10*time.Millisecond)
	r.Done("role/b\x1b[31m", "AccessDenied", true, 1500*time.Millisecond)
	r.Start("role/c")
	time.Sleep(250 * time.Millisecond) // a refresh or two
	r.Done("role/c", "created", false, time.Millisecond)
	r.Finish()
	r.Finish()
	r.Done("role/d", "late", true, 0)
	out := buf.String()
	for _, want := range []string{
		"principals", "3/3", "1 failed",
		"[2/3] role/b\\x1b[31m: failed: AccessDenied (1.5s)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%q", want, out)
		}
	}
	if strings.Contains(out, "created") || strings.Contains(out, "late") {
		t.Errorf("only failures get a line of their own:\n%q", out)
	}
	if strings.Contains(out, "\x1b[31m") {
		t.Errorf("raw escape from a name reached the terminal:\n%q", out)
	}
}

// A run that stops early: Finish must not wait for the missing items.
func TestBarStoppedEarly(t *testing.T) {
	var buf bytes.Buffer
	r := newBar(&buf, 10, "clusters", true)
	r.Start("a")
	r.Done("a", "ok", false, 0)
	fin := make(chan struct{})
	go func() { r.Finish(); close(fin) }()
	select {
	case <-fin:
	case <-time.After(5 * time.Second):
		t.Fatal("Finish hangs on a bar short of its total")
	}
	if !strings.Contains(buf.String(), "1/10") {
		t.Errorf("no 1/10 in %q", buf.String())
	}
}

func TestBarConcurrent(t *testing.T) {
	var buf bytes.Buffer
	const n = 40
	r := newBar(&buf, n, "clusters", true)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("c%d", i)
			r.Start(name)
			time.Sleep(time.Duration(i%5) * time.Millisecond)
			r.Done(name, "boom", i%4 == 0, time.Millisecond)
		})
	}
	// Finish racing the last items is allowed.
	wg.Wait()
	r.Finish()
	out := buf.String()
	if got := strings.Count(out, ": failed: boom"); got != n/4 {
		t.Errorf("%d failure lines, want %d:\n%q", got, n/4, out)
	}
	if !strings.Contains(out, "40/40") || !strings.Contains(out, "10 failed") {
		t.Errorf("final bar missing:\n%q", out)
	}
}

func TestLinesSaysWhetherOutcomesWerePrinted(t *testing.T) {
	var buf bytes.Buffer
	if !Plain(&buf, 1, "x").Lines() {
		t.Error("a plain reporter prints a line per item")
	}
	if Discard().Lines() || (*Reporter)(nil).Lines() {
		t.Error("a quiet reporter prints nothing")
	}
	bar := newBar(&buf, 1, "x", true)
	defer bar.Finish()
	if bar.Lines() {
		t.Error("a bar prints no line per item")
	}
}

// Messages go above a live bar, and straight to w otherwise.
func TestMessagesGoAboveTheBar(t *testing.T) {
	var plainOut bytes.Buffer
	if w := Plain(&plainOut, 1, "x").Messages(&plainOut); w != &plainOut {
		t.Error("a plain reporter should leave messages to w")
	}
	var out bytes.Buffer
	bar := newBar(&out, 2, "clusters", true)
	w := bar.Messages(&out)
	if _, err := io.WriteString(w, "iammap: warning: cluster a: something\n"); err != nil {
		t.Fatal(err)
	}
	bar.Done("a", "in sync", false, 0)
	bar.Done("b", "in sync", false, 0)
	bar.Finish()
	if !strings.Contains(out.String(), "iammap: warning: cluster a: something\n") {
		t.Errorf("the message is lost:\n%q", out.String())
	}
	if _, err := io.WriteString(w, "after\n"); err != nil || !strings.HasSuffix(out.String(), "after\n") {
		t.Errorf("after Finish, messages go to w: %v %q", err, out.String())
	}
}
