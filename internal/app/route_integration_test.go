package app

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/iammap/iammap/internal/devstack"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/eksemu"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	"github.com/iammap/iammap/internal/ekstoken"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// routeStack is a dedicated cluster in one authentication mode (modes move
// one way only, so each needs its own), with a creator who runs iammap and
// a test user who signs in with real tokens.
type routeStack struct {
	c                 *devstack.Cluster
	creator, testuser authwebhook.Principal
	env               []string
}

const breakGlassRole = "arn:aws:iam::111122223333:role/break-glass"

func startRouteStack(t *testing.T, mode string) *routeStack {
	t.Helper()
	stacktest.RequireIntegration(t)
	creator := authwebhook.NewPrincipal("creator", "arn:aws:iam::111122223333:user/creator")
	testuser := authwebhook.NewPrincipal("testuser", "arn:aws:iam::111122223333:user/testuser")
	c, err := devstack.Start(context.Background(), devstack.Options{BinDir: stacktest.BinDir(), Dir: t.TempDir(), EKS: &devstack.EKSOptions{
		AuthMode: mode, Principals: []authwebhook.Principal{creator, testuser}, CreatorARN: creator.ARN,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	if mode != eksemu.ModeAPI {
		// A visible admin besides the test user: in CONFIG_MAP mode the
		// creator's admin is invisible, and the guard keeps the last one.
		admin, err := kubernetes.NewForConfig(c.RESTConfig(c.Admin))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.CoreV1().ConfigMaps("kube-system").Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "aws-auth", Namespace: "kube-system"},
			Data: map[string]string{"mapRoles": "- rolearn: " + breakGlassRole + "\n  username: break-glass\n  groups: [system:masters]\n"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return &routeStack{c: c, creator: creator, testuser: testuser, env: stacktest.ClusterEnv(c, creator)}
}

// status is what p gets for `kubectl get nodes` with a fresh token.
func (s *routeStack) status(t *testing.T, p authwebhook.Principal) string {
	t.Helper()
	waitNextSecond()
	client := sts.New(sts.Options{Region: s.c.Region, Credentials: credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, "")})
	tok, err := ekstoken.Generate(context.Background(), client, s.c.ClusterName)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: s.c.Server, BearerToken: tok.Value, TLSClientConfig: rest.TLSClientConfig{CAFile: s.c.CAFile}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	return statusOf(t, err)
}

func (s *routeStack) expect(t *testing.T, step, want string) {
	t.Helper()
	if got := s.status(t, s.testuser); got != want {
		t.Fatalf("%s: testuser got %s on get nodes, want %s", step, got, want)
	}
}

// run is iammap as the creator; it must succeed, and its stderr must
// contain each of wants.
func (s *routeStack) run(t *testing.T, wants []string, args ...string) string {
	t.Helper()
	stdout, stderr, err := iammapEnv(t, s.env, args...)
	if err != nil {
		t.Fatalf("iammap %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	for _, w := range wants {
		if !strings.Contains(stderr, w) {
			t.Errorf("iammap %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, stderr)
		}
	}
	return stdout
}

// TestIntegrationStoryInEveryModeWithoutABackendFlag is the mission's
// story with the mission's own lines, no --backend and no noun, in each
// authentication mode: 401, system:masters 200, a remap to a group no RBAC
// binding names 403 (the translated admin policy must not survive it),
// delete --all 401. Then the node-role line.
func TestIntegrationStoryInEveryModeWithoutABackendFlag(t *testing.T) {
	for _, tc := range []struct {
		mode       string
		where, why string
	}{
		{eksemu.ModeConfigMap, "goes to aws-auth", "CONFIG_MAP mode, where EKS reads only aws-auth"},
		{eksemu.ModeAPIAndConfigMap, "goes to the access entry", "a new principal gets an access entry"},
		{eksemu.ModeAPI, "goes to the access entry", "API mode, where EKS reads only access entries"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			s := startRouteStack(t, tc.mode)
			arn := s.testuser.ARN
			s.expect(t, "unmapped", "401")
			translated := "system:masters becomes AmazonEKSClusterAdminPolicy at cluster scope"
			wants := []string{tc.where, tc.why}
			if tc.mode != eksemu.ModeConfigMap {
				wants = append(wants, translated, "associated AmazonEKSClusterAdminPolicy")
			}
			s.run(t, wants, "create", "--arn", arn, "--username", "testuser", "--group", "system:masters")
			s.expect(t, "mapped to system:masters", "200")

			wants = []string{"overrides it"}
			switch tc.mode {
			case eksemu.ModeAPIAndConfigMap:
				wants = []string{"has an access entry, which EKS uses instead", "disassociated AmazonEKSClusterAdminPolicy"}
			case eksemu.ModeAPI:
				wants = []string{tc.why, "disassociated AmazonEKSClusterAdminPolicy"}
			}
			s.run(t, wants, "create", "--arn", arn, "--username", "testuser", "--group", "no-rbac-here")
			s.expect(t, "remapped to a group no RBAC binding names", "403")

			s.run(t, []string{"is mapped nowhere now"}, "delete", "--arn", arn, "--all")
			s.expect(t, "mapping deleted", "401")

			node := "arn:aws:iam::111122223333:role/eks-node-role"
			s.run(t, nil, "create", "--arn", node, "--username", "system:node:{{EC2PrivateDNSName}}", "--group", "system:bootstrappers,system:nodes")
			var rows []map[string]any
			if err := json.Unmarshal([]byte(s.run(t, nil, "get", "--arn", node, "-o", "json")), &rows); err != nil {
				t.Fatal(err)
			}
			wantSource, wantType := "mapRoles", ""
			if tc.mode != eksemu.ModeConfigMap {
				wantSource, wantType = "access-entry", "EC2_LINUX"
			}
			if len(rows) != 1 || rows[0]["source"] != wantSource || (wantType != "" && rows[0]["type"] != wantType) {
				t.Errorf("node role rows = %v, want one %s %s", rows, wantSource, wantType)
			}
		})
	}
}

// TestIntegrationRoutingInBothModesKeepsEachPrincipalWhereItLives covers
// API_AND_CONFIG_MAP's middle rows: a principal only aws-auth maps stays
// there, an access entry that would override an aws-auth admin mapping
// says before → after and is refused when it locks the caller out, and
// delete revokes from both.
func TestIntegrationRoutingInBothModesKeepsEachPrincipalWhereItLives(t *testing.T) {
	s := startRouteStack(t, eksemu.ModeAPIAndConfigMap)
	arn := s.testuser.ARN

	// Only in aws-auth: a remap stays there, never a silent access entry.
	s.run(t, nil, "create", "iamidentitymapping", "--arn", arn, "--username", "testuser", "--group", "system:masters")
	s.expect(t, "aws-auth admin", "200")
	s.run(t, []string{"goes to aws-auth", "is mapped in aws-auth and has no access entry", "overrides it"},
		"create", "--arn", arn, "--username", "testuser", "--group", "viewers")
	s.expect(t, "aws-auth remap", "403")
	if _, stderr, err := iammapEnv(t, s.env, "get", "accessentry", "--arn", arn); err == nil {
		t.Errorf("an access entry appeared for a principal that lives in aws-auth: %s", stderr)
	}

	// An access-entry option moves it: before → after is printed.
	s.run(t, []string{"goes to the access entry", "now decides instead of aws-auth", "aws-auth mapUsers[1]", "→ access entry " + arn},
		"create", "--arn", arn, "--access-policy", "AmazonEKSClusterAdminPolicy")
	s.expect(t, "access entry admin overrides the aws-auth viewer", "200")

	// delete revokes from both: aws-auth entries and the access entry.
	s.run(t, []string{"removes from aws-auth and the access entry", "deleted access entry " + arn, "is mapped nowhere now"},
		"delete", "--arn", arn, "--all")
	s.expect(t, "revoked everywhere", "401")

	// The caller's own aws-auth admin mapping overridden by a weaker access
	// entry: the guard refuses, naming the loss.
	s.run(t, nil, "create", "iamidentitymapping", "--arn", s.creator.ARN, "--username", "creator", "--group", "system:masters")
	s.run(t, nil, "delete", "accessentry", "--arn", s.creator.ARN)
	// A new token: the API server caches a token's identity, and the
	// creator's last one was its (now deleted) access entry's.
	waitNextSecond()
	_, stderr, err := iammapEnv(t, s.env, "create", "--arn", s.creator.ARN, "--access-policy", "AmazonEKSViewPolicy")
	if err == nil || !strings.Contains(stderr, "would lose cluster-admin") || !strings.Contains(stderr, "now decides instead of aws-auth") {
		t.Errorf("overriding one's own aws-auth admin with a view entry: %v\n%s", err, stderr)
	}
	if got := s.status(t, s.creator); got != "200" {
		t.Errorf("creator after the refused change got %s", got)
	}
}
