package migrate

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/smithy-go"

	"github.com/iammap/iammap/accessentry"
)

// fakeEKS accepts every write but those for the principal in refuse.
type fakeEKS struct {
	accessentry.API // nil: any other call panics
	refuse          string
	mu              sync.Mutex
	calls           []string
}

func (f *fakeEKS) call(kind, arn string) error {
	f.mu.Lock()
	f.calls = append(f.calls, kind+" "+arn)
	f.mu.Unlock()
	if arn == f.refuse {
		return &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not allowed"}
	}
	return nil
}

func (f *fakeEKS) CreateAccessEntry(_ context.Context, in *eks.CreateAccessEntryInput, _ ...func(*eks.Options)) (*eks.CreateAccessEntryOutput, error) {
	return &eks.CreateAccessEntryOutput{}, f.call("create", *in.PrincipalArn)
}

func (f *fakeEKS) AssociateAccessPolicy(_ context.Context, in *eks.AssociateAccessPolicyInput, _ ...func(*eks.Options)) (*eks.AssociateAccessPolicyOutput, error) {
	return &eks.AssociateAccessPolicyOutput{}, f.call("associate", *in.PrincipalArn)
}

func TestApplyHooks(t *testing.T) {
	const (
		admin = "arn:aws:iam::111122223333:role/Admin"
		dev   = "arn:aws:iam::111122223333:role/dev"
		bad   = "arn:aws:iam::111122223333:role/refused"
	)
	specs := []accessentry.Spec{
		{PrincipalARN: admin, Type: "STANDARD", Username: "admin", Policies: []accessentry.PolicySpec{{ARN: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"}}},
		{PrincipalARN: dev, Type: "STANDARD", Username: "dev", Groups: []string{"developers"}},
	}
	plan, err := accessentry.PlanFor(nil, specs, false)
	if err != nil {
		t.Fatal(err)
	}

	type result struct {
		status string
		err    error
	}
	run := func(t *testing.T, fake *fakeEKS, p accessentry.Plan) ([]accessentry.Action, error, []string, map[string]result) {
		c := accessentry.New(fake, "c")
		var mu sync.Mutex
		var started []string
		got := map[string]result{}
		done, err := Apply(context.Background(), c, p, Hooks{
			Start: func(arn string) { mu.Lock(); started = append(started, arn); mu.Unlock() },
			Done: func(arn string, done []accessentry.Action, err error, took time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				if took < 0 {
					t.Errorf("%s took %v", arn, took)
				}
				got[arn] = result{Status(done), err}
			},
		})
		return done, err, started, got
	}

	t.Run("all made", func(t *testing.T) {
		done, err, started, got := run(t, &fakeEKS{}, plan)
		if err != nil {
			t.Fatal(err)
		}
		if len(done) != 3 || done[0].PrincipalARN != admin || done[2].PrincipalARN != dev {
			t.Errorf("done = %v", done)
		}
		if len(started) != 2 {
			t.Errorf("started %v", started)
		}
		if r := got[admin]; r.err != nil || r.status != "created, associated AmazonEKSClusterAdminPolicy (cluster)" {
			t.Errorf("admin: %+v", r)
		}
		if r := got[dev]; r.err != nil || r.status != "created" {
			t.Errorf("dev: %+v", r)
		}
	})

	t.Run("one refused", func(t *testing.T) {
		p := plan
		p.Actions = append([]accessentry.Action{{Kind: accessentry.ActCreate, PrincipalARN: bad, Spec: &accessentry.Spec{PrincipalARN: bad, Type: "STANDARD"}}}, plan.Actions...)
		fake := &fakeEKS{refuse: bad}
		c := accessentry.New(fake, "c")
		c.Concurrency = 1 // the refusal first: nothing after it is sent
		var mu sync.Mutex
		got := map[string]result{}
		done, err := Apply(context.Background(), c, p, Hooks{Done: func(arn string, done []accessentry.Action, err error, _ time.Duration) {
			mu.Lock()
			got[arn] = result{Status(done), err}
			mu.Unlock()
		}})
		if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
			t.Fatalf("err = %v", err)
		}
		if len(done) != 0 || len(fake.calls) != 1 {
			t.Errorf("done %v, calls %v", done, fake.calls)
		}
		if r := got[bad]; r.err == nil || len(got) != 1 {
			t.Errorf("hooks heard %+v", got)
		}
	})
}

func TestApplyStoppedContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	plan, err := accessentry.PlanFor(nil, []accessentry.Spec{{PrincipalARN: "arn:aws:iam::111122223333:role/a", Type: "STANDARD"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeEKS{}
	done, err := Apply(ctx, accessentry.New(fake, "c"), plan, Hooks{})
	if err == nil || len(done) != 0 || len(fake.calls) != 0 {
		t.Errorf("done %v, err %v, calls %v", done, err, fake.calls)
	}
}
