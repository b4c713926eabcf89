package app

import (
	"bytes"
	"strings"
	"testing"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/internal/cluster"
	"github.com/iammap/iammap/mapping"
)

// printPlans says "applied" only of what the servers confirmed: a run that
// stopped counts and lists each change under what became of it.
func TestPrintPlansReportsOnlyWhatLanded(t *testing.T) {
	create := accessentry.Action{Kind: accessentry.ActCreate, PrincipalARN: "arn:aws:iam::111122223333:role/a", Detail: "type STANDARD"}
	assoc := accessentry.Action{Kind: accessentry.ActAssociate, PrincipalARN: "arn:aws:iam::111122223333:role/a", Detail: "AmazonEKSViewPolicy (cluster)"}
	other := accessentry.Action{Kind: accessentry.ActCreate, PrincipalARN: "arn:aws:iam::111122223333:role/b", Detail: "type STANDARD"}
	awsAuth := &cluster.AWSAuthPlan{Add: []mapping.Mapping{{Source: "mapRoles", ARN: "arn:aws:iam::111122223333:role/r", Username: "r"}}}
	tests := []struct {
		name      string
		plan      cluster.Plan
		write     bool
		want      []string
		wantNever []string
	}{{
		name: "diff", plan: cluster.Plan{Cluster: "c", AWSAuth: awsAuth, AccessEntries: []accessentry.Action{create}},
		want: []string{"cluster c: 2 change(s) pending\n"}, wantNever: []string{"applied"},
	}, {
		name: "dry run", plan: cluster.Plan{Cluster: "c", AWSAuth: awsAuth, AccessEntries: []accessentry.Action{create}, DryRun: true},
		want: []string{"2 change(s) pending", "note: dry run: the API server checked the aws-auth write and stored nothing", "EKS has no dry run"},
	}, {
		name: "completed", write: true, plan: cluster.Plan{Cluster: "c", AWSAuth: awsAuth, AccessEntries: []accessentry.Action{create}, Applied: true},
		want: []string{"cluster c: 2 change(s) applied\n  + aws-auth mapRoles"}, wantNever: []string{"not applied"},
	}, {
		name: "refused before any write", write: true,
		plan: cluster.Plan{Cluster: "c", AWSAuth: awsAuth, AccessEntries: []accessentry.Action{create},
			Partial: &cluster.Partial{AWSAuth: cluster.OutcomeNotApplied, AccessEntriesNotApplied: []accessentry.Action{create}}},
		want:      []string{"cluster c: 0 of 2 change(s) applied, 2 not applied\n  not applied:\n  + aws-auth mapRoles", "  + access entry create arn:aws:iam::111122223333:role/a"},
		wantNever: []string{"  applied:", "may have been"},
	}, {
		name: "stopped part way", write: true,
		plan: cluster.Plan{Cluster: "c", AWSAuth: awsAuth, AccessEntries: []accessentry.Action{create, assoc, other},
			Partial: &cluster.Partial{AWSAuth: cluster.OutcomeApplied, AccessEntriesApplied: []accessentry.Action{create},
				AccessEntriesMaybeApplied: []accessentry.Action{other}, AccessEntriesNotApplied: []accessentry.Action{assoc}}},
		want: []string{"cluster c: 2 of 4 change(s) applied, 1 may have been applied, 1 not applied\n",
			"  applied:\n  + aws-auth mapRoles arn:aws:iam::111122223333:role/r",
			"  + access entry create arn:aws:iam::111122223333:role/a: type STANDARD\n  may have been applied (sent, but the reply was lost; run apply again: it re-reads and converges):\n  + access entry create arn:aws:iam::111122223333:role/b",
			"  not applied:\n  + access entry associate arn:aws:iam::111122223333:role/a"},
	}, {
		name: "a pruned entry's hostile groups are escaped", write: true,
		plan:      cluster.Plan{Cluster: "c", Applied: true, AccessEntries: []accessentry.Action{{Kind: accessentry.ActDelete, PrincipalARN: "arn:aws:iam::111122223333:role/x", Detail: "groups [a\x1b[2K\rsystem:masters]"}}},
		want:      []string{`groups [a\x1b[2K\x0dsystem:masters]`},
		wantNever: []string{"\x1b", "\r"},
	}, {
		name: "stopped before planning", write: true, plan: cluster.Plan{Cluster: "c", Partial: &cluster.Partial{}},
		want: []string{"cluster c: nothing applied (stopped before the plan was complete)"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printPlans(&out, "text", []cluster.Plan{tt.plan}, tt.write); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.wantNever {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q:\n%s", w, out.String())
				}
			}
		})
	}
}
