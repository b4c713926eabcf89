package migrate

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/devstack/iamemu"
)

// realistic is an aws-auth as clusters grow it over the years.
var realistic = map[string]string{
	"mapRoles": `- rolearn: arn:aws:iam::111122223333:role/eks-nodes-linux
  username: system:node:{{EC2PrivateDNSName}}
  groups: [system:bootstrappers, system:nodes]
- rolearn: arn:aws:iam::111122223333:role/eks-nodes-windows
  username: system:node:{{EC2PrivateDNSName}}
  groups: [eks:kube-proxy-windows, system:bootstrappers, system:nodes]
- rolearn: arn:aws:iam::111122223333:role/fargate-pods
  username: system:node:{{SessionName}}
  groups: [system:bootstrappers, system:nodes, system:node-proxier]
- rolearn: arn:aws:iam::111122223333:role/Admin
  username: admin:{{SessionName}}
  groups: [system:masters, platform]
- rolearn: arn:aws:iam::111122223333:role/dev
  username: dev-old
  groups: [old]
- rolearn: arn:aws:iam::111122223333:role/dev
  username: dev:{{SessionName}}
  groups: [developers]
- rolearn: arn:aws:iam::444455556666:role/partner
  username: partner
  groups: [partners]
- rolearn: arn:aws:iam::111122223333:role/AWSServiceRoleForAmazonEMRContainers
  username: emr-containers
- rolearn: arn:aws:iam::111122223333:role/deleted-role
  username: gone
  groups: [x]
- rolearn: arn:aws:iam::111122223333:role/monitor
  username: system:monitor
  groups: [monitoring]
- rolearn: arn:aws:iam::111122223333:role/team/never
  username: never
`,
	"mapUsers": `- userarn: arn:aws:iam::111122223333:user/alice
  username: alice
  groups: [system:masters]
- userarn: arn:aws:iam::111122223333:user/bob
  username: bob
  groups: [viewers]
`,
	"mapAccounts": "- \"444455556666\"\n",
}

func emulatedIAM(t *testing.T) IAM {
	emu, err := iamemu.New(
		"arn:aws:iam::111122223333:role/eks-nodes-linux", "arn:aws:iam::111122223333:role/eks-nodes-windows",
		"arn:aws:iam::111122223333:role/fargate-pods", "arn:aws:iam::111122223333:role/platform/Admin",
		"arn:aws:iam::111122223333:role/dev", "arn:aws:iam::111122223333:role/monitor",
		"arn:aws:iam::111122223333:role/aws-service-role/emr-containers.amazonaws.com/AWSServiceRoleForAmazonEMRContainers",
		"arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/bob",
	)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("AKID", "s", "")})
}

func TestBuildFollowsTheRules(t *testing.T) {
	existing := []accessentry.Entry{{PrincipalARN: "arn:aws:iam::111122223333:user/bob", Type: "STANDARD", Username: "bob", Groups: []string{"viewers"}}}
	plan, err := Build(context.Background(), Cluster{Account: "111122223333", Partition: "aws"}, awsauth.Decode(realistic), existing, emulatedIAM(t))
	if err != nil {
		t.Fatal(err)
	}
	byFrom := map[string]Item{}
	for _, it := range plan.Items {
		byFrom[it.From] = it
	}
	check := func(from, outcome, contains string) *accessentry.Spec {
		t.Helper()
		it, ok := byFrom[from]
		if !ok {
			t.Fatalf("no item for %s; items: %+v", from, plan.Items)
		}
		if it.Outcome != outcome || !strings.Contains(it.Reason, contains) {
			t.Errorf("%s: %s %q, want %s with %q", from, it.Outcome, it.Reason, outcome, contains)
		}
		return it.Spec
	}
	if s := check("mapRoles[0] arn:aws:iam::111122223333:role/eks-nodes-linux", Create, "node role"); s == nil || s.Type != "EC2_LINUX" || len(s.Groups) != 0 {
		t.Errorf("linux node spec %+v", s)
	}
	if s := check("mapRoles[1] arn:aws:iam::111122223333:role/eks-nodes-windows", Create, "node role"); s == nil || s.Type != "EC2_WINDOWS" {
		t.Errorf("windows node spec %+v", s)
	}
	if s := check("mapRoles[2] arn:aws:iam::111122223333:role/fargate-pods", Create, "Fargate"); s == nil || s.Type != "FARGATE_LINUX" {
		t.Errorf("fargate spec %+v", s)
	}
	s := check("mapRoles[3] arn:aws:iam::111122223333:role/Admin", Create, "path restored from IAM: arn:aws:iam::111122223333:role/platform/Admin")
	if s == nil || s.PrincipalARN != "arn:aws:iam::111122223333:role/platform/Admin" || s.Policies[0].ARN != "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy" || strings.Join(s.Groups, ",") != "platform" || s.Username != "admin:{{SessionName}}" {
		t.Errorf("admin spec %+v", s)
	}
	check("mapRoles[4] arn:aws:iam::111122223333:role/dev", Dropped, "duplicate: mapRoles[5]")
	if s := check("mapRoles[5] arn:aws:iam::111122223333:role/dev", Create, ""); s == nil || s.Username != "dev:{{SessionName}}" {
		t.Errorf("dev spec %+v", s)
	}
	if s := check("mapRoles[6] arn:aws:iam::444455556666:role/partner", Create, "cross-account"); s == nil || s.PrincipalARN != "arn:aws:iam::444455556666:role/partner" {
		t.Errorf("partner spec %+v", s)
	}
	check("mapRoles[7] arn:aws:iam::111122223333:role/AWSServiceRoleForAmazonEMRContainers", Skip, "service-linked role")
	check("mapRoles[8] arn:aws:iam::111122223333:role/deleted-role", Skip, "does not exist in IAM")
	check("mapRoles[9] arn:aws:iam::111122223333:role/monitor", Skip, "reserves the prefix system:")
	check("mapRoles[10] arn:aws:iam::111122223333:role/team/never", Dropped, "never matched")
	check("mapUsers[0] arn:aws:iam::111122223333:user/alice", Create, "AmazonEKSClusterAdminPolicy")
	check("mapUsers[1] arn:aws:iam::111122223333:user/bob", Exists, "equal access entry")
	check("mapAccounts 444455556666", Skip, "whole account")
	if n := len(plan.Blocking()); n != 4 {
		t.Errorf("%d blocking items, want 4 (service-linked, deleted, reserved username, account)", n)
	}
	if n := len(plan.Specs()); n != 7 {
		t.Errorf("%d entries to create, want 7", n)
	}
}

func TestClusterAdminPolicyUsesTheClusterPartition(t *testing.T) {
	// A cross-account principal needs no IAM lookup.
	doc := awsauth.Decode(map[string]string{"mapUsers": "- userarn: arn:aws-cn:iam::444455556666:user/x\n  username: x\n  groups: [system:masters]\n"})
	plan, err := Build(context.Background(), Cluster{Account: "111122223333", Partition: "aws-cn"}, doc, nil, emulatedIAM(t))
	if err != nil {
		t.Fatal(err)
	}
	it := plan.Items[0]
	if it.Outcome != Create || it.Spec.Policies[0].ARN != "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy" {
		t.Errorf("item = %+v, spec %+v", it, it.Spec)
	}
}

// fixedIAM answers every GetRole and GetUser with the same ARN.
type fixedIAM string

func (f fixedIAM) GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	return &iam.GetRoleOutput{Role: &iamtypes.Role{Arn: aws.String(string(f))}}, nil
}

func (f fixedIAM) GetUser(context.Context, *iam.GetUserInput, ...func(*iam.Options)) (*iam.GetUserOutput, error) {
	return &iam.GetUserOutput{User: &iamtypes.User{Arn: aws.String(string(f))}}, nil
}

func TestLookedUpARNOfAnotherPrincipalIsIgnored(t *testing.T) {
	for _, tc := range []struct {
		name, mapped, answer, wantARN, wantNote string
	}{
		{"path restored", "arn:aws:iam::111122223333:role/developers", "arn:aws:iam::111122223333:role/team/developers", "arn:aws:iam::111122223333:role/team/developers", "path restored from IAM"},
		{"same ARN", "arn:aws:iam::111122223333:role/developers", "arn:aws:iam::111122223333:role/developers", "arn:aws:iam::111122223333:role/developers", ""},
		{"other account", "arn:aws:iam::111122223333:role/developers", "arn:aws:iam::444455556666:role/developers", "arn:aws:iam::111122223333:role/developers", "IAM answered arn:aws:iam::444455556666:role/developers, not this principal"},
		{"other account with path", "arn:aws:iam::111122223333:role/developers", "arn:aws:iam::444455556666:role/team/developers", "arn:aws:iam::111122223333:role/developers", "not this principal"},
		{"other name", "arn:aws:iam::111122223333:role/developers", "arn:aws:iam::111122223333:role/admins", "arn:aws:iam::111122223333:role/developers", "not this principal"},
		{"other kind", "arn:aws:iam::111122223333:role/developers", "arn:aws:iam::111122223333:user/developers", "arn:aws:iam::111122223333:role/developers", "not this principal"},
		{"user other account", "arn:aws:iam::111122223333:user/alice", "arn:aws:iam::444455556666:user/alice", "arn:aws:iam::111122223333:user/alice", "not this principal"},
		{"user with path", "arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/ops/alice", "arn:aws:iam::111122223333:user/ops/alice", "path restored from IAM"},
		{"not an ARN", "arn:aws:iam::111122223333:role/developers", "garbage", "arn:aws:iam::111122223333:role/developers", "not this principal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "mapRoles"
			line := "- rolearn: " + tc.mapped + "\n  username: dev\n  groups: [developers]\n"
			if strings.Contains(tc.mapped, ":user/") {
				key, line = "mapUsers", "- userarn: "+tc.mapped+"\n  username: dev\n  groups: [developers]\n"
			}
			plan, err := Build(context.Background(), Cluster{Account: "111122223333", Partition: "aws"}, awsauth.Decode(map[string]string{key: line}), nil, fixedIAM(tc.answer))
			if err != nil {
				t.Fatal(err)
			}
			it := plan.Items[0]
			if it.Outcome != Create || it.Spec == nil || it.Spec.PrincipalARN != tc.wantARN {
				t.Fatalf("item = %+v, spec %+v; want create for %s", it, it.Spec, tc.wantARN)
			}
			if tc.wantNote == "" && it.Reason != "" || !strings.Contains(it.Reason, tc.wantNote) {
				t.Errorf("reason = %q, want %q", it.Reason, tc.wantNote)
			}
		})
	}
}
