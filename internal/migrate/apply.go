package migrate

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/iammap/iammap/accessentry"
)

// Hooks hear of each principal while [Apply] works: Start when its first
// write is sent, Done when its last ended, with the writes made and the
// error that stopped it, if any. Either may be nil; both may be called from
// several goroutines at once.
type Hooks struct {
	Start func(principal string)
	Done  func(principal string, done []accessentry.Action, err error, took time.Duration)
}

// Apply runs p as c.Apply does (a principal's writes in order, principals in
// parallel, c.Concurrency at a time, no new write after the first failure)
// and returns the writes made, sorted by principal, and the first failure;
// it tells h of each principal as it starts and ends.
func Apply(ctx context.Context, c *accessentry.Client, p accessentry.Plan, h Hooks) ([]accessentry.Action, error) {
	groups := map[string][]accessentry.Action{}
	var order []string
	for _, a := range p.Actions {
		if _, ok := groups[a.PrincipalARN]; !ok {
			order = append(order, a.PrincipalARN)
		}
		groups[a.PrincipalARN] = append(groups[a.PrincipalARN], a)
	}
	results := make([][]accessentry.Action, len(order))
	var skipped atomic.Bool
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(c.Concurrency, 1))
	for i, arn := range order {
		g.Go(func() error {
			if gctx.Err() != nil {
				// Stopped before this principal's turn: as c.Apply, no
				// write and no error of its own.
				skipped.Store(true)
				return nil
			}
			if h.Start != nil {
				h.Start(arn)
			}
			start := time.Now()
			out, err := c.Run(gctx, accessentry.Plan{Actions: groups[arn], Prune: p.Prune})
			results[i] = out.Done
			if h.Done != nil {
				h.Done(arn, out.Done, err, time.Since(start))
			}
			return err
		})
	}
	err := g.Wait()
	if err == nil && skipped.Load() && ctx.Err() != nil {
		err = fmt.Errorf("access entries: stopped before the end: %w", context.Cause(ctx))
	}
	var done []accessentry.Action
	for _, r := range results {
		done = append(done, r...)
	}
	sort.SliceStable(done, func(i, j int) bool { return done[i].PrincipalARN < done[j].PrincipalARN })
	return done, err
}

// Status says in a few words what a principal's writes did ("created,
// associated AmazonEKSClusterAdminPolicy (cluster)"), for a progress line.
func Status(done []accessentry.Action) string {
	if len(done) == 0 {
		return "nothing written"
	}
	var parts []string
	for _, a := range done {
		switch a.Kind {
		case accessentry.ActCreate:
			parts = append(parts, "created")
		case accessentry.ActUpdate:
			parts = append(parts, "updated")
		case accessentry.ActDelete:
			parts = append(parts, "deleted")
		default:
			parts = append(parts, a.Kind+"d "+a.Detail)
		}
	}
	return strings.Join(parts, ", ")
}
