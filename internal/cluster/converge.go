package cluster

import (
	"context"
	"fmt"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/desired"
	"github.com/iammap/iammap/mapping"
)

// Plan is what converging one cluster changes (or changed), as printed and
// as JSON.
type Plan struct {
	Cluster       string               `json:"cluster"`
	AuthMode      mapping.Mode         `json:"authenticationMode,omitempty"`
	AWSAuth       *AWSAuthPlan         `json:"awsAuth,omitempty"`
	AccessEntries []accessentry.Action `json:"accessEntries,omitempty"`
	Notes         []string             `json:"notes,omitempty"`
	Applied       bool                 `json:"applied"`
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
	n := len(p.AccessEntries)
	if p.AWSAuth != nil {
		n += len(p.AWSAuth.Add) + len(p.AWSAuth.Remove) + len(p.AWSAuth.AddAccounts) + len(p.AWSAuth.RemoveAccounts)
	}
	return n
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
// far as it got; after a failed access-entry write it lists the actions
// that were made.
func Converge(ctx context.Context, t *Target, want desired.Target, o ConvergeOptions, r Reporter) (*Plan, error) {
	r = orDiscard(r)
	p := &Plan{Cluster: want.Name, AuthMode: t.Mode(), Notes: want.Notes}
	if d := t.Display(); d != "" {
		p.Cluster = d
	}
	doAWSAuth, doEntries, refuse := Scope(t.Mode(), want, o.Prune, o.Force)
	if refuse {
		return p, WithHint(fmt.Errorf("cluster %s is in API mode: EKS ignores the file's aws-auth mappings", p.Cluster), "move them to accessEntries, or pass --force")
	}
	if doEntries {
		if err := t.RequireAccessEntries(); err != nil {
			return p, err
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
		// One read and one conditional write, whatever the number of
		// mappings; a conflict re-reads and re-plans.
		res, err := store.Modify(ctx, func(doc *awsauth.Document) (bool, error) {
			var err error
			if plan, err = awsauth.PlanFor(doc, want.AWSAuth, o.Prune); err != nil {
				return false, err
			}
			before := doc.Set()
			if err := awsauth.ApplyPlan(doc, plan); err != nil {
				return false, err
			}
			if o.Write && (!plan.Empty() || len(entryPlan.Actions) > 0) {
				guarded = true
				if err := g.Check(g.access(before, g.Entries, g.Mode), g.access(doc.Set(), entriesAfter, g.Mode)); err != nil {
					return false, err
				}
			}
			return o.Write && !plan.Empty(), nil
		}, false)
		p.AWSAuth = &AWSAuthPlan{Add: plan.Add, AddAccounts: plan.AddAccounts, RemoveAccounts: plan.RemoveAccounts}
		for _, e := range plan.Remove {
			p.AWSAuth.Remove = append(p.AWSAuth.Remove, e.Mapping)
		}
		if err != nil {
			return p, err
		}
		r.Debug("aws-auth: %d attempt(s), written: %v, resourceVersion %s", res.Attempts, res.Written, res.ResourceVersion)
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
		done, err := t.AccessEntries().Apply(ctx, entryPlan)
		if err != nil {
			p.AccessEntries = done
			return p, WithHint(err, fmt.Sprintf("%d of %d access-entry changes were made (listed above); fix the cause and apply again", len(done), len(entryPlan.Actions)))
		}
	}
	p.Applied = o.Write
	return p, nil
}
