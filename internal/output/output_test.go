package output

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/mapping"
)

// TestGoldenShapes fixes the JSON and YAML scripts read from `iammap get -o
// json|yaml`: eksctl's keys (rolearn or userarn, username, groups, account)
// on every row, whichever backend it comes from, and `[]` for no rows.
// UPDATE_GOLDEN=1 rewrites testdata/golden from the actual output; review
// the diff before committing.
func TestGoldenShapes(t *testing.T) {
	doc := awsauth.Decode(map[string]string{
		"mapRoles": `- rolearn: arn:aws:iam::111122223333:role/Admin
  username: admin
  groups: [system:masters]
- rolearn: arn:aws:iam::111122223333:role/team/Deployer
  username: deployer
  groups: [deployers]
`,
		"mapUsers": `- userarn: arn:aws:iam::111122223333:user/ops/alice
  username: alice
  groups: [viewers]
- userarn: arn:aws:iam::111122223333:user/ops/alice
  username: alice
  groups: [editors]
`,
		"mapAccounts": `- "444455556666"
`,
	})
	entries := []accessentry.Entry{
		{PrincipalARN: "arn:aws:iam::111122223333:role/team/Deployer", Type: "STANDARD", Username: "deployer", Groups: []string{"deployers"},
			Policies: []mapping.AccessPolicy{{ARN: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy", Namespaces: []string{"apps", "jobs"}}}},
		{PrincipalARN: "arn:aws:iam::111122223333:user/ops/bob", Type: "STANDARD", Username: "bob"},
		{PrincipalARN: "arn:aws:iam::111122223333:role/NodeRole", Type: "EC2_LINUX", Username: "system:node:{{EC2PrivateDNSName}}", Groups: []string{"system:nodes"}},
	}
	cases := []struct {
		name string
		rows []Row
	}{
		{"aws-auth", Rows(doc.Entries(), nil)},
		{"access-entry", AccessEntryRows(entries)},
		{"map-accounts", Rows(nil, doc.Set().Accounts)},
		{"empty", nil},
	}
	for _, c := range cases {
		for _, f := range []Format{JSON, YAML} {
			var buf bytes.Buffer
			if err := WriteRows(&buf, f, c.rows, AWSAuthLayout); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", c.name+"."+string(f))
			if os.Getenv("UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (UPDATE_GOLDEN=1 writes it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s: got\n%s\nwant\n%s", golden, buf.Bytes(), want)
			}
		}
	}
}

// TestEveryRowHasEksctlKeys checks the keys themselves, so a golden file
// rewritten without care cannot drop them.
func TestEveryRowHasEksctlKeys(t *testing.T) {
	rows := AccessEntryRows([]accessentry.Entry{
		{PrincipalARN: "arn:aws:iam::111122223333:role/team/Deployer"},
		{PrincipalARN: "arn:aws:iam::111122223333:user/bob"},
		{PrincipalARN: "arn:aws:iam::111122223333:root"},
	})
	if rows[0].RoleARN != rows[0].PrincipalARN || rows[0].UserARN != "" {
		t.Errorf("role entry: rolearn %q userarn %q", rows[0].RoleARN, rows[0].UserARN)
	}
	for _, r := range rows[1:] {
		if r.UserARN != r.PrincipalARN || r.RoleARN != "" {
			t.Errorf("%s: rolearn %q userarn %q", r.PrincipalARN, r.RoleARN, r.UserARN)
		}
	}
	var buf bytes.Buffer
	if err := WriteRows(&buf, Table, rows, AccessEntryLayout); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("Deployerarn:")) {
		t.Errorf("table prints the ARN twice:\n%s", buf.Bytes())
	}
}
