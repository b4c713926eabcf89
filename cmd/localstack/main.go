// Command localstack starts and stops iammap's local Kubernetes stack for
// `make up`, `make down` and `make demo`. It writes DIR/env with shell export
// lines (at least KUBECONFIG for a cluster admin) for later commands to source.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/iammap/iammap/localstack"
	"github.com/urfave/cli/v2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	app := &cli.App{
		Name:           "localstack",
		Usage:          "run iammap's local Kubernetes API server (real kube-apiserver + etcd on 127.0.0.1)",
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: ".local", Usage: "state `DIR`; DIR/env is written here"},
			&cli.StringFlag{Name: "bin", Value: "bin", Usage: "`DIR` holding kube-apiserver and etcd"},
		},
		Commands: []*cli.Command{
			{Name: "up", Usage: "start the stack in the background (no-op when it already runs)", Action: up},
			{Name: "down", Usage: "stop the stack and remove its state", Action: down},
		},
	}
	if err := app.RunContext(ctx, os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "localstack: error: %v\n", err)
		if errors.Is(err, localstack.ErrBinariesMissing) {
			fmt.Fprintf(os.Stderr, "localstack: hint: %s\n", localstack.BuildHint)
		}
		os.Exit(1)
	}
}

func stackDir(c *cli.Context) (string, error) {
	return filepath.Abs(filepath.Join(c.String("dir"), "stack"))
}

func up(c *cli.Context) error {
	dir, err := stackDir(c)
	if err != nil {
		return err
	}
	if running, err := localstack.Load(dir); err == nil && running.Running() {
		fmt.Fprintf(os.Stderr, "localstack: already running at %s\n", running.Server)
		return writeEnv(c, running)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	start := time.Now()
	cluster, err := localstack.Start(c.Context, localstack.Options{BinDir: c.String("bin"), Dir: dir})
	if err != nil {
		return err
	}
	if err := cluster.WriteState(); err != nil {
		cluster.Stop()
		return err
	}
	fmt.Fprintf(os.Stderr, "localstack: kube-apiserver ready at %s in %.1fs (logs in %s)\n", cluster.Server, time.Since(start).Seconds(), dir)
	return writeEnv(c, cluster)
}

func writeEnv(c *cli.Context, cluster *localstack.Cluster) error {
	root, err := filepath.Abs(c.String("dir"))
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(root, "kubeconfig")
	if err := cluster.WriteKubeconfig(kubeconfig); err != nil {
		return err
	}
	lines := []string{
		"# written by `make up`; source it: . .local/env",
		"export KUBECONFIG=" + shellQuote(kubeconfig),
		"export IAMMAP_LOCAL_SERVER=" + shellQuote(cluster.Server),
	}
	envFile := filepath.Join(root, "env")
	if err := os.WriteFile(envFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "localstack: wrote %s (KUBECONFIG for a cluster admin); run: . %s\n", envFile, envFile)
	return nil
}

func down(c *cli.Context) error {
	dir, err := stackDir(c)
	if err != nil {
		return err
	}
	cluster, err := localstack.Load(dir)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "localstack: not running")
		return nil
	}
	if err != nil {
		return err
	}
	cluster.Stop()
	root := filepath.Dir(dir)
	for _, p := range []string{dir, filepath.Join(root, "env"), filepath.Join(root, "kubeconfig")} {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	fmt.Fprintln(os.Stderr, "localstack: stopped")
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
