package app

import (
	"errors"
	"fmt"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/cluster"
	"github.com/iammap/iammap/internal/kubeconn"
	"github.com/iammap/iammap/mapping"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

var (
	errUsage = errors.New("bad usage")
	// errBadFlag is internal/cluster's, so its refusals of a --backend or a
	// mode read the same as the flag checks here.
	errBadFlag = cluster.ErrInvalid
)

// withHint carries the next step to suggest with an error; internal/cluster
// attaches hints the same way.
func withHint(err error, hint string) error { return cluster.WithHint(err, hint) }

func badFlags(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errBadFlag, fmt.Sprintf(format, a...))
}

// describe returns the message and the hint to print for err.
func describe(err error) (msg, hint string) {
	msg = err.Error()
	var h *cluster.HintError
	if errors.As(err, &h) {
		return msg, h.Hint
	}
	var status apierrors.APIStatus
	switch {
	case errors.Is(err, awsauth.ErrOutcomeUnknown):
		hint = "the write may have been applied: run `iammap get` to check; re-running the same command is safe (it converges), and the backup of what it replaced was kept (`iammap rollback --list`)"
	case errors.Is(err, accessentry.ErrMaybeApplied):
		hint = "EKS may have applied it: the reply was lost; run the same command again, it re-reads and converges"
	case errors.Is(err, awsauth.ErrNotApplied):
		hint = "nothing was written; run the command again"
	case errors.Is(err, mapping.ErrInvalidARN):
		hint = "pass a role or user ARN such as arn:aws:iam::111122223333:role/NAME or arn:aws:iam::111122223333:user/NAME"
	case errors.Is(err, awsauth.ErrKeyParse):
		hint = "iammap never rewrites a key it cannot parse; fix it with `kubectl edit -n kube-system configmap aws-auth`"
	case errors.Is(err, awsauth.ErrDuplicate):
		hint = "delete the existing mapping first, or omit --no-duplicate-arns to add an entry that overrides it"
	case errors.Is(err, awsauth.ErrSpellingVariant):
		hint = "spell the ARN exactly as that entry does to replace it, or delete it first (iammap delete --arn ... --all)"
	case errors.Is(err, awsauth.ErrNotFound):
		hint = "list the mappings with `iammap get`; pass --ignore-not-found to make this a no-op"
	case errors.Is(err, kubeconn.ErrNoCluster):
		hint = "pass --kubeconfig FILE and --context NAME, or set KUBECONFIG"
	case apierrors.IsForbidden(err):
		hint = "your Kubernetes user lacks this permission on configmaps in kube-system; ask a cluster admin, or use a context with more rights (--context)"
	case apierrors.IsConflict(err):
		hint = "aws-auth kept changing while iammap retried; nothing of yours was written, run the command again"
	case apierrors.IsUnauthorized(err):
		hint = "the cluster did not accept your credentials; refresh them (for EKS: aws sso login / aws eks update-kubeconfig)"
	case errors.As(err, &status):
		hint = "the Kubernetes API server refused the request"
	}
	return msg, hint
}
