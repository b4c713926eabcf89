package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/mapping"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The aws-auth write is "applied" only when the API server confirmed it;
// a refusal is "not applied"; a write sent without an answer is "maybe".
func TestAWSAuthOutcome(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "aws-auth", errors.New("no"))
	tests := []struct {
		name string
		res  awsauth.Result
		sent bool
		err  error
		want string
	}{
		{"confirmed", awsauth.Result{Written: true}, true, nil, OutcomeApplied},
		{"guard refused before sending", awsauth.Result{}, false, errors.New("refusing a change that would lock out"), OutcomeNotApplied},
		{"RBAC refused the backup or the update", awsauth.Result{}, true, fmt.Errorf("update kube-system/aws-auth: %w", forbidden), OutcomeNotApplied},
		{"422", awsauth.Result{}, true, apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "aws-auth", nil), OutcomeNotApplied},
		{"interrupted while waiting", awsauth.Result{}, true, fmt.Errorf("update kube-system/aws-auth: %w", context.Canceled), OutcomeMaybeApplied},
		{"reply lost", awsauth.Result{}, true, errors.New("stream error: stream ID 3; INTERNAL_ERROR"), OutcomeMaybeApplied},
		{"interrupted before the write", awsauth.Result{}, false, context.Canceled, OutcomeNotApplied},
		{"reply lost, re-read: applied", awsauth.Result{Written: true, ReplyLost: true}, true, nil, OutcomeApplied},
		{"reply lost, re-read: unchanged", awsauth.Result{}, true, fmt.Errorf("update: %w", awsauth.ErrNotApplied), OutcomeNotApplied},
		{"backup failed, so the write was never sent", awsauth.Result{}, true, fmt.Errorf("update: %w", awsauth.ErrBackup), OutcomeNotApplied},
		{"reply lost, re-read cannot tell", awsauth.Result{}, true, fmt.Errorf("update: %w", awsauth.ErrOutcomeUnknown), OutcomeMaybeApplied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := awsAuthOutcome(tt.res, tt.sent, tt.err); got != tt.want {
				t.Errorf("awsAuthOutcome = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPlanTally(t *testing.T) {
	a := accessentry.Action{Kind: accessentry.ActCreate}
	awsAuth := &AWSAuthPlan{Add: []mapping.Mapping{{}, {}}}
	tests := []struct {
		name                    string
		plan                    Plan
		applied, maybe, notDone int
	}{
		{"plan only", Plan{AWSAuth: awsAuth, AccessEntries: []accessentry.Action{a}}, 0, 0, 3},
		{"applied", Plan{AWSAuth: awsAuth, AccessEntries: []accessentry.Action{a}, Applied: true}, 3, 0, 0},
		{"aws-auth landed, entry lost", Plan{AWSAuth: awsAuth, AccessEntries: []accessentry.Action{a}, Partial: &Partial{AWSAuth: OutcomeApplied, AccessEntriesMaybeApplied: []accessentry.Action{a}}}, 2, 1, 0},
		{"aws-auth maybe", Plan{AWSAuth: awsAuth, AccessEntries: []accessentry.Action{a}, Partial: &Partial{AWSAuth: OutcomeMaybeApplied, AccessEntriesNotApplied: []accessentry.Action{a}}}, 0, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			applied, maybe, notDone := tt.plan.Tally()
			if applied != tt.applied || maybe != tt.maybe || notDone != tt.notDone {
				t.Errorf("Tally = %d, %d, %d; want %d, %d, %d", applied, maybe, notDone, tt.applied, tt.maybe, tt.notDone)
			}
		})
	}
}
