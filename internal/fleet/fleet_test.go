package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var fleet = []Cluster{{"prod-eu", "eu-west-1"}, {"prod-us", "us-east-1"}, {"staging", "us-east-1"}, {"dev", "us-west-2"}}

func TestSelect(t *testing.T) {
	tests := []struct {
		selection string
		want      string
		wantErr   string
	}{
		{"", "prod-eu,prod-us,staging,dev", ""},
		{"staging", "staging", ""},
		{"prod-*", "prod-eu,prod-us", ""},
		{"dev, prod-eu", "prod-eu,dev", ""}, // the file's order, not the selection's
		{"prod-*,prod-eu", "prod-eu,prod-us", ""},
		{"prod", "", `no cluster matches "prod" among prod-eu, prod-us, staging, dev`},
		{"[", "", "syntax error in pattern"},
		{" , ", "", `the selection " , " names no cluster`},
	}
	for _, tt := range tests {
		t.Run(tt.selection, func(t *testing.T) {
			got, err := Select(fleet, tt.selection)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Select(%q) err = %v, want %q", tt.selection, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, c := range got {
				names = append(names, c.Name)
			}
			if strings.Join(names, ",") != tt.want {
				t.Errorf("Select(%q) = %v, want %s", tt.selection, names, tt.want)
			}
		})
	}
}

func TestRunKeepsOrderAndBoundsConcurrency(t *testing.T) {
	var clusters []Cluster
	for i := range 40 {
		clusters = append(clusters, Cluster{Name: fmt.Sprintf("c%02d", i)})
	}
	var running, peak atomic.Int32
	var heard atomic.Int32
	results := Run(context.Background(), clusters, 5, func(_ context.Context, c Cluster) (string, error) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		// Later clusters finish first, so order comes from Run, not timing.
		var i int
		fmt.Sscanf(c.Name, "c%d", &i)
		time.Sleep(time.Duration(40-i) * time.Millisecond)
		running.Add(-1)
		return "done " + c.Name, nil
	}, func(Result[string]) { heard.Add(1) })
	if p := peak.Load(); p > 5 || p < 2 {
		t.Errorf("peak concurrency = %d, want 2..5", p)
	}
	if heard.Load() != 40 {
		t.Errorf("done heard %d results, want 40", heard.Load())
	}
	for i, r := range results {
		if r.Cluster != clusters[i] || r.Value != "done "+clusters[i].Name || !r.Ran || r.Err != nil {
			t.Fatalf("result %d = %+v", i, r)
		}
	}
}

func TestRunIsolatesFailuresAndPanics(t *testing.T) {
	results := Run(context.Background(), fleet, 2, func(_ context.Context, c Cluster) (int, error) {
		switch c.Name {
		case "prod-us":
			return 0, errors.New("unreachable")
		case "staging":
			panic("boom")
		}
		return 1, nil
	}, nil)
	if Failed(results) != 2 {
		t.Errorf("failed = %d, want 2", Failed(results))
	}
	if results[0].Value != 1 || results[3].Value != 1 || results[0].Err != nil || results[3].Err != nil {
		t.Errorf("healthy clusters were affected: %+v, %+v", results[0], results[3])
	}
	if results[1].Err == nil || results[1].Err.Error() != "unreachable" {
		t.Errorf("prod-us err = %v", results[1].Err)
	}
	if results[2].Err == nil || !strings.Contains(results[2].Err.Error(), "internal error on cluster staging: boom") {
		t.Errorf("staging err = %v, want the panic as its error", results[2].Err)
	}
}

func TestRunAfterCancelStartsNothingMore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var started atomic.Int32
	results := Run(ctx, fleet, 1, func(ctx context.Context, c Cluster) (bool, error) {
		started.Add(1)
		cancel() // the first cluster cancels the run
		return true, nil
	}, nil)
	if started.Load() != 1 {
		t.Fatalf("%d clusters started after cancel, want 1", started.Load())
	}
	if !results[0].Ran || results[0].Err != nil {
		t.Errorf("first result = %+v", results[0])
	}
	for _, r := range results[1:] {
		if r.Ran || !errors.Is(r.Err, context.Canceled) || !strings.HasPrefix(r.Err.Error(), "not run") {
			t.Errorf("%s = %+v, want not run", r.Cluster.Name, r)
		}
	}
}

// After MaxFailures clusters failed, no further cluster starts; those
// already running finish.
func TestRunWithinStopsStartingAfterMaxFailures(t *testing.T) {
	clusters := []Cluster{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"}}
	var ran []string
	results := RunWithin(context.Background(), clusters, Limits{Parallel: 1, MaxFailures: 2}, func(_ context.Context, c Cluster) (int, error) {
		ran = append(ran, c.Name)
		if c.Name == "a" || c.Name == "c" {
			return 0, errors.New("broken")
		}
		return 1, nil
	}, nil)
	if strings.Join(ran, ",") != "a,b,c" {
		t.Errorf("ran %v; want a, b, c and nothing after the second failure", ran)
	}
	for _, r := range results[3:] {
		if r.Ran || !errors.Is(r.Err, ErrTooManyFailures) {
			t.Errorf("%s: ran %v, err %v; want not run with ErrTooManyFailures", r.Cluster.Name, r.Ran, r.Err)
		}
	}
	if Failed(results) != 4 {
		t.Errorf("Failed = %d, want 4 (2 failed, 2 not run)", Failed(results))
	}
}
