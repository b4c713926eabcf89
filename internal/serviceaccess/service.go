package serviceaccess

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/iammap/iammap/mapping"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	rbacclient "k8s.io/client-go/kubernetes/typed/rbac/v1"
)

// Service is what `create --service-name NAME --namespace NS` needs to know
// about one AWS service: the aws-auth mapping of its service-linked role and
// the Kubernetes objects that give the mapped user its permissions.
type Service struct {
	// Name is the --service-name value.
	Name string
	// Username is the Kubernetes user the service-linked role maps to; the
	// RBAC objects name it as their subject.
	Username string
	// Mapping is the aws-auth entry for the service-linked role in account.
	Mapping func(partition, account string) (mapping.Mapping, error)
	// EnsureRBAC creates or updates the service's objects for namespace and
	// says what it did to each. With dryRun the server validates and
	// authorises the requests but stores nothing.
	EnsureRBAC func(ctx context.Context, cs kubernetes.Interface, namespace string, dryRun bool) ([]Action, error)
}

// services is every supported --service-name, in the order Names lists them.
var services = []Service{
	{Name: EMRContainers, Username: EMRContainers, Mapping: EMRMapping,
		EnsureRBAC: func(ctx context.Context, cs kubernetes.Interface, namespace string, dryRun bool) ([]Action, error) {
			return EnsureEMRRBAC(ctx, cs.RbacV1(), namespace, dryRun)
		}},
	{Name: AWSBatch, Username: batchUsername, Mapping: BatchMapping, EnsureRBAC: EnsureBatchRBAC},
}

// Lookup returns the service called name (a --service-name value, exact).
func Lookup(name string) (Service, bool) {
	i := slices.IndexFunc(services, func(s Service) bool { return s.Name == name })
	if i < 0 {
		return Service{}, false
	}
	return services[i], true
}

// Names lists the supported --service-name values, for usage text and for
// the error that names the choices.
func Names() []string {
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = s.Name
	}
	return names
}

// serviceRoleMapping maps the service-linked role roleName of account to
// username, without groups: the services' RBAC objects bind the user.
// The ARN has no path (aws-service-role/...): aws-auth matches role ARNs
// without one, as AWS's own instructions for these services write it.
func serviceRoleMapping(partition, account, roleName, username string) (mapping.Mapping, error) {
	arn := fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, account, roleName)
	p, _, err := mapping.ParsePrincipal(arn)
	if err != nil {
		return mapping.Mapping{}, fmt.Errorf("service-linked role %s of account %q: %w", roleName, account, err)
	}
	return mapping.ForPrincipal(p, username, nil), nil
}

// Action says what EnsureRBAC did (or would do) to one object. Namespace
// is empty for cluster-scoped objects.
type Action struct {
	Kind, Namespace, Name string
	Verb                  string // "created", "updated" or "unchanged"
}

const fieldManager = "iammap"

func dryRunOpt(dryRun bool) []string {
	if dryRun {
		return []string{metav1.DryRunAll}
	}
	return nil
}

func where(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// ensureNamespace creates namespace, with the labels AWS's instructions
// give it, unless it exists; an existing one is left as it is. It reports
// whether the namespace exists now (false only on a dry run that would
// create it).
func ensureNamespace(ctx context.Context, cs kubernetes.Interface, ns *corev1.Namespace, dryRun bool) (Action, bool, error) {
	_, err := cs.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
	switch {
	case err == nil:
		return Action{"Namespace", "", ns.Name, "unchanged"}, true, nil
	case !apierrors.IsNotFound(err):
		return Action{}, false, fmt.Errorf("read Namespace %s: %w", ns.Name, err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{DryRun: dryRunOpt(dryRun), FieldManager: fieldManager}); err != nil {
		return Action{}, false, fmt.Errorf("create Namespace %s: %w", ns.Name, err)
	}
	return Action{"Namespace", "", ns.Name, "created"}, !dryRun, nil
}

// rulesClient is what ensureRules needs of a Roles or ClusterRoles client.
type rulesClient[T any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// ensureRules creates obj, or updates the rules of the existing object
// when they differ; rules returns a pointer to an object's rules. Other
// fields of an existing object (labels, annotations) are kept.
func ensureRules[T any](ctx context.Context, c rulesClient[T], kind, namespace, name string, obj T, rules func(T) *[]rbacv1.PolicyRule, dryRun bool) (Action, error) {
	existing, err := c.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := c.Create(ctx, obj, metav1.CreateOptions{DryRun: dryRunOpt(dryRun), FieldManager: fieldManager}); err != nil {
			return Action{}, fmt.Errorf("create %s %s: %w", kind, where(namespace, name), err)
		}
		return Action{kind, namespace, name, "created"}, nil
	case err != nil:
		return Action{}, fmt.Errorf("read %s %s: %w", kind, where(namespace, name), err)
	case reflect.DeepEqual(*rules(existing), *rules(obj)):
		return Action{kind, namespace, name, "unchanged"}, nil
	}
	*rules(existing) = *rules(obj)
	if _, err := c.Update(ctx, existing, metav1.UpdateOptions{DryRun: dryRunOpt(dryRun), FieldManager: fieldManager}); err != nil {
		return Action{}, fmt.Errorf("update %s %s: %w", kind, where(namespace, name), err)
	}
	return Action{kind, namespace, name, "updated"}, nil
}

// bindingClient is what ensureBinding needs of a RoleBindings or
// ClusterRoleBindings client.
type bindingClient[T any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// ensureBinding creates obj, or replaces the existing binding when its
// subjects or roleRef differ: roleRef is immutable, so an update cannot
// change it.
func ensureBinding[T any](ctx context.Context, c bindingClient[T], kind, namespace, name string, obj T, parts func(T) ([]rbacv1.Subject, rbacv1.RoleRef), dryRun bool) (Action, error) {
	current, err := c.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := c.Create(ctx, obj, metav1.CreateOptions{DryRun: dryRunOpt(dryRun), FieldManager: fieldManager}); err != nil {
			return Action{}, fmt.Errorf("create %s %s: %w", kind, where(namespace, name), err)
		}
		return Action{kind, namespace, name, "created"}, nil
	case err != nil:
		return Action{}, fmt.Errorf("read %s %s: %w", kind, where(namespace, name), err)
	}
	gotSubjects, gotRef := parts(current)
	wantSubjects, wantRef := parts(obj)
	if reflect.DeepEqual(gotSubjects, wantSubjects) && gotRef == wantRef {
		return Action{kind, namespace, name, "unchanged"}, nil
	}
	if err := c.Delete(ctx, name, metav1.DeleteOptions{DryRun: dryRunOpt(dryRun)}); err != nil {
		return Action{}, fmt.Errorf("replace %s %s: %w", kind, where(namespace, name), err)
	}
	if _, err := c.Create(ctx, obj, metav1.CreateOptions{DryRun: dryRunOpt(dryRun), FieldManager: fieldManager}); err != nil {
		return Action{}, fmt.Errorf("replace %s %s: %w", kind, where(namespace, name), err)
	}
	return Action{kind, namespace, name, "updated"}, nil
}

func ensureRole(ctx context.Context, rbac rbacclient.RbacV1Interface, role *rbacv1.Role, dryRun bool) (Action, error) {
	return ensureRules(ctx, rbac.Roles(role.Namespace), "Role", role.Namespace, role.Name, role,
		func(r *rbacv1.Role) *[]rbacv1.PolicyRule { return &r.Rules }, dryRun)
}

func ensureClusterRole(ctx context.Context, rbac rbacclient.RbacV1Interface, role *rbacv1.ClusterRole, dryRun bool) (Action, error) {
	return ensureRules(ctx, rbac.ClusterRoles(), "ClusterRole", "", role.Name, role,
		func(r *rbacv1.ClusterRole) *[]rbacv1.PolicyRule { return &r.Rules }, dryRun)
}

func ensureRoleBinding(ctx context.Context, rbac rbacclient.RbacV1Interface, b *rbacv1.RoleBinding, dryRun bool) (Action, error) {
	return ensureBinding(ctx, rbac.RoleBindings(b.Namespace), "RoleBinding", b.Namespace, b.Name, b,
		func(b *rbacv1.RoleBinding) ([]rbacv1.Subject, rbacv1.RoleRef) { return b.Subjects, b.RoleRef }, dryRun)
}

func ensureClusterRoleBinding(ctx context.Context, rbac rbacclient.RbacV1Interface, b *rbacv1.ClusterRoleBinding, dryRun bool) (Action, error) {
	return ensureBinding(ctx, rbac.ClusterRoleBindings(), "ClusterRoleBinding", "", b.Name, b,
		func(b *rbacv1.ClusterRoleBinding) ([]rbacv1.Subject, rbacv1.RoleRef) { return b.Subjects, b.RoleRef }, dryRun)
}

// userSubject is the one subject of every binding here: the Kubernetes
// user the service-linked role maps to.
func userSubject(name string) []rbacv1.Subject {
	return []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}}
}
