package accessentry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/iammap/iammap/mapping"
)

// ErrNotFound: the access entry does not exist.
var ErrNotFound = errors.New("no such access entry")

// DefaultConcurrency bounds the parallel calls of List. EKS publishes no
// rate limits; the SDK's retryer absorbs throttling.
const DefaultConcurrency = 32

// Entry is an access entry with its associated policies; the type lives in
// package mapping with the rest of the access model.
type Entry = mapping.AccessEntry

// Client manages the access entries of one cluster.
type Client struct {
	api         API
	cluster     string
	Concurrency int
	// DryRun makes Ensure read and plan but send no write.
	DryRun bool
	// Progress, when set, is called after each action Apply completes.
	Progress func(done, total int)
	// Grace bounds how long calls already sent may go on after Apply's
	// context ends (0: DefaultGrace); see Run.
	Grace time.Duration
}

// New returns a Client for cluster.
func New(api API, cluster string) *Client {
	return &Client{api: api, cluster: cluster, Concurrency: DefaultConcurrency}
}

// apiError rewrites an SDK error into one line: operation, EKS's code and message.
func apiError(op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if ae.ErrorCode() == "ResourceNotFoundException" && strings.Contains(ae.ErrorMessage(), "principalArn") {
			return fmt.Errorf("%s: %w (EKS: %s)", op, ErrNotFound, ae.ErrorMessage())
		}
		return fmt.Errorf("%s: EKS %s: %s: %w", op, ae.ErrorCode(), ae.ErrorMessage(), errAPI)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// errAPI marks errors EKS returned, so the CLI can tell them from local ones.
var errAPI = errors.New("rejected by EKS")

// IsAPIError reports whether err came from EKS with the given code.
func IsAPIError(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// List returns every access entry with its policies, sorted by principal ARN.
// Pages are read with the SDK paginator; details are fetched concurrently as
// soon as each page arrives.
func (c *Client) List(ctx context.Context) ([]Entry, error) {
	return c.list(ctx, nil)
}

// ListSome returns, with their policies, only the entries whose principal
// ARN keep accepts, plus every entry associated with withPolicy (an ARN;
// "" for none). It costs a page walk plus details for the chosen entries,
// not 1 + 2N calls: for checks that need a few entries of a large cluster.
func (c *Client) ListSome(ctx context.Context, keep func(principalARN string) bool, withPolicy string) ([]Entry, error) {
	if keep == nil {
		keep = func(string) bool { return false }
	}
	var extra map[string]bool
	if withPolicy != "" {
		extra = map[string]bool{}
		pages := eks.NewListAccessEntriesPaginator(c.api, &eks.ListAccessEntriesInput{ClusterName: aws.String(c.cluster), AssociatedPolicyArn: aws.String(withPolicy)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, apiError("list access entries with "+PolicyName(withPolicy), err)
			}
			for _, arn := range page.AccessEntries {
				extra[arn] = true
			}
		}
	}
	return c.list(ctx, func(arn string) bool { return extra[arn] || keep(arn) })
}

// list pages through the entries and fetches the details of those keep
// accepts (all when keep is nil), concurrently.
func (c *Client) list(ctx context.Context, keep func(string) bool) ([]Entry, error) {
	g, gctx := errgroup.WithContext(ctx)
	limit := c.Concurrency
	if limit < 1 {
		limit = 1
	}
	g.SetLimit(limit + 1) // one slot for the paginator itself
	results := make(chan Entry, 256)
	g.Go(func() error {
		pages := eks.NewListAccessEntriesPaginator(c.api, &eks.ListAccessEntriesInput{ClusterName: aws.String(c.cluster)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(gctx)
			if err != nil {
				return apiError("list access entries", err)
			}
			for _, arn := range page.AccessEntries {
				if keep != nil && !keep(arn) {
					continue
				}
				g.Go(func() error {
					e, err := c.Get(gctx, arn)
					if err != nil {
						return err
					}
					results <- e
					return nil
				})
			}
		}
		return nil
	})
	var entries []Entry
	done := make(chan struct{})
	go func() {
		for e := range results {
			entries = append(entries, e)
		}
		close(done)
	}()
	err := g.Wait()
	close(results)
	<-done
	if err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].PrincipalARN < entries[j].PrincipalARN })
	return entries, nil
}

// Get returns one entry with its policies; ErrNotFound when it does not exist.
func (c *Client) Get(ctx context.Context, principalARN string) (Entry, error) {
	return c.get(ctx, principalARN)
}

// get is Get with options for each call (a re-read after a lost reply makes
// one attempt, not the retryer's ten).
func (c *Client) get(ctx context.Context, principalARN string, optFns ...func(*eks.Options)) (Entry, error) {
	g, gctx := errgroup.WithContext(ctx)
	var e Entry
	var policies []PolicySpec
	g.Go(func() error {
		out, err := c.api.DescribeAccessEntry(gctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(c.cluster), PrincipalArn: aws.String(principalARN)}, optFns...)
		if err != nil {
			return apiError("describe access entry "+principalARN, err)
		}
		e = fromSDK(out.AccessEntry)
		return nil
	})
	g.Go(func() error {
		var err error
		policies, err = c.policies(gctx, principalARN, optFns...)
		return err
	})
	if err := g.Wait(); err != nil {
		return Entry{}, err
	}
	e.Policies = policies
	return e, nil
}

func (c *Client) policies(ctx context.Context, principalARN string, optFns ...func(*eks.Options)) ([]PolicySpec, error) {
	var out []PolicySpec
	pages := eks.NewListAssociatedAccessPoliciesPaginator(c.api, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(c.cluster), PrincipalArn: aws.String(principalARN)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, optFns...)
		if err != nil {
			return nil, apiError("list access policies of "+principalARN, err)
		}
		for _, p := range page.AssociatedAccessPolicies {
			ps := PolicySpec{ARN: aws.ToString(p.PolicyArn)}
			if p.AccessScope != nil && p.AccessScope.Type == types.AccessScopeTypeNamespace {
				ps.Namespaces = p.AccessScope.Namespaces
			}
			out = append(out, ps)
		}
	}
	return out, nil
}

func fromSDK(a *types.AccessEntry) Entry {
	if a == nil {
		return Entry{}
	}
	return Entry{
		PrincipalARN: aws.ToString(a.PrincipalArn), Type: aws.ToString(a.Type), Username: aws.ToString(a.Username),
		Groups: a.KubernetesGroups, Tags: a.Tags, ARN: aws.ToString(a.AccessEntryArn),
	}
}

// Result lists what Ensure or Delete changed, in order. On error it holds
// exactly the changes that were made before the failure.
type Result struct {
	Changes []string
	// Existing is the entry as it was before, nil when it did not exist.
	Existing *Entry
}

// Ensure makes the entry for spec.PrincipalARN exist with spec's type,
// username, groups and policies (policies not in spec are left alone). It
// is idempotent: a second run changes nothing. spec must have passed Validate.
// It is the plan of one entry, so it makes exactly the calls apply would.
func (c *Client) Ensure(ctx context.Context, spec Spec) (Result, error) {
	return c.converge(ctx, spec, false)
}

// Replace is Ensure that also removes the policy associations spec does not
// list: afterwards the entry grants exactly spec, as a new aws-auth entry
// for a principal replaces what the old one granted.
func (c *Client) Replace(ctx context.Context, spec Spec) (Result, error) {
	return c.converge(ctx, spec, true)
}

func (c *Client) converge(ctx context.Context, spec Spec, prune bool) (Result, error) {
	var res Result
	var current []Entry
	cur, err := c.Get(ctx, spec.PrincipalARN)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return res, err
	default:
		// The plan matches entries by ARN: the entry read must be spec's, or
		// a pruning plan would delete it as unwanted.
		if cur.PrincipalARN != spec.PrincipalARN {
			return res, fmt.Errorf("access entry for %s came back as %s; not changing it", spec.PrincipalARN, cur.PrincipalARN)
		}
		res.Existing, current = &cur, []Entry{cur}
	}
	plan, err := PlanFor(current, []Spec{spec}, prune)
	if err != nil {
		return res, err
	}
	done := plan.Actions
	if !c.DryRun {
		done, err = c.Apply(ctx, plan)
	}
	for _, a := range done {
		res.Changes = append(res.Changes, a.String())
	}
	return res, err
}

// Delete removes an entry (EKS removes its policy associations with it).
func (c *Client) Delete(ctx context.Context, principalARN string) (Entry, error) {
	current, err := c.Get(ctx, principalARN)
	if err != nil {
		return Entry{}, err
	}
	if _, err := c.api.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(c.cluster), PrincipalArn: aws.String(principalARN)}); err != nil {
		return Entry{}, apiError("delete access entry "+principalARN, err)
	}
	return current, nil
}

// Disassociate removes one policy association.
func (c *Client) Disassociate(ctx context.Context, principalARN, policyARN string) error {
	_, err := c.api.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{ClusterName: aws.String(c.cluster), PrincipalArn: aws.String(principalARN), PolicyArn: aws.String(policyARN)})
	if err != nil {
		return apiError(fmt.Sprintf("disassociate %s from %s", PolicyName(policyARN), principalARN), err)
	}
	return nil
}

// AvailablePolicies lists the access policies EKS offers.
func (c *Client) AvailablePolicies(ctx context.Context) ([]types.AccessPolicy, error) {
	var out []types.AccessPolicy
	pages := eks.NewListAccessPoliciesPaginator(c.api, &eks.ListAccessPoliciesInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, apiError("list access policies", err)
		}
		out = append(out, page.AccessPolicies...)
	}
	return out, nil
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

// orDefault is v, or def when v is empty.
func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
