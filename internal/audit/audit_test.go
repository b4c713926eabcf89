package audit

import (
	"context"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/devstack/iamemu"
)

func fixture(t *testing.T, name string) *awsauth.Document {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	d, err := awsauth.DecodeManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func localIAM(t *testing.T) IAM {
	emu, err := iamemu.New("arn:aws:iam::111122223333:role/team/Pathy", "arn:aws:iam::111122223333:role/dev", "arn:aws:iam::111122223333:role/mis",
		"arn:aws:iam::111122223333:role/tmpl", "arn:aws:iam::111122223333:role/overridden", "arn:aws:iam::111122223333:user/admin",
		"arn:aws:iam::111122223333:role/nodes", "arn:aws:iam::111122223333:role/Admin", "arn:aws:iam::111122223333:user/varied")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("AKID", "s", "")})
}

var bound = map[string]bool{"viewers": true, "developers": true}

func TestEveryFindingOnceWithItsSeverity(t *testing.T) {
	findings := Run(context.Background(), Input{
		Mode: "API_AND_CONFIG_MAP", AWSAuth: fixture(t, "every-finding.yaml"), BoundGroups: bound, IAM: localIAM(t), Account: "111122223333",
		Entries: []accessentry.Entry{{PrincipalARN: "arn:aws:iam::111122223333:role/overridden", Type: "STANDARD"}},
	})
	want := map[string]string{
		"never-matches": Error, "assumed-role-arn": Error, "misindented-groups": Error, "missing-principal": Error,
		"duplicate": Warning, "case-variant-duplicate": Warning, "unknown-placeholder": Warning, "user-in-system-masters": Warning,
		"map-accounts": Warning, "dead-group": Warning,
		"overridden-by-access-entry": Info, "unverifiable-principal": Info,
		"dropped-entry": Error, "sso-never-matches": Error, "wrong-type": Error, "undefined": Error, "refuses-callers": Error,
		"account-not-an-id": Error, "root-mapped": Warning,
	}
	got := map[string]int{}
	for _, f := range findings {
		got[f.Check]++
		if want[f.Check] != f.Severity {
			t.Errorf("%s: severity %s, want %s (%s)", f.Check, f.Severity, want[f.Check], f.Message)
		}
		if f.Fix == "" || f.Subject == "" {
			t.Errorf("%s has no fix or subject", f.Check)
		}
	}
	for check := range want {
		if got[check] != 1 {
			t.Errorf("%s reported %d times, want once", check, got[check])
		}
	}
	if len(findings) != len(want) {
		t.Errorf("%d findings, want %d: %+v", len(findings), len(want), findings)
	}
}

func TestBrokenKeyEmptyValueAndAPIMode(t *testing.T) {
	findings := Run(context.Background(), Input{Mode: "API", AWSAuth: fixture(t, "broken-api-mode.yaml")})
	want := map[string]string{"unparsable-key": Error, "empty-quoted-value": Warning, "ignored-in-api-mode": Warning}
	if len(findings) != len(want) {
		t.Fatalf("findings = %+v", findings)
	}
	for _, f := range findings {
		if want[f.Check] != f.Severity {
			t.Errorf("%s: %s, want %s", f.Check, f.Severity, want[f.Check])
		}
	}
}

func TestCleanClusterHasNoFindings(t *testing.T) {
	findings := Run(context.Background(), Input{Mode: "CONFIG_MAP", AWSAuth: fixture(t, "clean.yaml"), BoundGroups: bound, IAM: localIAM(t), Account: "111122223333"})
	if len(findings) != 0 {
		t.Errorf("clean cluster: %+v", findings)
	}
}
