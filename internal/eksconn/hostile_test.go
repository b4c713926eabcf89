package eksconn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/iammap/iammap/internal/readlimit"
)

// describeAnswer serves DescribeCluster with a chosen cluster document.
func describeAnswer(name, arn, endpoint string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"cluster":{"name":%q,"arn":%q,"status":"ACTIVE","endpoint":%q,"accessConfig":{"authenticationMode":"API"},"certificateAuthority":{"data":""}}}`, name, arn, endpoint)
	}
}

// TestConnectRefusesAnUntrustedAnswer: an EKS endpoint (an access file's
// endpointUrl may point anywhere) that answers with another cluster, in
// another region or account, with an API server not reached over HTTPS,
// through a redirect, or without end, is refused before any token is made.
func TestConnectRefusesAnUntrustedAnswer(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"), "AWS_MAX_ATTEMPTS": "1",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_EKS": ""} {
		t.Setenv(k, v)
	}
	good := describeAnswer("staging", "arn:aws:eks:us-west-2:111122223333:cluster/staging", "https://ABC.gr7.us-west-2.eks.amazonaws.com")
	elsewhere := httptest.NewServer(good)
	defer elsewhere.Close()
	tests := []struct {
		name    string
		handler http.Handler
		role    string
		want    error
		says    string
	}{
		{"the cluster asked for", good, "", nil, ""},
		{"another cluster's name", describeAnswer("prod-real", "arn:aws:eks:us-west-2:111122223333:cluster/prod-real", "https://x.eks.amazonaws.com"), "", ErrUntrustedAnswer, `asked for cluster staging, EKS answered with "prod-real"`},
		{"another region", describeAnswer("staging", "arn:aws:eks:eu-west-1:111122223333:cluster/staging", "https://x.eks.amazonaws.com"), "", ErrUntrustedAnswer, "in region \"eu-west-1\""},
		{"another account than the role's", good, "arn:aws:iam::444455556666:role/deployer", ErrUntrustedAnswer, "in account \"111122223333\""},
		{"no endpoint (client-go would use http://localhost)", describeAnswer("staging", "arn:aws:eks:us-west-2:111122223333:cluster/staging", ""), "", ErrUntrustedAnswer, "is not an https:// URL"},
		{"plain http", describeAnswer("staging", "arn:aws:eks:us-west-2:111122223333:cluster/staging", "http://attacker.example"), "", ErrUntrustedAnswer, "is not an https:// URL"},
		{"a redirect", http.RedirectHandler(elsewhere.URL+"/clusters/staging", http.StatusTemporaryRedirect), "", ErrUntrustedAnswer, "after a redirect"},
		{"an endless answer", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"cluster":{"name":"`)
			chunk := strings.Repeat("x", 1<<20)
			for range readlimit.AWSResponse>>20 + 2 {
				fmt.Fprint(w, chunk)
			}
		}), "", readlimit.ErrTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			// A role is only checked against the answer here: no credentials
			// are fetched for it before the describe is refused.
			_, err := Connect(context.Background(), Options{Cluster: "staging", Region: "us-west-2", EndpointURL: srv.URL, Sessions: &Sessions{}})
			if tt.role != "" {
				var c Cluster
				c, err = Describe(context.Background(), mustEKS(t, srv.URL), "staging")
				if err == nil {
					err = c.check("us-west-2", tt.role)
				}
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("Connect: %v; want %v saying %q", err, tt.want, tt.says)
			}
		})
	}
}

// mustEKS is an EKS client for url with the environment's credentials.
func mustEKS(t *testing.T, url string) *eks.Client {
	t.Helper()
	cfg, err := LoadAWSConfig(context.Background(), "us-west-2", "")
	if err != nil {
		t.Fatal(err)
	}
	return eks.NewFromConfig(cfg, func(o *eks.Options) { o.BaseEndpoint = aws.String(url) })
}
