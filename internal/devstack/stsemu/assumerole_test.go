package stsemu

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/awscreds"
)

const (
	crossRole = "arn:aws:iam::444455556666:role/deploy/cross"
	chainRole = "arn:aws:iam::444455556666:role/chained"
)

// assumeStack is an STS in us-west-2 with alice (account 1), mallory
// (another account) and two roles of account 2: cross, trusted by account
// 1 with an external id, and chained, trusted by cross's sessions.
func assumeStack(t *testing.T) (srv *httptest.Server, reg *awscreds.Registry, alice, mallory authwebhook.Principal) {
	t.Helper()
	alice = authwebhook.NewPrincipal("alice", "arn:aws:iam::111122223333:user/alice")
	mallory = authwebhook.NewPrincipal("mallory", "arn:aws:iam::999988887777:user/mallory")
	reg = awscreds.New()
	emu, err := NewServer(Options{Region: "us-west-2", Principals: []authwebhook.Principal{alice, mallory}, Credentials: reg, Roles: []Role{
		{ARN: crossRole, Trusted: []string{"111122223333"}, ExternalID: "run-42"},
		{ARN: chainRole, Trusted: []string{crossRole}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv = httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return srv, reg, alice, mallory
}

func stsClient(srv *httptest.Server, creds aws.CredentialsProvider) *sts.Client {
	return sts.New(sts.Options{Region: "us-west-2", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1, Credentials: creds})
}

func static(p authwebhook.Principal) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, "")
}

func wantAPIError(t *testing.T, err error, status int, code, message string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), message) {
		t.Fatalf("err = %v, want %s %q", err, code, message)
	}
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Errorf("status: %v, want %d", err, status)
	}
}

// The SDK's own assume-role provider gets a session from the local STS,
// and the session is then the assumed role, to STS as to the registry.
func TestAssumeRoleThroughTheSDKProvider(t *testing.T) {
	srv, reg, alice, _ := assumeStack(t)
	provider := stscreds.NewAssumeRoleProvider(stsClient(srv, static(alice)), crossRole, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName, o.ExternalID, o.Duration = "alice-run", aws.String("run-42"), 2*time.Hour
	})
	creds, err := provider.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(creds.AccessKeyID, "ASIA") || creds.SessionToken == "" || !creds.CanExpire ||
		creds.Expires.Before(time.Now().Add(2*time.Hour-time.Minute)) || creds.Expires.After(time.Now().Add(2*time.Hour+time.Minute)) {
		t.Fatalf("credentials = %+v", creds)
	}
	key, ok := reg.Lookup(creds.AccessKeyID)
	if !ok || key.SecretAccessKey != creds.SecretAccessKey || key.SessionToken != creds.SessionToken || key.ARN != crossRole || key.Account() != "444455556666" {
		t.Fatalf("registry has %+v, %v", key, ok)
	}

	// Signed with the session's key and token, as the SDK signs.
	session := credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	out, err := stsClient(srv, session).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	wantARN := "arn:aws:sts::444455556666:assumed-role/cross/alice-run"
	if aws.ToString(out.Arn) != wantARN || aws.ToString(out.Account) != "444455556666" ||
		aws.ToString(out.UserId) != "AROA"+creds.AccessKeyID[4:]+":alice-run" {
		t.Errorf("GetCallerIdentity = %s %s %s", aws.ToString(out.Arn), aws.ToString(out.UserId), aws.ToString(out.Account))
	}

	// The answer of AssumeRole itself names the same caller.
	ar, err := stsClient(srv, static(alice)).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(crossRole), RoleSessionName: aws.String("alice-run"), ExternalId: aws.String("run-42"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(ar.AssumedRoleUser.Arn) != wantARN || !strings.HasPrefix(aws.ToString(ar.AssumedRoleUser.AssumedRoleId), "AROA") ||
		!strings.HasSuffix(aws.ToString(ar.AssumedRoleUser.AssumedRoleId), ":alice-run") {
		t.Errorf("AssumedRoleUser = %+v", ar.AssumedRoleUser)
	}
	if d := time.Until(aws.ToTime(ar.Credentials.Expiration)); d < 59*time.Minute || d > time.Hour {
		t.Errorf("default duration: expires in %s, want 1h", d)
	}

	// Role chaining: the session, signing with its token, assumes a role
	// that trusts the first role; for at most an hour.
	_, err = stsClient(srv, session).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(chainRole), RoleSessionName: aws.String("hop"), DurationSeconds: aws.Int32(7200),
	})
	wantAPIError(t, err, http.StatusBadRequest, "ValidationError", "1 hour session limit for roles assumed by role chaining")
	chained, err := stsClient(srv, session).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(chainRole), RoleSessionName: aws.String("hop"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(chained.AssumedRoleUser.Arn); got != "arn:aws:sts::444455556666:assumed-role/chained/hop" {
		t.Errorf("chained session = %s", got)
	}
}

// What STS refuses, with its codes and messages.
func TestAssumeRoleRefusals(t *testing.T) {
	srv, reg, alice, mallory := assumeStack(t)
	wrongSecret := alice
	wrongSecret.SecretAccessKey = "not-the-secret"
	in := func(role, session, externalID string, duration int32) *sts.AssumeRoleInput {
		i := &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String(session)}
		if externalID != "" {
			i.ExternalId = aws.String(externalID)
		}
		if duration != 0 {
			i.DurationSeconds = aws.Int32(duration)
		}
		return i
	}
	denied := func(caller, role string) string {
		return "User: " + caller + " is not authorized to perform: sts:AssumeRole on resource: " + role
	}
	tests := []struct {
		name    string
		caller  authwebhook.Principal
		in      *sts.AssumeRoleInput
		status  int
		code    string
		message string
	}{
		{"wrong external id", alice, in(crossRole, "s1", "run-43", 0), 403, "AccessDenied", denied(alice.ARN, crossRole)},
		{"no external id", alice, in(crossRole, "s1", "", 0), 403, "AccessDenied", denied(alice.ARN, crossRole)},
		{"untrusted caller", mallory, in(crossRole, "s1", "run-42", 0), 403, "AccessDenied", denied(mallory.ARN, crossRole)},
		{"trusted by another role only", alice, in(chainRole, "s1", "", 0), 403, "AccessDenied", denied(alice.ARN, chainRole)},
		{"not an assumable role", alice, in("arn:aws:iam::444455556666:role/other", "s1", "", 0), 403, "AccessDenied", denied(alice.ARN, "arn:aws:iam::444455556666:role/other")},
		{"bad signature", wrongSecret, in(crossRole, "s1", "run-42", 0), 403, "SignatureDoesNotMatch", "The request signature we calculated does not match"},
		{"session name too short", alice, in(crossRole, "s", "run-42", 0), 400, "ValidationError", "at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{"session name too long", alice, in(crossRole, strings.Repeat("s", 65), "run-42", 0), 400, "ValidationError", "Member must have length less than or equal to 64"},
		{"session name characters", alice, in(crossRole, "alice run", "run-42", 0), 400, "ValidationError", "Value 'alice run' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern"},
		{"duration too short", alice, in(crossRole, "s1", "run-42", 899), 400, "ValidationError", "Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"},
		{"duration too long", alice, in(crossRole, "s1", "run-42", 43201), 400, "ValidationError", "Member must have value less than or equal to 43200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := stsClient(srv, static(tt.caller)).AssumeRole(context.Background(), tt.in)
			wantAPIError(t, err, tt.status, tt.code, tt.message)
		})
	}

	// Sessions: the token must be the session's, and the session alive.
	live, err := reg.IssueSession(crossRole, "live", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired, err := reg.IssueSession(crossRole, "over", time.Now().Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	sessions := []struct {
		name               string
		key, secret, token string
		status             int
		code, message      string
	}{
		{"expired session", expired.AccessKeyID, expired.SecretAccessKey, expired.SessionToken, 403, "ExpiredToken", "The security token included in the request is expired"},
		{"another session's token", live.AccessKeyID, live.SecretAccessKey, expired.SessionToken, 403, "InvalidClientTokenId", "The security token included in the request is invalid."},
		{"no session token", live.AccessKeyID, live.SecretAccessKey, "", 403, "InvalidClientTokenId", "The security token included in the request is invalid."},
	}
	for _, tt := range sessions {
		t.Run(tt.name, func(t *testing.T) {
			_, err := stsClient(srv, credentials.NewStaticCredentialsProvider(tt.key, tt.secret, tt.token)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
			wantAPIError(t, err, tt.status, tt.code, tt.message)
		})
	}
}

func TestRolesMustBeIAMRoles(t *testing.T) {
	for _, arn := range []string{"arn:aws:iam::111122223333:user/alice", "arn:aws:sts::111122223333:assumed-role/r/s", "role/x", "arn:aws:iam::1234:role/short"} {
		if _, err := NewServer(Options{Roles: []Role{{ARN: arn}}}); err == nil {
			t.Errorf("%s: accepted as an assumable role", arn)
		}
	}
}
