package accessentry

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/iammap/iammap/internal/devstack/eksemu"
)

// emulated starts the EKS emulator over real HTTP and returns an SDK client for it.
func emulated(t testing.TB, opts eksemu.Options, clusters ...eksemu.ClusterSpec) (*eks.Client, *eksemu.Server) {
	t.Helper()
	emu := eksemu.New(opts)
	for _, c := range clusters {
		emu.AddCluster(c)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	client := eks.New(eks.Options{
		Region:       "us-west-2",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 10
			o.RateLimiter = ratelimit.None
			o.MaxBackoff = 200 * time.Millisecond
		}),
	})
	return client, emu
}

const acct = "111122223333"

func apiMode(name string) eksemu.ClusterSpec {
	return eksemu.ClusterSpec{Name: name, AuthMode: eksemu.ModeAPIAndConfigMap}
}

func TestEnsureIsIdempotentAndReportsChanges(t *testing.T) {
	api, _ := emulated(t, eksemu.Options{}, apiMode("c1"))
	c := New(api, "c1")
	ctx := context.Background()
	spec, _, err := Validate(Spec{PrincipalARN: "arn:aws:iam::111122223333:role/team/dev", Groups: []string{"devs"}, Username: "dev:{{SessionName}}",
		Policies: []PolicySpec{{ARN: "AmazonEKSViewPolicy"}, {ARN: "AmazonEKSEditPolicy", Namespaces: []string{"a", "b"}}}}, acct, "aws")
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Ensure(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 3 || !strings.HasPrefix(res.Changes[0], "created access entry arn:aws:iam::111122223333:role/team/dev") {
		t.Fatalf("changes = %q", res.Changes)
	}
	again, err := c.Ensure(ctx, spec)
	if err != nil || len(again.Changes) != 0 || again.Existing == nil {
		t.Fatalf("second Ensure = %+v, %v; want no changes", again, err)
	}
	got, err := c.Get(ctx, spec.PrincipalARN)
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{PrincipalARN: spec.PrincipalARN, Type: "STANDARD", Username: "dev:{{SessionName}}", Groups: []string{"devs"}, Tags: map[string]string{},
		Policies: []PolicySpec{
			{ARN: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy", Namespaces: []string{"a", "b"}},
			{ARN: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"},
		}, ARN: got.ARN}
	if !reflect.DeepEqual(got, want) || !strings.HasPrefix(got.ARN, "arn:aws:eks:us-west-2:111122223333:access-entry/c1/role/111122223333/dev/") {
		t.Errorf("Get =\n%+v\nwant\n%+v", got, want)
	}
	spec.Groups = []string{"devs", "ops"}
	res, err = c.Ensure(ctx, spec)
	if err != nil || len(res.Changes) != 1 || !strings.Contains(res.Changes[0], "groups [devs] -> [devs,ops]") {
		t.Fatalf("update = %+v, %v", res, err)
	}
}

func TestEnsureReportsWhatExistsAfterAFailure(t *testing.T) {
	api, _ := emulated(t, eksemu.Options{}, apiMode("c1"))
	c := New(api, "c1")
	// A policy ARN that passes local checks but EKS does not know.
	spec := Spec{PrincipalARN: "arn:aws:iam::111122223333:user/alice", Type: "STANDARD", Policies: []PolicySpec{
		{ARN: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"},
		{ARN: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSNoSuchPolicy"},
	}}
	res, err := c.Ensure(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "EKS InvalidParameterException") {
		t.Fatalf("err = %v", err)
	}
	if len(res.Changes) != 2 || !strings.Contains(res.Changes[1], "associated AmazonEKSViewPolicy") {
		t.Errorf("changes before the failure = %q", res.Changes)
	}
}

func TestServiceRulesReachTheClientAsClearErrors(t *testing.T) {
	api, _ := emulated(t, eksemu.Options{}, apiMode("c1"), eksemu.ClusterSpec{Name: "legacy"})
	ctx := context.Background()
	tests := []struct {
		name, cluster string
		in            *eks.CreateAccessEntryInput
		want          string
	}{
		{"system group", "c1", &eks.CreateAccessEntryInput{PrincipalArn: aws.String("arn:aws:iam::111122223333:role/a"), KubernetesGroups: []string{"system:masters"}}, "The kubernetes group name system:masters is invalid, it cannot start with system:"},
		{"reserved username", "c1", &eks.CreateAccessEntryInput{PrincipalArn: aws.String("arn:aws:iam::111122223333:role/a"), Username: aws.String("eks:me")}, "The username must not begin with eks:"},
		{"assumed role", "c1", &eks.CreateAccessEntryInput{PrincipalArn: aws.String("arn:aws:sts::111122223333:assumed-role/a/s")}, "The principalArn parameter format is not valid"},
		{"config map mode", "legacy", &eks.CreateAccessEntryInput{PrincipalArn: aws.String("arn:aws:iam::111122223333:role/a")}, "authentication mode must be set to one of [API, API_AND_CONFIG_MAP]"},
		{"no cluster", "nope", &eks.CreateAccessEntryInput{PrincipalArn: aws.String("arn:aws:iam::111122223333:role/a")}, "No cluster found for name: nope."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.ClusterName = aws.String(tt.cluster)
			_, err := api.CreateAccessEntry(ctx, tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := api.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("c1"), PrincipalArn: aws.String("arn:aws:iam::111122223333:role/a")}); err != nil {
		t.Fatal(err)
	}
	_, err := api.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("c1"), PrincipalArn: aws.String("arn:aws:iam::111122223333:role/a")})
	if !IsAPIError(err, "ResourceInUseException") {
		t.Errorf("duplicate create err = %v", err)
	}
	out, err := api.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String("c1"), PrincipalArn: aws.String("arn:aws:iam::111122223333:role/a")})
	if err != nil || aws.ToString(out.AccessEntry.Username) != "arn:aws:sts::111122223333:assumed-role/a/{{SessionName}}" || out.AccessEntry.CreatedAt == nil {
		t.Errorf("default username/createdAt: %+v, %v", out, err)
	}
	_, err = New(api, "c1").Get(ctx, "arn:aws:iam::111122223333:role/missing")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Get missing err = %v", err)
	}
}

func seed(t testing.TB, api *eks.Client, cluster string, n int) {
	t.Helper()
	c := New(api, cluster)
	for i := range n {
		spec := Spec{PrincipalARN: fmt.Sprintf("arn:aws:iam::111122223333:role/r%04d", i), Type: "STANDARD", Groups: []string{"g"},
			Policies: []PolicySpec{{ARN: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"}, {ARN: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy", Namespaces: []string{"ns"}}}}
		if _, err := c.Ensure(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
	}
}

func TestListPagesAndSurvivesThrottling(t *testing.T) {
	api, emu := emulated(t, eksemu.Options{}, apiMode("c1"))
	seed(t, api, "c1", 250)
	emu.SetFaults(0, 0.2)
	before := emu.Calls()
	entries, err := New(api, "c1").List(context.Background())
	if err != nil {
		t.Fatalf("List with 20%% throttling: %v", err)
	}
	if len(entries) != 250 {
		t.Fatalf("%d entries, want 250", len(entries))
	}
	for i, e := range entries {
		if want := fmt.Sprintf("arn:aws:iam::111122223333:role/r%04d", i); e.PrincipalARN != want || len(e.Policies) != 2 || e.Groups[0] != "g" {
			t.Fatalf("entry %d = %+v, want %s with 2 policies, in ARN order", i, e, want)
		}
	}
	after := emu.Calls()
	// 250 entries need 3 pages; throttled calls are retried, so each
	// operation was called at least as often as it had to be.
	if n := after["ListAccessEntries"] - before["ListAccessEntries"]; n < 3 {
		t.Errorf("ListAccessEntries called %d times, want >= 3 pages", n)
	}
	if n := after["DescribeAccessEntry"] - before["DescribeAccessEntry"]; n <= 250 {
		t.Errorf("DescribeAccessEntry called %d times; with 20%% throttling some must have been retried", n)
	}
}

func TestListSomeReadsOnlyWhatItNeeds(t *testing.T) {
	api, emu := emulated(t, eksemu.Options{}, apiMode("c1"))
	seed(t, api, "c1", 30)
	c := New(api, "c1")
	admin := "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
	for _, arn := range []string{"arn:aws:iam::111122223333:role/r0010", "arn:aws:iam::111122223333:role/r0020"} {
		if _, err := c.Ensure(context.Background(), Spec{PrincipalARN: arn, Type: "STANDARD", Groups: []string{"g"}, Policies: []PolicySpec{{ARN: admin}}}); err != nil {
			t.Fatal(err)
		}
	}
	before := emu.Calls()["DescribeAccessEntry"]
	got, err := c.ListSome(context.Background(), func(arn string) bool { return arn == "arn:aws:iam::111122223333:role/r0005" }, admin)
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, e := range got {
		arns = append(arns, e.PrincipalARN)
	}
	want := "arn:aws:iam::111122223333:role/r0005,arn:aws:iam::111122223333:role/r0010,arn:aws:iam::111122223333:role/r0020"
	if strings.Join(arns, ",") != want {
		t.Errorf("ListSome = %v", arns)
	}
	if n := emu.Calls()["DescribeAccessEntry"] - before; n != 3 {
		t.Errorf("DescribeAccessEntry called %d times for 3 wanted entries of 30", n)
	}
}
