package accessentry

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/iammap/iammap/mapping"
)

// ErrInvalid is wrapped by every local validation error.
var ErrInvalid = errors.New("invalid access entry")

// Types EKS accepts for an access entry.
var Types = []string{"STANDARD", "EC2", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "HYBRID_LINUX"}

// Spec is the desired state of one access entry.
type Spec struct {
	PrincipalARN string
	Type         string // default STANDARD
	Username     string // default: chosen by EKS
	Groups       []string
	Tags         map[string]string
	Policies     []PolicySpec
}

// PolicySpec is one access policy association; no namespaces means cluster
// scope.
type PolicySpec = mapping.AccessPolicy

// PolicyName is the last segment of a policy ARN.
func PolicyName(arn string) string { return mapping.PolicyName(arn) }

var reservedUsernamePrefixes = []string{"system:", "eks:", "aws:", "amazon:", "iam:"}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// PolicyARN turns a policy name (AmazonEKSViewPolicy) or ARN into the ARN for
// the cluster's partition, refusing an ARN of another partition.
func PolicyARN(partition, nameOrARN string) (string, error) {
	prefix := "arn:" + partition + ":eks::aws:cluster-access-policy/"
	switch {
	case strings.HasPrefix(nameOrARN, prefix) && len(nameOrARN) > len(prefix):
		return nameOrARN, nil
	case strings.HasPrefix(nameOrARN, "arn:"):
		return "", invalid("access policy %q is not an EKS access policy ARN of this cluster's partition (want %sNAME)", nameOrARN, prefix)
	case strings.HasPrefix(nameOrARN, "AmazonEKS") && !strings.ContainsAny(nameOrARN, ":/"):
		return prefix + nameOrARN, nil
	}
	return "", invalid("access policy %q: pass a name such as AmazonEKSViewPolicy or a full ARN", nameOrARN)
}

// ParseScope parses --access-scope: "cluster" or "namespace=a,b".
func ParseScope(s string) ([]string, error) {
	if s == "" || s == "cluster" {
		return nil, nil
	}
	v, ok := strings.CutPrefix(s, "namespace=")
	if !ok {
		return nil, invalid("access scope %q: use cluster or namespace=NS[,NS...]", s)
	}
	ns := mapping.SplitGroups([]string{v})
	if len(ns) == 0 {
		return nil, invalid("access scope %q: a namespace scope needs at least one namespace", s)
	}
	return ns, nil
}

// Validate checks spec against EKS's rules for a cluster in clusterAccount
// and partition, returning the spec to send and any rewrite made to the ARN.
// It parses spec.PrincipalARN; a caller that has parsed it already passes
// the result to [ValidatePrincipal] instead.
func Validate(spec Spec, clusterAccount, partition string) (Spec, []mapping.Rewrite, error) {
	p, _, err := mapping.ParsePrincipal(spec.PrincipalARN)
	if err != nil {
		return spec, nil, err
	}
	return ValidatePrincipal(spec, p, clusterAccount, partition)
}

// ValidatePrincipal is [Validate] for a spec whose PrincipalARN (the ARN as
// given) has been parsed into p by [mapping.ParsePrincipal]. The rules
// differ from aws-auth's: p.ARN drops a role's path, but an access entry
// keeps the ARN as given, path and all; only an assumed-role ARN is
// rewritten, to its role.
func ValidatePrincipal(spec Spec, p mapping.Principal, clusterAccount, partition string) (Spec, []mapping.Rewrite, error) {
	var kept []mapping.Rewrite
	if p.Kind == mapping.KindRoot || p.Kind == mapping.KindFederatedUser {
		return spec, nil, invalid("%s is not an IAM user or role (it is a %s): access entries do not take it; map it in aws-auth (mapUsers) instead", spec.PrincipalARN, p.Kind)
	}
	if strings.Contains(spec.PrincipalARN, ":sts::") {
		kept = []mapping.Rewrite{{From: spec.PrincipalARN, To: p.ARN, Reason: "EKS rejects assumed-role ARNs; an access entry names the role (if the role has a path, pass its full role ARN)"}}
		spec.PrincipalARN = p.ARN
	}
	// Otherwise the ARN stays as given: access entries match role paths,
	// unlike aws-auth.
	if strings.HasPrefix(p.Path, "/aws-service-role/") {
		return spec, nil, invalid("%s is a service-linked role; EKS does not accept access entries for them", spec.PrincipalARN)
	}
	if p.Partition != partition {
		return spec, nil, invalid("%s is in partition %s, the cluster in %s", spec.PrincipalARN, p.Partition, partition)
	}
	if spec.Type == "" {
		spec.Type = "STANDARD"
	}
	if !slices.Contains(Types, spec.Type) {
		return spec, nil, invalid("unknown type %q: use one of %s", spec.Type, strings.Join(Types, ", "))
	}
	if spec.Type != "STANDARD" {
		if len(spec.Groups) > 0 || spec.Username != "" || len(spec.Policies) > 0 {
			return spec, nil, invalid("type %s takes no groups, username or access policies; EKS sets them for nodes", spec.Type)
		}
		if p.Kind != mapping.KindRole || p.Account != clusterAccount {
			return spec, nil, invalid("type %s needs an IAM role in the cluster's account %s", spec.Type, clusterAccount)
		}
	}
	// Names that hide or forge rows wherever they are printed are never
	// meant; EKS would store them.
	if err := mapping.CheckPrintable("username", spec.Username); err != nil {
		return spec, nil, invalid("%v", err)
	}
	for _, g := range spec.Groups {
		if err := mapping.CheckPrintable("group", g); err != nil {
			return spec, nil, invalid("%v", err)
		}
	}
	for _, g := range spec.Groups {
		if strings.HasPrefix(g, "system:") {
			return spec, nil, invalid("group %q: EKS does not allow groups starting with system: in access entries; for cluster admin associate AmazonEKSClusterAdminPolicy instead of system:masters", g)
		}
	}
	for _, prefix := range reservedUsernamePrefixes {
		if strings.HasPrefix(spec.Username, prefix) {
			return spec, nil, invalid("username %q: EKS reserves the prefix %s", spec.Username, prefix)
		}
	}
	for _, ph := range []string{mapping.PlaceholderSessionName, mapping.PlaceholderSessionNameRaw} {
		if i := strings.Index(spec.Username, ph); i >= 0 && !strings.Contains(spec.Username[:i], ":") {
			return spec, nil, invalid("username %q: EKS requires a ':' somewhere before %s (for example team:%s)", spec.Username, ph, ph)
		}
	}
	for i, pol := range spec.Policies {
		arn, err := PolicyARN(partition, pol.ARN)
		if err != nil {
			return spec, nil, err
		}
		spec.Policies[i].ARN = arn
	}
	return spec, kept, nil
}
