package iamemu

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iammap/iammap/internal/devstack/awscreds"
)

func TestSDKReadsRolesAndUsers(t *testing.T) {
	emu, err := New("arn:aws:iam::111122223333:role/team/dev/Deployer", "arn:aws:iam::111122223333:user/ops/alice")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	client := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("AKID", "s", "")})
	role, err := client.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String("Deployer")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(role.Role.Arn) != "arn:aws:iam::111122223333:role/team/dev/Deployer" || aws.ToString(role.Role.Path) != "/team/dev/" {
		t.Errorf("role = %+v", role.Role)
	}
	user, err := client.GetUser(context.Background(), &iam.GetUserInput{UserName: aws.String("alice")})
	if err != nil || aws.ToString(user.User.Arn) != "arn:aws:iam::111122223333:user/ops/alice" {
		t.Errorf("user = %+v, %v", user, err)
	}
	_, err = client.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String("Missing")})
	var nse *types.NoSuchEntityException
	if !errors.As(err, &nse) {
		t.Errorf("missing role err = %v, want NoSuchEntityException", err)
	}
}

// sameName is a role name held by two accounts, as on the local fleet.
var sameName = []string{"arn:aws:iam::111122223333:role/developers", "arn:aws:iam::444455556666:role/team/developers", "arn:aws:iam::444455556666:user/bob"}

func client(url, akid string) *iam.Client {
	return iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: credentials.NewStaticCredentialsProvider(akid, "secret", "")})
}

func TestNameIsLookedUpInTheCallersAccount(t *testing.T) {
	emu, err := New(sameName...)
	if err != nil {
		t.Fatal(err)
	}
	emu.Credentials = awscreds.New()
	if err := emu.Credentials.Add(
		awscreds.Key{AccessKeyID: "AKIAACCOUNTA", SecretAccessKey: "secret", ARN: "arn:aws:iam::111122223333:user/ci"},
		awscreds.Key{AccessKeyID: "ASIAACCOUNTB", SecretAccessKey: "secret", SessionToken: "tok", ARN: "arn:aws:sts::444455556666:assumed-role/deployer/s", Expires: time.Now().Add(time.Hour)},
	); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	ctx := context.Background()
	for akid, want := range map[string]string{
		"AKIAACCOUNTA": "arn:aws:iam::111122223333:role/developers",
		"ASIAACCOUNTB": "arn:aws:iam::444455556666:role/team/developers",
	} {
		out, err := client(srv.URL, akid).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("developers")})
		if err != nil || aws.ToString(out.Role.Arn) != want {
			t.Errorf("%s: GetRole(developers) = %+v, %v; want %s", akid, out, err, want)
		}
	}
	// bob exists in account B only: account A's caller does not see him.
	var nse *types.NoSuchEntityException
	if _, err := client(srv.URL, "AKIAACCOUNTA").GetUser(ctx, &iam.GetUserInput{UserName: aws.String("bob")}); !errors.As(err, &nse) {
		t.Errorf("account A GetUser(bob) err = %v, want NoSuchEntityException", err)
	}
	if out, err := client(srv.URL, "ASIAACCOUNTB").GetUser(ctx, &iam.GetUserInput{UserName: aws.String("bob")}); err != nil || aws.ToString(out.User.Arn) != "arn:aws:iam::444455556666:user/bob" {
		t.Errorf("account B GetUser(bob) = %+v, %v", out, err)
	}
}

func TestUnknownCallerNeverGetsAnotherAccountsPrincipal(t *testing.T) {
	emu, err := New(sameName...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu) // no registry: the caller's account is unknown
	defer srv.Close()
	ctx := context.Background()
	var nse *types.NoSuchEntityException
	if out, err := client(srv.URL, "AKID").GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("developers")}); !errors.As(err, &nse) {
		t.Errorf("ambiguous GetRole(developers) = %+v, %v; want NoSuchEntityException", out, err)
	}
	// A name only one account holds is answered, as before.
	if out, err := client(srv.URL, "AKID").GetUser(ctx, &iam.GetUserInput{UserName: aws.String("bob")}); err != nil || aws.ToString(out.User.Arn) != "arn:aws:iam::444455556666:user/bob" {
		t.Errorf("GetUser(bob) = %+v, %v", out, err)
	}
	// With a registry that does not hold the key, the same.
	emu.Credentials = awscreds.New()
	if _, err := client(srv.URL, "AKIAUNKNOWN").GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("developers")}); !errors.As(err, &nse) {
		t.Errorf("unknown key GetRole(developers) err = %v, want NoSuchEntityException", err)
	}
	// Adding a name again in the same account replaces it.
	if err := emu.Add("arn:aws:iam::111122223333:role/new/developers"); err != nil {
		t.Fatal(err)
	}
	if err := emu.Credentials.Add(awscreds.Key{AccessKeyID: "AKIAACCOUNTA", SecretAccessKey: "secret", ARN: "arn:aws:iam::111122223333:user/ci"}); err != nil {
		t.Fatal(err)
	}
	if out, err := client(srv.URL, "AKIAACCOUNTA").GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("developers")}); err != nil || aws.ToString(out.Role.Arn) != "arn:aws:iam::111122223333:role/new/developers" {
		t.Errorf("after re-add GetRole(developers) = %+v, %v", out, err)
	}
}

func TestAccessKeyID(t *testing.T) {
	for h, want := range map[string]string{
		"AWS4-HMAC-SHA256 Credential=AKIAX/20240101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=ab": "AKIAX",
		"AWS4-HMAC-SHA256 SignedHeaders=host,Credential=ASIAY/20240101/us-east-1/iam/aws4_request,Signature=ab":   "ASIAY",
		"": "", "Basic dXNlcjpwYXNz": "",
	} {
		if got := accessKeyID(h); got != want {
			t.Errorf("accessKeyID(%q) = %q, want %q", h, got, want)
		}
	}
}
