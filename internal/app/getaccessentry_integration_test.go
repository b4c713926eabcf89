package app

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/iammap/iammap/internal/devstack/stacktest"
	sigsyaml "sigs.k8s.io/yaml"
)

// TestIntegrationGetAccessEntryEksctlShape runs `iammap get accessentry -o
// json|yaml` on the local EKS and checks eksctl's shape (principalARN,
// kubernetesGroups, accessPolicies with policyARN and accessScope), with
// iammap's kubernetesUsername and type, while plain `get` keeps its
// iamidentitymapping-shaped rows.
func TestIntegrationGetAccessEntryEksctlShape(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	defer resetIdentities(t)
	cl := stacktest.Cluster(t)
	arn := stacktest.TestUser.ARN
	mustIammap(t, env, "create", "accessentry", "-c", cl.ClusterName, "--principal-arn", arn, "--kubernetes-groups", "viewers",
		"--kubernetes-username", "testuser", "--access-policy", "AmazonEKSViewPolicy", "--access-scope", "namespace=apps,jobs")

	want := map[string]any{
		"principalARN":       arn,
		"kubernetesGroups":   []any{"viewers"},
		"kubernetesUsername": "testuser",
		"type":               "STANDARD",
		"accessPolicies": []any{map[string]any{
			"policyARN":   "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
			"accessScope": map[string]any{"type": "namespace", "namespaces": []any{"apps", "jobs"}},
		}},
	}
	for _, format := range []string{"json", "yaml"} {
		stdout, stderr, err := iammapEnv(t, env, "get", "accessentry", "-c", cl.ClusterName, "--principal-arn", arn, "-o", format)
		if err != nil {
			t.Fatalf("get accessentry -o %s: %v\n%s", format, err, stderr)
		}
		var rows []map[string]any
		if err := sigsyaml.Unmarshal([]byte(stdout), &rows); err != nil {
			t.Fatalf("get accessentry -o %s: %v\n%s", format, err, stdout)
		}
		if len(rows) != 1 || !reflect.DeepEqual(rows[0], want) {
			t.Errorf("get accessentry -o %s = %v, want [%v]", format, rows, want)
		}
	}

	// Without the noun, rows keep iamidentitymapping's keys.
	stdout, stderr, err := iammapEnv(t, env, "get", "-c", cl.ClusterName, "--arn", arn, "-o", "json")
	if err != nil {
		t.Fatalf("get -o json: %v\n%s", err, stderr)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rows, func(r map[string]any) bool {
		return r["userarn"] == arn && r["principalArn"] == arn && r["source"] == "access-entry"
	}) {
		t.Errorf("get -o json = %v, want testuser's access-entry row with userarn and principalArn", rows)
	}
}
