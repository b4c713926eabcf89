package serviceaccess

import (
	"context"
	"slices"
	"testing"

	"github.com/iammap/iammap/internal/devstack/stacktest"
	authzv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestIntegrationBatchRBAC creates AWS Batch's objects on a real API server
// through its Service description, as create will: a dry run first (nothing
// stored), then for real, then again (nothing changes). It then asks the
// API server, with SubjectAccessReviews for the user aws-batch, whether the
// documented permissions are granted, and only those.
func TestIntegrationBatchRBAC(t *testing.T) {
	cl := stacktest.Cluster(t)
	admin := stacktest.Clientset(t, cl.Admin)
	ctx := context.Background()
	// A namespace of its own, which EnsureRBAC creates; the cluster-wide
	// objects are AWS Batch's and no other test uses them.
	const ns = "batch-jobs"
	t.Cleanup(func() {
		_ = admin.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		_ = admin.RbacV1().ClusterRoleBindings().Delete(ctx, batchClusterBinding, metav1.DeleteOptions{})
		_ = admin.RbacV1().ClusterRoles().Delete(ctx, batchClusterRole, metav1.DeleteOptions{})
	})
	svc, ok := Lookup("aws-batch")
	if !ok {
		t.Fatal(`Lookup("aws-batch") found nothing`)
	}

	actions, err := svc.EnsureRBAC(ctx, admin, ns, true)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if got := verbs(actions); len(got) != 5 || slices.ContainsFunc(got, func(s string) bool { return s[:8] != "created " }) {
		t.Errorf("dry run: %v, want five objects to create", got)
	}
	if _, err := admin.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("dry run stored the namespace: %v", err)
	}
	if _, err := admin.RbacV1().ClusterRoles().Get(ctx, batchClusterRole, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("dry run stored the ClusterRole: %v", err)
	}

	for i, want := range []string{"created", "unchanged"} {
		actions, err := svc.EnsureRBAC(ctx, admin, ns, false)
		if err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		if len(actions) != 5 {
			t.Fatalf("run %d: %v", i+1, verbs(actions))
		}
		for _, a := range actions {
			if a.Verb != want {
				t.Errorf("run %d: %s %s %s, want %s", i+1, a.Verb, a.Kind, a.Name, want)
			}
		}
	}
	// A dry run on an existing namespace goes through the server too.
	if actions, err := svc.EnsureRBAC(ctx, admin, ns, true); err != nil || slices.ContainsFunc(actions, func(a Action) bool { return a.Verb != "unchanged" }) {
		t.Errorf("dry run when in place: %v, %v", verbs(actions), err)
	}

	cases := []struct {
		verb, group, resource, namespace string
		allowed                          bool
	}{
		// ClusterRole aws-batch-cluster-role, anywhere.
		{"get", "", "namespaces", "", true},
		{"list", "", "nodes", "", true},
		{"watch", "", "nodes", "", true},
		{"get", "", "pods", "", true},
		{"watch", "", "pods", "kube-system", true},
		{"list", "", "events", "", true},
		{"watch", "", "configmaps", "", true},
		{"list", "apps", "daemonsets", "", true},
		{"get", "apps", "replicasets", "", true},
		{"list", "rbac.authorization.k8s.io", "clusterrolebindings", "", true},
		// Role aws-batch-compute-environment-role, in the namespace only.
		{"create", "", "pods", ns, true},
		{"patch", "", "pods", ns, true},
		{"delete", "", "pods", ns, true},
		{"list", "", "serviceaccounts", ns, true},
		{"get", "rbac.authorization.k8s.io", "rolebindings", ns, true},
		// Nothing more.
		{"create", "", "pods", "default", false},
		{"delete", "", "pods", "", false},
		{"delete", "", "nodes", "", false},
		{"patch", "", "nodes", "", false},
		{"list", "", "namespaces", "", false},
		{"get", "", "events", "", false},
		{"get", "", "secrets", ns, false},
		{"create", "", "serviceaccounts", ns, false},
		{"list", "", "serviceaccounts", "default", false},
		{"create", "apps", "deployments", ns, false},
		{"create", "rbac.authorization.k8s.io", "rolebindings", ns, false},
		{"watch", "rbac.authorization.k8s.io", "clusterroles", "", false},
	}
	for _, c := range cases {
		if got := allowed(t, admin, "aws-batch", c.verb, c.group, c.resource, c.namespace); got != c.allowed {
			t.Errorf("aws-batch %s %s.%s in %q: allowed=%v, want %v", c.verb, c.resource, c.group, c.namespace, got, c.allowed)
		}
	}
}

// allowed asks the API server's authorizer whether user may do verb on
// resource, as `kubectl auth can-i --as USER` does.
func allowed(t *testing.T, admin kubernetes.Interface, user, verb, group, resource, namespace string) bool {
	t.Helper()
	sar, err := admin.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User:               user,
		Groups:             []string{"system:authenticated"},
		ResourceAttributes: &authzv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource, Namespace: namespace},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SubjectAccessReview: %v", err)
	}
	return sar.Status.Allowed
}
