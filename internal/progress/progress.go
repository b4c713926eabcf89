// Package progress reports on stderr how a long run over many items
// (clusters of a fleet, principals of a migration) is getting on.
//
// On a terminal a [Reporter] draws one live bar: done/total, failures,
// elapsed time and the items in flight; a failed item is also printed as a
// line above the bar, so it stays on screen once the bar is gone. Anywhere
// else (a pipe, a file, CI logs) it writes one stable, greppable line per
// finished item and draws nothing:
//
//	[3/10] prod-eu: 2 change(s) pending (1.2s)
//	[4/10] prod-us: failed: access denied (312ms)
//
// Names and statuses may come from a server or a file, so both pass
// through [output.Safe] before they reach the terminal.
//
// The bar is github.com/vbauerster/mpb/v8 rather than
// github.com/schollz/progressbar/v3: mpb is built for bars updated from many
// goroutines (its state lives in one render goroutine, fed over channels),
// its decorators are plain functions (so the bar can show the names in
// flight and a failure count that change under it), and its
// [mpb.Progress.Write] prints lines above a running bar without tearing it;
// progressbar/v3 would need the bar cleared and redrawn around every line.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/iammap/iammap/internal/output"
)

// Reporter reports the items of one run. All its methods are safe for
// concurrent use; the zero value and nil are quiet reporters.
type Reporter struct {
	mu       sync.Mutex
	w        io.Writer // where lines go; nil: quiet
	total    int
	done     int
	failed   int
	finished bool

	// Bar mode only: the container, its one bar, and the names in flight
	// (under a lock of their own). mpb's render goroutine takes mu and
	// flight to draw, so no method calls into mpb while holding either.
	p      *mpb.Progress
	bar    *mpb.Bar
	flight struct {
		sync.Mutex
		names []string
	}
}

// New returns a reporter for total items labelled noun ("clusters",
// "principals") writing to w. It draws a live bar when w is an *os.File on
// a terminal that reports its width (more than 0 columns), TERM is not
// "dumb" and neither CI nor NO_PROGRESS is set (to any non-empty value;
// GitHub Actions and GitLab set CI=true); otherwise it writes one plain line
// per finished item, as [Plain].
func New(w io.Writer, total int, noun string) *Reporter {
	if !live(w) {
		return Plain(w, total, noun)
	}
	return newBar(w, total, noun, false)
}

// Plain returns a reporter that writes one line per finished item to w,
// whatever w is.
func Plain(w io.Writer, total int, noun string) *Reporter {
	return &Reporter{w: w, total: total}
}

// Discard returns a reporter that reports nothing (for --quiet, -v 0).
func Discard() *Reporter { return &Reporter{} }

// live says whether w deserves a live bar.
func live(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil || !envAllowsBar() {
		return false
	}
	st, err := f.Stat()
	// A character device may be /dev/null: ask the terminal itself.
	if err != nil || st.Mode()&os.ModeCharDevice == 0 || !term.IsTerminal(int(f.Fd())) {
		return false
	}
	// A terminal that does not know its width (a pty nobody sized: `script`
	// without a size, some `docker exec -t`) reports 0 columns, in which a
	// bar draws nothing at all: plain lines instead.
	cols, _, err := term.GetSize(int(f.Fd()))
	return err == nil && cols > 0
}

// envAllowsBar: no CI, no NO_PROGRESS, and a TERM that can move the cursor.
func envAllowsBar() bool {
	return os.Getenv("CI") == "" && os.Getenv("NO_PROGRESS") == "" && os.Getenv("TERM") != "dumb"
}

// newBar draws the bar on w; forced (tests) draws it even when w is not
// a terminal, 80 columns wide.
func newBar(w io.Writer, total int, noun string, forced bool) *Reporter {
	r := &Reporter{w: w, total: total}
	opts := []mpb.ContainerOption{mpb.WithOutput(w), mpb.WithRefreshRate(100 * time.Millisecond)}
	if forced {
		opts = append(opts, mpb.WithAutoRefresh(), mpb.WithWidth(80))
	}
	r.p = mpb.New(opts...)
	r.bar = r.p.AddBar(int64(max(total, 0)),
		mpb.PrependDecorators(
			decor.Name(output.Safe(noun)+" ", decor.WCSyncSpaceR),
			decor.CountersNoUnit("%d/%d", decor.WCSyncWidth),
		),
		mpb.AppendDecorators(
			decor.Any(func(decor.Statistics) string {
				r.mu.Lock()
				defer r.mu.Unlock()
				if r.failed == 0 {
					return ""
				}
				return fmt.Sprintf("%d failed", r.failed)
			}, decor.WC{W: 10, C: decor.DindentRight}),
			decor.Elapsed(decor.ET_STYLE_GO),
			// Fixed widths, so the bar does not jump as names come and go.
			decor.Any(func(decor.Statistics) string { return r.inFlight(30) }, decor.WC{W: 31, C: decor.DindentRight}),
		),
	)
	return r
}

// Lines reports whether r writes a line per finished item (plain mode), so
// a caller need not print the same outcomes again.
func (r *Reporter) Lines() bool { return r != nil && r.w != nil && r.bar == nil }

// Start says an item began; the bar shows it until its Done.
func (r *Reporter) Start(name string) {
	if r == nil || r.bar == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return
	}
	r.flight.Lock()
	r.flight.names = append(r.flight.names, output.Safe(name))
	r.flight.Unlock()
}

// Done says an item finished, with status a short phrase ("2 change(s)
// pending", or for a failure what went wrong) and took its duration.
func (r *Reporter) Done(name, status string, failed bool, took time.Duration) {
	if r == nil || r.w == nil {
		return
	}
	name = output.Safe(name)
	r.mu.Lock()
	if r.finished {
		r.mu.Unlock()
		return
	}
	r.done++
	if failed {
		r.failed++
	}
	line := r.line(name, output.Safe(status), failed, took)
	if r.bar == nil {
		_, _ = io.WriteString(r.w, line)
		r.mu.Unlock()
		return
	}
	r.flight.Lock()
	if i := indexOf(r.flight.names, name); i >= 0 {
		r.flight.names = append(r.flight.names[:i], r.flight.names[i+1:]...)
	}
	r.flight.Unlock()
	// Outside mu: mpb's render goroutine, which these calls wait on,
	// takes mu to draw the failure count.
	r.mu.Unlock()
	if failed {
		_, _ = io.WriteString(r.p, line)
	}
	r.bar.Increment()
}

// Messages returns where other messages should go while the report runs:
// above a live bar (written whole, so lines from clusters running side by
// side neither tear the bar nor each other), else w itself.
func (r *Reporter) Messages(w io.Writer) io.Writer {
	if r == nil || r.bar == nil {
		return w
	}
	return aboveBar{r}
}

type aboveBar struct{ r *Reporter }

func (a aboveBar) Write(b []byte) (int, error) {
	a.r.mu.Lock()
	finished := a.r.finished
	a.r.mu.Unlock()
	if finished {
		return a.r.w.Write(b)
	}
	return a.r.p.Write(b)
}

// Finish ends the report: the bar, if any, is drawn one last time and
// stops. Calling it again does nothing, and after it Start and Done do
// nothing.
func (r *Reporter) Finish() {
	if r == nil {
		return
	}
	r.mu.Lock()
	if r.finished {
		r.mu.Unlock()
		return
	}
	r.finished = true
	r.mu.Unlock()
	if r.bar == nil {
		return
	}
	r.flight.Lock()
	r.flight.names = nil
	r.flight.Unlock()
	// Fewer items than announced (a run stopped early): stop the bar where
	// it is, which Wait needs to return.
	r.bar.Abort(false)
	r.p.Wait()
}

// line is one finished item, as plain mode prints it.
func (r *Reporter) line(name, status string, failed bool, took time.Duration) string {
	counter := fmt.Sprintf("[%d/%d]", r.done, r.total)
	if r.total <= 0 {
		counter = fmt.Sprintf("[%d]", r.done)
	}
	if failed {
		status = "failed: " + status
	}
	return fmt.Sprintf("%s %s: %s (%s)\n", counter, name, status, Duration(took))
}

// inFlight lists the names in flight, at most width characters.
func (r *Reporter) inFlight(width int) string {
	r.flight.Lock()
	names := append([]string(nil), r.flight.names...)
	r.flight.Unlock()
	if len(names) == 0 {
		return ""
	}
	s := " " + names[0]
	shown := 1
	for _, n := range names[1:] {
		if len(s)+len(n)+2 > width {
			break
		}
		s += ", " + n
		shown++
	}
	if rs := []rune(s); shown == 1 && len(rs) > width {
		s = string(rs[:width-3]) + "..."
	}
	if rest := len(names) - shown; rest > 0 {
		s += fmt.Sprintf(" +%d", rest)
	}
	return s
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

// Duration renders d as plain lines do: milliseconds under a second
// ("312ms"), tenths of a second under a minute ("1.2s"), whole seconds
// above ("2m5s").
func Duration(d time.Duration) string {
	switch {
	case d < 0:
		d = 0
		fallthrough
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Round(time.Millisecond).Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Round(100*time.Millisecond).Seconds())
	}
	return d.Round(time.Second).String()
}
