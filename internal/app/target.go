package app

import (
	"context"
	"time"

	"github.com/iammap/iammap/internal/cluster"
	"github.com/iammap/iammap/internal/desired"
	"github.com/iammap/iammap/internal/eksconn"
	"github.com/iammap/iammap/mapping"
	"github.com/urfave/cli/v2"
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
		&cli.StringFlag{Name: "cluster", Aliases: []string{"c"}, EnvVars: []string{"IAMMAP_CLUSTER"}, Usage: "EKS cluster `NAME`; iammap describes it for its endpoint and authentication mode and signs in with your AWS credentials"},
		&cli.StringFlag{Name: "region", Aliases: []string{"r"}, Usage: "AWS region of --cluster (default: AWS_REGION or your profile's)"},
		&cli.StringFlag{Name: "profile", Aliases: []string{"p"}, Usage: "AWS shared-config profile (default: AWS_PROFILE)"},
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
		Kubeconfig: flagString(c, "kubeconfig"), Context: flagString(c, "context"), Sessions: newSessions(c)}
}

// newSessions are the AWS sessions of one command; at -v 5 they log each
// AWS call on stderr, as eksctl does.
func newSessions(c *cli.Context) *eksconn.Sessions {
	s := &eksconn.Sessions{}
	if verboseLevel(c) >= levelMax {
		s.Log = callLogger(newUI(c))
	}
	return s
}

// callLogger writes each AWS call as a debug line.
func callLogger(u *ui) eksconn.CallLog {
	return func(service, operation string, err error, took time.Duration) {
		outcome := "ok"
		if err != nil {
			outcome = "failed: " + oneLine(err.Error())
		}
		u.debug("aws: %s %s: %s (%s)", service, operation, outcome, took.Round(time.Millisecond))
	}
}

// targetOptions reaches one cluster of an access file: its own connection
// fields first, the command line's flags for what it leaves out. A file
// without clusters (want.Name empty) leaves everything to the flags.
func targetOptions(c *cli.Context, want desired.Target, sessions *eksconn.Sessions) cluster.Options {
	conn := want.Connection
	if conn.Context != "" {
		return cluster.Options{Kubeconfig: flagString(c, "kubeconfig"), Context: conn.Context}
	}
	o := connectOptions(c, want.Name, conn.Region)
	if sessions != nil {
		o.Sessions = sessions
	}
	if want.Name == "" {
		return o
	}
	if conn.Profile != "" {
		o.Profile = conn.Profile
	}
	if conn.EndpointURL != "" {
		o.EndpointURL = conn.EndpointURL
	}
	o.RoleARN, o.ExternalID = conn.RoleARN, conn.ExternalID
	return o
}

// connect reaches the cluster o selects and says which with --verbose.
func connect(c *cli.Context, u *ui, o cluster.Options) (*cluster.Target, error) {
	return connectWithin(c.Context, u, o)
}

// connectWithin is connect under ctx (a fleet's per-cluster deadline).
func connectWithin(ctx context.Context, u *ui, o cluster.Options) (*cluster.Target, error) {
	t, err := cluster.Connect(ctx, o)
	if err != nil {
		return nil, err
	}
	if t.EKS != nil {
		cl := t.EKS.Cluster
		u.debug("cluster %s (%s): status %s, authentication mode %s, endpoint %s, as %s", cl.Name, cl.ARN, cl.Status, cl.AuthMode, cl.Endpoint,
			eksconn.Identity{Profile: o.Profile, RoleARN: o.RoleARN, ExternalID: o.ExternalID})
	} else {
		u.debug("using kubeconfig context %q (server %s)", t.Kube.Context, t.Kube.Server)
	}
	return t, nil
}

// resolveTarget connects to the cluster the flags select.
func resolveTarget(c *cli.Context, u *ui) (*cluster.Target, error) {
	return connect(c, u, connectOptions(c, "", ""))
}
