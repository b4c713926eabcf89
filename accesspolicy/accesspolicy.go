// Package accesspolicy knows what the EKS access policies allow in
// Kubernetes terms, and decides whether an associated policy, at its scope,
// allows a request. The rules are the EKS user guide's (rules.go).
package accesspolicy

import (
	"path"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Request is a Kubernetes request as a SubjectAccessReview describes it.
type Request struct {
	ResourceRequest bool
	// For resource requests.
	Verb, APIGroup, Resource, Subresource, Namespace, Name string
	// For non-resource requests.
	Path string
}

// Known reports whether iammap knows the Kubernetes rules of a policy name.
func Known(policyName string) bool {
	_, ok := rules[policyName]
	return ok
}

// Rules returns a policy's rules.
func Rules(policyName string) []rbacv1.PolicyRule { return rules[policyName] }

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
	for _, r := range rules[policyName] {
		if ruleAllows(r, req) {
			return true
		}
	}
	return false
}

func ruleAllows(r rbacv1.PolicyRule, req Request) bool {
	if !has(r.Verbs, req.Verb) {
		return false
	}
	if !req.ResourceRequest {
		for _, u := range r.NonResourceURLs {
			if u == "*" || u == req.Path || strings.HasSuffix(u, "*") && strings.HasPrefix(req.Path, strings.TrimSuffix(u, "*")) {
				return true
			}
		}
		return false
	}
	if len(r.NonResourceURLs) > 0 || !has(r.APIGroups, req.APIGroup) {
		return false
	}
	resource := req.Resource
	if req.Subresource != "" {
		resource += "/" + req.Subresource
	}
	for _, res := range r.Resources {
		if res == "*" || res == resource || req.Subresource != "" && res == "*/"+req.Subresource {
			return len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, req.Name)
		}
	}
	return false
}

func has(list []string, v string) bool {
	return slices.Contains(list, "*") || slices.Contains(list, v)
}
