package stsemu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
)

func client(srv *httptest.Server, region string, p authwebhook.Principal) *sts.Client {
	return sts.New(sts.Options{
		Region: region, BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, ""),
	})
}

// The real aws-sdk-go-v2 STS client gets, for each kind of principal, what
// STS answers: the identity authwebhook derives for the token webhook.
func TestGetCallerIdentityThroughTheSDK(t *testing.T) {
	user := authwebhook.NewPrincipal("alice", "arn:aws:iam::111122223333:user/ops/alice")
	role := authwebhook.NewPrincipal("deployer", "arn:aws:iam::111122223333:role/ci/deployer")
	role.SessionName = "alice@example.com"
	plainRole := authwebhook.NewPrincipal("ci", "arn:aws:iam::111122223333:role/ci")
	root := authwebhook.NewPrincipal("root", "arn:aws:iam::111122223333:root")
	federated := authwebhook.NewPrincipal("federated", "arn:aws:sts::111122223333:federated-user/bob")
	srv := httptest.NewServer(New("us-west-2", []authwebhook.Principal{user, role, plainRole, root, federated}))
	defer srv.Close()

	tests := []struct {
		p                 authwebhook.Principal
		arn, userID, acct string
	}{
		{user, user.ARN, "AIDA" + user.AccessKeyID[4:], "111122223333"},
		{role, "arn:aws:sts::111122223333:assumed-role/deployer/alice@example.com", "AROA" + role.AccessKeyID[4:] + ":alice@example.com", "111122223333"},
		{plainRole, "arn:aws:sts::111122223333:assumed-role/ci/ci", "AROA" + plainRole.AccessKeyID[4:] + ":ci", "111122223333"},
		{root, "arn:aws:iam::111122223333:root", "111122223333", "111122223333"},
		{federated, federated.ARN, "111122223333:bob", "111122223333"},
	}
	for _, tt := range tests {
		t.Run(tt.p.Name, func(t *testing.T) {
			for _, region := range []string{"us-west-2", "us-east-1"} {
				out, err := client(srv, region, tt.p).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
				if err != nil {
					t.Fatalf("%s: %v", region, err)
				}
				if aws.ToString(out.Arn) != tt.arn || aws.ToString(out.UserId) != tt.userID || aws.ToString(out.Account) != tt.acct {
					t.Errorf("%s: got %s %s %s, want %s %s %s", region, aws.ToString(out.Arn), aws.ToString(out.UserId), aws.ToString(out.Account), tt.arn, tt.userID, tt.acct)
				}
			}
		})
	}

	// Refusals carry STS's codes, which the SDK decodes from the error XML.
	wrongSecret := user
	wrongSecret.SecretAccessKey = "not-the-secret"
	unknown := authwebhook.NewPrincipal("stranger", "arn:aws:iam::111122223333:user/stranger")
	refusals := []struct {
		name   string
		client *sts.Client
		code   string
	}{
		{"wrong secret", client(srv, "us-west-2", wrongSecret), "SignatureDoesNotMatch"},
		{"unknown key", client(srv, "us-west-2", unknown), "InvalidClientTokenId"},
		{"other region", client(srv, "eu-west-1", user), "SignatureDoesNotMatch"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
			var re interface{ HTTPStatusCode() int }
			if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
				t.Errorf("status: %v, want 403", err)
			}
		})
	}
}

// The wire: the query form, an unsigned request, an unknown action, an
// expired signature, and the exact XML of an answer.
func TestWire(t *testing.T) {
	p := authwebhook.NewPrincipal("alice", "arn:aws:iam::111122223333:user/alice")
	emu := New("", []authwebhook.Principal{p})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	// A signed GET with the parameters in the query string, as the SDK's
	// presigner or a hand-made client might send it, signed by the SDK.
	signed := func(method, query, body string, at time.Time) *http.Request {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+"/?"+query, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		}
		if err := signRequest(req, p, body, at); err != nil {
			t.Fatal(err)
		}
		return req
	}
	do := func(req *http.Request) (int, string) {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	now := time.Now()
	status, body := do(signed("GET", "Action=GetCallerIdentity&Version=2011-06-15", "", now))
	wantPrefix := `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::111122223333:user/alice</Arn><UserId>AIDA` + p.AccessKeyID[4:] + `</UserId><Account>111122223333</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>`
	if status != 200 || !strings.HasPrefix(body, wantPrefix) || !strings.HasSuffix(body, "</RequestId></ResponseMetadata></GetCallerIdentityResponse>") {
		t.Errorf("query form: %d %s", status, body)
	}
	status, body = do(signed("POST", "", "Action=GetCallerIdentity&Version=2011-06-15", now))
	if status != 200 || !strings.HasPrefix(body, wantPrefix) {
		t.Errorf("form body: %d %s", status, body)
	}
	status, body = do(signed("POST", "", "Action=GetSessionToken&Version=2011-06-15", now))
	if status != 400 || !strings.Contains(body, "<Code>InvalidAction</Code>") {
		t.Errorf("other action: %d %s", status, body)
	}
	status, body = do(signed("POST", "", "Action=GetCallerIdentity&Version=2011-06-15", now.Add(-20*time.Minute)))
	if status != 403 || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code><Message>Signature expired:") {
		t.Errorf("expired: %d %s", status, body)
	}
	// A signed body changed on the way.
	req := signed("POST", "", "Action=GetCallerIdentity&Version=2011-06-15", now)
	req.Body = io.NopCloser(strings.NewReader("Action=GetCallerIdentity&Version=2011-06-16"))
	if status, body = do(req); status != 403 || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") {
		t.Errorf("tampered body: %d %s", status, body)
	}
	req, _ = http.NewRequest("POST", srv.URL, strings.NewReader(url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, body = do(req)
	if status != 403 || !strings.Contains(body, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>MissingAuthenticationToken</Code>`) {
		t.Errorf("unsigned: %d %s", status, body)
	}
}

func signRequest(req *http.Request, p authwebhook.Principal, body string, at time.Time) error {
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey}
	return v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "sts", "us-west-2", at)
}
