package explain

import (
	"context"
	"errors"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestReadRBACNamesTheRefusedRead(t *testing.T) {
	tests := []struct {
		refuse    string // resource whose list fails
		forbidden bool
		wantHint  string // "" no hint
	}{
		{refuse: "clusterroles", forbidden: true, wantHint: "may not list clusterroles.rbac.authorization.k8s.io at the cluster scope"},
		{refuse: "roles", forbidden: true, wantHint: "may not list roles.rbac.authorization.k8s.io in all namespaces"},
		{refuse: "clusterrolebindings", forbidden: true, wantHint: "may not list clusterrolebindings.rbac.authorization.k8s.io at the cluster scope"},
		{refuse: "rolebindings", forbidden: true, wantHint: "may not list rolebindings.rbac.authorization.k8s.io in all namespaces"},
		{refuse: "rolebindings", forbidden: false},
	}
	for _, tt := range tests {
		t.Run(tt.refuse, func(t *testing.T) {
			cs := fake.NewClientset()
			gr := schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: tt.refuse}
			cs.PrependReactor("list", tt.refuse, func(k8stesting.Action) (bool, runtime.Object, error) {
				if tt.forbidden {
					return true, nil, apierrors.NewForbidden(gr, "", errors.New(`User "dev" cannot list resource`))
				}
				return true, nil, apierrors.NewServiceUnavailable("etcd is down")
			})
			_, err := ReadRBAC(context.Background(), cs)
			var re *ReadError
			if !errors.As(err, &re) || re.Resource != tt.refuse || re.Verb != "list" {
				t.Fatalf("err = %#v, want a ReadError for list %s", err, tt.refuse)
			}
			if apierrors.IsForbidden(err) != tt.forbidden {
				t.Errorf("IsForbidden(%v) = %v: the API status must stay reachable", err, !tt.forbidden)
			}
			hint := re.Hint()
			if tt.wantHint == "" {
				if hint != "" {
					t.Errorf("hint %q for a failure that is not a refusal", hint)
				}
				return
			}
			if !strings.Contains(hint, tt.wantHint) {
				t.Errorf("hint = %q, want it to say %q", hint, tt.wantHint)
			}
			if strings.Contains(hint, "configmaps") || strings.Contains(hint, "kube-system") {
				t.Errorf("hint = %q names aws-auth's configmaps, which were read", hint)
			}
		})
	}
}

func TestReadRBACReadsAll(t *testing.T) {
	cs := fake.NewClientset(
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "view"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "a"}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "crb"}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "rb", Namespace: "b"}},
	)
	got, err := ReadRBAC(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ClusterRoles) != 1 || len(got.Roles) != 1 || len(got.ClusterRoleBindings) != 1 || len(got.RoleBindings) != 1 {
		t.Fatalf("got %+v", got)
	}
}
