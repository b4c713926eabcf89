package oracle

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/aws-iam-authenticator/pkg/config"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper/file"
	"sigs.k8s.io/aws-iam-authenticator/pkg/token"
)

// The cases below are the authenticator's own fixtures (v0.7.18), written
// again as table tests: pkg/token/token_test.go for FromSTS,
// pkg/server/server_test.go for renderTemplate and doMapping.

func TestFromSTS(t *testing.T) {
	const (
		akid    = "AKIAVVVVVVVVVVVAGAVA"
		account = "123456789012"
	)
	for _, tc := range []struct {
		name, arn, userID string
		want              token.Identity
		err               string
	}{
		// TestGetIdentityFromSTSResponse
		{name: "root user", arn: "arn:aws:iam::123456789012:root", userID: account,
			want: token.Identity{ARN: "arn:aws:iam::123456789012:root", CanonicalARN: "arn:aws:iam::123456789012:root", UserID: account}},
		{name: "user", arn: "arn:aws:iam::123456789012:user/Alice", userID: "AIDAIYCCCMMMMMMMMGGDA",
			want: token.Identity{ARN: "arn:aws:iam::123456789012:user/Alice", CanonicalARN: "arn:aws:iam::123456789012:user/Alice", UserID: "AIDAIYCCCMMMMMMMMGGDA"}},
		{name: "federated user", arn: "arn:aws:sts::123456789012:federated-user/Alice", userID: "123456789012:Alice",
			want: token.Identity{ARN: "arn:aws:sts::123456789012:federated-user/Alice", CanonicalARN: "arn:aws:sts::123456789012:federated-user/Alice", UserID: "123456789012:Alice"}},
		// The upstream "Role" case (an IAM role ARN with a UserId without a
		// session) errors; its test only compares when there is no error.
		{name: "role without session", arn: "arn:aws:iam::123456789012:role/Alice", userID: "AROAZZCCCNNNNNNNNFFFA", err: `malformed UserID "AROAZZCCCNNNNNNNNFFFA"`},
		// TestVerifyInvalidCanonicalARNError, TestVerifyInvalidUserIDError
		{name: "invalid arn", arn: "arn", userID: "userid", err: "arn 'arn' is invalid:"},
		{name: "invalid user id", arn: "arn:aws:iam::123456789012:role/Alice", userID: "not:vailid:userid", err: "malformed UserID"},
		// TestVerifySessionName, TestVerifyCanonicalARN
		{name: "session name", arn: "arn:aws:iam::123456789012:role/Alice", userID: "Alice:session-name",
			want: token.Identity{ARN: "arn:aws:iam::123456789012:role/Alice", CanonicalARN: "arn:aws:iam::123456789012:role/Alice", UserID: "Alice", SessionName: "session-name"}},
		{name: "assumed role", arn: "arn:aws:sts::123456789012:assumed-role/Alice/extra", userID: "Alice:session-name",
			want: token.Identity{ARN: "arn:aws:sts::123456789012:assumed-role/Alice/extra", CanonicalARN: "arn:aws:iam::123456789012:role/Alice", UserID: "Alice", SessionName: "session-name"}},
		// Not upstream: what the local stack sends.
		{name: "instance session", arn: "arn:aws:sts::123456789012:assumed-role/nodes/i-0123456789abcdef0", userID: "AROAEXAMPLE:i-0123456789abcdef0",
			want: token.Identity{ARN: "arn:aws:sts::123456789012:assumed-role/nodes/i-0123456789abcdef0", CanonicalARN: "arn:aws:iam::123456789012:role/nodes", UserID: "AROAEXAMPLE", SessionName: "i-0123456789abcdef0"}},
		{name: "china partition", arn: "arn:aws-cn:sts::123456789012:assumed-role/Dev/s", userID: "AROAEXAMPLE:s",
			want: token.Identity{ARN: "arn:aws-cn:sts::123456789012:assumed-role/Dev/s", CanonicalARN: "arn:aws-cn:iam::123456789012:role/Dev", UserID: "AROAEXAMPLE", SessionName: "s"}},
		{name: "unknown partition", arn: "arn:aws-mars:iam::123456789012:user/Alice", userID: "AIDA", err: "does not have a recognized partition"},
		{name: "iam group", arn: "arn:aws:iam::123456789012:group/Admins", userID: "AGPA", err: "unrecognized resource"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromSTS(tc.arn, account, tc.userID, akid)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want an error containing %q, got %v (%+v)", tc.err, err, got)
				}
				var stsErr token.STSError
				if !errors.As(err, &stsErr) {
					t.Errorf("want a token.STSError, as the authenticator returns; got %T", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.AccountID, tc.want.AccessKeyID = account, akid
			if *got != tc.want {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

type testEC2 struct {
	name string
	err  error
}

func (e testEC2) GetPrivateDNSName(context.Context, string) (string, error) { return e.name, e.err }

func TestRenderTemplate(t *testing.T) {
	ec2 := testEC2{name: "ip-172-31-27-14"}
	for _, tc := range []struct {
		template string
		identity token.Identity
		ec2      EC2
		want     string
		err      string
	}{
		// TestRenderTemplate
		{template: "a-{{EC2PrivateDNSName}}-b", identity: token.Identity{SessionName: "i-aaaaa"}, err: "SessionName did not contain an instance id"},
		{template: "a-{{AccountID}}-b", identity: token.Identity{AccountID: "123"}, want: "a-123-b"},
		{template: "a-{{AccessKeyID}}-b", identity: token.Identity{AccessKeyID: "321"}, want: "a-321-b"},
		{template: "a-{{SessionName}}-b", identity: token.Identity{SessionName: "jdoe"}, want: "a-jdoe-b"},
		{template: "a-{{SessionName}}-b", identity: token.Identity{SessionName: "jdoe@example.com"}, want: "a-jdoe-example.com-b"},
		{template: "a-{{SessionNameRaw}}-b", identity: token.Identity{SessionName: "jdoe@example.com"}, want: "a-jdoe@example.com-b"},
		{template: "a-{{AccountID}}-{{SessionName}}-{{SessionNameRaw}}-b", identity: token.Identity{AccountID: "123", SessionName: "jdoe@example.com"}, want: "a-123-jdoe-example.com-jdoe@example.com-b"},
		// Not upstream: instance ids of both lengths, an EC2 failure, the
		// order of replacements, and placeholders the authenticator does
		// not know.
		{template: "system:node:{{EC2PrivateDNSName}}", identity: token.Identity{SessionName: "i-0c6f21bf1f24f9708"}, want: "system:node:ip-172-31-27-14"},
		{template: "{{EC2PrivateDNSName}}", identity: token.Identity{SessionName: "i-0123abcd"}, want: "ip-172-31-27-14"},
		{template: "{{EC2PrivateDNSName}}", identity: token.Identity{SessionName: "i-0123456789abcdef0"}, ec2: FakeEC2{}, want: "ip-i-0123456789abcdef0.ec2.internal"},
		{template: "{{EC2PrivateDNSName}}", identity: token.Identity{SessionName: "bad-session"}, err: "SessionName did not contain an instance id"},
		{template: "{{EC2PrivateDNSName}}", identity: token.Identity{SessionName: "i-0123456789abcdef0"}, ec2: testEC2{err: errors.New("no such instance")}, err: "no such instance"},
		{template: "{{SessionName}}", identity: token.Identity{SessionName: "{{AccountID}}"}, want: "{{AccountID}}"},
		{template: "{{AccessKeyID}}", identity: token.Identity{SessionName: "x", AccessKeyID: "{{SessionName}}"}, want: "{{SessionName}}"},
		{template: "{{AccountID}}", identity: token.Identity{AccountID: "{{SessionName}}", SessionName: "s"}, want: "s"},
		{template: "{{accountid}}-{{Session}}-{{ SessionName }}", identity: token.Identity{AccountID: "1", SessionName: "s"}, want: "{{accountid}}-{{Session}}-{{ SessionName }}"},
	} {
		t.Run(tc.template, func(t *testing.T) {
			e := tc.ec2
			if e == nil {
				e = ec2
			}
			got, err := renderTemplate(context.Background(), tc.template, &tc.identity, e)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want an error containing %q, got %q, %v", tc.err, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// errMapper is a mapper that fails, as the CRD or dynamic-file mappers can.
type errMapper struct{ accounts map[string]bool }

func (errMapper) Name() string                        { return "Failing" }
func (errMapper) Start(<-chan struct{}) error         { return nil }
func (errMapper) UsernamePrefixReserveList() []string { return nil }
func (m errMapper) IsAccountAllowed(a string) bool    { return m.accounts[a] }
func (errMapper) Map(*token.Identity) (*config.IdentityMapping, error) {
	return nil, errors.New("backend down")
}

func TestDoMapping(t *testing.T) {
	const account = "0123456789012"
	role := &token.Identity{ARN: "arn:aws:iam::0123456789012:role/Test", CanonicalARN: "arn:aws:iam::0123456789012:role/Test", AccountID: account, UserID: "Test", SessionName: "TestSession", AccessKeyID: "ABCDEF"}
	user := &token.Identity{ARN: "arn:aws:iam::0123456789012:user/Test", CanonicalARN: "arn:aws:iam::0123456789012:user/Test", AccountID: account, UserID: "Test", SessionName: "TestSession"}
	assumed := &token.Identity{ARN: "arn:aws:iam::0123456789012:assumed-role/Test/extra", CanonicalARN: "arn:aws:iam::0123456789012:role/Test", AccountID: account, UserID: "Test", SessionName: "TestSession"}
	node := &token.Identity{ARN: "arn:aws:iam::0123456789012:role/TestNodeRole", CanonicalARN: "arn:aws:iam::0123456789012:role/TestNodeRole", AccountID: account, UserID: "TestNodeRole", SessionName: "i-0c6f21bf1f24f9708"}
	nodeBadSession := *node
	nodeBadSession.SessionName = "bad-session"
	testRole := map[string]config.RoleMapping{"arn:aws:iam::0123456789012:role/test": {RoleARN: "arn:aws:iam::0123456789012:role/Test", Username: "TestUser", Groups: []string{"sys:admin", "listers"}}}
	nodeRole := map[string]config.RoleMapping{"arn:aws:iam::0123456789012:role/testnoderole": {RoleARN: "arn:aws:iam::0123456789012:role/TestNodeRole", Username: "system:node:{{EC2PrivateDNSName}}", Groups: []string{"system:nodes", "system:bootstrappers"}}}
	testUser := map[string]config.UserMapping{"arn:aws:iam::0123456789012:user/test": {UserARN: "arn:aws:iam::0123456789012:user/Test", Username: "TestUser", Groups: []string{"sys:admin", "listers"}}}
	accounts := map[string]bool{account: true}
	reserving, err := file.NewFileMapper(config.Config{
		RoleMappings:          []config.RoleMapping{{RoleARN: "arn:aws:iam::0123456789012:role/Test", Username: "eks:{{SessionName}}"}},
		AutoMappedAWSAccounts: []string{account},
		ReservedPrefixConfig:  map[string]config.ReservedPrefixConfig{mapper.ModeMountedFile: {UsernamePrefixReserveList: []string{"aws:", "eks:", "amazon:", "iam:", "system:"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		m    mapper.Mapper
		id   *token.Identity
		want Outcome
	}{
		// TestAuthenticateVerifierNotMapped
		{name: "not mapped", m: file.NewFileMapperWithMaps(nil, nil, nil), id: &token.Identity{}, want: Outcome{}},
		// TestAuthenticateVerifierRoleMapping, ...UserMapping
		{name: "role mapping", m: file.NewFileMapperWithMaps(testRole, nil, nil), id: role, want: Outcome{Mapped: true, Username: "TestUser", Groups: []string{"sys:admin", "listers"}}},
		{name: "user mapping", m: file.NewFileMapperWithMaps(nil, testUser, nil), id: user, want: Outcome{Mapped: true, Username: "TestUser", Groups: []string{"sys:admin", "listers"}}},
		// TestAuthenticateVerifierAccountMappingForUser, ...ForRole
		{name: "account mapping for a user", m: file.NewFileMapperWithMaps(nil, nil, accounts), id: user, want: Outcome{Mapped: true, Username: "arn:aws:iam::0123456789012:user/Test", Groups: []string{}}},
		{name: "account mapping for a role", m: file.NewFileMapperWithMaps(nil, nil, accounts), id: assumed, want: Outcome{Mapped: true, Username: "arn:aws:iam::0123456789012:role/Test", Groups: []string{}}},
		// TestAuthenticateVerifierNodeMapping, with FakeEC2's name.
		{name: "node mapping", m: file.NewFileMapperWithMaps(nodeRole, nil, nil), id: node, want: Outcome{Mapped: true, Username: "system:node:ip-i-0c6f21bf1f24f9708.ec2.internal", Groups: []string{"system:nodes", "system:bootstrappers"}}},
		// Not upstream: a render error refuses the caller, even when its
		// account is in mapAccounts.
		{name: "node mapping without an instance session", m: file.NewFileMapperWithMaps(nodeRole, nil, accounts), id: &nodeBadSession,
			want: Outcome{Refused: `mapper MountedFile renderTemplates error: error rendering username template "system:node:{{EC2PrivateDNSName}}": SessionName did not contain an instance id`}},
		// TestReservedPrefixExists through doMapping: a reserved prefix
		// refuses, again without the mapAccounts fallback.
		{name: "reserved prefix", m: reserving, id: role,
			want: Outcome{Refused: "invalid username 'eks:TestSession' for mapper MountedFile: username must not begin with with the following prefixes: [aws: eks: amazon: iam: system:]"}},
		{name: "mapper error", m: errMapper{}, id: role, want: Outcome{Refused: "mapper Failing Map error: backend down"}},
		{name: "mapper error, account allowed", m: errMapper{accounts: accounts}, id: role, want: Outcome{Mapped: true, Username: "arn:aws:iam::0123456789012:role/Test", Groups: []string{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DoMapping(tc.m, tc.id, nil)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestReservedPrefixExists(t *testing.T) {
	list := []string{"aws:", "eks:", "amazon:", "iam:", "system:"}
	for username, want := range map[string]bool{"system:masters": true, "test": false, "eksb:test": false, "eks:test": true} {
		if got := reservedPrefixExists(username, list); got != want {
			t.Errorf("reservedPrefixExists(%q) = %t, want %t", username, got, want)
		}
	}
	if reservedPrefixExists("anything", []string{""}) {
		t.Error("an empty prefix reserves nothing")
	}
}
