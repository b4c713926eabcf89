package app

import (
	"context"
	"fmt"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/eksconn"
	"github.com/iammap/iammap/internal/kubeconn"
	"github.com/iammap/iammap/mapping"
	"github.com/urfave/cli/v2"
	"k8s.io/client-go/kubernetes"
)

// Backends.
const (
	backendAuto        = "auto"
	backendAWSAuth     = "aws-auth"
	backendAccessEntry = "access-entry"
	modeConfigMap      = mapping.ModeConfigMap
	modeAPIAndCM       = mapping.ModeAPIAndConfigMap
	modeAPI            = mapping.ModeAPI
)

// awsFlags select a cluster by name; they are global like the kubeconfig ones.
func awsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "cluster", EnvVars: []string{"IAMMAP_CLUSTER"}, Usage: "EKS cluster `NAME`; iammap describes it for its endpoint and authentication mode and signs in with your AWS credentials"},
		&cli.StringFlag{Name: "region", Usage: "AWS region of --cluster (default: AWS_REGION or your profile's)"},
		&cli.StringFlag{Name: "profile", Usage: "AWS shared-config profile (default: AWS_PROFILE)"},
		&cli.StringFlag{Name: "endpoint-url", Usage: "EKS API endpoint `URL` (default: AWS_ENDPOINT_URL_EKS, then AWS's)"},
	}
}

// target is the cluster a command works on: by name through EKS (eks set),
// or through a kubeconfig only.
type target struct {
	eks  *eksconn.Conn
	kube *kubeconn.Connection
	cs   kubernetes.Interface
}

// mode is the cluster's authentication mode, or "" when only a kubeconfig is known.
func (t *target) mode() mapping.Mode {
	if t.eks == nil {
		return mapping.ModeKubeconfig
	}
	return t.eks.Cluster.AuthMode
}

func resolveTarget(c *cli.Context, u *ui) (*target, error) {
	name := flagString(c, "cluster")
	if name == "" {
		conn, err := kubeconn.Connect(kubeconn.Options{Kubeconfig: flagString(c, "kubeconfig"), Context: flagString(c, "context")})
		if err != nil {
			return nil, err
		}
		u.debug("using kubeconfig context %q (server %s)", conn.Context, conn.Server)
		return &target{kube: conn, cs: conn.Clientset}, nil
	}
	return connectEKS(c, u, name, flagString(c, "region"))
}

// connectEKS connects to a cluster by name.
func connectEKS(c *cli.Context, u *ui, name, region string) (*target, error) {
	conn, err := eksconn.Connect(c.Context, eksconn.Options{Cluster: name, Region: region, Profile: flagString(c, "profile"), EndpointURL: flagString(c, "endpoint-url")})
	if err != nil {
		return nil, err
	}
	u.debug("cluster %s (%s): status %s, authentication mode %s, endpoint %s", conn.Cluster.Name, conn.Cluster.ARN, conn.Cluster.Status, conn.Cluster.AuthMode, conn.Cluster.Endpoint)
	return &target{eks: conn}, nil
}

// kubernetes returns the Kubernetes client, signing in through EKS on first use.
func (t *target) kubernetes(ctx context.Context) (kubernetes.Interface, error) {
	if t.cs != nil {
		return t.cs, nil
	}
	cs, _, err := t.eks.Kubernetes(ctx)
	if err != nil {
		return nil, err
	}
	t.cs = cs
	return cs, nil
}

func (t *target) store(ctx context.Context) (*awsauth.Store, error) {
	cs, err := t.kubernetes(ctx)
	if err != nil {
		return nil, err
	}
	return awsauth.NewStore(cs.CoreV1().ConfigMaps(awsauth.Namespace)), nil
}

func (t *target) accessEntries() *accessentry.Client {
	return accessentry.New(t.eks.EKS, t.eks.Cluster.Name)
}

// writeBackend decides where a create or delete goes.
func (t *target) writeBackend(flag string, force bool) (string, error) {
	mode := t.mode()
	switch flag {
	case backendAWSAuth:
		if mode == modeAPI && !force {
			return "", withHint(badFlags("cluster %s is in API authentication mode: EKS ignores aws-auth, so this change would have no effect", t.eks.Cluster.Name),
				"use --backend access-entry (the default there), or --force to write aws-auth anyway")
		}
		return backendAWSAuth, nil
	case backendAccessEntry:
		return backendAccessEntry, t.requireAccessEntries()
	case backendAuto, "":
		if mode == "" || mode == modeConfigMap {
			return backendAWSAuth, nil
		}
		return backendAccessEntry, nil
	}
	return "", badFlags("unknown --backend %q: use auto, aws-auth or access-entry", flag)
}

func (t *target) requireAccessEntries() error {
	if t.eks == nil {
		return withHint(badFlags("access entries live in the EKS API: name the cluster"), "pass --cluster NAME (and --region), or set IAMMAP_CLUSTER")
	}
	if t.mode() == modeConfigMap {
		return withHint(fmt.Errorf("cluster %s is in CONFIG_MAP authentication mode: it has no access entries", t.eks.Cluster.Name),
			"switch it with `iammap auth-mode --set API_AND_CONFIG_MAP` (one way), or use --backend aws-auth")
	}
	return nil
}

// readBackends decides what get lists.
func (t *target) readBackends(flag string) (awsAuth, entries bool, err error) {
	switch flag {
	case backendAWSAuth:
		return true, false, nil
	case backendAccessEntry:
		return false, true, t.requireAccessEntries()
	case backendAuto, "":
		switch t.mode() {
		case "", modeConfigMap:
			return true, false, nil
		case modeAPI:
			return false, true, nil
		}
		return true, true, nil
	}
	return false, false, badFlags("unknown --backend %q: use auto, aws-auth or access-entry", flag)
}

// loadAWSAuth reads aws-auth.
func (t *target) loadAWSAuth(ctx context.Context) (*awsauth.Snapshot, error) {
	store, err := t.store(ctx)
	if err != nil {
		return nil, err
	}
	return store.Load(ctx)
}
