package desired

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadClusterConfig loads an eksctl ClusterConfig through Load and
// checks the one target it becomes.
func TestLoadClusterConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster.yaml")
	const cfg = `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: prod
  region: eu-west-1
iamIdentityMappings:
  - arn: arn:aws:iam::111122223333:role/team/Admin
    username: admin
    groups: [system:masters]
  - arn: arn:aws:iam::111122223333:user/alice
    username: alice
    groups: [viewers]
    noDuplicateARNs: true
  - account: "444455556666"
accessConfig:
  authenticationMode: API_AND_CONFIG_MAP
  accessEntries:
    - principalARN: arn:aws:iam::111122223333:role/Dev
      kubernetesUsername: dev
      kubernetesGroups: [devs]
      accessPolicies:
        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy
          accessScope: {type: namespace, namespaces: [apps]}
        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy
          accessScope: {type: cluster}
nodeGroups: [{name: ng}]
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	targets, err := f.Targets()
	if err != nil || len(targets) != 1 {
		t.Fatalf("Targets = %v, %v", targets, err)
	}
	tg := targets[0]
	if tg.Name != "prod" || tg.Connection.Region != "eu-west-1" {
		t.Errorf("target %s/%s, want prod/eu-west-1", tg.Name, tg.Connection.Region)
	}
	var got []string
	for _, m := range tg.AWSAuth.Mappings {
		got = append(got, string(m.Source)+" "+m.ARN+" "+m.Username+" "+strings.Join(m.Groups, ","))
	}
	want := []string{
		"mapRoles arn:aws:iam::111122223333:role/Admin admin system:masters", // the path goes, as for aws-auth
		"mapUsers arn:aws:iam::111122223333:user/alice alice viewers",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("aws-auth mappings:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Join(tg.AWSAuth.Accounts, ",") != "444455556666" {
		t.Errorf("accounts %v", tg.AWSAuth.Accounts)
	}
	if len(tg.AccessEntries) != 1 {
		t.Fatalf("access entries %+v", tg.AccessEntries)
	}
	e := tg.AccessEntries[0]
	if e.PrincipalARN != "arn:aws:iam::111122223333:role/Dev" || e.Type != "STANDARD" || e.Username != "dev" || strings.Join(e.Groups, ",") != "devs" ||
		len(e.Policies) != 2 || strings.Join(e.Policies[0].Namespaces, ",") != "apps" || len(e.Policies[1].Namespaces) != 0 {
		t.Errorf("access entry %+v", e)
	}
}

func TestLoadClusterConfigErrors(t *testing.T) {
	const head = "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: c, region: r}\n"
	for _, tc := range []struct{ name, in, wantErr string }{
		{"emr", head + "iamIdentityMappings:\n  - {serviceName: emr-containers, namespace: spark}\n", "iamIdentityMappings[0] (line 5): serviceName emr-containers is not supported by diff and apply"},
		{"bad arn", head + "iamIdentityMappings:\n  - arn: nope\n", `iamIdentityMappings[0] (line 5): invalid ARN "nope"`},
		{"bad account", head + "iamIdentityMappings:\n  - account: '12'\n", "not a 12-digit account id"},
		{"twice", head + "iamIdentityMappings:\n  - {arn: 'arn:aws:iam::111122223333:user/a', username: a}\n  - {arn: 'arn:aws:iam::111122223333:user/a', username: b}\n", "maps the same principal"},
		{"bad entry", head + "accessConfig:\n  accessEntries:\n    - {principalARN: 'arn:aws:iam::111122223333:role/a', kubernetesGroups: ['system:masters']}\n", "accessConfig.accessEntries[0] (line 6): "},
		{"parse error", head + "accessConfig: {accessEntries: [{principalARN: x, foo: 1}]}\n", `unknown field "foo"`},
		{"bad version", "apiVersion: eksctl.io/v1alpha6\nkind: ClusterConfig\n", "want apiVersion: eksctl.io/v1alpha5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.in), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), path+": ") {
				t.Fatalf("Load = %v, want an error for %s containing %q", err, path, tc.wantErr)
			}
			if !errors.Is(err, ErrInvalid) && !strings.Contains(err.Error(), "eksctl ClusterConfig") {
				t.Errorf("%v names neither format", err)
			}
		})
	}
}
