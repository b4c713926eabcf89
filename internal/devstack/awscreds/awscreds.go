// Package awscreds is the local stack's credential store: the access keys
// that exist, whose they are, and whether a request was signed with one.
// It answers the question every local AWS endpoint asks first (the STS, the
// EKS emulator, the token webhook), so a key known to one is known to all,
// and sessions issued by one stack's STS work against every stack sharing
// the registry, as sessions issued by the real STS work against every
// service and account.
//
// A key is static (a principal's long-term AKIA key) or a session (an ASIA
// key with a session token and an expiry, from AssumeRole). Who a key
// belongs to is said as the principal's IAM ARN and a session name, the
// fields authwebhook.Principal.Identity derives the STS caller from; this
// package never derives identities itself, so there is one derivation.
package awscreds

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	awsarn "github.com/aws/aws-sdk-go-v2/aws/arn"
)

// Key is one set of credentials and whose they are.
type Key struct {
	AccessKeyID, SecretAccessKey string
	// SessionToken is set for a session's key: requests must carry it
	// (X-Amz-Security-Token). Empty for a static key.
	SessionToken string
	// Name is the principal's name, for logs; a session's is its session name.
	Name string
	// ARN is the IAM identity the key acts for: a user, a role (for a
	// session: the assumed role), an account root or a federated user.
	ARN string
	// SessionName is a role session's name.
	SessionName string
	// Expires ends a session; zero for a static key.
	Expires time.Time
}

// Account is the 12-digit account of the key's identity.
func (k Key) Account() string {
	a, err := awsarn.Parse(k.ARN)
	if err != nil {
		return ""
	}
	return a.AccountID
}

// Session reports whether k is a session's key.
func (k Key) Session() bool { return k.SessionToken != "" }

// Errors a lookup or a signature check gives; *Error wraps them with the
// message AWS sends.
var (
	ErrMissingAuth  = errors.New("missing authentication")
	ErrIncomplete   = errors.New("incomplete signature")
	ErrUnknownKey   = errors.New("unknown access key or session token")
	ErrExpiredToken = errors.New("expired session")
	ErrSignature    = errors.New("signature does not match")
)

// Error is a refusal: Kind is one of the Err values above, Message the
// text AWS answers with (each service puts its own error code on Kind).
type Error struct {
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Message }
func (e *Error) Unwrap() error { return e.Kind }

// Messages AWS gives for these refusals, the same in every service.
const (
	MsgInvalidToken = "The security token included in the request is invalid."
	MsgExpiredToken = "The security token included in the request is expired"
	MsgSignature    = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// Registry holds the keys. It is safe for concurrent use; the zero value
// is not usable, call New.
type Registry struct {
	mu   sync.RWMutex
	keys map[string]Key
}

// New returns an empty registry.
func New() *Registry { return &Registry{keys: map[string]Key{}} }

// Add registers keys. Adding a key again is a no-op; a key id already held
// with other secrets or another owner is an error, since two stacks
// sharing a registry must not disagree on who a key is.
func (r *Registry) Add(keys ...Key) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range keys {
		if k.AccessKeyID == "" || k.SecretAccessKey == "" {
			return fmt.Errorf("add key of %s: access key id and secret are required", k.ARN)
		}
		if old, ok := r.keys[k.AccessKeyID]; ok && old != k {
			return fmt.Errorf("add key %s of %s: already registered for %s", k.AccessKeyID, k.ARN, old.ARN)
		}
		r.keys[k.AccessKeyID] = k
	}
	return nil
}

// Lookup returns the key with id akid, expired or not.
func (r *Registry) Lookup(akid string) (Key, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.keys[akid]
	return k, ok
}

// Secret is Lookup's secret, in the shape ekstoken.Verify asks for.
func (r *Registry) Secret(akid string) (string, bool) {
	k, ok := r.Lookup(akid)
	return k.SecretAccessKey, ok
}

// Check returns the key akid if a request presenting sessionToken may use
// it at time at: the key exists and, for a session, the token is the
// session's and the session has not expired. A static key ignores the
// token, as the stack always has (no client sends one with it).
func (r *Registry) Check(akid, sessionToken string, at time.Time) (Key, error) {
	k, ok := r.Lookup(akid)
	if !ok || (k.Session() && sessionToken != k.SessionToken) {
		return Key{}, &Error{ErrUnknownKey, MsgInvalidToken}
	}
	if k.Session() && !at.Before(k.Expires) {
		return Key{}, &Error{ErrExpiredToken, MsgExpiredToken}
	}
	return k, nil
}

// IssueSession registers and returns a new session key acting for the IAM
// role arn as sessionName until expires.
func (r *Registry) IssueSession(arn, sessionName string, expires time.Time) (Key, error) {
	k := Key{
		AccessKeyID: "ASIA" + randomUpper(16), SecretAccessKey: randomBase64(30)[:40],
		// Real session tokens are long opaque blobs; the length matters to
		// nobody here, only that it cannot be guessed.
		SessionToken: "IQoJb3JpZ2luX2VjE" + randomBase64(120),
		Name:         sessionName, ARN: arn, SessionName: sessionName, Expires: expires.UTC().Truncate(time.Second),
	}
	if err := r.Add(k); err != nil {
		return Key{}, fmt.Errorf("issue session %s of %s: %w", sessionName, arn, err)
	}
	return k, nil
}

// Forget removes the key akid (a test revoking credentials).
func (r *Registry) Forget(akid string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.keys, akid)
}

func randomUpper(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i, v := range b {
		b[i] = alphabet[int(v)%len(alphabet)]
	}
	return string(b)
}

func randomBase64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
