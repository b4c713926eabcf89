package mapping

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Set is the content of aws-auth as the authenticator sees it, in file order.
// It holds every entry the file has, including those the authenticator drops
// when it validates them ([Mapping.Validate]), so that positions match the
// file; resolution skips the dropped ones.
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
	// Dropped: the authenticator rejects the entry when it loads aws-auth
	// (it fails the authenticator's validation), so it does not exist on EKS.
	Dropped State = "dropped"
	// Undefined: other entries match the same callers with a different
	// result, and EKS picks one of them at random (the authenticator keeps
	// them in a Go map and returns the first match it iterates to).
	Undefined State = "undefined"
	// Refuses: every caller the entry matches is rejected, because a
	// template cannot be rendered for it ({{EC2PrivateDNSName}} for a caller
	// that has no EC2 instance session).
	Refuses State = "refuses"
)

// Status is an entry's State and why.
type Status struct {
	State State
	By    *Ref // Shadowed: the entry that wins; Undefined: another candidate
	// Others lists, for Undefined, every other entry EKS may pick instead.
	Others []Ref
	Reason string // human explanation
}

func (s Status) String() string {
	switch s.State {
	case Shadowed:
		return "shadowed by " + s.By.String()
	case NeverMatches:
		return "never matches: " + s.Reason
	case Dropped:
		return "dropped by EKS: " + s.Reason
	case Undefined:
		others := make([]string, len(s.Others))
		for i, r := range s.Others {
			others[i] = r.String()
		}
		return "undefined: EKS may use this or " + strings.Join(others, " or ")
	case Refuses:
		return "EKS refuses its callers: " + s.Reason
	}
	return string(s.State)
}

// The authenticator's validation (pkg/config RoleMapping.Validate and
// UserMapping.Validate, v0.7.18).
var (
	ssoAccountRe       = regexp.MustCompile(`^[0-9]{12}$`)
	permissionSetRe    = regexp.MustCompile(`^[\w+=,.@-]{1,32}$`)
	instanceIDRe       = regexp.MustCompile(`^i-(\w{8}|\w{17})$`)
	authenticatorParts = []string{"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"}
)

// Validate applies the authenticator's check of one entry; an entry that
// fails it is dropped when EKS loads aws-auth, and the others stay.
func (m Mapping) Validate() error {
	if m.Source == MapUsers {
		if m.ARN == "" {
			return fmt.Errorf("userarn is missing or empty")
		}
		return nil
	}
	switch {
	case m.ARN == "" && m.SSO == nil:
		return fmt.Errorf("neither rolearn nor sso is set")
	case m.ARN != "" && m.SSO != nil:
		return fmt.Errorf("both rolearn and sso are set; EKS takes only one")
	case m.SSO == nil:
		return nil
	}
	if !ssoAccountRe.MatchString(m.SSO.AccountID) {
		return fmt.Errorf("sso accountID %q is not a 12-digit account id", m.SSO.AccountID)
	}
	if !permissionSetRe.MatchString(m.SSO.PermissionSetName) {
		return fmt.Errorf("sso permissionSetName %q is not a valid permission set name", m.SSO.PermissionSetName)
	}
	if m.SSO.Partition != "" && !slices.Contains(authenticatorParts, m.SSO.Partition) {
		return fmt.Errorf("sso partition %q is not a partition the authenticator knows", m.SSO.Partition)
	}
	return nil
}

// storeKey is the key the authenticator files a valid entry under: the
// lower-cased role ARN or SSO pattern for mapRoles, the user ARN exactly as
// written for mapUsers. A later entry with the same key replaces an earlier
// one; entries with different keys all stay, even when they match the same
// caller.
func (m Mapping) storeKey() string {
	if m.Source == MapUsers {
		return m.ARN
	}
	if m.ARN == "" && m.SSO != nil {
		// The authenticator's SSOArnLike drops an explicit partition (it
		// sets one only when none is given), so that is the key it files.
		sso := *m.SSO
		if sso.Partition != "" {
			return strings.ToLower(fmt.Sprintf("arn::iam::%s:role/AWSReservedSSO_%s_*", sso.AccountID, sso.PermissionSetName))
		}
		return sso.ARNLike()
	}
	return strings.ToLower(m.ARN)
}

// foldKey gives strings that strings.EqualFold calls equal the same key: each
// rune is replaced by the smallest rune of its simple case-folding orbit. The
// authenticator compares a caller with an entry by strings.EqualFold, which
// also folds non-ASCII runes such as the Kelvin sign (K) and long s (ſ).
func foldKey(s string) string {
	ascii := true
	for i := 0; i < len(s) && ascii; i++ {
		ascii = s[i] < utf8.RuneSelf
	}
	if ascii {
		// The least rune of an ASCII letter's orbit is its upper case
		// (k's orbit also holds the Kelvin sign, s's the long s; both are
		// larger), and other ASCII runes fold to nothing else.
		return strings.ToUpper(s)
	}
	var b strings.Builder
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < least {
				least = f
			}
		}
		b.WriteRune(least)
	}
	return b.String()
}

// matchKey is what decides whether the entry matches a caller: the folded
// ARN. SSO entries match nothing on EKS (see [Mapping.SSOMatchesOnEKS]).
func (m Mapping) matchKey() string {
	if m.ARN == "" {
		return ""
	}
	return foldKey(m.ARN)
}

// SSOMatchesOnEKS is false: aws-iam-authenticator matches sso: entries only
// behind its SSORoleMatch feature gate, which is alpha and off by default,
// and EKS offers no way to turn it on (aws/containers-roadmap#474).
const SSOMatchesOnEKS = false

// stored returns the indices of the entries the authenticator keeps (the
// valid ones, the last of each store key), in file order, and for each
// store key the index of the entry kept under it.
func stored(ms []Mapping) (kept []int, winner map[string]int) {
	winner = map[string]int{}
	valid := make([]bool, len(ms))
	for i, m := range ms {
		if valid[i] = m.Validate() == nil; valid[i] {
			winner[m.storeKey()] = i
		}
	}
	for i, m := range ms {
		if valid[i] && winner[m.storeKey()] == i {
			kept = append(kept, i)
		}
	}
	return kept, winner
}

// sameResult reports whether two entries give every caller the same
// username and groups.
func sameResult(a, b Mapping) bool {
	return a.Username == b.Username && slices.Equal(a.Groups, b.Groups)
}

// Status computes the state of every entry in s.Roles and s.Users.
func (s Set) Status() (roles, users []Status) {
	roles = make([]Status, len(s.Roles))
	users = make([]Status, len(s.Users))
	// The entries a caller (folded ARN) can reach, as resolution files them.
	r := s.resolver()
	fill := func(out []Status, ms []Mapping, src Source, byMatch map[string][]int, winner map[string]int, before map[string][]int) {
		for i, m := range ms {
			if err := m.Validate(); err != nil {
				out[i] = Status{State: Dropped, Reason: err.Error()}
				continue
			}
			if w := winner[m.storeKey()]; w != i {
				out[i] = Status{State: Shadowed, By: &Ref{Source: src, Index: w}, Reason: "a later entry for the same principal replaces it"}
				continue
			}
			if reason := neverMatches(m); reason != "" {
				out[i] = Status{State: NeverMatches, Reason: reason}
				continue
			}
			if reason := refusesAll(m); reason != "" {
				out[i] = Status{State: Refuses, Reason: reason}
				continue
			}
			k := m.matchKey()
			if js := before[k]; len(js) > 0 {
				out[i] = Status{State: Shadowed, By: &Ref{Source: MapRoles, Index: js[0]}, Reason: "mapRoles is consulted before mapUsers"}
				continue
			}
			var others []Ref
			sameAsEarlier := -1
			for _, j := range byMatch[k] {
				if j == i {
					continue
				}
				if !sameResult(m, ms[j]) {
					others = append(others, Ref{Source: src, Index: j})
				} else if j < i && sameAsEarlier < 0 {
					sameAsEarlier = j
				}
			}
			switch {
			case len(others) > 0:
				out[i] = Status{State: Undefined, By: &others[0], Others: others, Reason: "entries for the same caller differ, and EKS picks one at random"}
			case sameAsEarlier >= 0:
				out[i] = Status{State: Shadowed, By: &Ref{Source: src, Index: sameAsEarlier}, Reason: "an entry for the same caller gives the same result"}
			default:
				out[i] = Status{State: Active}
			}
		}
	}
	fill(roles, s.Roles, MapRoles, r.roles, r.roleWinner, nil)
	fill(users, s.Users, MapUsers, r.users, r.userWinner, r.roles)
	return roles, users
}

// Check reports, for an entry about to be written, why EKS would not use
// it for anyone: the authenticator drops it, no caller can match it, or it
// refuses every caller it matches. nil means it can take effect.
//
// It also refuses a username or group with a control or bidi character
// ([CheckPrintable]): EKS would take it, but it is never meant, and it
// hides or forges rows wherever the mapping is printed.
func (m Mapping) Check() error {
	if err := CheckPrintable("username", m.Username); err != nil {
		return err
	}
	for _, g := range m.Groups {
		if err := CheckPrintable("group", g); err != nil {
			return err
		}
	}
	set := Set{Roles: []Mapping{m}}
	if m.Source == MapUsers {
		set = Set{Users: []Mapping{m}}
	}
	roles, users := set.Status()
	st := append(roles, users...)[0]
	switch st.State {
	case Dropped, NeverMatches, Refuses:
		return fmt.Errorf("EKS would not use this entry: %s", st)
	}
	return nil
}

// neverMatches explains why no caller EKS can authenticate has a canonical
// ARN equal to the entry's (strings.EqualFold, as the authenticator compares).
func neverMatches(m Mapping) string {
	if m.ARN == "" {
		if m.SSO != nil && !SSOMatchesOnEKS {
			return "sso entries match only behind aws-iam-authenticator's SSORoleMatch feature gate, which EKS leaves off (aws/containers-roadmap#474); map arn:PARTITION:iam::ACCOUNT:role/AWSReservedSSO_SET_SUFFIX without its path instead"
		}
		return ""
	}
	if strings.ContainsAny(m.ARN, "*?") {
		return "EKS compares ARNs as text; * and ? are not wildcards"
	}
	// Callers' canonical ARNs are ASCII; fold the entry onto ASCII where
	// EqualFold would, then read it as the lower-case ARN it must equal.
	folded := strings.ToLower(foldKey(m.ARN))
	p, _, err := ParsePrincipal(folded)
	if err != nil {
		return err.Error()
	}
	if !slices.Contains(authenticatorParts, p.Partition) {
		return "partition " + p.Partition + " is not one the authenticator accepts callers from"
	}
	if !strings.EqualFold(p.ARN, m.ARN) {
		return "callers are canonicalised to " + p.ARN + "; store that instead"
	}
	return ""
}

// refusesAll explains why every caller the entry matches is refused, by
// rendering it for any session of the principal it names.
func refusesAll(m Mapping) string {
	c := Caller{CanonicalARN: strings.ToLower(foldKey(m.ARN)), AnySession: true}
	return rendered(m.Source, 0, m, c).Refused
}

// AccountStatus says whether a mapAccounts value can ever match a caller.
// The authenticator compares it as text with the caller's 12-digit account
// id, so anything else never matches.
func AccountStatus(value string) Status {
	if ValidAccountID(value) {
		return Status{State: Active}
	}
	reason := fmt.Sprintf("%q is not a 12-digit account id, and EKS compares the text exactly", value)
	if looksLikeFloat(value) {
		reason += "; it looks like an account id rewritten as a number (eksctl reads an unquoted id as a float and writes it back like this): write the 12 digits in quotes"
	}
	return Status{State: NeverMatches, Reason: reason}
}

var floatRe = regexp.MustCompile(`^[+-]?[0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?$`)

func looksLikeFloat(s string) bool { return floatRe.MatchString(s) && strings.ContainsAny(s, ".eE") }

// Resolution is what a caller is mapped to.
type Resolution struct {
	// Ref is the matching entry; nil when the caller matched through mapAccounts.
	Ref      *Ref
	Account  string // set when matched through mapAccounts
	Username string
	Groups   []string
	// Refused is set when the matching entry's templates cannot be rendered
	// for this caller: EKS rejects the caller (401) and does not fall back
	// to mapAccounts.
	Refused string
	// Alternatives are the other results EKS may give instead, at random,
	// when several entries match the caller with different results.
	Alternatives []Resolution
}

// Resolve maps a caller the way aws-iam-authenticator does. ok is false when
// aws-auth says nothing about the caller (the API server answers 401). A
// caller that matches an entry but is refused has ok true and Refused set.
func (s Set) Resolve(c Caller) (r Resolution, ok bool) { return s.resolver().resolve(c) }

// resolver is a Set as the authenticator files it: the entries it keeps,
// by the folded ARN that decides a match, in file order.
type resolver struct {
	set          Set
	roles, users map[string][]int
	// roleWinner and userWinner give, per store key, the entry kept.
	roleWinner, userWinner map[string]int
}

func (s Set) resolver() *resolver {
	byMatch := func(ms []Mapping) (map[string][]int, map[string]int) {
		kept, winner := stored(ms)
		out := map[string][]int{}
		for _, i := range kept {
			if k := ms[i].matchKey(); k != "" {
				out[k] = append(out[k], i)
			}
		}
		return out, winner
	}
	r := &resolver{set: s}
	r.roles, r.roleWinner = byMatch(s.Roles)
	r.users, r.userWinner = byMatch(s.Users)
	return r
}

func (r *resolver) resolve(c Caller) (Resolution, bool) {
	key := foldKey(c.CanonicalARN)
	for _, src := range []Source{MapRoles, MapUsers} {
		ms, idx := r.set.Roles, r.roles[key]
		if src == MapUsers {
			ms, idx = r.set.Users, r.users[key]
		}
		var found []Resolution
		for _, i := range idx {
			res := rendered(src, i, ms[i], c)
			if !slices.ContainsFunc(found, func(f Resolution) bool { return sameResolution(f, res) }) {
				found = append(found, res)
			}
		}
		if len(found) > 0 {
			out := found[0]
			if len(found) > 1 {
				out.Alternatives = found[1:]
			}
			return out, true
		}
	}
	account := c.AccountID
	if account == "" {
		account = AccountOf(c.CanonicalARN)
	}
	if slices.Contains(r.set.Accounts, account) {
		return Resolution{Account: account, Username: c.CanonicalARN, Groups: []string{}}, true
	}
	return Resolution{}, false
}

func sameResolution(a, b Resolution) bool {
	return a.Refused == b.Refused && a.Username == b.Username && slices.Equal(a.Groups, b.Groups)
}

func rendered(src Source, i int, m Mapping, c Caller) Resolution {
	ref := &Ref{Source: src, Index: i}
	username, err := RenderChecked(m.Username, c)
	if err != nil {
		return Resolution{Ref: ref, Refused: fmt.Sprintf("username %q: %v", m.Username, err)}
	}
	groups := make([]string, len(m.Groups))
	for j, g := range m.Groups {
		if groups[j], err = RenderChecked(g, c); err != nil {
			return Resolution{Ref: ref, Refused: fmt.Sprintf("group %q: %v", g, err)}
		}
	}
	return Resolution{Ref: ref, Username: username, Groups: groups}
}
