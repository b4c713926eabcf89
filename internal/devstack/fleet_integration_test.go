package devstack_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/iammap/iammap/internal/desired"
	"github.com/iammap/iammap/internal/devstack"
	"github.com/iammap/iammap/internal/devstack/stacktest"
)

// The local fleet `iammap-devstack up --fleet` runs: three clusters start
// through the library, the files they are used with load as iammap reads
// them, the state round-trips for `down`, and Stop leaves no process.
func TestIntegrationFleetStartWriteFilesStop(t *testing.T) {
	stacktest.RequireIntegration(t)
	dir, root := t.TempDir(), t.TempDir()
	f, err := devstack.StartFleet(context.Background(), devstack.FleetOptions{BinDir: stacktest.BinDir(), Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			f.Stop()
		}
	})
	if len(f.Clusters) != 3 || !f.Running() {
		t.Fatalf("fleet: %d clusters, running %v", len(f.Clusters), f.Running())
	}
	alpha := f.Cluster("alpha")
	for _, c := range f.Clusters {
		if c.STSEndpoint != alpha.STSEndpoint {
			t.Errorf("%s uses STS %s, want alpha's %s", c.ClusterName, c.STSEndpoint, alpha.STSEndpoint)
		}
		if c.Credentials != alpha.Credentials {
			t.Errorf("%s has a credential registry of its own", c.ClusterName)
		}
	}

	if err := f.WriteFiles(root); err != nil {
		t.Fatal(err)
	}
	file, err := desired.Load(filepath.Join(root, "fleet.yaml"))
	if err != nil {
		t.Fatalf("fleet.yaml does not load: %v", err)
	}
	targets, err := file.Targets()
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 3 {
		t.Fatalf("fleet.yaml has %d targets, want 3", len(targets))
	}
	if len(file.Clusters) != 3 {
		t.Fatalf("fleet.yaml lists %d clusters, want 3", len(file.Clusters))
	}
	for i, m := range devstack.FleetMembers {
		c := file.Clusters[i]
		if c.Name != m.Name || c.Region != m.Region || c.EndpointURL != f.Clusters[i].EKSEndpoint || c.RoleARN != m.RoleARN {
			t.Errorf("fleet.yaml cluster %d: %+v; want %s in %s at %s, role %q", i, c, m.Name, m.Region, f.Clusters[i].EKSEndpoint, m.RoleARN)
		}
	}
	if c := file.Clusters[2]; c.ExternalID != devstack.FleetExternalID {
		t.Errorf("charlie's externalId %q, want %q", c.ExternalID, devstack.FleetExternalID)
	}

	env, err := os.ReadFile(filepath.Join(root, "env"))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(env), "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok && strings.HasPrefix(line, "export ") {
			vars[k] = strings.Trim(v, "'")
		}
	}
	want := map[string]string{
		"AWS_ACCESS_KEY_ID": f.Runner.AccessKeyID, "AWS_SECRET_ACCESS_KEY": f.Runner.SecretAccessKey,
		"AWS_ENDPOINT_URL_STS": alpha.STSEndpoint, "AWS_ENDPOINT_URL_IAM": alpha.IAMEndpoint, "AWS_REGION": "us-west-2",
	}
	for k, v := range want {
		if vars[k] != v {
			t.Errorf("env: %s=%q, want %q", k, vars[k], v)
		}
	}
	for _, k := range []string{"AWS_ENDPOINT_URL_EKS", "IAMMAP_CLUSTER"} {
		if _, ok := vars[k]; ok {
			t.Errorf("env exports %s: every cluster names its own endpoint", k)
		}
	}
	if f.Runner.ARN != devstack.FleetRunnerARN {
		t.Errorf("runner %s, want %s", f.Runner.ARN, devstack.FleetRunnerARN)
	}
	for _, m := range devstack.FleetMembers {
		if _, err := os.Stat(filepath.Join(root, "kubeconfig-"+m.Name)); err != nil {
			t.Errorf("no admin kubeconfig for %s: %v", m.Name, err)
		}
	}

	// The state `down` reads names every process.
	f.DaemonPID = os.Getpid()
	if err := f.WriteState(); err != nil {
		t.Fatal(err)
	}
	if !devstack.IsFleetDir(dir) {
		t.Error("IsFleetDir is false for the fleet's directory")
	}
	loaded, err := devstack.LoadFleet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Running() || loaded.DaemonPID != os.Getpid() {
		t.Errorf("loaded fleet: running %v, daemon %d", loaded.Running(), loaded.DaemonPID)
	}
	var pids []int
	for _, c := range loaded.Clusters {
		for _, pid := range []int{c.EtcdPID, c.ServerPID, c.OraclePID} {
			if pid <= 0 {
				t.Errorf("%s: a process without a pid in the state", c.ClusterName)
			}
			pids = append(pids, pid)
		}
	}
	if len(pids) != 9 {
		t.Fatalf("%d processes in the state, want 9", len(pids))
	}

	f.Stop()
	stopped = true
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("process %d still runs after Stop", pid)
		}
	}
	if loaded.Running() {
		t.Error("the loaded fleet still reports running after Stop")
	}
}
