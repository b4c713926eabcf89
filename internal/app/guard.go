package app

import (
	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/guard"
	"github.com/iammap/iammap/mapping"
	"github.com/urfave/cli/v2"
)

// forceFlag lets a write through the lockout guard.
func forceFlag() cli.Flag {
	return &cli.BoolFlag{Name: "force", Usage: "make the change even if it would lock out you, the last cluster admin or a node role"}
}

// lockout gathers what the guard needs about a cluster: its mode, its
// access entries, and who the caller is. Entries are listed only where EKS
// uses them.
type lockout struct {
	mode    mapping.Mode
	entries []accessentry.Entry
	caller  string
	force   bool
}

func newLockout(c *cli.Context, t *target) (*lockout, error) {
	return lockoutFor(c, t, nil)
}

// lockoutFor is newLockout for a change that touches only the given
// principals: of the access entries it reads only those, the caller's, and
// the cluster admins' — what the guard's rules can see change — instead of
// every entry. nil touched reads them all.
func lockoutFor(c *cli.Context, t *target, touched []string) (*lockout, error) {
	l := &lockout{mode: t.mode(), caller: callerKey(c, t), force: flagBool(c, "force")}
	if t.eks == nil || !l.mode.UsesAccessEntries() {
		return l, nil
	}
	var err error
	if touched == nil {
		l.entries, err = t.accessEntries().List(c.Context)
		return l, err
	}
	keys := map[string]bool{l.caller: l.caller != ""}
	for _, arn := range touched {
		keys[mapping.PrincipalKey(arn)] = true
	}
	admin, err := accessentry.PolicyARN(t.eks.Cluster.Partition, "AmazonEKSClusterAdminPolicy")
	if err != nil {
		return nil, err
	}
	l.entries, err = t.accessEntries().ListSome(c.Context, func(arn string) bool { return keys[mapping.PrincipalKey(arn)] }, admin)
	return l, err
}

func (l *lockout) state(set mapping.Set, entries []accessentry.Entry, mode mapping.Mode) guard.State {
	return guard.State{Mode: mode, AWSAuth: set, Entries: entries}
}

// check refuses (unless --force) a change from before to after.
func (l *lockout) check(before, after guard.State) error {
	if l.force {
		return nil
	}
	if vs := guard.Check(before, after, l.caller); len(vs) > 0 {
		return withHint(guard.Error(vs), "nothing was changed; if this is really intended, run again with --force")
	}
	return nil
}

// awsAuthChange wraps an aws-auth change with the guard: it compares the
// document before and after the change.
func (l *lockout) awsAuthChange(change awsauth.Change) awsauth.Change {
	return func(doc *awsauth.Document) (bool, error) {
		before := doc.Set()
		changed, err := change(doc)
		if err != nil || !changed {
			return changed, err
		}
		return true, l.check(l.state(before, l.entries, l.mode), l.state(doc.Set(), l.entries, l.mode))
	}
}

// entriesChange checks an access-entry plan against the current aws-auth.
func (l *lockout) entriesChange(set mapping.Set, plan accessentry.Plan) error {
	return l.check(l.state(set, l.entries, l.mode), l.state(set, plan.Result(l.entries), l.mode))
}

// guardEntries refuses (unless --force) a change of the access entries of
// the touched principals that would lock out, given as a function of the
// current entries.
func guardEntries(c *cli.Context, t *target, touched []string, plan func(current []accessentry.Entry) (accessentry.Plan, error)) (*lockout, error) {
	lk, err := lockoutFor(c, t, touched)
	if err != nil {
		return nil, err
	}
	set, err := awsAuthSet(c, t)
	if err != nil {
		return nil, err
	}
	p, err := plan(lk.entries)
	if err != nil {
		return nil, err
	}
	return lk, lk.entriesChange(set, p)
}

// guardAction is guardEntries for a single action.
func guardAction(c *cli.Context, t *target, a accessentry.Action) error {
	_, err := guardEntries(c, t, []string{a.PrincipalARN}, func([]accessentry.Entry) (accessentry.Plan, error) {
		return accessentry.Plan{Actions: []accessentry.Action{a}}, nil
	})
	return err
}

// awsAuthSet is aws-auth as EKS reads it, where EKS reads it at all.
func awsAuthSet(c *cli.Context, t *target) (mapping.Set, error) {
	if t.mode() == modeAPI {
		return mapping.Set{}, nil
	}
	snap, err := t.loadAWSAuth(c.Context)
	if err != nil {
		return mapping.Set{}, err
	}
	return snap.Doc.Set(), nil
}

// modeSwitch refuses a move to API that would lock out, unless --force.
func modeSwitch(c *cli.Context, t *target, to mapping.Mode) error {
	if to != modeAPI {
		return nil
	}
	lk, err := newLockout(c, t)
	if err != nil {
		return err
	}
	set, err := awsAuthSet(c, t)
	if err != nil {
		return err
	}
	// Same mappings; only the mode that weighs them changes.
	return lk.check(lk.state(set, lk.entries, t.mode()), lk.state(set, lk.entries, modeAPI))
}
