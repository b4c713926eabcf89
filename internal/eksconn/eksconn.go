// Package eksconn connects to an EKS cluster by name: AWS configuration from
// the standard chain (--region, --profile, AWS_* variables, including
// AWS_ENDPOINT_URL_EKS), DescribeCluster for the endpoint, CA and
// authentication mode, and a Kubernetes client authenticated with a token
// made in process exactly as `aws eks get-token` makes it.
package eksconn

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/iammap/iammap/internal/ekstoken"
	"github.com/iammap/iammap/internal/kubeconn"
	"github.com/iammap/iammap/internal/readlimit"
	"github.com/iammap/iammap/mapping"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Errors a caller may want to tell apart.
var (
	ErrClusterNotFound = errors.New("cluster not found")
	ErrClusterNotReady = errors.New("cluster is not ready")
	ErrNoRegion        = errors.New("no AWS region")
	// ErrUntrustedAnswer: EKS answered with a cluster other than the one
	// asked for (another name, region or account), an endpoint that is not
	// HTTPS, or a redirect. iammap would otherwise send the cluster's
	// Kubernetes token, and report its changes, for that other cluster.
	ErrUntrustedAnswer = errors.New("EKS's answer does not match the cluster asked for")
)

// check refuses a described cluster that is not the one asked for in the
// region (and, with a role, the account) it was asked in, or whose API
// server is not reached over HTTPS: the endpoint (from an access file) may
// be hostile, and the token iammap makes next is valid for whatever
// cluster name it is made for.
func (c Cluster) check(region, roleARN string) error {
	if c.Region != region {
		return fmt.Errorf("%w: asked for %s in %s, got %s in region %q", ErrUntrustedAnswer, c.Name, region, c.ARN, c.Region)
	}
	if roleARN != "" {
		if f := strings.SplitN(roleARN, ":", 6); len(f) == 6 && f[4] != c.Account {
			return fmt.Errorf("%w: asked for %s as %s, got %s in account %q", ErrUntrustedAnswer, c.Name, roleARN, c.ARN, c.Account)
		}
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%w: cluster %s's API server endpoint %q is not an https:// URL", ErrUntrustedAnswer, c.Name, c.Endpoint)
	}
	return nil
}

// Options select the cluster and the AWS configuration.
type Options struct {
	Cluster, Region, Profile string
	// EndpointURL overrides the EKS endpoint (as aws --endpoint-url does).
	EndpointURL string
	// RoleARN, when set, is assumed with the profile's credentials
	// (ExternalID sent when set).
	RoleARN, ExternalID string
	// Sessions shares credentials between the clusters of one run; nil
	// loads them for this connection alone.
	Sessions *Sessions
}

// Cluster is what iammap needs from DescribeCluster.
type Cluster struct {
	Name, ARN, Status, Endpoint string
	AuthMode                    mapping.Mode
	Partition, Region, Account  string
	CAData                      []byte
}

// Conn is a connection to one EKS cluster.
type Conn struct {
	AWS     aws.Config
	EKS     *eks.Client
	STS     *sts.Client
	Cluster Cluster
}

// DefaultMaxAttempts is how often an AWS call is tried when neither
// AWS_MAX_ATTEMPTS nor the profile's max_attempts says: more than the SDK's
// 3, so a burst of parallel calls that EKS throttles is retried, not failed.
const DefaultMaxAttempts = 10

// LoadAWSConfig loads the standard AWS configuration with a retryer suited to
// bursts of parallel calls: more attempts, and no client-side retry quota,
// which would otherwise turn a throttled burst into failures.
func LoadAWSConfig(ctx context.Context, region, profile string) (aws.Config, error) {
	cfg, err := loadBase(ctx, region, profile)
	if err != nil {
		return aws.Config{}, err
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("%w: pass --region or set AWS_REGION", ErrNoRegion)
	}
	return cfg, nil
}

// loadBase is LoadAWSConfig without the region check: a fleet's clusters
// may each name their own region.
func loadBase(ctx context.Context, region, profile string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	// Each HTTP request is bounded, so an endpoint that accepts and never
	// answers fails (after the retryer's attempts) instead of hanging until
	// --timeout; IAMMAP_REQUEST_TIMEOUT overrides it, as for Kubernetes.
	timeout, err := kubeconn.RequestTimeout()
	if err != nil {
		return aws.Config{}, err
	}
	opts = append(opts, config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(timeout)),
		config.WithAPIOptions([]func(*middleware.Stack) error{boundAnswers}))
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		if profile != "" {
			return aws.Config{}, fmt.Errorf("load AWS configuration (profile %s): %w", profile, err)
		}
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	// AWS_MAX_ATTEMPTS (or the profile's max_attempts) still decides, as
	// for every AWS tool: a CI job may prefer an unreachable endpoint to
	// fail in seconds rather than after ten attempts.
	attempts := DefaultMaxAttempts
	if cfg.RetryMaxAttempts > 0 {
		attempts = cfg.RetryMaxAttempts
	}
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.RateLimiter = ratelimit.None
		})
	}
	return cfg, nil
}

// boundAnswers adds to every AWS call two checks no AWS API needs lifted:
// an answer comes from the host asked (an endpoint that redirects is
// sending iammap somewhere else, whose answer is not trusted), and it is at
// most readlimit.AWSResponse bytes. It is a middleware, not an HTTP client,
// so the SDK's own client (and AWS_CA_BUNDLE, which needs it) stays.
func boundAnswers(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("iammapBoundAnswers",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			resp, ok := out.RawResponse.(*smithyhttp.Response)
			if !ok || resp == nil || resp.Response == nil || resp.Request == nil {
				return out, md, err
			}
			if req, ok := in.Request.(*smithyhttp.Request); ok && resp.Request.URL.Host != req.URL.Host {
				resp.Body.Close()
				return out, md, fmt.Errorf("%w: asked %s, answered by %s after a redirect", ErrUntrustedAnswer, req.URL.Host, resp.Request.URL.Redacted())
			}
			if resp.Body != nil {
				resp.Body = readlimit.Body(resp.Body, readlimit.AWSResponse, resp.Request.Method+" "+resp.Request.URL.Redacted(), "AWS API answers")
			}
			return out, md, err
		}), middleware.After)
}

// Connect describes the cluster and refuses one that is not ACTIVE or UPDATING.
func Connect(ctx context.Context, opts Options) (*Conn, error) {
	sessions := opts.Sessions
	if sessions == nil {
		sessions = &Sessions{}
	}
	cfg, err := sessions.Config(ctx, Identity{Profile: opts.Profile, RoleARN: opts.RoleARN, ExternalID: opts.ExternalID}, opts.Region)
	if err != nil {
		return nil, err
	}
	client := eks.NewFromConfig(cfg, func(o *eks.Options) {
		if opts.EndpointURL != "" {
			o.BaseEndpoint = aws.String(opts.EndpointURL)
		}
	})
	c := &Conn{AWS: cfg, EKS: client, STS: sts.NewFromConfig(cfg)}
	c.Cluster, err = Describe(ctx, client, opts.Cluster)
	if err != nil {
		return nil, err
	}
	if err := c.Cluster.check(cfg.Region, opts.RoleARN); err != nil {
		return nil, err
	}
	return c, nil
}

// Describer is the one EKS call eksconn makes; *eks.Client has it.
type Describer interface {
	DescribeCluster(ctx context.Context, in *eks.DescribeClusterInput, optFns ...func(*eks.Options)) (*eks.DescribeClusterOutput, error)
}

var _ Describer = (*eks.Client)(nil)

// Describe reads a cluster and checks it can be used.
func Describe(ctx context.Context, api Describer, name string) (Cluster, error) {
	out, err := api.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException" {
		return Cluster{}, fmt.Errorf("%w: %s (EKS: %v)", ErrClusterNotFound, name, err)
	}
	if err != nil {
		return Cluster{}, fmt.Errorf("describe cluster %s: %w", name, err)
	}
	cl := out.Cluster
	if cl == nil || aws.ToString(cl.Name) != name {
		got := ""
		if cl != nil {
			got = aws.ToString(cl.Name)
		}
		return Cluster{}, fmt.Errorf("%w: asked for cluster %s, EKS answered with %q", ErrUntrustedAnswer, name, got)
	}
	c := Cluster{Name: name, ARN: aws.ToString(cl.Arn), Status: string(cl.Status), Endpoint: aws.ToString(cl.Endpoint)}
	if cl.AccessConfig != nil {
		c.AuthMode = mapping.Mode(cl.AccessConfig.AuthenticationMode)
	}
	if c.AuthMode == "" {
		c.AuthMode = mapping.ModeConfigMap // clusters older than access entries report none
	}
	if f := strings.SplitN(c.ARN, ":", 6); len(f) == 6 {
		c.Partition, c.Region, c.Account = f[1], f[3], f[4]
	}
	if cl.CertificateAuthority != nil {
		c.CAData, err = base64.StdEncoding.DecodeString(aws.ToString(cl.CertificateAuthority.Data))
		if err != nil {
			return Cluster{}, fmt.Errorf("cluster %s: certificate authority data: %w", name, err)
		}
	}
	if c.Status != "ACTIVE" && c.Status != "UPDATING" {
		return c, fmt.Errorf("%w: %s is %s", ErrClusterNotReady, name, c.Status)
	}
	return c, nil
}

// Token makes a bearer token for the cluster from the AWS credentials.
func (c *Conn) Token(ctx context.Context) (ekstoken.Token, error) {
	return ekstoken.Generate(ctx, c.STS, c.Cluster.Name)
}

// Kubernetes returns a client for the cluster's API server, authenticated as
// the AWS identity. The token lasts 15 minutes, longer than any one command.
func (c *Conn) Kubernetes(ctx context.Context) (*kubernetes.Clientset, *rest.Config, error) {
	timeout, err := kubeconn.RequestTimeout()
	if err != nil {
		return nil, nil, err
	}
	tok, err := c.Token(ctx)
	if err != nil {
		return nil, nil, err
	}
	cfg := &rest.Config{
		Host: c.Cluster.Endpoint, BearerToken: tok.Value, UserAgent: "iammap",
		TLSClientConfig: rest.TLSClientConfig{CAData: c.Cluster.CAData},
		Timeout:         timeout,
		WrapTransport:   kubeconn.BoundResponses,
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("create Kubernetes client for %s: %w", c.Cluster.Name, err)
	}
	return cs, cfg, nil
}

// NewSTS returns the STS client tokens are signed with.
func NewSTS(cfg aws.Config) *sts.Client { return sts.NewFromConfig(cfg) }
