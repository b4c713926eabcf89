package app

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/iammap/iammap/internal/audit"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

func fixtureConfigMapData(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cm struct{ Data map[string]string }
	if err := sigsyaml.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	return cm.Data
}

func TestIntegrationAuditFindsEveryMistakeOnceAndNothingOnACleanCluster(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	for _, g := range []string{"viewers", "developers"} {
		_, err := admin.RbacV1().ClusterRoleBindings().Create(context.Background(), &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "audit-" + g},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}, Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: g}}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	setAWSAuth(t, admin, fixtureConfigMapData(t, "../audit/testdata/every-finding.yaml"))
	mustIammap(t, env, "create", "--backend", "access-entry", "--arn", "arn:aws:iam::111122223333:role/overridden")
	defer iammapEnv(t, env, "delete", "--backend", "access-entry", "--arn", "arn:aws:iam::111122223333:role/overridden")

	stdout, stderr, err := iammapEnv(t, env, "audit", "-o", "json")
	if exitCode(err) != 2 {
		t.Fatalf("audit with errors: exit %d (%s), want 2", exitCode(err), stderr)
	}
	var findings []audit.Finding
	if err := json.Unmarshal([]byte(stdout), &findings); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"never-matches": audit.Error, "assumed-role-arn": audit.Error, "misindented-groups": audit.Error, "missing-principal": audit.Error,
		"duplicate": audit.Warning, "case-variant-duplicate": audit.Warning, "unknown-placeholder": audit.Warning, "user-in-system-masters": audit.Warning,
		"map-accounts": audit.Warning, "dead-group": audit.Warning,
		"overridden-by-access-entry": audit.Info, "unverifiable-principal": audit.Info,
		"dropped-entry": audit.Error, "sso-never-matches": audit.Error, "wrong-type": audit.Error, "undefined": audit.Error, "refuses-callers": audit.Error,
		"account-not-an-id": audit.Error, "root-mapped": audit.Warning,
	}
	seen := map[string]int{}
	for _, f := range findings {
		seen[f.Check]++
		if want[f.Check] != f.Severity {
			t.Errorf("%s: %s, want %s: %s", f.Check, f.Severity, want[f.Check], f.Message)
		}
	}
	for check := range want {
		if seen[check] != 1 {
			t.Errorf("%s reported %d times, want once", check, seen[check])
		}
	}

	setAWSAuth(t, admin, fixtureConfigMapData(t, "../audit/testdata/clean.yaml"))
	stdout, stderr, err = iammapEnv(t, env, "audit", "--fail-on", "warning")
	if err != nil || stdout != "" {
		t.Errorf("clean cluster: exit %d, stdout %q, stderr %q", exitCode(err), stdout, stderr)
	}
	resetIdentities(t)
}
