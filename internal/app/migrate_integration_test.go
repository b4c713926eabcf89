package app

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/devstack"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/eksemu"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	"github.com/iammap/iammap/internal/ekstoken"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// migrationPrincipals are the identities of a cluster that grew up on aws-auth.
func migrationPrincipals() map[string]authwebhook.Principal {
	ps := map[string]authwebhook.Principal{}
	for name, arn := range map[string]string{
		"creator":         "arn:aws:iam::111122223333:user/creator",
		"nodes-linux":     "arn:aws:iam::111122223333:role/eks-nodes-linux",
		"nodes-windows":   "arn:aws:iam::111122223333:role/eks-nodes-windows",
		"fargate":         "arn:aws:iam::111122223333:role/fargate-pods",
		"admin-role":      "arn:aws:iam::111122223333:role/platform/Admin",
		"alice":           "arn:aws:iam::111122223333:user/alice",
		"dev":             "arn:aws:iam::111122223333:role/dev",
		"partner":         "arn:aws:iam::444455556666:role/partner",
		"service-account": "arn:aws:iam::444455556666:user/anyone",
	} {
		ps[name] = authwebhook.NewPrincipal(name, arn)
	}
	// Nodes sign in with sessions named after their EC2 instance, which
	// {{EC2PrivateDNSName}} needs: EKS refuses any other session.
	for name, instance := range map[string]string{"nodes-linux": "i-0123456789abcdef0", "nodes-windows": "i-0fedcba987654321f"} {
		p := ps[name]
		p.SessionName = instance
		ps[name] = p
	}
	return ps
}

const migrationAWSAuthRoles = `- rolearn: arn:aws:iam::111122223333:role/eks-nodes-linux
  username: system:node:{{EC2PrivateDNSName}}
  groups: [system:bootstrappers, system:nodes]
- rolearn: arn:aws:iam::111122223333:role/eks-nodes-windows
  username: system:node:{{EC2PrivateDNSName}}
  groups: [eks:kube-proxy-windows, system:bootstrappers, system:nodes]
- rolearn: arn:aws:iam::111122223333:role/fargate-pods
  username: system:node:{{SessionName}}
  groups: [system:bootstrappers, system:nodes, system:node-proxier]
- rolearn: arn:aws:iam::111122223333:role/Admin
  username: admin:{{SessionName}}
  groups: [system:masters]
- rolearn: arn:aws:iam::111122223333:role/dev
  username: dev-old
  groups: [nothing]
- rolearn: arn:aws:iam::111122223333:role/dev
  username: dev:{{SessionName}}
  groups: [developers]
- rolearn: arn:aws:iam::444455556666:role/partner
  username: partner
  groups: [partners]
`

const migrationBlockers = `- rolearn: arn:aws:iam::111122223333:role/AWSServiceRoleForAmazonEMRContainers
  username: emr-containers
`

// startMigrationCluster starts a dedicated CONFIG_MAP cluster (mode changes
// are one way, so each target mode needs its own) with a realistic aws-auth.
func startMigrationCluster(t *testing.T, withBlockers bool) (*devstack.Cluster, map[string]authwebhook.Principal) {
	t.Helper()
	ps := migrationPrincipals()
	var list []authwebhook.Principal
	for _, p := range ps {
		list = append(list, p)
	}
	dir := t.TempDir()
	c, err := devstack.Start(context.Background(), devstack.Options{BinDir: stacktest.BinDir(), Dir: dir, EKS: &devstack.EKSOptions{
		AuthMode: eksemu.ModeConfigMap, Principals: list, CreatorARN: ps["creator"].ARN,
		IAMPrincipals: []string{"arn:aws:iam::111122223333:role/aws-service-role/emr-containers.amazonaws.com/AWSServiceRoleForAmazonEMRContainers"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	admin, err := kubernetes.NewForConfig(c.RESTConfig(c.Admin))
	if err != nil {
		t.Fatal(err)
	}
	roles := migrationAWSAuthRoles
	data := map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:user/alice\n  username: alice\n  groups: [system:masters]\n"}
	if withBlockers {
		roles += migrationBlockers
		data["mapAccounts"] = "- \"444455556666\"\n"
	}
	data["mapRoles"] = roles
	ctx := context.Background()
	if _, err := admin.CoreV1().ConfigMaps("kube-system").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "aws-auth", Namespace: "kube-system"}, Data: data}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Developers may read pods; nothing else is granted by RBAC.
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "developers"}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "pod-reader"}, Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "developers"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return c, ps
}

// answers is what each principal gets for a few requests, with real tokens.
func answers(t *testing.T, c *devstack.Cluster, ps map[string]authwebhook.Principal) map[string]string {
	t.Helper()
	waitNextSecond()
	out := map[string]string{}
	for name, p := range ps {
		client := sts.New(sts.Options{Region: c.Region, Credentials: credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, "")})
		tok, err := ekstoken.Generate(context.Background(), client, c.ClusterName)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := kubernetes.NewForConfig(&rest.Config{Host: c.Server, BearerToken: tok.Value, TLSClientConfig: rest.TLSClientConfig{CAFile: c.CAFile}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var codes []string
		for _, call := range []func() error{
			func() error { _, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); return err },
			func() error { _, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); return err },
			func() error { _, err := cs.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{}); return err },
		} {
			codes = append(codes, statusOf(t, call()))
		}
		out[name] = strings.Join(codes, ",")
	}
	return out
}

func statusOf(t *testing.T, err error) string {
	switch {
	case err == nil:
		return "200"
	case apierrors.IsForbidden(err):
		return "403"
	case apierrors.IsUnauthorized(err):
		return "401"
	}
	t.Fatalf("unexpected error: %v", err)
	return ""
}

func TestIntegrationMigrateKeepsEveryAnswer(t *testing.T) {
	stacktest.RequireIntegration(t)
	for _, tc := range []struct {
		target   string
		blockers bool
	}{{"API_AND_CONFIG_MAP", true}, {"API", false}} {
		t.Run(tc.target, func(t *testing.T) {
			c, ps := startMigrationCluster(t, tc.blockers)
			env := stacktest.ClusterEnv(c, ps["creator"])
			before := answers(t, c, ps)
			if before["alice"] != "200,200,200" || before["dev"] != "403,200,403" || before["nodes-linux"] != "403,403,403" {
				t.Fatalf("the fixture does not exercise RBAC as intended: %v", before)
			}

			plan := mustIammap(t, env, "migrate", "--target-authentication-mode", tc.target)
			if !regexp.MustCompile(`mapRoles\[0\] arn:aws:iam::111122223333:role/eks-nodes-linux\s+create\s+EC2_LINUX`).MatchString(plan) {
				t.Errorf("plan does not turn the Linux node role into EC2_LINUX:\n%s", plan)
			}
			for _, want := range []string{
				"EC2_WINDOWS arn:aws:iam::111122223333:role/eks-nodes-windows",
				"FARGATE_LINUX arn:aws:iam::111122223333:role/fargate-pods",
				"STANDARD arn:aws:iam::111122223333:role/platform/Admin",
				"path restored from IAM",
				"duplicate: mapRoles[5]",
				"cross-account principal",
				"nothing changed",
			} {
				if !strings.Contains(plan, want) {
					t.Errorf("plan lacks %q:\n%s", want, plan)
				}
			}
			if tc.blockers && (!strings.Contains(plan, "service-linked role") || !strings.Contains(plan, "mapAccounts 444455556666") || !strings.Contains(plan, "blocks API mode")) {
				t.Errorf("plan does not report the unmigratable entries:\n%s", plan)
			}
			if mode, _ := c.Emulator.AuthMode(c.ClusterName); mode != eksemu.ModeConfigMap {
				t.Fatalf("a plan without --approve changed the mode to %s", mode)
			}

			backup := filepath.Join(t.TempDir(), "backup.yaml")
			args := []string{"migrate", "--target-authentication-mode", tc.target, "--approve", "--poll-interval", "50ms", "--backup", backup}
			if tc.target == "API" {
				args = append(args, "--delete-aws-auth")
			}
			out := mustIammap(t, env, args...)
			if !strings.Contains(out, "migrated cluster") {
				t.Fatalf("migrate --approve:\n%s", out)
			}
			mode, _ := c.Emulator.AuthMode(c.ClusterName)
			if mode != tc.target {
				t.Errorf("mode after migration = %s, want %s", mode, tc.target)
			}
			after := answers(t, c, ps)
			for name, b := range before {
				if after[name] != b {
					t.Errorf("%s: %s before the migration, %s after", name, b, after[name])
				}
			}
			if tc.target == "API" {
				saved, err := os.ReadFile(backup)
				if err != nil || !strings.Contains(string(saved), "eks-nodes-linux") {
					t.Errorf("backup %s: %v", backup, err)
				}
				if doc, err := awsauth.DecodeManifest(saved); err != nil || len(doc.Set().Roles) != 7 {
					t.Errorf("backup does not decode to the original aws-auth: %v", err)
				}
			}
			// Running it again changes nothing.
			if again := mustIammap(t, env, "migrate", "--target-authentication-mode", tc.target); tc.target == string(modeAPIAndCM) && !strings.Contains(again, "0 to create") {
				t.Errorf("second plan:\n%s", again)
			}
		})
	}
}
