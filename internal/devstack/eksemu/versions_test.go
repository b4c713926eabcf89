package eksemu

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
)

// DescribeClusterVersions through the real aws-sdk-go-v2 EKS client: the
// fields it decodes, the filters, and pagination.
func TestDescribeClusterVersionsThroughTheSDK(t *testing.T) {
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	client := eks.New(eks.Options{Region: "us-west-2", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	ctx := context.Background()
	versions := func(in *eks.DescribeClusterVersionsInput) ([]string, *eks.DescribeClusterVersionsOutput) {
		t.Helper()
		out, err := client.DescribeClusterVersions(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		var vs []string
		for _, v := range out.ClusterVersions {
			vs = append(vs, aws.ToString(v.ClusterVersion))
		}
		return vs, out
	}

	vs, out := versions(&eks.DescribeClusterVersionsInput{DefaultOnly: aws.Bool(true)})
	if !slices.Equal(vs, []string{"1.37"}) || out.NextToken != nil {
		t.Fatalf("defaultOnly = %v", vs)
	}
	v := out.ClusterVersions[0]
	if !v.DefaultVersion || aws.ToString(v.ClusterType) != "eks" || aws.ToString(v.DefaultPlatformVersion) != "eks.2" ||
		aws.ToString(v.KubernetesPatchVersion) != "1.37.2" || v.VersionStatus != types.VersionStatusStandardSupport ||
		v.Status != types.ClusterVersionStatusStandardSupport || v.ReleaseDate == nil ||
		v.ReleaseDate.UTC().Format("2006-01-02") != "2026-09-24" || v.EndOfStandardSupportDate == nil || v.EndOfExtendedSupportDate == nil {
		t.Errorf("default version = %+v", v)
	}

	if vs, _ := versions(&eks.DescribeClusterVersionsInput{}); !slices.Equal(vs, []string{"1.37", "1.36", "1.35", "1.34", "1.33", "1.32"}) {
		t.Errorf("no filter = %v (unsupported versions only with includeAll)", vs)
	}
	if vs, _ := versions(&eks.DescribeClusterVersionsInput{IncludeAll: aws.Bool(true)}); len(vs) != len(ClusterVersions) {
		t.Errorf("includeAll = %v", vs)
	}
	if vs, _ := versions(&eks.DescribeClusterVersionsInput{ClusterVersions: []string{"1.33", "1.31", "1.20"}}); !slices.Equal(vs, []string{"1.33", "1.31"}) {
		t.Errorf("clusterVersions = %v", vs)
	}
	if vs, _ := versions(&eks.DescribeClusterVersionsInput{VersionStatus: types.VersionStatusExtendedSupport}); !slices.Equal(vs, []string{"1.33", "1.32"}) {
		t.Errorf("versionStatus = %v", vs)
	}
	if vs, _ := versions(&eks.DescribeClusterVersionsInput{Status: types.ClusterVersionStatusUnsupported}); !slices.Equal(vs, []string{"1.31"}) {
		t.Errorf("status = %v", vs)
	}

	var all []string
	in := &eks.DescribeClusterVersionsInput{IncludeAll: aws.Bool(true), MaxResults: aws.Int32(3)}
	for p := eks.NewDescribeClusterVersionsPaginator(client, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.ClusterVersions) > 3 {
			t.Errorf("page of %d", len(page.ClusterVersions))
		}
		for _, v := range page.ClusterVersions {
			all = append(all, aws.ToString(v.ClusterVersion))
		}
	}
	if !slices.Equal(all, []string{"1.37", "1.36", "1.35", "1.34", "1.33", "1.32", "1.31"}) {
		t.Errorf("paginated = %v", all)
	}

	_, err := client.DescribeClusterVersions(ctx, &eks.DescribeClusterVersionsInput{MaxResults: aws.Int32(0)})
	var ipe *types.InvalidParameterException
	if !errors.As(err, &ipe) {
		t.Errorf("maxResults=0: %v, want InvalidParameterException", err)
	}
}

// The raw wire: timestamps are epoch seconds.
func TestDescribeClusterVersionsWire(t *testing.T) {
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	resp, v := call(t, srv, "GET", "/cluster-versions?clusterVersions=1.34", "")
	list, _ := v["clusterVersions"].([]any)
	if resp.StatusCode != 200 || len(list) != 1 {
		t.Fatalf("%d %v", resp.StatusCode, v)
	}
	cv := list[0].(map[string]any)
	if cv["releaseDate"] != float64(day("2025-10-02").Unix()) || cv["status"] != "standard-support" || cv["versionStatus"] != "STANDARD_SUPPORT" || cv["defaultVersion"] != false {
		t.Errorf("1.34 = %v", cv)
	}
	if resp, v := call(t, srv, "GET", "/cluster-versions?versionStatus=SOMETIMES", ""); resp.StatusCode != 400 || resp.Header.Get("x-amzn-ErrorType") != "InvalidParameterException" {
		t.Errorf("bad versionStatus: %d %v", resp.StatusCode, v)
	}
}
