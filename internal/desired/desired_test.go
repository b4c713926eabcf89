package desired

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
	"k8s.io/client-go/tools/clientcmd"
	sigsyaml "sigs.k8s.io/yaml"
)

// TestExamplesStayValid loads every example, so none can go stale: access
// files through Load and against schema.json, CI files and the kubeconfig
// as what they are.
func TestExamplesStayValid(t *testing.T) {
	compiler := jsonschema.NewCompiler()
	schema, err := compiler.Compile("schema.json")
	if err != nil {
		t.Fatalf("schema.json: %v", err)
	}
	files, _ := filepath.Glob("../../examples/access/*.yaml")
	if len(files) < 3 {
		t.Fatalf("found %d access examples", len(files))
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("Load: %v", err)
		}
		b, _ := os.ReadFile(f)
		js, err := sigsyaml.YAMLToJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(js, &doc); err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(doc); err != nil {
			t.Errorf("%s does not match schema.json: %v", f, err)
		}
	}
	ci, _ := filepath.Glob("../../examples/ci/*.yaml")
	for _, f := range ci {
		b, _ := os.ReadFile(f)
		var v map[string]any
		if err := yaml.Unmarshal(b, &v); err != nil || len(v) == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := clientcmd.LoadFromFile("../../examples/kubeconfig-exec.yaml"); err != nil {
		t.Errorf("kubeconfig example: %v", err)
	}
}

func TestSchemaRejectsWhatParseRejects(t *testing.T) {
	schema, err := jsonschema.NewCompiler().Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{
		`{"apiVersion": "iammap/v1", "kind": "AccessConfig", "extra": 1}`,
		`{"apiVersion": "iammap/v1", "kind": "AccessConfig", "accessEntries": [{"principalArn": "arn:aws:iam::111122223333:role/a", "kubernetesGroups": ["system:masters"]}]}`,
		`{"apiVersion": "iammap/v2", "kind": "AccessConfig"}`,
	} {
		var v any
		_ = json.Unmarshal([]byte(doc), &v)
		if schema.Validate(v) == nil {
			t.Errorf("schema accepts %s", doc)
		}
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("Parse accepts %s", doc)
		}
	}
}

func TestParseErrors(t *testing.T) {
	head := "apiVersion: iammap/v1\nkind: AccessConfig\n"
	tests := []struct{ name, doc, want string }{
		{"unknown field has its line", head + "awsAuth:\n  mapRoles:\n    - rolearn: arn:aws:iam::111122223333:role/a\n      gruops: [x]\n", `line 6: unknown field "gruops"`},
		{"unknown top-level field", head + "accesEntries: []\n", `line 3: unknown field "accesEntries"`},
		{"wrong kind", "apiVersion: iammap/v1\nkind: Other\n", "want apiVersion: iammap/v1 and kind: AccessConfig"},
		{"empty", "", "the file is empty"},
		{"bad arn", head + "awsAuth:\n  mapUsers:\n    - userarn: arn:aws:iam::111122223333:group/g\n", "awsAuth.mapUsers[0]: invalid ARN"},
		{"user under mapRoles", head + "awsAuth:\n  mapRoles:\n    - rolearn: arn:aws:iam::111122223333:user/u\n", "is not a role; put users under mapUsers"},
		{"duplicate principal", head + "awsAuth:\n  mapRoles:\n    - rolearn: arn:aws:iam::111122223333:role/a\n    - rolearn: arn:aws:iam::111122223333:role/A\n", "awsAuth.mapRoles[1] maps the same principal as awsAuth.mapRoles[0]"},
		{"duplicate entry", head + "accessEntries:\n  - principalArn: arn:aws:iam::111122223333:role/a\n  - principalArn: arn:aws:iam::111122223333:role/a\n", "EKS allows one per principal"},
		{"system group in entry", head + "accessEntries:\n  - principalArn: arn:aws:iam::111122223333:role/a\n    kubernetesGroups: [system:masters]\n", "AmazonEKSClusterAdminPolicy instead of system:masters"},
		{"sso entry", head + "awsAuth:\n  mapRoles:\n    - sso: {permissionSetName: Admin, accountID: '111122223333'}\n      username: a\n", "awsAuth.mapRoles[0]: EKS would not use this entry: never matches: sso entries match only behind"},
		{"node template for a user", head + "awsAuth:\n  mapUsers:\n    - userarn: arn:aws:iam::111122223333:user/u\n      username: system:node:{{EC2PrivateDNSName}}\n", "EKS refuses its callers"},
		{"account number", head + "awsAuth:\n  mapAccounts: [12345]\n", "is not a 12-digit account id"},
		{"cluster twice", head + "clusters:\n  - name: a\n  - name: a\n", "cluster a is listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestTargetsMergeCommonAndClusterEntries(t *testing.T) {
	f, err := Load("../../examples/access/multi-cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := f.Target("prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(prod.AccessEntries) != 3 || prod.Connection.Region != "eu-west-1" || prod.AccessEntries[0].Policies[0].ARN != "AmazonEKSClusterAdminPolicy" {
		t.Errorf("prod = %+v", prod)
	}
	if _, err := f.Target("nope"); err == nil {
		t.Error("unknown cluster accepted")
	}
	f, err = Parse([]byte("apiVersion: iammap/v1\nkind: AccessConfig\nawsAuth:\n  mapRoles:\n    - rolearn: arn:aws:iam::111122223333:role/team/dev\n"))
	if err != nil {
		t.Fatal(err)
	}
	tgt, _ := f.Target("any")
	if tgt.AWSAuth.Mappings[0].ARN != "arn:aws:iam::111122223333:role/dev" || len(tgt.Notes) != 1 {
		t.Errorf("role path not canonicalised with a note: %+v", tgt)
	}
}

// Common sections go where the cluster can hold them: a kubeconfig-context
// cluster gets no access entries (with a note), and a cluster that adds no
// awsAuth of its own is marked SharedAWSAuth (skipped in API mode).
func TestTargetsCommonSectionsByReach(t *testing.T) {
	f, err := Parse([]byte(`apiVersion: iammap/v1
kind: AccessConfig
awsAuth:
  mapRoles: [{rolearn: "arn:aws:iam::111122223333:role/nodes", username: "system:node:{{EC2PrivateDNSName}}", groups: [system:nodes]}]
accessEntries:
  - principalArn: arn:aws:iam::111122223333:role/admin
clusters:
  - {name: eks, region: eu-west-1}
  - name: own
    awsAuth: {mapUsers: [{userarn: "arn:aws:iam::111122223333:user/x", username: x}]}
  - {name: kind, context: kind-kind}
`))
	if err != nil {
		t.Fatal(err)
	}
	targets, err := f.Targets()
	if err != nil {
		t.Fatal(err)
	}
	eks, own, kind := targets[0], targets[1], targets[2]
	if !eks.SharedAWSAuth || own.SharedAWSAuth || len(eks.AccessEntries) != 1 {
		t.Errorf("SharedAWSAuth eks=%v own=%v, eks entries %d; want true, false, 1", eks.SharedAWSAuth, own.SharedAWSAuth, len(eks.AccessEntries))
	}
	if len(kind.AccessEntries) != 0 || len(kind.AWSAuth.Mappings) != 1 || len(kind.Notes) != 1 || !strings.Contains(kind.Notes[0], "common accessEntries (1) are not applied") {
		t.Errorf("context cluster: %d entries, %d mappings, notes %q; want none, the common mapping, and a note", len(kind.AccessEntries), len(kind.AWSAuth.Mappings), kind.Notes)
	}
}

func TestEndpointOutsideAWS(t *testing.T) {
	for url, outside := range map[string]bool{
		"":                                    false,
		"https://eks.eu-west-1.amazonaws.com": false,
		"https://eks-fips.us-east-1.amazonaws.com":                    false,
		"https://eks.cn-north-1.amazonaws.com.cn":                     false,
		"https://vpce-0a1b2c3d-4e5f.eks.eu-west-1.vpce.amazonaws.com": false,
		"https://eks.eu-west-1.api.aws":                               false,
		"http://127.0.0.1:34567":                                      false,
		"http://localhost:4566":                                       true, // a name, resolved through /etc/hosts and DNS
		"http://eks.eu-west-1.amazonaws.com":                          true, // not https
		"https://eks.eu-west-1.amazonaws.com.attacker.example":        true,
		"https://attacker.example/eks.eu-west-1.amazonaws.com":        true,
		"https://eks.eu-west-1.amazonaws.com@attacker.example":        true,
		"https://sts.eu-west-1.amazonaws.com":                         true, // not EKS
	} {
		if got := (Connection{EndpointURL: url}).EndpointOutsideAWS(); got != outside {
			t.Errorf("EndpointOutsideAWS(%q) = %v, want %v", url, got, outside)
		}
	}
}

func TestParseRefusesTheSameClusterTwiceAndOversizedFleets(t *testing.T) {
	head := "apiVersion: iammap/v1\nkind: AccessConfig\n"
	_, err := Parse([]byte(head + "clusters:\n  - {name: prod, alias: a, region: eu-west-1}\n  - {name: prod, alias: b, region: eu-west-1}\n"))
	if err == nil || !strings.Contains(err.Error(), "clusters[0] (a) and clusters[1] (b) are the same cluster, reached the same way") {
		t.Errorf("two aliases of one cluster: %v", err)
	}
	if _, err := Parse([]byte(head + "clusters:\n  - {name: prod, alias: a, region: eu-west-1}\n  - {name: prod, alias: b, region: eu-west-1, roleArn: \"arn:aws:iam::444455556666:role/x\"}\n")); err != nil {
		t.Errorf("same name reached as another account: %v", err)
	}
	var b strings.Builder
	b.WriteString(head + "accessEntries:\n")
	for i := range 600 {
		fmt.Fprintf(&b, "  - principalArn: arn:aws:iam::111122223333:role/r%d\n", i)
	}
	b.WriteString("clusters:\n")
	for i := range 500 {
		fmt.Fprintf(&b, "  - {name: c%d}\n", i)
	}
	if _, err := Parse([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "500 clusters each get the file's 600 common entries: 300000 in all") {
		t.Errorf("500 x 600: %v", err)
	}
}
