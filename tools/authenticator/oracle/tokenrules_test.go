package oracle

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"sigs.k8s.io/aws-iam-authenticator/pkg/token"
)

// ruleCase is one line of the stack webhook's testdata/tokenrules.json;
// Accept is what aws-iam-authenticator's Verify must decide.
type ruleCase struct {
	Name      string `json:"name"`
	URL       string `json:"url"`
	Token     string `json:"token"`
	Partition string `json:"partition"`
	Region    string `json:"region"`
	LongBy    int    `json:"longBy"`
	Pad       bool   `json:"pad"`
	Accept    bool   `json:"accept"`
}

// token builds the case's token at now exactly as authwebhook's test does.
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

// fakeSTS answers every GetCallerIdentity with 200 and records the call,
// so a token the authenticator passes on to STS is accepted without a
// network.
type fakeSTS struct{ calls int }

func (f *fakeSTS) RoundTrip(r *http.Request) (*http.Response, error) {
	f.calls++
	body := `{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Account":"111122223333","Arn":"arn:aws:iam::111122223333:user/alice","UserId":"AIDAEXAMPLE"},"ResponseMetadata":{"RequestId":"1"}}}`
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

// withTransport points the verifier's HTTP client at rt. The client is an
// unexported field set by NewVerifier and there is no option to replace
// it; without this, Verify would call the real STS.
func withTransport(t *testing.T, v token.Verifier, rt http.RoundTripper) {
	t.Helper()
	f := reflect.ValueOf(v).Elem().FieldByName("client")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*http.Client]() {
		t.Fatalf("aws-iam-authenticator's tokenVerifier has no client *http.Client field any more; update this test")
	}
	client := &http.Client{Transport: rt, Timeout: 10 * time.Second}
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Set(reflect.ValueOf(client))
}

// TestTokenRulesAgreeWithTheAuthenticator feeds the stack webhook's table
// of token URLs to aws-iam-authenticator v0.7.18's own token verifier: its
// accept/refuse must be the table's, which the webhook's tokenRules is
// held to by authwebhook's TestTokenRulesMatchTheAuthenticatorsTable.
func TestTokenRulesAgreeWithTheAuthenticator(t *testing.T) {
	b, err := os.ReadFile("../../../internal/devstack/authwebhook/testdata/tokenrules.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []ruleCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 20 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			partition, region := c.Partition, c.Region
			if partition == "" {
				partition = "aws"
			}
			if region == "" {
				region = "us-west-2"
			}
			v := token.NewVerifier("prod", partition, region)
			sts := &fakeSTS{}
			withTransport(t, v, sts)
			_, err := v.Verify(c.token(time.Now()))
			if got := err == nil; got != c.Accept {
				t.Errorf("authenticator accepted = %v (%v), table says %v", got, err, c.Accept)
			}
			// A refusal must be the token rules', never the fake STS's.
			if _, isSTS := err.(token.STSError); isSTS || (err != nil && sts.calls > 0) {
				t.Errorf("refused after calling STS: %v", err)
			}
		})
	}
}
