package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/desired"
	"github.com/iammap/iammap/internal/guard"
	"github.com/iammap/iammap/mapping"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Plan is what converging one cluster changes (or changed), as printed and
// as JSON.
type Plan struct {
	Cluster       string               `json:"cluster"`
	AuthMode      mapping.Mode         `json:"authenticationMode,omitempty"`
	AWSAuth       *AWSAuthPlan         `json:"awsAuth,omitempty"`
	AccessEntries []accessentry.Action `json:"accessEntries,omitempty"`
	Notes         []string             `json:"notes,omitempty"`
	// Applied: the servers confirmed every change listed. A write run that
	// stopped before the end leaves it false and says in Partial what
	// landed.
	Applied bool     `json:"applied"`
	Partial *Partial `json:"partial,omitempty"`
	// DryRun: the API server checked the aws-auth write (authorisation,
	// validation) and stored nothing; access entries were not sent, as EKS
	// has no dry run.
	DryRun bool `json:"dryRun,omitempty"`
	// WouldBeRefused is the lockout guard's verdict on a plan that was
	// only planned (diff): apply would refuse it without --force.
	WouldBeRefused string `json:"wouldBeRefused,omitempty"`
}

// Partial is what a write run that stopped before the end (a refusal, a
// failure, an interrupt) did, as far as the servers confirmed. Every change
// of the plan is in exactly one of applied, maybe applied and not applied.
type Partial struct {
	// AWSAuth is "applied", "maybe applied" (the write was sent and its
	// reply lost) or "not applied"; empty when the plan has no aws-auth
	// change.
	AWSAuth                   string               `json:"awsAuth,omitempty"`
	AccessEntriesApplied      []accessentry.Action `json:"accessEntriesApplied,omitempty"`
	AccessEntriesMaybeApplied []accessentry.Action `json:"accessEntriesMaybeApplied,omitempty"`
	AccessEntriesNotApplied   []accessentry.Action `json:"accessEntriesNotApplied,omitempty"`
}

// Outcomes of the aws-auth write in a Partial.
const (
	OutcomeApplied      = "applied"
	OutcomeMaybeApplied = "maybe applied"
	OutcomeNotApplied   = "not applied"
)

// awsAuthChanges counts the aws-auth part of the plan.
func (p Plan) awsAuthChanges() int {
	if p.AWSAuth == nil {
		return 0
	}
	return len(p.AWSAuth.Add) + len(p.AWSAuth.Remove) + len(p.AWSAuth.AddAccounts) + len(p.AWSAuth.RemoveAccounts)
}

// Tally counts the plan's changes by what became of them: all applied for
// a completed write, none for a plan that was not (or not yet) written.
func (p Plan) Tally() (applied, maybe, notApplied int) {
	switch {
	case p.Applied:
		return p.Changes(), 0, 0
	case p.Partial == nil:
		return 0, 0, p.Changes()
	}
	a := p.awsAuthChanges()
	switch p.Partial.AWSAuth {
	case OutcomeApplied:
		applied += a
	case OutcomeMaybeApplied:
		maybe += a
	default:
		notApplied += a
	}
	return applied + len(p.Partial.AccessEntriesApplied), maybe + len(p.Partial.AccessEntriesMaybeApplied), notApplied + len(p.Partial.AccessEntriesNotApplied)
}

// AWSAuthPlan is the aws-auth part of a Plan.
type AWSAuthPlan struct {
	Add            []mapping.Mapping `json:"add,omitempty"`
	Remove         []mapping.Mapping `json:"remove,omitempty"`
	AddAccounts    []string          `json:"addAccounts,omitempty"`
	RemoveAccounts []string          `json:"removeAccounts,omitempty"`
}

// Changes counts the plan's changes.
func (p Plan) Changes() int {
	return len(p.AccessEntries) + p.awsAuthChanges()
}

// ConvergeOptions say what Converge may do.
type ConvergeOptions struct {
	// Write applies the plan; without it Converge only plans.
	Write bool
	// Prune also removes what the file does not list.
	Prune bool
	// Force writes aws-auth mappings in API mode and lets a change through
	// the lockout guard.
	Force bool
	// DryRun (without Write) runs the guard and sends the aws-auth write as
	// a server-side dry run, so a write that would be refused is refused
	// now; access entries are planned only (EKS has no dry run).
	DryRun bool
}

// Scope is which mechanisms converging want on a cluster in mode touches:
// aws-auth when the file has mappings (or prune, where EKS reads aws-auth),
// access entries when it has entries (or prune, on an EKS cluster that has
// them). refuse is set when the file's aws-auth mappings would have no
// effect (API mode) and force is off.
func Scope(mode mapping.Mode, want desired.Target, prune, force bool) (awsAuth, entries bool, refuse bool) {
	hasAWSAuth := len(want.AWSAuth.Mappings)+len(want.AWSAuth.Accounts) > 0
	awsAuth = hasAWSAuth || (prune && mode != mapping.ModeAPI)
	entries = len(want.AccessEntries) > 0 || (prune && mode != mapping.ModeKubeconfig && mode != mapping.ModeConfigMap)
	return awsAuth, entries, hasAWSAuth && mode == mapping.ModeAPI && !force
}

// Converge plans the cluster against want across both mechanisms and, with
// o.Write, applies the plan: aws-auth in one conditional write (a conflict
// re-reads and re-plans), then the access entries. The guard sees both
// mechanisms as they will be. The plan is returned even with an error, as
// far as it got; after a write run that stopped, Partial says what the
// servers confirmed, what may have landed and what did not.
func Converge(ctx context.Context, t *Target, want desired.Target, o ConvergeOptions, r Reporter) (*Plan, error) {
	r = orDiscard(r)
	p := &Plan{Cluster: want.Name, AuthMode: t.Mode(), Notes: want.Notes, DryRun: o.DryRun && !o.Write}
	if d := t.Display(); d != "" {
		p.Cluster = d
	}
	p, err := converge(ctx, t, want, o, r, p)
	if err != nil && o.Write && p.Partial == nil {
		// Stopped before any write was sent: nothing of the plan landed.
		p.Partial = &Partial{AccessEntriesNotApplied: p.AccessEntries}
		if p.awsAuthChanges() > 0 {
			p.Partial.AWSAuth = OutcomeNotApplied
		}
	}
	return p, err
}

func converge(ctx context.Context, t *Target, want desired.Target, o ConvergeOptions, r Reporter, p *Plan) (*Plan, error) {
	check := o.Write || o.DryRun
	// verdict takes the lockout guard's answer: a write run (or a dry run)
	// stops on a refusal; a plan (diff) records it, so the plan a pull
	// request shows says that apply would refuse it.
	verdict := func(err error) error {
		if err == nil || check || !errors.Is(err, guard.ErrRefused) {
			return err
		}
		p.WouldBeRefused = err.Error()
		return nil
	}
	if want.SharedAWSAuth && t.Mode() == mapping.ModeAPI && !o.Force && len(want.AWSAuth.Mappings)+len(want.AWSAuth.Accounts) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("the file's common awsAuth (%d mapping(s)) is not applied: the cluster is in API mode, where EKS ignores aws-auth", len(want.AWSAuth.Mappings)+len(want.AWSAuth.Accounts)))
		want.AWSAuth = awsauth.Desired{}
	}
	// --force cannot give a CONFIG_MAP cluster access entries: the note
	// stands with it too.
	if want.SharedEntries && t.Mode() == mapping.ModeConfigMap && len(want.AccessEntries) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("the file's common accessEntries (%d) are not applied: the cluster is in CONFIG_MAP mode, which has no access entries", len(want.AccessEntries)))
		want.AccessEntries = nil
	}
	doAWSAuth, doEntries, refuse := Scope(t.Mode(), want, o.Prune, o.Force)
	if refuse {
		return p, WithHint(fmt.Errorf("cluster %s is in API mode: EKS ignores the file's aws-auth mappings", p.Cluster), "move them to accessEntries, or pass --force")
	}
	if doEntries {
		if err := t.RequireAccessEntries(); err != nil {
			// The routing hint (--backend) is create's and delete's; a file
			// says where its entries go.
			if t.EKS == nil {
				return p, WithHint(err, "the file lists accessEntries, which live in the EKS API: reach the cluster by name (--cluster NAME), or map those principals under awsAuth instead")
			}
			return p, WithHint(err, fmt.Sprintf("the file lists accessEntries: switch the cluster with `iammap auth-mode --set API_AND_CONFIG_MAP --cluster %s` (one way), or map those principals under awsAuth instead", t.Name()))
		}
	}
	g, err := t.Guard(ctx, nil, o.Force)
	if err != nil {
		return p, err
	}
	// The access-entry plan comes first, so the guard sees both mechanisms
	// as they will be.
	var entryPlan accessentry.Plan
	if doEntries {
		specs := make([]accessentry.Spec, len(want.AccessEntries))
		for i, s := range want.AccessEntries {
			if specs[i], _, err = accessentry.Validate(s, t.EKS.Cluster.Account, t.EKS.Cluster.Partition); err != nil {
				return p, err
			}
		}
		if entryPlan, err = accessentry.PlanFor(g.Entries, specs, o.Prune); err != nil {
			return p, err
		}
		p.AccessEntries = entryPlan.Actions
	}
	entriesAfter := entryPlan.Result(g.Entries)
	guarded := false
	if doAWSAuth {
		store, err := t.Store(ctx)
		if err != nil {
			return p, err
		}
		var plan awsauth.Plan
		sent := false
		// One read and one conditional write, whatever the number of
		// mappings; a conflict re-reads and re-plans.
		res, err := store.Modify(ctx, func(doc *awsauth.Document) (bool, error) {
			sent = false
			var err error
			if plan, err = awsauth.PlanFor(doc, want.AWSAuth, o.Prune); err != nil {
				return false, err
			}
			before := doc.Set()
			if err := awsauth.ApplyPlan(doc, plan); err != nil {
				return false, err
			}
			if !plan.Empty() || len(entryPlan.Actions) > 0 {
				guarded = true
				if err := verdict(g.Check(g.access(before, g.Entries, g.Mode), g.access(doc.Set(), entriesAfter, g.Mode))); err != nil {
					return false, err
				}
			}
			// From here Modify backs up and writes: a failure without an
			// answer from the API server leaves the outcome unknown.
			sent = check && !plan.Empty()
			return sent, nil
		}, o.DryRun && !o.Write)
		p.AWSAuth = &AWSAuthPlan{Add: plan.Add, AddAccounts: plan.AddAccounts, RemoveAccounts: plan.RemoveAccounts}
		for _, e := range plan.Remove {
			p.AWSAuth.Remove = append(p.AWSAuth.Remove, e.Mapping)
		}
		if o.Write {
			p.Partial = &Partial{AccessEntriesNotApplied: p.AccessEntries}
			if p.awsAuthChanges() > 0 {
				p.Partial.AWSAuth = awsAuthOutcome(res, sent, err)
			}
		}
		if err != nil {
			return p, err
		}
		r.Debug("aws-auth: %d attempt(s), written: %v, resourceVersion %s", res.Attempts, res.Written, res.ResourceVersion)
	}
	if !o.Write && len(entryPlan.Actions) > 0 && !guarded {
		// A dry run meets the guard as the real run would; a plan hears
		// its verdict when it can be had. A planner that may not read
		// aws-auth (a read-only CI role) still gets its plan, told that
		// the verdict is missing: only a write must fail closed.
		set, err := t.AWSAuthSet(ctx)
		switch {
		case err != nil && !check:
			p.Notes = append(p.Notes, fmt.Sprintf("whether apply would refuse this plan was not checked: reading aws-auth failed (%v)", err))
		case err != nil:
			return p, err
		default:
			if err := verdict(g.EntriesChange(set, entryPlan)); err != nil {
				return p, err
			}
		}
	}
	if o.Write && len(entryPlan.Actions) > 0 {
		if !guarded {
			set, err := t.AWSAuthSet(ctx)
			if err != nil {
				return p, err
			}
			if err := g.EntriesChange(set, entryPlan); err != nil {
				return p, err
			}
		}
		if p.Partial == nil {
			p.Partial = &Partial{AccessEntriesNotApplied: p.AccessEntries}
		}
		out, err := t.AccessEntries().Run(ctx, entryPlan)
		p.Notes = append(p.Notes, out.Notes...)
		if err != nil {
			p.Partial.AccessEntriesApplied, p.Partial.AccessEntriesMaybeApplied, p.Partial.AccessEntriesNotApplied = out.Done, out.Uncertain, out.NotDone
			// A principal re-planned after a concurrent create has other
			// actions than planned: the plan lists what this run did or
			// meant to do.
			p.AccessEntries = append(append(append([]accessentry.Action{}, out.Done...), out.Uncertain...), out.NotDone...)
			return p, entriesHint(err, out, len(entryPlan.Actions))
		}
		p.AccessEntries = out.Done
	}
	p.Partial = nil
	p.Applied = o.Write
	return p, nil
}

// awsAuthOutcome says what became of the aws-auth write: applied when the
// API server confirmed it (or a re-read after a lost reply found it);
// not applied after a refusal (the guard, 403, 422) or when a re-read shows
// aws-auth unchanged; maybe applied when the write was sent (or about to
// be) and failed without an answer the store could settle: a lost reply, an
// interrupt while waiting.
func awsAuthOutcome(res awsauth.Result, sent bool, err error) string {
	var status apierrors.APIStatus
	switch {
	case res.Written:
		return OutcomeApplied
	case err == nil, errors.Is(err, awsauth.ErrNotApplied), errors.Is(err, awsauth.ErrBackup):
		// A failed backup stops the write before it is sent.
		return OutcomeNotApplied
	case errors.Is(err, awsauth.ErrOutcomeUnknown):
		return OutcomeMaybeApplied
	case sent && !errors.As(err, &status):
		return OutcomeMaybeApplied
	}
	return OutcomeNotApplied
}

// entriesHint puts the next step after a failed access-entry run.
func entriesHint(err error, out accessentry.Outcome, total int) error {
	switch {
	case len(out.Uncertain) > 0:
		return WithHint(err, fmt.Sprintf("%d of %d access-entry changes were made and %d may have been (EKS's reply was lost; listed above): run apply again, it re-reads the cluster and converges", len(out.Done), total, len(out.Uncertain)))
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return WithHint(err, fmt.Sprintf("interrupted: %d of %d access-entry changes were made (listed above); run apply again to finish", len(out.Done), total))
	}
	return WithHint(err, fmt.Sprintf("%d of %d access-entry changes were made (listed above); fix the cause and apply again", len(out.Done), total))
}
