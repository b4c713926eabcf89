package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	"github.com/iammap/iammap/mapping"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// reviewFailingProxy forwards to the stack's API server but answers every
// SelfSubjectReview with status (503: a transient failure; 404: an API
// server without authentication.k8s.io/v1; 403: RBAC forbids it).
func reviewFailingProxy(t *testing.T, status int) string {
	t.Helper()
	cl := stacktest.Cluster(t)
	ca, err := os.ReadFile(cl.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	upstream, err := url.Parse(cl.Server)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	proxy.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/selfsubjectreviews") {
			http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected","code":`+fmt.Sprint(status)+`}`, status)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestIntegrationGuardFailsClosedWhenTheCallerIsUnknown: the lockout
// check needs to know who makes the change. When SelfSubjectReview fails
// and there is no EKS to ask STS, the write is refused (and nothing
// written) unless forced; with EKS, STS answers instead.
func TestIntegrationGuardFailsClosedWhenTheCallerIsUnknown(t *testing.T) {
	ctx := context.Background()
	cl := stacktest.Cluster(t)
	admin := stacktest.Clientset(t, cl.Admin)
	const arn = "arn:aws:iam::111122223333:role/failclosed"
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusNotFound, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			cs, err := kubernetes.NewForConfig(&rest.Config{Host: reviewFailingProxy(t, status), BearerToken: cl.Admin.Token})
			if err != nil {
				t.Fatal(err)
			}
			target := &Target{cs: cs}
			before := stacktest.SetAWSAuth(t, admin, map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/break-glass\n  username: break-glass\n  groups: [system:masters]\n"})
			p := parse(t, arn)
			req := CreateRequest{Principal: &p, Mapping: mapping.ForPrincipal(p, "failclosed", []string{"viewers"}), Entry: accessentry.Spec{PrincipalARN: arn, Type: "STANDARD"}}
			_, err = target.Create(ctx, req, nil)
			if !errors.Is(err, ErrCallerUnknown) || hint(err) == "" {
				t.Fatalf("create with the caller unknown: %v, want ErrCallerUnknown with a hint", err)
			}
			if rv := stacktest.AWSAuth(t, admin).ResourceVersion; rv != before.ResourceVersion {
				t.Fatalf("a refused create wrote aws-auth (%s -> %s)", before.ResourceVersion, rv)
			}
			req.Force = true
			if _, err := target.Create(ctx, req, nil); err != nil {
				t.Fatalf("--force: %v", err)
			}
			stacktest.SetAWSAuth(t, admin, nil)
		})
	}

	// An EKS target asks STS when the review fails.
	creds := credentials.NewStaticCredentialsProvider(stacktest.Admin.AccessKeyID, stacktest.Admin.SecretAccessKey, "")
	eksTarget := stackTarget(t, stacktest.Admin)
	eksTarget.EKS.STS = sts.New(sts.Options{Region: cl.Region, Credentials: creds, BaseEndpoint: aws.String(cl.STSEndpoint)})
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: reviewFailingProxy(t, http.StatusServiceUnavailable), BearerToken: cl.Admin.Token})
	if err != nil {
		t.Fatal(err)
	}
	eksTarget.cs = cs
	caller, err := eksTarget.Caller(ctx)
	if err != nil || caller != strings.ToLower(stacktest.Admin.ARN) {
		t.Errorf("caller through STS = %q, %v; want %s", caller, err, stacktest.Admin.ARN)
	}
}
