// Package stsemu is the local stack's STS: GetCallerIdentity of the STS
// query API, the call eksctl and other tools make first, and AssumeRole
// for the stack's assumable roles (Role), so cross-account runs can be
// tested with real sessions.
//
// A request is POST / with the form body Action=GetCallerIdentity&
// Version=2011-06-15 (what aws-sdk-go-v2 and the AWS CLI send: STS speaks
// the query protocol only, form in and XML out), or the same parameters in
// the query string. It must be SigV4-signed in its Authorization header with
// a key of the server's credential registry (awscreds: a principal's static
// key, or a session's with its X-Amz-Security-Token), for service sts and
// the stack's region (or us-east-1, the global endpoint's); the signature is
// recomputed with the key's secret. GetCallerIdentity answers STS's XML
// with the caller's ARN, UserId and account as
// authwebhook.Principal.Identity derives them (the same identity the token
// webhook hands aws-iam-authenticator; a session's caller is its assumed
// role). AssumeRole (RoleArn, RoleSessionName, ExternalId, DurationSeconds)
// checks STS's parameter rules (ValidationError), then the role's trust
// (AccessDenied, the same for a role that is not assumable), and issues a
// session into the registry, valid wherever the registry is shared.
// Errors are STS's ErrorResponse XML: InvalidClientTokenId for an unknown
// key or a wrong session token, ExpiredToken for an expired session,
// SignatureDoesNotMatch for a wrong signature or an expired one,
// MissingAuthenticationToken without a signature, InvalidAction otherwise.
package stsemu

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/awscreds"
	"github.com/iammap/iammap/internal/devstack/awsquery"
)

const (
	xmlns      = "https://sts.amazonaws.com/doc/2011-06-15/"
	apiVersion = "2011-06-15"
	// globalRegion is the region the global endpoint (sts.amazonaws.com) signs for.
	globalRegion = "us-east-1"
	maxBody      = 1 << 20
)

// Server answers GetCallerIdentity and AssumeRole for the keys of a
// credential registry.
type Server struct {
	region string
	// regions are the signing regions accepted: the server's, the global
	// endpoint's, and Options.MoreRegions.
	regions []string
	creds   *awscreds.Registry
	roles   map[string]Role // by ARN
	now     func() time.Time
}

// Options configure NewServer.
type Options struct {
	Region string // default us-west-2
	// Principals are static identities, added to Credentials.
	Principals []authwebhook.Principal
	// Roles are the roles AssumeRole may assume.
	Roles []Role
	// Credentials is the registry requests are checked against and
	// sessions are issued into; nil: a new one. Share one between servers
	// (and the EKS emulator and token webhook) for their keys and sessions
	// to be valid at all of them.
	Credentials *awscreds.Registry
	// MoreRegions are signing regions accepted besides Region and
	// us-east-1: an STS that several local stacks in several regions share
	// stands for each region's STS endpoint.
	MoreRegions []string
}

// New returns an STS for region (default us-west-2) that knows principals
// and assumes no role. Principals with one key id and other secrets: the
// first wins.
func New(region string, principals []authwebhook.Principal) *Server {
	reg := awscreds.New()
	for _, p := range principals {
		_ = reg.Add(p.Key()) // a clash keeps the first, as documented
	}
	s, _ := NewServer(Options{Region: region, Credentials: reg}) // cannot fail without roles or principals
	return s
}

// NewServer returns an STS configured by o. It fails on a role that is not
// an IAM role ARN or on principals that clash in Credentials.
func NewServer(o Options) (*Server, error) {
	if o.Region == "" {
		o.Region = "us-west-2"
	}
	if o.Credentials == nil {
		o.Credentials = awscreds.New()
	}
	for _, p := range o.Principals {
		if err := o.Credentials.Add(p.Key()); err != nil {
			return nil, fmt.Errorf("sts principals: %w", err)
		}
	}
	s := &Server{region: o.Region, regions: append([]string{o.Region, globalRegion}, o.MoreRegions...), creds: o.Credentials, roles: map[string]Role{}, now: time.Now}
	for _, r := range o.Roles {
		if err := r.validate(); err != nil {
			return nil, err
		}
		s.roles[r.ARN] = r
	}
	return s, nil
}

// Credentials is the registry the server checks callers against.
func (s *Server) Credentials() *awscreds.Registry { return s.creds }

// stsError is an STS error answer.
type stsError struct {
	status        int
	code, message string
}

// authError is the STS answer to a refused signature or key.
func authError(err error) *stsError {
	var e *awscreds.Error
	if !errors.As(err, &e) {
		return &stsError{http.StatusInternalServerError, "InternalFailure", err.Error()}
	}
	switch e.Kind {
	case awscreds.ErrMissingAuth:
		return &stsError{http.StatusForbidden, "MissingAuthenticationToken", e.Message}
	case awscreds.ErrIncomplete:
		return &stsError{http.StatusBadRequest, "IncompleteSignature", e.Message}
	case awscreds.ErrUnknownKey:
		return &stsError{http.StatusForbidden, "InvalidClientTokenId", e.Message}
	case awscreds.ErrExpiredToken:
		return &stsError{http.StatusForbidden, "ExpiredToken", e.Message}
	default:
		return &stsError{http.StatusForbidden, "SignatureDoesNotMatch", e.Message}
	}
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
	key, err := s.creds.Verify(r.Context(), r, body, awscreds.Scope{Service: "sts", Regions: s.regions}, s.now())
	if err != nil {
		s.fail(w, requestID, authError(err))
		return
	}
	id, err := authwebhook.PrincipalOf(key).Identity()
	if err != nil {
		s.fail(w, requestID, &stsError{http.StatusInternalServerError, "InternalFailure", err.Error()})
		return
	}
	var resp any
	var serr *stsError
	switch action := params.Get("Action"); {
	case params.Get("Version") != apiVersion:
		serr = &stsError{http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", action, params.Get("Version"))}
	case action == "GetCallerIdentity":
		r := getCallerIdentityResponse{Xmlns: xmlns}
		r.Result.Arn, r.Result.UserID, r.Result.Account = id.ARN, id.UserID, id.Account
		r.Metadata.RequestID = requestID
		resp = r
	case action == "AssumeRole":
		resp, serr = s.assumeRole(key, id, params, requestID)
	default:
		serr = &stsError{http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", action, params.Get("Version"))}
	}
	if serr != nil {
		s.fail(w, requestID, serr)
		return
	}
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

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
