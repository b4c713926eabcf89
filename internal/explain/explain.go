// Package explain answers "what can this IAM identity do in this cluster,
// and why?" the way EKS and the API server decide it: which mapping matches
// (access entry first, else aws-auth, by the authentication mode), the
// username and groups after templating, then what system:masters, the
// associated access policies and the RBAC bindings of the username and
// groups allow.
//
// Who a caller becomes is decided by [mapping.Access.Identify], the one
// resolution that the lockout guard, audit, get and the dev stack's
// authenticating webhook use too.
package explain

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/internal/accesspolicy"
	"github.com/iammap/iammap/mapping"
	rbacv1 "k8s.io/api/rbac/v1"
)

// Cluster is what decides access: who a caller becomes (the access model,
// weighed by the authentication mode) and what RBAC lets them do.
type Cluster struct {
	mapping.Access
	RBAC RBAC
}

// Identity is what a caller is mapped to; see [mapping.Access.Identify].
type Identity = mapping.Identity

// RBAC is the cluster's roles and bindings.
type RBAC struct {
	ClusterRoles        []rbacv1.ClusterRole
	Roles               []rbacv1.Role
	ClusterRoleBindings []rbacv1.ClusterRoleBinding
	RoleBindings        []rbacv1.RoleBinding
}

// Grant is a set of rules someone holds, where, and through what.
type Grant struct {
	Rules     []rbacv1.PolicyRule
	Namespace string // "" for cluster-wide
	Via       string
}

func subjectMatches(s rbacv1.Subject, user string, groups []string) bool {
	switch s.Kind {
	case rbacv1.UserKind:
		return s.Name == user
	case rbacv1.GroupKind:
		return slices.Contains(groups, s.Name)
	}
	return false
}

// Grants lists the RBAC grants of a user with groups.
func (r RBAC) Grants(user string, groups []string) []Grant {
	clusterRole := func(name string) []rbacv1.PolicyRule {
		for _, cr := range r.ClusterRoles {
			if cr.Name == name {
				return cr.Rules
			}
		}
		return nil
	}
	var out []Grant
	for _, b := range r.ClusterRoleBindings {
		if slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool { return subjectMatches(s, user, groups) }) {
			out = append(out, Grant{Rules: clusterRole(b.RoleRef.Name), Via: "ClusterRoleBinding " + b.Name + " -> ClusterRole " + b.RoleRef.Name})
		}
	}
	for _, b := range r.RoleBindings {
		if !slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool { return subjectMatches(s, user, groups) }) {
			continue
		}
		var rules []rbacv1.PolicyRule
		if b.RoleRef.Kind == "ClusterRole" {
			rules = clusterRole(b.RoleRef.Name)
		} else {
			for _, role := range r.Roles {
				if role.Namespace == b.Namespace && role.Name == b.RoleRef.Name {
					rules = role.Rules
				}
			}
		}
		out = append(out, Grant{Rules: rules, Namespace: b.Namespace, Via: fmt.Sprintf("RoleBinding %s/%s -> %s %s", b.Namespace, b.Name, b.RoleRef.Kind, b.RoleRef.Name)})
	}
	return out
}

// Decision is a yes or no with its reason.
type Decision struct {
	Allowed bool   `json:"allowed"`
	Status  int    `json:"status"` // what the API server would answer: 200, 403 or 401
	Reason  string `json:"reason"`
	// Undefined is set when EKS picks the caller's identity at random among
	// aws-auth entries and the choices answer differently; Allowed is then
	// false and Status is the first choice's.
	Undefined bool `json:"undefined,omitempty"`
}

// Groups the API server gives every authenticated user on top of its own.
func effectiveGroups(id Identity) []string {
	return append(slices.Clone(id.Groups), "system:authenticated")
}

// Decide answers whether the identity may make the request. For an
// undefined identity it answers for every identity EKS may pick.
func (c Cluster) Decide(id Identity, req accesspolicy.Request) Decision {
	if !id.Undefined() {
		return c.decideOne(id, req)
	}
	var ds []Decision
	var reasons []string
	for _, o := range id.Outcomes() {
		d := c.decideOne(o, req)
		ds = append(ds, d)
		reasons = append(reasons, fmt.Sprintf("%d via %s (%s)", d.Status, o.Via, d.Reason))
	}
	for _, d := range ds[1:] {
		if d.Allowed != ds[0].Allowed || d.Status != ds[0].Status {
			return Decision{Status: ds[0].Status, Undefined: true, Reason: "undefined: EKS picks one of several aws-auth entries at random, and they answer differently: " + strings.Join(reasons, "; ")}
		}
	}
	d := ds[0]
	d.Reason += " (EKS picks one of several aws-auth entries at random; each gives this answer)"
	return d
}

func (c Cluster) decideOne(id Identity, req accesspolicy.Request) Decision {
	if id.Refused != "" {
		return Decision{Status: 401, Reason: id.Via + " (" + id.Refused + "): the API server answers 401 Unauthorized"}
	}
	if !id.Mapped {
		return Decision{Status: 401, Reason: "not mapped (" + id.Via + "): the API server answers 401 Unauthorized"}
	}
	groups := effectiveGroups(id)
	if slices.Contains(groups, "system:masters") {
		return Decision{Allowed: true, Status: 200, Reason: "group system:masters (" + id.Via + ")"}
	}
	if ok, why := PoliciesAllow(id.Policies, req); ok {
		return Decision{Allowed: true, Status: 200, Reason: why}
	}
	for _, g := range c.RBAC.Grants(id.Username, groups) {
		if g.Namespace != "" && (!req.ResourceRequest || g.Namespace != req.Namespace) {
			continue
		}
		if accesspolicy.Allowed(g.Rules, req) {
			return Decision{Allowed: true, Status: 200, Reason: g.Via}
		}
	}
	return Decision{Status: 403, Reason: fmt.Sprintf("no access policy and no RBAC binding of user %q or groups [%s] allows it", id.Username, strings.Join(groups, ","))}
}

// PoliciesAllow reports whether one of the associated access policies, at
// its scope, allows req, and which.
func PoliciesAllow(policies []accessentry.PolicySpec, req accesspolicy.Request) (bool, string) {
	for _, p := range policies {
		if accesspolicy.Allows(accessentry.PolicyName(p.ARN), p.Namespaces, req) {
			return true, fmt.Sprintf("access policy %s (%s)", accessentry.PolicyName(p.ARN), p.Scope())
		}
	}
	return false, ""
}

// Verbs in a summary, in kubectl's order.
var Verbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

// Row is one resource of a permission summary.
type Row struct {
	Resource string            `json:"resource"` // resource[.group]
	Allowed  map[string]string `json:"allowed"`  // verb -> why
}

// Resource is an API resource to summarise.
type Resource struct {
	Group, Resource string
	Namespaced      bool
}

// Name renders resource[.group].
func (r Resource) Name() string {
	if r.Group == "" {
		return r.Resource
	}
	return r.Resource + "." + r.Group
}

// Summarise lists, per resource, the verbs the identity may use in
// namespace ("" for cluster-wide requests), like kubectl rolesum.
func (c Cluster) Summarise(id Identity, namespace string, resources []Resource) []Row {
	var rows []Row
	for _, res := range resources {
		ns := namespace
		if !res.Namespaced {
			ns = ""
		}
		row := Row{Resource: res.Name(), Allowed: map[string]string{}}
		for _, v := range Verbs {
			d := c.Decide(id, accesspolicy.Request{ResourceRequest: true, Verb: v, APIGroup: res.Group, Resource: res.Resource, Namespace: ns})
			if d.Allowed {
				row.Allowed[v] = d.Reason
			}
		}
		rows = append(rows, row)
	}
	sort.SliceStable(rows, func(i, j int) bool { return len(rows[i].Allowed) > len(rows[j].Allowed) })
	return rows
}

// ParseResource reads "pods", "pods/log" or "deployments.apps".
func ParseResource(s string) (group, resource, subresource string) {
	resource, subresource, _ = strings.Cut(s, "/")
	if i := strings.Index(resource, "."); i >= 0 {
		resource, group = resource[:i], resource[i+1:]
	}
	return group, resource, subresource
}
