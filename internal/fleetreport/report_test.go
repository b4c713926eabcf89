package fleetreport

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/internal/cluster"
	"github.com/iammap/iammap/internal/fleet"
)

func describeAs(err error, _ Row) (string, string) { return err.Error(), "a hint" }

// Finish says what became of each cluster: a write that stopped after some
// changes landed is partial (never plain failed), an interrupted one is
// interrupted, one never started is not-run; the summary counts them apart.
func TestFinishAndSummarize(t *testing.T) {
	a := accessentry.Action{Kind: accessentry.ActCreate}
	stoppedPlan := cluster.Plan{AccessEntries: []accessentry.Action{a, a}, Partial: &cluster.Partial{AccessEntriesApplied: []accessentry.Action{a}, AccessEntriesNotApplied: []accessentry.Action{a}}}
	pendingPlan := cluster.Plan{AccessEntries: []accessentry.Action{a, a, a}}
	row := func(p cluster.Plan, write bool) Row {
		var r Row
		r.Tally(p, write)
		return r
	}
	interrupted := row(cluster.Plan{}, true)
	interrupted.WasInterrupted = true
	results := []fleet.Result[Row]{
		{Cluster: fleet.Cluster{Name: "pending"}, Value: row(pendingPlan, false), Ran: true, Duration: 1500 * time.Millisecond},
		{Cluster: fleet.Cluster{Name: "partial"}, Value: row(stoppedPlan, true), Ran: true, Err: errors.New("EKS refused")},
		{Cluster: fleet.Cluster{Name: "failed", Region: "eu-west-1"}, Ran: true, Err: errors.New("unreachable")},
		{Cluster: fleet.Cluster{Name: "interrupted"}, Value: interrupted, Ran: true, Err: context.Canceled},
		{Cluster: fleet.Cluster{Name: "never"}, Err: errors.New("not run: context canceled")},
	}
	var rows []Row
	for _, res := range results {
		rows = append(rows, Finish(res, describeAs))
	}
	want := []struct{ status, result string }{
		{Pending, "3 change(s) pending"},
		{Partial, "partial: 1 applied, 1 not applied: EKS refused"},
		{Failed, "failed: unreachable"},
		{Interrupted, "interrupted: context canceled"},
		{NotRun, "not run"},
	}
	for i, w := range want {
		if rows[i].Status != w.status || rows[i].Result() != w.result {
			t.Errorf("%s: status %q, result %q; want %q, %q", rows[i].Cluster, rows[i].Status, rows[i].Result(), w.status, w.result)
		}
	}
	if rows[2].Region != "eu-west-1" || rows[0].Seconds != 1.5 || rows[1].Hint != "a hint" {
		t.Errorf("rows lost the file's region, the duration or the hint: %+v", rows)
	}
	s := Summarize(rows)
	if s != (Summary{Clusters: 5, Failed: 2, Interrupted: 1, NotRun: 1, WithChanges: 2, Pending: 4, Applied: 1}) {
		t.Errorf("summary %+v", s)
	}
	failed, inter, notRun := Report{Clusters: rows}.Unfinished()
	if strings.Join(failed, ",") != "partial,failed" || strings.Join(inter, ",") != "interrupted" || strings.Join(notRun, ",") != "never" {
		t.Errorf("unfinished: %v %v %v", failed, inter, notRun)
	}
	var out bytes.Buffer
	if err := (Report{Command: "apply", Clusters: rows, Summary: s}).WriteTable(&out, false); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"CLUSTER      ACCOUNT  REGION     MODE  RESULT",
		"failed: error: unreachable",
		"failed: hint: a hint",
		"5 cluster(s): 1 done, 1 change(s) applied, 4 not applied, 2 failed, 1 interrupted, 1 not run",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("table lacks %q:\n%s", line, out.String())
		}
	}
	if strings.Contains(out.String(), "never: error") {
		t.Errorf("a cluster never run has no error line:\n%s", out.String())
	}
}
