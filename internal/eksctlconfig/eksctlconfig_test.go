package eksctlconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from what Parse returns")

// TestLoadGolden parses fixtures shaped like eksctl's own examples and
// compares every field read with a golden JSON file.
func TestLoadGolden(t *testing.T) {
	for _, name := range []string{"iamidentitymappings", "access-entries"} {
		t.Run(name, func(t *testing.T) {
			c, err := Load(filepath.Join("testdata", name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Parse(%s) =\n%s\nwant (%s)\n%s", name, got, golden, want)
			}
		})
	}
}

// TestParseFields checks the fields one by one, beside the golden files.
func TestParseFields(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "access-entries.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "entries-demo" || c.Region != "ap-southeast-2" || c.AuthenticationMode != "API_AND_CONFIG_MAP" || len(c.AccessEntries) != 4 {
		t.Fatalf("got %+v", c)
	}
	e := c.AccessEntries[1]
	if e.PrincipalARN != "arn:aws:iam::111122223333:role/team-b" || e.Line != 28 || len(e.AccessPolicies) != 1 {
		t.Fatalf("entry 1 = %+v", e)
	}
	p := e.AccessPolicies[0]
	if p.PolicyARN != "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy" || p.AccessScope.Type != "namespace" ||
		strings.Join(p.AccessScope.Namespaces, ",") != "team-b,shared-*" {
		t.Errorf("policy = %+v", p)
	}
	m, err := Load(filepath.Join("testdata", "iamidentitymappings.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.IAMIdentityMappings[0]; got.ARN != "arn:aws:iam::111122223333:role/ClusterAdmins" || got.Username != "cluster-admin" ||
		!got.NoDuplicateARNs || strings.Join(got.Groups, ",") != "system:masters" || got.Line != 14 {
		t.Errorf("mapping 0 = %+v", got)
	}
	if got := m.IAMIdentityMappings[3]; got.Account != "444455556666" {
		t.Errorf("mapping 3 = %+v", got)
	}
}

const head = "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: c, region: r}\n"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		wantErr  string // "" when the file is valid
	}{
		{name: "only metadata", in: head},
		{name: "ignored sections", in: head + "vpc: {cidr: 10.0.0.0/16, bogus: 1}\nnodeGroups: [{name: ng, whatever: x}]\niam: {withOIDC: true}\naddons: [{name: vpc-cni}]\n"},
		{name: "metadata's other fields", in: "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: c, region: r, version: '1.30', tags: {a: b}, annotations: {x: y}}\n"},
		{name: "null lists", in: head + "iamIdentityMappings:\naccessConfig:\n  accessEntries:\n"},
		{name: "empty file", in: "", wantErr: "the file is empty"},
		{name: "trailing separator", in: head + "---\n"},
		{name: "second document", in: head + "---\n" + head, wantErr: "line 4: a second YAML document starts here; a ClusterConfig file holds one document"},
		{name: "not yaml", in: "a: [", wantErr: "invalid eksctl ClusterConfig"},
		{name: "a list", in: "- a\n", wantErr: "line 1: want a mapping"},
		{name: "bad apiVersion", in: "apiVersion: eksctl.io/v1alpha4\nkind: ClusterConfig\nmetadata: {name: c, region: r}\n", wantErr: `want apiVersion: eksctl.io/v1alpha5 and kind: ClusterConfig, got "eksctl.io/v1alpha4" and "ClusterConfig"`},
		{name: "bad kind", in: "apiVersion: eksctl.io/v1alpha5\nkind: NodeGroup\nmetadata: {name: c, region: r}\n", wantErr: `got "eksctl.io/v1alpha5" and "NodeGroup"`},
		{name: "iammap's own format", in: "apiVersion: iammap/v1\nkind: AccessConfig\n", wantErr: `got "iammap/v1" and "AccessConfig"`},
		{name: "no metadata", in: "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\n", wantErr: "metadata must be set"},
		{name: "no name", in: "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {region: r}\n", wantErr: "metadata.name must be set"},
		{name: "no region", in: "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: c}\n", wantErr: "metadata.region must be set"},
		{name: "mapping: unknown field", in: head + "iamIdentityMappings:\n  - arn: arn:aws:iam::111122223333:role/a\n    group: [x]\n", wantErr: `line 6: unknown field "group" in iamIdentityMappings[0]`},
		{name: "mapping: wrong case", in: head + "iamIdentityMappings:\n  - arn: arn:aws:iam::111122223333:role/a\n  - arn: arn:aws:iam::111122223333:role/b\n    noDuplicateArns: true\n", wantErr: `line 7: unknown field "noDuplicateArns" in iamIdentityMappings[1]`},
		{name: "mapping: not a list", in: head + "iamIdentityMappings: {arn: x}\n", wantErr: "line 4: iamIdentityMappings: want a list"},
		{name: "mapping: wrong type", in: head + "iamIdentityMappings:\n  - arn: arn:aws:iam::111122223333:role/a\n    groups: {a: b}\n", wantErr: "iamIdentityMappings[0]: line 6: cannot unmarshal"},
		{name: "mapping: nothing to map", in: head + "iamIdentityMappings:\n  - username: u\n", wantErr: "iamIdentityMappings[0] (line 5): one of arn, account or serviceName is required"},
		{name: "mapping: account and arn", in: head + "iamIdentityMappings:\n  - {account: '111122223333', arn: 'arn:aws:iam::111122223333:role/a'}\n", wantErr: "account cannot be configured with any other options"},
		{name: "mapping: serviceName without namespace", in: head + "iamIdentityMappings:\n  - serviceName: emr-containers\n", wantErr: "namespace is required with serviceName"},
		{name: "mapping: namespace without serviceName", in: head + "iamIdentityMappings:\n  - {arn: 'arn:aws:iam::111122223333:role/a', namespace: x}\n", wantErr: "namespace only applies with serviceName"},
		{name: "accessConfig: unknown field", in: head + "accessConfig:\n  authenticationMode: API\n  accesEntries: []\n", wantErr: `line 6: unknown field "accesEntries" in accessConfig`},
		{name: "accessConfig: bad mode", in: head + "accessConfig:\n  authenticationMode: CONFIGMAP\n", wantErr: `line 5: accessConfig.authenticationMode "CONFIGMAP": want one of CONFIG_MAP, API_AND_CONFIG_MAP, API`},
		{name: "entry: unknown field", in: head + "accessConfig:\n  accessEntries:\n    - principalARN: arn:aws:iam::111122223333:role/a\n      kubernetesGroup: [x]\n", wantErr: `line 7: unknown field "kubernetesGroup" in accessConfig.accessEntries[0]`},
		{name: "entry: iammap's spelling", in: head + "accessConfig:\n  accessEntries:\n    - principalArn: arn:aws:iam::111122223333:role/a\n", wantErr: `line 6: unknown field "principalArn" in accessConfig.accessEntries[0]`},
		{name: "entry: no principal", in: head + "accessConfig:\n  accessEntries:\n    - type: STANDARD\n", wantErr: "accessConfig.accessEntries[0] (line 6): principalARN is required"},
		{name: "entry: twice", in: head + "accessConfig:\n  accessEntries:\n    - principalARN: arn:aws:iam::111122223333:role/a\n    - principalARN: arn:aws:iam::111122223333:role/a\n", wantErr: "accessConfig.accessEntries[1] (line 7): principal arn:aws:iam::111122223333:role/a already has an entry at accessConfig.accessEntries[0] (line 6)"},
		{name: "policy: unknown field", in: head + "accessConfig:\n  accessEntries:\n    - principalARN: arn:aws:iam::111122223333:role/a\n      accessPolicies:\n        - policyArn: x\n", wantErr: `line 8: unknown field "policyArn" in accessConfig.accessEntries[0].accessPolicies[0]`},
		{name: "scope: unknown field", in: head + "accessConfig:\n  accessEntries:\n    - principalARN: arn:aws:iam::111122223333:role/a\n      accessPolicies:\n        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy\n          accessScope: {type: namespace, namespace: [a]}\n", wantErr: `line 9: unknown field "namespace" in accessConfig.accessEntries[0].accessPolicies[0].accessScope`},
		{name: "scope: missing type", in: head + "accessConfig:\n  accessEntries:\n    - principalARN: arn:aws:iam::111122223333:role/a\n      accessPolicies:\n        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy\n", wantErr: "accessConfig.accessEntries[0].accessPolicies[0] (line 8): accessScope.type is required"},
		{name: "scope: namespace without namespaces", in: head + "accessConfig:\n  accessEntries:\n    - principalARN: arn:aws:iam::111122223333:role/a\n      accessPolicies:\n        - {policyARN: x, accessScope: {type: namespace}}\n", wantErr: "accessScope type namespace needs namespaces"},
		{name: "scope: cluster with namespaces", in: head + "accessConfig:\n  accessEntries:\n    - principalARN: arn:aws:iam::111122223333:role/a\n      accessPolicies:\n        - {policyARN: x, accessScope: {type: cluster, namespaces: [a]}}\n", wantErr: "accessScope type cluster takes no namespaces"},
		{name: "scope: bad type", in: head + "accessConfig:\n  accessEntries:\n    - principalARN: arn:aws:iam::111122223333:role/a\n      accessPolicies:\n        - {policyARN: x, accessScope: {type: Cluster}}\n", wantErr: `accessScope.type "Cluster": want cluster or namespace`},
		{name: "policy: no ARN", in: head + "accessConfig:\n  accessEntries:\n    - principalARN: arn:aws:iam::111122223333:role/a\n      accessPolicies:\n        - {accessScope: {type: cluster}}\n", wantErr: "policyARN is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tc.wantErr == "":
				return
			case err == nil:
				t.Fatalf("Parse succeeded, want an error containing %q", tc.wantErr)
			case !errors.Is(err, ErrInvalid):
				t.Errorf("error %v does not wrap ErrInvalid", err)
			case !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("error %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestIsClusterConfig(t *testing.T) {
	for in, want := range map[string]bool{
		head: true,
		"apiVersion: eksctl.io/v1alpha4\nkind: Something\n": true,
		"kind: ClusterConfig\n":                             true,
		"apiVersion: iammap/v1\nkind: AccessConfig\n":       false,
		"":     false,
		"a: [": false,
	} {
		if got := IsClusterConfig([]byte(in)); got != want {
			t.Errorf("IsClusterConfig(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestLoadRefusesOversizedFile: a ClusterConfig path such as /dev/zero was
// read until memory ran out; Load stops after MaxFileSize+1 bytes.
func TestLoadRefusesOversizedFile(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("#"), MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{big, "/dev/zero"} {
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p+" is larger than 4 MiB") {
			t.Errorf("Load(%s) = %v, want a size error", p, err)
		}
	}
}
