package app

import (
	"context"
	"strings"
	"testing"

	"github.com/iammap/iammap/internal/devstack/stacktest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// eksctl's `create iamidentitymapping --cluster C --service-name
// emr-containers --namespace NS` takes the account from the cluster; so
// does iammap's, and the Role, RoleBinding and mapping land on the stack.
func TestIntegrationEKSEMRTakesTheAccountFromTheCluster(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	defer resetIdentities(t)
	cl := stacktest.Cluster(t)
	admin := stacktest.Clientset(t, cl.Admin)
	ctx := context.Background()
	// A namespace of its own, removed afterwards: other tests count on
	// spark not existing and on default having no EMR Role yet.
	const ns = "emr-from-cluster"
	_, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	ignoreExists(t, err)
	defer admin.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}) //nolint:errcheck // best effort

	out := mustIammap(t, env, "create", "iamidentitymapping", "-c", cl.ClusterName, "--service-name", "emr-containers", "--namespace", ns)
	if !strings.Contains(out, "account 111122223333") {
		t.Errorf("create does not say whose account it used:\n%s", out)
	}
	rows := getRows(t, env, "iamidentitymapping", "-c", cl.ClusterName)
	const role = "arn:aws:iam::111122223333:role/AWSServiceRoleForAmazonEMRContainers"
	if len(rows) != 1 || rows[0]["rolearn"] != role || rows[0]["username"] != "emr-containers" {
		t.Errorf("get iamidentitymapping -o json = %v, want the EMR service-linked role of the cluster's account", rows)
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Get(ctx, "emr-containers", metav1.GetOptions{}); err != nil {
		t.Errorf("RoleBinding %s/emr-containers: %v", ns, err)
	}
	// Without a cluster to take it from, the account is still required,
	// before anything is contacted.
	_, stderr, err := iammapEnv(t, stacktest.BaseEnv(), "create", "--service-name", "emr-containers", "--namespace", ns)
	if err == nil || !strings.Contains(stderr, "needs --account ID") {
		t.Errorf("without --cluster: %v, %q", err, stderr)
	}
}

// `create --service-name aws-batch` without a noun: routed to aws-auth
// (access entries have no form for it), the cluster's account, AWS's Batch
// RBAC in the namespace and the AWSServiceRoleForBatch mapping.
func TestIntegrationEKSBatchWithoutANounGoesToAWSAuth(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	defer resetIdentities(t)
	cl := stacktest.Cluster(t)
	admin := stacktest.Clientset(t, cl.Admin)
	ctx := context.Background()
	const ns = "batch-from-cluster"
	defer admin.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}) //nolint:errcheck // best effort

	out := mustIammap(t, env, "create", "-c", cl.ClusterName, "--service-name", "aws-batch", "--namespace", ns)
	for _, want := range []string{"goes to aws-auth: --service-name has no access-entry equivalent", "account 111122223333", "ClusterRole aws-batch-cluster-role", "RoleBinding " + ns + "/"} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}
	rows := getRows(t, env, "iamidentitymapping", "-c", cl.ClusterName)
	const role = "arn:aws:iam::111122223333:role/AWSServiceRoleForBatch"
	if len(rows) != 1 || rows[0]["rolearn"] != role || rows[0]["username"] != "aws-batch" {
		t.Errorf("get iamidentitymapping -o json = %v, want the Batch service-linked role mapped to aws-batch", rows)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Get(ctx, "aws-batch-cluster-role-binding", metav1.GetOptions{}); err != nil {
		t.Errorf("ClusterRoleBinding aws-batch-cluster-role-binding: %v", err)
	}
}
