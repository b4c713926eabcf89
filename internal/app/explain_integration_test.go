package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func ignoreExists(t *testing.T, err error) {
	t.Helper()
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// explainSetup gives four principals four ways in: aws-auth with a
// namespaced RoleBinding, an access entry with a namespaced policy plus a
// group bound cluster-wide, an access entry with a cluster-wide policy, and
// nothing at all.
func explainSetup(t *testing.T) []string {
	ctx := context.Background()
	env := resetIdentities(t)
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	_, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, metav1.CreateOptions{})
	ignoreExists(t, err)
	_, err = admin.RbacV1().Roles("team-a").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-editor"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "create", "delete"}}}}, metav1.CreateOptions{})
	ignoreExists(t, err)
	_, err = admin.RbacV1().RoleBindings("team-a").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "developers"},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-editor"}, Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "developers"}}}, metav1.CreateOptions{})
	ignoreExists(t, err)
	_, err = admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "explain-configmap-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}}}, metav1.CreateOptions{})
	ignoreExists(t, err)
	_, err = admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "explain-readers"},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "explain-configmap-reader"}, Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "cm-readers"}}}, metav1.CreateOptions{})
	ignoreExists(t, err)
	mustIammap(t, env, "create", "--backend", "aws-auth", "--arn", stacktest.TestUser.ARN, "--username", "testuser", "--group", "developers")
	mustIammap(t, env, "create", "--arn", stacktest.Dev.ARN, "--group", "cm-readers", "--access-policy", "AmazonEKSViewPolicy", "--access-scope", "namespace=team-a")
	mustIammap(t, env, "create", "--arn", stacktest.Ops.ARN, "--access-policy", "AmazonEKSEditPolicy")
	return env
}

type explainCase struct {
	who             authwebhook.Principal
	verb, resource  string
	namespace       string // "" for cluster-scoped
	group, resGroup string
}

// realStatus is what a request of the principal's own token gets: 401, 403,
// or anything else (404, 400, 201...) meaning authorised.
func realStatus(t *testing.T, cs *kubernetes.Clientset, c explainCase) int {
	prefix := "/api/v1"
	if c.resGroup != "" {
		prefix = "/apis/" + c.resGroup + "/v1"
	}
	if c.namespace != "" {
		prefix += "/namespaces/" + c.namespace
	}
	path := prefix + "/" + c.resource
	method := map[string]string{"get": "GET", "list": "GET", "create": "POST", "delete": "DELETE"}[c.verb]
	if c.verb == "get" || c.verb == "delete" {
		path += "/iammap-does-not-exist"
	}
	req := cs.CoreV1().RESTClient().Verb(method).AbsPath(path)
	if c.verb == "create" {
		req = req.Param("dryRun", "All").Body([]byte(`{}`)).SetHeader("Content-Type", "application/json")
	}
	var code int
	req.Do(context.Background()).StatusCode(&code)
	return code
}

func TestIntegrationExplainAgreesWithTheAPIServer(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := explainSetup(t)
	defer func() {
		for _, p := range []authwebhook.Principal{stacktest.Dev, stacktest.Ops} {
			iammapEnv(t, env, "delete", "--arn", p.ARN, "--ignore-not-found")
		}
		resetIdentities(t)
	}()
	cl := stacktest.Cluster(t)
	admin := stacktest.Clientset(t, cl.Admin)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "IAMMAP_") {
			t.Setenv(k, v)
		}
	}
	principals := []authwebhook.Principal{stacktest.TestUser, stacktest.Dev, stacktest.Ops, stacktest.Ghost}
	clients := map[string]*kubernetes.Clientset{}
	for _, p := range principals {
		cs, err := kubernetes.NewForConfig(&rest.Config{Host: cl.Server, BearerToken: freshToken(t, p, cl.ClusterName), TLSClientConfig: rest.TLSClientConfig{CAFile: cl.CAFile}})
		if err != nil {
			t.Fatal(err)
		}
		clients[p.Name] = cs
	}
	var cases []explainCase
	for _, p := range principals {
		for _, verb := range []string{"get", "list", "create", "delete"} {
			for _, ns := range []string{"default", "team-a"} {
				for _, r := range []struct{ res, group string }{{"pods", ""}, {"secrets", ""}, {"configmaps", ""}, {"deployments", "apps"}} {
					cases = append(cases, explainCase{who: p, verb: verb, resource: r.res, resGroup: r.group, namespace: ns})
				}
			}
			cases = append(cases, explainCase{who: p, verb: verb, resource: "nodes"})
		}
	}
	compared, allowed, denied, unauthorized := 0, 0, 0, 0
	for _, c := range cases {
		resource := c.resource
		if c.resGroup != "" {
			resource += "." + c.resGroup
		}
		ns := c.namespace
		if ns == "" {
			ns = "default"
		}
		var out, errOut bytes.Buffer
		err := Run(context.Background(), []string{"iammap", "explain", "--arn", c.who.ARN, "--can-i", c.verb, "-n", ns, "-o", "json", resource}, &out, &errOut)
		var explained struct {
			Allowed bool
			Status  int
			Reason  string
		}
		if jerr := jsonUnmarshal(out.Bytes(), &explained); jerr != nil {
			t.Fatalf("explain %v: %v %v %s", c, err, jerr, errOut.String())
		}
		real := realStatus(t, clients[c.who.Name], c)
		name := fmt.Sprintf("%s %s %s/%s", c.who.Name, c.verb, c.namespace, resource)
		switch {
		case explained.Status == http.StatusUnauthorized:
			if real != http.StatusUnauthorized {
				t.Errorf("%s: explain says 401, a real token got %d", name, real)
			}
		case explained.Allowed != (real != http.StatusForbidden && real != http.StatusUnauthorized):
			t.Errorf("%s: explain says allowed=%v (%s), a real token got %d", name, explained.Allowed, explained.Reason, real)
		}
		if explained.Status != http.StatusUnauthorized {
			// And the API server's own SubjectAccessReview for the same user.
			id := identityFor(t, c.who)
			sar, err := admin.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
				User: id.username, Groups: append(id.groups, "system:authenticated"), Extra: map[string]authzv1.ExtraValue{"iammap.local/principalArn": {c.who.ARN}},
				ResourceAttributes: &authzv1.ResourceAttributes{Verb: c.verb, Group: c.resGroup, Resource: c.resource, Namespace: c.namespace},
			}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed != explained.Allowed {
				t.Errorf("%s: explain says allowed=%v (%s), SubjectAccessReview says %v (%s)", name, explained.Allowed, explained.Reason, sar.Status.Allowed, sar.Status.Reason)
			}
		}
		compared++
		switch {
		case explained.Status == http.StatusUnauthorized:
			unauthorized++
		case explained.Allowed:
			allowed++
		default:
			denied++
		}
	}
	t.Logf("compared %d cases (%d allowed, %d denied, %d unauthorized): explain vs a real token, and vs a SubjectAccessReview where mapped", compared, allowed, denied, unauthorized)
	if compared < 100 || allowed < 10 || denied < 10 || unauthorized == 0 {
		t.Errorf("%d cases compared (%d allowed, %d denied, %d unauthorized): the sample does not exercise every answer", compared, allowed, denied, unauthorized)
	}
}

type mappedIdentity struct {
	username string
	groups   []string
}

func identityFor(t *testing.T, p authwebhook.Principal) mappedIdentity {
	switch p.Name {
	case "testuser":
		return mappedIdentity{"testuser", []string{"developers"}}
	case "dev":
		return mappedIdentity{p.ARN, []string{"cm-readers"}}
	case "ops":
		return mappedIdentity{"arn:aws:sts::111122223333:assumed-role/ops/{{SessionName}}", nil}
	}
	t.Fatalf("no identity for %s", p.Name)
	return mappedIdentity{}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
