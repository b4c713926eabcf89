// Package iamlookup asks IAM for the real ARN of a role or user, which
// aws-auth does not keep (roles there have no path), and tells a principal
// that no longer exists from other failures. migrate and audit share it.
package iamlookup

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/iammap/iammap/mapping"
)

// API is the part of *iam.Client used, with the SDK's signatures.
type API interface {
	GetRole(ctx context.Context, in *iam.GetRoleInput, optFns ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	GetUser(ctx context.Context, in *iam.GetUserInput, optFns ...func(*iam.Options)) (*iam.GetUserOutput, error)
}

var _ API = (*iam.Client)(nil)

// ARN returns the principal's ARN as IAM has it (with the role's path).
func ARN(ctx context.Context, api API, p mapping.Principal) (string, error) {
	if p.Kind == mapping.KindRoot || p.Kind == mapping.KindFederatedUser {
		return p.ARN, nil // neither is an IAM entity to look up; both exist while the account does
	}
	if p.Kind == mapping.KindRole {
		out, err := api.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(p.Name)})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.Role.Arn), nil
	}
	out, err := api.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(p.Name)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.User.Arn), nil
}

// Missing reports whether err says the principal does not exist.
func Missing(err error) bool {
	var nse *iamtypes.NoSuchEntityException
	return errors.As(err, &nse)
}
