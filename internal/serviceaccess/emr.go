// Package serviceaccess grants AWS services the Kubernetes access they need,
// as `eksctl create iamidentitymapping --service-name` does. Today that is
// EMR on EKS (emr-containers): a namespaced Role and RoleBinding for the user
// emr-containers, plus an aws-auth mapping for the service-linked role.
package serviceaccess

import (
	"context"
	"fmt"
	"reflect"

	"github.com/iammap/iammap/mapping"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rbacclient "k8s.io/client-go/kubernetes/typed/rbac/v1"
)

// EMRContainers is the only service name eksctl supports.
const EMRContainers = "emr-containers"

// emrServiceLinkedRole is the role EMR on EKS calls the cluster with.
const emrServiceLinkedRole = "AWSServiceRoleForAmazonEMRContainers"

// EMRMapping is the aws-auth entry for EMR on EKS's service-linked role in account.
func EMRMapping(partition, account string) (mapping.Mapping, error) {
	arn := fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, account, emrServiceLinkedRole)
	p, _, err := mapping.ParsePrincipal(arn)
	if err != nil {
		return mapping.Mapping{}, err
	}
	return mapping.ForPrincipal(p, EMRContainers, nil), nil
}

var emrVerbs = []string{"get", "list", "watch", "describe", "create", "edit", "delete", "annotate", "patch", "label"}

func emrRole(namespace string) *rbacv1.Role {
	withCollection := append(append([]string{}, emrVerbs...), "deletecollection")
	return &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: EMRContainers, Namespace: namespace},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"serviceaccounts", "services", "configmaps", "events", "pods", "pods/log"}, Verbs: withCollection},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "patch", "delete", "watch"}},
			{APIGroups: []string{"apps"}, Resources: []string{"statefulsets", "deployments"}, Verbs: emrVerbs},
			{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: emrVerbs},
			{APIGroups: []string{"extensions", "networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: emrVerbs},
			{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles", "rolebindings"}, Verbs: withCollection},
			{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims"}, Verbs: withCollection},
		},
	}
}

func emrRoleBinding(namespace string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: EMRContainers, Namespace: namespace},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: EMRContainers}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: EMRContainers},
	}
}

// Action says what EnsureEMRRBAC did (or would do) to one object.
type Action struct {
	Kind, Namespace, Name string
	Verb                  string // "created", "updated" or "unchanged"
}

// EnsureEMRRBAC creates or updates the Role and RoleBinding EMR on EKS needs
// in namespace. With dryRun the server validates and authorises the requests
// but stores nothing.
func EnsureEMRRBAC(ctx context.Context, rbac rbacclient.RbacV1Interface, namespace string, dryRun bool) ([]Action, error) {
	var dry []string
	if dryRun {
		dry = []string{metav1.DryRunAll}
	}
	var actions []Action
	role := emrRole(namespace)
	roles := rbac.Roles(namespace)
	existing, err := roles.Get(ctx, role.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := roles.Create(ctx, role, metav1.CreateOptions{DryRun: dry, FieldManager: "iammap"}); err != nil {
			return actions, fmt.Errorf("create Role %s/%s: %w", namespace, role.Name, err)
		}
		actions = append(actions, Action{"Role", namespace, role.Name, "created"})
	case err != nil:
		return actions, fmt.Errorf("read Role %s/%s: %w", namespace, role.Name, err)
	case reflect.DeepEqual(existing.Rules, role.Rules):
		actions = append(actions, Action{"Role", namespace, role.Name, "unchanged"})
	default:
		existing.Rules = role.Rules
		if _, err := roles.Update(ctx, existing, metav1.UpdateOptions{DryRun: dry, FieldManager: "iammap"}); err != nil {
			return actions, fmt.Errorf("update Role %s/%s: %w", namespace, role.Name, err)
		}
		actions = append(actions, Action{"Role", namespace, role.Name, "updated"})
	}

	binding := emrRoleBinding(namespace)
	bindings := rbac.RoleBindings(namespace)
	current, err := bindings.Get(ctx, binding.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := bindings.Create(ctx, binding, metav1.CreateOptions{DryRun: dry, FieldManager: "iammap"}); err != nil {
			return actions, fmt.Errorf("create RoleBinding %s/%s: %w", namespace, binding.Name, err)
		}
		actions = append(actions, Action{"RoleBinding", namespace, binding.Name, "created"})
	case err != nil:
		return actions, fmt.Errorf("read RoleBinding %s/%s: %w", namespace, binding.Name, err)
	case reflect.DeepEqual(current.Subjects, binding.Subjects) && current.RoleRef == binding.RoleRef:
		actions = append(actions, Action{"RoleBinding", namespace, binding.Name, "unchanged"})
	default:
		// roleRef is immutable: replace the binding.
		if err := bindings.Delete(ctx, binding.Name, metav1.DeleteOptions{DryRun: dry}); err != nil {
			return actions, fmt.Errorf("replace RoleBinding %s/%s: %w", namespace, binding.Name, err)
		}
		if _, err := bindings.Create(ctx, binding, metav1.CreateOptions{DryRun: dry, FieldManager: "iammap"}); err != nil {
			return actions, fmt.Errorf("replace RoleBinding %s/%s: %w", namespace, binding.Name, err)
		}
		actions = append(actions, Action{"RoleBinding", namespace, binding.Name, "updated"})
	}
	return actions, nil
}
