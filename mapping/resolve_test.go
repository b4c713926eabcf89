package mapping

import (
	"reflect"
	"strings"
	"testing"
)

func role(arn, user string, groups ...string) Mapping {
	return Mapping{Source: MapRoles, ARN: arn, Username: user, Groups: groups}
}

func user(arn, name string, groups ...string) Mapping {
	return Mapping{Source: MapUsers, ARN: arn, Username: name, Groups: groups}
}

const acct = "111122223333"

// TestResolve covers aws-iam-authenticator v0.7.18's lookup, one class of
// input per case (issue 9 numbers them).
func TestResolve(t *testing.T) {
	set := Set{
		Roles: []Mapping{
			role("arn:aws:iam::111122223333:role/Dev", "dev-old", "old"),
			role("arn:aws:iam::111122223333:role/team/Pathy", "never"),
			role("arn:aws:iam::111122223333:role/dev", "dev-{{SessionName}}", "devs"),
			role("arn:aws:iam::111122223333:role/Both", "from-roles"),
			{Source: MapRoles, SSO: &SSO{PermissionSetName: "Admin", AccountID: acct}, Username: "sso:{{SessionNameRaw}}", Groups: []string{"admins"}},
			role("arn:aws:iam::111122223333:role/*", "wild", "system:masters"),
			role("ARN:AWS:IAM::111122223333:ROLE/UPPER", "upper"),
			role("arn:aws:iam::111122223333:role/\u212Aube", "kelvin"),
			role("arn:aws:iam::111122223333:role/node", "system:node:{{EC2PrivateDNSName}}", "system:nodes"),
			role("arn:aws:iam::111122223333:role/valid-then-invalid", "valid"),
			{Source: MapRoles, ARN: "arn:aws:iam::111122223333:role/valid-then-invalid", SSO: &SSO{PermissionSetName: "X", AccountID: acct}, Username: "invalid"},
			role("arn:aws:iam::444455556666:role/refused", "system:node:{{EC2PrivateDNSName}}"),
		},
		Users: []Mapping{
			user("arn:aws:iam::111122223333:user/alice", "alice", "system:masters"),
			user("arn:aws:iam::111122223333:role/Both", "from-users"),
			user("arn:aws:iam::111122223333:role/OnlyUsers", "role-in-users"),
			user("arn:aws:iam::111122223333:root", "root"),
			user("arn:aws:sts::111122223333:federated-user/fed", "fed"),
			user("arn:aws:iam::111122223333:user/bob", "bob-a"),
			user("arn:aws:iam::111122223333:user/Bob", "bob-b"),
			user("arn:aws:iam::111122223333:user/chain", "{{Access{{SessionName}}KeyID}}"),
		},
		Accounts: []string{"444455556666"},
	}
	roleCaller := func(name, session string) Caller {
		return Caller{CanonicalARN: "arn:aws:iam::111122223333:role/" + name, AccountID: acct, SessionName: session}
	}
	userCaller := func(arn string) Caller {
		return Caller{CanonicalARN: arn, AccountID: AccountOf(arn), AccessKeyID: "AKIAEXAMPLE"}
	}
	tests := []struct {
		name   string
		caller Caller
		wantOK bool
		want   Resolution
	}{
		{"last of same-key duplicates wins", roleCaller("DEV", "a@b"), true, Resolution{Ref: &Ref{MapRoles, 2}, Username: "dev-a-b", Groups: []string{"devs"}}},
		{"path entry never matches", roleCaller("Pathy", "s"), false, Resolution{}},
		{"mapRoles before mapUsers", roleCaller("Both", "s"), true, Resolution{Ref: &Ref{MapRoles, 3}, Username: "from-roles", Groups: []string{}}},
		{"role ARN under mapUsers matches", roleCaller("OnlyUsers", "s"), true, Resolution{Ref: &Ref{MapUsers, 2}, Username: "role-in-users", Groups: []string{}}},
		{"user", userCaller("arn:aws:iam::111122223333:user/alice"), true, Resolution{Ref: &Ref{MapUsers, 0}, Username: "alice", Groups: []string{"system:masters"}}},
		{"6: sso entries never match on EKS", roleCaller("AWSReservedSSO_Admin_abc123", "x@y"), false, Resolution{}},
		{"4: a wildcard is text", roleCaller("anything", "s"), false, Resolution{}},
		{"9: upper-case ARN matches", roleCaller("upper", "s"), true, Resolution{Ref: &Ref{MapRoles, 6}, Username: "upper", Groups: []string{}}},
		{"11: EqualFold folds the Kelvin sign", roleCaller("kube", "s"), true, Resolution{Ref: &Ref{MapRoles, 7}, Username: "kelvin", Groups: []string{}}},
		{"5: EC2PrivateDNSName with an instance session", Caller{CanonicalARN: "arn:aws:iam::111122223333:role/node", AccountID: acct, SessionName: "i-0123456789abcdef0", EC2PrivateDNSName: "ip-10-0-0-1.ec2.internal"}, true,
			Resolution{Ref: &Ref{MapRoles, 8}, Username: "system:node:ip-10-0-0-1.ec2.internal", Groups: []string{"system:nodes"}}},
		{"5: EC2PrivateDNSName with another session is refused", roleCaller("node", "i-bad"), true, Resolution{Ref: &Ref{MapRoles, 8}, Refused: `username "system:node:{{EC2PrivateDNSName}}": ` + ErrNoInstanceSession.Error()}},
		{"5: refusal does not fall back to mapAccounts", Caller{CanonicalARN: "arn:aws:iam::444455556666:role/refused", AccountID: "444455556666", SessionName: "s"}, true,
			Resolution{Ref: &Ref{MapRoles, 11}, Refused: `username "system:node:{{EC2PrivateDNSName}}": ` + ErrNoInstanceSession.Error()}},
		{"2: an invalid later entry is dropped, the valid one stays", roleCaller("valid-then-invalid", "s"), true, Resolution{Ref: &Ref{MapRoles, 9}, Username: "valid", Groups: []string{}}},
		{"8: the account root", userCaller("arn:aws:iam::111122223333:root"), true, Resolution{Ref: &Ref{MapUsers, 3}, Username: "root", Groups: []string{}}},
		{"8: a federated user", userCaller("arn:aws:sts::111122223333:federated-user/fed"), true, Resolution{Ref: &Ref{MapUsers, 4}, Username: "fed", Groups: []string{}}},
		{"7: case-variant users: EKS picks either", userCaller("arn:aws:iam::111122223333:user/bob"), true,
			Resolution{Ref: &Ref{MapUsers, 5}, Username: "bob-a", Groups: []string{}, Alternatives: []Resolution{{Ref: &Ref{MapUsers, 6}, Username: "bob-b", Groups: []string{}}}}},
		{"11: placeholders are replaced one after the other", userCaller("arn:aws:iam::111122223333:user/chain"), true, Resolution{Ref: &Ref{MapUsers, 7}, Username: "AKIAEXAMPLE", Groups: []string{}}},
		{"mapAccounts", Caller{CanonicalARN: "arn:aws:iam::444455556666:role/Any", AccountID: "444455556666"}, true, Resolution{Account: "444455556666", Username: "arn:aws:iam::444455556666:role/Any", Groups: []string{}}},
		{"unmapped", userCaller("arn:aws:iam::999999999999:user/x"), false, Resolution{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := set.Resolve(tt.caller)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tt.wantOK, got)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Resolve = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	set := Set{
		Roles: []Mapping{
			role("arn:aws:iam::111122223333:role/Dev", "a"),
			role("arn:aws:iam::111122223333:role/team/X", "b"),
			role("arn:aws:iam::111122223333:role/dev", "c"),
			{Source: MapRoles, ARN: "arn:aws:iam::111122223333:role/both", SSO: &SSO{PermissionSetName: "X", AccountID: acct}},
			{Source: MapRoles, SSO: &SSO{PermissionSetName: "Admin", AccountID: acct}, Username: "sso"},
			role("arn:aws:iam::111122223333:role/*", "wild"),
			role("ARN:AWS:IAM::111122223333:ROLE/UPPER", "upper"),
			{Source: MapRoles, SSO: &SSO{PermissionSetName: "bad name", AccountID: acct}},
		},
		Users: []Mapping{
			user("arn:aws:iam::111122223333:role/DEV", "d"),
			user("arn:aws:iam::111122223333:user/u", "e"),
			user("arn:aws:iam::111122223333:user/U", "f"),
			user("arn:aws:iam::111122223333:user/same", "s"),
			user("arn:aws:iam::111122223333:user/SAME", "s"),
			user("arn:aws:iam::111122223333:user/n", "system:node:{{EC2PrivateDNSName}}"),
			user("", "no-arn"),
			user("arn:aws:iam::111122223333:root", "root"),
		},
	}
	roles, users := set.Status()
	want := []State{Shadowed, NeverMatches, Active, Dropped, NeverMatches, NeverMatches, Active, Dropped,
		Shadowed, Undefined, Undefined, Active, Shadowed, Refuses, Dropped, Active}
	var got []State
	for _, s := range append(roles, users...) {
		got = append(got, s.State)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("states = %v\nwant     %v", got, want)
	}
	if *roles[0].By != (Ref{MapRoles, 2}) || *users[0].By != (Ref{MapRoles, 2}) || *users[4].By != (Ref{MapUsers, 3}) {
		t.Errorf("shadowed-by refs = %v, %v, %v", roles[0].By, users[0].By, users[4].By)
	}
	if !reflect.DeepEqual(users[1].Others, []Ref{{MapUsers, 2}}) || !strings.Contains(users[1].String(), "undefined: EKS may use this or mapUsers[2]") {
		t.Errorf("undefined status = %+v (%s)", users[1], users[1])
	}
	for i, want := range map[int]string{4: "SSORoleMatch", 5: "not wildcards"} {
		if !strings.Contains(roles[i].Reason, want) {
			t.Errorf("roles[%d] reason %q does not mention %q", i, roles[i].Reason, want)
		}
	}
	if !strings.Contains(roles[3].Reason, "both rolearn and sso") || !strings.Contains(roles[7].Reason, "permissionSetName") {
		t.Errorf("dropped reasons = %q, %q", roles[3].Reason, roles[7].Reason)
	}
}

func TestAccountStatus(t *testing.T) {
	tests := []struct {
		value   string
		want    State
		mention string
	}{
		{"444455556666", Active, ""},
		{"012345678901", Active, ""},
		{"1.2345679e+10", NeverMatches, "eksctl"},
		{"12345", NeverMatches, "12-digit"},
		{"", NeverMatches, "12-digit"},
	}
	for _, tt := range tests {
		got := AccountStatus(tt.value)
		if got.State != tt.want || !strings.Contains(got.Reason, tt.mention) {
			t.Errorf("AccountStatus(%q) = %+v, want %s mentioning %q", tt.value, got, tt.want, tt.mention)
		}
	}
	if strings.Contains(AccountStatus("12345").Reason, "eksctl") {
		t.Errorf("a short integer is blamed on eksctl's float rewrite")
	}
}

func TestCallerFor(t *testing.T) {
	tests := []struct {
		arn, session string
		want         Caller
	}{
		{"arn:aws:sts::111122223333:assumed-role/Admin/alice@example.com", "", Caller{CanonicalARN: "arn:aws:iam::111122223333:role/Admin", AccountID: acct, SessionName: "alice@example.com"}},
		{"arn:aws:iam::111122223333:role/team/Admin", "s1", Caller{CanonicalARN: "arn:aws:iam::111122223333:role/Admin", AccountID: acct, SessionName: "s1"}},
		{"arn:aws:iam::111122223333:user/ops/alice", "ignored", Caller{CanonicalARN: "arn:aws:iam::111122223333:user/ops/alice", AccountID: acct}},
		{"arn:aws:iam::111122223333:root", "", Caller{CanonicalARN: "arn:aws:iam::111122223333:root", AccountID: acct}},
		{"arn:aws:sts::111122223333:federated-user/bob", "", Caller{CanonicalARN: "arn:aws:sts::111122223333:federated-user/bob", AccountID: acct}},
	}
	for _, tt := range tests {
		got, err := CallerFor(tt.arn, tt.session)
		if err != nil || got != tt.want {
			t.Errorf("CallerFor(%q, %q) = %+v, %v; want %+v", tt.arn, tt.session, got, err, tt.want)
		}
	}
}

// The authenticator files an sso entry with an explicit partition under
// "arn::iam::..." (its SSOArnLike drops the partition), so two such entries
// that differ only in partition replace each other.
func TestSSOExplicitPartitionKey(t *testing.T) {
	set := Set{Roles: []Mapping{
		{Source: MapRoles, SSO: &SSO{PermissionSetName: "Admin", AccountID: acct, Partition: "aws-cn"}, Username: "cn"},
		{Source: MapRoles, SSO: &SSO{PermissionSetName: "Admin", AccountID: acct, Partition: "aws-us-gov"}, Username: "gov"},
		{Source: MapRoles, SSO: &SSO{PermissionSetName: "Admin", AccountID: acct}, Username: "aws"},
	}}
	roles, _ := set.Status()
	if roles[0].State != Shadowed || *roles[0].By != (Ref{MapRoles, 1}) || roles[1].State != NeverMatches || roles[2].State != NeverMatches {
		t.Errorf("states = %+v", roles)
	}
}

// foldKey must give equal keys exactly when strings.EqualFold says equal.
func TestFoldKeyAgreesWithEqualFold(t *testing.T) {
	words := []string{"k", "K", "\u212A", "s", "S", "\u017F", "a", "A", "ß", "ẞ", "σ", "ς", "Σ", "i", "I", "İ", "ı", "1", "-", "arn:aws:iam::1:role/x", "ARN:AWS:IAM::1:ROLE/X", "\xff", "\xfe"}
	for _, a := range words {
		for _, b := range words {
			if got, want := foldKey(a) == foldKey(b), strings.EqualFold(a, b); got != want {
				t.Errorf("foldKey(%q) == foldKey(%q) is %v; EqualFold says %v", a, b, got, want)
			}
		}
	}
}
