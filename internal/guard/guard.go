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
	"strings"

	"github.com/iammap/iammap/mapping"
)

// State is who can get into a cluster, as far as iammap can see.
type State = mapping.Access

// Violation is one thing a change would break.
type Violation struct{ What string }

func (v Violation) String() string { return v.What }

// admins lists the principals with cluster-admin rights.
func admins(s State) []string {
	var out []string
	ps := s.Principals()
	for i, id := range s.IdentifyPrincipals(ps) {
		if id.ClusterAdmin() {
			out = append(out, ps[i])
		}
	}
	return out
}

// nodeRoles lists the roles nodes authenticate with.
func nodeRoles(s State) []string {
	var out []string
	ps := s.Principals()
	for i, id := range s.IdentifyPrincipals(ps) {
		if id.Node() {
			out = append(out, ps[i])
		}
	}
	return out
}

// Check lists what going from before to after would break. caller is the
// ARN of whoever makes the change ("" when unknown).
func Check(before, after State, caller string) []Violation {
	var vs []Violation
	if caller != "" {
		idBefore, idAfter := before.IdentifyPrincipal(caller), after.IdentifyPrincipal(caller)
		viaBefore, viaAfter := idBefore.Via, idAfter.Via
		switch {
		case idBefore.Mapped && !idAfter.Mapped:
			vs = append(vs, Violation{fmt.Sprintf("you (%s) would lose your access to the cluster (now through %s)", caller, viaBefore)})
		case idBefore.ClusterAdmin() && !idAfter.ClusterAdmin():
			vs = append(vs, Violation{fmt.Sprintf("you (%s) would lose cluster-admin (now through %s; afterwards through %s)", caller, viaBefore, viaAfter)})
		}
	}
	if b, a := admins(before), admins(after); len(b) > 0 && len(a) == 0 {
		vs = append(vs, Violation{fmt.Sprintf("no principal would keep cluster-admin (system:masters or %s at cluster scope); today: %s", mapping.ClusterAdminPolicy, strings.Join(b, ", "))})
	}
	after2 := nodeRoles(after)
	for _, r := range nodeRoles(before) {
		if !slices.ContainsFunc(after2, func(a string) bool { return mapping.PrincipalKey(a) == mapping.PrincipalKey(r) }) {
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
