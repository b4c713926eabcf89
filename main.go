// Command iammap maps AWS IAM identities to Kubernetes users and groups on
// Amazon EKS. See README.md; the command line lives in internal/app.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/iammap/iammap/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := app.Main(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
