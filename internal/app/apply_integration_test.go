package app

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/devstack/stacktest"
)

// roleFile writes an access file mapping n roles (plus extra YAML) and returns its path.
func roleFile(t testing.TB, n int, extra string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: iammap/v1\nkind: AccessConfig\nawsAuth:\n  mapRoles:\n")
	for i := range n {
		fmt.Fprintf(&b, "    - rolearn: arn:aws:iam::111122223333:role/app-%04d\n      username: app-%04d\n      groups: [apps]\n", i, i)
	}
	b.WriteString(extra)
	path := filepath.Join(t.TempDir(), "access.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestIntegrationApply1000MappingsInOneReadAndOneWrite(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	kubeconfig := stacktest.Kubeconfig(t)
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	setAWSAuth(t, admin, map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:user/keep-me\n  username: keep\n", "other": "x\n"})
	file := roleFile(t, 1000, "")

	_, _, err := iammap(t, kubeconfig, "diff", "-f", file)
	if exitCode(err) != 2 {
		t.Fatalf("diff before apply: exit %d, want 2 (changes pending)", exitCode(err))
	}
	offset := stacktest.AuditOffset(t)
	stdout, stderr, err := iammap(t, kubeconfig, "apply", "-f", file)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, stderr)
	}
	counts, offset := stacktest.AuditCounts(t, awsauth.Name, offset)
	if counts["get"] != 1 || counts["update"] != 1 || len(counts) != 2 {
		t.Errorf("apply of 1,000 mappings made %v requests on aws-auth, want exactly 1 get and 1 update", counts)
	}
	if !strings.Contains(stdout, "1000 change(s) applied") {
		t.Errorf("apply output: %s", stdout[:min(len(stdout), 300)])
	}
	doc := awsauth.Decode(readAWSAuth(t, admin).Data)
	if n := len(doc.Set().Roles); n != 1000 || len(doc.Set().Users) != 1 || doc.Data()["other"] != "x\n" {
		t.Errorf("after apply: %d roles, users %v, other %q", n, doc.Set().Users, doc.Data()["other"])
	}

	stdout, _, err = iammap(t, kubeconfig, "apply", "-f", file)
	counts, _ = stacktest.AuditCounts(t, awsauth.Name, offset)
	if err != nil || counts["update"] != 0 || counts["create"] != 0 || !strings.Contains(stdout, "0 change(s) applied") {
		t.Errorf("second apply: %v, requests %v, output %q; want zero writes", err, counts, stdout)
	}
	if _, _, err := iammap(t, kubeconfig, "diff", "-f", file); exitCode(err) != 0 {
		t.Errorf("diff after apply: exit %d, want 0", exitCode(err))
	}
	if _, _, err := iammap(t, kubeconfig, "diff", "-f", filepath.Join(t.TempDir(), "missing.yaml")); exitCode(err) != 1 {
		t.Errorf("diff of a missing file: exit %d, want 1", exitCode(err))
	}
}

func TestIntegrationApplyPruneAndGuards(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	kubeconfig := stacktest.Kubeconfig(t)
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	nodes := "    - rolearn: arn:aws:iam::111122223333:role/nodes\n      username: system:node:{{EC2PrivateDNSName}}\n      groups: [system:bootstrappers, system:nodes]\n"
	setAWSAuth(t, admin, map[string]string{
		"mapRoles":    "- rolearn: arn:aws:iam::111122223333:role/nodes\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:bootstrappers, system:nodes]\n- rolearn: arn:aws:iam::111122223333:role/app-0000\n  username: old\n",
		"mapAccounts": "- \"444455556666\"\n",
	})
	withNodes := roleFile(t, 2, "")
	withNodes = strings.Replace(mustRead(t, withNodes), "  mapRoles:\n", "  mapRoles:\n"+nodes, 1)
	path := filepath.Join(t.TempDir(), "nodes.yaml")
	os.WriteFile(path, []byte(withNodes), 0o600)

	stdout, _, err := iammap(t, kubeconfig, "apply", "-f", path)
	if err != nil || !strings.Contains(stdout, `- aws-auth mapRoles arn:aws:iam::111122223333:role/app-0000 username "old"`) || !strings.Contains(stdout, "+ aws-auth mapRoles arn:aws:iam::111122223333:role/app-0001") {
		t.Fatalf("apply: %v\n%s", err, stdout)
	}
	if got := awsauth.Decode(readAWSAuth(t, admin).Data).Set(); len(got.Accounts) != 1 {
		t.Errorf("without --prune the account not in the file must stay: %v", got.Accounts)
	}
	stdout, _, err = iammap(t, kubeconfig, "apply", "-f", path, "--prune")
	if err != nil || !strings.Contains(stdout, "- aws-auth mapAccounts 444455556666") {
		t.Fatalf("apply --prune: %v\n%s", err, stdout)
	}

	// A file without the node role would cut every node off.
	noNodes := roleFile(t, 2, "")
	before := readAWSAuth(t, admin).ResourceVersion
	_, stderr, err := iammap(t, kubeconfig, "apply", "-f", noNodes, "--prune")
	if err == nil || !strings.Contains(stderr, "refusing a change that would lock out: node role arn:aws:iam::111122223333:role/nodes would lose its mapping") {
		t.Fatalf("guard: %v %q", err, stderr)
	}
	if readAWSAuth(t, admin).ResourceVersion != before {
		t.Error("the refused apply wrote aws-auth")
	}
	if _, stderr, err := iammap(t, kubeconfig, "apply", "-f", noNodes, "--prune", "--force"); err != nil {
		t.Fatalf("--force: %v %s", err, stderr)
	}
	if got := awsauth.Decode(readAWSAuth(t, admin).Data).Set().Roles; len(got) != 2 {
		t.Errorf("after forced prune: %v", got)
	}
}

func mustRead(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIntegrationConcurrentApplyAndCreateLoseNothing(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	kubeconfig := stacktest.Kubeconfig(t)
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	setAWSAuth(t, admin, nil)
	file := roleFile(t, 300, "")
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if _, stderr, err := iammap(t, kubeconfig, "apply", "-f", file); err != nil {
			errs <- "apply: " + stderr
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 20 {
			if _, stderr, err := iammap(t, kubeconfig, "create", "--arn", fmt.Sprintf("arn:aws:iam::111122223333:user/u%d", i)); err != nil {
				errs <- "create: " + stderr
			}
		}
	}()
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	set := awsauth.Decode(readAWSAuth(t, admin).Data).Set()
	if len(set.Roles) != 300 || len(set.Users) != 20 {
		t.Errorf("after concurrent apply and creates: %d roles (want 300), %d users (want 20)", len(set.Roles), len(set.Users))
	}
}

func TestIntegrationApplyAccessEntries(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	path := filepath.Join(t.TempDir(), "entries.yaml")
	os.WriteFile(path, []byte(`apiVersion: iammap/v1
kind: AccessConfig
accessEntries:
  - principalArn: arn:aws:iam::111122223333:user/local-admin
    accessPolicies: [{policy: AmazonEKSClusterAdminPolicy}]
  - principalArn: `+stacktest.TestUser.ARN+`
    kubernetesGroups: [viewers]
    accessPolicies:
      - {policy: AmazonEKSViewPolicy, namespaces: [default]}
  - principalArn: arn:aws:iam::111122223333:role/team/ci
    username: ci:{{SessionName}}
`), 0o600)
	out, _, err := iammapEnv(t, env, "diff", "-f", path)
	if exitCode(err) != 2 || !strings.Contains(out, "+ access entry create "+stacktest.TestUser.ARN) {
		t.Fatalf("diff: exit %d\n%s", exitCode(err), out)
	}
	out = mustIammap(t, env, "apply", "-f", path)
	if !strings.Contains(out, "3 change(s) applied") { // the admin's entry exists already
		t.Errorf("apply:\n%s", out)
	}
	if out, _, err := iammapEnv(t, env, "diff", "-f", path); exitCode(err) != 0 || !strings.Contains(out, "0 change(s) pending") {
		t.Errorf("diff after apply: exit %d\n%s", exitCode(err), out)
	}
	// An entry created outside the file stays, unless --prune.
	mustIammap(t, env, "create", "--arn", "arn:aws:iam::111122223333:role/stray")
	if out := mustIammap(t, env, "apply", "-f", path); !strings.Contains(out, "0 change(s) applied") {
		t.Errorf("apply without prune touched the stray entry:\n%s", out)
	}
	out = mustIammap(t, env, "apply", "-f", path, "--prune", "-o", "json")
	if !strings.Contains(out, `"action": "delete"`) || !strings.Contains(out, "role/stray") {
		t.Errorf("apply --prune:\n%s", out)
	}
	// Pruning away the caller's own entry is refused.
	os.WriteFile(path, []byte("apiVersion: iammap/v1\nkind: AccessConfig\naccessEntries:\n  - principalArn: arn:aws:iam::111122223333:role/team/ci\n"), 0o600)
	_, stderr, err := iammapEnv(t, env, "apply", "-f", path, "--prune")
	if err == nil || !strings.Contains(stderr, "you (arn:aws:iam::111122223333:user/local-admin) would lose your access to the cluster") {
		t.Errorf("self-lockout guard: %v %q", err, stderr)
	}
	mustIammap(t, env, "delete", "--arn", "arn:aws:iam::111122223333:role/team/ci")
	resetIdentities(t)
}
