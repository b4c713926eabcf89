package devstack_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/iammap/iammap/internal/devstack"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/stacktest"
)

// The two calls eksctl makes before anything else, through the AWS CLI
// with the environment `make up` writes (AWS_ENDPOINT_URL_STS and _EKS):
// sts get-caller-identity for each kind of principal, and refused with a
// wrong or unknown key; eks describe-cluster-versions.
func TestIntegrationAWSCLIGetCallerIdentityAndClusterVersions(t *testing.T) {
	stacktest.RequireIntegration(t)
	aws := stacktest.RequireAWSCLI(t)
	user := authwebhook.NewPrincipal("admin", "arn:aws:iam::111122223333:user/local-admin")
	role := authwebhook.NewPrincipal("ops", "arn:aws:iam::111122223333:role/platform/ops")
	role.SessionName = "i-0123456789abcdef0"
	root := authwebhook.NewPrincipal("root", "arn:aws:iam::111122223333:root")
	federated := authwebhook.NewPrincipal("federated", "arn:aws:sts::111122223333:federated-user/bob")
	dir := t.TempDir()
	c, err := devstack.Start(context.Background(), devstack.Options{BinDir: stacktest.BinDir(), Dir: dir, EKS: &devstack.EKSOptions{
		Principals: []authwebhook.Principal{user, role, root, federated}, CreatorARN: user.ARN,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	if err := c.WriteState(); err != nil {
		t.Fatal(err)
	}
	if loaded, err := devstack.Load(dir); err != nil || loaded.STSEndpoint != c.STSEndpoint || !strings.HasPrefix(c.STSEndpoint, "http://127.0.0.1:") {
		t.Fatalf("state file: STS endpoint %q, loaded %+v, %v", c.STSEndpoint, loaded, err)
	}
	run := func(p authwebhook.Principal, args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.Command(aws, append(args, "--output", "json")...)
		cmd.Env = stacktest.ClusterEnv(c, p)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}

	for _, p := range []authwebhook.Principal{user, role, root, federated} {
		want, err := p.Identity()
		if err != nil {
			t.Fatal(err)
		}
		out, stderr, err := run(p, "sts", "get-caller-identity")
		if err != nil {
			t.Fatalf("%s: aws sts get-caller-identity: %v: %s", p.Name, err, stderr)
		}
		var got struct{ Arn, UserId, Account string }
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: %v: %s", p.Name, err, out)
		}
		if got.Arn != want.ARN || got.UserId != want.UserID || got.Account != want.Account {
			t.Errorf("%s: got %+v, want %+v", p.Name, got, want)
		}
	}
	wrongSecret := user
	wrongSecret.SecretAccessKey = "wrong"
	if _, stderr, err := run(wrongSecret, "sts", "get-caller-identity"); err == nil || !strings.Contains(stderr, "SignatureDoesNotMatch") {
		t.Errorf("wrong secret: %v: %s", err, stderr)
	}
	stranger := authwebhook.NewPrincipal("stranger", "arn:aws:iam::111122223333:user/stranger")
	if _, stderr, err := run(stranger, "sts", "get-caller-identity"); err == nil || !strings.Contains(stderr, "InvalidClientTokenId") {
		t.Errorf("unknown key: %v: %s", err, stderr)
	}

	out, stderr, err := run(user, "eks", "describe-cluster-versions", "--default-only")
	if err != nil {
		t.Fatalf("aws eks describe-cluster-versions: %v: %s", err, stderr)
	}
	var versions struct {
		ClusterVersions []struct {
			ClusterVersion string
			DefaultVersion bool
			VersionStatus  string
		}
	}
	if err := json.Unmarshal([]byte(out), &versions); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(versions.ClusterVersions) != 1 || versions.ClusterVersions[0].ClusterVersion != "1.37" || !versions.ClusterVersions[0].DefaultVersion ||
		versions.ClusterVersions[0].VersionStatus != "STANDARD_SUPPORT" {
		t.Errorf("default version: %s", out)
	}
}
