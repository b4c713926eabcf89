package devstack

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/awscreds"
	"github.com/iammap/iammap/internal/devstack/eksemu"
	"github.com/iammap/iammap/internal/devstack/iamemu"
	"github.com/iammap/iammap/internal/devstack/stsemu"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// DefaultClusterName is the local EKS cluster's name.
const DefaultClusterName = "iammap-local"

// serve starts an HTTP server for h on a free loopback port.
func (c *Cluster) serve(h http.Handler) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	c.servers = append(c.servers, srv)
	go srv.Serve(l) //nolint:errcheck // ends with Close in Stop
	return "http://" + l.Addr().String(), nil
}

// startEKS starts the emulator and the webhooks and returns the API server
// flags that use them.
func (c *Cluster) startEKS(o EKSOptions, apiserverURL string) ([]string, error) {
	if o.ClusterName == "" {
		o.ClusterName = DefaultClusterName
	}
	c.ClusterName, c.Principals = o.ClusterName, o.Principals
	c.Region = o.Emulator.Region
	if c.Region == "" {
		c.Region = "us-west-2"
		o.Emulator.Region = c.Region
	}
	c.Credentials = o.Credentials
	if c.Credentials == nil {
		c.Credentials = awscreds.New()
	}
	for _, p := range o.Principals {
		if err := c.Credentials.Add(p.Key()); err != nil {
			return nil, fmt.Errorf("principal %s: %w", p.Name, err)
		}
	}
	if o.CheckCallers {
		o.Emulator.Credentials = c.Credentials
	}
	c.Emulator = eksemu.New(o.Emulator)
	endpoint, err := c.serve(c.Emulator)
	if err != nil {
		return nil, err
	}
	c.EKSEndpoint = endpoint
	iamARNs := append([]string{}, o.IAMPrincipals...)
	for _, p := range o.Principals {
		iamARNs = append(iamARNs, p.ARN)
	}
	iam, err := iamemu.New(iamARNs...)
	if err != nil {
		return nil, err
	}
	iam.Credentials = c.Credentials // names are looked up in the caller's account
	if c.IAMEndpoint, err = c.serve(iam); err != nil {
		return nil, err
	}
	if o.STSEndpoint != "" {
		c.STSEndpoint = o.STSEndpoint
	} else {
		sts, err := stsemu.NewServer(stsemu.Options{Region: c.Region, Roles: o.Roles, Credentials: c.Credentials, MoreRegions: o.STSRegions})
		if err != nil {
			return nil, err
		}
		if c.STSEndpoint, err = c.serve(sts); err != nil {
			return nil, err
		}
	}
	logFile, err := os.OpenFile(filepath.Join(c.Dir, "webhook.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	// The webhook accepts tokens for the real STS hosts of the stack's region
	// and for this stack's own STS, and nothing else.
	c.webhook = &authwebhook.Handler{Cluster: o.ClusterName, Principals: o.Principals, Credentials: c.Credentials, EKS: c.Emulator, CreatorARN: o.CreatorARN,
		Region: c.Region, LocalSTS: c.STSEndpoint, Log: log.New(logFile, "", log.LstdFlags)}
	hook, err := c.serve(c.webhook)
	if err != nil {
		return nil, err
	}
	authn := filepath.Join(c.Dir, "authn-webhook.kubeconfig")
	authz := filepath.Join(c.Dir, "authz-webhook.kubeconfig")
	if err := writeWebhookConfig(authn, hook+"/authenticate"); err != nil {
		return nil, err
	}
	if err := writeWebhookConfig(authz, hook+"/authorize"); err != nil {
		return nil, err
	}
	return []string{
		// Access policies are consulted before RBAC, as on EKS.
		"--authorization-mode=Webhook,RBAC",
		"--authorization-webhook-config-file=" + authz,
		"--authorization-webhook-version=v1",
		"--authorization-webhook-cache-authorized-ttl=0s",
		"--authorization-webhook-cache-unauthorized-ttl=0s",
		"--authentication-token-webhook-config-file=" + authn,
		"--authentication-token-webhook-version=v1",
		"--authentication-token-webhook-cache-ttl=0s",
	}, nil
}

// registerCluster tells the emulator about the running API server.
func (c *Cluster) registerCluster(o EKSOptions) error {
	ca, err := os.ReadFile(c.CAFile)
	if err != nil {
		return err
	}
	mode := o.AuthMode
	if mode == "" {
		mode = eksemu.ModeAPIAndConfigMap
	}
	c.Emulator.AddCluster(eksemu.ClusterSpec{
		Name: c.ClusterName, Endpoint: c.Server, CAData: base64.StdEncoding.EncodeToString(ca),
		AuthMode: mode, CreatorARN: o.CreatorARN,
	})
	return nil
}

// startOracle launches authenticator-oracle: aws-iam-authenticator's own
// aws-auth mapper, watching kube-system/aws-auth on the running API server
// as the cluster admin, and hands its address to the webhook. Its log is
// authenticator.log.
func (c *Cluster) startOracle(ctx context.Context, bin string) error {
	kubeconfig := filepath.Join(c.Dir, "authenticator.kubeconfig")
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthority: c.CAFile}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: c.Admin.Token}
	cfg.Contexts["admin"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "admin"}
	cfg.CurrentContext = "admin"
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		return fmt.Errorf("write %s: %w", kubeconfig, err)
	}
	addrFile := filepath.Join(c.Dir, "authenticator.addr")
	if err := os.Remove(addrFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	oracle, err := c.launch(filepath.Join(bin, "authenticator-oracle"), "authenticator.log",
		"--kubeconfig="+kubeconfig, "--listen=127.0.0.1:0", "--addr-file="+addrFile)
	if err != nil {
		return err
	}
	c.OraclePID = oracle.Process.Pid
	if err := waitFor(ctx, 30*time.Second, func() bool {
		b, err := os.ReadFile(addrFile)
		if err != nil || !c.alive() {
			return false
		}
		c.OracleURL = "http://" + strings.TrimSpace(string(b))
		return httpOK(http.DefaultClient, c.OracleURL+"/healthz")
	}); err != nil {
		return fmt.Errorf("authenticator-oracle did not start (log: %s): %w", filepath.Join(c.Dir, "authenticator.log"), err)
	}
	c.webhook.SetOracle(c.OracleURL)
	return nil
}

func writeWebhookConfig(path, url string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["webhook"] = &clientcmdapi.Cluster{Server: url}
	cfg.AuthInfos["apiserver"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["webhook"] = &clientcmdapi.Context{Cluster: "webhook", AuthInfo: "apiserver"}
	cfg.CurrentContext = "webhook"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
