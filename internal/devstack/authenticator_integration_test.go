package devstack_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iammap/iammap/internal/devstack"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/eksemu"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	authnv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// whoami signs in as p with a fresh IAM-signed token and returns who the
// API server says p is, or ok false on 401.
func whoami(t *testing.T, c *devstack.Cluster, p authwebhook.Principal) (username string, groups []string, ok bool) {
	t.Helper()
	cs := stacktest.SignIn(t, c, p)
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(context.Background(), &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if apierrors.IsUnauthorized(err) {
		return "", nil, false
	}
	if err != nil {
		t.Fatalf("%s: %v", p.Name, err)
	}
	return review.Status.UserInfo.Username, review.Status.UserInfo.Groups, true
}

// The local EKS decides aws-auth with aws-iam-authenticator's own code:
// entries it reads differently from what the YAML suggests get its answer,
// with real tokens against the real API server.
func TestIntegrationAWSAuthIsDecidedByTheAuthenticator(t *testing.T) {
	stacktest.RequireIntegration(t)
	creator := authwebhook.NewPrincipal("creator", "arn:aws:iam::111122223333:user/creator")
	// STS names an assumed role without its path.
	deployer := authwebhook.NewPrincipal("deployer", "arn:aws:iam::111122223333:role/ci/deployer")
	deployer.SessionName = "alice@example.com"
	node := authwebhook.NewPrincipal("node", "arn:aws:iam::111122223333:role/nodes")
	node.SessionName = "i-0123456789abcdef0"
	impostor := authwebhook.NewPrincipal("impostor", "arn:aws:iam::111122223333:role/nodes")
	impostor.SessionName = "bad-session"
	root := authwebhook.NewPrincipal("root", "arn:aws:iam::111122223333:root")
	federated := authwebhook.NewPrincipal("federated", "arn:aws:sts::111122223333:federated-user/bob")
	c, err := devstack.Start(context.Background(), devstack.Options{BinDir: stacktest.BinDir(), Dir: t.TempDir(), EKS: &devstack.EKSOptions{
		AuthMode: eksemu.ModeConfigMap, Principals: []authwebhook.Principal{creator, deployer, node, impostor, root, federated}, CreatorARN: creator.ARN,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	admin, err := kubernetes.NewForConfig(c.RESTConfig(c.Admin))
	if err != nil {
		t.Fatal(err)
	}
	expect := func(step string, p authwebhook.Principal, wantUser string, wantGroups ...string) {
		t.Helper()
		user, groups, ok := whoami(t, c, p)
		switch {
		case wantUser == "" && ok:
			t.Errorf("%s: %s signed in as %s %v, want 401", step, p.Name, user, groups)
		case wantUser != "" && !ok:
			t.Errorf("%s: %s got 401, want %s %v", step, p.Name, wantUser, wantGroups)
		case wantUser != "" && (user != wantUser || !slices.Equal(groups, append(wantGroups, "system:authenticated"))):
			t.Errorf("%s: %s signed in as %s %v, want %s %v", step, p.Name, user, groups, wantUser, wantGroups)
		}
	}

	expect("no aws-auth", creator, "kubernetes-admin", "system:masters")
	expect("no aws-auth", deployer, "")

	stacktest.SetAWSAuth(t, admin, map[string]string{"mapRoles": `- rolearn: arn:aws:iam::111122223333:role/deployer
  username: deployer:{{SessionName}}
  groups: system:masters
`})
	// encoding/json fails on the plain string, and the authenticator keeps
	// the entry without its groups: authenticated, but not an admin.
	expect("groups as a plain string", deployer, "deployer:alice-example.com")

	stacktest.SetAWSAuth(t, admin, map[string]string{"mapRoles": `- rolearn: arn:aws:iam::111122223333:role/*
  username: anyone
  groups: [system:masters]
`})
	expect("a wildcard rolearn is compared literally", deployer, "")

	stacktest.SetAWSAuth(t, admin, map[string]string{
		"mapRoles": `- rolearn: arn:aws:iam::111122223333:role/nodes
  username: system:node:{{EC2PrivateDNSName}}
  groups: [system:bootstrappers, system:nodes]
`,
		"mapAccounts": "- \"111122223333\"\n",
	})
	expect("a node", node, "system:node:ip-i-0123456789abcdef0.ec2.internal", "system:bootstrappers", "system:nodes")
	// The template cannot render, and the authenticator refuses rather
	// than falling back to mapAccounts.
	expect("not an instance session", impostor, "")
	expect("mapAccounts", root, "arn:aws:iam::111122223333:root")
	expect("mapAccounts", federated, "arn:aws:sts::111122223333:federated-user/bob")

	webhookLog, err := os.ReadFile(filepath.Join(c.Dir, "webhook.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(webhookLog), "aws-iam-authenticator refuses the caller: mapper EKSConfigMap renderTemplates error") {
		t.Errorf("webhook.log does not say the authenticator refused the impostor:\n%s", webhookLog)
	}
	oracleLog, err := os.ReadFile(filepath.Join(c.Dir, "authenticator.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(oracleLog), "DISAGREES") {
		t.Errorf("the authenticator's watch lagged behind aws-auth:\n%s", oracleLog)
	}

	// Without the oracle, aws-auth decides nothing: fail closed. The
	// creator does not need it.
	if err := syscall.Kill(-c.OraclePID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && syscall.Kill(c.OraclePID, 0) == nil; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	c.OraclePID = 0
	expect("oracle down", root, "")
	expect("oracle down", creator, "kubernetes-admin", "system:masters")
	webhookLog, _ = os.ReadFile(filepath.Join(c.Dir, "webhook.log"))
	if !strings.Contains(string(webhookLog), "asking aws-iam-authenticator") {
		t.Errorf("webhook.log does not say the oracle was unreachable:\n%s", webhookLog)
	}
}
