package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iammap/iammap/internal/devstack/stacktest"
)

// writeConfig writes an eksctl ClusterConfig for the stack's cluster
// (metadata.name and region) with body after its metadata.
func writeConfig(t *testing.T, name, body string) string {
	t.Helper()
	cl := stacktest.Cluster(t)
	path := filepath.Join(t.TempDir(), name)
	head := fmt.Sprintf("apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata:\n  name: %s\n  region: %s\n  version: \"1.31\"\n", cl.ClusterName, cl.Region)
	if err := os.WriteFile(path, []byte(head+body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fileExitCode runs iammap and returns its exit code and output.
func fileExitCode(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	stdout, stderr, err := iammapEnv(t, env, args...)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout + stderr
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout + stderr
	}
	t.Fatalf("iammap %v: %v", args, err)
	return -1, ""
}

func hasRow(rows []map[string]any, key, value string) bool {
	return slices.ContainsFunc(rows, func(r map[string]any) bool { return r[key] == value })
}

// hasEntry finds an access entry row under eksctl's key or iammap's.
func hasEntry(rows []map[string]any, arn string) bool {
	return hasRow(rows, "principalARN", arn) || hasRow(rows, "principalArn", arn)
}

// TestIntegrationEksctlConfigFileIdentityMappings runs eksctl's
// `create|get|delete iamidentitymapping -f cluster.yaml` on the stack's
// API_AND_CONFIG_MAP cluster, checking what testuser's real tokens get, and
// that -v 1 silences the warnings.
func TestIntegrationEksctlConfigFileIdentityMappings(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	defer resetIdentities(t)
	arn := stacktest.TestUser.ARN
	const deployer = "arn:aws:iam::111122223333:role/eksctlfile-deployer"
	cfg := writeConfig(t, "mappings.yaml", `
iamIdentityMappings:
  - arn: `+arn+`
    groups:
      - system:masters
    username: testuser
    noDuplicateARNs: true

  - arn: `+deployer+`
    username: deployer
    groups: [eksctlfile-deployers]

  - account: "444455556666"

nodeGroups:
  - name: ng-1
    instanceType: m5.large
`)
	expectStatus(t, "unmapped", http.StatusUnauthorized)

	// -f names the cluster; IAMMAP_CLUSTER in env is overridden, --cluster refused.
	if code, out := fileExitCode(t, env, "create", "iamidentitymapping", "-f", cfg, "--cluster", "other"); code != 1 || !strings.Contains(out, "cannot use --cluster when --config-file/-f is set") {
		t.Fatalf("-f with --cluster: exit %d\n%s", code, out)
	}
	out := mustIammap(t, env, "create", "iamidentitymapping", "-f", cfg)
	for _, want := range []string{"added " + arn + " to mapUsers", "added " + deployer + " to mapRoles", "added account 444455556666 to mapAccounts"} {
		if !strings.Contains(out, want) {
			t.Errorf("create iamidentitymapping -f: no %q in\n%s", want, out)
		}
	}
	expectStatus(t, "create iamidentitymapping -f", http.StatusOK)
	rows := getRows(t, env, "iamidentitymapping", "-f", cfg)
	if len(rows) != 3 || !hasRow(rows, "userarn", arn) || !hasRow(rows, "rolearn", deployer) || !hasRow(rows, "account", "444455556666") {
		t.Errorf("get iamidentitymapping -f -o json = %v, want the file's three mappings", rows)
	}
	if rows := getRows(t, env, "iamidentitymapping", "-f", cfg, "--arn", deployer); len(rows) != 1 || rows[0]["username"] != "deployer" {
		t.Errorf("get iamidentitymapping -f --arn = %v", rows)
	}
	if out := mustIammap(t, env, "create", "iamidentitymapping", "-f", cfg); strings.Count(out, "nothing written") != 3 {
		t.Errorf("create -f again wrote something:\n%s", out)
	}

	// A second file remaps testuser: eksctl's shadowing, with the warning
	// silenced by -v 1 (and the info lines by anything below 3).
	shadow := writeConfig(t, "shadow.yaml", "iamIdentityMappings:\n  - {arn: "+arn+", username: testuser, groups: [no-rbac-here]}\n")
	if out := mustIammap(t, env, "create", "iamidentitymapping", "-f", shadow, "-v", "1"); out != "" {
		t.Errorf("create -v 1 printed:\n%s", out)
	}
	expectStatus(t, "shadowed by a group without RBAC", http.StatusForbidden)

	// delete -f removes the file's mappings; --all every entry for an ARN.
	mustIammap(t, env, "delete", "iamidentitymapping", "-f", cfg, "--all")
	expectStatus(t, "delete iamidentitymapping -f --all", http.StatusUnauthorized)
	if rows := getRows(t, env, "iamidentitymapping", "-f", cfg); len(rows) != 0 {
		t.Errorf("after delete -f, get -f = %v", rows)
	}
	if code, out := fileExitCode(t, env, "delete", "iamidentitymapping", "-f", cfg); code != 1 || !strings.Contains(out, "iamIdentityMappings[0] (line 9)") {
		t.Errorf("delete -f of what is gone: exit %d\n%s", code, out)
	}
	mustIammap(t, env, "delete", "iamidentitymapping", "-f", cfg, "--ignore-not-found")
}

// TestIntegrationEksctlConfigFileAccessEntries runs `create|get|delete
// accessentry -f cluster.yaml`, access policies and their scopes included.
func TestIntegrationEksctlConfigFileAccessEntries(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	defer resetIdentities(t)
	arn := stacktest.TestUser.ARN
	const role = "arn:aws:iam::111122223333:role/tmpl"
	cfg := writeConfig(t, "entries.yaml", `
accessConfig:
  authenticationMode: API_AND_CONFIG_MAP
  accessEntries:
    - principalARN: `+arn+`
      type: STANDARD
      kubernetesUsername: testuser
      kubernetesGroups:
        - no-rbac-here
    - principalARN: `+role+`
      accessPolicies:
        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy
          accessScope:
            type: namespace
            namespaces:
              - eksctlfile-apps
        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy
          accessScope:
            type: cluster
`)
	defer iammapEnv(t, env, "delete", "accessentry", "-f", cfg, "--ignore-not-found") //nolint:errcheck // best effort

	mustIammap(t, env, "create", "accessentry", "-f", cfg)
	expectStatus(t, "create accessentry -f with a group no RBAC mentions", http.StatusForbidden)
	rows := getRows(t, env, "accessentry", "-f", cfg)
	if !hasEntry(rows, arn) || !hasEntry(rows, role) {
		t.Fatalf("get accessentry -f = %v, want both entries", rows)
	}
	for _, r := range rows {
		if !hasEntry([]map[string]any{r}, role) {
			continue
		}
		// The shape of the policies is get's (internal/output); their
		// names and scopes are what the file said.
		b, _ := json.Marshal(r["accessPolicies"])
		if got := string(b); !strings.Contains(got, "AmazonEKSViewPolicy") || !strings.Contains(got, "eksctlfile-apps") || !strings.Contains(got, "AmazonEKSAdminViewPolicy") {
			t.Errorf("%s's access policies = %s", role, got)
		}
	}
	if out := mustIammap(t, env, "create", "accessentry", "-f", cfg); strings.Count(out, "already matches; nothing changed") != 2 {
		t.Errorf("create accessentry -f again changed something:\n%s", out)
	}
	mustIammap(t, env, "delete", "accessentry", "-f", cfg)
	expectStatus(t, "delete accessentry -f", http.StatusUnauthorized)
	if rows := getRows(t, env, "accessentry", "-f", cfg); hasEntry(rows, arn) || hasEntry(rows, role) {
		t.Errorf("after delete accessentry -f, get = %v", rows)
	}
}

// TestIntegrationEksctlConfigFileDiffApply gives diff and apply a
// ClusterConfig: diff exits 2 with changes pending, apply converges, diff
// then exits 0, and a bad file exits 1.
func TestIntegrationEksctlConfigFileDiffApply(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	defer resetIdentities(t)
	arn := stacktest.TestUser.ARN
	cfg := writeConfig(t, "cluster.yaml", "iamIdentityMappings:\n  - arn: "+arn+"\n    username: testuser\n    groups: [system:masters]\n")
	if code, out := fileExitCode(t, env, "diff", "-f", cfg); code != 2 || !strings.Contains(out, "+ aws-auth mapUsers "+arn) {
		t.Fatalf("diff -f before apply: exit %d, want 2\n%s", code, out)
	}
	mustIammap(t, env, "apply", "-f", cfg)
	expectStatus(t, "apply -f ClusterConfig", http.StatusOK)
	if code, out := fileExitCode(t, env, "diff", "-f", cfg); code != 0 {
		t.Errorf("diff -f after apply: exit %d, want 0\n%s", code, out)
	}
	bad := writeConfig(t, "bad.yaml", "iamIdentityMappings:\n  - arn: "+arn+"\n    usernme: x\n")
	if code, out := fileExitCode(t, env, "diff", "-f", bad); code != 1 || !strings.Contains(out, `line 9: unknown field "usernme"`) {
		t.Errorf("diff -f with a typo: exit %d, want 1\n%s", code, out)
	}
	mustIammap(t, env, "delete", "iamidentitymapping", "-f", cfg)
	expectStatus(t, "delete iamidentitymapping -f after apply", http.StatusUnauthorized)
}
