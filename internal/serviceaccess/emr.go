// Package serviceaccess grants AWS services the Kubernetes access they need,
// as `eksctl create iamidentitymapping --service-name` does: RBAC objects for
// the service's Kubernetes user, plus an aws-auth mapping of the service-linked
// role to that user. Each service is a [Service]; [Lookup] finds one by its
// --service-name. EMR on EKS (emr-containers) is eksctl's one service;
// AWS Batch on EKS (aws-batch) follows AWS's own instructions.
package serviceaccess

import (
	"context"

	"github.com/iammap/iammap/mapping"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rbacclient "k8s.io/client-go/kubernetes/typed/rbac/v1"
)

// EMRContainers is the only service name eksctl supports.
const EMRContainers = "emr-containers"

// emrServiceLinkedRole is the role EMR on EKS calls the cluster with.
const emrServiceLinkedRole = "AWSServiceRoleForAmazonEMRContainers"

// EMRMapping is the aws-auth entry for EMR on EKS's service-linked role in account.
func EMRMapping(partition, account string) (mapping.Mapping, error) {
	return serviceRoleMapping(partition, account, emrServiceLinkedRole, EMRContainers)
}

// The Role's rules are eksctl's (pkg/authconfigmap/assets/emr-containers-rbac.yaml),
// verb for verb and in its order, so `iammap create --service-name
// emr-containers` leaves the cluster as eksctl's line does (make parity
// compares them). "describe", "edit", "annotate" and "label" are no
// Kubernetes verbs; they are kept because eksctl and AWS's EMR guide grant
// them, and RBAC ignores them.
var (
	emrVerbs           = []string{"get", "list", "watch", "describe", "create", "edit", "delete", "annotate", "patch", "label"}
	emrVerbsCollection = []string{"get", "list", "watch", "describe", "create", "edit", "delete", "deletecollection", "annotate", "patch", "label"}
)

func emrRole(namespace string) *rbacv1.Role {
	return &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: EMRContainers, Namespace: namespace},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"serviceaccounts", "services", "configmaps", "events", "pods", "pods/log"}, Verbs: emrVerbsCollection},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "patch", "delete", "watch"}},
			{APIGroups: []string{"apps"}, Resources: []string{"statefulsets", "deployments"}, Verbs: emrVerbs},
			{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: emrVerbs},
			{APIGroups: []string{"extensions", "networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: emrVerbs},
			{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles", "rolebindings"}, Verbs: emrVerbsCollection},
			{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims"}, Verbs: []string{"create", "list", "delete", "deletecollection"}},
			{APIGroups: []string{"scheduling.volcano.sh"}, Resources: []string{"podgroups"}, Verbs: []string{"get", "list", "watch", "create", "delete", "update"}},
		},
	}
}

func emrRoleBinding(namespace string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: EMRContainers, Namespace: namespace},
		Subjects:   userSubject(EMRContainers),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: EMRContainers},
	}
}

// EnsureEMRRBAC creates or updates the Role and RoleBinding EMR on EKS needs
// in namespace. With dryRun the server validates and authorises the requests
// but stores nothing.
func EnsureEMRRBAC(ctx context.Context, rbac rbacclient.RbacV1Interface, namespace string, dryRun bool) ([]Action, error) {
	var actions []Action
	a, err := ensureRole(ctx, rbac, emrRole(namespace), dryRun)
	if err != nil {
		return actions, err
	}
	actions = append(actions, a)
	a, err = ensureRoleBinding(ctx, rbac, emrRoleBinding(namespace), dryRun)
	if err != nil {
		return actions, err
	}
	return append(actions, a), nil
}
