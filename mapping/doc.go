// Package mapping is iammap's domain model: IAM principals, their ARNs, and the
// rules by which EKS maps them to Kubernetes usernames and groups.
//
// # ARNs
//
// [ParsePrincipal] accepts the ARN forms a person is likely to paste (a role,
// a role with a path, an IAM Identity Center (SSO) role, an STS assumed-role
// session, a user, the account root, a federated user) and returns the [Principal] that EKS will actually see.
// aws-iam-authenticator canonicalises every caller to
// arn:PARTITION:iam::ACCOUNT:role/NAME, so a role ARN that keeps its path can
// never match; ParsePrincipal strips it and reports the rewrite as a [Rewrite]
// so the caller can tell the user why.
//
// # Resolution
//
// [Set.Resolve] is aws-iam-authenticator v0.7.18's lookup, the code EKS runs:
// entries its validation rejects are dropped ([Mapping.Validate]); mapRoles
// entries are filed by lower-cased ARN (the last wins) and mapUsers entries
// by the ARN as written; a caller matches an entry when their ARNs are equal
// under strings.EqualFold (so * and ? are text); mapRoles is consulted before
// mapUsers, then mapAccounts. Several matching entries with different results
// are returned as [Resolution.Alternatives]: EKS picks one at random. sso
// entries match nothing on EKS ([SSOMatchesOnEKS]). Templates are rendered
// as the authenticator renders them ([RenderChecked]), and a caller whose
// {{EC2PrivateDNSName}} cannot be rendered is refused. [Set.Status] tells for
// each entry whether it is in effect, shadowed, dropped, undefined, never
// matches or refuses its callers, which is the question eksctl never answers.
// The tools/authenticator module holds all of this to the authenticator's own
// code.
//
// # Access model
//
// [Access] is everything that decides who gets into one cluster: its
// authentication [Mode], aws-auth as a [Set], its [AccessEntry] list with
// their [AccessPolicy] associations, and the cluster creator where known.
// [Access.Identify] answers "who does this caller become?" with EKS's
// precedence — an access entry first where the mode reads them, aws-auth
// where the mode reads it — and is the only code that weighs the two
// mechanisms: the lockout guard, explain, audit, get's STATUS column and the
// dev stack's authenticating webhook all ask it. A change of EKS's
// precedence is made there and nowhere else.
//
// The package imports no Kubernetes or AWS client; awsauth and accessentry
// build on it.
package mapping
