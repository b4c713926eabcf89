package eksconn

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/iammap/iammap/internal/kubeconn"
)

// TestAWSRequestTimeout: an EKS endpoint that accepts and never answers
// hung the command until --timeout; each AWS HTTP request is now bounded by
// the request timeout (IAMMAP_REQUEST_TIMEOUT, default 30s).
func TestAWSRequestTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-west-2")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")

	t.Setenv(kubeconn.RequestTimeoutEnv, "")
	cfg, err := LoadAWSConfig(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := cfg.HTTPClient.(*awshttp.BuildableClient); !ok || c.GetTimeout() != kubeconn.DefaultRequestTimeout {
		t.Errorf("HTTP client %T without the default timeout", cfg.HTTPClient)
	}

	t.Setenv(kubeconn.RequestTimeoutEnv, "300ms")
	cfg, err = LoadAWSConfig(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	client := eks.NewFromConfig(cfg, func(o *eks.Options) {
		o.BaseEndpoint = aws.String("http://" + ln.Addr().String())
		o.Retryer = aws.NopRetryer{} // one attempt: the timeout is what is tested
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	start := time.Now()
	_, err = Describe(ctx, client, "c")
	if err == nil {
		t.Fatal("no error from an endpoint that never answers")
	}
	if d := time.Since(start); d > 10*time.Second || ctx.Err() != nil {
		t.Errorf("took %s with a 300ms request timeout: %v", d, err)
	}

	t.Setenv(kubeconn.RequestTimeoutEnv, "soon")
	if _, err := LoadAWSConfig(context.Background(), "", ""); err == nil {
		t.Error("a bad " + kubeconn.RequestTimeoutEnv + " was accepted")
	}
}
