package awscreds

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SignatureValidity is how far X-Amz-Date may be from the server's clock:
// AWS refuses older (and later) signatures.
const SignatureValidity = 15 * time.Minute

const amzDateFormat = "20060102T150405Z"

// Scope is what a service accepts in a signature's credential scope.
type Scope struct {
	Service string
	// Regions are the regions a signature may be scoped to (STS: its own
	// and us-east-1, the global endpoint's; other services: their own).
	Regions []string
}

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	accessKeyID, date, region, service string
	signedHeaders                      []string
	signature                          string
}

func incomplete(msg string) *Error { return &Error{ErrIncomplete, msg} }

func parseAuthorization(h string) (authorization, *Error) {
	const algorithm = "AWS4-HMAC-SHA256 "
	rest, ok := strings.CutPrefix(h, algorithm)
	if !ok {
		return authorization{}, incomplete("Authorization header requires the AWS4-HMAC-SHA256 algorithm.")
	}
	var a authorization
	var credential string
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || a.signature == "" || len(a.signedHeaders) == 0 {
		return authorization{}, incomplete("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters and a credential scope of KEY/DATE/REGION/SERVICE/aws4_request. Authorization=" + h)
	}
	a.accessKeyID, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	return a, nil
}

// Verify checks r's SigV4 Authorization header, over body (r's body, read
// by the caller), for scope at time now, and returns the key that signed
// it. The signature is recomputed by the SDK's signer over the same method,
// path, query and the headers the client signed, with the key's secret, at
// the client's X-Amz-Date; a session's key must carry its session token
// among the signed headers. Refusals are *Error.
func (r *Registry) Verify(ctx context.Context, req *http.Request, body []byte, scope Scope, now time.Time) (Key, error) {
	h := req.Header.Get("Authorization")
	if h == "" {
		return Key{}, &Error{ErrMissingAuth, "Request is missing Authentication Token"}
	}
	a, aerr := parseAuthorization(h)
	if aerr != nil {
		return Key{}, aerr
	}
	k, ok := r.Lookup(a.accessKeyID)
	if !ok {
		return Key{}, &Error{ErrUnknownKey, MsgInvalidToken}
	}
	if a.service != scope.Service {
		return Key{}, &Error{ErrSignature, fmt.Sprintf("Credential should be scoped to correct service: '%s'. ", scope.Service)}
	}
	if !slices.Contains(scope.Regions, a.region) {
		return Key{}, &Error{ErrSignature, "Credential should be scoped to a valid region. "}
	}
	amzDate := req.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse(amzDateFormat, amzDate)
	if err != nil || !strings.HasPrefix(amzDate, a.date) {
		return Key{}, incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header that matches the credential scope's date.")
	}
	if now.Sub(signedAt) > SignatureValidity || signedAt.Sub(now) > SignatureValidity {
		return Key{}, &Error{ErrSignature, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-SignatureValidity).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat))}
	}
	// The same request, carrying only what the client signed.
	u := url.URL{Scheme: "http", Host: req.Host, Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	resign, err := http.NewRequestWithContext(ctx, req.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return Key{}, &Error{ErrSignature, MsgSignature}
	}
	resign.ContentLength = 0
	var sessionToken string
	for _, name := range a.signedHeaders {
		switch name {
		case "host":
		case "content-length":
			resign.ContentLength = int64(len(body))
		case "x-amz-security-token":
			// An unsigned token is no token: it could have been swapped.
			sessionToken = req.Header.Get(name)
		default:
			if vs, ok := req.Header[http.CanonicalHeaderKey(name)]; ok {
				resign.Header[http.CanonicalHeaderKey(name)] = vs
			}
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, SessionToken: sessionToken}
	if err := v4.NewSigner().SignHTTP(ctx, creds, resign, hex.EncodeToString(sum[:]), a.service, a.region, signedAt); err != nil {
		return Key{}, &Error{ErrSignature, MsgSignature}
	}
	got, aerr := parseAuthorization(resign.Header.Get("Authorization"))
	if aerr != nil || got.signature != a.signature {
		return Key{}, &Error{ErrSignature, MsgSignature}
	}
	// The session is checked at the time of the call, not of the signature:
	// a session that expired since is refused, as by AWS.
	return r.Check(a.accessKeyID, sessionToken, now)
}
