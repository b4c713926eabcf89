// Package stacktest gives integration tests a real local API server. The
// server starts on first use, once per test binary, and stops when Main's
// tests finish; tests that never ask for it pay nothing.
//
// Integration tests run only with IAMMAP_INTEGRATION=1 (`make test` and CI
// set it): without it they skip with one line naming `make test`, so
// `go test ./...` on a fresh clone passes in seconds. With it nothing
// skips: when kube-apiserver, etcd or authenticator-oracle has not been
// built, or a tool a test needs is missing, the test fails with the command
// that provides it. The
// decision is RequireIntegration's (and RequireTool's); Cluster calls it.
package stacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/devstack"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/ekstoken"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Users every test cluster has besides the admin. Tokens are fixed per
// process so a cluster started once serves all tests.
var (
	// Reader is granted only read access to ConfigMaps in kube-system by
	// tests that need it (group configmap-readers).
	Reader = devstack.NewUser("reader", "configmap-readers")
	// Nobody is authenticated but has no RBAC at all.
	Nobody = devstack.NewUser("nobody")
)

// Local IAM principals of the test cluster's EKS: Admin created the
// cluster (an access entry with AmazonEKSClusterAdminPolicy); TestUser is
// mapped nowhere to start with.
var (
	Admin    = authwebhook.NewPrincipal("admin", "arn:aws:iam::111122223333:user/local-admin")
	TestUser = authwebhook.NewPrincipal("testuser", "arn:aws:iam::111122223333:user/testuser")
	// Dev, Ops and Ghost serve the explain tests.
	Dev   = authwebhook.NewPrincipal("dev", "arn:aws:iam::111122223333:user/dev")
	Ops   = authwebhook.NewPrincipal("ops", "arn:aws:iam::111122223333:role/platform/ops")
	Ghost = authwebhook.NewPrincipal("ghost", "arn:aws:iam::111122223333:user/ghost")
)

// Fidelity are the callers of the tests that hold iammap's answers to the
// authenticator's, one or more per class of aws-auth input: nodes with and
// without an instance-id session, the account root, a federated user, an
// IAM Identity Center role, principals of other accounts.
var Fidelity = map[string]authwebhook.Principal{
	"node-instance": withSession(authwebhook.NewPrincipal("node-instance", "arn:aws:iam::111122223333:role/fid-node"), "i-0123456789abcdef0"),
	"node-other":    withSession(authwebhook.NewPrincipal("node-other", "arn:aws:iam::111122223333:role/fid-node"), "not-an-instance"),
	"root":          authwebhook.NewPrincipal("root", "arn:aws:iam::111122223333:root"),
	"federated":     authwebhook.NewPrincipal("federated", "arn:aws:sts::111122223333:federated-user/fed"),
	"varied":        authwebhook.NewPrincipal("varied", "arn:aws:iam::111122223333:user/varied"),
	"sso":           authwebhook.NewPrincipal("sso", "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef"),
	"wild":          authwebhook.NewPrincipal("wild", "arn:aws:iam::111122223333:role/fid-wild"),
	"kube":          authwebhook.NewPrincipal("kube", "arn:aws:iam::111122223333:role/fid-kube"),
	"partner":       authwebhook.NewPrincipal("partner", "arn:aws:iam::444455556666:user/partner"),
	"float":         authwebhook.NewPrincipal("float", "arn:aws:iam::012345678901:user/float"),
}

// Varied are sixteen sets of credentials of one IAM user, user/varied:
// sixteen distinct tokens signed in the same second, each decided afresh
// (the API server caches a token's identity), to see a random choice.
var Varied = func() []authwebhook.Principal {
	out := make([]authwebhook.Principal, 16)
	for i := range out {
		out[i] = authwebhook.NewPrincipal(fmt.Sprintf("varied-%d", i), "arn:aws:iam::111122223333:user/varied")
	}
	return out
}()

func withSession(p authwebhook.Principal, session string) authwebhook.Principal {
	p.SessionName = session
	return p
}

// IAMPrincipals exist in the test cluster's IAM besides Admin and TestUser.
var IAMPrincipals = []string{
	"arn:aws:iam::111122223333:role/team/Pathy", "arn:aws:iam::111122223333:role/dev", "arn:aws:iam::111122223333:role/mis",
	"arn:aws:iam::111122223333:role/tmpl", "arn:aws:iam::111122223333:role/overridden", "arn:aws:iam::111122223333:user/admin",
	"arn:aws:iam::111122223333:role/nodes", "arn:aws:iam::111122223333:role/Admin", "arn:aws:iam::111122223333:user/varied",
}

var (
	once     sync.Once
	cluster  *devstack.Cluster
	startErr error
	tmpDir   string
)

// BinDir is where the local stack binaries are looked for:
// $IAMMAP_KUBE_BIN, else bin/ at the repository root.
func BinDir() string {
	if d := os.Getenv("IAMMAP_KUBE_BIN"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return "bin"
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "bin")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "bin"
		}
		dir = parent
	}
}

// Cluster returns the shared cluster, starting it on first use. It skips
// t unless IAMMAP_INTEGRATION=1 (see RequireIntegration).
func Cluster(t testing.TB) *devstack.Cluster {
	t.Helper()
	RequireIntegration(t)
	once.Do(func() {
		tmpDir, startErr = os.MkdirTemp("", "iammap-stack-")
		if startErr != nil {
			return
		}
		cluster, startErr = devstack.Start(context.Background(), devstack.Options{
			BinDir: BinDir(), Dir: tmpDir, Users: []devstack.User{Reader, Nobody},
			EKS: &devstack.EKSOptions{Principals: append([]authwebhook.Principal{Admin, TestUser, Dev, Ops, Ghost}, append(slices.Collect(maps.Values(Fidelity)), Varied...)...), CreatorARN: Admin.ARN, IAMPrincipals: IAMPrincipals},
		})
	})
	if startErr != nil {
		t.Fatalf("local API server: %v", startErr)
	}
	return cluster
}

// Clientset returns a client authenticated as u.
func Clientset(t testing.TB, u devstack.User) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(Cluster(t).RESTConfig(u))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// Kubeconfig writes a kubeconfig for the shared cluster (contexts admin,
// reader, nobody; admin current) into t's temp dir and returns its path.
func Kubeconfig(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := Cluster(t).WriteKubeconfig(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// SignIn returns a client of c that authenticates as p with a fresh
// IAM-signed token, made as `aws eks get-token` makes it. It first waits for
// the next second (X-Amz-Date has second resolution), so the token is one
// no cache of the API server has seen.
func SignIn(t testing.TB, c *devstack.Cluster, p authwebhook.Principal) *kubernetes.Clientset {
	t.Helper()
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
	return SignInNow(t, c, p)
}

// SignInNow is SignIn without waiting for the next second: its token is new
// only if p has signed no other in the same second.
func SignInNow(t testing.TB, c *devstack.Cluster, p authwebhook.Principal) *kubernetes.Clientset {
	t.Helper()
	client := sts.New(sts.Options{Region: c.Region, Credentials: credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, "")})
	tok, err := ekstoken.Generate(context.Background(), client, c.ClusterName)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: c.Server, BearerToken: tok.Value, TLSClientConfig: rest.TLSClientConfig{CAFile: c.CAFile}})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// AWSEnv is the environment for an iammap process that reaches the test
// cluster by name through the local EKS, signed in as p. It starts from the
// test's own environment without any AWS_ or IAMMAP_ variable.
func AWSEnv(t testing.TB, p authwebhook.Principal) []string {
	t.Helper()
	return ClusterEnv(Cluster(t), p)
}

// BaseEnv is the test's environment without AWS_, IAMMAP_ and KUBECONFIG variables.
func BaseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "IAMMAP_") && !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	return env
}

// ClusterEnv is AWSEnv for any running cluster with a local EKS.
func ClusterEnv(c *devstack.Cluster, p authwebhook.Principal) []string {
	return append(BaseEnv(),
		"AWS_ENDPOINT_URL_EKS="+c.EKSEndpoint, "AWS_ENDPOINT_URL_IAM="+c.IAMEndpoint, "AWS_ENDPOINT_URL_STS="+c.STSEndpoint, "AWS_REGION="+c.Region, "AWS_DEFAULT_REGION="+c.Region, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ACCESS_KEY_ID="+p.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+p.SecretAccessKey,
		"IAMMAP_CLUSTER="+c.ClusterName,
	)
}

// Main runs the tests and stops the cluster if one was started.
func Main(m *testing.M) int {
	code := m.Run()
	if cluster != nil {
		cluster.Stop()
	}
	if tmpDir != "" {
		if err := os.RemoveAll(tmpDir); err != nil {
			fmt.Fprintln(os.Stderr, "stacktest:", err)
		}
	}
	return code
}

// AuditCounts counts, per verb, the completed requests for one ConfigMap in
// kube-system that the API server's audit log recorded after offset bytes,
// and returns the new offset. Tests take an offset, act, then count.
func AuditCounts(t testing.TB, name string, offset int64) (map[string]int, int64) {
	t.Helper()
	b, err := os.ReadFile(Cluster(t).AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, line := range strings.Split(string(b[offset:]), "\n") {
		if line == "" {
			continue
		}
		var ev struct {
			Stage     string `json:"stage"`
			Verb      string `json:"verb"`
			ObjectRef struct {
				Namespace, Name string
			} `json:"objectRef"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit log: %v", err)
		}
		if ev.Stage == "ResponseComplete" && ev.ObjectRef.Namespace == "kube-system" && ev.ObjectRef.Name == name {
			counts[ev.Verb]++
		}
	}
	return counts, int64(len(b))
}

// AuditOffset is the audit log's current size: count from here.
func AuditOffset(t testing.TB) int64 {
	t.Helper()
	st, err := os.Stat(Cluster(t).AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// SetAWSAuth replaces kube-system/aws-auth with data (nil: deletes it) and
// returns what was created.
func SetAWSAuth(t testing.TB, cs kubernetes.Interface, data map[string]string) *corev1.ConfigMap {
	t.Helper()
	ctx := context.Background()
	cms := cs.CoreV1().ConfigMaps(awsauth.Namespace)
	if err := cms.Delete(ctx, awsauth.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if data == nil {
		return nil
	}
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: awsauth.Name, Namespace: awsauth.Namespace, Labels: map[string]string{"owner": "test"}}, Data: data}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

// AWSAuth reads kube-system/aws-auth.
func AWSAuth(t testing.TB, cs kubernetes.Interface) *corev1.ConfigMap {
	t.Helper()
	cm, err := cs.CoreV1().ConfigMaps(awsauth.Namespace).Get(context.Background(), awsauth.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}
