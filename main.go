// Command iammap maps AWS IAM identities to Kubernetes users and groups on
// Amazon EKS. See README.md; the command line lives in internal/app.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/iammap/iammap/internal/app"
)

func main() {
	ctx, interrupted := interruptible(context.Background())
	code := app.Main(ctx, os.Args, os.Stdout, os.Stderr)
	if sig, ok := interrupted(); ok && code != 0 {
		// The shell's convention for a command ended by a signal, after
		// iammap has reported what it did before stopping.
		code = 128 + int(sig)
	}
	os.Exit(code)
}

// interruptible returns a context cancelled by the first SIGINT or SIGTERM
// (a terminal's Ctrl-C, or a CI runner or Kubernetes stopping the job), so
// commands stop starting writes, let those already sent finish (bounded)
// and report what was done. A second signal ends the process at once.
// interrupted tells which signal arrived, if any.
func interruptible(parent context.Context) (ctx context.Context, interrupted func() (syscall.Signal, bool)) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	got := make(chan syscall.Signal, 1)
	go func() {
		sig := (<-ch).(syscall.Signal)
		// Back to the default action: the next signal kills.
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		got <- sig
		cancel()
	}()
	return ctx, func() (syscall.Signal, bool) {
		select {
		case sig := <-got:
			return sig, true
		default:
			return 0, false
		}
	}
}
