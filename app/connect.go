package app

import (
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/kubeconn"
	"github.com/urfave/cli/v2"
)

// connect is the one place commands reach a cluster from their flags.
func connect(c *cli.Context, u *ui) (*kubeconn.Connection, *awsauth.Store, error) {
	conn, err := kubeconn.Connect(kubeconn.Options{Kubeconfig: flagString(c, "kubeconfig"), Context: flagString(c, "context")})
	if err != nil {
		return nil, nil, err
	}
	u.debug("using kubeconfig context %q (server %s)", conn.Context, conn.Server)
	return conn, awsauth.NewStore(conn.Clientset.CoreV1().ConfigMaps(awsauth.Namespace)), nil
}
