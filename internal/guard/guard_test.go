package guard

import (
	"strings"
	"testing"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/mapping"
)

const (
	alice = "arn:aws:iam::111122223333:user/alice"
	bob   = "arn:aws:iam::111122223333:user/bob"
	nodes = "arn:aws:iam::111122223333:role/nodes"
	admin = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
)

func users(ms ...mapping.Mapping) mapping.Set { return mapping.Set{Users: ms} }

func user(arn string, groups ...string) mapping.Mapping {
	return mapping.Mapping{Source: mapping.MapUsers, ARN: arn, Username: "u", Groups: groups}
}

func TestCheck(t *testing.T) {
	nodeRole := mapping.Mapping{Source: mapping.MapRoles, ARN: nodes, Username: "system:node:{{EC2PrivateDNSName}}", Groups: []string{"system:nodes"}}
	base := State{AWSAuth: mapping.Set{Roles: []mapping.Mapping{nodeRole}, Users: []mapping.Mapping{user(alice, "system:masters"), user(bob, "system:masters")}}}
	tests := []struct {
		name          string
		before, after State
		caller        string
		want          []string
	}{
		{"nothing changes", base, base, alice, nil},
		{"caller loses access", base, State{AWSAuth: mapping.Set{Roles: base.AWSAuth.Roles, Users: []mapping.Mapping{user(bob, "system:masters")}}}, alice, []string{"you (" + alice + ") would lose your access"}},
		{"caller loses admin by a shadowing entry", base, State{AWSAuth: mapping.Set{Roles: base.AWSAuth.Roles, Users: append(base.AWSAuth.Users, user(alice, "viewers"))}}, alice, []string{"would lose cluster-admin"}},
		{"someone else loses access", base, State{AWSAuth: mapping.Set{Roles: base.AWSAuth.Roles, Users: []mapping.Mapping{user(alice, "system:masters")}}}, alice, nil},
		{"last admin goes", base, State{AWSAuth: mapping.Set{Roles: base.AWSAuth.Roles, Users: []mapping.Mapping{user(alice), user(bob)}}}, "", []string{"no principal would keep cluster-admin"}},
		{"node role removed", base, State{AWSAuth: users(base.AWSAuth.Users...)}, "", []string{"node role " + nodes + " would lose its mapping"}},
		{"node role moved to an access entry", base,
			State{Mode: "API_AND_CONFIG_MAP", AWSAuth: users(base.AWSAuth.Users...), Entries: []accessentry.Entry{{PrincipalARN: nodes, Type: "EC2_LINUX"}}}, "", nil},
		{"switch to API with admins only in aws-auth", State{Mode: "API_AND_CONFIG_MAP", AWSAuth: base.AWSAuth},
			State{Mode: "API", AWSAuth: base.AWSAuth, Entries: []accessentry.Entry{{PrincipalARN: nodes, Type: "EC2_LINUX"}}}, alice,
			[]string{"you (" + alice + ") would lose your access", "no principal would keep cluster-admin"}},
		{"access entry with admin policy keeps the caller admin in API mode", State{Mode: "API_AND_CONFIG_MAP", AWSAuth: base.AWSAuth},
			State{Mode: "API", Entries: []accessentry.Entry{{PrincipalARN: nodes, Type: "EC2_LINUX"}, {PrincipalARN: alice, Type: "STANDARD", Policies: []accessentry.PolicySpec{{ARN: admin}}}}}, alice, nil},
		{"namespace-scoped admin policy is not cluster-admin", State{Mode: "API", Entries: []accessentry.Entry{{PrincipalARN: alice, Policies: []accessentry.PolicySpec{{ARN: admin}}}}},
			State{Mode: "API", Entries: []accessentry.Entry{{PrincipalARN: alice, Policies: []accessentry.PolicySpec{{ARN: admin, Namespaces: []string{"a"}}}}}}, alice, []string{"would lose cluster-admin", "no principal would keep cluster-admin"}},
		{"a refusal names the node role as written", State{Mode: "API", Entries: []accessentry.Entry{{PrincipalARN: "arn:aws:iam::111122223333:role/NodeRole", Type: "EC2_LINUX"}}},
			State{Mode: "API"}, "", []string{"node role arn:aws:iam::111122223333:role/NodeRole would lose its mapping"}},
		{"a node role moved to an entry written in another case keeps its mapping", State{AWSAuth: mapping.Set{Roles: []mapping.Mapping{{Source: mapping.MapRoles, ARN: "arn:aws:iam::111122223333:role/NodeRole", Groups: []string{"system:nodes"}}}}},
			State{Mode: "API_AND_CONFIG_MAP", Entries: []accessentry.Entry{{PrincipalARN: "arn:aws:iam::111122223333:role/noderole", Type: "EC2_LINUX"}}}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(tt.before, tt.after, tt.caller)
			if len(got) != len(tt.want) {
				t.Fatalf("Check = %v, want %d violations %v", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i].What, w) {
					t.Errorf("violation %d = %q, want %q", i, got[i].What, w)
				}
			}
		})
	}
}
