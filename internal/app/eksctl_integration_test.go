package app

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/iammap/iammap/internal/devstack/stacktest"
)

// getRows runs `iammap get ... -o json` and decodes its rows.
func getRows(t *testing.T, env []string, args ...string) []map[string]any {
	t.Helper()
	stdout, stderr, err := iammapEnv(t, env, append(append([]string{"get"}, args...), "-o", "json")...)
	if err != nil {
		t.Fatalf("get %v -o json: %v\n%s", args, err, stderr)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatalf("get %v -o json: %v\n%s", args, err, stdout)
	}
	return rows
}

// TestIntegrationEKSEksctlLines runs eksctl's documented command lines, with
// eksctl replaced by iammap, on the local EKS, and checks what testuser's
// real tokens get after each one.
func TestIntegrationEKSEksctlLines(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	cl := stacktest.Cluster(t)
	arn := stacktest.TestUser.ARN
	name, region := cl.ClusterName, cl.Region
	expectStatus(t, "unmapped", http.StatusUnauthorized)

	// userdocs/src/usage/iam-identity-mappings.md
	mustIammap(t, env, "create", "iamidentitymapping", "--cluster", name, "--region="+region, "--arn", arn, "--group", "system:masters", "--username", "testuser")
	expectStatus(t, "create iamidentitymapping system:masters", http.StatusOK)
	rows := getRows(t, env, "iamidentitymapping", "--cluster", name, "--region="+region)
	if len(rows) != 1 || rows[0]["userarn"] != arn || rows[0]["username"] != "testuser" || rows[0]["source"] != "mapUsers" ||
		!slices.Equal(anyStrings(rows[0]["groups"]), []string{"system:masters"}) {
		t.Errorf("get iamidentitymapping -o json = %v, want testuser's one aws-auth row", rows)
	}
	if rows := getRows(t, env, "iamidentitymapping", "-c", name, "-r", region, "--arn", arn); len(rows) != 1 {
		t.Errorf("get iamidentitymapping --arn = %v", rows)
	}
	if rows := getRows(t, env, "accessentry", "-c", name); slices.ContainsFunc(rows, func(r map[string]any) bool { return r["principalArn"] == arn }) {
		t.Errorf("create iamidentitymapping made an access entry: %v", rows)
	}
	mustIammap(t, env, "delete", "iamidentitymapping", "--cluster", name, "--region="+region, "--arn", arn)
	expectStatus(t, "delete iamidentitymapping", http.StatusUnauthorized)
	_, stderr, err := iammapEnv(t, env, "get", "iamidentitymapping", "--cluster", name, "--arn", arn)
	if err == nil || !strings.Contains(stderr, `no iamidentitymapping with arn "`+arn+`" found`) {
		t.Errorf("get iamidentitymapping --arn after delete: %v, stderr %q; want eksctl's not-found error", err, stderr)
	}

	// userdocs/src/usage/access-entries.md, with the flags of `eksctl create accessentry`.
	mustIammap(t, env, "create", "accessentry", "--cluster", name, "--principal-arn", arn, "--kubernetes-groups", "no-rbac-here", "--kubernetes-username", "testuser", "--type", "STANDARD")
	expectStatus(t, "create accessentry with a group no RBAC mentions", http.StatusForbidden)
	rows = getRows(t, env, "accessentry", "--cluster", name, "--principal-arn", arn)
	if len(rows) != 1 || rows[0]["userarn"] != arn || rows[0]["principalArn"] != arn || rows[0]["username"] != "testuser" || rows[0]["source"] != "access-entry" {
		t.Errorf("get accessentry -o json = %v", rows)
	}
	mustIammap(t, env, "delete", "accessentry", "--cluster", name, "--principal-arn", arn)
	expectStatus(t, "delete accessentry", http.StatusUnauthorized)
	resetIdentities(t)
}

func anyStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}
