// Package authwebhook is the local stack's stand-in for EKS's authenticator and
// authorizer, as kube-apiserver webhooks:
//
//   - /authenticate answers TokenReviews: it verifies a k8s-aws-v1. token's
//     SigV4 signature with the secret of one of the configured local
//     principals (instead of calling STS), then maps the caller as EKS does:
//     an access entry first (API, API_AND_CONFIG_MAP), else aws-auth
//     (CONFIG_MAP, API_AND_CONFIG_MAP) with aws-iam-authenticator's rules
//     and templates — iammap's own mapping and awsauth code. Unmapped: 401.
//   - /authorize answers SubjectAccessReviews before RBAC: it allows what the
//     caller's associated access policies allow at their scope, and has no
//     opinion otherwise, so RBAC decides the rest, as on EKS.
package authwebhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/accesspolicy"
	"github.com/iammap/iammap/internal/devstack/eksemu"
	"github.com/iammap/iammap/internal/ekstoken"
	"github.com/iammap/iammap/internal/explain"
	"github.com/iammap/iammap/mapping"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// Principal is a local IAM identity with credentials.
type Principal struct {
	Name            string `json:"name"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	// ARN is the IAM user or role ARN (roles may have a path).
	ARN string `json:"arn"`
	// SessionName is used for roles, as the caller's assumed-role session.
	SessionName string `json:"sessionName,omitempty"`
}

// caller is what STS GetCallerIdentity would say, plus the canonical form.
type caller struct {
	principal    Principal
	arn          string // STS caller ARN
	canonicalARN string // what aws-auth is matched against
	account      string
	sessionName  string
}

func (p Principal) caller() (caller, error) {
	parsed, _, err := mapping.ParsePrincipal(p.ARN)
	if err != nil {
		return caller{}, err
	}
	c := caller{principal: p, arn: p.ARN, canonicalARN: parsed.ARN, account: parsed.Account}
	if parsed.Kind == mapping.KindRole {
		c.sessionName = p.SessionName
		if c.sessionName == "" {
			c.sessionName = p.Name
		}
		c.arn = fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", parsed.Partition, parsed.Account, parsed.Name, c.sessionName)
	}
	return c, nil
}

// Handler serves /authenticate and /authorize for one cluster.
type Handler struct {
	Cluster    string
	Principals []Principal
	EKS        *eksemu.Server
	// CreatorARN is the cluster creator: admin in CONFIG_MAP mode without
	// appearing in aws-auth, as on EKS.
	CreatorARN string
	configMaps atomic.Pointer[corev1client.ConfigMapInterface]
	Log        *log.Logger
	now        func() time.Time
}

// SetConfigMaps gives the handler read access to kube-system ConfigMaps,
// once the API server it serves is up.
func (h *Handler) SetConfigMaps(cms corev1client.ConfigMapInterface) { h.configMaps.Store(&cms) }

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

func (h *Handler) secret(akid string) (string, bool) {
	p, ok := h.principal(akid)
	return p.SecretAccessKey, ok
}

func (h *Handler) principal(akid string) (Principal, bool) {
	for _, p := range h.Principals {
		if p.AccessKeyID == akid {
			return p, true
		}
	}
	return Principal{}, false
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
	claims, err := ekstoken.Verify(ctx, token, h.Cluster, h.secret, now())
	if err != nil {
		return deny(err.Error())
	}
	p, _ := h.principal(claims.AccessKeyID)
	c, err := p.caller()
	if err != nil {
		return deny(err.Error())
	}
	username, groups, via, ok := h.resolve(ctx, c)
	if !ok {
		return deny(fmt.Sprintf("%s is not mapped (%s)", c.arn, via))
	}
	h.logf("authenticate: %s -> %s %v via %s", c.arn, username, groups, via)
	return authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{
		Username: username, UID: "aws-iam-authenticator:" + c.account + ":" + claims.AccessKeyID, Groups: groups,
		Extra: map[string]authnv1.ExtraValue{
			extraARN: {c.arn}, extraCanonicalARN: {c.canonicalARN}, extraSessionName: {c.sessionName},
			extraAccessKeyID: {claims.AccessKeyID}, extraPrincipalARN: {c.principal.ARN},
		},
	}}
}

// resolve maps a caller with EKS's precedence, through iammap's own
// resolution (mapping.Access.Identify), and says which source decided.
func (h *Handler) resolve(ctx context.Context, c caller) (username string, groups []string, via string, ok bool) {
	mode, found := h.EKS.AuthMode(h.Cluster)
	if !found {
		return "", nil, "cluster unknown to the emulator", false
	}
	cl := mapping.Access{Mode: mapping.Mode(mode), Creator: h.CreatorARN, Entries: h.entries()}
	if mode != eksemu.ModeAPI {
		cms := h.configMaps.Load()
		if cms == nil {
			return "", nil, "API server not ready", false
		}
		cm, err := (*cms).Get(ctx, awsauth.Name, metav1.GetOptions{})
		switch {
		case err == nil:
			cl.AWSAuth = awsauth.Decode(cm.Data).Set()
		case !apierrors.IsNotFound(err):
			return "", nil, "aws-auth: " + err.Error(), false
		}
	}
	id := cl.Identify(c.principal.ARN, mapping.Caller{CanonicalARN: c.canonicalARN, AccountID: c.account, SessionName: c.sessionName, AccessKeyID: c.principal.AccessKeyID})
	return id.Username, id.Groups, id.Via, id.Mapped
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
