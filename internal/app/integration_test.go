package app

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// iammap runs the iammap command as a separate process.
func iammap(t *testing.T, kubeconfig string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command("iammap", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// setAWSAuth and readAWSAuth are stacktest's, named for these tests.
var (
	setAWSAuth  = stacktest.SetAWSAuth
	readAWSAuth = stacktest.AWSAuth
)

func TestIntegrationConcurrentCreateProcessesLoseNothing(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	kubeconfig := stacktest.Kubeconfig(t)
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	setAWSAuth(t, admin, nil)
	const processes, each = 8, 25
	var wg sync.WaitGroup
	failures := make(chan string, processes*each)
	for p := range processes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				arn := fmt.Sprintf("arn:aws:iam::111122223333:role/p%d-m%d", p, i)
				if _, stderr, err := iammap(t, kubeconfig, "create", "--arn", arn, "--username", "u", "--group", "g"); err != nil {
					failures <- fmt.Sprintf("%s: %v: %s", arn, err, stderr)
				}
			}
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	doc := awsauth.Decode(readAWSAuth(t, admin).Data)
	seen := map[string]bool{}
	for _, r := range doc.Set().Roles {
		seen[r.ARN] = true
	}
	for p := range processes {
		for i := range each {
			if arn := fmt.Sprintf("arn:aws:iam::111122223333:role/p%d-m%d", p, i); !seen[arn] {
				t.Errorf("%s missing", arn)
			}
		}
	}
	if len(seen) != processes*each {
		t.Errorf("%d mappings present, want %d", len(seen), processes*each)
	}
}

func TestIntegrationBrokenKeyExitsNonZeroAndWritesNothing(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	kubeconfig := stacktest.Kubeconfig(t)
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	broken := "- rolearn: arn:aws:iam::111122223333:role/a\n  groups: [x\n"
	before := setAWSAuth(t, admin, map[string]string{"mapRoles": broken, "mapUsers": "- userarn: arn:aws:iam::111122223333:user/u\n"})

	_, stderr, err := iammap(t, kubeconfig, "create", "--arn", "arn:aws:iam::111122223333:role/b")
	if err == nil {
		t.Fatal("create into a broken key succeeded")
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if !strings.HasPrefix(lines[0], "iammap: error: refusing to edit mapRoles: aws-auth key mapRoles: cannot parse: ") || len(lines) != 2 {
		t.Errorf("stderr = %q, want one error line naming mapRoles and one hint", stderr)
	}
	if rv := readAWSAuth(t, admin).ResourceVersion; rv != before.ResourceVersion {
		t.Errorf("resourceVersion %s -> %s: a failed parse led to a write", before.ResourceVersion, rv)
	}

	// The other keys stay editable, and the broken one stays byte-identical.
	if _, stderr, err := iammap(t, kubeconfig, "create", "--arn", "arn:aws:iam::111122223333:user/v"); err != nil {
		t.Fatalf("create into a healthy key: %v: %s", err, stderr)
	}
	if got := readAWSAuth(t, admin).Data["mapRoles"]; got != broken {
		t.Errorf("broken key rewritten: %q", got)
	}
	_, stderr, err = iammap(t, kubeconfig, "get")
	if err != nil || !strings.Contains(stderr, "warning: aws-auth key mapRoles: cannot parse") {
		t.Errorf("get: %v, stderr %q; want a warning naming the broken key", err, stderr)
	}
}

func TestIntegrationReadOnlyUserGetsForbiddenAndNothingIsWritten(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	ctx := context.Background()
	kubeconfig := stacktest.Kubeconfig(t)
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
	before := setAWSAuth(t, admin, map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/admin\n  username: admin\n"})

	stdout, stderr, err := iammap(t, kubeconfig, "--context", stacktest.Reader.Name, "get")
	if err != nil || !strings.Contains(stdout, "role/admin") {
		t.Fatalf("reader get: %v, %q, %q", err, stdout, stderr)
	}
	_, stderr, err = iammap(t, kubeconfig, "--context", stacktest.Reader.Name, "create", "--arn", "arn:aws:iam::111122223333:role/intruder", "--group", "system:masters")
	if err == nil {
		t.Fatal("reader could create a mapping")
	}
	// The backup ConfigMap is forbidden, so iammap falls back to a file and
	// says so; the update is forbidden too, so that file is removed again:
	// nothing was written anywhere.
	if !strings.Contains(stderr, `iammap: error: update kube-system/aws-auth: configmaps "aws-auth" is forbidden: User "reader" cannot update`) ||
		!strings.Contains(stderr, "iammap: hint: your Kubernetes user lacks this permission") {
		t.Errorf("stderr = %q, want a forbidden error and a hint", stderr)
	}
	if m := regexp.MustCompile(`backed up to (\S+\.yaml) instead`).FindStringSubmatch(stderr); m == nil {
		t.Errorf("stderr = %q, want the fallback to a file named", stderr)
	} else if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("the backup file %s of a write that was refused is still there (%v)", m[1], err)
	}
	if rv := readAWSAuth(t, admin).ResourceVersion; rv != before.ResourceVersion {
		t.Errorf("resourceVersion changed after a forbidden create")
	}
	// A user with no RBAC at all cannot even read.
	_, stderr, err = iammap(t, kubeconfig, "--context", stacktest.Nobody.Name, "get")
	if err == nil || !strings.Contains(stderr, "forbidden") {
		t.Errorf("nobody get: %v, %q", err, stderr)
	}
}

func TestIntegrationCLIEditsKeepOtherKeysAndFieldsByteForByte(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	kubeconfig := stacktest.Kubeconfig(t)
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	data := map[string]string{
		"mapRoles": "# nodes\n- rolearn: arn:aws:iam::111122223333:role/node\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:bootstrappers, system:nodes]\n  owner: team-a # keep\n" +
			"- sso:\n    permissionSetName: Admin\n    accountID: \"111122223333\"\n  username: admin\n  userid: AROA1\n",
		"mapUsers":    "- userArn: arn:aws:iam::111122223333:user/alice\n  username: alice\n",
		"mapAccounts": "- 012345678901\n",
		"other":       "untouched: true\n",
	}
	setAWSAuth(t, admin, data)
	if _, stderr, err := iammap(t, kubeconfig, "create", "--arn", "arn:aws:iam::111122223333:role/ci", "--username", "ci"); err != nil {
		t.Fatal(stderr)
	}
	if _, stderr, err := iammap(t, kubeconfig, "delete", "--arn", "arn:aws:iam::111122223333:role/ci"); err != nil {
		t.Fatal(stderr)
	}
	if _, stderr, err := iammap(t, kubeconfig, "create", "--arn", "arn:aws:iam::111122223333:user/bob"); err != nil {
		t.Fatal(stderr)
	}
	got := readAWSAuth(t, admin).Data
	for _, k := range []string{"mapRoles", "mapAccounts", "other"} {
		if got[k] != data[k] {
			t.Errorf("data.%s changed:\n%q\n->\n%q", k, data[k], got[k])
		}
	}
	if want := data["mapUsers"] + "- userarn: arn:aws:iam::111122223333:user/bob\n"; got["mapUsers"] != want {
		t.Errorf("mapUsers = %q, want %q", got["mapUsers"], want)
	}
}
