package mapping

import (
	"testing"
)

func TestModeRules(t *testing.T) {
	tests := []struct {
		mode               Mode
		awsAuth, entries   bool
		next               Mode
		hasNext            bool
		canMoveToAPI       bool
		canMoveToConfigMap bool
	}{
		{ModeKubeconfig, true, false, "", false, false, false},
		{ModeConfigMap, true, false, ModeAPIAndConfigMap, true, true, false},
		{ModeAPIAndConfigMap, true, true, ModeAPI, true, true, false},
		{ModeAPI, false, true, "", false, false, false},
	}
	for _, tc := range tests {
		t.Run(string(tc.mode), func(t *testing.T) {
			if got := tc.mode.UsesAWSAuth(); got != tc.awsAuth {
				t.Errorf("UsesAWSAuth = %v, want %v", got, tc.awsAuth)
			}
			if got := tc.mode.UsesAccessEntries(); got != tc.entries {
				t.Errorf("UsesAccessEntries = %v, want %v", got, tc.entries)
			}
			if next, ok := tc.mode.Next(); next != tc.next || ok != tc.hasNext {
				t.Errorf("Next = %q, %v; want %q, %v", next, ok, tc.next, tc.hasNext)
			}
			if got := tc.mode.CanMoveTo(ModeAPI); got != tc.canMoveToAPI {
				t.Errorf("CanMoveTo(API) = %v, want %v", got, tc.canMoveToAPI)
			}
			if got := tc.mode.CanMoveTo(ModeConfigMap); got != tc.canMoveToConfigMap {
				t.Errorf("CanMoveTo(CONFIG_MAP) = %v, want %v", got, tc.canMoveToConfigMap)
			}
		})
	}
	if _, err := ParseMode("api"); err == nil {
		t.Error("ParseMode accepted a mode in the wrong case; EKS spells them in capitals")
	}
	if m, err := ParseMode("API_AND_CONFIG_MAP"); err != nil || m != ModeAPIAndConfigMap {
		t.Errorf("ParseMode(API_AND_CONFIG_MAP) = %q, %v", m, err)
	}
}

func TestIdentifyPrecedence(t *testing.T) {
	const (
		alice    = "arn:aws:iam::111122223333:user/alice"
		deployer = "arn:aws:iam::111122223333:role/team/Deployer" // access entries keep the path
		creator  = "arn:aws:iam::111122223333:user/creator"
		admin    = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
	)
	set := Set{
		Roles:    []Mapping{{Source: MapRoles, ARN: "arn:aws:iam::111122223333:role/Deployer", Username: "deployer", Groups: []string{"system:masters"}}},
		Users:    []Mapping{{Source: MapUsers, ARN: alice, Username: "alice", Groups: []string{"viewers"}}},
		Accounts: []string{"444455556666"},
	}
	entries := []AccessEntry{{PrincipalARN: deployer, Type: "STANDARD", Username: "ci:{{SessionName}}", Groups: []string{"deployers"}, Policies: []AccessPolicy{{ARN: admin, Namespaces: []string{"apps"}}}}}
	tests := []struct {
		name      string
		mode      Mode
		principal string
		caller    Caller
		mechanism Mechanism
		username  string
		admin     bool
	}{
		{"kubeconfig: aws-auth only", ModeKubeconfig, deployer, Caller{CanonicalARN: "arn:aws:iam::111122223333:role/Deployer", SessionName: "s"}, ViaAWSAuth, "deployer", true},
		{"CONFIG_MAP ignores access entries", ModeConfigMap, deployer, Caller{CanonicalARN: "arn:aws:iam::111122223333:role/Deployer", SessionName: "s"}, ViaAWSAuth, "deployer", true},
		{"API_AND_CONFIG_MAP: access entry wins", ModeAPIAndConfigMap, deployer, Caller{CanonicalARN: "arn:aws:iam::111122223333:role/Deployer", SessionName: "s"}, ViaAccessEntry, "ci:s", false},
		{"API_AND_CONFIG_MAP: aws-auth fallback", ModeAPIAndConfigMap, alice, Caller{CanonicalARN: alice}, ViaAWSAuth, "alice", false},
		{"API ignores aws-auth", ModeAPI, alice, Caller{CanonicalARN: alice}, ViaNothing, "", false},
		{"API: access entry", ModeAPI, deployer, Caller{CanonicalARN: "arn:aws:iam::111122223333:role/Deployer", SessionName: "s"}, ViaAccessEntry, "ci:s", false},
		{"mapAccounts", ModeConfigMap, "arn:aws:iam::444455556666:user/x", Caller{CanonicalARN: "arn:aws:iam::444455556666:user/x"}, ViaAWSAuth, "arn:aws:iam::444455556666:user/x", false},
		{"creator in CONFIG_MAP", ModeConfigMap, creator, Caller{CanonicalARN: creator}, ViaCreator, "kubernetes-admin", true},
		{"creator has no hidden rights in API mode", ModeAPI, creator, Caller{CanonicalARN: creator}, ViaNothing, "", false},
		{"unmapped", ModeAPIAndConfigMap, "arn:aws:iam::111122223333:user/nobody", Caller{CanonicalARN: "arn:aws:iam::111122223333:user/nobody"}, ViaNothing, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Access{Mode: tc.mode, AWSAuth: set, Entries: entries, Creator: creator}
			id := a.Identify(tc.principal, tc.caller)
			if id.Mechanism != tc.mechanism || id.Mapped != (tc.mechanism != ViaNothing) {
				t.Fatalf("Identify = %+v; want mechanism %q", id, tc.mechanism)
			}
			if id.Username != tc.username {
				t.Errorf("username = %q, want %q", id.Username, tc.username)
			}
			if id.ClusterAdmin() != tc.admin {
				t.Errorf("ClusterAdmin = %v, want %v (namespaced AmazonEKSClusterAdminPolicy is not cluster admin)", id.ClusterAdmin(), tc.admin)
			}
			overridden := a.Overrides([]string{"arn:aws:iam::111122223333:role/Deployer"})[0] != nil
			if want := tc.mode == ModeAPIAndConfigMap; overridden != want {
				t.Errorf("Overrides(role/Deployer) = %v, want %v in %s", overridden, want, tc.mode)
			}
		})
	}
}

func TestIdentityNodeAndAdmin(t *testing.T) {
	node := Access{Mode: ModeAPI, Entries: []AccessEntry{{PrincipalARN: "arn:aws:iam::111122223333:role/nodes", Type: "EC2_LINUX"}}}
	if !node.IdentifyPrincipal("arn:aws:iam::111122223333:role/nodes").Node() {
		t.Error("an EC2_LINUX access entry is a node identity")
	}
	awsNode := Access{AWSAuth: Set{Roles: []Mapping{{Source: MapRoles, ARN: "arn:aws:iam::111122223333:role/nodes", Username: "system:node:{{EC2PrivateDNSName}}", Groups: []string{"system:bootstrappers", "system:nodes"}}}}}
	if !awsNode.IdentifyPrincipal("arn:aws:iam::111122223333:role/nodes").Node() {
		t.Error("an aws-auth role in system:nodes is a node identity")
	}
	clusterAdmin := Access{Mode: ModeAPI, Entries: []AccessEntry{{PrincipalARN: "arn:aws:iam::111122223333:user/a", Policies: []AccessPolicy{{ARN: "arn:aws:eks::aws:cluster-access-policy/" + ClusterAdminPolicy}}}}}
	if !clusterAdmin.IdentifyPrincipal("arn:aws:iam::111122223333:user/a").ClusterAdmin() {
		t.Error("AmazonEKSClusterAdminPolicy at cluster scope is cluster admin")
	}
	if got := (Access{Mode: ModeAPIAndConfigMap, AWSAuth: awsNode.AWSAuth, Entries: clusterAdmin.Entries}).Principals(); len(got) != 2 {
		t.Errorf("Principals = %v, want the access entry's and the aws-auth role's", got)
	}
}
