package accessentry

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/iammap/iammap/mapping"
)

func TestFromAWSAuth(t *testing.T) {
	const acct = "111122223333"
	tests := []struct {
		name, arn, username string
		groups              []string
		want                Spec
		wantErr             string
	}{
		{"masters becomes the admin policy", "arn:aws:iam::111122223333:user/alice", "alice", []string{"system:masters", "devs"},
			Spec{PrincipalARN: "arn:aws:iam::111122223333:user/alice", Type: "STANDARD", Username: "alice", Groups: []string{"devs"}, Policies: []PolicySpec{{ARN: ClusterAdminPolicyName}}}, ""},
		{"plain groups stay", "arn:aws:iam::111122223333:role/dev", "dev:{{SessionName}}", []string{"devs"},
			Spec{PrincipalARN: "arn:aws:iam::111122223333:role/dev", Type: "STANDARD", Username: "dev:{{SessionName}}", Groups: []string{"devs"}}, ""},
		{"linux node role", "arn:aws:iam::111122223333:role/nodes", "system:node:{{EC2PrivateDNSName}}", []string{"system:bootstrappers", "system:nodes"},
			Spec{PrincipalARN: "arn:aws:iam::111122223333:role/nodes", Type: "EC2_LINUX"}, ""},
		{"windows node role", "arn:aws:iam::111122223333:role/win", "system:node:{{EC2PrivateDNSName}}", []string{"eks:kube-proxy-windows", "system:bootstrappers", "system:nodes"},
			Spec{PrincipalARN: "arn:aws:iam::111122223333:role/win", Type: "EC2_WINDOWS"}, ""},
		{"fargate role", "arn:aws:iam::111122223333:role/fargate", "system:node:{{SessionName}}", []string{"system:bootstrappers", "system:nodes", "system:node-proxier"},
			Spec{PrincipalARN: "arn:aws:iam::111122223333:role/fargate", Type: "FARGATE_LINUX"}, ""},
		{"node role of another account", "arn:aws:iam::444455556666:role/nodes", "system:node:{{EC2PrivateDNSName}}", []string{"system:nodes"}, Spec{}, "need a role of the cluster's account"},
		{"other system group", "arn:aws:iam::111122223333:role/r", "r", []string{"system:bootstrappers"}, Spec{}, "start with system:"},
		{"masters with another system group", "arn:aws:iam::111122223333:role/r", "r", []string{"system:masters", "system:nodes"}, Spec{}, "[system:nodes]"},
		{"account root", "arn:aws:iam::111122223333:root", "root", nil, Spec{}, "account root"},
		{"service-linked role", "arn:aws:iam::111122223333:role/aws-service-role/emr-containers.amazonaws.com/AWSServiceRoleForAmazonEMRContainers", "emr", nil, Spec{}, "service-linked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, err := mapping.ParsePrincipal(tt.arn)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := FromAWSAuth(p, tt.username, tt.groups, acct)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrNoEquivalent) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrNoEquivalent with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FromAWSAuth = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
