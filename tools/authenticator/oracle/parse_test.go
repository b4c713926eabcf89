package oracle

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/aws-iam-authenticator/pkg/config"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper/configmap"
	"sigs.k8s.io/aws-iam-authenticator/pkg/token"
)

// The authenticator's pkg/mapper/configmap/configmap_test.go and
// yaml_test.go cases (v0.7.18), as table tests of load, the watch's
// ParseMap + saveMap.

func TestParseMapCases(t *testing.T) {
	// TestParseMap
	m1 := map[string]string{
		"mapRoles": `- rolearn: arn:aws:iam::123456789101:role/test-NodeInstanceRole-1VWRHZ3GKZ1T4
  username: system:node:{{EC2PrivateDNSName}}
  groups:
  - system:bootstrappers
  - system:nodes
- sso:
    permissionSetName: ViewOnlyAccess
    accountID: "012345678912"
    partition: aws-cn
  username: user1
  groups:
  - system:basic-users
`,
		"mapUsers": `- userarn: arn:aws:iam::123456789101:user/Hello
  username: Hello
  groups:
  - system:masters
- userarn: arn:aws:iam::123456789101:user/World
  username: World
  groups:
  - system:masters
`,
	}
	u, r, a, err := configmap.ParseMap(m1)
	if err != nil {
		t.Fatal(err)
	}
	wantUsers := []config.UserMapping{
		{UserARN: "arn:aws:iam::123456789101:user/Hello", Username: "Hello", Groups: []string{"system:masters"}},
		{UserARN: "arn:aws:iam::123456789101:user/World", Username: "World", Groups: []string{"system:masters"}},
	}
	wantRoles := []config.RoleMapping{
		{RoleARN: "arn:aws:iam::123456789101:role/test-NodeInstanceRole-1VWRHZ3GKZ1T4", Username: "system:node:{{EC2PrivateDNSName}}", Groups: []string{"system:bootstrappers", "system:nodes"}},
		{SSO: &config.SSOARNMatcher{PermissionSetName: "ViewOnlyAccess", AccountID: "012345678912", Partition: "aws-cn"}, Username: "user1", Groups: []string{"system:basic-users"}},
	}
	if !reflect.DeepEqual(u, wantUsers) || !reflect.DeepEqual(r, wantRoles) || len(a) != 0 {
		t.Fatalf("ParseMap: %+v %+v %+v", u, r, a)
	}
	s, err := load(m1)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.users) != 2 || len(s.roles) != 2 || len(s.accounts) != 0 {
		t.Fatalf("store: %+v", s)
	}
	if _, ok := s.roles["arn:aws:iam::123456789101:role/test-nodeinstancerole-1vwrhz3gkz1t4"]; !ok {
		t.Errorf("role keys are lower-cased RoleARNs: %v", s.roles)
	}
	// SSOArnLike keeps the partition only when it is empty (then "aws").
	if _, ok := s.roles["arn::iam::012345678912:role/awsreservedsso_viewonlyaccess_*"]; !ok {
		t.Errorf("SSO keys are SSOArnLike(): %v", s.roles)
	}

	// TestBadParseMap, TestBadParseMapSingleQuote
	for _, empty := range []map[string]string{
		{"mapAccounts": ``, "mapRoles": `""`, "mapUsers": "``"},
		{"mapAccounts": `''`, "mapRoles": `''`, "mapUsers": `''`},
	} {
		s, err := load(empty)
		if err != nil || len(s.users)+len(s.roles)+len(s.accounts) != 0 {
			t.Errorf("load(%v) = %+v, %v; want empty", empty, s, err)
		}
	}
}

// TestLoadConfigMap's aws-auth and its update.
func TestLoadConfigMapCases(t *testing.T) {
	first := map[string]string{
		"mapUsers": `
-
  userarn: "arn:iam:matlan"
  username: matlan
  groups:
    - loadedfromconfigmap
    - "system:master"
-
  groups:
    - "system:master"
  userarn: "arn:aws:iam::012345678912:user/NIC"
  username: nic
`,
		"mapRoles": `
- rolearn: "arn:iam:123:role/me"
  username: "{{Session}}"
  groups:
    - system:nodes
`,
		"mapAccounts": "\n- 123\n- 345\n",
	}
	updated := map[string]string{
		"mapUsers": `
-
  groups:
    - "system:master"
    - "test"
  userarn: "arn:aws:iam::012345678912:user/NIC"
  username: nic
- userarn: "arn:iam:beswar"
  username: beswar
  groups:
    - "system:master"
- userarn: "arn:iam:nogroups"
  username: nogroups
`,
		"mapRoles": `
- rolearn: "arn:iam:123:role/me"
  username: "{{Session}}"
  groups:
    - system:nodes
- rolearn: "arn:iam:123:role/you"
  username: "test"
  groups:
    - system:nodes
`,
		"mapAccounts": "\n- 567\n",
	}
	s, err := load(first)
	if err != nil {
		t.Fatal(err)
	}
	if !s.accounts["123"] || !s.accounts["345"] {
		t.Errorf("accounts: %v", s.accounts)
	}
	if got := s.users["arn:aws:iam::012345678912:user/NIC"]; !reflect.DeepEqual(got, config.UserMapping{UserARN: "arn:aws:iam::012345678912:user/NIC", Username: "nic", Groups: []string{"system:master"}}) {
		t.Errorf("user nic: %+v", got)
	}
	s, err = load(updated)
	if err != nil {
		t.Fatal(err)
	}
	if s.accounts["345"] || !s.accounts["567"] {
		t.Errorf("updated accounts: %v", s.accounts)
	}
	if got := s.users["arn:aws:iam::012345678912:user/NIC"]; !reflect.DeepEqual(got.Groups, []string{"system:master", "test"}) {
		t.Errorf("updated user nic: %+v", got)
	}
	if got := s.users["arn:iam:beswar"]; !reflect.DeepEqual(got, config.UserMapping{UserARN: "arn:iam:beswar", Username: "beswar", Groups: []string{"system:master"}}) {
		t.Errorf("user beswar: %+v", got)
	}
	if _, ok := s.users["arn:iam:matlan"]; ok {
		t.Error("matlan survived the update")
	}
}

// TestConfigMap of yaml_test.go, on the authenticator's fixtures.
func TestConfigMapFixtures(t *testing.T) {
	const (
		nodeRoleARN  = "arn:aws:iam::555555555555:role/devel-worker-nodes-NodeInstanceRole-74RF4UBDUKL6"
		adminUserARN = "arn:aws:iam::555555555555:user/admin"
	)
	validRoles := []config.RoleMapping{{RoleARN: nodeRoleARN, Username: "system:node:{{EC2PrivateDNSName}}", Groups: []string{"system:bootstrappers", "system:nodes"}}}
	validUsers := []config.UserMapping{{UserARN: adminUserARN, Username: "admin", Groups: []string{"system:masters"}}}
	validAccounts := []string{"555555555555"}
	for _, tc := range []struct {
		file        string
		roles       []config.RoleMapping
		users       []config.UserMapping
		accounts    []string
		createError bool
	}{
		{file: "aws-auth.yaml", roles: validRoles, users: validUsers, accounts: validAccounts},
		// Field names are case-insensitive (encoding/json)...
		{file: "aws-auth-crazy-case-keys.yaml", roles: validRoles, users: validUsers, accounts: validAccounts},
		{file: "aws-auth-open-source-case-keys.yaml", roles: validRoles, users: validUsers, accounts: validAccounts},
		// ... top-level keys are not.
		{file: "aws-auth-lower-case-top-keys.yaml"},
		{file: "aws-auth-crazy-case-top-keys.yaml"},
		// One space too many: the groups collapse into one string.
		{file: "aws-auth-space-out-of-place.yaml", roles: []config.RoleMapping{{RoleARN: nodeRoleARN, Username: "system:node:{{EC2PrivateDNSName}}", Groups: []string{"system:bootstrappers - system:nodes"}}}, users: validUsers, accounts: validAccounts},
		// No '|' after mapRoles: not a ConfigMap at all.
		{file: "aws-auth-missing-bar.yaml", createError: true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			j, err := utilyaml.ToJSON(b)
			if err != nil {
				t.Fatal(err)
			}
			var cm corev1.ConfigMap
			if err := json.Unmarshal(j, &cm); (err != nil) != tc.createError {
				t.Fatalf("decoding the ConfigMap: %v, want an error: %t", err, tc.createError)
			} else if err != nil {
				cm = corev1.ConfigMap{} // nothing is created, as upstream
			}
			s, _ := load(cm.Data)
			if len(s.roles) != len(tc.roles) || len(s.users) != len(tc.users) || len(s.accounts) != len(tc.accounts) {
				t.Fatalf("store %+v, want roles %v users %v accounts %v", s, tc.roles, tc.users, tc.accounts)
			}
			for _, r := range tc.roles {
				if got := s.roles[strings.ToLower(r.RoleARN)]; !reflect.DeepEqual(got, r) {
					t.Errorf("role %s: %+v, want %+v", r.RoleARN, got, r)
				}
			}
			for _, u := range tc.users {
				if got := s.users[u.UserARN]; !reflect.DeepEqual(got, u) {
					t.Errorf("user %s: %+v, want %+v", u.UserARN, got, u)
				}
			}
			for _, a := range tc.accounts {
				if !s.accounts[a] {
					t.Errorf("account %s missing: %v", a, s.accounts)
				}
			}
		})
	}
}

func mustSTS(t *testing.T, arn, userID string) *token.Identity {
	t.Helper()
	account := strings.Split(arn, ":")[4]
	id, err := FromSTS(arn, account, userID, "AKIAEXAMPLE")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mapped(username string, groups ...string) Outcome {
	if groups == nil {
		groups = []string{}
	}
	return Outcome{Mapped: true, Username: username, Groups: groups}
}

// decideCases are aws-auth decisions where the authenticator differs from
// what a reader of the YAML may expect. The live test runs them again
// through the real watch.
var decideCases = []struct {
	name     string
	data     map[string]string
	arn, uid string
	want     []Outcome
	parseErr bool
}{
	{name: "no aws-auth", arn: "arn:aws:iam::111122223333:user/alice", uid: "AIDAALICE", want: []Outcome{{}}},
	{name: "user", data: map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:user/alice\n  username: alice\n  groups: [devs]\n"},
		arn: "arn:aws:iam::111122223333:user/alice", uid: "AIDAALICE", want: []Outcome{mapped("alice", "devs")}},
	{name: "the same key twice: the later entry wins",
		data: map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:user/alice\n  username: first\n- userarn: arn:aws:iam::111122223333:user/alice\n  username: second\n"},
		arn:  "arn:aws:iam::111122223333:user/alice", uid: "AIDAALICE", want: []Outcome{mapped("second")}},
	{name: "role keys are lower-cased: the later entry wins",
		data: map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/Dev\n  username: first\n- rolearn: arn:aws:iam::111122223333:role/dev\n  username: second\n"},
		arn:  "arn:aws:sts::111122223333:assumed-role/Dev/s", uid: "AROADEV:s", want: []Outcome{mapped("second")}},
	{name: "user keys keep their case: both match, EKS picks at random",
		data: map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:user/Alice\n  username: upper\n- userarn: arn:aws:iam::111122223333:user/alice\n  username: lower\n"},
		arn:  "arn:aws:iam::111122223333:user/alice", uid: "AIDAALICE", want: []Outcome{mapped("lower"), mapped("upper")}},
	{name: "different keys with the same answer are one outcome",
		data: map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:user/Alice\n  username: a\n- userarn: arn:aws:iam::111122223333:user/alice\n  username: a\n"},
		arn:  "arn:aws:iam::111122223333:user/alice", uid: "AIDAALICE", want: []Outcome{mapped("a")}},
	{name: "case folding beyond ToLower: ſ matches s under another key",
		data: map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/ſ\n  username: long-s\n- rolearn: arn:aws:iam::111122223333:role/s\n  username: s\n"},
		arn:  "arn:aws:sts::111122223333:assumed-role/s/x", uid: "AROAS:x", want: []Outcome{mapped("long-s"), mapped("s")}},
	{name: "groups written as a plain string: the entry is kept without groups",
		data: map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/admin\n  username: admin\n  groups: system:masters\n"},
		arn:  "arn:aws:sts::111122223333:assumed-role/admin/s", uid: "AROAADMIN:s", want: []Outcome{mapped("admin")}, parseErr: true},
	{name: "a wildcard rolearn is compared literally",
		data: map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/*\n  username: any\n  groups: [system:masters]\n"},
		arn:  "arn:aws:sts::111122223333:assumed-role/admin/s", uid: "AROAADMIN:s", want: []Outcome{{}}},
	{name: "a role path never matches an assumed role",
		data: map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/team/dev\n  username: dev\n"},
		arn:  "arn:aws:sts::111122223333:assumed-role/dev/s", uid: "AROADEV:s", want: []Outcome{{}}},
	{name: "mapRoles before mapUsers",
		data: map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:user/alice\n  username: from-roles\n", "mapUsers": "- userarn: arn:aws:iam::111122223333:user/alice\n  username: from-users\n"},
		arn:  "arn:aws:iam::111122223333:user/alice", uid: "AIDAALICE", want: []Outcome{mapped("from-roles")}},
	{name: "a role in mapUsers maps the role",
		data: map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:role/dev\n  username: dev-{{SessionName}}\n"},
		arn:  "arn:aws:sts::111122223333:assumed-role/dev/bob@example.com", uid: "AROADEV:bob@example.com", want: []Outcome{mapped("dev-bob-example.com")}},
	{name: "mapAccounts: the canonical ARN, no groups",
		data: map[string]string{"mapAccounts": "- \"111122223333\"\n"},
		arn:  "arn:aws:sts::111122223333:assumed-role/dev/s", uid: "AROADEV:s", want: []Outcome{mapped("arn:aws:iam::111122223333:role/dev")}},
	{name: "mapAccounts: the root user",
		data: map[string]string{"mapAccounts": "- 111122223333\n"},
		arn:  "arn:aws:iam::111122223333:root", uid: "111122223333", want: []Outcome{mapped("arn:aws:iam::111122223333:root")}},
	{name: "a federated user",
		data: map[string]string{"mapUsers": "- userarn: arn:aws:sts::111122223333:federated-user/bob\n  username: fed-{{SessionName}}\n"},
		arn:  "arn:aws:sts::111122223333:federated-user/bob", uid: "111122223333:bob", want: []Outcome{mapped("fed-")}},
	{name: "a node: EC2PrivateDNSName from FakeEC2",
		data: map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/nodes\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:bootstrappers, system:nodes]\n"},
		arn:  "arn:aws:sts::111122223333:assumed-role/nodes/i-0123456789abcdef0", uid: "AROANODES:i-0123456789abcdef0",
		want: []Outcome{mapped("system:node:ip-i-0123456789abcdef0.ec2.internal", "system:bootstrappers", "system:nodes")}},
	{name: "EC2PrivateDNSName without an instance session refuses, mapAccounts notwithstanding",
		data: map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/nodes\n  username: system:node:{{EC2PrivateDNSName}}\n", "mapAccounts": "- 111122223333\n"},
		arn:  "arn:aws:sts::111122223333:assumed-role/nodes/bad-session", uid: "AROANODES:bad-session",
		want: []Outcome{{Refused: `mapper EKSConfigMap renderTemplates error: error rendering username template "system:node:{{EC2PrivateDNSName}}": SessionName did not contain an instance id`}}},
	{name: "SSO entries never match (SSORoleMatch is off)",
		data: map[string]string{"mapRoles": "- sso: {permissionSetName: Admin, accountID: \"111122223333\"}\n  username: sso\n"},
		arn:  "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice", uid: "AROASSO:alice", want: []Outcome{{}}},
	{name: "a key that does not parse leaves the others",
		data: map[string]string{"mapRoles": "- rolearn: [broken\n", "mapUsers": "- userarn: arn:aws:iam::111122223333:user/alice\n  username: alice\n"},
		arn:  "arn:aws:iam::111122223333:user/alice", uid: "AIDAALICE", want: []Outcome{mapped("alice")}, parseErr: true},
}

func TestDecide(t *testing.T) {
	for _, tc := range decideCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decide(tc.data, mustSTS(t, tc.arn, tc.uid), nil)
			if (err != nil) != tc.parseErr {
				t.Errorf("parse error %v, want one: %t", err, tc.parseErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}
