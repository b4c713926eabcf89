package awsauth

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/iammap/iammap/mapping"
)

func loadFixture(t *testing.T, name string) *Document {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	d, err := DecodeManifest(b)
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return d
}

func TestDecodeFixtures(t *testing.T) {
	tests := []struct {
		fixture  string
		want     mapping.Set
		badKeys  []mapping.Source
		wantKeys map[string]bool
	}{
		{
			fixture: "realworld.yaml",
			want: mapping.Set{
				Roles: []mapping.Mapping{
					{Source: mapping.MapRoles, ARN: "arn:aws:iam::111122223333:role/eksctl-prod-nodegroup-NodeInstanceRole-1ABC", Username: "system:node:{{EC2PrivateDNSName}}", Groups: []string{"system:bootstrappers", "system:nodes"}},
					{Source: mapping.MapRoles, ARN: "arn:aws:iam::111122223333:role/Admin", Username: "admin", Groups: []string{"system:masters"}},
					{Source: mapping.MapRoles, SSO: &mapping.SSO{PermissionSetName: "ReadOnly", AccountID: "111122223333"}, Username: "sso-ro:{{SessionName}}", Groups: []string{"viewers"}},
					{Source: mapping.MapRoles, ARN: "arn:aws:iam::111122223333:role/ci", Username: "ci", Groups: []string{"deployers"}, UserID: "AROAEXAMPLE"},
				},
				Users:    []mapping.Mapping{{Source: mapping.MapUsers, ARN: "arn:aws:iam::111122223333:user/ops/alice", Username: "alice", Groups: []string{"system:masters"}}},
				Accounts: []string{"012345678901", "444455556666"},
			},
		},
		{
			// One space too far makes YAML read a single group "developers - viewers".
			fixture: "misindented.yaml",
			want: mapping.Set{Roles: []mapping.Mapping{
				{Source: mapping.MapRoles, ARN: "arn:aws:iam::111122223333:role/dev", Username: "dev", Groups: []string{"developers - viewers"}},
			}},
		},
		{fixture: "empty-quoted.yaml", want: mapping.Set{}},
		{
			fixture: "broken-key.yaml",
			want: mapping.Set{Users: []mapping.Mapping{
				{Source: mapping.MapUsers, ARN: "arn:aws:iam::111122223333:user/admin", Username: "admin", Groups: []string{"system:masters"}},
			}},
			badKeys: []mapping.Source{mapping.MapRoles},
		},
		{
			fixture: "flow.yaml",
			want: mapping.Set{Roles: []mapping.Mapping{
				{Source: mapping.MapRoles, ARN: "arn:aws:iam::111122223333:role/a", Username: "a", Groups: []string{"g"}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			d := loadFixture(t, tt.fixture)
			if got := d.Set(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Set() =\n%+v\nwant\n%+v", got, tt.want)
			}
			for _, src := range sources {
				bad := false
				for _, b := range tt.badKeys {
					bad = bad || b == src
				}
				err := d.Err(src)
				if bad != (err != nil) {
					t.Errorf("Err(%s) = %v, want error: %v", src, err, bad)
				}
				if err != nil && (!errors.Is(err, ErrKeyParse) || !strings.Contains(err.Error(), string(src))) {
					t.Errorf("Err(%s) = %q: want it to wrap ErrKeyParse and name the key", src, err)
				}
			}
		})
	}
}

func TestDecodeManifestMissingBar(t *testing.T) {
	b, err := os.ReadFile("testdata/missing-bar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = DecodeManifest(b)
	if err == nil || !strings.Contains(err.Error(), "data.mapRoles must be a string") || !strings.Contains(err.Error(), "line 8") {
		t.Fatalf("DecodeManifest error = %v, want one naming data.mapRoles and the line its list starts", err)
	}
}

func TestDecodeMatchesAuthenticatorFieldRules(t *testing.T) {
	tests := []struct {
		name, text string
		want       mapping.Mapping
	}{
		{"lower", "- rolearn: arn:aws:iam::111122223333:role/a\n  username: a\n", mapping.Mapping{ARN: "arn:aws:iam::111122223333:role/a", Username: "a"}},
		{"camel", "- roleARN: arn:aws:iam::111122223333:role/a\n  userName: a\n", mapping.Mapping{ARN: "arn:aws:iam::111122223333:role/a", Username: "a"}},
		{"upper", "- ROLEARN: arn:aws:iam::111122223333:role/a\n  GROUPS: [x]\n", mapping.Mapping{ARN: "arn:aws:iam::111122223333:role/a", Groups: []string{"x"}}},
		{"unknown fields ignored", "- rolearn: arn:aws:iam::111122223333:role/a\n  comment: hi\n  nested: {a: 1}\n", mapping.Mapping{ARN: "arn:aws:iam::111122223333:role/a"}},
		{"userarn ignored under mapRoles", "- userarn: arn:aws:iam::111122223333:user/u\n  rolearn: arn:aws:iam::111122223333:role/a\n", mapping.Mapping{ARN: "arn:aws:iam::111122223333:role/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decode(map[string]string{"mapRoles": tt.text})
			if err := d.Err(mapping.MapRoles); err != nil {
				t.Fatal(err)
			}
			tt.want.Source = mapping.MapRoles
			if got := d.Set().Roles; len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeKeyErrorsNameTheProblem(t *testing.T) {
	tests := []struct{ name, key, text, want string }{
		{"not a list", "mapUsers", "userarn: a\n", "want a list"},
		{"bad yaml", "mapRoles", "- rolearn: a\n  groups: [x\n", "mapRoles"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decode(map[string]string{tt.key: tt.text})
			err := d.Err(mapping.Source(tt.key))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// A value of the wrong type does not lose the key, as it does not for the
// authenticator: encoding/json leaves that field empty and decodes the rest,
// and each problem is noted on its entry.
func TestWrongTypedFieldsKeepTheirEntries(t *testing.T) {
	text := "- rolearn: arn:aws:iam::111122223333:role/a\n  username: 1001\n  groups: system:masters\n" +
		"- arn:aws:iam::111122223333:role/bare\n" +
		"- rolearn: arn:aws:iam::111122223333:role/b\n  username: b\n  groups: [x, 5]\n"
	d := Decode(map[string]string{"mapRoles": text, "mapAccounts": "- '444455556666'\n- 111122223333\n- {id: 1}\n"})
	if err := d.Err(mapping.MapRoles); err != nil {
		t.Fatalf("mapRoles: %v", err)
	}
	roles := d.Set().Roles
	if len(roles) != 3 {
		t.Fatalf("got %d entries, want 3", len(roles))
	}
	if r := roles[0]; r.ARN != "arn:aws:iam::111122223333:role/a" || r.Username != "" || len(r.Groups) != 0 || len(r.Problems) != 2 ||
		!strings.Contains(r.Problems[0], `"groups"`) || !strings.Contains(r.Problems[1], `"username"`) {
		t.Errorf("entry 0 = %+v, want its ARN kept, username and groups empty, two problems", r)
	}
	if r := roles[1]; r.ARN != "" || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "string, not a mapping") {
		t.Errorf("entry 1 = %+v, want an empty entry with one problem", r)
	}
	if r := roles[2]; !reflect.DeepEqual(r.Groups, []string{"x", ""}) || len(r.Problems) != 1 {
		t.Errorf("entry 2 = %+v, want groups [x \"\"] and one problem", r)
	}
	if got := d.Set().Accounts; !reflect.DeepEqual(got, []string{"444455556666", "111122223333"}) {
		t.Errorf("accounts = %q, want the quoted and the plain id, the mapping skipped", got)
	}
	if p := d.Problems(mapping.MapAccounts); len(p) != 1 {
		t.Errorf("mapAccounts problems = %q, want one", p)
	}
	if _, err := AddAccount(d, "777788889999"); err == nil {
		t.Errorf("AddAccount on a mapAccounts with a skipped item succeeded; want a refusal")
	}
	// An edit of mapRoles keeps the wrong-typed entries as written.
	if _, err := AddMapping(d, mapping.Mapping{Source: mapping.MapRoles, ARN: "arn:aws:iam::111122223333:role/c", Username: "c"}, false); err != nil {
		t.Fatalf("AddMapping: %v", err)
	}
	if got := d.Data()["mapRoles"]; !strings.HasPrefix(got, text) {
		t.Errorf("mapRoles after the edit does not start with the original text:\n%s", got)
	}
}

func TestAddKeepsEverythingElseByteIdentical(t *testing.T) {
	d := loadFixture(t, "realworld.yaml")
	before := d.Data()
	u := mapping.Mapping{Source: mapping.MapUsers, ARN: "arn:aws:iam::111122223333:user/bob", Username: "bob", Groups: []string{"viewers"}}
	res, err := AddMapping(d, u, false)
	if err != nil || res.Unchanged {
		t.Fatalf("AddMapping = %+v, %v", res, err)
	}
	after := d.Data()
	for k, v := range before {
		if k == "mapUsers" {
			continue
		}
		if after[k] != v {
			t.Errorf("key %s changed:\n%q\n->\n%q", k, v, after[k])
		}
	}
	wantUsers := before["mapUsers"] + "- userarn: arn:aws:iam::111122223333:user/bob\n  username: bob\n  groups:\n    - viewers\n"
	if after["mapUsers"] != wantUsers {
		t.Errorf("mapUsers =\n%s\nwant\n%s", after["mapUsers"], wantUsers)
	}
}

func TestAppendFollowsExistingIndentation(t *testing.T) {
	d := Decode(map[string]string{"mapRoles": "  - rolearn: arn:aws:iam::111122223333:role/a\n    username: a"})
	if _, err := AddMapping(d, mapping.Mapping{Source: mapping.MapRoles, ARN: "arn:aws:iam::111122223333:role/b", Username: "b"}, false); err != nil {
		t.Fatal(err)
	}
	want := "  - rolearn: arn:aws:iam::111122223333:role/a\n    username: a\n  - rolearn: arn:aws:iam::111122223333:role/b\n    username: b\n"
	if got := d.Data()["mapRoles"]; got != want {
		t.Errorf("mapRoles =\n%q\nwant\n%q", got, want)
	}
}

func TestDeleteCutsOnlyTheEntryLines(t *testing.T) {
	d := loadFixture(t, "realworld.yaml")
	before := d.Data()
	res, err := DeleteMapping(d, "ARN:AWS:IAM::111122223333:ROLE/ADMIN", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 1 || res.Removed[0].Username != "admin" || len(res.Remaining) != 0 || res.Effective != nil {
		t.Fatalf("DeleteMapping = %+v", res)
	}
	removedLines := "- roleARN: arn:aws:iam::111122223333:role/Admin\n  UserName: admin\n  Groups: [system:masters]\n  team: platform\n"
	want := strings.Replace(before["mapRoles"], removedLines, "", 1)
	if want == before["mapRoles"] {
		t.Fatal("fixture does not contain the expected Admin lines")
	}
	after := d.Data()
	if after["mapRoles"] != want {
		t.Errorf("mapRoles =\n%s\nwant\n%s", after["mapRoles"], want)
	}
	for _, k := range []string{"mapUsers", "mapAccounts", "customKey"} {
		if after[k] != before[k] {
			t.Errorf("key %s changed", k)
		}
	}
}

func TestDeleteLastEntryRemovesKey(t *testing.T) {
	d := Decode(map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:user/u\n", "other": "x"})
	if _, err := DeleteMapping(d, "arn:aws:iam::111122223333:user/u", false); err != nil {
		t.Fatal(err)
	}
	if got := d.Data(); !reflect.DeepEqual(got, map[string]string{"other": "x"}) {
		t.Errorf("Data = %v", got)
	}
}

func TestAddDuplicates(t *testing.T) {
	base := "- rolearn: arn:aws:iam::111122223333:role/Dev\n  username: dev\n  groups:\n    - a\n    - b\n"
	role := func(arn, user string, groups ...string) mapping.Mapping {
		return mapping.Mapping{Source: mapping.MapRoles, ARN: arn, Username: user, Groups: groups}
	}
	tests := []struct {
		name          string
		add           mapping.Mapping
		noDup         bool
		wantUnchanged bool
		wantShadows   int
		wantErr       error
	}{
		{"identical, other case and group order", role("arn:aws:iam::111122223333:role/dev", "dev", "b", "a"), false, true, 0, nil},
		{"different groups shadows", role("arn:aws:iam::111122223333:role/dev", "dev", "c"), false, false, 1, nil},
		{"different username shadows", role("arn:aws:iam::111122223333:role/Dev", "dev2", "a", "b"), false, false, 1, nil},
		{"no-duplicate-arns refuses", role("arn:aws:iam::111122223333:role/DEV", "dev", "c"), true, false, 0, ErrDuplicate},
		{"other principal", role("arn:aws:iam::111122223333:role/ops", "ops"), true, false, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decode(map[string]string{"mapRoles": base})
			res, err := AddMapping(d, tt.add, tt.noDup)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if d.Data()["mapRoles"] != base {
					t.Error("refused add changed the document")
				}
				return
			}
			if res.Unchanged != tt.wantUnchanged || len(res.Shadows) != tt.wantShadows {
				t.Errorf("res = %+v", res)
			}
			if tt.wantUnchanged != (d.Data()["mapRoles"] == base) {
				t.Errorf("document changed = %v, want %v", d.Data()["mapRoles"] != base, !tt.wantUnchanged)
			}
			if tt.wantShadows > 0 {
				e := d.Entries()
				if e[0].Status.State != mapping.Shadowed || e[len(e)-1].Status.State != mapping.Active {
					t.Errorf("statuses = %v, %v", e[0].Status, e[len(e)-1].Status)
				}
			}
		})
	}
}

func TestReAddingAShadowedEntryIsNotANoop(t *testing.T) {
	// dev is mapped twice; the second (viewer) wins. Adding the first again
	// must append, because it changes who wins.
	d := Decode(map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/dev\n  username: admin\n- rolearn: arn:aws:iam::111122223333:role/dev\n  username: viewer\n"})
	res, err := AddMapping(d, mapping.Mapping{Source: mapping.MapRoles, ARN: "arn:aws:iam::111122223333:role/dev", Username: "admin"}, false)
	if err != nil || res.Unchanged {
		t.Fatalf("AddMapping = %+v, %v", res, err)
	}
	r, ok := d.Set().Resolve(mapping.Caller{CanonicalARN: "arn:aws:iam::111122223333:role/dev"})
	if !ok || r.Username != "admin" {
		t.Errorf("resolves to %+v", r)
	}
}

func TestDeleteReportsWhatRemains(t *testing.T) {
	text := "- rolearn: arn:aws:iam::111122223333:role/dev\n  username: a\n- rolearn: arn:aws:iam::111122223333:role/Dev\n  username: b\n"
	users := "- userarn: arn:aws:iam::111122223333:role/dev\n  username: c\n"
	d := Decode(map[string]string{"mapRoles": text, "mapUsers": users})
	res, err := DeleteMapping(d, "arn:aws:iam::111122223333:role/dev", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 1 || res.Removed[0].Username != "a" {
		t.Fatalf("removed %+v", res.Removed)
	}
	if len(res.Remaining) != 2 || res.Effective == nil || res.Effective.Username != "b" {
		t.Fatalf("remaining %+v effective %+v", res.Remaining, res.Effective)
	}
	res, err = DeleteMapping(d, "arn:aws:iam::111122223333:role/dev", true)
	if err != nil || len(res.Removed) != 2 || len(res.Remaining) != 0 || res.Effective != nil {
		t.Fatalf("delete --all = %+v, %v", res, err)
	}
	if _, err := DeleteMapping(d, "arn:aws:iam::111122223333:role/dev", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("third delete err = %v, want ErrNotFound", err)
	}
}

func TestBrokenKeyIsNeverRewrittenButOthersAreEditable(t *testing.T) {
	d := loadFixture(t, "broken-key.yaml")
	before := d.Data()
	_, err := AddMapping(d, mapping.Mapping{Source: mapping.MapRoles, ARN: "arn:aws:iam::111122223333:role/x"}, false)
	if !errors.Is(err, ErrKeyParse) {
		t.Fatalf("add to broken key err = %v, want ErrKeyParse", err)
	}
	if _, err := AddMapping(d, mapping.Mapping{Source: mapping.MapUsers, ARN: "arn:aws:iam::111122223333:user/y"}, false); err != nil {
		t.Fatalf("add to healthy key: %v", err)
	}
	if d.Data()["mapRoles"] != before["mapRoles"] {
		t.Error("broken key was rewritten")
	}
}

func TestFlowStyleEditKeepsUnknownFields(t *testing.T) {
	d := loadFixture(t, "flow.yaml")
	if _, err := AddMapping(d, mapping.Mapping{Source: mapping.MapRoles, ARN: "arn:aws:iam::111122223333:role/b", Username: "b"}, false); err != nil {
		t.Fatal(err)
	}
	first, _ := d.keys[mapping.MapRoles].generic[0].(map[string]any)
	if first["extra"] != float64(1) || len(d.Set().Roles) != 2 {
		t.Errorf("mapRoles after edit:\n%s", d.Data()["mapRoles"])
	}
}

func TestAccountsKeepLeadingZeros(t *testing.T) {
	d := Decode(map[string]string{"mapAccounts": "- 012345678901\n"})
	if unchanged, err := AddAccount(d, "000011112222"); err != nil || unchanged {
		t.Fatalf("AddAccount = %v, %v", unchanged, err)
	}
	if unchanged, err := AddAccount(d, "012345678901"); err != nil || !unchanged {
		t.Fatalf("AddAccount of present id = %v, %v", unchanged, err)
	}
	want := []string{"012345678901", "000011112222"}
	if got := d.Set().Accounts; !reflect.DeepEqual(got, want) {
		t.Errorf("accounts = %v, want %v", got, want)
	}
	if err := DeleteAccount(d, "012345678901"); err != nil {
		t.Fatal(err)
	}
	if got := d.Data()["mapAccounts"]; got != "- \"000011112222\"\n" {
		t.Errorf("mapAccounts = %q", got)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	d := loadFixture(t, "realworld.yaml")
	set := d.Set()
	data, err := Encode(set)
	if err != nil {
		t.Fatal(err)
	}
	if got := Decode(data).Set(); !reflect.DeepEqual(got, set) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", got, set)
	}
}

// mapUsers files entries by the ARN as written: adding a case variant with
// another result would leave EKS to pick either at random, so it is refused.
func TestAddCaseVariantUserIsRefused(t *testing.T) {
	d := Decode(map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:user/Alice\n  username: alice\n"})
	_, err := AddMapping(d, mapping.Mapping{Source: mapping.MapUsers, ARN: "arn:aws:iam::111122223333:user/alice", Username: "other"}, false)
	if !errors.Is(err, ErrSpellingVariant) || !strings.Contains(err.Error(), "mapUsers[0]") {
		t.Fatalf("err = %v, want ErrSpellingVariant naming mapUsers[0]", err)
	}
	if got := d.Data()["mapUsers"]; strings.Count(got, "userarn") != 1 {
		t.Errorf("mapUsers changed after a refused add:\n%s", got)
	}
	// The same spelling replaces the entry (the authenticator keeps the last).
	res, err := AddMapping(d, mapping.Mapping{Source: mapping.MapUsers, ARN: "arn:aws:iam::111122223333:user/Alice", Username: "other"}, false)
	if err != nil || len(res.Shadows) != 1 {
		t.Fatalf("AddMapping with the same spelling = %+v, %v", res, err)
	}
}
