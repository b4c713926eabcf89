package desired

import (
	"fmt"

	"github.com/iammap/iammap/internal/eksctlconfig"
	"github.com/iammap/iammap/mapping"
)

// FromClusterConfig turns what iammap reads of an eksctl ClusterConfig
// into an access file for its one cluster (metadata.name and region), so
// diff and apply treat both formats the same way: iamIdentityMappings
// become awsAuth mapRoles, mapUsers or mapAccounts; accessEntries keep
// their fields, with a namespace accessScope as the policy's namespaces.
//
// What an access file cannot say is refused here rather than dropped:
// serviceName (EMR's mapping comes with RBAC objects that only
// `iammap create iamidentitymapping -f` makes). noDuplicateARNs is moot:
// apply leaves one entry per principal named, and a principal listed twice
// is an error, as in an access file.
func FromClusterConfig(c *eksctlconfig.Config) (*File, error) {
	cl := Cluster{Name: c.Name, Connection: Connection{Region: c.Region}}
	var a AWSAuth
	for i, m := range c.IAMIdentityMappings {
		switch {
		case m.ServiceName != "":
			return nil, fmt.Errorf("%w: %s: serviceName %s is not supported by diff and apply", ErrInvalid, m.Where(i), m.ServiceName)
		case m.Account != "":
			a.MapAccounts = append(a.MapAccounts, m.Account)
			continue
		}
		p, _, err := mapping.ParsePrincipal(m.ARN)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, m.Where(i), err)
		}
		// eksctl files a mapping under mapRoles or mapUsers by the ARN's
		// kind; so does aws-auth.
		var one AWSAuth
		if p.Kind == mapping.KindRole {
			one.MapRoles = []RoleMapping{{RoleARN: m.ARN, Username: m.Username, Groups: m.Groups}}
		} else {
			one.MapUsers = []UserMapping{{UserARN: m.ARN, Username: m.Username, Groups: m.Groups}}
		}
		// Checked alone first, so an error names the item and its line.
		if _, err := build(m.Where(i)+": ", &one, nil); err != nil {
			return nil, err
		}
		a.MapRoles, a.MapUsers = append(a.MapRoles, one.MapRoles...), append(a.MapUsers, one.MapUsers...)
	}
	if len(a.MapRoles)+len(a.MapUsers)+len(a.MapAccounts) > 0 {
		cl.AWSAuth = &a
	}
	for i, e := range c.AccessEntries {
		entry := AccessEntry{PrincipalARN: e.PrincipalARN, Type: e.Type, Username: e.KubernetesUsername, KubernetesGroups: e.KubernetesGroups}
		for _, p := range e.AccessPolicies {
			entry.AccessPolicies = append(entry.AccessPolicies, AccessPolicy{Policy: p.PolicyARN, Namespaces: p.AccessScope.Namespaces})
		}
		if _, err := build(e.Where(i)+": ", nil, []AccessEntry{entry}); err != nil {
			return nil, err
		}
		cl.AccessEntries = append(cl.AccessEntries, entry)
	}
	f := &File{APIVersion: APIVersion, Kind: Kind, Clusters: []Cluster{cl}, ClusterConfig: true}
	// Resolve once, so every content error surfaces at load, as Parse does.
	if _, err := f.Targets(); err != nil {
		return nil, err
	}
	return f, nil
}
