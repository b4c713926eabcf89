package cluster

import (
	"context"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/guard"
	"github.com/iammap/iammap/mapping"
)

// Guard holds what the lockout check needs about a cluster: its mode, its
// access entries (where EKS uses them), and who the caller is. Its checks
// follow guard.Check; Force turns every refusal off.
type Guard struct {
	Mode mapping.Mode
	// Entries are the access entries read: all of them, or those a change
	// can touch (see Target.Guard).
	Entries []accessentry.Entry
	// Caller is the principal key of whoever makes the change, "" when unknown.
	Caller string
	Force  bool
	// AWSAuth is aws-auth as GuardEntries read it (empty in API mode).
	AWSAuth mapping.Set
	// EntriesAfter, when set, are the access entries after a change made
	// together with an aws-auth change, which AWSAuthChange then weighs as
	// one.
	EntriesAfter *[]accessentry.Entry
	// callerMasters: the cluster puts the caller in system:masters now.
	callerMasters bool
}

// Guard reads what checking a change needs. With touched nil it reads every
// access entry; otherwise only the touched principals', the caller's and
// the cluster admins' — what the guard's rules can see change. Entries are
// read only where EKS uses them.
func (t *Target) Guard(ctx context.Context, touched []string, force bool) (*Guard, error) {
	caller, err := t.Caller(ctx)
	if err != nil && !force {
		// Fail closed: a check that cannot be made refuses the write.
		return nil, WithHint(err, "nothing was changed; let your user create selfsubjectreviews (authentication.k8s.io/v1, which every authenticated user may by default), or pass --force to skip the lockout check")
	}
	g := &Guard{Mode: t.Mode(), Caller: caller, Force: force, callerMasters: caller != "" && t.CallerIsMasters(ctx)}
	if t.EKS == nil || !g.Mode.UsesAccessEntries() {
		return g, nil
	}
	if touched == nil {
		g.Entries, err = t.AccessEntries().List(ctx)
		return g, err
	}
	keys := map[string]bool{g.Caller: g.Caller != ""}
	for _, arn := range touched {
		keys[mapping.PrincipalKey(arn)] = true
	}
	admin, err := accessentry.PolicyARN(t.EKS.Cluster.Partition, mapping.ClusterAdminPolicy)
	if err != nil {
		return nil, err
	}
	g.Entries, err = t.AccessEntries().ListSome(ctx, func(arn string) bool { return keys[mapping.PrincipalKey(arn)] }, admin)
	return g, err
}

// access is the cluster's access state with the guard's mode.
func (g *Guard) access(set mapping.Set, entries []accessentry.Entry, mode mapping.Mode) mapping.Access {
	return mapping.Access{Mode: mode, AWSAuth: set, Entries: entries}
}

// Check refuses (unless Force) a change from before to after.
func (g *Guard) Check(before, after mapping.Access) error {
	if g.Force {
		return nil
	}
	if g.callerAdminOutsideMappings(before) {
		// In CONFIG_MAP mode the cluster creator is admin without appearing
		// anywhere, and no EKS API names it. A caller the cluster puts in
		// system:masters although no mapping makes it admin is that
		// creator (or admin by other means that no mapping change touches):
		// it stays admin, so it is neither locked out nor the last admin.
		before.Creator, after.Creator = g.Caller, g.Caller
	}
	if vs := guard.Check(before, after, g.Caller); len(vs) > 0 {
		return WithHint(guard.Error(vs), "nothing was changed; if this is really intended, run again with --force")
	}
	return nil
}

// AWSAuthChange wraps an aws-auth change with the check: it compares the
// document before and after the change, with the access entries as read.
func (g *Guard) AWSAuthChange(change awsauth.Change) awsauth.Change {
	return func(doc *awsauth.Document) (bool, error) {
		before := doc.Set()
		changed, err := change(doc)
		if err != nil || !changed {
			return changed, err
		}
		after := g.Entries
		if g.EntriesAfter != nil {
			after = *g.EntriesAfter
		}
		return true, g.Check(g.access(before, g.Entries, g.Mode), g.access(doc.Set(), after, g.Mode))
	}
}

// EntriesChange checks an access-entry plan against aws-auth as set.
func (g *Guard) EntriesChange(set mapping.Set, plan accessentry.Plan) error {
	return g.Check(g.access(set, g.Entries, g.Mode), g.access(set, plan.Result(g.Entries), g.Mode))
}

// GuardEntries refuses (unless force) a change of the access entries of the
// touched principals that would lock out; plan gives the change as a
// function of the entries read.
func (t *Target) GuardEntries(ctx context.Context, touched []string, force bool, plan func(current []accessentry.Entry) (accessentry.Plan, error)) (*Guard, error) {
	g, err := t.Guard(ctx, touched, force)
	if err != nil {
		return nil, err
	}
	if g.AWSAuth, err = t.AWSAuthSet(ctx); err != nil {
		return nil, err
	}
	p, err := plan(g.Entries)
	if err != nil {
		return nil, err
	}
	return g, g.EntriesChange(g.AWSAuth, p)
}

// EntryEffect is what the principal gets before and after plan, with
// aws-auth as GuardEntries read it.
func (g *Guard) EntryEffect(plan accessentry.Plan, principalARN string) Effect {
	return Effect{
		Principal: principalARN,
		Before:    g.access(g.AWSAuth, g.Entries, g.Mode).IdentifyPrincipal(principalARN),
		After:     g.access(g.AWSAuth, plan.Result(g.Entries), g.Mode).IdentifyPrincipal(principalARN),
	}
}

// GuardAction is GuardEntries for a single action.
func (t *Target) GuardAction(ctx context.Context, a accessentry.Action, force bool) error {
	_, err := t.GuardEntries(ctx, []string{a.PrincipalARN}, force, func([]accessentry.Entry) (accessentry.Plan, error) {
		return accessentry.Plan{Actions: []accessentry.Action{a}}, nil
	})
	return err
}

// CheckModeSwitch refuses (unless force) a move to API that would lock
// out: the mappings stay, only the mode that weighs them changes. Other
// moves lose nothing and pass unread.
func (t *Target) CheckModeSwitch(ctx context.Context, to mapping.Mode, force bool) error {
	if to != mapping.ModeAPI {
		return nil
	}
	g, err := t.Guard(ctx, nil, force)
	if err != nil {
		return err
	}
	set, err := t.AWSAuthSet(ctx)
	if err != nil {
		return err
	}
	return g.Check(g.access(set, g.Entries, t.Mode()), g.access(set, g.Entries, mapping.ModeAPI))
}

// callerAdminOutsideMappings: CONFIG_MAP mode, and the caller is in
// system:masters although the mappings before the change do not make it
// cluster admin.
func (g *Guard) callerAdminOutsideMappings(before mapping.Access) bool {
	return g.Mode == mapping.ModeConfigMap && g.callerMasters && before.Creator == "" && !before.IdentifyPrincipal(g.Caller).ClusterAdmin()
}
