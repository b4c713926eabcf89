package accessentry

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/iammap/iammap/mapping"
)

// ErrNoEquivalent is wrapped by FromAWSAuth's error for an aws-auth mapping
// that access entries cannot express.
var ErrNoEquivalent = errors.New("no access-entry equivalent")

// Kubernetes groups EKS gives node access entries itself; an aws-auth
// mapping that hands out only these (and a node username) is a node role.
const (
	groupMasters         = "system:masters"
	groupNodeProxier     = "system:node-proxier"
	groupKubeProxyWindow = "eks:kube-proxy-windows"
	nodeUsernameEC2      = "system:node:{{EC2PrivateDNSName}}"
	nodeUsernameFargate  = "system:node:{{SessionName}}"
)

// FromAWSAuth is what an aws-auth mapping of principal p (username and
// groups as written there) becomes as an access entry, where EKS forbids
// the aws-auth form but has an exact equivalent:
//   - the node-role shape (username system:node:{{EC2PrivateDNSName}}, a role
//     of the cluster's account) becomes an EC2_LINUX entry, EC2_WINDOWS when
//     it has eks:kube-proxy-windows; the Fargate shape
//     (system:node:{{SessionName}} with system:node-proxier) FARGATE_LINUX.
//     EKS sets their username and groups;
//   - group system:masters becomes AmazonEKSClusterAdminPolicy at cluster
//     scope, the other groups kept.
//
// Anything else that starts with system:, the account root, federated
// users and service-linked roles have no equivalent: the error wraps
// ErrNoEquivalent and says why. notes say what was translated. The spec's
// PrincipalARN is p.ARN; a caller that knows the role's path sets it.
func FromAWSAuth(p mapping.Principal, username string, groups []string, clusterAccount string) (spec Spec, notes []string, err error) {
	none := func(format string, a ...any) (Spec, []string, error) {
		return Spec{}, nil, fmt.Errorf("%w: %s", ErrNoEquivalent, fmt.Sprintf(format, a...))
	}
	if p.Kind == mapping.KindRoot || p.Kind == mapping.KindFederatedUser {
		return none("access entries do not take an account %s; keep this in aws-auth or map a role instead", p.Kind)
	}
	if strings.HasPrefix(p.Name, "AWSServiceRoleFor") || strings.HasPrefix(p.Path, "/aws-service-role/") {
		return none("service-linked role: EKS does not accept access entries for it")
	}
	spec = Spec{PrincipalARN: p.ARN, Type: "STANDARD"}
	var systemGroups, otherGroups []string
	for _, g := range groups {
		switch {
		case strings.HasPrefix(g, "system:"):
			systemGroups = append(systemGroups, g)
		case g != groupKubeProxyWindow:
			otherGroups = append(otherGroups, g)
		}
	}
	switch {
	case username == nodeUsernameEC2:
		spec.Type = "EC2_LINUX"
		if slices.Contains(groups, groupKubeProxyWindow) {
			spec.Type = "EC2_WINDOWS"
		}
		notes = append(notes, "node role: EKS sets its username and groups")
	case username == nodeUsernameFargate && slices.Contains(groups, groupNodeProxier):
		spec.Type = "FARGATE_LINUX"
		notes = append(notes, "Fargate pod execution role: EKS sets its username and groups")
	case slices.Contains(systemGroups, groupMasters):
		if rest := slices.DeleteFunc(slices.Clone(systemGroups), func(g string) bool { return g == groupMasters }); len(rest) > 0 {
			return none("groups %v start with system: and have no access-entry equivalent", rest)
		}
		spec.Username, spec.Groups = username, otherGroups
		spec.Policies = []PolicySpec{{ARN: ClusterAdminPolicyName}}
		notes = append(notes, "system:masters becomes AmazonEKSClusterAdminPolicy at cluster scope")
	case len(systemGroups) > 0:
		return none("groups %v start with system: and have no access-entry equivalent", systemGroups)
	default:
		spec.Username, spec.Groups = username, otherGroups
	}
	if spec.Type != "STANDARD" && (p.Kind != mapping.KindRole || p.Account != clusterAccount) {
		return none("%s entries need a role of the cluster's account %s", spec.Type, clusterAccount)
	}
	return spec, notes, nil
}

// ClusterAdminPolicyName is the access policy that stands for
// system:masters.
const ClusterAdminPolicyName = mapping.ClusterAdminPolicy
