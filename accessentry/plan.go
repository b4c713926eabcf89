package accessentry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/sync/errgroup"
)

// Action kinds of a plan, in the order they run for one entry.
const (
	ActCreate       = "create"
	ActUpdate       = "update"
	ActAssociate    = "associate"
	ActDisassociate = "disassociate"
	ActDelete       = "delete"
)

// Action is one EKS write.
type Action struct {
	Kind         string      `json:"action"`
	PrincipalARN string      `json:"principalArn"`
	Spec         *Spec       `json:"-"`
	Policy       *PolicySpec `json:"-"`
	Before       *Entry      `json:"-"`
	Detail       string      `json:"detail"`
}

// String says what the action did, as a sentence.
func (a Action) String() string {
	switch a.Kind {
	case ActCreate:
		return fmt.Sprintf("created access entry %s (%s)", a.PrincipalARN, a.Detail)
	case ActUpdate:
		return fmt.Sprintf("updated access entry %s: %s", a.PrincipalARN, a.Detail)
	case ActAssociate:
		return fmt.Sprintf("associated %s with %s", a.Detail, a.PrincipalARN)
	case ActDisassociate:
		return fmt.Sprintf("disassociated %s from %s", a.Detail, a.PrincipalARN)
	}
	return fmt.Sprintf("deleted access entry %s (%s)", a.PrincipalARN, a.Detail)
}

// Plan is the set of EKS writes that converge a cluster's access entries.
type Plan struct {
	Actions []Action
	// Prune records that the plan removes what the specs do not list, so a
	// principal re-planned during Apply (after a concurrent create) is
	// planned the same way.
	Prune bool
}

// PlanFor compares the current entries with the wanted ones (which must have
// passed Validate). Entries and policy associations not wanted are removed
// only with prune.
func PlanFor(current []Entry, want []Spec, prune bool) (Plan, error) {
	byARN := map[string]Entry{}
	for _, e := range current {
		byARN[e.PrincipalARN] = e
	}
	p := Plan{Prune: prune}
	wanted := map[string]bool{}
	for i := range want {
		spec := &want[i]
		wanted[spec.PrincipalARN] = true
		cur, exists := byARN[spec.PrincipalARN]
		switch {
		case !exists:
			p.Actions = append(p.Actions, Action{Kind: ActCreate, PrincipalARN: spec.PrincipalARN, Spec: spec,
				Detail: fmt.Sprintf("type %s, username %q, groups [%s]", spec.Type, orDefault(spec.Username, "(EKS default)"), strings.Join(spec.Groups, ","))})
		case cur.Type != spec.Type:
			return Plan{}, fmt.Errorf("%w: %s has an access entry of type %s, not %s; the type cannot change: delete the entry first", ErrInvalid, spec.PrincipalARN, cur.Type, spec.Type)
		case spec.Type == "STANDARD" && ((spec.Username != "" && spec.Username != cur.Username) || !sameSet(spec.Groups, cur.Groups)):
			c := cur
			p.Actions = append(p.Actions, Action{Kind: ActUpdate, PrincipalARN: spec.PrincipalARN, Spec: spec, Before: &c,
				Detail: fmt.Sprintf("username %q -> %q, groups [%s] -> [%s]", cur.Username, orDefault(spec.Username, cur.Username), strings.Join(cur.Groups, ","), strings.Join(spec.Groups, ","))})
		}
		for j := range spec.Policies {
			pol := &spec.Policies[j]
			if !slices.ContainsFunc(cur.Policies, func(q PolicySpec) bool { return q.ARN == pol.ARN && sameSet(q.Namespaces, pol.Namespaces) }) {
				p.Actions = append(p.Actions, Action{Kind: ActAssociate, PrincipalARN: spec.PrincipalARN, Policy: pol, Detail: PolicyName(pol.ARN) + " (" + pol.Scope() + ")"})
			}
		}
		if prune && exists {
			for j := range cur.Policies {
				pol := cur.Policies[j]
				if !slices.ContainsFunc(spec.Policies, func(q PolicySpec) bool { return q.ARN == pol.ARN }) {
					p.Actions = append(p.Actions, Action{Kind: ActDisassociate, PrincipalARN: spec.PrincipalARN, Policy: &pol, Detail: PolicyName(pol.ARN) + " (" + pol.Scope() + ")"})
				}
			}
		}
	}
	if prune {
		for _, e := range current {
			if !wanted[e.PrincipalARN] {
				c := e
				p.Actions = append(p.Actions, Action{Kind: ActDelete, PrincipalARN: e.PrincipalARN, Before: &c, Detail: fmt.Sprintf("type %s, username %q, groups [%s]", e.Type, e.Username, strings.Join(e.Groups, ","))})
			}
		}
	}
	sort.SliceStable(p.Actions, func(i, j int) bool { return p.Actions[i].PrincipalARN < p.Actions[j].PrincipalARN })
	return p, nil
}

// Apply runs a plan: the actions of one principal in order, principals in
// parallel (Concurrency at a time). It returns the actions that were made;
// Run says also which may have been.
func (c *Client) Apply(ctx context.Context, p Plan) ([]Action, error) {
	out, err := c.Run(ctx, p)
	return out.Done, err
}

// Outcome is what Run made of a plan: every action of the plan (or of a
// principal's re-plan) is in exactly one list.
type Outcome struct {
	// Done were confirmed by EKS, or found in place by a re-read after
	// their reply was lost.
	Done []Action
	// Uncertain were sent but their reply was lost and a re-read could not
	// tell: they may have been applied.
	Uncertain []Action
	// NotDone were refused by EKS, or never sent because the run stopped
	// (a failure elsewhere, or ctx ended).
	NotDone []Action
	// Notes say where Run departed from the plan, such as an entry another
	// writer created at the same time.
	Notes []string
}

// Run runs a plan as Apply does and says what landed. At the first failure,
// or when ctx ends, no new call starts; calls already sent get c.Grace to
// finish, so that what EKS did is counted (an interrupted call's change can
// land all the same). A create that finds the entry made meanwhile (by a
// concurrent writer, or by an earlier attempt whose reply was lost) re-reads
// it and converges instead of failing.
func (c *Client) Run(ctx context.Context, p Plan) (Outcome, error) {
	groups := map[string][]Action{}
	var order []string
	for _, a := range p.Actions {
		if _, ok := groups[a.PrincipalARN]; !ok {
			order = append(order, a.PrincipalARN)
		}
		groups[a.PrincipalARN] = append(groups[a.PrincipalARN], a)
	}
	var mu sync.Mutex
	var out Outcome
	record := func(list *[]Action, as ...Action) {
		mu.Lock()
		defer mu.Unlock()
		*list = append(*list, as...)
		if list == &out.Done && c.Progress != nil {
			c.Progress(len(out.Done), len(p.Actions))
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(c.Concurrency, 1))
	for _, arn := range order {
		g.Go(func() error {
			actions := groups[arn]
			for i := 0; i < len(actions); i++ {
				a := actions[i]
				if gctx.Err() != nil {
					record(&out.NotDone, actions[i:]...)
					return nil
				}
				err := c.call(gctx, a)
				var inUse entryInUse
				if errors.As(err, &inUse) {
					// The entry exists now: plan this principal again
					// against it, so the run converges rather than fails.
					var rest []Action
					var note string
					rest, note, err = c.replan(gctx, a, p.Prune)
					if err == nil {
						if note != "" {
							mu.Lock()
							out.Notes = append(out.Notes, note)
							mu.Unlock()
						}
						actions = append(actions[:i:i], rest...)
						i--
						continue
					}
				}
				switch {
				case err == nil:
					record(&out.Done, a)
					continue
				case ambiguous(err):
					landed, verr := c.landed(ctx, a)
					switch {
					case verr != nil:
						record(&out.Uncertain, a)
						record(&out.NotDone, actions[i+1:]...)
						return fmt.Errorf("%w: %w: the request was sent but no reply came, and a re-read failed too (%v)", err, ErrMaybeApplied, verr)
					case landed:
						// The change is in place: carry on as if the reply
						// had come.
						record(&out.Done, a)
						continue
					}
					record(&out.NotDone, actions[i:]...)
					return fmt.Errorf("%w; a re-read shows it was not applied", err)
				}
				record(&out.NotDone, actions[i:]...)
				return err
			}
			return nil
		})
	}
	err := g.Wait()
	if err == nil && ctx.Err() != nil && len(out.NotDone)+len(out.Uncertain) > 0 {
		err = fmt.Errorf("access entries: stopped before the end: %w", context.Cause(ctx))
	}
	for _, l := range []*[]Action{&out.Done, &out.Uncertain, &out.NotDone} {
		sort.SliceStable(*l, func(i, j int) bool { return (*l)[i].PrincipalARN < (*l)[j].PrincipalARN })
	}
	return out, err
}

// replan reads the entry a create found in use and returns the actions that
// converge it to a.Spec, with a note saying so.
func (c *Client) replan(ctx context.Context, a Action, prune bool) ([]Action, string, error) {
	rctx, cancel := c.callContext(ctx)
	defer cancel()
	cur, err := c.Get(rctx, a.PrincipalARN)
	if err != nil {
		return nil, "", fmt.Errorf("create %s: EKS says it exists, but reading it failed: %w", a.PrincipalARN, err)
	}
	if cur.PrincipalARN != a.PrincipalARN {
		return nil, "", fmt.Errorf("create %s: the access entry came back as %s; not changing it", a.PrincipalARN, cur.PrincipalARN)
	}
	plan, err := PlanFor([]Entry{cur}, []Spec{*a.Spec}, prune)
	if err != nil {
		return nil, "", err
	}
	note := fmt.Sprintf("access entry %s was created meanwhile (another writer, or an earlier attempt whose reply was lost); converged it with %d change(s)", a.PrincipalARN, len(plan.Actions))
	return plan.Actions, note, nil
}

// DefaultGrace is how long a call already sent may go on once its run is
// cancelled: long enough for EKS to answer, so the change is counted, and
// short enough that an interrupt still ends the command promptly.
const DefaultGrace = 5 * time.Second

func (c *Client) grace() time.Duration {
	if c.Grace > 0 {
		return c.Grace
	}
	return DefaultGrace
}

// callContext is ctx without its cancellation for one call: ctx ending
// stops new calls, but this one gets the grace period more to finish.
func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	call, cancel := context.WithCancel(context.WithoutCancel(ctx))
	grace := c.grace()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	return call, func() { stop(); cancel() }
}

func (c *Client) call(ctx context.Context, a Action) error {
	cctx, cancel := c.callContext(ctx)
	defer cancel()
	return c.do(cctx, a)
}

// entryInUse is a create's ResourceInUseException: the entry exists, made
// by another writer or by an attempt whose reply was lost.
type entryInUse struct{ error }

func (e entryInUse) Unwrap() error { return e.error }

// ErrMaybeApplied marks a write that was sent but whose reply was lost (a
// connection reset, a timeout, an interrupt while waiting, a server error):
// EKS may have applied it. Running the same plan again converges either way.
var ErrMaybeApplied = errors.New("may have been applied")

// ambiguous reports whether err leaves the outcome of a write unknown: EKS
// may have received and applied it. An answer from EKS refusing the call
// (a 4xx) is not ambiguous, nor is failing to connect at all.
func ambiguous(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	var send *smithyhttp.RequestSendError
	var canceled *smithy.CanceledError
	var garbled *smithy.DeserializationError
	if errors.As(err, &send) || errors.As(err, &canceled) || errors.As(err, &garbled) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	// A 5xx says EKS failed, not that it did nothing.
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() >= 500
}

// landed re-reads the entry of an action whose reply was lost, once and
// within the grace period (the run may be ending), and says whether the
// change is in place.
func (c *Client) landed(ctx context.Context, a Action) (bool, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.grace())
	defer cancel()
	cur, err := c.get(rctx, a.PrincipalARN, func(o *eks.Options) { o.RetryMaxAttempts = 1 })
	if errors.Is(err, ErrNotFound) {
		return a.Kind == ActDelete, nil
	}
	if err != nil {
		return false, err
	}
	has := func(p *PolicySpec) bool {
		return slices.ContainsFunc(cur.Policies, func(q PolicySpec) bool { return q.ARN == p.ARN && sameSet(q.Namespaces, p.Namespaces) })
	}
	switch a.Kind {
	case ActCreate:
		return cur.Type == a.Spec.Type, nil
	case ActUpdate:
		return (a.Spec.Username == "" || cur.Username == a.Spec.Username) && sameSet(cur.Groups, a.Spec.Groups), nil
	case ActAssociate:
		return has(a.Policy), nil
	case ActDisassociate:
		return !slices.ContainsFunc(cur.Policies, func(q PolicySpec) bool { return q.ARN == a.Policy.ARN }), nil
	}
	return false, nil
}

func (c *Client) do(ctx context.Context, a Action) error {
	cl := aws.String(c.cluster)
	arn := aws.String(a.PrincipalARN)
	var err error
	switch a.Kind {
	case ActCreate:
		in := &eks.CreateAccessEntryInput{ClusterName: cl, PrincipalArn: arn, KubernetesGroups: a.Spec.Groups, Tags: a.Spec.Tags, Type: aws.String(a.Spec.Type)}
		if a.Spec.Username != "" {
			in.Username = aws.String(a.Spec.Username)
		}
		_, err = c.api.CreateAccessEntry(ctx, in)
	case ActUpdate:
		in := &eks.UpdateAccessEntryInput{ClusterName: cl, PrincipalArn: arn, KubernetesGroups: append([]string{}, a.Spec.Groups...)}
		if a.Spec.Username != "" {
			in.Username = aws.String(a.Spec.Username)
		}
		_, err = c.api.UpdateAccessEntry(ctx, in)
	case ActAssociate:
		scope := &types.AccessScope{Type: types.AccessScopeTypeCluster}
		if len(a.Policy.Namespaces) > 0 {
			scope = &types.AccessScope{Type: types.AccessScopeTypeNamespace, Namespaces: a.Policy.Namespaces}
		}
		_, err = c.api.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: cl, PrincipalArn: arn, PolicyArn: aws.String(a.Policy.ARN), AccessScope: scope})
	case ActDisassociate:
		_, err = c.api.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{ClusterName: cl, PrincipalArn: arn, PolicyArn: aws.String(a.Policy.ARN)})
	case ActDelete:
		_, err = c.api.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: cl, PrincipalArn: arn})
	}
	if err != nil {
		op := a.Kind + " " + a.PrincipalARN + " " + a.Detail
		switch {
		case ambiguous(err):
			// Run re-reads to learn the outcome and words the error.
			return fmt.Errorf("%s: %w", op, err)
		case a.Kind == ActCreate && IsAPIError(err, "ResourceInUseException"):
			return entryInUse{apiError(op, err)}
		}
		return apiError(op, err)
	}
	return nil
}

// Result is what current becomes once the plan has run (EKS defaults aside).
func (p Plan) Result(current []Entry) []Entry {
	byARN := map[string]*Entry{}
	var order []string
	for _, e := range current {
		c := e
		c.Policies = slices.Clone(e.Policies)
		byARN[e.PrincipalARN] = &c
		order = append(order, e.PrincipalARN)
	}
	for _, a := range p.Actions {
		e := byARN[a.PrincipalARN]
		switch a.Kind {
		case ActCreate:
			byARN[a.PrincipalARN] = &Entry{PrincipalARN: a.PrincipalARN, Type: a.Spec.Type, Username: a.Spec.Username, Groups: a.Spec.Groups}
			order = append(order, a.PrincipalARN)
		case ActUpdate:
			if e != nil {
				e.Groups = a.Spec.Groups
				if a.Spec.Username != "" {
					e.Username = a.Spec.Username
				}
			}
		case ActAssociate:
			if e != nil {
				e.Policies = append(slices.DeleteFunc(e.Policies, func(q PolicySpec) bool { return q.ARN == a.Policy.ARN }), *a.Policy)
			}
		case ActDisassociate:
			if e != nil {
				e.Policies = slices.DeleteFunc(e.Policies, func(q PolicySpec) bool { return q.ARN == a.Policy.ARN })
			}
		case ActDelete:
			delete(byARN, a.PrincipalARN)
		}
	}
	var out []Entry
	for _, arn := range order {
		if e, ok := byARN[arn]; ok {
			out = append(out, *e)
			delete(byARN, arn)
		}
	}
	return out
}
