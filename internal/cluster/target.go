package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/eksconn"
	"github.com/iammap/iammap/internal/kubeconn"
	"github.com/iammap/iammap/mapping"
	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Options select a cluster: by EKS name (Cluster set) or through a
// kubeconfig.
type Options struct {
	// Cluster is the EKS cluster's name; empty means the kubeconfig's.
	Cluster, Region, Profile string
	// EndpointURL overrides the EKS endpoint.
	EndpointURL string
	// RoleARN (with ExternalID) is assumed to reach the cluster.
	RoleARN, ExternalID string
	// Sessions shares AWS credentials between the targets of one run.
	Sessions *eksconn.Sessions
	// Kubeconfig and Context pick the kubeconfig when Cluster is empty.
	Kubeconfig, Context string
}

// Target is the cluster an operation works on.
type Target struct {
	// EKS is set when the cluster was reached by name through EKS.
	EKS *eksconn.Conn
	// Kube is set when it was reached through a kubeconfig.
	Kube *kubeconn.Connection
	cs   kubernetes.Interface
	// The caller is looked up once per target: the guard and the backups
	// both need it.
	callerOnce sync.Once
	caller     string
	callerErr  error
	// callerGroups are the caller's groups as the cluster sees them (nil
	// when the review failed).
	callerGroups []string
}

// CallerIsMasters reports whether the cluster puts the caller in
// system:masters right now, whatever gave it that.
func (t *Target) CallerIsMasters(ctx context.Context) bool {
	t.Caller(ctx) //nolint:errcheck // only the groups it records are wanted
	return slices.Contains(t.callerGroups, "system:masters")
}

// Connect reaches the cluster o selects.
func Connect(ctx context.Context, o Options) (*Target, error) {
	if o.Cluster == "" {
		conn, err := kubeconn.Connect(kubeconn.Options{Kubeconfig: o.Kubeconfig, Context: o.Context})
		if err != nil {
			return nil, err
		}
		return FromKubeconfig(conn), nil
	}
	conn, err := eksconn.Connect(ctx, eksconn.Options{Cluster: o.Cluster, Region: o.Region, Profile: o.Profile, EndpointURL: o.EndpointURL,
		RoleARN: o.RoleARN, ExternalID: o.ExternalID, Sessions: o.Sessions})
	if err != nil {
		return nil, err
	}
	return FromEKS(conn), nil
}

// FromEKS is the target of an EKS connection; its Kubernetes client is made
// on first use.
func FromEKS(conn *eksconn.Conn) *Target { return &Target{EKS: conn} }

// FromKubeconfig is the target of a kubeconfig connection.
func FromKubeconfig(conn *kubeconn.Connection) *Target {
	return &Target{Kube: conn, cs: conn.Clientset}
}

// Mode is the cluster's authentication mode, or mapping.ModeKubeconfig when
// only a kubeconfig is known.
func (t *Target) Mode() mapping.Mode {
	if t.EKS == nil {
		return mapping.ModeKubeconfig
	}
	return t.EKS.Cluster.AuthMode
}

// Name is the EKS cluster's name, "" for a kubeconfig target.
func (t *Target) Name() string {
	if t.EKS == nil {
		return ""
	}
	return t.EKS.Cluster.Name
}

// Display names the cluster for people: its EKS name, or the kubeconfig
// context.
func (t *Target) Display() string {
	switch {
	case t.EKS != nil:
		return t.EKS.Cluster.Name
	case t.Kube != nil:
		return "kubeconfig context " + t.Kube.Context
	}
	return ""
}

// Kubernetes returns the Kubernetes client, signing in through EKS on first use.
func (t *Target) Kubernetes(ctx context.Context) (kubernetes.Interface, error) {
	if t.cs != nil {
		return t.cs, nil
	}
	cs, _, err := t.EKS.Kubernetes(ctx)
	if err != nil {
		return nil, err
	}
	t.cs = cs
	return cs, nil
}

// Store is the cluster's aws-auth, for writing.
func (t *Target) Store(ctx context.Context) (*awsauth.Store, error) {
	s, err := t.readStore(ctx)
	if err != nil {
		return nil, err
	}
	// Every backup names who wrote it (rollback --list shows it). The
	// lookup is the guard's, made once per target; unknown stays empty.
	if caller, err := t.Caller(ctx); err == nil {
		s.Backup.Writer = caller
	}
	return s, nil
}

// readStore is aws-auth for reading: no writer to name, so no lookup of
// the caller (get, audit and explain make no extra request).
func (t *Target) readStore(ctx context.Context) (*awsauth.Store, error) {
	cs, err := t.Kubernetes(ctx)
	if err != nil {
		return nil, err
	}
	return awsauth.NewStore(cs.CoreV1().ConfigMaps(awsauth.Namespace)), nil
}

// AccessEntries is a client for the cluster's access entries; only for an
// EKS target.
func (t *Target) AccessEntries() *accessentry.Client {
	return accessentry.New(t.EKS.EKS, t.EKS.Cluster.Name)
}

// LoadAWSAuth reads aws-auth.
func (t *Target) LoadAWSAuth(ctx context.Context) (*awsauth.Snapshot, error) {
	store, err := t.readStore(ctx)
	if err != nil {
		return nil, err
	}
	return store.Load(ctx)
}

// AWSAuthSet is aws-auth as EKS reads it, where EKS reads it at all: empty
// in API mode, without a read.
func (t *Target) AWSAuthSet(ctx context.Context) (mapping.Set, error) {
	if !t.Mode().UsesAWSAuth() {
		return mapping.Set{}, nil
	}
	snap, err := t.LoadAWSAuth(ctx)
	if err != nil {
		return mapping.Set{}, err
	}
	return snap.Doc.Set(), nil
}

// RequireAccessEntries refuses a target without access entries: one reached
// through a kubeconfig, or in CONFIG_MAP mode.
func (t *Target) RequireAccessEntries() error { return RequireAccessEntries(t.Name(), t.Mode()) }

// Caller is the principal key of whoever is signed in, as the cluster sees
// it (SelfSubjectReview; EKS puts the ARN in the user's extra), else, for an
// EKS target, as STS sees the credentials that sign the token. It is "" for
// a kubeconfig identity that is no IAM principal (a static token, a client
// certificate), which no mapping can take away. When neither source
// answers it is an error: the lockout guard must not guess.
func (t *Target) Caller(ctx context.Context) (string, error) {
	t.callerOnce.Do(func() { t.caller, t.callerErr = t.lookupCaller(ctx) })
	return t.caller, t.callerErr
}

func (t *Target) lookupCaller(ctx context.Context) (string, error) {
	cs, err := t.Kubernetes(ctx)
	if err != nil {
		return "", err
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err == nil {
		t.callerGroups = review.Status.UserInfo.Groups
		for _, k := range []string{"canonicalArn", "arn"} {
			if v := review.Status.UserInfo.Extra[k]; len(v) == 1 {
				return mapping.PrincipalKey(v[0]), nil
			}
		}
		if t.EKS == nil {
			return "", nil
		}
	}
	if t.EKS != nil && t.EKS.STS != nil {
		out, stsErr := t.EKS.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if stsErr == nil {
			return mapping.PrincipalKey(aws.ToString(out.Arn)), nil
		}
		err = errors.Join(err, stsErr)
	}
	return "", fmt.Errorf("%w: %w", ErrCallerUnknown, err)
}

// ErrCallerUnknown is wrapped when iammap cannot tell who makes a change,
// which the lockout guard needs to know.
var ErrCallerUnknown = errors.New("cannot tell who you are (SelfSubjectReview and STS GetCallerIdentity both failed), and the lockout check needs it")
