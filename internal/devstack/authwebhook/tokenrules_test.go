package authwebhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/iammap/iammap/internal/ekstoken"
	authnv1 "k8s.io/api/authentication/v1"
)

// ruleCase is one line of testdata/tokenrules.json, which
// tools/authenticator/oracle's TestTokenRulesAgreeWithTheAuthenticator also
// reads: Accept is what aws-iam-authenticator v0.7.18's Verify decides
// (that test holds it to it), Stack what the webhook's rules decide when
// it differs (the stack's own STS).
type ruleCase struct {
	Name      string `json:"name"`
	URL       string `json:"url"`
	Token     string `json:"token"`
	Partition string `json:"partition"`
	Region    string `json:"region"`
	LongBy    int    `json:"longBy"`
	Pad       bool   `json:"pad"`
	Accept    bool   `json:"accept"`
	Stack     *bool  `json:"stack"`
}

// token builds the case's token at now; the oracle's test builds it the same way.
func (c ruleCase) token(now time.Time) string {
	const format = "20060102T150405Z"
	u := strings.NewReplacer("{{now}}", now.UTC().Format(format),
		"{{expired}}", now.Add(-16*time.Minute).UTC().Format(format),
		"{{future}}", now.Add(20*time.Minute).UTC().Format(format)).Replace(c.URL)
	u += strings.Repeat("0", c.LongBy)
	enc := base64.RawURLEncoding
	if c.Pad {
		for len(u)%3 == 0 {
			u += "0"
		}
		enc = base64.URLEncoding
	}
	b64 := enc.EncodeToString([]byte(u))
	if c.Token != "" {
		return strings.ReplaceAll(c.Token, "{{base64}}", b64)
	}
	return "k8s-aws-v1." + b64
}

func TestTokenRulesMatchTheAuthenticatorsTable(t *testing.T) {
	b, err := os.ReadFile("testdata/tokenrules.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []ruleCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			r := tokenRules{partition: c.Partition, region: c.Region}
			if r.partition == "" {
				r.partition = "aws"
			}
			if r.region == "" {
				r.region = "us-west-2"
			}
			want := c.Accept
			if c.Stack != nil {
				want = *c.Stack
			}
			_, err := r.check(c.token(now), now)
			if got := err == nil; got != want {
				t.Errorf("accepted = %v (%v), want %v", got, err, want)
			}
			if err != nil && !errors.Is(err, errTokenRule) {
				t.Errorf("error %v is not a rule error", err)
			}
		})
	}
}

// signed is a token presigned like aws eks get-token, with the changes a
// case makes: the URL (scheme, host, path, extra parameters), the region
// the signature is scoped to, X-Amz-Expires, and whether the cluster
// header is signed.
type signed struct {
	url          string // default https://sts.us-west-2.amazonaws.com/
	extra        string // query parameters added before signing
	region       string // default us-west-2
	expires      string // default 60; "-" leaves it out
	noClusterHdr bool
	cluster      string // default prod
	at           time.Time
	key, secret  string
	sessionToken string
}

func (s signed) token(t *testing.T) string {
	t.Helper()
	u := s.url
	if u == "" {
		u = "https://sts.us-west-2.amazonaws.com/"
	}
	u += "?Action=GetCallerIdentity&Version=2011-06-15"
	switch s.expires {
	case "":
		u += "&X-Amz-Expires=60"
	case "-":
	default:
		u += "&X-Amz-Expires=" + s.expires
	}
	u += s.extra
	region := s.region
	if region == "" {
		region = "us-west-2"
	}
	cluster := s.cluster
	if cluster == "" {
		cluster = "prod"
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !s.noClusterHdr {
		req.Header.Set(ekstoken.ClusterIDHeader, cluster)
	}
	at := s.at
	if at.IsZero() {
		at = time.Now()
	}
	got, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: s.key, SecretAccessKey: s.secret, SessionToken: s.sessionToken},
		req, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sts", region, at)
	if err != nil {
		t.Fatal(err)
	}
	return ekstoken.Prefix + base64.RawURLEncoding.EncodeToString([]byte(got))
}

// TestVerifyTokenRefusesWhatEKSRefuses signs real tokens with a principal's
// key, so only the rule under test can refuse them.
func TestVerifyTokenRefusesWhatEKSRefuses(t *testing.T) {
	alice := NewPrincipal("alice", "arn:aws:iam::111122223333:user/alice")
	h := &Handler{Cluster: "prod", Principals: []Principal{alice}}
	withKey := func(s signed) signed { s.key, s.secret = alice.AccessKeyID, alice.SecretAccessKey; return s }
	generated, err := ekstoken.Generate(context.Background(), sts.New(sts.Options{Region: "us-west-2",
		Credentials: credentials.NewStaticCredentialsProvider(alice.AccessKeyID, alice.SecretAccessKey, "")}), "prod")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		token    string
		localSTS string
		wantErr  string // "" accepted
	}{
		{name: "ekstoken.Generate's token", token: generated.Value},
		{name: "regional endpoint", token: withKey(signed{}).token(t)},
		{name: "global endpoint signed for us-east-1", token: withKey(signed{url: "https://sts.amazonaws.com/", region: "us-east-1"}).token(t)},
		{name: "another region's endpoint signed for it", token: withKey(signed{url: "https://sts.eu-west-1.amazonaws.com/", region: "eu-west-1"}).token(t)},
		{name: "FIPS endpoint", token: withKey(signed{url: "https://sts-fips.us-west-2.amazonaws.com/"}).token(t)},
		{name: "X-Amz-Expires=900", token: withKey(signed{expires: "900"}).token(t)},
		{name: "the stack's STS, any loopback port by default", token: withKey(signed{url: "http://127.0.0.1:4567/"}).token(t)},
		{name: "the stack's STS when named", token: withKey(signed{url: "http://127.0.0.1:4567/"}).token(t), localSTS: "http://127.0.0.1:4567"},
		{name: "the stack's STS signed for the global region", token: withKey(signed{url: "http://127.0.0.1:4567/", region: "us-east-1"}).token(t)},

		{name: "non-STS host", token: withKey(signed{url: "https://sts.evil.com/"}).token(t), wantErr: `unexpected hostname "sts.evil.com"`},
		{name: "http scheme", token: withKey(signed{url: "http://sts.us-west-2.amazonaws.com/"}).token(t), wantErr: `unexpected scheme "http"`},
		{name: "extra parameter Foo=bar", token: withKey(signed{extra: "&Foo=bar"}).token(t), wantErr: `non-whitelisted query parameter "Foo"`},
		{name: "X-Amz-Expires=901", token: withKey(signed{expires: "901"}).token(t), wantErr: "invalid X-Amz-Expires"},
		{name: "no X-Amz-Expires", token: withKey(signed{expires: "-"}).token(t), wantErr: "invalid X-Amz-Expires"},
		{name: "cluster header not signed", token: withKey(signed{noClusterHdr: true}).token(t), wantErr: "did not sign the x-k8s-aws-id header"},
		{name: "region of the host and of the signature differ", token: withKey(signed{region: "us-east-1"}).token(t), wantErr: "signed for region us-east-1"},
		{name: "global endpoint signed for another region", token: withKey(signed{url: "https://sts.amazonaws.com/"}).token(t), wantErr: "signed for region us-west-2"},
		{name: "a region that does not exist", token: withKey(signed{url: "https://sts.evil.amazonaws.com/", region: "evil"}).token(t), wantErr: "not an STS endpoint of partition aws"},
		{name: "another loopback port than the stack's STS", token: withKey(signed{url: "http://127.0.0.1:4568/"}).token(t), localSTS: "http://127.0.0.1:4567", wantErr: `unexpected scheme "http"`},
		{name: "the stack's STS signed for another region", token: withKey(signed{url: "http://127.0.0.1:4567/", region: "eu-west-1"}).token(t), wantErr: "signed for region eu-west-1"},
		{name: "another cluster", token: withKey(signed{cluster: "staging"}).token(t), wantErr: "signature does not match"},
		{name: "wrong secret", token: signed{key: alice.AccessKeyID, secret: "not-it"}.token(t), wantErr: "signature does not match"},
		{name: "signed in the future", token: withKey(signed{at: time.Now().Add(20 * time.Minute)}).token(t), wantErr: "token expired"},
		{name: "expired", token: withKey(signed{at: time.Now().Add(-16 * time.Minute)}).token(t), wantErr: "X-Amz-Date parameter is expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.LocalSTS = tt.localSTS
			c, _, err := h.verifyToken(context.Background(), tt.token, time.Now())
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr == "" && c.AccessKeyID != alice.AccessKeyID:
				t.Fatalf("claims = %+v", c)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestAuthenticateRefusesARuleBreakingToken goes through the HTTP
// handler: the TokenReview is unauthenticated (kube-apiserver's 401) and
// says why, before any mapping is looked at.
func TestAuthenticateRefusesARuleBreakingToken(t *testing.T) {
	alice := NewPrincipal("alice", "arn:aws:iam::111122223333:user/alice")
	h := &Handler{Cluster: "prod", Principals: []Principal{alice}}
	tok := signed{url: "https://sts.evil.com/", key: alice.AccessKeyID, secret: alice.SecretAccessKey}.token(t)
	body, _ := json.Marshal(authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: tok}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/authenticate", bytes.NewReader(body)))
	var got authnv1.TokenReview
	if err := json.NewDecoder(rec.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Authenticated || !strings.Contains(got.Status.Error, "sts.evil.com") {
		t.Fatalf("status = %+v", got.Status)
	}
}
