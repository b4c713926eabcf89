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
			{Name: "up", Usage: "start the stack in the background (no-op when it already runs)", Action: up, Flags: []cli.Flag{fleetFlag}},
			{Name: "down", Usage: "stop the stack (or every stack of the fleet) and remove its state", Action: down},
			{Name: "run", Usage: "run the stack in the foreground until interrupted", Action: run, Hidden: true, Flags: []cli.Flag{fleetFlag}},
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

// fleetFlag makes up and run start the local fleet instead of one cluster:
// alpha, bravo and charlie in two accounts (devstack.FleetMembers).
var fleetFlag = &cli.BoolFlag{Name: "fleet", Usage: "start the local fleet: 3 clusters in 2 accounts and 3 modes (writes DIR/env, DIR/fleet.yaml, DIR/kubeconfig-NAME); --cluster, --auth-mode, --principal and --iam do not apply"}

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
	if c.Bool("fleet") {
		return runFleet(c, dir)
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

func runFleet(c *cli.Context, dir string) error {
	f, err := devstack.StartFleet(c.Context, devstack.FleetOptions{BinDir: c.String("bin"), Dir: dir})
	if err != nil {
		return err
	}
	defer f.Stop()
	f.DaemonPID = os.Getpid()
	if err := f.WriteState(); err != nil {
		return err
	}
	for _, cl := range f.Clusters {
		fmt.Fprintf(os.Stderr, "iammap-devstack: running: %s: kube-apiserver %s, EKS %s\n", cl.ClusterName, cl.Server, cl.EKSEndpoint)
	}
	<-c.Context.Done()
	return nil
}

func up(c *cli.Context) error {
	dir, err := stackDir(c)
	if err != nil {
		return err
	}
	if c.Bool("fleet") {
		return upFleet(c, dir)
	}
	if devstack.IsFleetDir(dir) {
		return fmt.Errorf("%s holds a local fleet: run `iammap-devstack --dir %s down` first, or use another --dir", dir, c.String("dir"))
	}
	if running, err := devstack.Load(dir); err == nil && running.Running() {
		fmt.Fprintf(os.Stderr, "iammap-devstack: already running at %s\n", running.Server)
		return writeEnv(c, running)
	}
	if _, err := devstack.FindBinDir(c.String("bin")); err != nil {
		return err
	}
	args := []string{"--dir", c.String("dir"), "--bin", c.String("bin"), "--auth-mode", c.String("auth-mode"), "--cluster", c.String("cluster")}
	for _, p := range c.StringSlice("principal") {
		args = append(args, "--principal", p)
	}
	for _, p := range c.StringSlice("iam") {
		args = append(args, "--iam", p)
	}
	return startDaemon(c, dir, append(args, "run"), func(start time.Time) (bool, error) {
		cluster, err := devstack.Load(dir)
		if err != nil {
			return false, nil
		}
		fmt.Fprintf(os.Stderr, "iammap-devstack: ready in %.1fs: kube-apiserver %s, EKS API %s, cluster %s (logs in %s)\n",
			time.Since(start).Seconds(), cluster.Server, cluster.EKSEndpoint, cluster.ClusterName, dir)
		return true, writeEnv(c, cluster)
	})
}

func upFleet(c *cli.Context, dir string) error {
	root, err := filepath.Abs(c.String("dir"))
	if err != nil {
		return err
	}
	if running, err := devstack.LoadFleet(dir); err == nil && running.Running() {
		fmt.Fprintf(os.Stderr, "iammap-devstack: the fleet already runs in %s\n", dir)
		return writeFleetFiles(running, root)
	}
	if _, err := devstack.Load(dir); err == nil {
		return fmt.Errorf("%s holds a single-cluster stack: run `iammap-devstack --dir %s down` first, or use another --dir", dir, c.String("dir"))
	}
	if devstack.IsFleetDir(dir) {
		// A fleet that died or half-started: stop what is left first.
		if err := devstack.StopFleetDir(dir, stopDaemon); err != nil {
			return err
		}
	}
	if _, err := devstack.FindBinDir(c.String("bin")); err != nil {
		return err
	}
	args := []string{"--dir", c.String("dir"), "--bin", c.String("bin"), "run", "--fleet"}
	return startDaemon(c, dir, args, func(start time.Time) (bool, error) {
		f, err := devstack.LoadFleet(dir)
		if err != nil {
			return false, nil
		}
		fmt.Fprintf(os.Stderr, "iammap-devstack: fleet ready in %.1fs (logs in %s):\n", time.Since(start).Seconds(), dir)
		for i, cl := range f.Clusters {
			m := devstack.FleetMembers[i]
			fmt.Fprintf(os.Stderr, "  %-8s account %s  %-10s %-19s EKS %s\n", cl.ClusterName, m.Account, cl.Region, m.AuthMode, cl.EKSEndpoint)
		}
		return true, writeFleetFiles(f, root)
	})
}

func writeFleetFiles(f *devstack.Fleet, root string) error {
	if err := f.WriteFiles(root); err != nil {
		return err
	}
	files := devstack.FleetFiles(root)
	fmt.Fprintf(os.Stderr, "iammap-devstack: wrote %s and %s; try: . %s && iammap diff -f %s\n", files[0], files[1], files[0], files[1])
	return nil
}

// startDaemon starts `iammap-devstack args...` in a session of its own,
// logging to dir/devstack.log, and waits until ready reports the stack up.
func startDaemon(c *cli.Context, dir string, args []string, ready func(start time.Time) (bool, error)) error {
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
	daemon := exec.Command(self, args...)
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
		if ok, err := ready(start); ok {
			return err
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
	if devstack.IsFleetDir(dir) {
		if err := devstack.StopFleetDir(dir, stopDaemon); err != nil {
			return err
		}
		root := filepath.Dir(dir)
		for _, p := range append([]string{dir}, devstack.FleetFiles(root)...) {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
		fmt.Fprintln(os.Stderr, "iammap-devstack: stopped the fleet")
		return nil
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
		stopDaemon(cluster.DaemonPID)
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

// stopDaemon asks the process owning a stack to stop it, and waits up to
// 10 s for it to exit.
func stopDaemon(pid int) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
