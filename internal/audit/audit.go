// Package audit finds the mistakes already made in who can access a
// cluster: aws-auth entries that never match or are shadowed, silently
// mis-parsed YAML, risky mappings, content EKS ignores, groups no RBAC
// binding mentions, and principals that no longer exist in IAM. Each finding
// has a severity and a fix.
package audit

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/iamlookup"
	"github.com/iammap/iammap/mapping"
)

// Severities, in increasing order.
const (
	Info    = "info"
	Warning = "warning"
	Error   = "error"
)

// Rank orders severities; unknown ones rank 0.
func Rank(s string) int { return slices.Index([]string{Info, Warning, Error}, s) + 1 }

// Finding is one problem.
type Finding struct {
	Severity string `json:"severity"`
	Check    string `json:"check"`
	Subject  string `json:"subject"`
	Message  string `json:"message"`
	Fix      string `json:"fix"`
}

// IAM is what the existence check asks.
type IAM = iamlookup.API

// Input is what the audit looks at. Nil or empty parts are not checked.
type Input struct {
	Mode    mapping.Mode // authentication mode; ModeKubeconfig with only a kubeconfig
	AWSAuth *awsauth.Document
	Entries []accessentry.Entry
	// BoundGroups are the groups some RoleBinding or ClusterRoleBinding names;
	// nil skips the dead-group check.
	BoundGroups map[string]bool
	IAM         IAM
	Account     string // the cluster's account, for the IAM check
}

// Run performs every check and returns the findings, most severe first.
func Run(ctx context.Context, in Input) []Finding {
	var fs []Finding
	add := func(sev, check, subject, msg, fix string) {
		fs = append(fs, Finding{sev, check, subject, msg, fix})
	}
	if d := in.AWSAuth; d != nil {
		auditAWSAuth(ctx, in, d, add)
	}
	if in.BoundGroups != nil {
		for _, g := range deadGroups(in) {
			add(Warning, "dead-group", g.group, fmt.Sprintf("group %q (used by %s) is named by no RoleBinding or ClusterRoleBinding: it grants nothing", g.group, refList(g.users, g.count)),
				"bind the group to a role, or remove it from the mapping")
		}
	}
	sort.SliceStable(fs, func(i, j int) bool {
		if Rank(fs[i].Severity) != Rank(fs[j].Severity) {
			return Rank(fs[i].Severity) > Rank(fs[j].Severity)
		}
		if fs[i].Check != fs[j].Check {
			return fs[i].Check < fs[j].Check
		}
		return fs[i].Subject < fs[j].Subject
	})
	return fs
}

type addFunc func(sev, check, subject, msg, fix string)

func auditAWSAuth(ctx context.Context, in Input, d *awsauth.Document, add addFunc) {
	for _, err := range d.Errs() {
		add(Error, "unparsable-key", "aws-auth", err.Error()+"; EKS ignores the whole key", "fix the YAML with `kubectl edit -n kube-system configmap aws-auth`")
	}
	for key, v := range d.Data() {
		if t := strings.TrimSpace(v); t == "''" || t == `""` {
			add(Warning, "empty-quoted-value", "aws-auth data."+key, fmt.Sprintf("data.%s is %s, which some aws-iam-authenticator versions fail to parse", key, t), "remove the key, or write an empty value")
		}
	}
	set := d.Set()
	entries := d.Entries()
	if !in.Mode.UsesAWSAuth() && len(entries)+len(set.Accounts) > 0 {
		add(Warning, "ignored-in-api-mode", "aws-auth", fmt.Sprintf("aws-auth has %d mappings but the cluster is in API mode: EKS ignores all of them", len(entries)+len(set.Accounts)),
			"move what is still needed to access entries (`iammap migrate`), then delete aws-auth")
	}
	if !in.Mode.UsesAWSAuth() {
		return // nothing in aws-auth has an effect; one finding says so
	}
	yamlShapes(d.Data(), add)
	byKey := map[string][]awsauth.Entry{}
	undefined := map[string][]awsauth.Entry{}
	var undefinedOrder []string
	for _, e := range entries {
		byKey[e.Key()] = append(byKey[e.Key()], e)
		subject := e.Ref.String() + " " + e.Display()
		if e.ARN != "" {
			if strings.Contains(e.ARN, ":assumed-role/") {
				p, _, _ := mapping.ParsePrincipal(e.ARN)
				add(Error, "assumed-role-arn", subject, "an STS assumed-role session ARN never matches: callers are canonicalised to their role", "map "+p.ARN+" instead")
			} else if e.Status.State == mapping.NeverMatches {
				add(Error, "never-matches", subject, e.Status.Reason, "re-create the entry with iammap create, which stores the matching ARN")
			}
		}
		switch e.Status.State {
		case mapping.NeverMatches:
			if e.ARN == "" && e.SSO != nil {
				add(Error, "sso-never-matches", subject, e.Status.Reason, "map each Identity Center role by its ARN without the /aws-reserved/sso.amazonaws.com/ path (iammap create --arn does that), or use an access entry")
			}
		case mapping.Dropped:
			add(Error, "dropped-entry", subject, "aws-iam-authenticator rejects this entry when it loads aws-auth ("+e.Status.Reason+"), so EKS does not have it", "fix or delete the entry")
		case mapping.Undefined:
			// One finding per principal, after the loop: a finding per entry,
			// each naming every other, grew with the square of the entries.
			if _, ok := undefined[e.Key()]; !ok {
				undefinedOrder = append(undefinedOrder, e.Key())
			}
			undefined[e.Key()] = append(undefined[e.Key()], e)
		case mapping.Refuses:
			add(Error, "refuses-callers", subject, e.Status.Reason+"; every caller it matches gets 401", "use a placeholder this principal can fill, or map a node role")
		}
		for _, p := range e.Problems {
			add(Error, "wrong-type", subject, p+" (EKS keeps the entry)", "write the value in the type aws-auth expects: strings for rolearn/userarn/username, a list of strings for groups")
		}
		if p, _, err := mapping.ParsePrincipal(e.ARN); err == nil && p.Kind == mapping.KindRoot && e.Status.State == mapping.Active {
			add(Warning, "root-mapped", subject, "the account root user can authenticate to the cluster; its credentials cannot be scoped or rotated like a role's", "map a role instead and keep root credentials unused")
		}
		for _, g := range e.Groups {
			if strings.Contains(g, " - ") {
				add(Error, "misindented-groups", subject, fmt.Sprintf("group %q is a list item indented one space too far, read as part of the previous group", g), "align the '-' of every group")
			}
		}
		for _, s := range append([]string{e.Username}, e.Groups...) {
			for _, w := range mapping.TemplateWarnings(s) {
				add(Warning, "unknown-placeholder", subject, w, "use {{AccountID}}, {{SessionName}}, {{SessionNameRaw}}, {{AccessKeyID}} or {{EC2PrivateDNSName}}")
			}
		}
		if e.Source == mapping.MapUsers && slices.Contains(e.Groups, "system:masters") && strings.Contains(e.ARN, ":user/") {
			add(Warning, "user-in-system-masters", subject, "a long-lived IAM user is cluster-admin (system:masters cannot be limited by RBAC)", "map a role with short-lived credentials instead, or a narrower group")
		}
	}
	for _, key := range undefinedOrder {
		group := undefined[key]
		refs := make([]string, 0, min(len(group), maxRefs+1))
		for _, e := range group {
			if len(refs) > maxRefs {
				break
			}
			refs = append(refs, e.Ref.String())
		}
		add(Error, "undefined", group[0].Ref.String()+" "+group[0].Display(), fmt.Sprintf("undefined: %d entries match the same callers with different usernames or groups (%s), and the authenticator keeps them in a Go map, so each sign-in may get any of them", len(group), refList(refs, len(group))), "keep one entry for the principal")
	}
	for key, group := range byKey {
		if len(group) < 2 {
			continue
		}
		var refs []string
		winner := ""
		undefined := false
		cases := map[string]bool{}
		for _, e := range group {
			if len(refs) <= maxRefs {
				refs = append(refs, e.Ref.String())
			}
			cases[e.ARN] = true
			switch e.Status.State {
			case mapping.Active:
				winner = e.Ref.String()
			case mapping.Undefined:
				undefined = true
			}
		}
		if undefined {
			continue // the undefined finding says it
		}
		winner = orNone(winner) + " wins, the others do nothing"
		add(Warning, "duplicate", group[0].Display(), fmt.Sprintf("%d entries map this principal (%s); %s", len(group), refList(refs, len(group)), winner), "keep one entry")
		if len(cases) > 1 {
			add(Warning, "case-variant-duplicate", key, fmt.Sprintf("the same principal is written in different letter cases (%d spellings); EKS compares ARNs ignoring case, and in mapUsers keeps every spelling", len(cases)), "keep one entry")
		}
	}
	for _, a := range set.Accounts {
		if st := mapping.AccountStatus(a); st.State != mapping.Active {
			add(Error, "account-not-an-id", "mapAccounts "+a, st.Reason, "write the 12-digit account id in quotes, e.g. - \"012345678901\"")
			continue
		}
		add(Warning, "map-accounts", "mapAccounts "+a, "every principal of account "+a+" can authenticate (as its ARN, with no groups)", "map the principals that need access instead")
	}
	for _, p := range d.Problems(mapping.MapAccounts) {
		add(Error, "wrong-type", "mapAccounts", p, "write each account id as a quoted string")
	}
	// Only active entries can be reported, and only when there are access
	// entries: asking for every entry cost the cube of the duplicates
	// (each identification weighs every alternative).
	if len(in.Entries) > 0 {
		var active []awsauth.Entry
		var arns []string
		for _, e := range entries {
			if e.ARN != "" && e.Status.State == mapping.Active {
				active, arns = append(active, e), append(arns, e.ARN)
			}
		}
		access := mapping.Access{Mode: in.Mode, AWSAuth: set, Entries: in.Entries}
		for i, entry := range access.Overrides(arns) {
			if e := active[i]; entry != nil {
				add(Info, "overridden-by-access-entry", e.Ref.String()+" "+e.Display(), "an access entry for the same principal takes precedence; this aws-auth entry does nothing", "delete it from aws-auth")
			}
		}
	}
	if in.IAM != nil {
		checked := map[string]bool{}
		for _, e := range entries {
			if st := e.Status.State; e.ARN == "" || st == mapping.NeverMatches || st == mapping.Dropped || st == mapping.Refuses || checked[e.Key()] {
				continue
			}
			checked[e.Key()] = true
			p, _, err := mapping.ParsePrincipal(e.ARN)
			if err != nil || p.Kind == mapping.KindRoot || p.Kind == mapping.KindFederatedUser {
				continue // IAM has nothing to look up for the root or a federated user
			}
			subject := e.Ref.String() + " " + e.Display()
			if p.Account != in.Account {
				add(Info, "unverifiable-principal", subject, "principal of another account ("+p.Account+"): its existence cannot be checked from this one", "check it in account "+p.Account)
				continue
			}
			if _, err := iamlookup.ARN(ctx, in.IAM, p); iamlookup.Missing(err) {
				add(Error, "missing-principal", subject, fmt.Sprintf("%s %s does not exist in IAM; if it is re-created, it inherits this mapping", p.Kind, p.Name), "delete the mapping")
			}
		}
	}
}

type deadGroup struct {
	group string
	users []string // the first maxRefs+1 users
	count int      // how many use it
}

// deadGroups lists non-system groups that mappings hand out but RBAC never names.
func deadGroups(in Input) []deadGroup {
	users := map[string][]string{}
	counts := map[string]int{}
	note := func(g, who string) {
		// A mis-indented list is reported as such, not as a dead group.
		if !strings.HasPrefix(g, "system:") && !strings.HasPrefix(g, "eks:") && !strings.Contains(g, " - ") && !in.BoundGroups[g] {
			if counts[g]++; len(users[g]) <= maxRefs {
				users[g] = append(users[g], who)
			}
		}
	}
	if in.AWSAuth != nil && in.Mode.UsesAWSAuth() {
		for _, e := range in.AWSAuth.Entries() {
			if e.Status.State == mapping.Active {
				for _, g := range e.Groups {
					note(g, e.Ref.String())
				}
			}
		}
	}
	if in.Mode.UsesAccessEntries() {
		for _, e := range in.Entries {
			for _, g := range e.Groups {
				note(g, "access entry "+e.PrincipalARN)
			}
		}
	}
	var out []deadGroup
	for g, u := range users {
		out = append(out, deadGroup{g, u, counts[g]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].group < out[j].group })
	return out
}

// maxRefs is how many entries a finding names before "and N more": the
// rest add nothing a reader can act on, and a finding listing every one of
// thousands of duplicates is megabytes.
const maxRefs = 10

// refList joins the first maxRefs of refs (of total) for a message.
func refList(refs []string, total int) string {
	if total <= maxRefs {
		return strings.Join(refs[:total], ", ")
	}
	return strings.Join(refs[:maxRefs], ", ") + fmt.Sprintf(" and %d more", total-maxRefs)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
