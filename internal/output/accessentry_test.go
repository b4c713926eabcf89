package output

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/mapping"
)

var goldenEntries = []accessentry.Entry{
	{PrincipalARN: "arn:aws:iam::111122223333:role/team/Deployer", Type: "STANDARD", Username: "deployer", Groups: []string{"deployers"},
		Policies: []mapping.AccessPolicy{
			{ARN: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy", Namespaces: []string{"apps", "jobs"}},
			{ARN: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"},
		}},
	{PrincipalARN: "arn:aws:iam::111122223333:user/ops/bob", Type: "STANDARD", Username: "bob"},
	{PrincipalARN: "arn:aws:iam::111122223333:role/NodeRole", Type: "EC2_LINUX", Username: "system:node:{{EC2PrivateDNSName}}", Groups: []string{"system:nodes"}},
}

// TestGoldenAccessEntryShapes fixes what `iammap get accessentry -o
// json|yaml` prints: eksctl's Summary shape, `[]` for no entries, and the
// table. UPDATE_GOLDEN=1 rewrites testdata/golden; review the diff.
func TestGoldenAccessEntryShapes(t *testing.T) {
	cases := []struct {
		name    string
		entries []accessentry.Entry
	}{
		{"accessentry-eksctl", goldenEntries},
		{"accessentry-eksctl-empty", nil},
	}
	for _, c := range cases {
		for _, f := range []Format{JSON, YAML, Table} {
			var buf bytes.Buffer
			if err := WriteAccessEntries(&buf, f, c.entries); err != nil {
				t.Fatal(err)
			}
			ext := string(f)
			if f == Table {
				ext = "txt"
			}
			golden := filepath.Join("testdata", "golden", c.name+"."+ext)
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

// TestAccessEntryKeysAreEksctls checks the keys themselves, so a golden file
// rewritten without care cannot rename them: eksctl's Summary keys, then
// iammap's two additions, and nothing from iamidentitymapping's rows
// (principalArn would match principalARN case-insensitively in Go's
// encoding/json, a clash).
func TestAccessEntryKeysAreEksctls(t *testing.T) {
	allowed := []string{"principalARN", "kubernetesGroups", "accessPolicies", "kubernetesUsername", "type"}
	var buf bytes.Buffer
	if err := WriteAccessEntries(&buf, JSON, goldenEntries); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if _, ok := r["principalARN"]; !ok {
			t.Errorf("row %d has no principalARN: %s", i, buf.Bytes())
		}
		for k := range r {
			if !slices.Contains(allowed, k) {
				t.Errorf("row %d: key %q is neither eksctl's nor one of iammap's additions", i, k)
			}
		}
	}
	var policies []AccessPolicySummary
	if err := json.Unmarshal(rows[0]["accessPolicies"], &policies); err != nil {
		t.Fatal(err)
	}
	want := []AccessPolicySummary{
		{PolicyARN: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy", AccessScope: AccessScope{Type: "namespace", Namespaces: []string{"apps", "jobs"}}},
		{PolicyARN: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", AccessScope: AccessScope{Type: "cluster"}},
	}
	if !reflect.DeepEqual(policies, want) {
		t.Errorf("accessPolicies = %+v, want %+v", policies, want)
	}
	if _, ok := rows[1]["kubernetesGroups"]; ok {
		t.Errorf("an entry without groups prints kubernetesGroups; eksctl leaves it out: %s", rows[1])
	}
	if _, ok := rows[1]["accessPolicies"]; ok {
		t.Errorf("an entry without policies prints accessPolicies; eksctl leaves it out: %s", rows[1])
	}
}
