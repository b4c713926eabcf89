package app

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/iammap/iammap/awsauth"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestDescribeWriteOutcome(t *testing.T) {
	// The lost reply is often a 5xx status, which has a hint of its own;
	// the outcome's hint must win.
	lost := apierrors.NewInternalError(errors.New("stream error: stream ID 5; INTERNAL_ERROR"))
	tests := []struct {
		err  error
		hint string
	}{
		{fmt.Errorf("update kube-system/aws-auth: %w (re-read failed): %w", awsauth.ErrOutcomeUnknown, lost), "run `iammap get` to check; re-running the same command is safe"},
		{fmt.Errorf("update kube-system/aws-auth: %w: %w", awsauth.ErrNotApplied, lost), "nothing was written; run the command again"},
	}
	for _, tt := range tests {
		if _, hint := describe(tt.err); !strings.Contains(hint, tt.hint) {
			t.Errorf("describe(%v) hint = %q, want %q", tt.err, hint, tt.hint)
		}
	}
}

func TestPickBackup(t *testing.T) {
	ok, bad := awsauth.Backup{Name: "ok"}, awsauth.Backup{Name: "bad", Problem: "time in the future"}
	tests := []struct {
		name    string
		backups []awsauth.Backup
		to      int
		set     bool
		want    int
		wantErr string
	}{
		{"default skips an unverified newest", []awsauth.Backup{bad, ok}, 0, false, 2, ""},
		{"default is the newest verified", []awsauth.Backup{ok, bad, ok}, 0, false, 1, ""},
		{"--to picks even an unverified one (refused later without --force)", []awsauth.Backup{bad, ok}, 1, true, 1, ""},
		{"--to out of range", []awsauth.Backup{ok}, 2, true, 0, "no backup 2"},
		{"none verified", []awsauth.Backup{bad}, 0, false, 0, "none of the 1 backups"},
		{"no backups", nil, 0, false, 0, "no backups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pickBackup(tt.backups, tt.to, tt.set)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("pickBackup = %d, %v, want %d", got, err, tt.want)
			}
		})
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:iam::111122223333:role/admin": "arn:aws:iam::111122223333:role/admin",
		"admin\x1b[2K\rroot":                   `admin\x1b[2K\rroot`,
		"a\nb":                                 `a\nb`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}
