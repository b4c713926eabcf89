// Command iammap-devstack starts and stops iammap's local stack for `make up`,
// `make down` and `make demo`: a real kube-apiserver and etcd on 127.0.0.1,
// plus a local EKS (API emulator, authenticating webhooks, and
// authenticator-oracle, aws-iam-authenticator's own aws-auth mapper, which
// decides aws-auth for the webhook). `up` starts a background `run` process
// that owns the stack and writes DIR/env with shell export lines: KUBECONFIG
// for a cluster admin, the EKS, IAM and STS endpoints, the cluster name and the
// credentials of the local principals.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/iammap/iammap/internal/devstack"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/eksemu"
	"github.com/urfave/cli/v2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := &cli.App{
		Name:           "iammap-devstack",
		Usage:          "run iammap's local stack: kube-apiserver + etcd on 127.0.0.1 and a local EKS",
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: ".local", Usage: "state `DIR`; DIR/env is written here"},
			&cli.StringFlag{Name: "bin", Value: "bin", Usage: "`DIR` holding kube-apiserver, etcd and authenticator-oracle"},
			&cli.StringFlag{Name: "auth-mode", Value: eksemu.ModeAPIAndConfigMap, EnvVars: []string{"IAMMAP_LOCAL_AUTH_MODE"}, Usage: "the local cluster's starting authentication mode: CONFIG_MAP, API_AND_CONFIG_MAP or API"},
			&cli.StringFlag{Name: "cluster", Value: devstack.DefaultClusterName, Usage: "the local cluster's name"},
			&cli.StringSliceFlag{Name: "principal", Usage: "extra local IAM principal `NAME=ARN` (credentials are generated)"},
			&cli.StringSliceFlag{Name: "iam", Value: cli.NewStringSlice(demoIAM...), Usage: "`ARN` that exists in the local IAM (for migrate's path lookups); repeatable"},
		},
		Commands: []*cli.Command{
			{Name: "up", Usage: "start the stack in the background (no-op when it already runs)", Action: up},
			{Name: "down", Usage: "stop the stack and remove its state", Action: down},
			{Name: "run", Usage: "run the stack in the foreground until interrupted", Action: run, Hidden: true},
		},
	}
	if err := app.RunContext(ctx, os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "iammap-devstack: error: %v\n", err)
		if errors.Is(err, devstack.ErrBinariesMissing) {
			fmt.Fprintf(os.Stderr, "iammap-devstack: hint: %s\n", devstack.BuildHint)
		}
		os.Exit(1)
	}
}

func stackDir(c *cli.Context) (string, error) {
	return filepath.Abs(filepath.Join(c.String("dir"), "stack"))
}

const account = "111122223333"

// demoIAM are IAM principals without credentials that the examples map.
var demoIAM = []string{
	"arn:aws:iam::" + account + ":role/eks-nodes",
	"arn:aws:iam::" + account + ":role/team/dev",
	"arn:aws:iam::" + account + ":role/platform/PlatformAdmin",
	"arn:aws:iam::" + account + ":user/alice",
}

// principals are the local IAM identities: an admin who created the
// cluster, an unmapped user for the demo, and any --principal.
func principals(c *cli.Context) ([]authwebhook.Principal, error) {
	ps := []authwebhook.Principal{
		authwebhook.NewPrincipal("admin", "arn:aws:iam::"+account+":user/local-admin"),
		authwebhook.NewPrincipal("testuser", "arn:aws:iam::"+account+":user/testuser"),
	}
	for _, v := range c.StringSlice("principal") {
		name, arn, ok := strings.Cut(v, "=")
		if !ok {
			return nil, fmt.Errorf("--principal %q: want NAME=ARN", v)
		}
		ps = append(ps, authwebhook.NewPrincipal(name, arn))
	}
	return ps, nil
}

func run(c *cli.Context) error {
	dir, err := stackDir(c)
	if err != nil {
		return err
	}
	ps, err := principals(c)
	if err != nil {
		return err
	}
	cluster, err := devstack.Start(c.Context, devstack.Options{
		BinDir: c.String("bin"), Dir: dir,
		EKS: &devstack.EKSOptions{ClusterName: c.String("cluster"), AuthMode: c.String("auth-mode"), Principals: ps, CreatorARN: ps[0].ARN, IAMPrincipals: c.StringSlice("iam")},
	})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	cluster.DaemonPID = os.Getpid()
	if err := cluster.WriteState(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "iammap-devstack: running: kube-apiserver %s, EKS %s (cluster %s)\n", cluster.Server, cluster.EKSEndpoint, cluster.ClusterName)
	<-c.Context.Done()
	return nil
}

func up(c *cli.Context) error {
	dir, err := stackDir(c)
	if err != nil {
		return err
	}
	if running, err := devstack.Load(dir); err == nil && running.Running() {
		fmt.Fprintf(os.Stderr, "iammap-devstack: already running at %s\n", running.Server)
		return writeEnv(c, running)
	}
	if _, err := devstack.FindBinDir(c.String("bin")); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logPath := filepath.Join(dir, "devstack.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	args := []string{"--dir", c.String("dir"), "--bin", c.String("bin"), "--auth-mode", c.String("auth-mode"), "--cluster", c.String("cluster")}
	for _, p := range c.StringSlice("principal") {
		args = append(args, "--principal", p)
	}
	for _, p := range c.StringSlice("iam") {
		args = append(args, "--iam", p)
	}
	daemon := exec.Command(self, append(args, "run")...)
	daemon.Stdout, daemon.Stderr = logFile, logFile
	// A session of its own: the stack outlives this command and the terminal.
	daemon.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start := time.Now()
	if err := daemon.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	for {
		if cluster, err := devstack.Load(dir); err == nil {
			fmt.Fprintf(os.Stderr, "iammap-devstack: ready in %.1fs: kube-apiserver %s, EKS API %s, cluster %s (logs in %s)\n",
				time.Since(start).Seconds(), cluster.Server, cluster.EKSEndpoint, cluster.ClusterName, dir)
			return writeEnv(c, cluster)
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("the stack did not start (%v): %s", err, strings.TrimSpace(string(log)))
		case <-time.After(200 * time.Millisecond):
		case <-c.Context.Done():
			_ = daemon.Process.Signal(syscall.SIGTERM)
			return c.Context.Err()
		}
	}
}

func writeEnv(c *cli.Context, cluster *devstack.Cluster) error {
	root, err := filepath.Abs(c.String("dir"))
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(root, "kubeconfig")
	if err := cluster.WriteKubeconfig(kubeconfig); err != nil {
		return err
	}
	lines := []string{
		"# written by `make up`; load it with: . .local/env",
		"export KUBECONFIG=" + shellQuote(kubeconfig),
		"export IAMMAP_LOCAL_SERVER=" + shellQuote(cluster.Server),
		"export AWS_ENDPOINT_URL_EKS=" + shellQuote(cluster.EKSEndpoint),
		"export AWS_ENDPOINT_URL_IAM=" + shellQuote(cluster.IAMEndpoint),
		"export AWS_ENDPOINT_URL_STS=" + shellQuote(cluster.STSEndpoint),
		"export AWS_REGION=" + shellQuote(cluster.Region),
		"export AWS_DEFAULT_REGION=" + shellQuote(cluster.Region),
		"export AWS_EC2_METADATA_DISABLED=true",
		"export IAMMAP_CLUSTER=" + shellQuote(cluster.ClusterName),
	}
	for _, p := range cluster.Principals {
		switch p.Name {
		case "admin":
			lines = append(lines, "export AWS_ACCESS_KEY_ID="+shellQuote(p.AccessKeyID), "export AWS_SECRET_ACCESS_KEY="+shellQuote(p.SecretAccessKey))
		default:
			v := strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(p.Name))
			lines = append(lines, "export "+v+"_ARN="+shellQuote(p.ARN),
				"export "+v+"_AWS_ACCESS_KEY_ID="+shellQuote(p.AccessKeyID),
				"export "+v+"_AWS_SECRET_ACCESS_KEY="+shellQuote(p.SecretAccessKey))
		}
	}
	envFile := filepath.Join(root, "env")
	if err := os.WriteFile(envFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "iammap-devstack: wrote %s; load it with: . %s\n", envFile, envFile)
	return nil
}

func down(c *cli.Context) error {
	dir, err := stackDir(c)
	if err != nil {
		return err
	}
	cluster, err := devstack.Load(dir)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "iammap-devstack: not running")
		return nil
	}
	if err != nil {
		return err
	}
	if cluster.DaemonPID > 0 {
		_ = syscall.Kill(cluster.DaemonPID, syscall.SIGTERM)
		for i := 0; i < 100 && syscall.Kill(cluster.DaemonPID, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	cluster.Stop() // whatever the daemon did not stop
	root := filepath.Dir(dir)
	for _, p := range []string{dir, filepath.Join(root, "env"), filepath.Join(root, "kubeconfig")} {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	fmt.Fprintln(os.Stderr, "iammap-devstack: stopped")
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
