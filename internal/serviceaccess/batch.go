package serviceaccess

import (
	"context"

	"github.com/iammap/iammap/mapping"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// AWS Batch on EKS, as AWS's "Getting started with AWS Batch on Amazon EKS",
// Step 2: Prepare your EKS cluster for AWS Batch, sets it up:
// https://docs.aws.amazon.com/batch/latest/userguide/getting-started-eks.html#getting-started-eks-step-1
// (the same rules are listed at
// https://docs.aws.amazon.com/batch/latest/userguide/batch_eks_rbac.html).
// Names, rules and the user are AWS's, word for word, so what iammap creates
// is what AWS's troubleshooting page tells you to check.
const (
	// AWSBatch is the --service-name of AWS Batch on EKS.
	AWSBatch = "aws-batch"
	// batchUsername is the Kubernetes user AWSServiceRoleForBatch maps to.
	batchUsername          = "aws-batch"
	batchServiceLinkedRole = "AWSServiceRoleForBatch"
	batchClusterRole       = "aws-batch-cluster-role"
	batchClusterBinding    = "aws-batch-cluster-role-binding"
	batchRole              = "aws-batch-compute-environment-role"
	batchRoleBinding       = "aws-batch-compute-environment-role-binding"
)

// BatchMapping is the aws-auth entry for AWS Batch's service-linked role in
// account: `eksctl create iamidentitymapping --arn
// arn:aws:iam::ACCOUNT:role/AWSServiceRoleForBatch --username aws-batch`.
func BatchMapping(partition, account string) (mapping.Mapping, error) {
	return serviceRoleMapping(partition, account, batchServiceLinkedRole, batchUsername)
}

var (
	readOnly = []string{"get", "list", "watch"}
	getList  = []string{"get", "list"}
)

// batchClusterRoleObject lets AWS Batch watch nodes and pods across the
// cluster; it is the same for every namespace, once per cluster.
func batchClusterRoleObject() *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: batchClusterRole},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: readOnly},
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: readOnly},
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"list"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: readOnly},
			{APIGroups: []string{"apps"}, Resources: []string{"daemonsets", "deployments", "statefulsets", "replicasets"}, Verbs: readOnly},
			{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles", "clusterrolebindings"}, Verbs: getList},
		},
	}
}

func batchClusterRoleBindingObject() *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: batchClusterBinding},
		Subjects:   userSubject(batchUsername),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: batchClusterRole},
	}
}

// batchRoleObject lets AWS Batch run its jobs' pods in namespace.
func batchRoleObject(namespace string) *rbacv1.Role {
	return &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: batchRole, Namespace: namespace},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create", "get", "list", "watch", "delete", "patch"}},
			{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: getList},
			{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles", "rolebindings"}, Verbs: getList},
		},
	}
}

func batchRoleBindingObject(namespace string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: batchRoleBinding, Namespace: namespace},
		Subjects:   userSubject(batchUsername),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: batchRole},
	}
}

// batchNamespace is the namespace as AWS's instructions create it, with a
// name label (for NetworkPolicies that select namespaces by label).
func batchNamespace(namespace string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{"name": namespace}}}
}

// EnsureBatchRBAC prepares the cluster for an AWS Batch compute environment
// whose jobs run in namespace: it creates the namespace if it is missing
// (AWS Batch needs one; an existing namespace is not changed), the
// cluster-wide ClusterRole and ClusterRoleBinding, and the namespace's Role
// and RoleBinding, all for the user aws-batch. Objects that exist are
// updated to AWS's rules, or left alone when they match. With dryRun the
// server validates and authorises every request but stores nothing.
func EnsureBatchRBAC(ctx context.Context, cs kubernetes.Interface, namespace string, dryRun bool) ([]Action, error) {
	var actions []Action
	a, exists, err := ensureNamespace(ctx, cs, batchNamespace(namespace), dryRun)
	if err != nil {
		return actions, err
	}
	actions = append(actions, a)
	rbac := cs.RbacV1()
	if a, err = ensureClusterRole(ctx, rbac, batchClusterRoleObject(), dryRun); err != nil {
		return actions, err
	}
	actions = append(actions, a)
	if a, err = ensureClusterRoleBinding(ctx, rbac, batchClusterRoleBindingObject(), dryRun); err != nil {
		return actions, err
	}
	actions = append(actions, a)
	if !exists {
		// A dry run that would create the namespace cannot send the
		// namespaced requests: the API server refuses objects in a
		// namespace that does not exist, even on a dry run. Both would be
		// created.
		return append(actions,
			Action{"Role", namespace, batchRole, "created"},
			Action{"RoleBinding", namespace, batchRoleBinding, "created"}), nil
	}
	if a, err = ensureRole(ctx, rbac, batchRoleObject(namespace), dryRun); err != nil {
		return actions, err
	}
	actions = append(actions, a)
	if a, err = ensureRoleBinding(ctx, rbac, batchRoleBindingObject(namespace), dryRun); err != nil {
		return actions, err
	}
	return append(actions, a), nil
}
