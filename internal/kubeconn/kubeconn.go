// Package kubeconn turns iammap's --kubeconfig and --context flags into a
// Kubernetes client, with kubectl's rules: an explicit --kubeconfig wins,
// then $KUBECONFIG (a list of files), then ~/.kube/config.
package kubeconn

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/iammap/iammap/internal/readlimit"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

// client-go logs through klog straight to stderr (server warnings, retries,
// exec plugin notes), as raw "W1206 12:00:00.000000 ..." lines between
// iammap's own messages, outside --verbose and often repeating an error
// iammap reports anyway. iammap says what matters itself, so klog says
// nothing. A logr sink that discards is the one setting that silences every
// severity: klog.SetOutput still copies errors to stderr (stderrthreshold).
func init() { klog.SetLogger(logr.Discard()) }

// DefaultRequestTimeout bounds each request to the API server, so a server
// that accepts the connection and never answers fails the command with an
// error instead of hanging it until --timeout (25 minutes by default). No
// iammap request streams or watches; 30 s is ample for the largest list.
const DefaultRequestTimeout = 30 * time.Second

// RequestTimeoutEnv overrides DefaultRequestTimeout, for every API client
// iammap makes (Kubernetes and AWS): a Go duration such as 10s or 2m.
const RequestTimeoutEnv = "IAMMAP_REQUEST_TIMEOUT"

// RequestTimeout returns the per-request timeout: $IAMMAP_REQUEST_TIMEOUT
// when set, DefaultRequestTimeout otherwise.
func RequestTimeout() (time.Duration, error) {
	v := os.Getenv(RequestTimeoutEnv)
	if v == "" {
		return DefaultRequestTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 30s or 2m", RequestTimeoutEnv, v)
	}
	return d, nil
}

// BoundResponses caps every API server answer at
// readlimit.KubernetesResponse bytes (a rest.Config WrapTransport).
func BoundResponses(rt http.RoundTripper) http.RoundTripper {
	return readlimit.Responses(rt, readlimit.KubernetesResponse, "Kubernetes API answers")
}

// MaxKubeconfigSize is the largest kubeconfig file read (16 MiB, room for
// many contexts with embedded certificates); a larger one, or a device such
// as /dev/zero, is refused instead of exhausting memory.
const MaxKubeconfigSize = readlimit.Kubeconfig

// ErrNoCluster means no kubeconfig or context names a cluster to talk to.
var ErrNoCluster = errors.New("no cluster configured")

// Options select the kubeconfig and context.
type Options struct {
	Kubeconfig string
	Context    string
}

// Connection is a client for one cluster plus what the user should be told
// about where it points.
type Connection struct {
	Clientset *kubernetes.Clientset
	Config    *rest.Config
	// Context and Server say which cluster was chosen, for --verbose and errors.
	Context string
	Server  string
}

// Connect builds a client from the kubeconfig. It does not contact the cluster.
func Connect(opts Options) (*Connection, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = opts.Kubeconfig
	timeout, err := RequestTimeout()
	if err != nil {
		return nil, err
	}
	// clientcmd reads each file whole; check their sizes first.
	for _, f := range kubeconfigFiles(rules) {
		if err := readlimit.Check(f, MaxKubeconfigSize, "kubeconfig files"); err != nil {
			return nil, fmt.Errorf("load kubeconfig: %w", err)
		}
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: opts.Context}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	raw, err := loader.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	ctxName := raw.CurrentContext
	if opts.Context != "" {
		ctxName = opts.Context
		if _, ok := raw.Contexts[ctxName]; !ok {
			return nil, fmt.Errorf("%w: context %q is not in the kubeconfig", ErrNoCluster, ctxName)
		}
	}
	cfg, err := loader.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, fmt.Errorf("%w: no current context in kubeconfig %s", ErrNoCluster, describeFiles(rules))
		}
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg.UserAgent = "iammap"
	cfg.Wrap(BoundResponses)
	if cfg.Timeout == 0 {
		cfg.Timeout = timeout
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create Kubernetes client: %w", err)
	}
	return &Connection{Clientset: cs, Config: cfg, Context: ctxName, Server: cfg.Host}, nil
}

// describeFiles names the kubeconfig files that were consulted, marking the
// missing ones: a KUBECONFIG pointing at nothing is the usual cause.
func describeFiles(rules *clientcmd.ClientConfigLoadingRules) string {
	var out []string
	for _, f := range kubeconfigFiles(rules) {
		if _, err := os.Stat(f); err != nil {
			f += " (missing)"
		}
		out = append(out, f)
	}
	return strings.Join(out, ", ")
}

// kubeconfigFiles lists the files clientcmd reads: the explicit one alone,
// or every file of $KUBECONFIG (else ~/.kube/config).
func kubeconfigFiles(rules *clientcmd.ClientConfigLoadingRules) []string {
	if rules.ExplicitPath != "" {
		return []string{rules.ExplicitPath}
	}
	return rules.GetLoadingPrecedence()
}
