package mapping

import (
	"reflect"
	"testing"
)

func role(arn, user string, groups ...string) Mapping {
	return Mapping{Source: MapRoles, ARN: arn, Username: user, Groups: groups}
}

func user(arn, name string, groups ...string) Mapping {
	return Mapping{Source: MapUsers, ARN: arn, Username: name, Groups: groups}
}

func TestResolve(t *testing.T) {
	set := Set{
		Roles: []Mapping{
			role("arn:aws:iam::111122223333:role/Dev", "dev-old", "old"),
			role("arn:aws:iam::111122223333:role/team/Pathy", "never"),
			role("arn:aws:iam::111122223333:role/dev", "dev-{{SessionName}}", "devs"),
			role("arn:aws:iam::111122223333:role/Both", "from-roles"),
			{Source: MapRoles, SSO: &SSO{PermissionSetName: "Admin", AccountID: "111122223333"}, Username: "sso:{{SessionNameRaw}}", Groups: []string{"admins"}},
		},
		Users: []Mapping{
			user("arn:aws:iam::111122223333:user/alice", "alice", "system:masters"),
			user("arn:aws:iam::111122223333:role/Both", "from-users"),
			user("arn:aws:iam::111122223333:role/OnlyUsers", "role-in-users"),
		},
		Accounts: []string{"444455556666"},
	}
	tests := []struct {
		name    string
		caller  Caller
		wantOK  bool
		wantRef *Ref
		want    Resolution
	}{
		{"last of case-variant duplicates wins", Caller{CanonicalARN: "arn:aws:iam::111122223333:role/DEV", SessionName: "a@b"}, true, &Ref{MapRoles, 2}, Resolution{Username: "dev-a-b", Groups: []string{"devs"}}},
		{"path entry never matches", Caller{CanonicalARN: "arn:aws:iam::111122223333:role/Pathy"}, false, nil, Resolution{}},
		{"mapRoles before mapUsers", Caller{CanonicalARN: "arn:aws:iam::111122223333:role/Both"}, true, &Ref{MapRoles, 3}, Resolution{Username: "from-roles", Groups: []string{}}},
		{"role ARN under mapUsers matches", Caller{CanonicalARN: "arn:aws:iam::111122223333:role/OnlyUsers"}, true, &Ref{MapUsers, 2}, Resolution{Username: "role-in-users", Groups: []string{}}},
		{"user", Caller{CanonicalARN: "arn:aws:iam::111122223333:user/alice"}, true, &Ref{MapUsers, 0}, Resolution{Username: "alice", Groups: []string{"system:masters"}}},
		{"sso permission set", Caller{CanonicalARN: "arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_abc123", SessionName: "x@y"}, true, &Ref{MapRoles, 4}, Resolution{Username: "sso:x@y", Groups: []string{"admins"}}},
		{"mapAccounts", Caller{CanonicalARN: "arn:aws:iam::444455556666:role/Any"}, true, nil, Resolution{Account: "444455556666", Username: "arn:aws:iam::444455556666:role/Any"}},
		{"unmapped", Caller{CanonicalARN: "arn:aws:iam::999999999999:user/x"}, false, nil, Resolution{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := set.Resolve(tt.caller)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			tt.want.Ref = tt.wantRef
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
		},
		Users: []Mapping{
			user("arn:aws:iam::111122223333:role/DEV", "d"),
			user("arn:aws:iam::111122223333:user/u", "e"),
			user("arn:aws:iam::111122223333:user/U", "f"),
		},
	}
	roles, users := set.Status()
	// IAM names are case-insensitive, so user/u and user/U are one principal too.
	want := []State{Shadowed, NeverMatches, Active, Shadowed, Shadowed, Active}
	got := []State{roles[0].State, roles[1].State, roles[2].State, users[0].State, users[1].State, users[2].State}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("states = %v, want %v", got, want)
	}
	if roles[0].By == nil || *roles[0].By != (Ref{MapRoles, 2}) || users[0].By == nil || *users[0].By != (Ref{MapRoles, 2}) {
		t.Errorf("shadowed-by refs = %v, %v", roles[0].By, users[0].By)
	}
}
