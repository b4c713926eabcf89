package mapping

import (
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
}

// Render substitutes the placeholders in s as the authenticator does: '@' in
// the session name becomes '-' for {{SessionName}} because '@' is not valid in
// some Kubernetes names; {{SessionNameRaw}} keeps it.
func Render(s string, c Caller) string {
	return strings.NewReplacer(
		PlaceholderAccountID, c.AccountID,
		PlaceholderSessionNameRaw, c.SessionName,
		PlaceholderSessionName, strings.ReplaceAll(c.SessionName, "@", "-"),
		PlaceholderAccessKeyID, c.AccessKeyID,
		PlaceholderEC2PrivateDNSName, c.EC2PrivateDNSName,
	).Replace(s)
}
