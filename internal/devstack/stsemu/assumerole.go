package stsemu

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	awsarn "github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/awscreds"
)

// Role is a role AssumeRole may assume: its trust policy, reduced to who
// may assume it and the external id it requires.
type Role struct {
	// ARN is the IAM role's ARN (a path allowed), in any account: the
	// stack's STS stands for the real, global one.
	ARN string
	// Trusted are the callers allowed to assume it: 12-digit account ids
	// (or the account's arn:P:iam::A:root) for any caller of that account,
	// or caller ARNs: an IAM user's, a role's (any of its sessions), or one
	// assumed-role session's.
	Trusted []string
	// ExternalID, when set, must be sent as ExternalId (the
	// sts:ExternalId condition of cross-account trust policies).
	ExternalID string
}

func (r Role) validate() error {
	a, err := awsarn.Parse(r.ARN)
	if err != nil || a.Service != "iam" || !strings.HasPrefix(a.Resource, "role/") || !accountRe.MatchString(a.AccountID) {
		return fmt.Errorf("assumable role %q: not an IAM role ARN", r.ARN)
	}
	return nil
}

var (
	accountRe     = regexp.MustCompile(`^[0-9]{12}$`)
	sessionNameRe = regexp.MustCompile(`^[\w+=,.@-]*$`)
	externalIDRe  = regexp.MustCompile(`^[\w+=,.@:/-]*$`)
)

// Session duration bounds, in seconds, and the limit of role chaining
// (a session assuming a role).
const (
	minDuration      = 900
	maxDuration      = 43200
	defaultDuration  = 3600
	maxChainDuration = 3600
)

// trusts reports whether r's trust policy lets the caller, signing with
// key, assume it.
func (r Role) trusts(key awscreds.Key, id authwebhook.Identity) bool {
	for _, t := range r.Trusted {
		if accountRe.MatchString(t) {
			if t == id.Account {
				return true
			}
			continue
		}
		if a, err := awsarn.Parse(t); err == nil && a.Service == "iam" && a.Resource == "root" && a.AccountID == id.Account {
			return true
		}
		// The caller's STS ARN, or its IAM identity: a user's ARN, or the
		// role (with or without its path) for any of the role's sessions.
		if t == id.ARN || t == id.CanonicalARN || t == key.ARN {
			return true
		}
	}
	return false
}

func validationError(format string, a ...any) *stsError {
	return &stsError{http.StatusBadRequest, "ValidationError", fmt.Sprintf(format, a...)}
}

func constraint(value, field, rule string) *stsError {
	return validationError("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, field, rule)
}

// assumeRole answers AssumeRole for the caller that signed with key: the
// parameters' rules, then the trust policy, then a session issued into the
// registry.
func (s *Server) assumeRole(key awscreds.Key, id authwebhook.Identity, params url.Values, requestID string) (any, *stsError) {
	roleARN, session, externalID := params.Get("RoleArn"), params.Get("RoleSessionName"), params.Get("ExternalId")
	switch {
	case !params.Has("RoleArn"):
		return nil, validationError("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
	case len(roleARN) < 20 || len(roleARN) > 2048:
		return nil, constraint(roleARN, "roleArn", "Member must have length between 20 and 2048")
	case !params.Has("RoleSessionName"):
		return nil, validationError("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
	case len(session) < 2:
		return nil, constraint(session, "roleSessionName", "Member must have length greater than or equal to 2")
	case len(session) > 64:
		return nil, constraint(session, "roleSessionName", "Member must have length less than or equal to 64")
	case !sessionNameRe.MatchString(session):
		return nil, constraint(session, "roleSessionName", `Member must satisfy regular expression pattern: [\w+=,.@-]*`)
	case params.Has("ExternalId") && (len(externalID) < 2 || len(externalID) > 1224):
		return nil, constraint(externalID, "externalId", "Member must have length between 2 and 1224")
	case !externalIDRe.MatchString(externalID):
		return nil, constraint(externalID, "externalId", `Member must satisfy regular expression pattern: [\w+=,.@:\/-]*`)
	}
	duration := defaultDuration
	if v := params.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return nil, &stsError{http.StatusBadRequest, "MalformedInput", fmt.Sprintf("Value %s for parameter DurationSeconds is invalid.", v)}
		case n < minDuration:
			return nil, constraint(v, "durationSeconds", "Member must have value greater than or equal to 900")
		case n > maxDuration:
			return nil, constraint(v, "durationSeconds", "Member must have value less than or equal to 43200")
		}
		duration = n
	}
	role, ok := s.roles[roleARN]
	if !ok || !role.trusts(key, id) || (role.ExternalID != "" && externalID != role.ExternalID) {
		// STS says the same whether the role is missing, untrusting, or
		// the external id wrong: a caller learns nothing about the role.
		return nil, &stsError{http.StatusForbidden, "AccessDenied", fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", id.ARN, roleARN)}
	}
	if key.Session() && duration > maxChainDuration {
		return nil, validationError("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	sess, err := s.creds.IssueSession(roleARN, session, s.now().Add(time.Duration(duration)*time.Second))
	if err != nil {
		return nil, &stsError{http.StatusInternalServerError, "InternalFailure", err.Error()}
	}
	// The session's identity is what GetCallerIdentity will answer for it,
	// by the same derivation.
	sid, err := authwebhook.PrincipalOf(sess).Identity()
	if err != nil {
		return nil, &stsError{http.StatusInternalServerError, "InternalFailure", err.Error()}
	}
	resp := assumeRoleResponse{Xmlns: xmlns}
	resp.Result.AssumedRoleUser.Arn, resp.Result.AssumedRoleUser.AssumedRoleID = sid.ARN, sid.UserID
	c := &resp.Result.Credentials
	c.AccessKeyID, c.SecretAccessKey, c.SessionToken = sess.AccessKeyID, sess.SecretAccessKey, sess.SessionToken
	c.Expiration = sess.Expires.UTC().Format(time.RFC3339)
	resp.Metadata.RequestID = requestID
	return resp, nil
}

// assumeRoleResponse is STS's answer, with the element names
// aws-sdk-go-v2's deserializer reads (its AssumeRole response snapshot).
type assumeRoleResponse struct {
	XMLName xml.Name `xml:"AssumeRoleResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		AssumedRoleUser struct {
			Arn           string `xml:"Arn"`
			AssumedRoleID string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
			Expiration      string `xml:"Expiration"`
		} `xml:"Credentials"`
	} `xml:"AssumeRoleResult"`
	Metadata struct {
		RequestID string `xml:"RequestId"`
	} `xml:"ResponseMetadata"`
}
