// Package oracle asks sigs.k8s.io/aws-iam-authenticator v0.7.18, the code
// EKS runs, who an IAM caller becomes through the aws-auth ConfigMap.
//
// The authenticator's own code parses aws-auth (configmap.ParseMap), watches
// it (configmap.ConfigMapMapper), matches entries (config.RoleMapping and
// config.UserMapping's Matches and Key) and canonicalises ARNs
// (arn.Canonicalize). Three small pieces are unexported in the authenticator
// and are reproduced here line for line, because they decide the answer:
//
//   - server.go's doMapping for one mapper: Map, then renderTemplates; a
//     render error or a reserved username prefix refuses the caller (no
//     mapAccounts fallback); not mapped, mapAccounts (IsAccountAllowed)
//     gives the canonical ARN as username and no groups. [DoMapping]
//   - server.go's renderTemplate: {{EC2PrivateDNSName}} (only for a session
//     name that is an instance id), then {{AccountID}}, {{SessionName}} ('@'
//     replaced by '-'), {{SessionNameRaw}} and {{AccessKeyID}}, in that
//     order.
//   - token.go's getIdentityFromSTSResponse: the identity an STS
//     GetCallerIdentity answer stands for. [FromSTS]
//
// [Decide] gives the same decision for an aws-auth's data without an API
// server, and enumerates what the authenticator leaves to chance: MapStore
// keeps entries in Go maps keyed by Key() and returns the first one whose
// Matches() is true, so when several match, EKS picks one at random.
package oracle

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"sigs.k8s.io/aws-iam-authenticator/pkg/arn"
	"sigs.k8s.io/aws-iam-authenticator/pkg/config"
	"sigs.k8s.io/aws-iam-authenticator/pkg/errutil"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper/configmap"
	"sigs.k8s.io/aws-iam-authenticator/pkg/token"
)

// Outcome is what the authenticator makes of a caller.
type Outcome struct {
	// Mapped: authenticated as Username with Groups.
	Mapped bool `json:"mapped"`
	// Refused, when not empty, is the authenticator's error for a caller an
	// entry matched but that it refuses all the same: a template it cannot
	// render (EC2PrivateDNSName for a session that is not an instance id), a
	// reserved username prefix, or a mapper error. Mapped is then false.
	Refused  string   `json:"refused,omitempty"`
	Username string   `json:"username,omitempty"`
	Groups   []string `json:"groups"`
}

// Equal reports whether o and p are the same outcome; nil and empty groups
// are the same.
func (o Outcome) Equal(p Outcome) bool { return compareOutcomes(o, p) == 0 }

func compareOutcomes(a, b Outcome) int {
	if a.Mapped != b.Mapped {
		if a.Mapped {
			return -1
		}
		return 1
	}
	return cmp.Or(strings.Compare(a.Refused, b.Refused), strings.Compare(a.Username, b.Username), slices.Compare(a.Groups, b.Groups))
}

// EC2 answers the one EC2 question the authenticator asks: the private DNS
// name of the instance a node role's session names. The authenticator's
// ec2provider.EC2Provider has this method.
type EC2 interface {
	GetPrivateDNSName(ctx context.Context, instanceID string) (string, error)
}

// FakeEC2 stands in for EC2 DescribeInstances: every instance exists, and
// instance i-0123456789abcdef0's private DNS name is
// "ip-i-0123456789abcdef0.ec2.internal" ("ip-" + instance id +
// ".ec2.internal"). Tests on iammap's side that render {{EC2PrivateDNSName}}
// use the same rule.
type FakeEC2 struct{}

// GetPrivateDNSName returns "ip-" + instanceID + ".ec2.internal".
func (FakeEC2) GetPrivateDNSName(_ context.Context, instanceID string) (string, error) {
	return "ip-" + instanceID + ".ec2.internal", nil
}

// FromSTS is the identity the authenticator derives from an STS
// GetCallerIdentity answer (Arn, Account, UserId) for a token signed with
// accessKeyID, as token.go's getIdentityFromSTSResponse does: the canonical
// ARN is arn.Canonicalize's (an assumed role becomes its IAM role, without
// path); for assumed roles the UserId is "ROLEID:SESSION" and gives
// SessionName, for IAM users, the root user and federated users it is kept
// whole and SessionName is empty.
func FromSTS(arnValue, account, userID, accessKeyID string) (*token.Identity, error) {
	id := &token.Identity{ARN: arnValue, AccountID: account, AccessKeyID: accessKeyID}
	principalType, canonical, err := arn.Canonicalize(arnValue)
	if err != nil {
		return nil, token.NewSTSError(err.Error())
	}
	id.CanonicalARN = canonical
	if principalType == arn.FEDERATED_USER || principalType == arn.USER || principalType == arn.ROOT {
		id.UserID = userID
		return id, nil
	}
	parts := strings.Split(userID, ":")
	if len(parts) != 2 {
		return nil, token.NewSTSError(fmt.Sprintf("malformed UserID %q", userID))
	}
	id.UserID, id.SessionName = parts[0], parts[1]
	return id, nil
}

// DoMapping is server.go's doMapping with one mapper, the EKSConfigMap
// mapper on EKS: what the authenticator answers for id. A nil ec2 is
// FakeEC2.
func DoMapping(m mapper.Mapper, id *token.Identity, ec2 EC2) Outcome {
	if ec2 == nil {
		ec2 = FakeEC2{}
	}
	var errs []error
	mapping, err := m.Map(id)
	if err == nil {
		return render(m.Name(), m.UsernamePrefixReserveList(), *mapping, id, ec2)
	}
	if err != errutil.ErrNotMapped { //nolint:errorlint // the authenticator compares with !=
		errs = append(errs, fmt.Errorf("mapper %s Map error: %v", m.Name(), err))
	}
	if m.IsAccountAllowed(id.AccountID) {
		return Outcome{Mapped: true, Username: id.CanonicalARN, Groups: []string{}}
	}
	if len(errs) > 0 {
		return Outcome{Refused: utilerrors.NewAggregate(errs).Error()}
	}
	return Outcome{}
}

// render is doMapping's branch for a mapping found.
func render(mapperName string, reserved []string, mapping config.IdentityMapping, id *token.Identity, ec2 EC2) Outcome {
	username, groups, err := renderTemplates(context.Background(), mapping, id, ec2)
	if err != nil {
		return Outcome{Refused: fmt.Sprintf("mapper %s renderTemplates error: %v", mapperName, err)}
	}
	if len(reserved) > 0 && reservedPrefixExists(username, reserved) {
		return Outcome{Refused: fmt.Sprintf("invalid username '%s' for mapper %s: username must not begin with with the following prefixes: %v", username, mapperName, reserved)}
	}
	return Outcome{Mapped: true, Username: username, Groups: groups}
}

// reservedPrefixExists is server.ReservedPrefixExists (the server package
// is not imported: it pulls in the EC2 client).
func reservedPrefixExists(username string, reservedList []string) bool {
	for _, prefix := range reservedList {
		if len(prefix) > 0 && strings.HasPrefix(username, prefix) {
			return true
		}
	}
	return false
}

func renderTemplates(ctx context.Context, mapping config.IdentityMapping, id *token.Identity, ec2 EC2) (string, []string, error) {
	groups := []string{}
	username, err := renderTemplate(ctx, mapping.Username, id, ec2)
	if err != nil {
		return "", nil, fmt.Errorf("error rendering username template %q: %s", mapping.Username, err.Error())
	}
	for _, groupPattern := range mapping.Groups {
		group, err := renderTemplate(ctx, groupPattern, id, ec2)
		if err != nil {
			return "", nil, fmt.Errorf("error rendering group template %q: %s", groupPattern, err.Error())
		}
		groups = append(groups, group)
	}
	return username, groups, nil
}

// instanceIDPattern is server.go's pattern for EC2 instance ids.
var instanceIDPattern = regexp.MustCompile(`^i-(\w{8}|\w{17})$`)

func renderTemplate(ctx context.Context, template string, id *token.Identity, ec2 EC2) (string, error) {
	if strings.Contains(template, "{{EC2PrivateDNSName}}") {
		if !instanceIDPattern.MatchString(id.SessionName) {
			return "", fmt.Errorf("SessionName did not contain an instance id")
		}
		privateDNSName, err := ec2.GetPrivateDNSName(ctx, id.SessionName)
		if err != nil {
			return "", err
		}
		template = strings.ReplaceAll(template, "{{EC2PrivateDNSName}}", privateDNSName)
	}
	template = strings.ReplaceAll(template, "{{AccountID}}", id.AccountID)
	sessionName := strings.ReplaceAll(id.SessionName, "@", "-")
	template = strings.ReplaceAll(template, "{{SessionName}}", sessionName)
	template = strings.ReplaceAll(template, "{{SessionNameRaw}}", id.SessionName)
	template = strings.ReplaceAll(template, "{{AccessKeyID}}", id.AccessKeyID)
	return template, nil
}

// store is MapStore's state after saveMap: entries keyed by Key(), a later
// entry with the same key replacing an earlier one, and the accounts as a
// set.
type store struct {
	roles    map[string]config.RoleMapping
	users    map[string]config.UserMapping
	accounts map[string]bool
}

// load is what the authenticator's watch does with an aws-auth's data:
// ParseMap, then saveMap of whatever parsed, even when ParseMap reports
// errors.
func load(data map[string]string) (store, error) {
	users, roles, accounts, err := configmap.ParseMap(data)
	s := store{roles: map[string]config.RoleMapping{}, users: map[string]config.UserMapping{}, accounts: map[string]bool{}}
	for _, u := range users {
		s.users[u.Key()] = u
	}
	for _, r := range roles {
		s.roles[r.Key()] = r
	}
	for _, a := range accounts {
		s.accounts[a] = true
	}
	return s, err
}

// Decide is DoMapping on an EKSConfigMap mapper whose watch has loaded an
// aws-auth with this data (nil: no aws-auth), computed without an API
// server. It returns every outcome the authenticator may give, distinct and
// sorted: one means the answer is defined; several mean EKS picks one at
// random (several stored entries match the caller). parseErr is
// configmap.ParseMap's error; like the authenticator, Decide then uses what
// did parse. A nil ec2 is FakeEC2.
func Decide(data map[string]string, id *token.Identity, ec2 EC2) (outcomes []Outcome, parseErr error) {
	if ec2 == nil {
		ec2 = FakeEC2{}
	}
	s, parseErr := load(data)
	// ConfigMapMapper.Map: roles first, then users, against the lower-cased
	// canonical ARN.
	subject := strings.ToLower(id.CanonicalARN)
	var found []config.IdentityMapping
	for _, r := range s.roles {
		if r.Matches(subject) {
			found = append(found, config.IdentityMapping{IdentityARN: subject, Username: r.Username, Groups: r.Groups})
		}
	}
	if len(found) == 0 {
		for _, u := range s.users {
			if u.Matches(subject) {
				found = append(found, config.IdentityMapping{IdentityARN: subject, Username: u.Username, Groups: u.Groups})
			}
		}
	}
	if len(found) == 0 {
		if s.accounts[id.AccountID] {
			return []Outcome{{Mapped: true, Username: id.CanonicalARN, Groups: []string{}}}, parseErr
		}
		return []Outcome{{}}, parseErr
	}
	for _, m := range found {
		// The EKSConfigMap mapper of config.Config{} reserves no prefixes.
		o := render(mapper.ModeEKSConfigMap, nil, m, id, ec2)
		if !slices.ContainsFunc(outcomes, o.Equal) {
			outcomes = append(outcomes, o)
		}
	}
	slices.SortFunc(outcomes, compareOutcomes)
	return outcomes, parseErr
}
