package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/desired"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	"github.com/iammap/iammap/internal/eksconn"
	"github.com/iammap/iammap/internal/guard"
	"github.com/iammap/iammap/internal/kubeconn"
	"github.com/iammap/iammap/mapping"
)

// stackTarget is the local stack's EKS cluster as p sees it, reached the
// way Connect reaches one, with the clients pointed at the local EKS.
func stackTarget(t *testing.T, p authwebhook.Principal) *Target {
	t.Helper()
	cl := stacktest.Cluster(t)
	creds := credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, "")
	api := eks.New(eks.Options{Region: cl.Region, BaseEndpoint: aws.String(cl.EKSEndpoint), Credentials: creds})
	conn := &eksconn.Conn{EKS: api, STS: sts.New(sts.Options{Region: cl.Region, Credentials: creds})}
	var err error
	if conn.Cluster, err = eksconn.Describe(context.Background(), api, cl.ClusterName); err != nil {
		t.Fatal(err)
	}
	return FromEKS(conn)
}

// recorder is a Reporter that keeps every line.
type recorder struct{ lines []string }

func (r *recorder) Note(f string, a ...any)  { r.lines = append(r.lines, "note: "+fmt.Sprintf(f, a...)) }
func (r *recorder) Warn(f string, a ...any)  { r.lines = append(r.lines, "warn: "+fmt.Sprintf(f, a...)) }
func (r *recorder) Debug(f string, a ...any) {}

func (r *recorder) has(s string) bool {
	for _, l := range r.lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func parse(t *testing.T, arn string) mapping.Principal {
	t.Helper()
	p, _, err := mapping.ParsePrincipal(arn)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// An access entry keeps the role's path, aws-auth strips it: one parse,
// two rules.
func TestIntegrationCreateRoutesAndKeepsEachBackendsRules(t *testing.T) {
	ctx := context.Background()
	cl := stacktest.Cluster(t)
	admin := stacktest.Clientset(t, cl.Admin)
	stacktest.SetAWSAuth(t, admin, nil)
	const pathy = "arn:aws:iam::111122223333:role/team/Pathy"
	p := parse(t, pathy)
	target := stackTarget(t, stacktest.Admin)
	if target.Mode() != mapping.ModeAPIAndConfigMap {
		t.Fatalf("stack cluster mode = %s", target.Mode())
	}

	// auto: access entries, the ARN as given.
	req := CreateRequest{Principal: &p, Mapping: mapping.ForPrincipal(p, "pathy", []string{"devs"}),
		Entry: accessentry.Spec{PrincipalARN: pathy, Username: "pathy", Groups: []string{"devs"}}}
	res, err := target.Create(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Backend != BackendAccessEntry || res.Entry.PrincipalARN != pathy || len(res.Entry.Changes) == 0 {
		t.Fatalf("create through auto = %+v", res)
	}
	if _, ok := cl.Emulator.AccessEntry(cl.ClusterName, pathy); !ok {
		t.Fatalf("no access entry for %s in EKS", pathy)
	}
	if again, err := target.Create(ctx, req, nil); err != nil || len(again.Entry.Changes) != 0 {
		t.Errorf("second create: %+v, %v; want no change", again, err)
	}

	// aws-auth: the path is dropped, and the rewrite is reported.
	req.Backend = BackendAWSAuth
	_, rewrites, _ := mapping.ParsePrincipal(pathy)
	req.Rewrites = rewrites
	var r recorder
	res, err = target.Create(ctx, req, &r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Backend != BackendAWSAuth || res.Added.Unchanged || !res.Write.Written {
		t.Fatalf("create in aws-auth = %+v", res)
	}
	roles := awsauth.Decode(stacktest.AWSAuth(t, admin).Data).Set().Roles
	if len(roles) != 1 || roles[0].ARN != "arn:aws:iam::111122223333:role/Pathy" {
		t.Errorf("aws-auth roles = %+v, want the role without its path", roles)
	}
	if !r.has("warn: "+pathy+" has an access entry") || !r.has("note: stored arn:aws:iam::111122223333:role/Pathy instead of "+pathy) {
		t.Errorf("reported %q, want the overriding-entry warning and the rewrite note", r.lines)
	}

	// Deleting only the access entry reports the aws-auth mapping EKS falls
	// back to.
	del, err := target.Delete(ctx, DeleteRequest{Backend: BackendAccessEntry, ARN: pathy, Principal: parse(t, strings.ToLower(pathy))})
	if err != nil {
		t.Fatal(err)
	}
	if del.Backend != BackendAccessEntry || del.Entry == nil || del.Entry.PrincipalARN != pathy || del.FallsBackTo == nil || del.FallsBackTo.Username != "pathy" {
		t.Errorf("delete = %+v, want the entry gone and the aws-auth fallback named", del)
	}
	if _, ok := cl.Emulator.AccessEntry(cl.ClusterName, pathy); ok {
		t.Error("access entry still in EKS")
	}
	if _, err := target.Delete(ctx, DeleteRequest{Backend: BackendAccessEntry, ARN: pathy, Principal: parse(t, strings.ToLower(pathy))}); !errors.Is(err, accessentry.ErrNotFound) {
		t.Errorf("deleting again: %v, want ErrNotFound", err)
	}

	// auto revokes what is left, wherever it is: here the path-less aws-auth
	// entry, found by the ARN as given; then nothing is left to revoke.
	del, err = target.Delete(ctx, DeleteRequest{ARN: pathy, Principal: parse(t, strings.ToLower(pathy))})
	if err != nil || len(del.Deleted.Removed) != 1 || del.Effect == nil || del.Effect.After.Mapped {
		t.Fatalf("auto delete = %+v, %v; want the aws-auth entry removed and the principal mapped nowhere", del, err)
	}
	if _, err := target.Delete(ctx, DeleteRequest{ARN: pathy, Principal: parse(t, strings.ToLower(pathy))}); !errors.Is(err, awsauth.ErrNotFound) {
		t.Errorf("auto delete with nothing left: %v, want ErrNotFound", err)
	}
	stacktest.SetAWSAuth(t, admin, nil)
}

// Through a kubeconfig there are no access entries: auto goes to aws-auth,
// and the guard refuses removing the node role unless forced.
func TestIntegrationKubeconfigTargetGuardsAWSAuth(t *testing.T) {
	ctx := context.Background()
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	conn, err := kubeconn.Connect(kubeconn.Options{Kubeconfig: stacktest.Kubeconfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	target := FromKubeconfig(conn)
	if target.Mode() != mapping.ModeKubeconfig || !strings.HasPrefix(target.Display(), "kubeconfig context ") {
		t.Fatalf("kubeconfig target: mode %q, display %q", target.Mode(), target.Display())
	}
	before := stacktest.SetAWSAuth(t, admin, testAWSAuth)
	req := DeleteRequest{ARN: nodes, Principal: parse(t, nodes)}
	if _, err := target.Delete(ctx, req); !errors.Is(err, guard.ErrRefused) || !strings.Contains(err.Error(), "node role "+nodes+" would lose its mapping") {
		t.Fatalf("removing the node role: %v, want a refusal", err)
	}
	if rv := stacktest.AWSAuth(t, admin).ResourceVersion; rv != before.ResourceVersion {
		t.Fatalf("a refused delete wrote aws-auth (%s -> %s)", before.ResourceVersion, rv)
	}
	req.Force = true
	res, err := target.Delete(ctx, req)
	if err != nil || res.Backend != BackendAWSAuth || len(res.Deleted.Removed) != 1 {
		t.Fatalf("forced delete = %+v, %v", res, err)
	}
	_, err = target.Create(ctx, CreateRequest{Backend: BackendAccessEntry, Principal: &req.Principal}, nil)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "access entries live in the EKS API") {
		t.Errorf("access entry through a kubeconfig: %v", err)
	}
	stacktest.SetAWSAuth(t, admin, nil)
}

// Converge plans without writing, applies, and then has nothing left to do.
func TestIntegrationConvergeBothBackends(t *testing.T) {
	ctx := context.Background()
	cl := stacktest.Cluster(t)
	admin := stacktest.Clientset(t, cl.Admin)
	stacktest.SetAWSAuth(t, admin, nil)
	target := stackTarget(t, stacktest.Admin)
	const dev = "arn:aws:iam::111122223333:role/dev"
	want := desired.Target{
		AWSAuth:       awsauth.Desired{Mappings: []mapping.Mapping{{Source: mapping.MapRoles, ARN: nodes, Username: "system:node:{{EC2PrivateDNSName}}", Groups: []string{"system:bootstrappers", "system:nodes"}}}},
		AccessEntries: []accessentry.Spec{{PrincipalARN: dev, Username: "dev", Groups: []string{"devs"}, Policies: []accessentry.PolicySpec{{ARN: "AmazonEKSViewPolicy"}}}},
	}
	plan, err := Converge(ctx, target, want, ConvergeOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Applied || plan.Cluster != cl.ClusterName || plan.AuthMode != mapping.ModeAPIAndConfigMap || plan.AWSAuth == nil || len(plan.AWSAuth.Add) != 1 || len(plan.AccessEntries) == 0 {
		t.Fatalf("plan = %+v", plan)
	}
	if _, ok := cl.Emulator.AccessEntry(cl.ClusterName, dev); ok {
		t.Fatal("planning created an access entry")
	}
	if plan, err = Converge(ctx, target, want, ConvergeOptions{Write: true}, nil); err != nil || !plan.Applied {
		t.Fatalf("apply = %+v, %v", plan, err)
	}
	if _, ok := cl.Emulator.AccessEntry(cl.ClusterName, dev); !ok {
		t.Error("apply created no access entry")
	}
	if roles := awsauth.Decode(stacktest.AWSAuth(t, admin).Data).Set().Roles; len(roles) != 1 || roles[0].ARN != nodes {
		t.Errorf("aws-auth roles after apply = %+v", roles)
	}
	if plan, err = Converge(ctx, target, want, ConvergeOptions{}, nil); err != nil || plan.Changes() != 0 {
		t.Errorf("plan after apply = %+v, %v; want no changes", plan, err)
	}
	if _, err := target.Delete(ctx, DeleteRequest{ARN: dev, Principal: parse(t, dev)}); err != nil {
		t.Fatal(err)
	}
	stacktest.SetAWSAuth(t, admin, nil)
}
