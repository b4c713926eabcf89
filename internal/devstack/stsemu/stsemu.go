// Package stsemu is the local stack's STS: GetCallerIdentity of the STS
// query API, the call eksctl and other tools make first, for the stack's
// principals.
//
// A request is POST / with the form body Action=GetCallerIdentity&
// Version=2011-06-15 (what aws-sdk-go-v2 and the AWS CLI send: STS speaks
// the query protocol only, form in and XML out), or the same parameters in
// the query string. It must be SigV4-signed in its Authorization header with
// a principal's access key, for service sts and the stack's region (or
// us-east-1, the global endpoint's); the signature is recomputed with the
// principal's secret. The answer is STS's XML with the caller's ARN, UserId
// and account as authwebhook.Principal.Identity derives them (the same
// identity the token webhook hands aws-iam-authenticator); errors are STS's
// ErrorResponse XML: InvalidClientTokenId for an unknown key,
// SignatureDoesNotMatch for a wrong signature or an expired one,
// MissingAuthenticationToken without a signature, InvalidAction otherwise.
package stsemu

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iammap/iammap/internal/devstack/awsquery"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/ekstoken"
)

const (
	xmlns      = "https://sts.amazonaws.com/doc/2011-06-15/"
	apiVersion = "2011-06-15"
	// globalRegion is the region the global endpoint (sts.amazonaws.com) signs for.
	globalRegion = "us-east-1"
	maxBody      = 1 << 20
)

// Server answers GetCallerIdentity for a fixed set of principals.
type Server struct {
	region     string
	principals map[string]authwebhook.Principal // by access key id
	now        func() time.Time
}

// New returns an STS for region (default us-west-2) that knows principals.
func New(region string, principals []authwebhook.Principal) *Server {
	if region == "" {
		region = "us-west-2"
	}
	s := &Server{region: region, principals: map[string]authwebhook.Principal{}, now: time.Now}
	for _, p := range principals {
		s.principals[p.AccessKeyID] = p
	}
	return s
}

// stsError is an STS error answer.
type stsError struct {
	status        int
	code, message string
}

var (
	errMissingAuth = &stsError{http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token"}
	errSignature   = &stsError{http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	errUnknownKey  = &stsError{http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."}
)

func errIncomplete(msg string) *stsError {
	return &stsError{http.StatusBadRequest, "IncompleteSignature", msg}
}

// ServeHTTP answers one query-protocol request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	w.Header().Set("x-amzn-RequestId", requestID)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		s.fail(w, requestID, &stsError{http.StatusBadRequest, "MalformedInput", err.Error()})
		return
	}
	params := r.URL.Query()
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			s.fail(w, requestID, &stsError{http.StatusBadRequest, "MalformedInput", err.Error()})
			return
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	}
	p, serr := s.authenticate(r.Context(), r, body)
	if serr != nil {
		s.fail(w, requestID, serr)
		return
	}
	if action := params.Get("Action"); action != "GetCallerIdentity" || params.Get("Version") != apiVersion {
		s.fail(w, requestID, &stsError{http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", action, params.Get("Version"))})
		return
	}
	id, err := p.Identity()
	if err != nil {
		s.fail(w, requestID, &stsError{http.StatusInternalServerError, "InternalFailure", err.Error()})
		return
	}
	resp := getCallerIdentityResponse{Xmlns: xmlns}
	resp.Result.Arn, resp.Result.UserID, resp.Result.Account = id.ARN, id.UserID, id.Account
	resp.Metadata.RequestID = requestID
	w.Header().Set("Content-Type", "text/xml")
	_ = xml.NewEncoder(w).Encode(resp)
}

type getCallerIdentityResponse struct {
	XMLName xml.Name `xml:"GetCallerIdentityResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	} `xml:"GetCallerIdentityResult"`
	Metadata struct {
		RequestID string `xml:"RequestId"`
	} `xml:"ResponseMetadata"`
}

func (s *Server) fail(w http.ResponseWriter, requestID string, e *stsError) {
	awsquery.WriteError(w, e.status, xmlns, e.code, e.message, requestID)
}

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	accessKeyID, date, region, service string
	signedHeaders                      []string
	signature                          string
}

func parseAuthorization(h string) (authorization, *stsError) {
	const algorithm = "AWS4-HMAC-SHA256 "
	rest, ok := strings.CutPrefix(h, algorithm)
	if !ok {
		return authorization{}, errIncomplete("Authorization header requires the AWS4-HMAC-SHA256 algorithm.")
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
		return authorization{}, errIncomplete("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters and a credential scope of KEY/DATE/REGION/SERVICE/aws4_request. Authorization=" + h)
	}
	a.accessKeyID, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	return a, nil
}

// authenticate checks r's SigV4 header signature over its body and returns
// the principal that signed it. The signature is recomputed, as
// ekstoken.Verify does for a presigned URL, by the SDK's signer over the
// same method, path, query and the headers the client signed, with the
// principal's secret, at the client's X-Amz-Date.
func (s *Server) authenticate(ctx context.Context, r *http.Request, body []byte) (authwebhook.Principal, *stsError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return authwebhook.Principal{}, errMissingAuth
	}
	a, serr := parseAuthorization(h)
	if serr != nil {
		return authwebhook.Principal{}, serr
	}
	p, ok := s.principals[a.accessKeyID]
	if !ok {
		return authwebhook.Principal{}, errUnknownKey
	}
	if a.service != "sts" {
		return authwebhook.Principal{}, &stsError{http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to correct service: 'sts'. "}
	}
	if a.region != s.region && a.region != globalRegion {
		return authwebhook.Principal{}, &stsError{http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to a valid region. "}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, a.date) {
		return authwebhook.Principal{}, errIncomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header that matches the credential scope's date.")
	}
	if now := s.now(); now.Sub(signedAt) > ekstoken.Validity || signedAt.Sub(now) > ekstoken.Validity {
		return authwebhook.Principal{}, &stsError{http.StatusForbidden, "SignatureDoesNotMatch",
			fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)", amzDate, now.Add(-ekstoken.Validity).UTC().Format("20060102T150405Z"), now.UTC().Format("20060102T150405Z"))}
	}
	// The same request, carrying only what the client signed.
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	resign, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return authwebhook.Principal{}, errSignature
	}
	resign.ContentLength = 0
	var sessionToken string
	for _, name := range a.signedHeaders {
		switch name {
		case "host":
		case "content-length":
			resign.ContentLength = int64(len(body))
		case "x-amz-security-token":
			sessionToken = r.Header.Get(name)
		default:
			if vs, ok := r.Header[http.CanonicalHeaderKey(name)]; ok {
				resign.Header[http.CanonicalHeaderKey(name)] = vs
			}
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey, SessionToken: sessionToken}
	if err := v4.NewSigner().SignHTTP(ctx, creds, resign, hex.EncodeToString(sum[:]), "sts", a.region, signedAt); err != nil {
		return authwebhook.Principal{}, errSignature
	}
	got, serr := parseAuthorization(resign.Header.Get("Authorization"))
	if serr != nil || got.signature != a.signature {
		return authwebhook.Principal{}, errSignature
	}
	return p, nil
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
