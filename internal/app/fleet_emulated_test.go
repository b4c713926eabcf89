package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/eksemu"
	"github.com/iammap/iammap/internal/devstack/stsemu"
	"github.com/iammap/iammap/internal/fleet"
	"github.com/iammap/iammap/internal/fleetreport"
)

// emulatedFleet serves n clusters in API mode (named c000, c001, ...) plus
// the extra specs from one EKS emulator over real HTTP, sets the AWS
// environment to reach it with static credentials and nothing else, and
// writes an access file listing the clusters with the emulator as their
// endpointUrl. Diff in API mode reads only the EKS API, so no API server is
// needed.
func emulatedFleet(t testing.TB, n int, opts eksemu.Options, extra ...eksemu.ClusterSpec) (file string, emu *eksemu.Server) {
	t.Helper()
	emu = eksemu.New(opts)
	var names []string
	for i := range n {
		name := fmt.Sprintf("c%03d", i)
		emu.AddCluster(eksemu.ClusterSpec{Name: name, AuthMode: eksemu.ModeAPI, Endpoint: "https://127.0.0.1:1"})
		names = append(names, name)
	}
	for _, spec := range extra {
		emu.AddCluster(spec)
		names = append(names, spec.Name)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	// The lockout guard asks who the caller is: the API servers here do not
	// exist, so it falls back to STS GetCallerIdentity, answered locally.
	stsServer, err := stsemu.NewServer(stsemu.Options{Region: "us-west-2", MoreRegions: []string{"eu-west-1"},
		Principals: []authwebhook.Principal{{Name: "ci", ARN: "arn:aws:iam::111122223333:user/ci", AccessKeyID: "AKIDFLEET", SecretAccessKey: "fleet-secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	sts := httptest.NewServer(stsServer)
	t.Cleanup(sts.Close)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDFLEET", "AWS_SECRET_ACCESS_KEY": "fleet-secret", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "us-west-2", "AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(dir, "none"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"), "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL_EKS": "", "AWS_ENDPOINT_URL_STS": sts.URL, "IAMMAP_CLUSTER": "",
	} {
		t.Setenv(k, v)
	}
	var b strings.Builder
	b.WriteString(`apiVersion: iammap/v1
kind: AccessConfig
accessEntries:
  - principalArn: arn:aws:iam::111122223333:role/platform-admin
    accessPolicies: [{policy: AmazonEKSClusterAdminPolicy}]
  - principalArn: arn:aws:iam::111122223333:role/developers
    kubernetesGroups: [developers]
    accessPolicies: [{policy: AmazonEKSEditPolicy, namespaces: [apps]}]
clusters:
`)
	for _, name := range names {
		fmt.Fprintf(&b, "  - {name: %s, region: us-west-2, endpointUrl: %q}\n", name, srv.URL)
	}
	file = filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, emu
}

// runIammap runs iammap in process and returns stdout, stderr and the exit
// code Main would return.
func runIammap(args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = Main(context.Background(), append([]string{"iammap"}, args...), &out, &errOut)
	return out.String(), errOut.String(), code
}

// TestFleetOverEmulatedClusters: a fleet diff plans every cluster, one
// cluster that cannot be used fails alone (its row says why, the others
// are planned in full) and the run exits 1; apply converges the selected
// clusters; a second diff finds nothing left, exit 0.
func TestFleetOverEmulatedClusters(t *testing.T) {
	file, emu := emulatedFleet(t, 6, eksemu.Options{}, eksemu.ClusterSpec{Name: "broken", AuthMode: eksemu.ModeAPI, Status: "FAILED"})

	out, stderr, code := runIammap("diff", "-f", file, "-o", "json", "--parallel", "3")
	if code != 1 {
		t.Fatalf("diff with a failed cluster: exit %d, want 1\n%s", code, stderr)
	}
	var report fleetreport.Report
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("diff -o json: %v\n%s", err, out)
	}
	if len(report.Clusters) != 7 || report.Summary.Failed != 1 || report.Summary.WithChanges != 6 {
		t.Fatalf("summary %+v over %d rows; want 7 clusters, 1 failed, 6 with changes", report.Summary, len(report.Clusters))
	}
	for i, row := range report.Clusters {
		switch {
		case row.Cluster == "broken":
			if row.Status != "failed" || !strings.Contains(row.Error, "FAILED") {
				t.Errorf("broken: status %s, error %q; want failed, naming its FAILED status", row.Status, row.Error)
			}
		case row.Status != "pending" || row.Pending != 4 || row.Account != "111122223333" || row.Mode != "API" || row.Plan == nil:
			t.Errorf("row %d: %+v; want pending with 4 changes (2 entries, 2 policies), account and mode from EKS", i, row)
		}
	}
	if !strings.Contains(stderr, "iammap: error: 1 of 7 clusters failed: broken") {
		t.Errorf("stderr does not name the failed cluster:\n%s", stderr)
	}

	out, stderr, code = runIammap("apply", "-f", file, "--clusters", "c*", "--force")
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "6 cluster(s): 6 done, 24 change(s) applied") {
		t.Errorf("apply summary missing:\n%s", out)
	}
	for i := range 6 {
		if got := len(emu.AccessEntries(fmt.Sprintf("c%03d", i))); got != 2 {
			t.Errorf("c%03d has %d access entries after apply, want 2", i, got)
		}
	}
	if got := len(emu.AccessEntries("broken")); got != 0 {
		t.Errorf("broken was not selected, yet has %d access entries", got)
	}

	out, stderr, code = runIammap("diff", "-f", file, "--clusters", "c*")
	if code != 0 || !strings.Contains(out, "6 cluster(s): 6 done, 0 with changes pending") {
		t.Fatalf("diff after apply: exit %d\n%s\n%s", code, out, stderr)
	}
}

// TestFleetInterruptLeavesTheRestNotRun: cancelling a fleet run starts no
// further cluster; those are reported as not run and the run fails.
func TestFleetInterruptLeavesTheRestNotRun(t *testing.T) {
	file, _ := emulatedFleet(t, 8, eksemu.Options{Latency: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	var out, errOut bytes.Buffer
	err := Run(ctx, []string{"iammap", "diff", "-f", file, "--parallel", "1", "-o", "json"}, &out, &errOut)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("interrupted run: err %v, want one wrapping the context's error", err)
	}
	var report fleetreport.Report
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	if report.Summary.NotRun == 0 || report.Clusters[7].Status != "not-run" {
		t.Errorf("summary %+v, last row %+v; want the clusters never started reported not-run", report.Summary, report.Clusters[7])
	}
	if r := report.Clusters[0]; r.Status != "interrupted" {
		t.Errorf("the cluster in flight: %+v; want interrupted", r)
	}
}

// TestFleetDiffThroughThrottling: with a fifth of EKS's answers
// ThrottlingException, a fleet diff at the default --parallel still plans
// every cluster: throttled requests are retried, never reported.
func TestFleetDiffThroughThrottling(t *testing.T) {
	file, emu := emulatedFleet(t, 30, eksemu.Options{ThrottleRate: 0.2})
	out, stderr, code := runIammap("diff", "-f", file, "-o", "json")
	var report fleetreport.Report
	if err := json.Unmarshal([]byte(out), &report); err != nil || code != 2 || report.Summary.Failed != 0 || report.Summary.WithChanges != 30 {
		t.Fatalf("exit %d, summary %+v, err %v\n%s", code, report.Summary, err, stderr)
	}
	if n := emu.Calls()[eksemu.ThrottledCalls]; n == 0 {
		t.Fatal("the emulator throttled nothing: the test proves nothing")
	} else {
		t.Logf("%d requests throttled and retried", n)
	}
}

// BenchmarkFleetDiff100 diffs 100 emulated clusters (access entries, API
// mode) with 50 ms of EKS latency per request, one cluster at a time
// (parallel-1) and at the default --parallel (fleet.DefaultParallel). Every
// cluster must be planned, or the benchmark fails.
func BenchmarkFleetDiff100(b *testing.B) {
	file, _ := emulatedFleet(b, 100, eksemu.Options{Latency: 50 * time.Millisecond})
	for _, parallel := range []int{1, fleet.DefaultParallel} {
		b.Run(fmt.Sprintf("parallel-%d", parallel), func(b *testing.B) {
			for b.Loop() {
				out, stderr, code := runIammap("diff", "-f", file, "--parallel", fmt.Sprint(parallel), "-o", "json")
				var report fleetreport.Report
				if err := json.Unmarshal([]byte(out), &report); err != nil || code != 2 || report.Summary.Failed != 0 || report.Summary.WithChanges != 100 {
					b.Fatalf("exit %d, summary %+v, err %v\n%s", code, report.Summary, err, stderr)
				}
			}
		})
	}
}

// editFile rewrites an access file written by emulatedFleet.
func editFile(t *testing.T, file string, edit func(string) string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(edit(string(b))), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestFleetCommonAWSAuthSkipsAPIClusters: the file's common awsAuth is for
// the clusters that read aws-auth; a cluster in API mode skips it with a
// note (the run goes on) instead of refusing, while a cluster's own awsAuth
// in API mode is still refused.
func TestFleetCommonAWSAuthSkipsAPIClusters(t *testing.T) {
	file, _ := emulatedFleet(t, 2, eksemu.Options{})
	editFile(t, file, func(s string) string {
		return strings.Replace(s, "kind: AccessConfig\n", "kind: AccessConfig\nawsAuth:\n  mapRoles:\n    - {rolearn: \"arn:aws:iam::111122223333:role/nodes\", username: \"system:node:{{EC2PrivateDNSName}}\", groups: [system:bootstrappers, system:nodes]}\n", 1)
	})
	out, stderr, code := runIammap("diff", "-f", file)
	if code != 2 {
		t.Fatalf("diff: exit %d, want 2 (entries pending)\n%s\n%s", code, out, stderr)
	}
	if n := strings.Count(out, "note: the file's common awsAuth (1 mapping(s)) is not applied: the cluster is in API mode"); n != 2 {
		t.Errorf("%d notes about the skipped common awsAuth, want one per cluster:\n%s", n, out)
	}
	editFile(t, file, func(s string) string {
		return strings.Replace(s, "  - {name: c001,", "  - {awsAuth: {mapUsers: [{userarn: \"arn:aws:iam::111122223333:user/x\", username: x}]}, name: c001,", 1)
	})
	out, stderr, code = runIammap("diff", "-f", file, "-o", "json")
	report := decodeFleetReport(t, out)
	if code != 1 || report.Clusters[0].Status != "pending" || report.Clusters[1].Status != "failed" || !strings.Contains(report.Clusters[1].Error, "EKS ignores the file's aws-auth mappings") {
		t.Errorf("a cluster's own awsAuth in API mode: exit %d, rows %+v; want c000 pending and c001 refused\n%s", code, report.Clusters, stderr)
	}
}

// TestFleetRefusedRoleFailsAlone: a cluster whose roleArn STS refuses
// fails with STS's answer and a hint about the trust policy; the other
// clusters are planned.
func TestFleetRefusedRoleFailsAlone(t *testing.T) {
	file, _ := emulatedFleet(t, 2, eksemu.Options{})
	editFile(t, file, func(s string) string {
		return strings.Replace(s, "  - {name: c001,", "  - {roleArn: \"arn:aws:iam::444455556666:role/deployer\", externalId: secret-id, name: c001,", 1)
	})
	out, stderr, code := runIammap("diff", "-f", file, "-o", "json")
	report := decodeFleetReport(t, out)
	row := report.Clusters[1]
	if code != 1 || report.Clusters[0].Status != "pending" || row.Status != "failed" || row.Account != "444455556666" {
		t.Fatalf("exit %d, rows %+v\n%s", code, report.Clusters, stderr)
	}
	if !strings.HasPrefix(row.Error, "assume role arn:aws:iam::444455556666:role/deployer: STS refused: AccessDenied: ") || !strings.Contains(row.Hint, "trust policy") {
		t.Errorf("error %q, hint %q; want STS's refusal of the role and a trust-policy hint", row.Error, row.Hint)
	}
	if strings.Contains(out+stderr, "secret-id") {
		t.Error("the external id was printed")
	}
}

// TestFleetClusterTimeout: a cluster that does not answer in
// --cluster-timeout fails alone, saying so, instead of holding its slot for
// the whole --timeout.
func TestFleetClusterTimeout(t *testing.T) {
	file, _ := emulatedFleet(t, 2, eksemu.Options{Latency: 2 * time.Second})
	out, stderr, code := runIammap("diff", "-f", file, "-o", "json", "--cluster-timeout", "300ms")
	report := decodeFleetReport(t, out)
	if code != 1 || report.Summary.Failed != 2 {
		t.Fatalf("exit %d, summary %+v\n%s", code, report.Summary, stderr)
	}
	for _, row := range report.Clusters {
		if !strings.HasPrefix(row.Error, "gave up on this cluster after --cluster-timeout 300ms: ") || row.Seconds > 1.5 {
			t.Errorf("%s: %q after %.1fs; want the cluster timeout, soon", row.Cluster, row.Error, row.Seconds)
		}
	}
}

// TestFleetDiffReportsWhatApplyWouldRefuse: a plan the lockout guard would
// refuse at apply (here --prune removes the caller's own admin entry) fails
// diff, with the plan shown, so a pull request's plan is not green when its
// apply would stop; apply --force is the way through, as the hint says.
func TestFleetDiffReportsWhatApplyWouldRefuse(t *testing.T) {
	file, emu := emulatedFleet(t, 1, eksemu.Options{}, eksemu.ClusterSpec{Name: "mine", AuthMode: eksemu.ModeAPI, Endpoint: "https://127.0.0.1:1", CreatorARN: "arn:aws:iam::111122223333:user/ci"})
	out, stderr, code := runIammap("diff", "-f", file, "--prune")
	if code != 1 {
		t.Fatalf("diff --prune removing the caller's entry: exit %d, want 1\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{
		"cluster mine (API): 5 change(s) pending",
		"  apply would refuse this plan: ",
		"- access entry delete arn:aws:iam::111122223333:user/ci",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "mine: hint: change the file so you keep access") || !strings.Contains(stderr, "1 of 2 clusters failed: mine") {
		t.Errorf("the refusal is not the cluster's error:\n%s\n%s", out, stderr)
	}
	if _, ok := emu.AccessEntry("mine", "arn:aws:iam::111122223333:user/ci"); !ok {
		t.Fatal("diff deleted the caller's entry")
	}
	// The same plan applies with --force, as the hint says.
	if _, stderr, code := runIammap("apply", "-f", file, "--prune", "--force", "--clusters", "mine"); code != 0 {
		t.Fatalf("apply --prune --force: exit %d\n%s", code, stderr)
	}
}

// TestFleetAliasesTellSameNamedClustersApart: EKS names are unique per
// account and region only; two clusters named alike are told apart by an
// alias, which --clusters selects, the report shows, and the matrix carries
// beside the EKS name.
func TestFleetAliasesTellSameNamedClustersApart(t *testing.T) {
	file, first := emulatedFleet(t, 1, eksemu.Options{})
	other := eksemu.New(eksemu.Options{Region: "eu-west-1"})
	other.AddCluster(eksemu.ClusterSpec{Name: "c000", AuthMode: eksemu.ModeAPI, Endpoint: "https://127.0.0.1:1"})
	srv := httptest.NewServer(other)
	t.Cleanup(srv.Close)
	editFile(t, file, func(s string) string {
		s = strings.Replace(s, "  - {name: c000,", "  - {alias: c000-us, name: c000,", 1)
		return s + fmt.Sprintf("  - {alias: c000-eu, name: c000, region: eu-west-1, endpointUrl: %q}\n", srv.URL)
	})
	out, stderr, code := runIammap("apply", "-f", file, "--clusters", "c000-eu", "-o", "json")
	report := decodeFleetReport(t, out)
	if code != 0 || len(report.Clusters) != 1 || report.Clusters[0].Cluster != "c000-eu" || report.Clusters[0].Region != "eu-west-1" {
		t.Fatalf("apply --clusters c000-eu: exit %d, %+v\n%s", code, report.Clusters, stderr)
	}
	if len(other.AccessEntries("c000")) != 2 || len(first.AccessEntries("c000")) != 0 {
		t.Errorf("entries: eu %d, us %d; want the alias's cluster alone written", len(other.AccessEntries("c000")), len(first.AccessEntries("c000")))
	}
	out, _, _ = runIammap("clusters", "-f", file, "-o", "json")
	if !strings.Contains(out, `{"cluster":"c000-eu","name":"c000","region":"eu-west-1"`) {
		t.Errorf("matrix lacks the alias and the EKS name: %s", out)
	}
	if _, stderr, code := runIammap("diff", "-f", file, "--cluster", "c000"); code != 1 || !strings.Contains(stderr, "iammap: hint: c000 is the EKS name of c000-us and c000-eu in the file: pass the alias of the one you mean") {
		t.Errorf("--cluster with a shared EKS name: exit %d\n%s", code, stderr)
	}
	editFile(t, file, func(s string) string {
		return strings.Replace(strings.Replace(s, "alias: c000-eu, ", "", 1), "alias: c000-us, ", "", 1)
	})
	if _, stderr, code := runIammap("diff", "-f", file); code != 1 || !strings.Contains(stderr, "cluster c000 is listed twice; if these are two clusters (in other accounts or regions), give each an alias") {
		t.Errorf("two clusters named c000 without aliases: exit %d\n%s", code, stderr)
	}
}

// TestFleetMaxFailuresStopsTheRollout: with --max-failures, a change that
// breaks clusters stops reaching new ones; the rest are reported not run.
func TestFleetMaxFailuresStopsTheRollout(t *testing.T) {
	file, emu := emulatedFleet(t, 0, eksemu.Options{},
		eksemu.ClusterSpec{Name: "bad1", AuthMode: eksemu.ModeAPI, Status: "FAILED"},
		eksemu.ClusterSpec{Name: "bad2", AuthMode: eksemu.ModeAPI, Status: "FAILED"},
		eksemu.ClusterSpec{Name: "good", AuthMode: eksemu.ModeAPI, Endpoint: "https://127.0.0.1:1"})
	out, stderr, code := runIammap("apply", "-f", file, "--parallel", "1", "--max-failures", "2", "-o", "json")
	report := decodeFleetReport(t, out)
	if code != 1 || report.Summary.Failed != 2 || report.Summary.NotRun != 1 || report.Clusters[2].Status != "not-run" {
		t.Fatalf("exit %d, summary %+v, rows %+v\n%s", code, report.Summary, report.Clusters, stderr)
	}
	if len(emu.AccessEntries("good")) != 0 {
		t.Error("a cluster after the limit was written")
	}
	if !strings.Contains(stderr, "2 of 3 clusters failed: bad1, bad2; 1 not run: good") {
		t.Errorf("stderr:\n%s", stderr)
	}
}

// TestVerbose5LogsEachAWSCall: -v 5 names each AWS call and how it ended,
// as eksctl's -v 5 does, and never a credential.
func TestVerbose5LogsEachAWSCall(t *testing.T) {
	file, _ := emulatedFleet(t, 1, eksemu.Options{})
	_, stderr, code := runIammap("diff", "-f", file, "-v", "5")
	if code != 2 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"iammap: aws: EKS DescribeCluster: ok (", "iammap: aws: EKS ListAccessEntries: ok (", "iammap: aws: STS GetCallerIdentity: ok ("} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "fleet-secret") {
		t.Error("the secret key was printed")
	}
	if _, stderr, _ := runIammap("diff", "-f", file, "-v", "4"); strings.Contains(stderr, "aws: EKS") {
		t.Errorf("-v 4 logs AWS calls:\n%s", stderr)
	}
}

// TestFleetCommonEntriesSkipConfigMapClusters: a CONFIG_MAP cluster has no
// access entries, so the file's common entries are skipped there with a
// note, with --force too (which cannot make them exist).
func TestFleetCommonEntriesSkipConfigMapClusters(t *testing.T) {
	file, _ := emulatedFleet(t, 0, eksemu.Options{}, eksemu.ClusterSpec{Name: "cm", AuthMode: eksemu.ModeConfigMap, Endpoint: "https://127.0.0.1:1"})
	for _, args := range [][]string{{"diff"}, {"apply", "--force"}} {
		out, stderr, code := runIammap(append(args, "-f", file)...)
		if code != 0 || !strings.Contains(out, "note: the file's common accessEntries (2) are not applied: the cluster is in CONFIG_MAP mode") {
			t.Errorf("%v: exit %d\n%s\n%s", args, code, out, stderr)
		}
	}
}

// TestDiffPlansWhenTheGuardCannotReadAWSAuth: a planner that may not read
// aws-auth (here: the API server cannot be reached) still gets its plan,
// told the guard's verdict is missing; apply --dry-run, which must fail
// closed, does not go on.
func TestDiffPlansWhenTheGuardCannotReadAWSAuth(t *testing.T) {
	file, _ := emulatedFleet(t, 0, eksemu.Options{}, eksemu.ClusterSpec{Name: "both", AuthMode: eksemu.ModeAPIAndConfigMap, Endpoint: "https://127.0.0.1:1"})
	out, stderr, code := runIammap("diff", "-f", file)
	if code != 2 || !strings.Contains(out, "note: whether apply would refuse this plan was not checked: reading aws-auth failed") {
		t.Errorf("diff: exit %d\n%s\n%s", code, out, stderr)
	}
	if _, stderr, code := runIammap("apply", "--dry-run", "-f", file); code != 1 {
		t.Errorf("apply --dry-run without aws-auth: exit %d, want 1\n%s", code, stderr)
	}
}

// TestAccessEntriesOnAConfigMapClusterHintFitsAFile: a file's own entries
// on a CONFIG_MAP cluster are refused with a hint a file user can follow
// (not create's --backend, which diff and apply do not take).
func TestAccessEntriesOnAConfigMapClusterHintFitsAFile(t *testing.T) {
	file, _ := emulatedFleet(t, 0, eksemu.Options{}, eksemu.ClusterSpec{Name: "cm", AuthMode: eksemu.ModeConfigMap, Endpoint: "https://127.0.0.1:1"})
	editFile(t, file, func(s string) string {
		return strings.Replace(s, "  - {name: cm,", "  - {accessEntries: [{principalArn: \"arn:aws:iam::111122223333:role/x\"}], name: cm,", 1)
	})
	_, stderr, code := runIammap("diff", "-f", file, "--cluster", "cm")
	if code != 1 || !strings.Contains(stderr, "iammap: hint: the file lists accessEntries: switch the cluster with `iammap auth-mode --set API_AND_CONFIG_MAP --cluster cm` (one way)") || strings.Contains(stderr, "--backend") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}
