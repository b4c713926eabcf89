// Package authwebhook is the local stack's stand-in for EKS's authenticator and
// authorizer, as kube-apiserver webhooks:
//
//   - /authenticate answers TokenReviews: it accepts exactly the k8s-aws-v1.
//     tokens aws-iam-authenticator accepts (tokenRules), verifies what STS
//     would, the SigV4 signature with the secret of a key of the stack's
//     credential registry (awscreds: a principal's, or an AssumeRole
//     session's, whose token and expiry are checked too; the caller is then
//     the assumed role) instead of calling STS, then maps the caller with EKS's
//     precedence, the stack's own rule: in API and API_AND_CONFIG_MAP mode
//     an access entry for the principal wins; in API mode nothing else
//     counts; in CONFIG_MAP mode the cluster creator is admin. Otherwise
//     aws-auth decides, and the decision is aws-iam-authenticator v0.7.18's,
//     the code EKS runs: the webhook sends the STS GetCallerIdentity answer
//     the token stands for to authenticator-oracle (tools/authenticator,
//     POST /map), which runs the authenticator's aws-auth mapper. Not
//     mapped, refused by the authenticator, or the oracle unreachable: 401.
//     iammap's own aws-auth code takes no part in the decision.
//   - /authorize answers SubjectAccessReviews before RBAC: it allows what the
//     caller's associated access policies allow at their scope, and has no
//     opinion otherwise, so RBAC decides the rest, as on EKS.
package authwebhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	awsarn "github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/internal/accesspolicy"
	"github.com/iammap/iammap/internal/devstack/awscreds"
	"github.com/iammap/iammap/internal/devstack/eksemu"
	"github.com/iammap/iammap/internal/ekstoken"
	"github.com/iammap/iammap/internal/explain"
	"github.com/iammap/iammap/mapping"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
)

// Principal is a local IAM identity with credentials.
type Principal struct {
	Name            string `json:"name"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	// ARN is the IAM user or role ARN (roles may have a path), the account's
	// root user (arn:P:iam::A:root) or an STS federated user
	// (arn:P:sts::A:federated-user/NAME).
	ARN string `json:"arn"`
	// SessionName is used for roles, as the caller's assumed-role session;
	// default Name. Any string goes: an instance id such as
	// i-0123456789abcdef0 makes the caller look like a node to
	// {{EC2PrivateDNSName}}, another string does not.
	SessionName string `json:"sessionName,omitempty"`
}

// Identity is what STS GetCallerIdentity answers for a principal, plus the
// canonical form aws-auth is matched against. The local STS (stsemu) and
// the webhook (for authenticator-oracle) both answer with it.
type Identity struct {
	ARN          string // STS caller ARN
	CanonicalARN string // what aws-auth is matched against
	Account      string
	UserID       string // STS UserId: AIDA... (user), AROA...:SESSION (role), the account (root), ACCOUNT:NAME (federated user)
	SessionName  string // a role's session name, else empty
}

// caller is a principal with its identity.
type caller struct {
	principal Principal
	Identity
}

// Identity is what STS GetCallerIdentity answers for p. Unique ids are
// made from the access key id: AIDA or AROA, then the key without its
// prefix (AKIA...).
func (p Principal) Identity() (Identity, error) {
	a, err := awsarn.Parse(p.ARN)
	if err != nil {
		return Identity{}, fmt.Errorf("principal %s: %w", p.Name, err)
	}
	uniqueID := func(prefix string) string {
		return prefix + p.AccessKeyID[min(4, len(p.AccessKeyID)):]
	}
	c := Identity{ARN: p.ARN, CanonicalARN: p.ARN, Account: a.AccountID}
	kind, rest, _ := strings.Cut(a.Resource, "/")
	switch {
	case a.Service == "iam" && a.Resource == "root":
		c.UserID = a.AccountID
	case a.Service == "iam" && kind == "user" && rest != "":
		c.UserID = uniqueID("AIDA")
	case a.Service == "iam" && kind == "role" && rest != "":
		// STS names the role without its path.
		name := path.Base(rest)
		c.SessionName = p.SessionName
		if c.SessionName == "" {
			c.SessionName = p.Name
		}
		c.ARN = fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", a.Partition, a.AccountID, name, c.SessionName)
		c.CanonicalARN = fmt.Sprintf("arn:%s:iam::%s:role/%s", a.Partition, a.AccountID, name)
		c.UserID = uniqueID("AROA") + ":" + c.SessionName
	case a.Service == "sts" && kind == "federated-user" && rest != "":
		c.UserID = a.AccountID + ":" + rest
	default:
		return Identity{}, fmt.Errorf("principal %s: %s is not an IAM user, role, root user or federated user", p.Name, p.ARN)
	}
	return c, nil
}

// Key is p's credentials as the stack's credential registry holds them.
func (p Principal) Key() awscreds.Key {
	return awscreds.Key{AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey, Name: p.Name, ARN: p.ARN, SessionName: p.SessionName}
}

// PrincipalOf is the principal a registered key acts for: a static key's
// principal, or for a session the assumed role with the session's name,
// whose Identity is then the assumed-role caller STS reports.
func PrincipalOf(k awscreds.Key) Principal {
	return Principal{Name: k.Name, AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, ARN: k.ARN, SessionName: k.SessionName}
}

func (p Principal) caller() (caller, error) {
	id, err := p.Identity()
	return caller{principal: p, Identity: id}, err
}

// Handler serves /authenticate and /authorize for one cluster.
type Handler struct {
	Cluster string
	// Principals are the accepted static identities when Credentials is nil.
	Principals []Principal
	// Credentials, when set, is the registry tokens are checked against
	// (static keys and sessions, possibly shared with other stacks);
	// Principals are then ignored: register them there.
	Credentials *awscreds.Registry
	credsOnce   sync.Once
	EKS         *eksemu.Server
	// CreatorARN is the cluster creator: admin in CONFIG_MAP mode without
	// appearing in aws-auth, as on EKS.
	CreatorARN string
	// Partition and Region are the cluster's, as aws-iam-authenticator's
	// verifier is configured on EKS; they decide which STS hosts a token
	// may be presigned for. Default aws and us-west-2 (the stack's).
	Partition, Region string
	// LocalSTS is the stack's STS endpoint URL (AWS_ENDPOINT_URL_STS):
	// tokens presigned for it are accepted as for the partition's STS, all
	// other rules applying. Empty: any http://127.0.0.1:PORT.
	LocalSTS string
	// Client asks the oracle; default a client with a 10 s timeout.
	Client *http.Client
	oracle atomic.Pointer[string]
	Log    *log.Logger
	now    func() time.Time
}

// SetOracle gives the handler authenticator-oracle's URL, once it serves.
// Until then every caller that aws-auth would decide is denied.
func (h *Handler) SetOracle(url string) { h.oracle.Store(&url) }

// ServeHTTP routes the two webhooks.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/authenticate":
		h.authenticate(w, r)
	case "/authorize":
		h.authorize(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) logf(format string, a ...any) {
	if h.Log != nil {
		h.Log.Printf(format, a...)
	}
}

// credentials is the registry keys are looked up in: Credentials, or one
// made once from Principals.
func (h *Handler) credentials() *awscreds.Registry {
	h.credsOnce.Do(func() {
		if h.Credentials != nil {
			return
		}
		reg := awscreds.New()
		for _, p := range h.Principals {
			// Principals with one key id and other secrets: the first is kept
			// (a configuration mistake, logged rather than fatal here).
			if err := reg.Add(p.Key()); err != nil {
				h.logf("principals: %v", err)
			}
		}
		h.Credentials = reg
	})
	return h.Credentials
}

// Extra keys EKS puts on authenticated users; iammap's authorizer reads principalArn.
const (
	extraARN          = "arn"
	extraCanonicalARN = "canonicalArn"
	extraSessionName  = "sessionName"
	extraAccessKeyID  = "accessKeyId"
	extraPrincipalARN = "iammap.local/principalArn"
)

func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) {
	var review authnv1.TokenReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	review.Status = h.review(r.Context(), review.Spec.Token)
	review.APIVersion, review.Kind = "authentication.k8s.io/v1", "TokenReview"
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(review)
}

func (h *Handler) review(ctx context.Context, token string) authnv1.TokenReviewStatus {
	deny := func(reason string) authnv1.TokenReviewStatus {
		// The reason is logged for whoever runs the stack, never the token.
		h.logf("authenticate: denied: %s", reason)
		return authnv1.TokenReviewStatus{Authenticated: false, Error: reason}
	}
	now := time.Now
	if h.now != nil {
		now = h.now
	}
	claims, key, err := h.verifyToken(ctx, token, now())
	if err != nil {
		return deny(err.Error())
	}
	c, err := PrincipalOf(key).caller()
	if err != nil {
		return deny(err.Error())
	}
	username, groups, via, ok := h.resolve(ctx, c)
	if !ok {
		return deny(fmt.Sprintf("%s is not mapped (%s)", c.ARN, via))
	}
	h.logf("authenticate: %s -> %s %v via %s", c.ARN, username, groups, via)
	return authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{
		Username: username, UID: "aws-iam-authenticator:" + c.Account + ":" + claims.AccessKeyID, Groups: groups,
		Extra: map[string]authnv1.ExtraValue{
			extraARN: {c.ARN}, extraCanonicalARN: {c.CanonicalARN}, extraSessionName: {c.SessionName},
			extraAccessKeyID: {claims.AccessKeyID}, extraPrincipalARN: {c.principal.ARN},
		},
	}}
}

// verifyToken accepts what EKS accepts: the token passes
// aws-iam-authenticator's rules (tokenRules), then what STS would check of
// the presigned URL, done locally with the stack's keys: the signature
// (over the cluster header), its age, a credential scope in the
// endpoint's region, and for a session's key its session token and expiry.
// It returns the claims and the registered key that signed.
func (h *Handler) verifyToken(ctx context.Context, token string, now time.Time) (ekstoken.Claims, awscreds.Key, error) {
	rules := tokenRules{partition: h.Partition, region: h.Region}
	if rules.partition == "" {
		rules.partition = "aws"
	}
	if rules.region == "" {
		rules.region = "us-west-2"
	}
	if h.LocalSTS != "" {
		u, err := url.Parse(h.LocalSTS)
		if err != nil {
			return ekstoken.Claims{}, awscreds.Key{}, fmt.Errorf("the stack's STS endpoint %q: %w", h.LocalSTS, err)
		}
		rules.localSTS = u
	}
	p, err := rules.check(token, now)
	if err != nil {
		return ekstoken.Claims{}, awscreds.Key{}, err
	}
	claims, err := ekstoken.Verify(ctx, token, h.Cluster, h.credentials().Secret, now)
	if err != nil {
		return ekstoken.Claims{}, awscreds.Key{}, fmt.Errorf("STS would refuse the token: %w", err)
	}
	// The authenticator lets through hosts of regions that do not exist
	// (sts.evil.amazonaws.com): on EKS the STS call then fails.
	if !p.Local && !partitionRegion(rules.partition, p.EndpointRegion) {
		return ekstoken.Claims{}, awscreds.Key{}, fmt.Errorf("STS would not answer: %s is not an STS endpoint of partition %s", p.URL.Host, rules.partition)
	}
	// STS refuses a signature scoped to another region than the endpoint's
	// ("Credential should be scoped to a valid region"); the local STS, like
	// stsemu, also takes the global endpoint's region.
	if claims.Region != p.EndpointRegion && !(p.Local && claims.Region == globalSTSRegion) {
		return ekstoken.Claims{}, awscreds.Key{}, fmt.Errorf("STS would refuse the token: signed for region %s at %s, whose region is %s", claims.Region, p.URL.Host, p.EndpointRegion)
	}
	// ekstoken.Verify signs with whatever token the URL carries; STS also
	// requires it to be the session's own, and the session alive.
	key, err := h.credentials().Check(claims.AccessKeyID, p.URL.Query().Get("X-Amz-Security-Token"), now)
	if err != nil {
		return ekstoken.Claims{}, awscreds.Key{}, fmt.Errorf("STS would refuse the token: %w", err)
	}
	return claims, key, nil
}

// resolve maps a caller with EKS's precedence and says which source
// decided: an access entry (API, API_AND_CONFIG_MAP), nothing else in API
// mode, the cluster creator in CONFIG_MAP mode, else aws-auth as
// aws-iam-authenticator decides it (askOracle).
func (h *Handler) resolve(ctx context.Context, c caller) (username string, groups []string, via string, ok bool) {
	mode, found := h.EKS.AuthMode(h.Cluster)
	if !found {
		return "", nil, "cluster unknown to the emulator", false
	}
	m := mapping.Mode(mode)
	if m.UsesAccessEntries() {
		// Access entries only: Identify in API mode never reads aws-auth.
		id := mapping.Access{Mode: mapping.ModeAPI, Entries: h.entries()}.Identify(c.principal.ARN,
			mapping.Caller{CanonicalARN: c.CanonicalARN, AccountID: c.Account, SessionName: c.SessionName, AccessKeyID: c.principal.AccessKeyID})
		if id.Mapped {
			return id.Username, id.Groups, id.Via, true
		}
	}
	if !m.UsesAWSAuth() {
		return "", nil, "no access entry, and aws-auth is ignored in API mode", false
	}
	if m == mapping.ModeConfigMap && h.CreatorARN != "" && mapping.PrincipalKey(h.CreatorARN) == mapping.PrincipalKey(c.principal.ARN) {
		return "kubernetes-admin", []string{"system:masters"}, "cluster creator", true
	}
	o, err := h.askOracle(ctx, c)
	switch {
	case err != nil:
		return "", nil, "aws-auth: asking aws-iam-authenticator: " + err.Error(), false
	case o.Refused != "":
		return "", nil, "aws-auth: aws-iam-authenticator refuses the caller: " + o.Refused, false
	case !o.Mapped:
		return "", nil, "no access entry and no aws-auth mapping (aws-iam-authenticator)", false
	}
	return o.Username, o.Groups, "aws-auth (aws-iam-authenticator v0.7.18)", true
}

// oracleOutcome is authenticator-oracle's answer (oracle.Outcome).
type oracleOutcome struct {
	Mapped   bool     `json:"mapped"`
	Refused  string   `json:"refused"`
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

// askOracle sends authenticator-oracle what STS GetCallerIdentity would
// answer for the caller and returns what aws-iam-authenticator makes of it.
func (h *Handler) askOracle(ctx context.Context, c caller) (oracleOutcome, error) {
	url := h.oracle.Load()
	if url == nil {
		return oracleOutcome{}, errors.New("authenticator-oracle is not running yet")
	}
	body, err := json.Marshal(map[string]string{"arn": c.ARN, "account": c.Account, "userId": c.UserID, "accessKeyId": c.principal.AccessKeyID})
	if err != nil {
		return oracleOutcome{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *url+"/map", bytes.NewReader(body))
	if err != nil {
		return oracleOutcome{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return oracleOutcome{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return oracleOutcome{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return oracleOutcome{}, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var o oracleOutcome
	if err := json.Unmarshal(b, &o); err != nil {
		return oracleOutcome{}, fmt.Errorf("decoding %q: %w", b, err)
	}
	return o, nil
}

// entries converts the emulator's access entries for the shared resolution.
func (h *Handler) entries() []accessentry.Entry {
	var out []accessentry.Entry
	for _, e := range h.EKS.AccessEntries(h.Cluster) {
		ae := accessentry.Entry{PrincipalARN: e.PrincipalARN, Type: e.Type, Username: e.Username, Groups: e.Groups}
		for _, p := range e.Policies {
			ae.Policies = append(ae.Policies, accessentry.PolicySpec{ARN: p.PolicyARN, Namespaces: p.Namespaces})
		}
		out = append(out, ae)
	}
	return out
}

func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	var sar authzv1.SubjectAccessReview
	if err := json.NewDecoder(r.Body).Decode(&sar); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sar.Status = h.decide(sar.Spec)
	sar.APIVersion, sar.Kind = "authorization.k8s.io/v1", "SubjectAccessReview"
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(sar)
}

// decide allows what the caller's access policies allow; otherwise it has
// no opinion (allowed and denied both false), and RBAC decides.
func (h *Handler) decide(spec authzv1.SubjectAccessReviewSpec) authzv1.SubjectAccessReviewStatus {
	arns := spec.Extra[extraPrincipalARN]
	if len(arns) != 1 {
		return authzv1.SubjectAccessReviewStatus{}
	}
	mode, _ := h.EKS.AuthMode(h.Cluster)
	if mode == eksemu.ModeConfigMap {
		return authzv1.SubjectAccessReviewStatus{}
	}
	// The same resolution as authentication: only an access entry carries policies.
	id := mapping.Access{Mode: mapping.ModeAPI, Entries: h.entries()}.Identify(arns[0], mapping.Caller{})
	if !id.Mapped {
		return authzv1.SubjectAccessReviewStatus{}
	}
	req := accesspolicy.Request{}
	if a := spec.ResourceAttributes; a != nil {
		req = accesspolicy.Request{ResourceRequest: true, Verb: a.Verb, APIGroup: a.Group, Resource: a.Resource, Subresource: a.Subresource, Namespace: a.Namespace, Name: a.Name}
	} else if n := spec.NonResourceAttributes; n != nil {
		req = accesspolicy.Request{Verb: n.Verb, Path: n.Path}
	}
	if ok, why := explain.PoliciesAllow(id.Policies, req); ok {
		return authzv1.SubjectAccessReviewStatus{Allowed: true, Reason: "EKS " + why}
	}
	return authzv1.SubjectAccessReviewStatus{}
}

// NewPrincipal returns a principal with fresh random credentials.
func NewPrincipal(name, arn string) Principal {
	const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, 16+40)
	_, _ = rand.Read(b)
	key := []byte("AKIA")
	for _, v := range b[:16] {
		key = append(key, upper[int(v)%len(upper)])
	}
	return Principal{Name: name, ARN: arn, AccessKeyID: string(key), SecretAccessKey: base64.RawStdEncoding.EncodeToString(b[16:])[:40]}
}
