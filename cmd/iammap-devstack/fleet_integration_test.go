package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iammap/iammap/internal/desired"
	"github.com/iammap/iammap/internal/devstack"
	"github.com/iammap/iammap/internal/devstack/stacktest"
)

// `up --fleet` starts the fleet in a background process and writes env and
// fleet.yaml; a second `up --fleet` finds it running; `up` without --fleet
// refuses the fleet's directory; `down` stops the daemon and all 9 stack
// processes and removes what up wrote.
func TestIntegrationUpFleetDown(t *testing.T) {
	stacktest.RequireIntegration(t)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "iammap-devstack")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	root := filepath.Join(tmp, "fleet")
	devstackCmd := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"--dir", root, "--bin", stacktest.BinDir()}, args...)...).CombinedOutput()
		return string(out), err
	}
	stateDir := filepath.Join(root, "stack")
	t.Cleanup(func() { _ = devstack.StopFleetDir(stateDir, stopDaemon) })

	if out, err := devstackCmd("up", "--fleet"); err != nil {
		t.Fatalf("up --fleet: %v\n%s", err, out)
	}
	f, err := devstack.LoadFleet(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Running() || f.DaemonPID <= 0 {
		t.Fatalf("after up --fleet: running %v, daemon %d", f.Running(), f.DaemonPID)
	}
	file, err := desired.Load(filepath.Join(root, "fleet.yaml"))
	if err != nil {
		t.Fatalf("fleet.yaml: %v", err)
	}
	if len(file.Clusters) != 3 || file.Clusters[2].RoleARN != devstack.FleetDeployerRole {
		t.Errorf("fleet.yaml clusters: %+v", file.Clusters)
	}
	env, err := os.ReadFile(filepath.Join(root, "env"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(env), "export AWS_ENDPOINT_URL_STS='"+f.Clusters[0].STSEndpoint+"'") ||
		strings.Contains(string(env), "export IAMMAP_CLUSTER") || strings.Contains(string(env), "export AWS_ENDPOINT_URL_EKS") {
		t.Errorf("env:\n%s", env)
	}

	if out, err := devstackCmd("up", "--fleet"); err != nil || !strings.Contains(out, "already runs") {
		t.Errorf("second up --fleet: %v\n%s", err, out)
	}
	if again, err := devstack.LoadFleet(stateDir); err != nil || again.DaemonPID != f.DaemonPID {
		t.Errorf("a second up --fleet replaced the fleet: %v", err)
	}
	if out, err := devstackCmd("up"); err == nil || !strings.Contains(out, "holds a local fleet") {
		t.Errorf("up (one cluster) in the fleet's directory: %v\n%s", err, out)
	}

	pids := []int{f.DaemonPID}
	for _, c := range f.Clusters {
		pids = append(pids, c.EtcdPID, c.ServerPID, c.OraclePID)
	}
	start := time.Now()
	if out, err := devstackCmd("down"); err != nil || !strings.Contains(out, "stopped the fleet") {
		t.Fatalf("down: %v\n%s", err, out)
	}
	t.Logf("down took %s", time.Since(start).Round(10*time.Millisecond))
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("process %d still runs after down", pid)
		}
	}
	for _, p := range append([]string{stateDir}, devstack.FleetFiles(root)...) {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is left after down", p)
		}
	}
}
