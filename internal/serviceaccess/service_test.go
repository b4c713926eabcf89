package serviceaccess

import (
	"context"
	"slices"
	"testing"

	"github.com/iammap/iammap/mapping"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestLookup(t *testing.T) {
	cases := []struct {
		name, role, username string
		ok                   bool
	}{
		{"emr-containers", "arn:aws:iam::111122223333:role/AWSServiceRoleForAmazonEMRContainers", "emr-containers", true},
		{"aws-batch", "arn:aws:iam::111122223333:role/AWSServiceRoleForBatch", "aws-batch", true},
		{"AWS-Batch", "", "", false},
		{"batch", "", "", false},
		{"", "", "", false},
	}
	for _, c := range cases {
		s, ok := Lookup(c.name)
		if ok != c.ok {
			t.Errorf("Lookup(%q) ok = %v, want %v", c.name, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		m, err := s.Mapping("aws", "111122223333")
		if err != nil {
			t.Fatalf("%s: Mapping: %v", c.name, err)
		}
		if m.ARN != c.role || m.Source != mapping.MapRoles || m.Username != c.username || len(m.Groups) != 0 || s.Username != c.username {
			t.Errorf("%s: mapping %+v (service user %q), want rolearn %s username %s and no groups", c.name, m, s.Username, c.role, c.username)
		}
	}
	if got, want := Names(), []string{"emr-containers", "aws-batch"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
}

func TestMappingPartitionAndBadAccount(t *testing.T) {
	s, _ := Lookup(AWSBatch)
	m, err := s.Mapping("aws-cn", "111122223333")
	if err != nil || m.ARN != "arn:aws-cn:iam::111122223333:role/AWSServiceRoleForBatch" {
		t.Errorf("aws-cn: %+v, %v", m, err)
	}
	if _, err := s.Mapping("aws", "not-an-account"); err == nil {
		t.Error("a malformed account gave a mapping")
	}
}

func verbs(actions []Action) []string {
	var out []string
	for _, a := range actions {
		out = append(out, a.Verb+" "+a.Kind+" "+where(a.Namespace, a.Name))
	}
	return out
}

// TestEnsureBatchRBACConverges runs EnsureBatchRBAC on a fake clientset:
// create, re-run (nothing changes), drift (a rule and a binding's subject
// changed by hand) and repair. The real API server's view, dry runs and
// what the rules allow are in the integration test.
func TestEnsureBatchRBACConverges(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	steps := []struct {
		name   string
		before func()
		want   []string
	}{
		{"create", nil, []string{
			"created Namespace batch",
			"created ClusterRole aws-batch-cluster-role",
			"created ClusterRoleBinding aws-batch-cluster-role-binding",
			"created Role batch/aws-batch-compute-environment-role",
			"created RoleBinding batch/aws-batch-compute-environment-role-binding",
		}},
		{"again", nil, []string{
			"unchanged Namespace batch",
			"unchanged ClusterRole aws-batch-cluster-role",
			"unchanged ClusterRoleBinding aws-batch-cluster-role-binding",
			"unchanged Role batch/aws-batch-compute-environment-role",
			"unchanged RoleBinding batch/aws-batch-compute-environment-role-binding",
		}},
		{"repair", func() {
			cr, _ := cs.RbacV1().ClusterRoles().Get(ctx, batchClusterRole, metav1.GetOptions{})
			cr.Rules = cr.Rules[:1]
			if _, err := cs.RbacV1().ClusterRoles().Update(ctx, cr, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			rb, _ := cs.RbacV1().RoleBindings("batch").Get(ctx, batchRoleBinding, metav1.GetOptions{})
			rb.Subjects = []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "someone-else"}}
			if _, err := cs.RbacV1().RoleBindings("batch").Update(ctx, rb, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}, []string{
			"unchanged Namespace batch",
			"updated ClusterRole aws-batch-cluster-role",
			"unchanged ClusterRoleBinding aws-batch-cluster-role-binding",
			"unchanged Role batch/aws-batch-compute-environment-role",
			"updated RoleBinding batch/aws-batch-compute-environment-role-binding",
		}},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		actions, err := EnsureBatchRBAC(ctx, cs, "batch", false)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := verbs(actions); !slices.Equal(got, s.want) {
			t.Errorf("%s: actions\n%v\nwant\n%v", s.name, got, s.want)
		}
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "batch", metav1.GetOptions{})
	if err != nil || ns.Labels["name"] != "batch" {
		t.Errorf("namespace: %v, %v; want the label name=batch AWS's instructions give it", ns, err)
	}
}

// TestEnsureEMRRBACThroughLookup checks that the generic description runs
// the same code as EnsureEMRRBAC, which create and internal/cluster call.
func TestEnsureEMRRBACThroughLookup(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	s, _ := Lookup(EMRContainers)
	actions, err := s.EnsureRBAC(ctx, cs, "spark", false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := verbs(actions), []string{"created Role spark/emr-containers", "created RoleBinding spark/emr-containers"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
	actions, err = EnsureEMRRBAC(ctx, cs.RbacV1(), "spark", false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := verbs(actions), []string{"unchanged Role spark/emr-containers", "unchanged RoleBinding spark/emr-containers"}; !slices.Equal(got, want) {
		t.Errorf("again: actions %v, want %v", got, want)
	}
}
