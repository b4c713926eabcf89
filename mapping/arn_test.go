package mapping

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePrincipal(t *testing.T) {
	tests := []struct {
		in          string
		wantARN     string
		wantKind    PrincipalKind
		wantRewrite string // substring of the rewrite reason; "" means no rewrite
		wantErr     string // substring of the error; "" means success
	}{
		{in: "arn:aws:iam::111122223333:role/Admin", wantARN: "arn:aws:iam::111122223333:role/Admin", wantKind: KindRole},
		{in: "arn:aws:iam::111122223333:role/team/dev/Admin", wantARN: "arn:aws:iam::111122223333:role/Admin", wantKind: KindRole, wantRewrite: "path /team/dev/"},
		{in: "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd", wantARN: "arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_0123abcd", wantKind: KindRole, wantRewrite: "Identity Center"},
		{in: "arn:aws:sts::111122223333:assumed-role/Admin/alice@example.com", wantARN: "arn:aws:iam::111122223333:role/Admin", wantKind: KindRole, wantRewrite: "session"},
		{in: "arn:aws:iam::111122223333:user/alice", wantARN: "arn:aws:iam::111122223333:user/alice", wantKind: KindUser},
		{in: "arn:aws:iam::111122223333:user/ops/alice", wantARN: "arn:aws:iam::111122223333:user/ops/alice", wantKind: KindUser},
		{in: "arn:aws:iam::111122223333:user/a//b/alice", wantARN: "arn:aws:iam::111122223333:user/a//b/alice", wantKind: KindUser},
		{in: "arn:aws-cn:iam::111122223333:role/r", wantARN: "arn:aws-cn:iam::111122223333:role/r", wantKind: KindRole},
		{in: "arn:aws-us-gov:iam::111122223333:user/u", wantARN: "arn:aws-us-gov:iam::111122223333:user/u", wantKind: KindUser},
		{in: "arn:aws-iso:iam::111122223333:role/r", wantARN: "arn:aws-iso:iam::111122223333:role/r", wantKind: KindRole},
		{in: "arn:aws-iso-b:sts::111122223333:assumed-role/r/s", wantARN: "arn:aws-iso-b:iam::111122223333:role/r", wantKind: KindRole, wantRewrite: "session"},
		{in: "arn:aws-iso-e:iam::111122223333:role/r", wantARN: "arn:aws-iso-e:iam::111122223333:role/r", wantKind: KindRole},
		{in: "arn:aws:iam::111122223333:root", wantARN: "arn:aws:iam::111122223333:root", wantKind: KindRoot},
		{in: "arn:aws:sts::111122223333:federated-user/bob", wantARN: "arn:aws:sts::111122223333:federated-user/bob", wantKind: KindFederatedUser},
		{in: "arn:aws:iam::111122223333:root/x", wantErr: "ends in :root"},
		{in: "arn:aws:sts::111122223333:federated-user/", wantErr: "empty federated user name"},
		{in: "arn:aws:iam::111122223333:group/admins", wantErr: "groups cannot authenticate"},
		{in: "arn:aws:iam::111122223333:role/", wantErr: "empty role name"},
		{in: "arn:aws:iam::111122223333:user/ops/", wantErr: "empty user name"},
		{in: "arn:aws:sts::111122223333:assumed-role/Admin", wantErr: "assumed-role/ROLE/SESSION"},
		{in: "arn:aws:iam::11112222333:role/r", wantErr: "not 12 digits"},
		{in: "arn:aws:iam:us-east-1:111122223333:role/r", wantErr: "no region"},
		{in: "arn:azure:iam::111122223333:role/r", wantErr: "unknown partition"},
		{in: "arn:aws:s3:::bucket", wantErr: "not 12 digits"},
		{in: "arn:aws:ec2::111122223333:instance/i-1", wantErr: "not iam or sts"},
		{in: "arn:aws:iam::111122223333:policy/p", wantErr: "not role, user or root"},
		{in: "role/Admin", wantErr: "want arn:PARTITION"},
		{in: "", wantErr: "empty"},
		{in: " arn:aws:iam::111122223333:role/r", wantErr: "whitespace"},
		{in: "arn:aws:iam::111122223333:role/bad name", wantErr: "characters IAM does not allow"},
		{in: "arn:aws:iam::111122223333:role/" + strings.Repeat("a", 65), wantErr: "longer than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, rw, err := ParsePrincipal(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidARN) {
					t.Fatalf("err = %v, want ErrInvalidARN mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.ARN != tt.wantARN || p.Kind != tt.wantKind {
				t.Errorf("got %s %s, want %s %s", p.Kind, p.ARN, tt.wantKind, tt.wantARN)
			}
			switch {
			case tt.wantRewrite == "" && len(rw) != 0:
				t.Errorf("unexpected rewrite %v", rw)
			case tt.wantRewrite != "" && (len(rw) != 1 || !strings.Contains(rw[0].Reason, tt.wantRewrite) || rw[0].From != tt.in || rw[0].To != tt.wantARN):
				t.Errorf("rewrite = %+v, want reason with %q", rw, tt.wantRewrite)
			}
		})
	}
}

func TestPrincipalKey(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:iam::111122223333:role/team/Dev":           "arn:aws:iam::111122223333:role/dev",
		"ARN:AWS:IAM::111122223333:ROLE/Dev":                "arn:aws:iam::111122223333:role/dev",
		"arn:aws:sts::111122223333:assumed-role/Dev/alice":  "arn:aws:iam::111122223333:role/dev",
		"arn:aws:iam::111122223333:user/Ops/Alice":          "arn:aws:iam::111122223333:user/ops/alice",
		"arn:aws:iam::111122223333:role/AWSReservedSSO_A_*": "arn:aws:iam::111122223333:role/awsreservedsso_a_*",
	} {
		if got := PrincipalKey(in); got != want {
			t.Errorf("PrincipalKey(%q) = %q, want %q", in, got, want)
		}
	}
}
