package app

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// TestTimeoutBoundsWaits checks that --timeout ends a command that waits on
// its context (as auth-mode --wait and migrate do on EKS's update), with an
// error saying so and a hint.
func TestTimeoutBoundsWaits(t *testing.T) {
	// The hint names auth-mode only where an EKS change may be in flight.
	for _, tt := range []struct{ command, hint string }{
		{"auth-mode", "iammap auth-mode"},
		{"apply", "run the command again (it re-reads and converges)"},
	} {
		t.Run(tt.command, func(t *testing.T) {
			waited := make(chan time.Duration, 1)
			cmds := []*cli.Command{{Name: tt.command, Flags: globalFlags(), Action: func(c *cli.Context) error {
				start := time.Now()
				<-c.Context.Done()
				waited <- time.Since(start)
				return c.Context.Err()
			}}}
			bounded(cmds)
			var stderr bytes.Buffer
			app := &cli.App{Name: "iammap", Commands: cmds, Writer: &stderr, ErrWriter: &stderr, ExitErrHandler: func(*cli.Context, error) {}}
			err := app.RunContext(context.Background(), []string{"iammap", tt.command, "--timeout", "50ms"})
			if err == nil {
				t.Fatal("no error after --timeout")
			}
			if d := <-waited; d > 5*time.Second {
				t.Errorf("waited %s with --timeout 50ms", d)
			}
			msg, hint := describe(err)
			if msg != "gave up after --timeout 50ms: context deadline exceeded" || !strings.Contains(hint, tt.hint) {
				t.Errorf("error %q, hint %q; want the hint to say %q", msg, hint, tt.hint)
			}
		})
	}
}

func TestTimeoutDefaultsToEksctls(t *testing.T) {
	var got time.Duration
	cmds := []*cli.Command{{Name: "peek", Flags: globalFlags(), Action: func(c *cli.Context) error {
		dl, _ := c.Context.Deadline()
		got = time.Until(dl)
		return nil
	}}}
	bounded(cmds)
	app := &cli.App{Name: "iammap", Commands: cmds, Flags: globalFlags()}
	if err := app.RunContext(context.Background(), []string{"iammap", "peek"}); err != nil {
		t.Fatal(err)
	}
	if got <= 24*time.Minute || got > 25*time.Minute {
		t.Errorf("deadline in %s, want eksctl's 25m", got)
	}
}
