// Command authenticator-oracle runs aws-iam-authenticator v0.7.18's aws-auth
// mapper, the code EKS runs, against a Kubernetes API server, and answers
// who an IAM caller becomes over HTTP on loopback:
//
//	POST /map  {"arn": ..., "account": ..., "userId": ..., "accessKeyId": ...}
//	           (what STS GetCallerIdentity answers for the caller)
//	        -> {"mapped": bool, "refused": "...", "username": "...", "groups": [...]}
//	GET /healthz
//
// The mapper is configmap.NewConfigMapMapper with its real watch on
// kube-system/aws-auth; see package oracle for what is reproduced and how
// an answer waits for the watch. The local stack (internal/devstack) starts
// it with an admin kubeconfig; its authentication webhook asks it whenever
// EKS would consult aws-auth. Logs go to stderr.
//
// Usage:
//
//	authenticator-oracle --kubeconfig PATH [--listen 127.0.0.1:0] [--addr-file PATH]
//
// --addr-file receives the address it serves on (host:port), written once
// it serves.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/aws-iam-authenticator/pkg/config"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper/configmap"
	"sigs.k8s.io/aws-iam-authenticator/pkg/metrics"

	"iammap/tools/authenticator/oracle"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig `PATH` of the API server whose kube-system/aws-auth decides")
	listen := flag.String("listen", "127.0.0.1:0", "`ADDRESS` to serve on")
	addrFile := flag.String("addr-file", "", "`PATH` that receives the address served on, once serving")
	flag.Parse()
	logger := log.New(os.Stderr, "authenticator-oracle: ", log.LstdFlags|log.Lmicroseconds)
	if *kubeconfig == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, logger, *kubeconfig, *listen, *addrFile); err != nil {
		logger.Printf("error: %v", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, logger *log.Logger, kubeconfig, listen, addrFile string) error {
	// The mapper's watch counts its failures in the authenticator's metrics.
	metrics.InitMetrics(prometheus.NewRegistry())
	m, err := configmap.NewConfigMapMapper(config.Config{Kubeconfig: kubeconfig})
	if err != nil {
		return fmt.Errorf("aws-auth mapper: %w", err)
	}
	stopCh := make(chan struct{})
	defer close(stopCh)
	if err := m.Start(stopCh); err != nil {
		return fmt.Errorf("aws-auth mapper: %w", err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	srv := &oracle.Server{
		Mapper: m,
		AWSAuth: func(ctx context.Context) (map[string]string, error) {
			cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "aws-auth", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			return cm.Data, nil
		},
		EC2: oracle.FakeEC2{},
		Log: logger,
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(l) }()
	addr := l.Addr().String()
	if addrFile != "" {
		if err := writeAtomically(addrFile, addr+"\n"); err != nil {
			_ = hs.Close()
			return err
		}
	}
	logger.Printf("serving on %s (aws-iam-authenticator v0.7.18, EKSConfigMap mapper, kubeconfig %s)", addr, kubeconfig)
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		logger.Printf("stopped")
		return nil
	}
}

// writeAtomically writes path so that a reader never sees it half written.
func writeAtomically(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".addr-*")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
