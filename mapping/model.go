package mapping

import (
	"fmt"
	"slices"
	"strings"
)

// Source names the aws-auth key an entry lives in.
type Source string

const (
	MapRoles    Source = "mapRoles"
	MapUsers    Source = "mapUsers"
	MapAccounts Source = "mapAccounts"
)

// SSO is a mapRoles entry's alternative to rolearn: every IAM Identity Center
// role provisioned for one permission set in one account.
type SSO struct {
	PermissionSetName string `json:"permissionSetName" yaml:"permissionSetName"`
	AccountID         string `json:"accountID" yaml:"accountID"`
	Partition         string `json:"partition,omitempty" yaml:"partition,omitempty"`
}

// ARNLike is the lower-cased ARN pattern the authenticator matches SSO roles with.
func (s SSO) ARNLike() string {
	partition := s.Partition
	if partition == "" {
		partition = "aws"
	}
	return strings.ToLower(fmt.Sprintf("arn:%s:iam::%s:role/AWSReservedSSO_%s_*", partition, s.AccountID, s.PermissionSetName))
}

// Mapping is one mapRoles or mapUsers entry as the authenticator reads it.
type Mapping struct {
	Source   Source   `json:"source"`
	ARN      string   `json:"arn,omitempty"`
	SSO      *SSO     `json:"sso,omitempty"`
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
	UserID   string   `json:"userid,omitempty"`
	// Problems lists values of the entry that have the wrong type, each of
	// which the authenticator reads as empty while keeping the entry.
	Problems []string `json:"problems,omitempty"`
}

// Key is what the authenticator indexes the entry by.
func (m Mapping) Key() string {
	if m.ARN == "" && m.SSO != nil {
		return m.SSO.ARNLike()
	}
	return strings.ToLower(m.ARN)
}

// Display is the entry's ARN, or its SSO pattern.
func (m Mapping) Display() string {
	if m.ARN == "" && m.SSO != nil {
		return m.SSO.ARNLike()
	}
	return m.ARN
}

// SamePrincipal reports whether a and b map the same caller.
func SamePrincipal(a, b Mapping) bool { return a.Key() == b.Key() }

// Equivalent reports whether a and b grant the same thing to the same caller:
// same principal (ARN case-insensitively), same username, same groups in any
// order. Creating a mapping equivalent to one present is a no-op.
func Equivalent(a, b Mapping) bool {
	if !SamePrincipal(a, b) || a.Username != b.Username {
		return false
	}
	return slices.Equal(sortedCopy(a.Groups), sortedCopy(b.Groups))
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return slices.Compact(c)
}

// ForPrincipal builds the entry to store for p, in the key EKS expects for its kind.
func ForPrincipal(p Principal, username string, groups []string) Mapping {
	src := MapUsers
	if p.Kind == KindRole {
		src = MapRoles
	}
	return Mapping{Source: src, ARN: p.ARN, Username: username, Groups: groups}
}

// SplitGroups flattens repeated and comma-separated group flags, dropping
// empty items and duplicates but keeping first-seen order.
func SplitGroups(values []string) []string {
	var out []string
	for _, v := range values {
		for _, g := range strings.Split(v, ",") {
			g = strings.TrimSpace(g)
			if g != "" && !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}
