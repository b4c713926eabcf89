package app

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/devstack/eksfault"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Fault tests of apply's report: "applied" only for what the servers
// confirmed, through the CLI on the dev stack.

// grantConfigMapReader lets stacktest.Reader read, and only read, the
// ConfigMaps of kube-system.
func grantConfigMapReader(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "configmap-reader", Namespace: awsauth.Namespace},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "configmap-readers", Namespace: awsauth.Namespace},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "configmap-readers"}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
	}
	if _, err := admin.RbacV1().Roles(awsauth.Namespace).Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings(awsauth.Namespace).Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// A write that was refused (the lockout guard, RBAC) prints what was not
// applied, never "N change(s) applied".
func TestIntegrationApplyRefusedReportsNothingApplied(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	kubeconfig := stacktest.Kubeconfig(t)
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	grantConfigMapReader(t)
	nodes := "- rolearn: arn:aws:iam::111122223333:role/nodes\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:bootstrappers, system:nodes]\n"
	noNodes := roleFile(t, 2, "")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"the lockout guard", []string{"apply", "-f", noNodes, "--prune"}, "refusing a change that would lock out"},
		{"RBAC: a read-only user", []string{"--context", stacktest.Reader.Name, "apply", "-f", noNodes}, "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := setAWSAuth(t, admin, map[string]string{"mapRoles": nodes}).ResourceVersion
			stdout, stderr, err := iammap(t, kubeconfig, tt.args...)
			if exitCode(err) != 1 || !strings.Contains(stderr, tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q", exitCode(err), stderr, tt.wantErr)
			}
			notApplied := strings.Index(stdout, "\n  not applied:\n")
			if regexp.MustCompile(`: \d+ change\(s\) applied`).MatchString(stdout) || !strings.Contains(stdout, "change(s) applied, ") ||
				notApplied < 0 || !strings.Contains(stdout[notApplied:], "  + aws-auth mapRoles arn:aws:iam::111122223333:role/app-0000") {
				t.Errorf("report:\n%s\nwant 0 of N applied and the changes listed under \"not applied\"", stdout)
			}
			if !strings.Contains(stdout, ": 0 of ") {
				t.Errorf("report:\n%s\nwant \"0 of N change(s) applied\"", stdout)
			}
			if readAWSAuth(t, admin).ResourceVersion != before {
				t.Error("the refused apply wrote aws-auth")
			}
		})
	}
}

// apply --dry-run sends the aws-auth write as a server-side dry run: a user
// whose real write would be refused is refused now, and nothing is stored.
func TestIntegrationApplyDryRunAsksTheAPIServer(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	kubeconfig := stacktest.Kubeconfig(t)
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	grantConfigMapReader(t)
	before := setAWSAuth(t, admin, map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:user/keep\n  username: keep\n"}).ResourceVersion
	file := roleFile(t, 3, "")

	_, stderr, err := iammap(t, kubeconfig, "--context", stacktest.Reader.Name, "apply", "-f", file, "--dry-run")
	if exitCode(err) != 1 || !strings.Contains(stderr, `User "reader" cannot update resource "configmaps"`) {
		t.Errorf("reader's dry run: exit %d, stderr %q; want the API server's refusal of the update", exitCode(err), stderr)
	}

	offset := stacktest.AuditOffset(t)
	stdout, stderr, err := iammap(t, kubeconfig, "apply", "-f", file, "--dry-run")
	if exitCode(err) != 2 || !strings.Contains(stdout, "3 change(s) pending") ||
		!strings.Contains(stdout, "note: dry run: the API server checked the aws-auth write and stored nothing") {
		t.Errorf("admin's dry run: exit %d (want 2)\n%s%s", exitCode(err), stdout, stderr)
	}
	if counts, _ := stacktest.AuditCounts(t, awsauth.Name, offset); counts["update"] != 1 {
		t.Errorf("requests on aws-auth during the dry run: %v; want one (dry-run) update", counts)
	}
	if readAWSAuth(t, admin).ResourceVersion != before {
		t.Error("the dry run stored aws-auth")
	}
}

// eksDirect is a client straight to the dev stack's EKS, as the admin.
func eksDirect(t *testing.T) *accessentry.Client {
	t.Helper()
	cl := stacktest.Cluster(t)
	api := eks.New(eks.Options{Region: cl.Region, BaseEndpoint: aws.String(cl.EKSEndpoint),
		Credentials: credentials.NewStaticCredentialsProvider(stacktest.Admin.AccessKeyID, stacktest.Admin.SecretAccessKey, "")})
	return accessentry.New(api, cl.ClusterName)
}

// entryFile writes an access file with an entry and one policy for each of
// n roles named prefix-N.
func entryFile(t *testing.T, prefix string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: iammap/v1\nkind: AccessConfig\naccessEntries:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - principalArn: arn:aws:iam::111122223333:role/%s-%02d\n    kubernetesGroups: [viewers]\n    accessPolicies: [{policy: AmazonEKSViewPolicy}]\n", prefix, i)
	}
	path := filepath.Join(t.TempDir(), "entries.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// heldChanges counts the changes of entryFile's file that EKS holds: one for
// each entry, one for each association.
func heldChanges(t *testing.T, prefix string) int {
	t.Helper()
	entries, err := eksDirect(t).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.Contains(e.PrincipalARN, ":role/"+prefix+"-") {
			n += 1 + len(e.Policies)
		}
	}
	return n
}

func deleteEntries(t *testing.T, prefix string) {
	t.Helper()
	c := eksDirect(t)
	entries, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.PrincipalARN, ":role/"+prefix+"-") {
			if _, err := c.Delete(context.Background(), e.PrincipalARN); err != nil {
				t.Error(err)
			}
		}
	}
}

// withEndpoint is env with the EKS endpoint replaced.
func withEndpoint(env []string, endpoint string, extra ...string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AWS_ENDPOINT_URL_EKS=") {
			out = append(out, kv)
		}
	}
	return append(append(out, "AWS_ENDPOINT_URL_EKS="+endpoint), extra...)
}

// buildIammap builds the real command (main.go, whose signal handling the
// test binary standing in for iammap does not have) into a temp dir.
func buildIammap(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "iammap")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/iammap/iammap")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var appliedRe = regexp.MustCompile(`: (\d+) of (\d+) change\(s\) applied`)

// SIGTERM (and SIGINT) mid-apply: no new write starts, the writes in
// flight finish, the exit code says a signal ended the run, and the report
// counts exactly what EKS holds.
func TestIntegrationApplyInterruptedReportsWhatLanded(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	bin := buildIammap(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			prefix := "sig" + strconv.Itoa(int(sig))
			env := resetIdentities(t)
			defer deleteEntries(t, prefix)
			proxy := eksfault.New(t, stacktest.Cluster(t).EKSEndpoint)
			// Creates land at once and answer after a second: SIGTERM comes
			// while they are in flight.
			proxy.Add(eksfault.Fault{Op: eksfault.CreateAccessEntry, DelayReply: time.Second})
			cmd := exec.Command(bin, "apply", "-f", entryFile(t, prefix, 40))
			cmd.Env = withEndpoint(env, proxy.URL)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for proxy.Forwarded(eksfault.CreateAccessEntry) == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			if got, want := exitCode(err), 128+int(sig); got != want {
				t.Errorf("exit %d, want %d\n%s", got, want, stderr.String())
			}
			m := appliedRe.FindStringSubmatch(stdout.String())
			if m == nil {
				t.Fatalf("no \"N of M change(s) applied\" in the report:\n%s\n%s", stdout.String(), stderr.String())
			}
			applied, _ := strconv.Atoi(m[1])
			t.Logf("report%s; stderr: %s", m[0], stderr.String())
			if held := heldChanges(t, prefix); applied != held || held == 0 || m[2] != "80" {
				t.Errorf("report says %s of %s applied; EKS holds %d of the file's changes\n%s", m[1], m[2], held, stdout.String())
			}
			if !strings.Contains(stdout.String(), "  applied:\n  + access entry create") || !strings.Contains(stdout.String(), "  not applied:\n") ||
				!strings.Contains(stderr.String(), "iammap: error: interrupted: ") || !strings.Contains(stderr.String(), "run apply again to finish") {
				t.Errorf("report does not list what landed and what did not:\n%s\n%s", stdout.String(), stderr.String())
			}
		})
	}
}

// A create whose reply is lost, with the re-read failing too, is reported
// as "may have been applied" with the way out; running apply again
// converges.
func TestIntegrationApplyLostReplyIsReportedAsMaybeApplied(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	const prefix = "lost-reply"
	defer deleteEntries(t, prefix)
	proxy := eksfault.New(t, stacktest.Cluster(t).EKSEndpoint)
	proxy.Add(eksfault.Fault{Op: eksfault.CreateAccessEntry, DropReply: true})
	proxy.Add(eksfault.Fault{Op: eksfault.DescribeAccessEntry, Principal: prefix, Status: http.StatusInternalServerError, Code: "ServerException"})
	file := entryFile(t, prefix, 1)
	// One attempt per call: the SDK's retry would carry the same request
	// token and get the first attempt's answer.
	faulty := withEndpoint(env, proxy.URL, "AWS_MAX_ATTEMPTS=1")
	stdout, stderr, err := iammapEnv(t, faulty, "apply", "-f", file)
	if exitCode(err) != 1 || !strings.Contains(stderr, "may have been applied") || !strings.Contains(stderr, "run apply again, it re-reads the cluster and converges") {
		t.Errorf("exit %d, stderr %q; want 1, \"may have been applied\" and the hint", exitCode(err), stderr)
	}
	if !strings.Contains(stdout, "0 of 2 change(s) applied, 1 may have been applied, 1 not applied") ||
		!strings.Contains(stdout, "  may have been applied (sent, but the reply was lost; run apply again: it re-reads and converges):\n  + access entry create arn:aws:iam::111122223333:role/lost-reply-00") {
		t.Errorf("report:\n%s", stdout)
	}
	if held := heldChanges(t, prefix); held != 1 {
		t.Errorf("EKS holds %d of the file's changes, want the create", held)
	}
	proxy.Clear()
	if out := mustIammap(t, faulty, "apply", "-f", file); !strings.Contains(out, "1 change(s) applied") {
		t.Errorf("apply again:\n%s", out)
	}
	if out := mustIammap(t, faulty, "apply", "-f", file); !strings.Contains(out, "0 change(s) applied") {
		t.Errorf("third apply:\n%s", out)
	}
}

// Two applies of the same file at once: both plan "create", one create
// wins and the other's ResourceInUseException converges instead of failing.
func TestIntegrationConcurrentApplyOfOneEntryBothSucceed(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	const prefix = "twin"
	defer deleteEntries(t, prefix)
	proxy := eksfault.New(t, stacktest.Cluster(t).EKSEndpoint)
	// Both runs list the entries before either creates.
	proxy.Add(eksfault.Fault{Op: eksfault.ListAccessEntries, DelayReply: 2 * time.Second})
	file := entryFile(t, prefix, 1)
	type run struct {
		stdout, stderr string
		err            error
	}
	runs := make([]run, 2)
	done := make(chan int)
	for i := range runs {
		go func() {
			r := &runs[i]
			r.stdout, r.stderr, r.err = iammapEnv(t, withEndpoint(env, proxy.URL), "apply", "-f", file)
			done <- i
		}()
	}
	<-done
	<-done
	if n := proxy.Forwarded(eksfault.CreateAccessEntry); n != 2 {
		t.Fatalf("%d creates reached EKS; the test needs both runs to create", n)
	}
	for i, r := range runs {
		if r.err != nil {
			t.Errorf("apply %d: %v\n%s%s", i, r.err, r.stdout, r.stderr)
		}
	}
	if !strings.Contains(runs[0].stdout+runs[1].stdout, "was created meanwhile") {
		t.Errorf("neither run noted the concurrent create:\n%s\n%s", runs[0].stdout, runs[1].stdout)
	}
	if held := heldChanges(t, prefix); held != 2 {
		t.Errorf("EKS holds %d of the file's 2 changes", held)
	}
	if out, _, err := iammapEnv(t, env, "diff", "-f", file); exitCode(err) != 0 {
		t.Errorf("diff after both applies: exit %d\n%s", exitCode(err), out)
	}
}

// aws-auth's write landing with its reply lost: the store re-reads to
// settle it, and apply reports what it learnt: applied when the change is
// there, "may have been applied" when another writer's change hides it.
func TestIntegrationApplyAWSAuthLostReply(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	file := roleFile(t, 2, "")
	tests := []struct {
		name       string
		then       func()
		wantExit   int
		wantReport string
	}{
		{"the re-read finds the change: applied", nil, 0, ": 2 change(s) applied\n"},
		{"another writer follows: may have been applied", func() {
			cm := readAWSAuth(t, admin)
			cm.Data["other"] = "changed by someone else\n"
			if _, err := admin.CoreV1().ConfigMaps(awsauth.Namespace).Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
				t.Error(err)
			}
		}, 1, ": 0 of 2 change(s) applied, 2 may have been applied, 0 not applied\n  may have been applied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setAWSAuth(t, admin, map[string]string{"other": "x\n"})
			proxy := stacktest.NewFaultProxy(t)
			if tt.then != nil {
				proxy.DropReplyThen(http.MethodPut, "/configmaps/"+awsauth.Name, tt.then)
			} else {
				proxy.DropReply(http.MethodPut, "/configmaps/"+awsauth.Name, 1)
			}
			stdout, stderr, err := iammap(t, proxy.Kubeconfig(t), "apply", "-f", file)
			if exitCode(err) != tt.wantExit || !strings.Contains(stdout, tt.wantReport) || proxy.Dropped() != 1 {
				t.Errorf("exit %d (want %d), %d replies dropped; report:\n%s\nwant %q\n%s", exitCode(err), tt.wantExit, proxy.Dropped(), stdout, tt.wantReport, stderr)
			}
		})
	}
}
