package devstack_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/iammap/iammap/internal/devstack"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/awscreds"
	"github.com/iammap/iammap/internal/devstack/eksemu"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	"github.com/iammap/iammap/internal/devstack/stsemu"
	"github.com/iammap/iammap/internal/ekstoken"
	authnv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Two stacks, one per account, share a credential registry: a role of
// account 2 assumed through account 1's STS (with the SDK's own provider)
// is a caller of account 2 everywhere. Account 2's EKS finds its cluster,
// account 1's does not; account 2's API server takes a token signed with
// the session once the role is mapped, by an access entry or by aws-auth.
func TestIntegrationCrossAccountAssumeRole(t *testing.T) {
	stacktest.RequireIntegration(t)
	ctx := context.Background()
	reg := awscreds.New()
	alice := authwebhook.NewPrincipal("alice", "arn:aws:iam::111122223333:user/alice")
	admin2 := authwebhook.NewPrincipal("admin2", "arn:aws:iam::444455556666:user/admin")
	const roleARN = "arn:aws:iam::444455556666:role/ops/iammap-cross"
	start := func(name, account, region string, p authwebhook.Principal, roles ...stsemu.Role) *devstack.Cluster {
		t.Helper()
		c, err := devstack.Start(ctx, devstack.Options{BinDir: stacktest.BinDir(), Dir: t.TempDir(), EKS: &devstack.EKSOptions{
			ClusterName: name, Principals: []authwebhook.Principal{p}, CreatorARN: p.ARN, Roles: roles,
			Credentials: reg, CheckCallers: true, Emulator: eksemu.Options{AccountID: account, Region: region},
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Stop)
		return c
	}
	one := start("one", "111122223333", "us-west-2", alice, stsemu.Role{ARN: roleARN, Trusted: []string{"111122223333"}, ExternalID: "fleet"})
	two := start("two", "444455556666", "eu-west-1", admin2)
	if one.Credentials != reg || two.Credentials != reg {
		t.Fatal("the stacks do not use the shared registry")
	}

	stsOne := sts.New(sts.Options{Region: one.Region, BaseEndpoint: aws.String(one.STSEndpoint), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(alice.AccessKeyID, alice.SecretAccessKey, "")})
	session := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsOne, roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName, o.ExternalID = "fleet-run", aws.String("fleet")
	}))
	creds, err := session.Retrieve(ctx)
	if err != nil {
		t.Fatalf("assume %s through account 1's STS: %v", roleARN, err)
	}
	if creds.SessionToken == "" || creds.Source != "AssumeRoleProvider" {
		t.Fatalf("session = %+v", creds)
	}

	eksOf := func(c *devstack.Cluster, creds aws.CredentialsProvider) *eks.Client {
		return eks.New(eks.Options{Region: c.Region, BaseEndpoint: aws.String(c.EKSEndpoint), RetryMaxAttempts: 1, Credentials: creds})
	}
	out, err := eksOf(two, session).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("two")})
	if err != nil {
		t.Fatalf("describe account 2's cluster with the session: %v", err)
	}
	if aws.ToString(out.Cluster.Endpoint) != two.Server {
		t.Errorf("endpoint = %s, want %s", aws.ToString(out.Cluster.Endpoint), two.Server)
	}
	_, err = eksOf(one, session).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("one")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ResourceNotFoundException" || ae.ErrorMessage() != "No cluster found for name: one." {
		t.Fatalf("describe account 1's cluster with account 2's session: %v, want ResourceNotFoundException", err)
	}

	// A token as `aws eks get-token` makes it in account 2's region,
	// presigned with the session's key and token.
	whoami := func() (string, []string, bool) {
		t.Helper()
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond))) // a token no cache has seen
		tok, err := ekstoken.Generate(ctx, sts.New(sts.Options{Region: two.Region, Credentials: session}), "two")
		if err != nil {
			t.Fatal(err)
		}
		cs, err := kubernetes.NewForConfig(&rest.Config{Host: two.Server, BearerToken: tok.Value, TLSClientConfig: rest.TLSClientConfig{CAFile: two.CAFile}})
		if err != nil {
			t.Fatal(err)
		}
		review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if apierrors.IsUnauthorized(err) {
			return "", nil, false
		}
		if err != nil {
			t.Fatal(err)
		}
		return review.Status.UserInfo.Username, review.Status.UserInfo.Groups, true
	}
	if user, _, ok := whoami(); ok {
		t.Fatalf("unmapped session signed in as %s", user)
	}

	// Mapped by an access entry, made through account 2's EKS by its admin.
	admin2EKS := eksOf(two, credentials.NewStaticCredentialsProvider(admin2.AccessKeyID, admin2.SecretAccessKey, ""))
	if _, err := admin2EKS.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("two"), PrincipalArn: aws.String(roleARN),
		Username: aws.String("cross-runner"), KubernetesGroups: []string{"fleet"}}); err != nil {
		t.Fatalf("create access entry: %v", err)
	}
	if user, groups, ok := whoami(); !ok || user != "cross-runner" || !slices.Equal(groups, []string{"fleet", "system:authenticated"}) {
		t.Fatalf("with an access entry: %s %v %v, want cross-runner [fleet system:authenticated]", user, groups, ok)
	}

	// Mapped by aws-auth instead: aws-iam-authenticator matches the role
	// ARN without its path, and the session name is the assumed role's.
	if _, err := admin2EKS.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String("two"), PrincipalArn: aws.String(roleARN)}); err != nil {
		t.Fatalf("delete access entry: %v", err)
	}
	admin, err := kubernetes.NewForConfig(two.RESTConfig(two.Admin))
	if err != nil {
		t.Fatal(err)
	}
	stacktest.SetAWSAuth(t, admin, map[string]string{"mapRoles": `- rolearn: arn:aws:iam::444455556666:role/iammap-cross
  username: cross:{{SessionName}}
  groups: [fleet]
`})
	if user, groups, ok := whoami(); !ok || user != "cross:fleet-run" || !slices.Equal(groups, []string{"fleet", "system:authenticated"}) {
		t.Fatalf("with aws-auth: %s %v %v, want cross:fleet-run [fleet system:authenticated]", user, groups, ok)
	}
}
