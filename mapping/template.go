package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Placeholders the authenticator substitutes in usernames and groups.
const (
	PlaceholderAccountID         = "{{AccountID}}"
	PlaceholderSessionName       = "{{SessionName}}"
	PlaceholderSessionNameRaw    = "{{SessionNameRaw}}"
	PlaceholderAccessKeyID       = "{{AccessKeyID}}"
	PlaceholderEC2PrivateDNSName = "{{EC2PrivateDNSName}}"
)

var (
	knownPlaceholders = []string{PlaceholderAccountID, PlaceholderSessionName, PlaceholderSessionNameRaw, PlaceholderAccessKeyID, PlaceholderEC2PrivateDNSName}
	placeholderRe     = regexp.MustCompile(`\{\{[^{}]*\}\}`)
)

// TemplateWarnings lists placeholders in s that the authenticator does not
// substitute; they reach Kubernetes literally, which is rarely intended.
func TemplateWarnings(s string) []string {
	var warnings []string
	for _, ph := range placeholderRe.FindAllString(s, -1) {
		known := false
		for _, k := range knownPlaceholders {
			if ph == k {
				known = true
			}
		}
		if !known {
			warnings = append(warnings, fmt.Sprintf("%s in %q is not a placeholder aws-iam-authenticator substitutes (it stays literal); known: %s", ph, s, strings.Join(knownPlaceholders, ", ")))
		}
	}
	return warnings
}

// Caller is what the authenticator knows about a request's IAM identity.
type Caller struct {
	// CanonicalARN is arn:P:iam::A:role/NAME or the user's ARN.
	CanonicalARN      string
	AccountID         string
	SessionName       string
	AccessKeyID       string
	EC2PrivateDNSName string
	// AnySession stands for every session of the principal rather than one:
	// placeholders are left as written, and only what refuses every session
	// (an {{EC2PrivateDNSName}} for a caller that is not a role) refuses.
	AnySession bool
}

// ErrNoInstanceSession is returned by [RenderChecked] for a template with
// {{EC2PrivateDNSName}} when the caller's session name is not an EC2
// instance id: the authenticator then refuses the caller.
var ErrNoInstanceSession = errors.New("{{EC2PrivateDNSName}} needs a role session named after an EC2 instance id (i-...), and the session name is not one")

// RenderChecked substitutes the placeholders in s as aws-iam-authenticator
// v0.7.18 does (server.renderTemplate): one strings.ReplaceAll after the
// other, in its order, so a value that a replacement puts in can be
// replaced by a later one. {{SessionName}} has '@' turned into '-' because
// '@' is not valid in some Kubernetes names; {{SessionNameRaw}} keeps it.
// {{EC2PrivateDNSName}} is looked up from EC2 by EKS; here it is
// c.EC2PrivateDNSName, or left as written when that is unknown.
func RenderChecked(s string, c Caller) (string, error) {
	if !strings.Contains(s, PlaceholderEC2PrivateDNSName) {
		return render(s, c), nil
	}
	if c.AnySession {
		if p, _, err := ParsePrincipal(c.CanonicalARN); err == nil && p.Kind != KindRole {
			return "", fmt.Errorf("%w; a %s has no session", ErrNoInstanceSession, p.Kind)
		}
		return s, nil
	}
	if !instanceIDRe.MatchString(c.SessionName) {
		return "", ErrNoInstanceSession
	}
	return render(s, c), nil
}

func render(s string, c Caller) string {
	if c.AnySession {
		return s
	}
	if c.EC2PrivateDNSName != "" {
		s = strings.ReplaceAll(s, PlaceholderEC2PrivateDNSName, c.EC2PrivateDNSName)
	}
	s = strings.ReplaceAll(s, PlaceholderAccountID, c.AccountID)
	s = strings.ReplaceAll(s, PlaceholderSessionName, strings.ReplaceAll(c.SessionName, "@", "-"))
	s = strings.ReplaceAll(s, PlaceholderSessionNameRaw, c.SessionName)
	s = strings.ReplaceAll(s, PlaceholderAccessKeyID, c.AccessKeyID)
	return s
}

// Render is [RenderChecked] for display: it renders even where the
// authenticator would refuse the caller.
func Render(s string, c Caller) string { return render(s, c) }

// IsInstanceID reports whether a session name is an EC2 instance id, the
// only session for which EKS renders {{EC2PrivateDNSName}}.
func IsInstanceID(session string) bool { return instanceIDRe.MatchString(session) }

// CallerFor is what the authenticator knows about a caller whose STS
// identity is arn (as GetCallerIdentity returns it, or the IAM ARN of the
// principal): the canonical ARN it matches aws-auth with (an assumed-role
// session becomes its role, without path; users, the account root and
// federated users stay as they are) and the session name, which only role
// sessions have. session is used for a role named by its IAM ARN.
func CallerFor(arn, session string) (Caller, error) {
	p, _, err := ParsePrincipal(arn)
	if err != nil {
		return Caller{}, err
	}
	c := Caller{CanonicalARN: p.ARN, AccountID: p.Account}
	if p.Kind != KindRole {
		return c, nil
	}
	c.SessionName = session
	if _, rest, ok := strings.Cut(arn, ":assumed-role/"); ok {
		if _, s, ok := strings.Cut(rest, "/"); ok {
			c.SessionName = s
		}
	}
	return c, nil
}
