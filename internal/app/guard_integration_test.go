package app

import (
	"context"
	"strings"
	"testing"

	"github.com/iammap/iammap/internal/devstack"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/eksemu"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// refusedThenForced runs args expecting a refusal naming want with aws-auth
// untouched, then again with --force expecting success.
func refusedThenForced(t *testing.T, env []string, cs kubernetes.Interface, want string, args ...string) {
	t.Helper()
	before := readAWSAuth(t, cs).ResourceVersion
	_, stderr, err := iammapEnv(t, env, args...)
	if err == nil || !strings.Contains(stderr, "refusing a change that would lock out") || !strings.Contains(stderr, want) || !strings.Contains(stderr, "--force") {
		t.Fatalf("iammap %s: %v, stderr %q; want a refusal naming %q", strings.Join(args, " "), err, stderr, want)
	}
	if after := readAWSAuth(t, cs).ResourceVersion; after != before {
		t.Fatalf("a refused change wrote aws-auth (%s -> %s)", before, after)
	}
	// The report says only what was done: nothing.
	for _, claim := range []string{"iammap: removed ", "iammap: added ", "goes to ", "removes from "} {
		if strings.Contains(stderr, claim) {
			t.Fatalf("iammap %s was refused but reports %q:\n%s", strings.Join(args, " "), claim, stderr)
		}
	}
	if _, stderr, err := iammapEnv(t, env, append(args, "--force")...); err != nil {
		t.Fatalf("with --force: %v %s", err, stderr)
	}
}

func TestIntegrationGuardsRefuseLockouts(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	resetIdentities(t)
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	setAWSAuth(t, admin, map[string]string{
		"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/nodes\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:bootstrappers, system:nodes]\n",
		"mapUsers": "- userarn: " + stacktest.TestUser.ARN + "\n  username: testuser\n  groups: [system:masters]\n",
	})
	kubeconfigEnv := append(stacktest.BaseEnv(), "KUBECONFIG="+stacktest.Kubeconfig(t))
	// Through a kubeconfig (static cluster-admin token): node roles and the last admin.
	refusedThenForced(t, kubeconfigEnv, admin, "node role arn:aws:iam::111122223333:role/nodes would lose its mapping",
		"delete", "--arn", "arn:aws:iam::111122223333:role/nodes")
	refusedThenForced(t, kubeconfigEnv, admin, "no principal would keep cluster-admin",
		"create", "--arn", stacktest.TestUser.ARN, "--username", "testuser", "--group", "viewers")

	// As testuser through EKS: its own access and its own cluster-admin.
	setAWSAuth(t, admin, map[string]string{"mapUsers": "- userarn: " + stacktest.TestUser.ARN + "\n  username: testuser\n  groups: [system:masters]\n"})
	self := stacktest.AWSEnv(t, stacktest.TestUser)
	refusedThenForced(t, self, admin, "you ("+stacktest.TestUser.ARN+") would lose cluster-admin",
		"create", "--backend", "aws-auth", "--arn", stacktest.TestUser.ARN, "--username", "testuser", "--group", "viewers")
	setAWSAuth(t, admin, map[string]string{"mapUsers": "- userarn: " + stacktest.TestUser.ARN + "\n  username: testuser\n  groups: [system:masters]\n"})
	refusedThenForced(t, self, admin, "you ("+stacktest.TestUser.ARN+") would lose your access",
		"delete", "--backend", "aws-auth", "--arn", stacktest.TestUser.ARN)

	// Access entries: taking one's own admin policy away.
	env := stacktest.AWSEnv(t, stacktest.Admin)
	mustIammap(t, env, "create", "--arn", stacktest.TestUser.ARN, "--access-policy", "AmazonEKSClusterAdminPolicy")
	_, stderr, err := iammapEnv(t, self, "disassociate-access-policy", "--arn", stacktest.TestUser.ARN, "--access-policy", "AmazonEKSClusterAdminPolicy")
	if err == nil || !strings.Contains(stderr, "would lose cluster-admin") {
		t.Fatalf("disassociating one's own admin policy: %v %q", err, stderr)
	}
	if _, stderr, err := iammapEnv(t, self, "disassociate-access-policy", "--arn", stacktest.TestUser.ARN, "--access-policy", "AmazonEKSClusterAdminPolicy", "--force"); err != nil {
		t.Fatalf("--force: %v %s", err, stderr)
	}
	resetIdentities(t)
}

func TestIntegrationGuardRefusesSwitchingToAPIWhenItLocksOut(t *testing.T) {
	stacktest.RequireIntegration(t)
	ops := authwebhook.NewPrincipal("ops", "arn:aws:iam::111122223333:user/ops")
	creator := authwebhook.NewPrincipal("creator", "arn:aws:iam::111122223333:user/creator")
	c, err := devstack.Start(context.Background(), devstack.Options{BinDir: stacktest.BinDir(), Dir: t.TempDir(), EKS: &devstack.EKSOptions{
		AuthMode: eksemu.ModeAPIAndConfigMap, Principals: []authwebhook.Principal{ops, creator}, CreatorARN: creator.ARN,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	admin, err := kubernetes.NewForConfig(c.RESTConfig(c.Admin))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().ConfigMaps("kube-system").Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "aws-auth", Namespace: "kube-system"},
		Data: map[string]string{"mapUsers": "- userarn: " + ops.ARN + "\n  username: ops\n  groups: [system:masters]\n"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env := stacktest.ClusterEnv(c, ops)
	_, stderr, err := iammapEnv(t, env, "auth-mode", "--set", "API", "--wait", "--poll-interval", "50ms")
	if err == nil || !strings.Contains(stderr, "you ("+ops.ARN+") would lose your access to the cluster (now through aws-auth mapUsers[0])") {
		t.Fatalf("switch to API as an aws-auth-only admin: %v %q", err, stderr)
	}
	if mode, _ := c.Emulator.AuthMode(c.ClusterName); mode != eksemu.ModeAPIAndConfigMap {
		t.Fatalf("refused switch changed the mode to %s", mode)
	}
	if _, stderr, err := iammapEnv(t, env, "auth-mode", "--set", "API", "--wait", "--poll-interval", "50ms", "--force"); err != nil {
		t.Fatalf("--force: %v %s", err, stderr)
	}
	if mode, _ := c.Emulator.AuthMode(c.ClusterName); mode != eksemu.ModeAPI {
		t.Errorf("mode after forced switch = %s", mode)
	}
}
