// Package accesspolicy knows what the EKS access policies allow in
// Kubernetes terms, and decides whether an associated policy, at its scope,
// allows a request. The rules are the EKS user guide's (rules.go).
package accesspolicy

import (
	"path"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/component-helpers/auth/rbac/validation"
)

// Request is a Kubernetes request as a SubjectAccessReview describes it.
type Request struct {
	ResourceRequest bool
	// For resource requests.
	Verb, APIGroup, Resource, Subresource, Namespace, Name string
	// For non-resource requests.
	Path string
}

// Allows reports whether policyName, associated with the given namespaces
// (none: cluster scope), allows req. Namespace patterns may use wildcards
// (dev-*) as EKS accepts. A namespace-scoped association allows nothing
// outside its namespaces, cluster-scoped resources and non-resource URLs
// included.
func Allows(policyName string, namespaces []string, req Request) bool {
	if len(namespaces) > 0 {
		if !req.ResourceRequest || req.Namespace == "" || !slices.ContainsFunc(namespaces, func(p string) bool {
			ok, _ := path.Match(p, req.Namespace)
			return ok
		}) {
			return false
		}
	}
	return Allowed(rules[policyName], req)
}

// Allowed reports whether rules allow req, with Kubernetes RBAC's own rule
// matching (wildcards, subresources, resource names, non-resource URLs).
func Allowed(rules []rbacv1.PolicyRule, req Request) bool {
	var want rbacv1.PolicyRule
	if req.ResourceRequest {
		resource := req.Resource
		if req.Subresource != "" {
			resource += "/" + req.Subresource
		}
		want = rbacv1.PolicyRule{Verbs: []string{req.Verb}, APIGroups: []string{req.APIGroup}, Resources: []string{resource}}
		if req.Name != "" {
			want.ResourceNames = []string{req.Name}
		}
	} else {
		want = rbacv1.PolicyRule{Verbs: []string{req.Verb}, NonResourceURLs: []string{req.Path}}
	}
	ok, _ := validation.Covers(rules, []rbacv1.PolicyRule{want})
	return ok
}
