package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/iammap/iammap/internal/devstack"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/awscreds"
	"github.com/iammap/iammap/internal/devstack/eksemu"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	"github.com/iammap/iammap/internal/devstack/stsemu"
	"github.com/iammap/iammap/internal/fleetreport"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// cutOff is a proxy in front of an EKS endpoint that lets the first `pass`
// requests through and then behaves as an unreachable endpoint: it closes
// every connection without an answer, until restored.
type cutOff struct {
	target  *httputil.ReverseProxy
	pass    atomic.Int64
	dropped atomic.Int64
}

func newCutOff(t testing.TB, endpoint string) (*cutOff, string) {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c := &cutOff{target: httputil.NewSingleHostReverseProxy(u)}
	c.pass.Store(1 << 30)
	srv := &http.Server{Handler: c}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return c, "http://" + l.Addr().String()
}

func (c *cutOff) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c.pass.Add(-1) >= 0 {
		c.target.ServeHTTP(w, r)
		return
	}
	c.dropped.Add(1)
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// TestIntegrationFleetAcrossAccounts is issue 12's acceptance test: three
// clusters, each with its own kube-apiserver and EKS, in two accounts and
// two authentication modes, one of them reached only through a role of the
// other account assumed through the stack's STS (SigV4 checked, the EKS of
// each account refusing the other account's callers). The third cluster's
// EKS becomes unreachable mid-run: the other two converge, the report names
// the failure and the run exits 1; with the cluster back, a second run
// finishes it and changes nothing on the other two.
func TestIntegrationFleetAcrossAccounts(t *testing.T) {
	stacktest.RequireIntegration(t)
	ctx := context.Background()
	const (
		accountA    = "111122223333"
		accountB    = "444455556666"
		deployerARN = "arn:aws:iam::" + accountB + ":role/iammap-deployer"
	)
	reg := awscreds.New()
	ci := authwebhook.NewPrincipal("ci", "arn:aws:iam::"+accountA+":user/ci")
	type spec struct {
		name, account, region, mode, creator string
		principals                           []authwebhook.Principal
		roles                                []stsemu.Role
	}
	specs := []spec{
		{"alpha", accountA, "us-west-2", eksemu.ModeConfigMap, ci.ARN, []authwebhook.Principal{ci},
			[]stsemu.Role{{ARN: deployerARN, Trusted: []string{ci.ARN}, ExternalID: "fleet-test"}}},
		{"bravo", accountA, "us-west-2", eksemu.ModeAPI, ci.ARN, nil, nil},
		{"charlie", accountB, "eu-west-1", eksemu.ModeAPIAndConfigMap, deployerARN, nil, nil},
	}
	stacks := make([]*devstack.Cluster, len(specs))
	start := func(i int, sharedSTS string) error {
		s := specs[i]
		c, err := devstack.Start(ctx, devstack.Options{BinDir: stacktest.BinDir(), Dir: t.TempDir(), EKS: &devstack.EKSOptions{
			ClusterName: s.name, AuthMode: s.mode, Principals: s.principals, CreatorARN: s.creator, Roles: s.roles,
			Credentials: reg, CheckCallers: true, STSEndpoint: sharedSTS, STSRegions: []string{"eu-west-1"},
			Emulator: eksemu.Options{AccountID: s.account, Region: s.region},
		}})
		if err != nil {
			return fmt.Errorf("start %s: %w", s.name, err)
		}
		t.Cleanup(c.Stop)
		stacks[i] = c
		return nil
	}
	if err := start(0, ""); err != nil {
		t.Fatal(err)
	}
	// The first stack's STS stands for the global STS: every stack accepts
	// tokens presigned for it, as every EKS cluster accepts AWS's STS.
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i := 1; i < len(specs); i++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = start(i, stacks[0].STSEndpoint) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	alpha, bravo, charlie := stacks[0], stacks[1], stacks[2]
	cut, charlieEKS := newCutOff(t, charlie.EKSEndpoint)

	for _, kv := range strings.Split("AWS_ACCESS_KEY_ID="+ci.AccessKeyID+" AWS_SECRET_ACCESS_KEY="+ci.SecretAccessKey+
		" AWS_SESSION_TOKEN= AWS_REGION=us-west-2 AWS_DEFAULT_REGION= AWS_PROFILE= AWS_EC2_METADATA_DISABLED=true"+
		" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_ENDPOINT_URL_EKS= AWS_ENDPOINT_URL_IAM="+alpha.IAMEndpoint+
		" AWS_ENDPOINT_URL_STS="+alpha.STSEndpoint+" AWS_MAX_ATTEMPTS=2 IAMMAP_CLUSTER= KUBECONFIG=/dev/null", " ") {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	file := filepath.Join(t.TempDir(), "fleet.yaml")
	content := strings.NewReplacer("ALPHA_EKS", alpha.EKSEndpoint, "BRAVO_EKS", bravo.EKSEndpoint, "CHARLIE_EKS", charlieEKS,
		"ACCOUNT_A", accountA, "ACCOUNT_B", accountB, "DEPLOYER", deployerARN).Replace(`apiVersion: iammap/v1
kind: AccessConfig
clusters:
  - name: alpha
    region: us-west-2
    endpointUrl: ALPHA_EKS
    awsAuth:
      mapRoles:
        - {rolearn: "arn:aws:iam::ACCOUNT_A:role/developers", username: dev, groups: [developers]}
  - name: bravo
    region: us-west-2
    endpointUrl: BRAVO_EKS
    accessEntries:
      - principalArn: arn:aws:iam::ACCOUNT_A:role/developers
        kubernetesGroups: [developers]
        accessPolicies: [{policy: AmazonEKSViewPolicy}]
  - name: charlie
    region: eu-west-1
    endpointUrl: CHARLIE_EKS
    roleArn: DEPLOYER
    externalId: fleet-test
    awsAuth:
      mapRoles:
        - {rolearn: "arn:aws:iam::ACCOUNT_B:role/nodes", username: "system:node:{{EC2PrivateDNSName}}", groups: [system:bootstrappers, system:nodes]}
    accessEntries:
      - principalArn: arn:aws:iam::ACCOUNT_B:role/developers
        accessPolicies: [{policy: AmazonEKSViewPolicy}]
`)
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}

	// Run 1: charlie's EKS answers DescribeCluster, then is gone.
	cut.pass.Store(1)
	out, stderr, code := runIammap("apply", "-f", file, "-o", "json")
	if code != 1 {
		t.Fatalf("apply with charlie unreachable: exit %d, want 1\n%s\n%s", code, out, stderr)
	}
	report := decodeFleetReport(t, out)
	rows := map[string]fleetreport.Row{}
	for _, r := range report.Clusters {
		rows[r.Cluster] = r
	}
	if r := rows["alpha"]; r.Status != "applied" || r.Applied != 1 || r.Account != accountA || r.Mode != "CONFIG_MAP" {
		t.Errorf("alpha: %+v; want 1 aws-auth change applied in CONFIG_MAP, account A", r)
	}
	if r := rows["bravo"]; r.Status != "applied" || r.Applied != 2 || r.Mode != "API" {
		t.Errorf("bravo: %+v; want the access entry and its policy applied", r)
	}
	if r := rows["charlie"]; r.Status != "failed" || r.Error == "" || r.Region != "eu-west-1" {
		t.Errorf("charlie: %+v; want failed with its error", r)
	}
	if cut.dropped.Load() == 0 {
		t.Error("the cut-off proxy dropped nothing: charlie was never made unreachable")
	}
	if !strings.Contains(stderr, "iammap: error: 1 of 3 clusters failed: charlie") {
		t.Errorf("stderr does not name charlie:\n%s", stderr)
	}
	if m := mapRoles(t, alpha); !strings.Contains(m, "role/developers") {
		t.Errorf("alpha's aws-auth after run 1: %q; want the developers mapping", m)
	}
	if _, ok := bravo.Emulator.AccessEntry("bravo", "arn:aws:iam::"+accountA+":role/developers"); !ok {
		t.Error("bravo has no developers access entry after run 1")
	}
	if _, ok := charlie.Emulator.AccessEntry("charlie", "arn:aws:iam::"+accountB+":role/developers"); ok {
		t.Error("charlie got an access entry although its EKS was unreachable")
	}

	// Run 2: charlie is back; only charlie has anything left to do.
	cut.pass.Store(1 << 30)
	out, stderr, code = runIammap("apply", "-f", file, "-o", "json")
	if code != 0 {
		t.Fatalf("second apply: exit %d\n%s\n%s", code, out, stderr)
	}
	report = decodeFleetReport(t, out)
	for _, r := range report.Clusters {
		want := "in-sync"
		if r.Cluster == "charlie" {
			want = "applied"
		}
		if r.Status != want {
			t.Errorf("second run, %s: %+v; want %s", r.Cluster, r, want)
		}
	}
	if r := report.Clusters[2]; r.Applied != 3 || r.Account != accountB || r.Mode != "API_AND_CONFIG_MAP" {
		t.Errorf("charlie on the second run: %+v; want 3 changes (aws-auth node role, entry, policy) in account B", r)
	}
	if _, ok := charlie.Emulator.AccessEntry("charlie", "arn:aws:iam::"+accountB+":role/developers"); !ok {
		t.Error("charlie has no developers access entry after the second run")
	}
	// The aws-auth write reached charlie's API server as the assumed role.
	if m := mapRoles(t, charlie); !strings.Contains(m, "role/nodes") {
		t.Errorf("charlie's aws-auth: %q; want the node role", m)
	}
	// ... as the session iammap named: arn:aws:sts::B:assumed-role/iammap-deployer/iammap-<time>.
	writers := awsAuthWriters(t, charlie)
	if len(writers) == 0 || !strings.Contains(writers[len(writers)-1], ":assumed-role/iammap-deployer/iammap-") {
		t.Errorf("charlie's aws-auth writers %q; want the deployer role's iammap session last", writers)
	}

	// Run 3: nothing anywhere.
	out, stderr, code = runIammap("diff", "-f", file)
	if code != 0 || !strings.Contains(out, "3 cluster(s): 3 done, 0 with changes pending") {
		t.Errorf("diff after convergence: exit %d\n%s\n%s", code, out, stderr)
	}
}

func decodeFleetReport(t *testing.T, out string) fleetreport.Report {
	t.Helper()
	var r fleetreport.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("fleet report: %v\n%s", err, out)
	}
	return r
}

var adminClients sync.Map // *devstack.Cluster -> kubernetes.Interface

func adminOf(t *testing.T, c *devstack.Cluster) kubernetes.Interface {
	t.Helper()
	if cs, ok := adminClients.Load(c); ok {
		return cs.(kubernetes.Interface)
	}
	cs, err := kubernetes.NewForConfig(c.RESTConfig(c.Admin))
	if err != nil {
		t.Fatal(err)
	}
	adminClients.Store(c, cs)
	return cs
}

func mapRoles(t *testing.T, c *devstack.Cluster) string {
	t.Helper()
	cm, err := adminOf(t, c).CoreV1().ConfigMaps("kube-system").Get(context.Background(), "aws-auth", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("read %s's aws-auth: %v", c.ClusterName, err)
	}
	return cm.Data["mapRoles"]
}

// awsAuthWriters are the users the API server's audit log records as
// having created or updated aws-auth: who the cluster thought was writing.
func awsAuthWriters(t *testing.T, c *devstack.Cluster) []string {
	t.Helper()
	b, err := os.ReadFile(c.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, line := range strings.Split(string(b), "\n") {
		var ev struct {
			Verb      string                    `json:"verb"`
			Stage     string                    `json:"stage"`
			User      struct{ Username string } `json:"user"`
			ObjectRef struct{ Name string }     `json:"objectRef"`
			Response  struct{ Code int }        `json:"responseStatus"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil || ev.ObjectRef.Name != "aws-auth" || ev.Stage != "ResponseComplete" {
			continue
		}
		if (ev.Verb == "create" || ev.Verb == "update" || ev.Verb == "patch") && ev.Response.Code < 300 {
			users = append(users, ev.User.Username)
		}
	}
	return users
}
