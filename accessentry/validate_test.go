package accessentry

import (
	"errors"
	"strings"
	"testing"

	"github.com/iammap/iammap/mapping"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		spec      Spec
		partition string
		wantARN   string
		wantErr   string
		rewritten bool
	}{
		{name: "role with path is kept", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/team/dev"}, wantARN: "arn:aws:iam::111122223333:role/team/dev"},
		{name: "assumed role becomes its role", spec: Spec{PrincipalARN: "arn:aws:sts::111122223333:assumed-role/dev/alice"}, wantARN: "arn:aws:iam::111122223333:role/dev", rewritten: true},
		{name: "user", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:user/ops/alice", Username: "alice"}, wantARN: "arn:aws:iam::111122223333:user/ops/alice"},
		{name: "system group", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/a", Groups: []string{"system:masters"}}, wantErr: "AmazonEKSClusterAdminPolicy instead of system:masters"},
		{name: "reserved username eks:", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/a", Username: "eks:x"}, wantErr: "reserves the prefix eks:"},
		{name: "reserved username amazon:", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/a", Username: "amazon:x"}, wantErr: "reserves the prefix amazon:"},
		{name: "SessionName without colon", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/a", Username: "dev-{{SessionName}}"}, wantErr: "requires a ':' somewhere before {{SessionName}}"},
		{name: "SessionNameRaw with colon", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/a", Username: "dev:{{SessionNameRaw}}"}, wantARN: "arn:aws:iam::111122223333:role/a"},
		{name: "node type with groups", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/node", Type: "EC2_LINUX", Groups: []string{"x"}}, wantErr: "type EC2_LINUX takes no groups"},
		{name: "node type with policy", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/node", Type: "FARGATE_LINUX", Policies: []PolicySpec{{ARN: "AmazonEKSViewPolicy"}}}, wantErr: "takes no groups, username or access policies"},
		{name: "node type user", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:user/u", Type: "EC2_LINUX"}, wantErr: "needs an IAM role in the cluster's account"},
		{name: "node type other account", spec: Spec{PrincipalARN: "arn:aws:iam::444455556666:role/node", Type: "EC2_LINUX"}, wantErr: "needs an IAM role in the cluster's account"},
		{name: "node type ok", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/node", Type: "EC2_WINDOWS"}, wantARN: "arn:aws:iam::111122223333:role/node"},
		{name: "unknown type", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/a", Type: "LAMBDA"}, wantErr: `unknown type "LAMBDA"`},
		{name: "service-linked role", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS"}, wantErr: "service-linked role"},
		{name: "other partition", spec: Spec{PrincipalARN: "arn:aws-cn:iam::111122223333:role/a"}, wantErr: "partition aws-cn"},
		{name: "policy of other partition", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/a", Policies: []PolicySpec{{ARN: "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"}}}, wantErr: "not an EKS access policy ARN of this cluster's partition"},
		{name: "policy name in gov partition", partition: "aws-us-gov", spec: Spec{PrincipalARN: "arn:aws-us-gov:iam::111122223333:role/a", Policies: []PolicySpec{{ARN: "AmazonEKSViewPolicy"}}}, wantARN: "arn:aws-us-gov:iam::111122223333:role/a"},
		{name: "account root", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:root"}, wantErr: "access entries do not take it"},
		{name: "federated user", spec: Spec{PrincipalARN: "arn:aws:sts::111122223333:federated-user/bob"}, wantErr: "map it in aws-auth"},
		{name: "bad ARN", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:group/g"}, wantErr: "groups cannot authenticate"},
		// Control and bidi characters hide or forge rows wherever the name is printed.
		{name: "escape in username", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/a", Username: "a\x1b[1A"}, wantErr: `username "a\x1b[1A" holds the control or bidi character U+001B`},
		{name: "newline in group", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/a", Groups: []string{"viewers\nadmins"}}, wantErr: "holds the control or bidi character U+000A"},
		{name: "bidi override in group", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/a", Groups: []string{"\u202eviewers"}}, wantErr: "U+202E"},
		{name: "invalid UTF-8 username", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/a", Username: "a\xff"}, wantErr: "not valid UTF-8"},
		{name: "printable non-ASCII kept", spec: Spec{PrincipalARN: "arn:aws:iam::111122223333:role/a", Username: "équipe", Groups: []string{"développeurs"}}, wantARN: "arn:aws:iam::111122223333:role/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			partition := tt.partition
			if partition == "" {
				partition = "aws"
			}
			got, rewrites, err := Validate(tt.spec, "111122223333", partition)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrInvalid) && !errors.Is(err, mapping.ErrInvalidARN) {
					t.Errorf("err %v wraps neither ErrInvalid nor ErrInvalidARN", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.PrincipalARN != tt.wantARN || (len(rewrites) > 0) != tt.rewritten || got.Type == "" {
				t.Errorf("got %+v, rewrites %v", got, rewrites)
			}
			for _, p := range got.Policies {
				if !strings.HasPrefix(p.ARN, "arn:"+partition+":eks::aws:cluster-access-policy/") {
					t.Errorf("policy ARN %s not in partition %s", p.ARN, partition)
				}
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	for in, want := range map[string]string{"cluster": "", "": "", "namespace=a,b": "a,b", "namespace=dev-*": "dev-*"} {
		got, err := ParseScope(in)
		if err != nil || strings.Join(got, ",") != want {
			t.Errorf("ParseScope(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"namespace=", "namespaces=a", "global"} {
		if _, err := ParseScope(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseScope(%q) err = %v", bad, err)
		}
	}
}
