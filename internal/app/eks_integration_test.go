package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/eksemu"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	"github.com/iammap/iammap/internal/ekstoken"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// iammapEnv runs iammap as a separate process with env (see stacktest.AWSEnv).
func iammapEnv(t *testing.T, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command("iammap", args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

func mustIammap(t *testing.T, env []string, args ...string) string {
	t.Helper()
	stdout, stderr, err := iammapEnv(t, env, args...)
	if err != nil {
		t.Fatalf("iammap %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return stdout + stderr
}

// nodesStatus is the HTTP status principal p gets for `kubectl get nodes`
// with a token of its own, for cluster name (the real one by default).
func nodesStatus(t *testing.T, token string) int {
	t.Helper()
	cl := stacktest.Cluster(t)
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: cl.Server, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAFile: cl.CAFile}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	switch {
	case err == nil:
		return http.StatusOK
	case apierrors.IsForbidden(err):
		return http.StatusForbidden
	case apierrors.IsUnauthorized(err):
		return http.StatusUnauthorized
	}
	t.Fatalf("list nodes: %v", err)
	return 0
}

// freshToken signs a token for p. The API server caches a successful
// authentication per token for ~10 s, and tokens change once a second, so
// each step waits for a new second.
func freshToken(t *testing.T, p authwebhook.Principal, cluster string) string {
	t.Helper()
	waitNextSecond()
	client := sts.New(sts.Options{Region: stacktest.Cluster(t).Region, Credentials: credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, "")})
	tok, err := ekstoken.Generate(context.Background(), client, cluster)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Value
}

// waitNextSecond makes the next token differ from the last one (X-Amz-Date has
// second resolution), so the API server's authentication cache cannot answer.
func waitNextSecond() {
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
}

func expectStatus(t *testing.T, step string, want int) {
	t.Helper()
	cl := stacktest.Cluster(t)
	if got := nodesStatus(t, freshToken(t, stacktest.TestUser, cl.ClusterName)); got != want {
		t.Fatalf("%s: testuser got %d on get nodes, want %d", step, got, want)
	}
}

// resetIdentities removes every mapping of testuser and restores an empty aws-auth.
func resetIdentities(t *testing.T) []string {
	t.Helper()
	env := stacktest.AWSEnv(t, stacktest.Admin)
	setAWSAuth(t, stacktest.Clientset(t, stacktest.Cluster(t).Admin), nil)
	_, _, _ = iammapEnv(t, env, "delete", "--backend", "access-entry", "--arn", stacktest.TestUser.ARN, "--ignore-not-found")
	return env
}

func TestIntegrationSeedStoryThroughAWSAuth(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	arn := stacktest.TestUser.ARN
	expectStatus(t, "unmapped", http.StatusUnauthorized)
	mustIammap(t, env, "create", "--backend", "aws-auth", "--arn", arn, "--username", "testuser", "--group", "system:masters")
	expectStatus(t, "mapped to system:masters", http.StatusOK)
	out := mustIammap(t, env, "create", "--backend", "aws-auth", "--arn", arn, "--username", "testuser", "--group", "no-rbac-here")
	if !strings.Contains(out, "overrides it") {
		t.Errorf("remap did not warn about the shadowed entry: %s", out)
	}
	expectStatus(t, "remapped to a group without RBAC", http.StatusForbidden)
	mustIammap(t, env, "delete", "--backend", "aws-auth", "--arn", arn, "--all")
	expectStatus(t, "mapping deleted", http.StatusUnauthorized)
}

func TestIntegrationSeedStoryThroughAccessEntries(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	arn := stacktest.TestUser.ARN
	expectStatus(t, "unmapped", http.StatusUnauthorized)
	// auto picks access entries: the cluster is in API_AND_CONFIG_MAP mode.
	out := mustIammap(t, env, "create", "--arn", arn, "--access-policy", "AmazonEKSClusterAdminPolicy")
	if !strings.Contains(out, "created access entry "+arn) || !strings.Contains(out, "associated AmazonEKSClusterAdminPolicy") {
		t.Fatalf("create output: %s", out)
	}
	if again := mustIammap(t, env, "create", "--arn", arn, "--access-policy", "AmazonEKSClusterAdminPolicy"); !strings.Contains(again, "already matches; nothing changed") {
		t.Errorf("re-run was not a no-op: %s", again)
	}
	expectStatus(t, "access entry with AmazonEKSClusterAdminPolicy", http.StatusOK)
	mustIammap(t, env, "disassociate-access-policy", "--arn", arn, "--access-policy", "AmazonEKSClusterAdminPolicy")
	expectStatus(t, "access entry without policies or RBAC", http.StatusForbidden)
	mustIammap(t, env, "create", "--arn", arn, "--access-policy", "AmazonEKSViewPolicy", "--access-scope", "namespace=default")
	expectStatus(t, "view policy in one namespace (nodes are cluster-scoped)", http.StatusForbidden)
	mustIammap(t, env, "delete", "--arn", arn)
	expectStatus(t, "access entry deleted", http.StatusUnauthorized)
}

func TestIntegrationAccessEntryOverridesAWSAuth(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	arn := stacktest.TestUser.ARN
	mustIammap(t, env, "create", "--backend", "aws-auth", "--arn", arn, "--username", "testuser", "--group", "system:masters")
	expectStatus(t, "aws-auth system:masters", http.StatusOK)
	mustIammap(t, env, "create", "--backend", "access-entry", "--arn", arn, "--group", "no-rbac-here")
	expectStatus(t, "access entry without RBAC overrides aws-auth", http.StatusForbidden)

	stdout, _, err := iammapEnv(t, env, "get", "--arn", arn, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0]["source"] != "access-entry" || rows[1]["source"] != "mapUsers" || rows[1]["status"] != "overridden" {
		t.Errorf("get rows = %v, want the access entry and the overridden aws-auth entry", rows)
	}

	// The accessentry noun deletes only the access entry (auto would revoke
	// both), and says what EKS falls back to.
	_, stderr, err := iammapEnv(t, env, "delete", "accessentry", "--arn", arn)
	if err != nil || !strings.Contains(stderr, "STILL MAPPED through aws-auth mapUsers[0]") {
		t.Errorf("delete of the access entry: %v; stderr %q, want a warning that aws-auth still maps it", err, stderr)
	}
	expectStatus(t, "access entry gone, aws-auth takes over again", http.StatusOK)
	resetIdentities(t)
}

func TestIntegrationBadTokensAreUnauthorized(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	cl := stacktest.Cluster(t)
	mustIammap(t, env, "create", "--backend", "aws-auth", "--arn", stacktest.TestUser.ARN, "--username", "testuser", "--group", "system:masters")
	if got := nodesStatus(t, freshToken(t, stacktest.TestUser, cl.ClusterName)); got != http.StatusOK {
		t.Fatalf("a valid token got %d; the other cases would prove nothing", got)
	}
	wrongSecret := stacktest.TestUser
	wrongSecret.SecretAccessKey = "not-the-secret"
	expired := signAt(t, stacktest.TestUser, cl.ClusterName, cl.Region, time.Now().Add(-20*time.Minute))
	for name, token := range map[string]string{
		"wrong cluster":   freshToken(t, stacktest.TestUser, "another-cluster"),
		"wrong signature": freshToken(t, wrongSecret, cl.ClusterName),
		"expired":         expired,
		"not a token":     "k8s-aws-v1.bm90IGEgdXJs",
	} {
		if got := nodesStatus(t, token); got != http.StatusUnauthorized {
			t.Errorf("%s: got %d, want 401", name, got)
		}
	}
	resetIdentities(t)
}

// signAt makes a token signed at a given time, as a client with a wrong
// clock or a replayed old token would present it.
func signAt(t *testing.T, p authwebhook.Principal, cluster, region string, at time.Time) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "https://sts."+region+".amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(ekstoken.ClusterIDHeader, cluster)
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey}, req,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sts", region, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := url.Parse(signed); err != nil {
		t.Fatal(err)
	}
	return ekstoken.Prefix + base64URL(signed)
}

func TestIntegrationAuthModeIsOneWay(t *testing.T) {
	cl := stacktest.Cluster(t)
	cl.Emulator.AddCluster(eksemu.ClusterSpec{Name: "legacy", Endpoint: cl.Server, AuthMode: eksemu.ModeConfigMap})
	cl.Emulator.AddCluster(eksemu.ClusterSpec{Name: "creating", Endpoint: cl.Server, Status: "CREATING"})
	env := stacktest.AWSEnv(t, stacktest.Admin)
	if out, _, _ := iammapEnv(t, env, "auth-mode", "--cluster", "legacy"); out != "CONFIG_MAP\n" {
		t.Fatalf("auth-mode = %q", out)
	}
	_, stderr, err := iammapEnv(t, env, "create", "--cluster", "legacy", "--backend", "access-entry", "--arn", stacktest.TestUser.ARN)
	if err == nil || !strings.Contains(stderr, "CONFIG_MAP authentication mode: it has no access entries") {
		t.Errorf("access entry on a CONFIG_MAP cluster: %v %q", err, stderr)
	}
	_, stderr, err = iammapEnv(t, env, "auth-mode", "--cluster", "legacy", "--set", "API")
	if err == nil || !strings.Contains(stderr, "must pass through API_AND_CONFIG_MAP before API") {
		t.Errorf("skipping a step: %v %q", err, stderr)
	}
	_, stderr, err = iammapEnv(t, env, "auth-mode", "--cluster", "legacy", "--set", "API_AND_CONFIG_MAP", "--wait", "--poll-interval", "100ms")
	if err != nil || !strings.Contains(stderr, "is now in API_AND_CONFIG_MAP mode") || !strings.Contains(stderr, "cannot be undone") {
		t.Fatalf("move: %v %q", err, stderr)
	}
	_, stderr, err = iammapEnv(t, env, "auth-mode", "--cluster", "legacy", "--set", "CONFIG_MAP")
	if err == nil || !strings.Contains(stderr, "one way") {
		t.Errorf("moving back: %v %q", err, stderr)
	}
	if mode, _ := cl.Emulator.AuthMode("legacy"); mode != eksemu.ModeAPIAndConfigMap {
		t.Errorf("mode after refused move back = %s", mode)
	}
	_, stderr, err = iammapEnv(t, env, "get", "--cluster", "creating")
	if err == nil || !strings.Contains(stderr, "iammap: error: cluster is not ready: creating is CREATING") {
		t.Errorf("get on a CREATING cluster: %v %q", err, stderr)
	}
	_, stderr, err = iammapEnv(t, env, "get", "--cluster", "nope")
	if err == nil || !strings.Contains(stderr, "cluster not found: nope") {
		t.Errorf("get on a missing cluster: %v %q", err, stderr)
	}
}

func TestIntegrationAWSCLISeesWhatIammapWroteAndViceVersa(t *testing.T) {
	stacktest.RequireAWSCLI(t)
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	arn := stacktest.TestUser.ARN
	mustIammap(t, env, "create", "--arn", arn, "--group", "viewers", "--access-policy", "AmazonEKSViewPolicy", "--access-scope", "namespace=a,b")
	cl := stacktest.Cluster(t)
	aws := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command("aws", append([]string{"eks", "--output", "json"}, args...)...)
		cmd.Env = append(env, "AWS_DEFAULT_REGION="+cl.Region)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %v: %v\n%s", args, err, out)
		}
		var v map[string]any
		if len(bytes.TrimSpace(out)) > 0 {
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("aws %v: %v\n%s", args, err, out)
			}
		}
		return v
	}
	entry := aws("describe-access-entry", "--cluster-name", cl.ClusterName, "--principal-arn", arn)["accessEntry"].(map[string]any)
	if entry["kubernetesGroups"].([]any)[0] != "viewers" {
		t.Errorf("aws sees %v", entry)
	}
	pols := aws("list-associated-access-policies", "--cluster-name", cl.ClusterName, "--principal-arn", arn)["associatedAccessPolicies"].([]any)
	scope := pols[0].(map[string]any)["accessScope"].(map[string]any)
	if len(pols) != 1 || scope["type"] != "namespace" || len(scope["namespaces"].([]any)) != 2 {
		t.Errorf("aws sees policies %v", pols)
	}
	// And the other way round.
	other := "arn:aws:iam::111122223333:role/from-aws-cli"
	aws("create-access-entry", "--cluster-name", cl.ClusterName, "--principal-arn", other, "--kubernetes-groups", "cli-group")
	out := mustIammap(t, env, "get", "--backend", "access-entry", "--arn", other)
	if !strings.Contains(out, other) || !strings.Contains(out, "cli-group") {
		t.Errorf("iammap get after the AWS CLI created an entry:\n%s", out)
	}
	mustIammap(t, env, "delete", "--arn", other)
	resetIdentities(t)
}

func base64URL(s string) string {
	return strings.TrimRight(base64Encoding.EncodeToString([]byte(s)), "=")
}

var base64Encoding = base64.RawURLEncoding
