package awsauth

import (
	"reflect"
	"testing"

	"github.com/iammap/iammap/mapping"
	"go.yaml.in/yaml/v3"
)

// FuzzPlainMatchesAuthenticator: whenever decodePlainEntries accepts a text,
// the authenticator's own decoding must give exactly the same values.
func FuzzPlainMatchesAuthenticator(f *testing.F) {
	for _, seed := range []string{
		"- rolearn: arn:aws:iam::111122223333:role/a\n  username: a\n  groups:\n    - system:masters\n",
		"- roleARN: x\n  sso: {permissionSetName: p, accountID: '111122223333'}\n",
		"- roleARN: x\n  sso: {permissionSetName: p, PermissionSetName: q, accountID: '111122223333', extra: [a]}\n",
		"[{\"userarn\": \"u\", \"groups\": [\"g\"]}]",
		"- rolearn: a\n  RoleArn: b\n",
		"- rolearn: a\n  rolearn: b\n",
		"- \"rolearn\": a\n  rolearn: b\n",
		"- rolearn: yes\n  username: on\n  groups: [y, n, off, ~, null]\n",
		"- rolearn: 2001-12-14\n  username: 0777\n  userid: 0x1F\n  groups: [1.5, .inf, -1, +1, 1_000]\n",
		"- rolearn: &a x\n  username: *a\n",
		"- &e {rolearn: x}\n- *e\n",
		"- <<: {rolearn: x}\n  username: u\n",
		"- rolearn: !!str 123\n  username: ! yes\n  groups: !!seq [a]\n",
		"- rolearn: \"a\\tb\\u00e9\\x41\"\n  username: 'it''s'\n  groups:\n  - |\n    multi\n    line\n  - >-\n    folded\n    text\n",
		"- ʀolearn: x\n  uſername: y\n  \u212aey: z\n",
		"- rolearn: x\n  extra:\n    nested: {a: [b, {c: d}], e: yes}\n",
		"- rolearn: x\n  extra:\n    a: 1\n    a: 2\n",
		"- rolearn: x\n  username:\n  groups:\n",
		"- rolearn: x\n  groups: []\n  sso: {}\n",
		"- rolearn: x\n  groups: g\n",
		"- rolearn: [x]\n",
		"- rolearn: x\n  sso: s\n",
		"- rolearn: x\n  sso: {accountID: 1}\n",
		"--- \n- rolearn: x\n...\n--- \n- rolearn: y\n",
		"%YAML 1.1\n---\n- rolearn: x\n",
		"# comment\n- rolearn: x # c\n  # c2\n  username: u\n\n# foot\n",
		"- rolearn: x\r\n  username: u\r\n",
		"- rolearn: x\n  1: a\n  true: b\n  1.5: c\n  null: d\n",
		"- rolearn: x\n  ? [a]\n  : b\n",
		"- ~\n",
		"- \n",
		"- x\n",
		"-\n  - rolearn: x\n",
		"[]",
		"{}",
		"{\"rolearn\": \"x\"}",
		"- {rolearn: x, username: \"\", groups: ['']}\n",
		"- rolearn: x\n  groups:\n    - a\n    - 'b'\n    - \"c\"\n    - d e\n",
		"- rolearn: x\n  groups:\n    - system:masters\n    - a:b\n    - -a\n    - .a\n",
		"  - rolearn: a\n    groups:\n      - x\n       - y\n",
		"- rolearn: arn:aws:iam::1:role/a\n  username: 'Yes'\n  userid: \"NULL\"\n",
		"- rolearn: x\n  sso:\n    permissionSetName: p\n    accountID: \"1\"\n    partition: aws-cn\n",
		"- rolearn: x\n  sso: ~\n",
		"- rolearn: x\n  Sso: {accountID: a}\n  SSO: {partition: b}\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, src := range []mapping.Source{mapping.MapRoles, mapping.MapUsers} {
			var root yaml.Node
			if yaml.Unmarshal([]byte(text), &root) != nil {
				return
			}
			generic, mappings, ok := decodePlainEntries(src, &root)
			if !ok {
				return
			}
			wantGeneric, wantMappings, err := decodeEntriesAsAuthenticator(src, text)
			if err != nil {
				t.Fatalf("%s: plain path read %q, the authenticator's path fails: %v", src, text, err)
			}
			if !reflect.DeepEqual(generic, wantGeneric) {
				t.Fatalf("%s: generic differs for %q:\n%#v\n%#v", src, text, generic, wantGeneric)
			}
			if !reflect.DeepEqual(mappings, wantMappings) {
				t.Fatalf("%s: mappings differ for %q:\n%#v\n%#v", src, text, mappings, wantMappings)
			}
		}
	})
}

// TestPlainPathCoverage checks that ordinary entries do take the plain path.
func TestPlainPathCoverage(t *testing.T) {
	for _, text := range []string{
		"- rolearn: arn:aws:iam::111122223333:role/a\n  username: a\n  groups:\n    - system:masters\n",
		"- roleARN: x\n  sso: {permissionSetName: p, accountID: '111122223333'}\n",
		"- rolearn: x\n  groups: []\n  sso: {}\n",
		"[]",
	} {
		var root yaml.Node
		if err := yaml.Unmarshal([]byte(text), &root); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := decodePlainEntries(mapping.MapRoles, &root); !ok {
			t.Errorf("declined %q", text)
		}
	}
}
