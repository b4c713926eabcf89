package explain

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ReadError is a refused or failed read of the cluster's RBAC, naming the
// request that failed: a forbidden list of clusterroles needs another
// grant than a forbidden read of aws-auth, and the user must be told which.
type ReadError struct {
	Verb, Group, Resource string
	// AllNamespaces: the list was across namespaces, else cluster-scoped.
	AllNamespaces bool
	Err           error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("read RBAC: %s %s.%s: %v", e.Verb, e.Resource, e.Group, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// Hint is the next step when the API server forbade the read, else "".
func (e *ReadError) Hint() string {
	if !apierrors.IsForbidden(e.Err) {
		return ""
	}
	scope := "at the cluster scope"
	if e.AllNamespaces {
		scope = "in all namespaces"
	}
	return fmt.Sprintf("explain reads RBAC to answer, and your Kubernetes user may not %s %s.%s %s; "+
		"ask a cluster admin for list on clusterroles, clusterrolebindings, roles and rolebindings (%s, all namespaces), or use a context with more rights (--context)",
		e.Verb, e.Resource, e.Group, scope, e.Group)
}

// ReadRBAC lists the roles and bindings that decide what a user may do.
func ReadRBAC(ctx context.Context, cs kubernetes.Interface) (RBAC, error) {
	const group = "rbac.authorization.k8s.io"
	fail := func(resource string, allNamespaces bool, err error) (RBAC, error) {
		return RBAC{}, &ReadError{Verb: "list", Group: group, Resource: resource, AllNamespaces: allNamespaces, Err: err}
	}
	opts := metav1.ListOptions{}
	crs, err := cs.RbacV1().ClusterRoles().List(ctx, opts)
	if err != nil {
		return fail("clusterroles", false, err)
	}
	roles, err := cs.RbacV1().Roles(metav1.NamespaceAll).List(ctx, opts)
	if err != nil {
		return fail("roles", true, err)
	}
	crbs, err := cs.RbacV1().ClusterRoleBindings().List(ctx, opts)
	if err != nil {
		return fail("clusterrolebindings", false, err)
	}
	rbs, err := cs.RbacV1().RoleBindings(metav1.NamespaceAll).List(ctx, opts)
	if err != nil {
		return fail("rolebindings", true, err)
	}
	return RBAC{ClusterRoles: crs.Items, Roles: roles.Items, ClusterRoleBindings: crbs.Items, RoleBindings: rbs.Items}, nil
}
