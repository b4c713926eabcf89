// Package guard keeps a write from locking people and nodes out of a
// cluster. Given who can get in before and after a change — aws-auth and
// access entries, weighed by the authentication mode as EKS weighs them — it
// lists what the change would break: the caller's own access or
// cluster-admin rights, the last cluster admin, or the mapping of a role
// that nodes use. Commands refuse such a change unless --force.
package guard

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/mapping"
)

// State is who can get into a cluster, as far as iammap can see.
type State struct {
	// Mode is the authentication mode; "" when only a kubeconfig is known
	// (aws-auth alone counts then).
	Mode    string
	AWSAuth mapping.Set
	Entries []accessentry.Entry
}

func (s State) usesAWSAuth() bool { return s.Mode != "API" }
func (s State) usesEntries() bool { return s.Mode == "API" || s.Mode == "API_AND_CONFIG_MAP" }

// Violation is one thing a change would break.
type Violation struct{ What string }

func (v Violation) String() string { return v.What }

const clusterAdminPolicy = "AmazonEKSClusterAdminPolicy"

// access says how a principal gets in: "" when it does not.
func (s State) access(principal string) (via string, admin bool) {
	k := mapping.PrincipalKey(principal)
	if s.usesEntries() {
		for _, e := range s.Entries {
			if mapping.PrincipalKey(e.PrincipalARN) == k {
				for _, p := range e.Policies {
					if accessentry.PolicyName(p.ARN) == clusterAdminPolicy && len(p.Namespaces) == 0 {
						admin = true
					}
				}
				return "access entry " + e.PrincipalARN, admin
			}
		}
	}
	if s.usesAWSAuth() {
		if r, ok := s.AWSAuth.Resolve(mapping.Caller{CanonicalARN: k}); ok {
			where := "mapAccounts"
			if r.Ref != nil {
				where = "aws-auth " + r.Ref.String()
			}
			return where, slices.Contains(r.Groups, "system:masters")
		}
	}
	return "", false
}

// admins lists the principals with cluster-admin rights.
func (s State) admins() []string {
	var out []string
	if s.usesEntries() {
		for _, e := range s.Entries {
			if _, admin := s.access(e.PrincipalARN); admin {
				out = append(out, mapping.PrincipalKey(e.PrincipalARN))
			}
		}
	}
	if s.usesAWSAuth() {
		roles, users := s.AWSAuth.Status()
		all := append(slices.Clone(s.AWSAuth.Roles), s.AWSAuth.Users...)
		states := append(roles, users...)
		for i, m := range all {
			if states[i].State == mapping.Active && m.ARN != "" && slices.Contains(m.Groups, "system:masters") {
				// An access entry may override it in API_AND_CONFIG_MAP mode.
				if _, admin := s.access(m.ARN); admin {
					out = append(out, mapping.PrincipalKey(m.ARN))
				}
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

var nodeTypes = []string{"EC2", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "HYBRID_LINUX", "HYPERPOD_LINUX"}

// nodeRoles lists the roles nodes authenticate with.
func (s State) nodeRoles() []string {
	var out []string
	if s.usesEntries() {
		for _, e := range s.Entries {
			if slices.Contains(nodeTypes, e.Type) {
				out = append(out, mapping.PrincipalKey(e.PrincipalARN))
			}
		}
	}
	if s.usesAWSAuth() {
		roles, _ := s.AWSAuth.Status()
		for i, m := range s.AWSAuth.Roles {
			if roles[i].State == mapping.Active && m.ARN != "" && slices.Contains(m.Groups, "system:nodes") {
				out = append(out, mapping.PrincipalKey(m.ARN))
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// Check lists what going from before to after would break. caller is the
// ARN of whoever makes the change ("" when unknown).
func Check(before, after State, caller string) []Violation {
	var vs []Violation
	if caller != "" {
		viaBefore, adminBefore := before.access(caller)
		viaAfter, adminAfter := after.access(caller)
		switch {
		case viaBefore != "" && viaAfter == "":
			vs = append(vs, Violation{fmt.Sprintf("you (%s) would lose your access to the cluster (now through %s)", caller, viaBefore)})
		case adminBefore && !adminAfter:
			vs = append(vs, Violation{fmt.Sprintf("you (%s) would lose cluster-admin (now through %s; afterwards through %s)", caller, viaBefore, viaAfter)})
		}
	}
	if b, a := before.admins(), after.admins(); len(b) > 0 && len(a) == 0 {
		vs = append(vs, Violation{fmt.Sprintf("no principal would keep cluster-admin (system:masters or %s at cluster scope); today: %s", clusterAdminPolicy, strings.Join(b, ", "))})
	}
	after2 := after.nodeRoles()
	for _, r := range before.nodeRoles() {
		if !slices.Contains(after2, r) {
			vs = append(vs, Violation{fmt.Sprintf("node role %s would lose its mapping: its nodes could no longer join or stay Ready", r)})
		}
	}
	return vs
}

// Error formats violations as one refusal.
func Error(vs []Violation) error {
	var parts []string
	for _, v := range vs {
		parts = append(parts, v.What)
	}
	return fmt.Errorf("%w: %s", ErrRefused, strings.Join(parts, "; "))
}

// ErrRefused is wrapped by refusals; --force overrides them.
var ErrRefused = fmt.Errorf("refusing a change that would lock out")
