package app

import (
	"context"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/cluster"
	"github.com/iammap/iammap/internal/eksconn"
	"github.com/iammap/iammap/mapping"
	"github.com/urfave/cli/v2"
	"k8s.io/client-go/kubernetes"
)

// Backends, as --backend takes them.
const (
	backendAuto  = string(cluster.BackendAuto)
	modeAPIAndCM = mapping.ModeAPIAndConfigMap
	modeAPI      = mapping.ModeAPI
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

// forceFlag lets a write through the lockout guard.
func forceFlag() cli.Flag {
	return &cli.BoolFlag{Name: "force", Usage: "make the change even if it would lock out you, the last cluster admin or a node role"}
}

// connectOptions reads the flags that select a cluster; name and region,
// when set, come from an access file instead.
func connectOptions(c *cli.Context, name, region string) cluster.Options {
	if name == "" {
		name = flagString(c, "cluster")
	}
	if region == "" {
		region = flagString(c, "region")
	}
	return cluster.Options{Cluster: name, Region: region, Profile: flagString(c, "profile"), EndpointURL: flagString(c, "endpoint-url"),
		Kubeconfig: flagString(c, "kubeconfig"), Context: flagString(c, "context")}
}

// connect reaches the cluster o selects and says which with --verbose.
func connect(c *cli.Context, u *ui, o cluster.Options) (*target, error) {
	t, err := cluster.Connect(c.Context, o)
	if err != nil {
		return nil, err
	}
	if t.EKS != nil {
		cl := t.EKS.Cluster
		u.debug("cluster %s (%s): status %s, authentication mode %s, endpoint %s", cl.Name, cl.ARN, cl.Status, cl.AuthMode, cl.Endpoint)
	} else {
		u.debug("using kubeconfig context %q (server %s)", t.Kube.Context, t.Kube.Server)
	}
	return &target{Target: t, eks: t.EKS}, nil
}

// resolveTarget connects to the cluster the flags select.
func resolveTarget(c *cli.Context, u *ui) (*target, error) {
	return connect(c, u, connectOptions(c, "", ""))
}

// target is a cluster.Target with the short lower-case names the commands
// in get.go, explain.go and audit.go call.
type target struct {
	*cluster.Target
	eks *eksconn.Conn
}

func (t *target) mode() mapping.Mode { return t.Mode() }

func (t *target) kubernetes(ctx context.Context) (kubernetes.Interface, error) {
	return t.Kubernetes(ctx)
}

func (t *target) accessEntries() *accessentry.Client { return t.AccessEntries() }

func (t *target) loadAWSAuth(ctx context.Context) (*awsauth.Snapshot, error) {
	return t.LoadAWSAuth(ctx)
}

func (t *target) readBackends(flag string) (awsAuth, entries bool, err error) {
	return cluster.ReadBackends(t.Name(), t.Mode(), cluster.Backend(flag))
}

// awsAuthSet is aws-auth as EKS reads it, where EKS reads it at all.
func awsAuthSet(c *cli.Context, t *target) (mapping.Set, error) { return t.AWSAuthSet(c.Context) }
