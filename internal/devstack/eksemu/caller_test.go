package eksemu

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
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/smithy-go"
	"github.com/iammap/iammap/internal/devstack/awscreds"
)

func eksClient(srv *httptest.Server, region, key, secret, token string) *eks.Client {
	return eks.New(eks.Options{Region: region, BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, token)})
}

func wantEKSError(t *testing.T, err error, status int, code, message string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || ae.ErrorMessage() != message {
		t.Fatalf("err = %v, want %s %q", err, code, message)
	}
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Errorf("status: %v, want %d", err, status)
	}
}

// With Credentials the emulator checks who calls, through the real SDK
// client: the signature, the key, the session, and the caller's account.
func TestCallerCheck(t *testing.T) {
	reg := awscreds.New()
	own := awscreds.Key{AccessKeyID: "AKIAOWNOWNOWNOWN0001", SecretAccessKey: "own-secret", ARN: "arn:aws:iam::111122223333:user/alice"}
	other := awscreds.Key{AccessKeyID: "AKIAOTHEROTHEROTH001", SecretAccessKey: "other-secret", ARN: "arn:aws:iam::444455556666:user/bob"}
	if err := reg.Add(own, other); err != nil {
		t.Fatal(err)
	}
	session, err := reg.IssueSession("arn:aws:iam::111122223333:role/ops", "run", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired, err := reg.IssueSession("arn:aws:iam::111122223333:role/ops", "old", time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	emu := New(Options{Region: "eu-west-1", AccountID: "111122223333", Credentials: reg})
	emu.AddCluster(ClusterSpec{Name: "c1", AuthMode: ModeAPI})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	ctx := context.Background()
	describe := &eks.DescribeClusterInput{Name: aws.String("c1")}

	// The own account, with a static key and with a session: the cluster's
	// operations work, ARN path labels and JSON bodies included.
	for _, c := range []*eks.Client{eksClient(srv, "eu-west-1", own.AccessKeyID, own.SecretAccessKey, ""),
		eksClient(srv, "eu-west-1", session.AccessKeyID, session.SecretAccessKey, session.SessionToken)} {
		if _, err := c.DescribeCluster(ctx, describe); err != nil {
			t.Fatalf("own account: %v", err)
		}
	}
	c := eksClient(srv, "eu-west-1", own.AccessKeyID, own.SecretAccessKey, "")
	principal := aws.String("arn:aws:iam::111122223333:role/dev/x")
	if _, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("c1"), PrincipalArn: principal, KubernetesGroups: []string{"devs"}}); err != nil {
		t.Fatalf("create access entry: %v", err)
	}
	if _, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String("c1"), PrincipalArn: principal}); err != nil {
		t.Fatalf("describe access entry: %v", err)
	}

	// Another account's caller finds no cluster of that name, as on EKS;
	// what belongs to no cluster is still answered.
	stranger := eksClient(srv, "eu-west-1", other.AccessKeyID, other.SecretAccessKey, "")
	_, err = stranger.DescribeCluster(ctx, describe)
	wantEKSError(t, err, http.StatusNotFound, "ResourceNotFoundException", "No cluster found for name: c1.")
	_, err = stranger.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String("c1")})
	wantEKSError(t, err, http.StatusNotFound, "ResourceNotFoundException", "No cluster found for name: c1.")
	if _, err := stranger.ListAccessPolicies(ctx, &eks.ListAccessPoliciesInput{}); err != nil {
		t.Errorf("list access policies from another account: %v", err)
	}

	refusals := []struct {
		name          string
		client        *eks.Client
		code, message string
	}{
		{"unknown key", eksClient(srv, "eu-west-1", "AKIANOBODYNOBODY0001", "x", ""), "UnrecognizedClientException", awscreds.MsgInvalidToken},
		{"bad signature", eksClient(srv, "eu-west-1", own.AccessKeyID, "not-the-secret", ""), "InvalidSignatureException", awscreds.MsgSignature},
		{"another region", eksClient(srv, "us-west-2", own.AccessKeyID, own.SecretAccessKey, ""), "InvalidSignatureException", "Credential should be scoped to a valid region. "},
		{"session without its token", eksClient(srv, "eu-west-1", session.AccessKeyID, session.SecretAccessKey, ""), "UnrecognizedClientException", awscreds.MsgInvalidToken},
		{"session with another token", eksClient(srv, "eu-west-1", session.AccessKeyID, session.SecretAccessKey, expired.SessionToken), "UnrecognizedClientException", awscreds.MsgInvalidToken},
		{"expired session", eksClient(srv, "eu-west-1", expired.AccessKeyID, expired.SecretAccessKey, expired.SessionToken), "ExpiredTokenException", awscreds.MsgExpiredToken},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.DescribeCluster(ctx, describe)
			wantEKSError(t, err, http.StatusForbidden, tt.code, tt.message)
		})
	}

	// An unsigned request, and the answer's shape: no cluster name, since
	// no cluster was looked at.
	resp, v := call(t, srv, "GET", "/clusters/c1", "")
	if resp.StatusCode != 403 || resp.Header.Get("x-amzn-ErrorType") != "MissingAuthenticationTokenException" || v["clusterName"] != nil ||
		!strings.Contains(v["message"].(string), "Missing Authentication Token") {
		t.Errorf("unsigned: %d %s %v", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), v)
	}
}
