package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrInvalidARN is wrapped by every error ParsePrincipal returns, so callers
// can tell bad input from other failures with errors.Is.
var ErrInvalidARN = errors.New("invalid ARN")

// PrincipalKind says whether a principal is an IAM role or an IAM user; they
// live in different aws-auth keys (mapRoles, mapUsers).
type PrincipalKind int

const (
	KindRole PrincipalKind = iota + 1
	KindUser
	// KindRoot is an account's root user (arn:P:iam::A:root). EKS matches it
	// in mapUsers, and mapAccounts covers it; access entries refuse it.
	KindRoot
	// KindFederatedUser is an STS federated user
	// (arn:P:sts::A:federated-user/NAME), matched as written in mapUsers.
	KindFederatedUser
)

func (k PrincipalKind) String() string {
	switch k {
	case KindRole:
		return "role"
	case KindUser:
		return "user"
	case KindRoot:
		return "root"
	case KindFederatedUser:
		return "federated-user"
	}
	return "unknown"
}

// Principal is an IAM role or user in the form EKS matches against.
type Principal struct {
	Kind      PrincipalKind
	Partition string
	Account   string
	// Path is "/" or "/a/b/"; for roles it is dropped from ARN (see ParsePrincipal).
	Path string
	Name string
	// ARN is the string to store in aws-auth: for roles always without a path.
	ARN string
}

// Rewrite explains a change ParsePrincipal made to the ARN it was given.
type Rewrite struct {
	From, To string
	Reason   string
}

func (r Rewrite) String() string {
	return fmt.Sprintf("stored %s instead of %s: %s", r.To, r.From, r.Reason)
}

var (
	partitionRe = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	accountRe   = regexp.MustCompile(`^[0-9]{12}$`)
	// IAM's character set for role, user and session names.
	iamNameRe = regexp.MustCompile(`^[\w+=,.@-]+$`)
)

// ssoPathPrefix is where IAM Identity Center puts the roles it provisions.
const ssoPathPrefix = "/aws-reserved/sso.amazonaws.com/"

// arnParts splits an ARN into its six fields. Resource may contain ':'.
type arnParts struct {
	Partition, Service, Region, Account, Resource string
}

func splitARN(s string) (arnParts, error) {
	if s == "" {
		return arnParts{}, fmt.Errorf("%w: empty", ErrInvalidARN)
	}
	if strings.TrimSpace(s) != s {
		return arnParts{}, fmt.Errorf("%w %q: surrounding whitespace", ErrInvalidARN, s)
	}
	f := strings.SplitN(s, ":", 6)
	if len(f) != 6 || f[0] != "arn" {
		return arnParts{}, fmt.Errorf("%w %q: want arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE", ErrInvalidARN, s)
	}
	p := arnParts{Partition: f[1], Service: f[2], Region: f[3], Account: f[4], Resource: f[5]}
	if !partitionRe.MatchString(p.Partition) {
		return p, fmt.Errorf("%w %q: unknown partition %q (aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, ...)", ErrInvalidARN, s, p.Partition)
	}
	if !accountRe.MatchString(p.Account) {
		// eksctl's documentation writes 123456 as a placeholder; copied as
		// is, it makes an entry no caller's ARN can ever match.
		return p, fmt.Errorf("%w %q: account id %q is not 12 digits, so no caller could ever match it (documentation examples such as eksctl's 123456 stand for your 12-digit account id)", ErrInvalidARN, s, p.Account)
	}
	if p.Region != "" {
		return p, fmt.Errorf("%w %q: IAM and STS ARNs have no region, got %q", ErrInvalidARN, s, p.Region)
	}
	return p, nil
}

// ParsePrincipal parses an IAM role, user, account root, STS assumed-role or
// federated-user ARN into the principal EKS sees, plus the rewrites it made.
// It rejects what cannot authenticate to EKS (IAM groups, other services).
func ParsePrincipal(s string) (Principal, []Rewrite, error) {
	p, err := splitARN(s)
	if err != nil {
		return Principal{}, nil, err
	}
	switch p.Service {
	case "iam":
		return parseIAMResource(s, p)
	case "sts":
		return parseSTSResource(s, p)
	}
	return Principal{}, nil, fmt.Errorf("%w %q: service %q is not iam or sts", ErrInvalidARN, s, p.Service)
}

func parseIAMResource(s string, p arnParts) (Principal, []Rewrite, error) {
	typ, rest, _ := strings.Cut(p.Resource, "/")
	switch typ {
	case "role", "user":
	case "root":
		if rest != "" || p.Resource != "root" {
			return Principal{}, nil, fmt.Errorf("%w %q: an account root ARN ends in :root", ErrInvalidARN, s)
		}
		return Principal{Kind: KindRoot, Partition: p.Partition, Account: p.Account, Path: "/", Name: "root", ARN: s}, nil, nil
	case "group":
		return Principal{}, nil, fmt.Errorf("%w %q: IAM groups cannot authenticate to EKS; map the group's users or a role they assume", ErrInvalidARN, s)
	default:
		return Principal{}, nil, fmt.Errorf("%w %q: resource type %q is not role, user or root", ErrInvalidARN, s, typ)
	}
	path, name := "/", rest
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		path, name = "/"+rest[:i+1], rest[i+1:]
	}
	if err := checkName(s, typ, name); err != nil {
		return Principal{}, nil, err
	}
	// IAM's path pattern, /([\x21-\x7E]+/)?, allows an empty segment
	// ("/a//b/"): such a user exists, STS returns its ARN, and the
	// authenticator maps it.
	pr := Principal{Partition: p.Partition, Account: p.Account, Path: path, Name: name}
	if typ == "user" {
		pr.Kind = KindUser
		pr.ARN = s // users are canonicalised with their path, so it stays
		return pr, nil, nil
	}
	pr.Kind = KindRole
	pr.ARN = roleARN(p.Partition, p.Account, name)
	if path == "/" {
		return pr, nil, nil
	}
	reason := fmt.Sprintf("EKS compares the caller's canonical ARN, which has no path, so a role ARN with path %s would never match", path)
	if strings.HasPrefix(path, ssoPathPrefix) {
		reason = "IAM Identity Center (SSO) roles live under " + ssoPathPrefix + " but EKS matches them without that path"
	}
	return pr, []Rewrite{{From: s, To: pr.ARN, Reason: reason}}, nil
}

func parseSTSResource(s string, p arnParts) (Principal, []Rewrite, error) {
	typ, rest, _ := strings.Cut(p.Resource, "/")
	switch typ {
	case "assumed-role":
	case "federated-user":
		if err := checkName(s, "federated user", rest); err != nil {
			return Principal{}, nil, err
		}
		// The authenticator matches a federated user by its ARN as STS
		// returns it, in mapUsers.
		return Principal{Kind: KindFederatedUser, Partition: p.Partition, Account: p.Account, Path: "/", Name: rest, ARN: s}, nil, nil
	default:
		return Principal{}, nil, fmt.Errorf("%w %q: STS resource type %q is not assumed-role or federated-user", ErrInvalidARN, s, typ)
	}
	name, session, ok := strings.Cut(rest, "/")
	if !ok || session == "" {
		return Principal{}, nil, fmt.Errorf("%w %q: assumed-role ARN needs assumed-role/ROLE/SESSION", ErrInvalidARN, s)
	}
	if err := checkName(s, "role", name); err != nil {
		return Principal{}, nil, err
	}
	pr := Principal{Kind: KindRole, Partition: p.Partition, Account: p.Account, Path: "/", Name: name, ARN: roleARN(p.Partition, p.Account, name)}
	return pr, []Rewrite{{From: s, To: pr.ARN, Reason: "an assumed-role session ARN is one session of the role; EKS maps the role itself"}}, nil
}

func checkName(s, typ, name string) error {
	if name == "" {
		return fmt.Errorf("%w %q: empty %s name", ErrInvalidARN, s, typ)
	}
	if len(name) > 64 {
		return fmt.Errorf("%w %q: %s name is longer than 64 characters", ErrInvalidARN, s, typ)
	}
	if !iamNameRe.MatchString(name) {
		return fmt.Errorf("%w %q: %s name %q has characters IAM does not allow", ErrInvalidARN, s, typ, name)
	}
	return nil
}

func roleARN(partition, account, name string) string {
	return "arn:" + partition + ":iam::" + account + ":role/" + name
}

// ValidAccountID reports whether id is a 12-digit AWS account id.
func ValidAccountID(id string) bool { return accountRe.MatchString(id) }

// AccountOf returns the account field of an ARN, or "" when it has none.
func AccountOf(arn string) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 {
		return ""
	}
	return f[4]
}

// PrincipalKey is how mappings of both mechanisms are compared: the
// lower-cased ARN EKS matches (a role without its path, an assumed-role
// session as its role). A string that is not a principal ARN is only
// lower-cased, which is what the authenticator does with it.
func PrincipalKey(arn string) string {
	if p, _, err := ParsePrincipal(strings.ToLower(arn)); err == nil {
		return p.ARN
	}
	return strings.ToLower(arn)
}
