package app

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/iammap/iammap/internal/devstack/eksemu"
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
	if rows := getRows(t, env, "accessentry", "-c", name); slices.ContainsFunc(rows, func(r map[string]any) bool { return r["principalARN"] == arn }) {
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
	// eksctl's keys (principalARN, kubernetesGroups), and iammap's kubernetesUsername.
	if len(rows) != 1 || rows[0]["principalARN"] != arn || rows[0]["kubernetesUsername"] != "testuser" ||
		!slices.Equal(anyStrings(rows[0]["kubernetesGroups"]), []string{"no-rbac-here"}) {
		t.Errorf("get accessentry -o json = %v", rows)
	}
	mustIammap(t, env, "delete", "accessentry", "--cluster", name, "--principal-arn", arn)
	expectStatus(t, "delete accessentry", http.StatusUnauthorized)
	resetIdentities(t)
}

// anySlice is v as a JSON array, or nil when it is not one (a missing key).
func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func anyStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// TestIntegrationEKSEksctlUtils runs eksctl's utils lines on the local EKS:
// update-authentication-mode on a CONFIG_MAP cluster (checking the mode EKS
// ends in), migrate-to-access-entry on the stack's cluster (checking the
// access entry it creates and that testuser keeps its access).
func TestIntegrationEKSEksctlUtils(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	cl := stacktest.Cluster(t)
	env := stacktest.AWSEnv(t, stacktest.Admin)
	ca, err := os.ReadFile(cl.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	caData := base64.StdEncoding.EncodeToString(ca)
	cl.Emulator.AddCluster(eksemu.ClusterSpec{Name: "eksctl-update", Endpoint: cl.Server, CAData: caData, AuthMode: eksemu.ModeConfigMap})

	// access-entries.md: eksctl utils update-authentication-mode --cluster my-cluster --authentication-mode API_AND_CONFIG_MAP
	out := mustIammap(t, env, "utils", "update-authentication-mode", "--cluster", "eksctl-update", "--authentication-mode", "API_AND_CONFIG_MAP", "--poll-interval", "100ms")
	if mode, _ := cl.Emulator.AuthMode("eksctl-update"); mode != eksemu.ModeAPIAndConfigMap || !strings.Contains(out, "is now in API_AND_CONFIG_MAP mode") {
		t.Errorf("update-authentication-mode: mode %s, output %q", mode, out)
	}
	out = mustIammap(t, env, "utils", "update-authentication-mode", "-c", "eksctl-update", "--authentication-mode", "API_AND_CONFIG_MAP")
	if !strings.Contains(out, "already in API_AND_CONFIG_MAP mode; nothing changed") {
		t.Errorf("update-authentication-mode again: %q", out)
	}

	// eksctl utils migrate-to-access-entry --cluster C --target-authentication-mode M [--approve], on the
	// stack's cluster (API_AND_CONFIG_MAP), whose aws-auth maps testuser to system:masters.
	env = resetIdentities(t)
	arn := stacktest.TestUser.ARN
	mustIammap(t, env, "create", "iamidentitymapping", "--arn", arn, "--username", "testuser", "--group", "system:masters")
	mustIammap(t, env, "utils", "migrate-to-access-entry", "--cluster", cl.ClusterName, "--target-authentication-mode", "API_AND_CONFIG_MAP")
	if rows := getRows(t, env, "accessentry", "--cluster", cl.ClusterName); slices.ContainsFunc(rows, func(r map[string]any) bool { return r["principalARN"] == arn }) {
		t.Errorf("migrate-to-access-entry without --approve created an access entry: %v", rows)
	}
	mustIammap(t, env, "utils", "migrate-to-access-entry", "--cluster", cl.ClusterName, "--target-authentication-mode", "API_AND_CONFIG_MAP", "--approve")
	rows := getRows(t, env, "accessentry", "--cluster", cl.ClusterName, "--principal-arn", arn)
	clusterAdmin := func(p any) bool {
		policy, _ := p.(map[string]any)
		scope, _ := policy["accessScope"].(map[string]any)
		return policy["policyARN"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy" && scope["type"] == "cluster"
	}
	if len(rows) != 1 || rows[0]["principalARN"] != arn || !slices.ContainsFunc(anySlice(rows[0]["accessPolicies"]), clusterAdmin) {
		t.Errorf("after migrate-to-access-entry --approve, get accessentry = %v", rows)
	}
	mustIammap(t, env, "delete", "iamidentitymapping", "--arn", arn)
	expectStatus(t, "migrated to an access entry, aws-auth entry deleted", http.StatusOK)
	resetIdentities(t)
}
