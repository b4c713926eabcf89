package mapping

import (
	"fmt"
	"path"
	"strings"
)

// Set is the content of aws-auth as the authenticator sees it, in file order.
type Set struct {
	Roles    []Mapping
	Users    []Mapping
	Accounts []string
}

// Ref points at one entry of a Set.
type Ref struct {
	Source Source
	Index  int // 0-based position within its key
}

func (r Ref) String() string { return fmt.Sprintf("%s[%d]", r.Source, r.Index) }

// State says whether an entry decides anything.
type State string

const (
	// Active: a matching caller gets this entry's username and groups.
	Active State = "active"
	// Shadowed: another entry for the same principal wins.
	Shadowed State = "shadowed"
	// NeverMatches: no caller can ever match the entry as written.
	NeverMatches State = "never-matches"
)

// Status is an entry's State and why.
type Status struct {
	State  State
	By     *Ref   // for Shadowed: the entry that wins
	Reason string // human explanation
}

func (s Status) String() string {
	switch s.State {
	case Shadowed:
		return "shadowed by " + s.By.String()
	case NeverMatches:
		return "never matches: " + s.Reason
	}
	return string(s.State)
}

// winners returns, per key, the index of the entry the authenticator keeps:
// it loads entries into a map in order, so the last one wins.
func winners(ms []Mapping) map[string]int {
	w := make(map[string]int, len(ms))
	for i, m := range ms {
		w[m.Key()] = i
	}
	return w
}

// Status computes the state of every entry in s.Roles and s.Users.
func (s Set) Status() (roles, users []Status) {
	roleWin, userWin := winners(s.Roles), winners(s.Users)
	roles = make([]Status, len(s.Roles))
	for i, m := range s.Roles {
		roles[i] = entryStatus(m, i, MapRoles, roleWin, nil)
	}
	users = make([]Status, len(s.Users))
	for i, m := range s.Users {
		users[i] = entryStatus(m, i, MapUsers, userWin, roleWin)
	}
	return roles, users
}

func entryStatus(m Mapping, i int, src Source, own, rolesFirst map[string]int) Status {
	if reason := neverMatches(m); reason != "" {
		return Status{State: NeverMatches, Reason: reason}
	}
	// The authenticator looks in mapRoles before mapUsers.
	if j, ok := rolesFirst[m.Key()]; ok {
		return Status{State: Shadowed, By: &Ref{Source: MapRoles, Index: j}, Reason: "mapRoles is consulted before mapUsers"}
	}
	if j := own[m.Key()]; j != i {
		return Status{State: Shadowed, By: &Ref{Source: src, Index: j}, Reason: "a later entry for the same principal wins"}
	}
	return Status{State: Active}
}

// neverMatches explains why no canonical caller ARN can equal the entry.
func neverMatches(m Mapping) string {
	if m.ARN == "" {
		if m.SSO != nil {
			return ""
		}
		return "no rolearn, userarn or sso"
	}
	if strings.ContainsAny(m.ARN, "*?") {
		return "" // a pattern; matched by wildcard
	}
	p, _, err := ParsePrincipal(m.ARN)
	if err != nil {
		return err.Error()
	}
	if p.Kind == KindRole && !strings.EqualFold(p.ARN, m.ARN) {
		return "callers are canonicalised to " + p.ARN + "; store that instead"
	}
	return ""
}

// Resolution is what a caller is mapped to.
type Resolution struct {
	// Ref is the matching entry; nil when the caller matched through mapAccounts.
	Ref      *Ref
	Account  string // set when matched through mapAccounts
	Username string
	Groups   []string
}

// Resolve maps a caller the way aws-iam-authenticator does. ok is false when
// the caller is not mapped (the API server answers 401).
func (s Set) Resolve(c Caller) (r Resolution, ok bool) {
	key := strings.ToLower(c.CanonicalARN)
	if i, found := findLast(s.Roles, key); found {
		return rendered(MapRoles, i, s.Roles[i], c), true
	}
	if i, found := findLast(s.Users, key); found {
		return rendered(MapUsers, i, s.Users[i], c), true
	}
	account := c.AccountID
	if account == "" {
		account = AccountOf(c.CanonicalARN)
	}
	for _, a := range s.Accounts {
		if a == account {
			return Resolution{Account: a, Username: c.CanonicalARN}, true
		}
	}
	return Resolution{}, false
}

func findLast(ms []Mapping, key string) (int, bool) {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Key() == key {
			return i, true
		}
	}
	// Patterns (SSO permission sets, wildcards) are only tried after exact keys.
	for i := len(ms) - 1; i >= 0; i-- {
		k := ms[i].Key()
		if strings.ContainsAny(k, "*?") {
			if ok, _ := path.Match(k, key); ok {
				return i, true
			}
		}
	}
	return 0, false
}

func rendered(src Source, i int, m Mapping, c Caller) Resolution {
	groups := make([]string, len(m.Groups))
	for j, g := range m.Groups {
		groups[j] = Render(g, c)
	}
	return Resolution{Ref: &Ref{Source: src, Index: i}, Username: Render(m.Username, c), Groups: groups}
}
