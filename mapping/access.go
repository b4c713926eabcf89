package mapping

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Mode is an EKS cluster's authentication mode: which of the two mechanisms
// EKS consults when a caller signs in.
type Mode string

const (
	// ModeKubeconfig is what iammap assumes when it reaches a cluster through
	// a kubeconfig alone and cannot ask EKS: aws-auth is all it can see.
	ModeKubeconfig Mode = ""
	// ModeConfigMap: aws-auth only (clusters older than access entries).
	ModeConfigMap Mode = "CONFIG_MAP"
	// ModeAPIAndConfigMap: access entries first, aws-auth as a fallback. The
	// default of new clusters.
	ModeAPIAndConfigMap Mode = "API_AND_CONFIG_MAP"
	// ModeAPI: access entries only; aws-auth is ignored.
	ModeAPI Mode = "API"
)

// Modes are the modes EKS knows, in the one direction EKS moves between them.
var Modes = []Mode{ModeConfigMap, ModeAPIAndConfigMap, ModeAPI}

// ParseMode reads an authentication mode as EKS spells it.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown authentication mode %q: use one of CONFIG_MAP, API_AND_CONFIG_MAP, API", s)
}

// UsesAWSAuth reports whether EKS reads aws-auth in this mode.
func (m Mode) UsesAWSAuth() bool { return m != ModeAPI }

// UsesAccessEntries reports whether EKS reads access entries in this mode.
func (m Mode) UsesAccessEntries() bool { return m == ModeAPI || m == ModeAPIAndConfigMap }

// Next is the mode EKS can move this one to; ok is false for API, the end of
// the one-way road, and for a mode iammap cannot see.
func (m Mode) Next() (next Mode, ok bool) {
	i := slices.Index(Modes, m)
	if i < 0 || i == len(Modes)-1 {
		return "", false
	}
	return Modes[i+1], true
}

// CanMoveTo reports whether EKS accepts a move from m to target: forward
// only, one or more steps, never back.
func (m Mode) CanMoveTo(target Mode) bool {
	from, to := slices.Index(Modes, m), slices.Index(Modes, target)
	return from >= 0 && to > from
}

// AccessEntry is an EKS access entry with its associated access policies.
type AccessEntry struct {
	PrincipalARN string            `json:"principalArn"`
	Type         string            `json:"type"`
	Username     string            `json:"username"`
	Groups       []string          `json:"kubernetesGroups"`
	Tags         map[string]string `json:"tags,omitempty"`
	Policies     []AccessPolicy    `json:"accessPolicies"`
	ARN          string            `json:"accessEntryArn"`
}

// AccessPolicy is one access policy association; no namespaces means
// cluster scope.
type AccessPolicy struct {
	ARN        string
	Namespaces []string
}

// Scope renders the association's scope as the CLI takes it.
func (p AccessPolicy) Scope() string {
	if len(p.Namespaces) == 0 {
		return "cluster"
	}
	return "namespace=" + strings.Join(p.Namespaces, ",")
}

// PolicyName is the last segment of a policy ARN.
func PolicyName(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

// ClusterAdminPolicy is the access policy equivalent to system:masters when
// associated at cluster scope.
const ClusterAdminPolicy = "AmazonEKSClusterAdminPolicy"

// NodeTypes are the access-entry types EKS gives to nodes; it sets their
// username and groups itself.
var NodeTypes = []string{"EC2", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "HYBRID_LINUX", "HYPERPOD_LINUX"}

// Access is who can get into one cluster, as far as iammap can see: the
// authentication mode that weighs the two mechanisms, aws-auth as the
// authenticator reads it, and the access entries.
type Access struct {
	Mode    Mode
	AWSAuth Set
	Entries []AccessEntry
	// Creator is the principal that created the cluster. In CONFIG_MAP mode
	// EKS makes it cluster admin without it appearing anywhere; no EKS API
	// tells who it is, so iammap leaves it empty and only the dev stack,
	// which created the cluster, sets it.
	Creator string
}

// Mechanism names what decided an identity.
type Mechanism string

const (
	ViaNothing     Mechanism = ""
	ViaAccessEntry Mechanism = "access-entry"
	ViaAWSAuth     Mechanism = "aws-auth"
	ViaCreator     Mechanism = "cluster-creator"
)

// Identity is what a caller becomes in a cluster.
type Identity struct {
	Mapped bool `json:"mapped"`
	// Mechanism is what decided; ViaNothing when the caller is not mapped.
	Mechanism Mechanism `json:"mechanism,omitempty"`
	// Via says in words which entry decided, or why nothing did.
	Via      string         `json:"via"`
	Username string         `json:"username,omitempty"`
	Groups   []string       `json:"groups,omitempty"`
	Policies []AccessPolicy `json:"accessPolicies,omitempty"`
	// Entry is the access entry that decided (ViaAccessEntry).
	Entry *AccessEntry `json:"-"`
	// Resolution is the aws-auth entry or account that decided (ViaAWSAuth).
	Resolution *Resolution `json:"-"`
	// Refused says why EKS rejects a caller that an aws-auth entry matches
	// (a template it cannot render); Mapped is then false.
	Refused string `json:"refused,omitempty"`
	// Alternatives are the other identities EKS may give the caller, at
	// random: several aws-auth entries match it with different results.
	// When there are any, the identity is undefined.
	Alternatives []Identity `json:"alternatives,omitempty"`
}

// Undefined reports whether EKS picks the caller's identity at random among
// this one and its Alternatives.
func (id Identity) Undefined() bool { return len(id.Alternatives) > 0 }

// Outcomes lists every identity EKS may give the caller: this one and its
// Alternatives.
func (id Identity) Outcomes() []Identity {
	out := []Identity{id}
	for _, a := range id.Alternatives {
		out = append(out, a)
	}
	out[0].Alternatives = nil
	return out
}

// ClusterAdmin reports whether the identity is cluster admin: group
// system:masters, or AmazonEKSClusterAdminPolicy at cluster scope. An
// undefined identity is admin only if every outcome EKS may pick is.
func (id Identity) ClusterAdmin() bool {
	if !id.Mapped {
		return false
	}
	for _, a := range id.Alternatives {
		if !a.ClusterAdmin() {
			return false
		}
	}
	if slices.Contains(id.Groups, "system:masters") {
		return true
	}
	return slices.ContainsFunc(id.Policies, func(p AccessPolicy) bool {
		return PolicyName(p.ARN) == ClusterAdminPolicy && len(p.Namespaces) == 0
	})
}

// Node reports whether the identity is a node's: an access entry of a node
// type, or the group system:nodes. An undefined identity is a node's only
// if every outcome is.
func (id Identity) Node() bool {
	if !id.Mapped {
		return false
	}
	for _, a := range id.Alternatives {
		if !a.Node() {
			return false
		}
	}
	if id.Entry != nil && slices.Contains(NodeTypes, id.Entry.Type) {
		return true
	}
	return slices.Contains(id.Groups, "system:nodes")
}

// Identify says what a caller becomes, with EKS's precedence: in API and
// API_AND_CONFIG_MAP mode an access entry for the principal wins; in API
// mode nothing else counts; otherwise the cluster creator (CONFIG_MAP), then
// aws-auth as aws-iam-authenticator resolves it. principalARN is the
// caller's IAM ARN (a role may carry its path, which access entries match);
// caller holds the canonical ARN and what templates need.
//
// This is the one place that weighs the two mechanisms: a change of EKS's
// precedence is made here.
func (a Access) Identify(principalARN string, caller Caller) Identity {
	return a.prepare().identify(principalARN, caller)
}

// preparedAccess is an Access indexed for many questions: each access entry
// by principal key (the first for a key, as EKS holds one), aws-auth as the
// authenticator files it.
type preparedAccess struct {
	a       Access
	entries map[string]*AccessEntry
	awsAuth *resolver
}

func (a Access) prepare() *preparedAccess {
	p := &preparedAccess{a: a}
	if a.Mode.UsesAccessEntries() {
		p.entries = make(map[string]*AccessEntry, len(a.Entries))
		for i := range a.Entries {
			if k := PrincipalKey(a.Entries[i].PrincipalARN); p.entries[k] == nil {
				p.entries[k] = &a.Entries[i]
			}
		}
	}
	if a.Mode.UsesAWSAuth() {
		p.awsAuth = a.AWSAuth.resolver()
	}
	return p
}

func (p *preparedAccess) identify(principalARN string, caller Caller) Identity {
	a := p.a
	key := PrincipalKey(principalARN)
	if e := p.entries[key]; e != nil {
		return Identity{Mapped: true, Mechanism: ViaAccessEntry, Via: "access entry " + e.PrincipalARN, Entry: e,
			Username: Render(e.Username, caller), Groups: slices.Clone(e.Groups), Policies: e.Policies}
	}
	if !a.Mode.UsesAWSAuth() {
		return Identity{Via: "no access entry, and aws-auth is ignored in API mode"}
	}
	if a.Creator != "" && a.Mode == ModeConfigMap && PrincipalKey(a.Creator) == key {
		return Identity{Mapped: true, Mechanism: ViaCreator, Via: "cluster creator", Username: "kubernetes-admin", Groups: []string{"system:masters"}}
	}
	r, ok := p.awsAuth.resolve(caller)
	if !ok {
		return Identity{Via: "no access entry and no aws-auth mapping"}
	}
	id := awsAuthIdentity(r)
	for _, alt := range r.Alternatives {
		id.Alternatives = append(id.Alternatives, awsAuthIdentity(alt))
	}
	return id
}

func awsAuthIdentity(r Resolution) Identity {
	r.Alternatives = nil
	via := "aws-auth mapAccounts " + r.Account
	if r.Ref != nil {
		via = "aws-auth " + r.Ref.String()
	}
	if r.Refused != "" {
		return Identity{Mechanism: ViaAWSAuth, Via: via + ": EKS refuses this caller", Resolution: &r, Refused: r.Refused}
	}
	return Identity{Mapped: true, Mechanism: ViaAWSAuth, Via: via, Resolution: &r, Username: r.Username, Groups: r.Groups}
}

// IdentifyPrincipal is Identify for a principal named by its ARN alone,
// standing for any of its sessions: what the principal gets, with
// templates left as written.
func (a Access) IdentifyPrincipal(principalARN string) Identity {
	return a.prepare().identify(principalARN, anySession(principalARN))
}

// IdentifyPrincipals is IdentifyPrincipal for many principals at once, with
// the access state indexed once rather than searched for each.
func (a Access) IdentifyPrincipals(principalARNs []string) []Identity {
	p := a.prepare()
	out := make([]Identity, len(principalARNs))
	for i, arn := range principalARNs {
		out[i] = p.identify(arn, anySession(arn))
	}
	return out
}

// anySession is the caller that stands for every session of a principal.
func anySession(principalARN string) Caller {
	c, err := CallerFor(principalARN, "")
	if err != nil {
		key := PrincipalKey(principalARN)
		c = Caller{CanonicalARN: key, AccountID: AccountOf(key)}
	}
	c.AnySession = true
	return c
}

// Principals lists every principal the access state names explicitly: the
// access entries' (where EKS reads them), aws-auth's ARN entries (where
// EKS reads it) and the cluster creator (CONFIG_MAP mode, when known), once
// per principal key, as first written, in key order.
// mapAccounts and SSO patterns name no single principal and are not listed.
func (a Access) Principals() []string {
	written := map[string]string{}
	note := func(arn string) {
		if k := PrincipalKey(arn); written[k] == "" {
			written[k] = arn
		}
	}
	if a.Mode.UsesAccessEntries() {
		for _, e := range a.Entries {
			note(e.PrincipalARN)
		}
	}
	if a.Mode.UsesAWSAuth() {
		for _, ms := range [][]Mapping{a.AWSAuth.Roles, a.AWSAuth.Users} {
			for _, m := range ms {
				if m.ARN != "" && !strings.ContainsAny(m.ARN, "*?") {
					note(m.ARN)
				}
			}
		}
	}
	if a.Creator != "" && a.Mode == ModeConfigMap {
		note(a.Creator)
	}
	keys := slices.Sorted(maps.Keys(written))
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = written[k]
	}
	return out
}

// Overrides reports, for each principal, whether an access entry takes
// precedence over its aws-auth mapping (API_AND_CONFIG_MAP mode), and
// returns that entry (nil where none does). It asks Identify, so it follows
// EKS's precedence by definition.
func (a Access) Overrides(principalARNs []string) []*AccessEntry {
	out := make([]*AccessEntry, len(principalARNs))
	if !a.Mode.UsesAWSAuth() {
		return out
	}
	for i, id := range a.IdentifyPrincipals(principalARNs) {
		if id.Mechanism == ViaAccessEntry {
			out[i] = id.Entry
		}
	}
	return out
}
