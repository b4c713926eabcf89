// Package iamemu is a minimal local IAM for iammap's tests and demo: the
// GetRole and GetUser operations of the IAM query API (form-encoded POST,
// XML answers, NoSuchEntity errors) over a fixed set of principals, so that
// `iammap migrate` can restore role paths through the real SDK client.
//
// As in real IAM, a name is looked up in the caller's account only: the
// caller's account is the one of the access key in the request's SigV4
// Authorization header, found in Credentials. Without Credentials (or for
// a key it does not hold) the account is unknown: a name held by one
// account answers with that principal, a name held by several answers
// NoSuchEntity rather than another account's principal.
package iamemu

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/iammap/iammap/internal/devstack/awscreds"
	"github.com/iammap/iammap/internal/devstack/awsquery"

	"github.com/iammap/iammap/mapping"
)

// Server answers GetRole and GetUser for known principal ARNs.
type Server struct {
	// Credentials, when set, tells the caller's account from the request's
	// access key id. Set it before serving.
	Credentials *awscreds.Registry

	mu    sync.Mutex
	roles map[string][]mapping.Principal // by name; one per account
	users map[string][]mapping.Principal
}

// New returns an IAM with the given role and user ARNs (paths allowed).
func New(arns ...string) (*Server, error) {
	s := &Server{roles: map[string][]mapping.Principal{}, users: map[string][]mapping.Principal{}}
	for _, a := range arns {
		if err := s.Add(a); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Add makes a principal exist.
func (s *Server) Add(arn string) error {
	p, _, err := mapping.ParsePrincipal(arn)
	if err != nil {
		return err
	}
	p.ARN = arn // keep the path: that is what IAM answers
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.users
	if p.Kind == mapping.KindRole {
		m = s.roles
	}
	// A name is unique within an account: adding it again replaces it.
	list := m[p.Name]
	for i, old := range list {
		if old.Account == p.Account {
			list[i] = p
			return nil
		}
	}
	m[p.Name] = append(list, p)
	return nil
}

// lookup finds the principal named name in account, or, with account
// unknown (""), the only principal of that name in any account.
func (s *Server) lookup(kind, name, account string) (mapping.Principal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.users[name]
	if kind == "role" {
		list = s.roles[name]
	}
	if account == "" {
		if len(list) == 1 {
			return list[0], true
		}
		return mapping.Principal{}, false // none, or several: never guess another account's
	}
	for _, p := range list {
		if p.Account == account {
			return p, true
		}
	}
	return mapping.Principal{}, false
}

// callerAccount is the account of the key that signed r, or "" if unknown.
func (s *Server) callerAccount(r *http.Request) string {
	if s.Credentials == nil {
		return ""
	}
	akid := accessKeyID(r.Header.Get("Authorization"))
	if akid == "" {
		return ""
	}
	k, ok := s.Credentials.Lookup(akid)
	if !ok {
		return ""
	}
	return k.Account()
}

// accessKeyID is the key id of a SigV4 Authorization header's
// Credential=AKID/DATE/REGION/SERVICE/aws4_request, or "".
func accessKeyID(h string) string {
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return ""
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if k == "Credential" {
			akid, _, _ := strings.Cut(v, "/")
			return akid
		}
	}
	return ""
}

const xmlns = "https://iam.amazonaws.com/doc/2010-05-08/"

// ServeHTTP answers IAM query-protocol requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	action := r.Form.Get("Action")
	var kind, name string
	switch action {
	case "GetRole":
		kind, name = "role", r.Form.Get("RoleName")
	case "GetUser":
		kind, name = "user", r.Form.Get("UserName")
	default:
		s.fail(w, http.StatusBadRequest, "InvalidAction", "Could not find operation "+action)
		return
	}
	p, ok := s.lookup(kind, name, s.callerAccount(r))
	if !ok {
		s.fail(w, http.StatusNotFound, "NoSuchEntity", fmt.Sprintf("The %s with name %s cannot be found.", kind, name))
		return
	}
	tag := strings.ToUpper(kind[:1]) + kind[1:]
	idPrefix := map[string]string{"role": "AROA", "user": "AIDA"}[kind]
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<%[1]sResponse xmlns="%[2]s"><%[1]sResult><%[3]s><Path>%[4]s</Path><%[3]sName>%[5]s</%[3]sName><%[3]sId>%[6]s</%[3]sId><Arn>%[7]s</Arn><CreateDate>2024-01-01T00:00:00Z</CreateDate></%[3]s></%[1]sResult><ResponseMetadata><RequestId>local</RequestId></ResponseMetadata></%[1]sResponse>`,
		action, xmlns, tag, xmlEscape(p.Path), xmlEscape(p.Name), idPrefix+strings.ToUpper(fmt.Sprintf("%016x", len(p.ARN)*7919)), xmlEscape(p.ARN))
}

func (s *Server) fail(w http.ResponseWriter, status int, code, msg string) {
	awsquery.WriteError(w, status, xmlns, code, msg, "local")
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
