package accessentry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/iammap/iammap/internal/devstack/eksemu"
	"github.com/iammap/iammap/internal/devstack/eksfault"
)

// behindProxy starts the emulator with cluster c1 behind a fault proxy and
// returns a client through the proxy (making attempts tries per call), the
// proxy, and a client straight to the emulator for checking what it holds.
func behindProxy(t *testing.T, attempts int) (*Client, *eksfault.Proxy, *Client) {
	t.Helper()
	emu := eksemu.New(eksemu.Options{})
	emu.AddCluster(apiMode("c1"))
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	proxy := eksfault.New(t, srv.URL)
	client := func(endpoint string) *Client {
		return New(eks.New(eks.Options{
			Region:       "us-west-2",
			BaseEndpoint: aws.String(endpoint),
			Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
			Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.RateLimiter = ratelimit.None
				o.MaxBackoff = 50 * time.Millisecond
			}),
		}), "c1")
	}
	return client(proxy.URL), proxy, client(srv.URL)
}

func principalSpec(t *testing.T, name string, policies ...string) Spec {
	t.Helper()
	s := Spec{PrincipalARN: "arn:aws:iam::111122223333:role/" + name, Groups: []string{"devs"}}
	for _, p := range policies {
		s.Policies = append(s.Policies, PolicySpec{ARN: p})
	}
	spec, _, err := Validate(s, acct, "aws")
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func createPlan(t *testing.T, names ...string) Plan {
	t.Helper()
	var specs []Spec
	for _, n := range names {
		specs = append(specs, principalSpec(t, n))
	}
	p, err := PlanFor(nil, specs, false)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func held(t *testing.T, direct *Client) int {
	t.Helper()
	entries, err := direct.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// A failure of one principal stops new calls, but the calls already sent
// land on EKS: Run must wait for them and count them, not cancel them and
// report them as not made.
func TestRunCountsCallsInFlightWhenASiblingFails(t *testing.T) {
	c, proxy, direct := behindProxy(t, 3)
	c.Concurrency = 8
	// The refusal comes once the other calls are under way; their replies
	// come after it.
	proxy.Add(eksfault.Fault{Op: eksfault.CreateAccessEntry, Principal: "role/bad", Status: http.StatusBadRequest, Code: "InvalidParameterException", DelayReply: 200 * time.Millisecond})
	proxy.Add(eksfault.Fault{Op: eksfault.CreateAccessEntry, DelayReply: 600 * time.Millisecond})
	// No re-read can rescue a call cut short: only its reply counts it.
	proxy.Add(eksfault.Fault{Op: eksfault.DescribeAccessEntry, Status: http.StatusInternalServerError, Code: "ServerException"})
	plan := createPlan(t, "a", "b", "bad", "c", "d", "e", "f", "g")
	out, err := c.Run(context.Background(), plan)
	if err == nil || !IsAPIError(err, "InvalidParameterException") && !strings.Contains(err.Error(), "InvalidParameterException") {
		t.Fatalf("Run: %v, want EKS's InvalidParameterException", err)
	}
	// Usually all 7 others are in flight when the refusal comes; on a
	// loaded machine some may not have started, and are not started after.
	if n := held(t, direct); len(out.Done) != n || n == 0 {
		t.Errorf("Run reported %d change(s) made; EKS holds %d entries (want the same, and some)", len(out.Done), n)
	}
	if !slices.ContainsFunc(out.NotDone, func(a Action) bool { return a.PrincipalARN == "arn:aws:iam::111122223333:role/bad" }) ||
		len(out.Uncertain) != 0 || len(out.Done)+len(out.NotDone) != 8 {
		t.Errorf("done %d, not done %v, uncertain %v; want role/bad not done and every action in one list", len(out.Done), out.NotDone, out.Uncertain)
	}
}

// An interrupt (ctx cancelled) starts no new call, lets the calls in flight
// finish within the grace period, and reports exactly what EKS holds.
func TestRunInterruptedCountsWhatLanded(t *testing.T) {
	c, proxy, direct := behindProxy(t, 3)
	c.Concurrency = 2
	proxy.Add(eksfault.Fault{Op: eksfault.CreateAccessEntry, DelayReply: 500 * time.Millisecond})
	proxy.Add(eksfault.Fault{Op: eksfault.DescribeAccessEntry, Status: http.StatusInternalServerError, Code: "ServerException"})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	out, err := c.Run(ctx, createPlan(t, "a", "b", "c", "d", "e"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	n := held(t, direct)
	if len(out.Done) != n || n == 0 {
		t.Errorf("Run reported %d change(s) made; EKS holds %d entries (want the same: the calls in flight)", len(out.Done), n)
	}
	if len(out.NotDone) != 5-n || len(out.Uncertain) != 0 {
		t.Errorf("not done %d (want %d), uncertain %v", len(out.NotDone), 5-n, out.Uncertain)
	}
}

// A call that outlasts the grace period after an interrupt is cut; the re-read finds
// the change in place, so it is counted, and Run ends promptly.
func TestRunCutsACallAfterGraceAndReReads(t *testing.T) {
	c, proxy, direct := behindProxy(t, 3)
	c.Grace = 200 * time.Millisecond
	proxy.Add(eksfault.Fault{Op: eksfault.CreateAccessEntry, DelayReply: 30 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	out, err := c.Run(ctx, createPlan(t, "slow"))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %s after the interrupt; want about the grace period", d)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
	if len(out.Done) != 1 || held(t, direct) != 1 {
		t.Errorf("done %v; EKS holds %d; want the create counted", out.Done, held(t, direct))
	}
}

// meetAPI holds the first n DescribeAccessEntry replies until all n have
// come back: n writers all read before any of them writes.
type meetAPI struct {
	API
	mu   sync.Mutex
	left int
	all  chan struct{}
}

func (m *meetAPI) DescribeAccessEntry(ctx context.Context, in *eks.DescribeAccessEntryInput, optFns ...func(*eks.Options)) (*eks.DescribeAccessEntryOutput, error) {
	out, err := m.API.DescribeAccessEntry(ctx, in, optFns...)
	m.mu.Lock()
	wait := m.left > 0
	if wait {
		if m.left--; m.left == 0 {
			close(m.all)
		}
	}
	m.mu.Unlock()
	if wait {
		<-m.all
	}
	return out, err
}

// Two writers ensuring the same entry at once both read "absent" and both
// create; the loser's ResourceInUseException must converge, not fail.
func TestConcurrentEnsureOfOneEntryBothConverge(t *testing.T) {
	c, proxy, direct := behindProxy(t, 3)
	c.api = &meetAPI{API: c.api, left: 2, all: make(chan struct{})}
	spec := principalSpec(t, "shared", "AmazonEKSViewPolicy")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { _, errs[i] = c.Ensure(context.Background(), spec) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if n := proxy.Forwarded(eksfault.CreateAccessEntry); n != 2 {
		t.Fatalf("%d creates reached EKS; the test needs both writers to create", n)
	}
	got, err := direct.Get(context.Background(), spec.PrincipalARN)
	if err != nil || !sameSet(got.Groups, spec.Groups) || len(got.Policies) != 1 {
		t.Errorf("entry after both writers: %+v, %v; want groups %v and one policy", got, err, spec.Groups)
	}
	again, err := direct.Ensure(context.Background(), spec)
	if err != nil || len(again.Changes) != 0 {
		t.Errorf("third Ensure: %v, %v; want converged", again.Changes, err)
	}
}

// What Run reports when EKS's reply to a create is lost, or EKS refuses it.
func TestRunReportsTheOutcomeOfALostReply(t *testing.T) {
	tests := []struct {
		name       string
		attempts   int
		faults     []eksfault.Fault
		wantErr    bool
		wantMaybe  bool
		wantDone   int
		wantHeld   int
		wantAnswer string
	}{{
		// The SDK's retry carries the first attempt's client request
		// token, so EKS answers it as it answered the first.
		name: "the SDK retries with the same request token: made", attempts: 3,
		faults:   []eksfault.Fault{{Op: eksfault.CreateAccessEntry, DropReply: true, Times: 1}},
		wantDone: 2, wantHeld: 1,
	}, {
		name: "no retry, a re-read finds the entry: counted as made", attempts: 1,
		faults:   []eksfault.Fault{{Op: eksfault.CreateAccessEntry, DropReply: true, Times: 1}},
		wantDone: 2, wantHeld: 1,
	}, {
		name: "no retry, the re-read fails too: may have been applied", attempts: 1,
		faults: []eksfault.Fault{
			{Op: eksfault.CreateAccessEntry, DropReply: true, Times: 1},
			{Op: eksfault.DescribeAccessEntry, Status: http.StatusInternalServerError, Code: "ServerException"},
		},
		wantErr: true, wantMaybe: true, wantHeld: 1, wantAnswer: "may have been applied",
	}, {
		name: "EKS refuses: not applied, not ambiguous", attempts: 1,
		faults:  []eksfault.Fault{{Op: eksfault.CreateAccessEntry, Status: http.StatusBadRequest, Code: "InvalidParameterException"}},
		wantErr: true, wantHeld: 0, wantAnswer: "InvalidParameterException",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, proxy, direct := behindProxy(t, tt.attempts)
			for _, f := range tt.faults {
				proxy.Add(f)
			}
			spec := principalSpec(t, "lost", "AmazonEKSViewPolicy")
			plan, err := PlanFor(nil, []Spec{spec}, false)
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.Run(context.Background(), plan)
			if (err != nil) != tt.wantErr || errors.Is(err, ErrMaybeApplied) != tt.wantMaybe || (err != nil && !strings.Contains(err.Error(), tt.wantAnswer)) {
				t.Fatalf("Run: %v; want error %v, may have been applied %v, mentioning %q", err, tt.wantErr, tt.wantMaybe, tt.wantAnswer)
			}
			if len(out.Done) != tt.wantDone || (len(out.Uncertain) == 1) != tt.wantMaybe || held(t, direct) != tt.wantHeld {
				t.Errorf("done %d (want %d), uncertain %v, EKS holds %d (want %d)", len(out.Done), tt.wantDone, out.Uncertain, held(t, direct), tt.wantHeld)
			}
			if total := len(out.Done) + len(out.Uncertain) + len(out.NotDone); err != nil && total != len(plan.Actions) {
				t.Errorf("outcome lists %d actions, plan has %d", total, len(plan.Actions))
			}
			// Whatever happened, running the plan's spec again converges.
			proxy.Clear()
			if _, err := c.Ensure(context.Background(), spec); err != nil {
				t.Errorf("Ensure after the fault: %v", err)
			}
			if again, err := c.Ensure(context.Background(), spec); err != nil || len(again.Changes) != 0 {
				t.Errorf("second Ensure: %v, %v; want no changes", again.Changes, err)
			}
		})
	}
}
