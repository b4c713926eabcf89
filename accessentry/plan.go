package accessentry

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
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
type Plan struct{ Actions []Action }

// PlanFor compares the current entries with the wanted ones (which must have
// passed Validate). Entries and policy associations not wanted are removed
// only with prune.
func PlanFor(current []Entry, want []Spec, prune bool) (Plan, error) {
	byARN := map[string]Entry{}
	for _, e := range current {
		byARN[e.PrincipalARN] = e
	}
	var p Plan
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
// parallel (Concurrency at a time). It returns the actions that succeeded.
func (c *Client) Apply(ctx context.Context, p Plan) ([]Action, error) {
	groups := map[string][]Action{}
	var order []string
	for _, a := range p.Actions {
		if _, ok := groups[a.PrincipalARN]; !ok {
			order = append(order, a.PrincipalARN)
		}
		groups[a.PrincipalARN] = append(groups[a.PrincipalARN], a)
	}
	var mu sync.Mutex
	var done []Action
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(c.Concurrency, 1))
	for _, arn := range order {
		g.Go(func() error {
			for _, a := range groups[arn] {
				if err := c.do(gctx, a); err != nil {
					return err
				}
				mu.Lock()
				done = append(done, a)
				if c.Progress != nil {
					c.Progress(len(done), len(p.Actions))
				}
				mu.Unlock()
			}
			return nil
		})
	}
	err := g.Wait()
	sort.SliceStable(done, func(i, j int) bool { return done[i].PrincipalARN < done[j].PrincipalARN })
	return done, err
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
		return apiError(a.Kind+" "+a.PrincipalARN+" "+a.Detail, err)
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
