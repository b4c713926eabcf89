// Package kubeconn turns iammap's --kubeconfig and --context flags into a
// Kubernetes client, with kubectl's rules: an explicit --kubeconfig wins,
// then $KUBECONFIG (a list of files), then ~/.kube/config.
package kubeconn

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

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
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create Kubernetes client: %w", err)
	}
	return &Connection{Clientset: cs, Config: cfg, Context: ctxName, Server: cfg.Host}, nil
}

// describeFiles names the kubeconfig files that were consulted, marking the
// missing ones: a KUBECONFIG pointing at nothing is the usual cause.
func describeFiles(rules *clientcmd.ClientConfigLoadingRules) string {
	files := rules.GetLoadingPrecedence()
	if rules.ExplicitPath != "" {
		files = []string{rules.ExplicitPath}
	}
	var out []string
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			f += " (missing)"
		}
		out = append(out, f)
	}
	return strings.Join(out, ", ")
}
