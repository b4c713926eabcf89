// Package migrate plans the move of a cluster's aws-auth mappings to EKS
// access entries. It starts from eksctl's rules (`eksctl utils
// migrate-to-access-entry`) and fixes their known gaps: Fargate roles become
// FARGATE_LINUX entries instead of blocking, system:masters keeps the
// entry's other groups and uses the cluster's partition, duplicates are
// resolved as the authenticator resolves them, role paths are restored
// through IAM only in the cluster's own account, a principal missing in IAM
// is skipped instead of failing the run, reserved usernames are caught
// before EKS rejects them, and existing entries are compared, not blindly
// re-created.
package migrate

import (
	"context"
	"fmt"
	"strings"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/iamlookup"
	"github.com/iammap/iammap/mapping"
)

// IAM is what the migration asks for principals' real ARNs.
type IAM = iamlookup.API

// Outcomes of one aws-auth entry.
const (
	Create   = "create"   // a new access entry
	Exists   = "exists"   // an equal access entry is already there
	Conflict = "conflict" // a different access entry is already there; left as is
	Skip     = "skip"     // cannot become an access entry
	Dropped  = "dropped"  // not in effect (shadowed or never matching): nothing to migrate
)

// Item is what happens to one aws-auth entry (or account).
type Item struct {
	From    string            `json:"from"`
	Outcome string            `json:"outcome"`
	Spec    *accessentry.Spec `json:"accessEntry,omitempty"`
	Reason  string            `json:"reason,omitempty"`
	// Blocks: while this item is not migrated, switching to API mode would
	// cut the principal off.
	Blocks bool `json:"blocksApiMode"`
}

// Plan is the whole migration.
type Plan struct{ Items []Item }

// Blocking returns the items that prevent a switch to API mode.
func (p Plan) Blocking() []Item {
	var out []Item
	for _, it := range p.Items {
		if it.Blocks {
			out = append(out, it)
		}
	}
	return out
}

// Specs returns the access entries to create.
func (p Plan) Specs() []accessentry.Spec {
	var out []accessentry.Spec
	for _, it := range p.Items {
		if it.Outcome == Create {
			out = append(out, *it.Spec)
		}
	}
	return out
}

// Cluster is what the rules need to know about the cluster.
type Cluster struct{ Account, Partition string }

// Build plans the migration of doc, given the cluster's existing access entries.
func Build(ctx context.Context, cl Cluster, doc *awsauth.Document, existing []accessentry.Entry, iamAPI IAM) (Plan, error) {
	if errs := doc.Errs(); len(errs) > 0 {
		return Plan{}, fmt.Errorf("aws-auth does not parse; fix it before migrating: %w", errs[0])
	}
	var p Plan
	for _, e := range doc.Entries() {
		from := fmt.Sprintf("%s %s", e.Ref, e.Display())
		switch e.Status.State {
		case mapping.Shadowed:
			p.Items = append(p.Items, Item{From: from, Outcome: Dropped, Reason: "duplicate: " + e.Status.By.String() + " maps the same principal and is the one EKS uses"})
			continue
		case mapping.NeverMatches:
			p.Items = append(p.Items, Item{From: from, Outcome: Dropped, Reason: "never matched any caller: " + e.Status.Reason})
			continue
		case mapping.Dropped:
			p.Items = append(p.Items, Item{From: from, Outcome: Dropped, Reason: "EKS drops this entry when it loads aws-auth: " + e.Status.Reason})
			continue
		case mapping.Refuses:
			p.Items = append(p.Items, Item{From: from, Outcome: Dropped, Reason: "every caller it matches is refused: " + e.Status.Reason})
			continue
		case mapping.Undefined:
			p.Items = append(p.Items, skip(from, e.Status.String()+"; decide which entry is meant and delete the others before migrating"))
			continue
		}
		p.Items = append(p.Items, planEntry(ctx, cl, e, existing, iamAPI, from))
	}
	for _, a := range doc.Set().Accounts {
		p.Items = append(p.Items, Item{From: "mapAccounts " + a, Outcome: Skip, Blocks: true,
			Reason: "access entries cannot map a whole account; create an entry per principal that needs access"})
	}
	return p, nil
}

func skip(from, reason string) Item {
	return Item{From: from, Outcome: Skip, Reason: reason, Blocks: true}
}

func planEntry(ctx context.Context, cl Cluster, e awsauth.Entry, existing []accessentry.Entry, iamAPI IAM, from string) Item {
	if e.ARN == "" {
		return skip(from, "an sso permission-set entry has no access-entry equivalent: create one entry per AWSReservedSSO_* role")
	}
	p, _, err := mapping.ParsePrincipal(e.ARN)
	if err != nil {
		return skip(from, err.Error())
	}
	// The translation first: it needs no IAM call to refuse.
	spec, notes, err := accessentry.FromAWSAuth(p, e.Username, e.Groups, cl.Account)
	if err != nil {
		return skip(from, strings.TrimPrefix(err.Error(), accessentry.ErrNoEquivalent.Error()+": "))
	}
	arn := e.ARN
	if p.Account == cl.Account {
		real, err := iamlookup.ARN(ctx, iamAPI, p)
		switch {
		case iamlookup.Missing(err):
			return skip(from, fmt.Sprintf("%s %s does not exist in IAM (deleted?)", p.Kind, p.Name))
		case err != nil:
			return skip(from, fmt.Sprintf("cannot look %s %s up in IAM: %v", p.Kind, p.Name, err))
		}
		switch {
		case !samePrincipal(p, real):
			// IAM answers for the caller's account only; an answer naming
			// another principal (another account's, say) is not this one's path.
			notes = append(notes, fmt.Sprintf("IAM answered %s, not this principal: kept as written", real))
		case strings.Contains(real, ":role/aws-service-role/"):
			return skip(from, "service-linked role: EKS does not accept access entries for it")
		default:
			if real != arn {
				notes = append(notes, "path restored from IAM: "+real)
			}
			arn = real
		}
	} else {
		notes = append(notes, "cross-account principal: kept as written (its path, if any, cannot be checked from this account)")
	}

	spec.PrincipalARN = arn
	valid, _, err := accessentry.Validate(spec, cl.Account, cl.Partition)
	if err != nil {
		return skip(from, strings.TrimPrefix(err.Error(), accessentry.ErrInvalid.Error()+": "))
	}
	item := Item{From: from, Outcome: Create, Spec: &valid, Reason: strings.Join(notes, "; ")}
	if cur, ok := findExisting(existing, valid.PrincipalARN); ok {
		if equal(cur, valid) {
			item.Outcome, item.Reason = Exists, "an equal access entry is already there"
		} else {
			item.Outcome = Conflict
			item.Reason = fmt.Sprintf("an access entry already exists with other settings (type %s, username %q, groups [%s]) and takes precedence; left as is", cur.Type, cur.Username, strings.Join(cur.Groups, ","))
		}
	}
	return item
}

// samePrincipal: is real (an ARN IAM answered) the principal p, up to the
// path? Same kind, partition, account and name.
func samePrincipal(p mapping.Principal, real string) bool {
	q, _, err := mapping.ParsePrincipal(real)
	return err == nil && q.Kind == p.Kind && q.Partition == p.Partition && q.Account == p.Account && q.Name == p.Name
}

func findExisting(existing []accessentry.Entry, arn string) (accessentry.Entry, bool) {
	for _, e := range existing {
		if e.PrincipalARN == arn {
			return e, true
		}
	}
	return accessentry.Entry{}, false
}

// equal: does cur already give what spec asks for (policies included)?
func equal(cur accessentry.Entry, spec accessentry.Spec) bool {
	plan, err := accessentry.PlanFor([]accessentry.Entry{cur}, []accessentry.Spec{spec}, false)
	return err == nil && len(plan.Actions) == 0
}
