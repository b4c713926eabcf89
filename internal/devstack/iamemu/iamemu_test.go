package iamemu

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
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
