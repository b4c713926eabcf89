package awsauth_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"

	. "github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	"github.com/iammap/iammap/mapping"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

var resetAWSAuth = stacktest.SetAWSAuth

func fixtureData(t *testing.T, name string) map[string]string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := sigsyaml.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	return cm.Data
}

var getAWSAuth = stacktest.AWSAuth

func addUser(name string) Change {
	return func(doc *Document) (bool, error) {
		r, err := AddMapping(doc, mapping.Mapping{Source: mapping.MapUsers, ARN: "arn:aws:iam::111122223333:user/" + name, Username: name}, false)
		return !r.Unchanged, err
	}
}

func TestIntegrationWriteKeepsUnknownKeysAndFieldsByteForByte(t *testing.T) {
	cs := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	before := resetAWSAuth(t, cs, fixtureData(t, "realworld.yaml"))
	store := NewStore(cs.CoreV1().ConfigMaps(Namespace))
	res, err := store.Modify(context.Background(), addUser("bob"), false)
	if err != nil || !res.Written {
		t.Fatalf("Modify = %+v, %v", res, err)
	}
	after := getAWSAuth(t, cs)
	if after.ResourceVersion == before.ResourceVersion {
		t.Error("resourceVersion did not change after a write")
	}
	for k, v := range before.Data {
		if k != "mapUsers" && after.Data[k] != v {
			t.Errorf("data.%s changed:\n%q\n->\n%q", k, v, after.Data[k])
		}
	}
	if !strings.HasPrefix(after.Data["mapUsers"], before.Data["mapUsers"]) || !strings.Contains(after.Data["mapUsers"], "user/bob") {
		t.Errorf("mapUsers = %q", after.Data["mapUsers"])
	}
	if after.Labels["owner"] != "test" {
		t.Errorf("labels lost: %v", after.Labels)
	}
	for _, keep := range []string{"team: platform", "userid: AROAEXAMPLE", "permissionSetName: ReadOnly", "# node group managed by eksctl", "customKey"} {
		if !strings.Contains(fmt.Sprint(after.Data), keep) {
			t.Errorf("%q lost", keep)
		}
	}
}

func TestIntegrationNoopWritesNothing(t *testing.T) {
	cs := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	before := resetAWSAuth(t, cs, map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:user/bob\n  username: bob\n"})
	store := NewStore(cs.CoreV1().ConfigMaps(Namespace))
	sameInOtherCase := func(doc *Document) (bool, error) {
		r, err := AddMapping(doc, mapping.Mapping{Source: mapping.MapUsers, ARN: "ARN:AWS:IAM::111122223333:USER/BOB", Username: "bob"}, false)
		return !r.Unchanged, err
	}
	res, err := store.Modify(context.Background(), sameInOtherCase, false)
	if err != nil || res.Written {
		t.Fatalf("Modify = %+v, %v", res, err)
	}
	if rv := getAWSAuth(t, cs).ResourceVersion; rv != before.ResourceVersion {
		t.Errorf("resourceVersion %s -> %s after a no-op", before.ResourceVersion, rv)
	}
}

func TestIntegrationBrokenKeyIsNotWritten(t *testing.T) {
	cs := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	before := resetAWSAuth(t, cs, fixtureData(t, "broken-key.yaml"))
	store := NewStore(cs.CoreV1().ConfigMaps(Namespace))
	_, err := store.Modify(context.Background(), func(doc *Document) (bool, error) {
		r, err := AddMapping(doc, mapping.Mapping{Source: mapping.MapRoles, ARN: "arn:aws:iam::111122223333:role/x"}, false)
		return !r.Unchanged, err
	}, false)
	if err == nil || !strings.Contains(err.Error(), "mapRoles") {
		t.Fatalf("err = %v, want a parse error naming mapRoles", err)
	}
	if rv := getAWSAuth(t, cs).ResourceVersion; rv != before.ResourceVersion {
		t.Errorf("resourceVersion changed after a refused write")
	}
}

func TestIntegrationConflictIsRetriedWithoutLosingTheOtherWrite(t *testing.T) {
	cs := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	resetAWSAuth(t, cs, map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:user/first\n"})
	store := NewStore(cs.CoreV1().ConfigMaps(Namespace))
	calls := 0
	res, err := store.Modify(context.Background(), func(doc *Document) (bool, error) {
		calls++
		if calls == 1 {
			// Another writer changes aws-auth between our read and our write.
			other := NewStore(cs.CoreV1().ConfigMaps(Namespace))
			if _, err := other.Modify(context.Background(), addUser("other"), false); err != nil {
				return false, err
			}
		}
		return addUser("mine")(doc)
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 2 || calls != 2 {
		t.Errorf("attempts = %d, change calls = %d; want 2 and 2 (one conflict)", res.Attempts, calls)
	}
	got := Decode(getAWSAuth(t, cs).Data).Set().Users
	var names []string
	for _, u := range got {
		names = append(names, u.Username)
	}
	if strings.Join(names, ",") != ",other,mine" {
		t.Errorf("users = %q, want first (no username), other, mine", names)
	}
}

func TestIntegrationConcurrentWritersAllLand(t *testing.T) {
	cs := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	resetAWSAuth(t, cs, nil)
	const writers, each = 6, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			store := NewStore(stacktest.Clientset(t, stacktest.Cluster(t).Admin).CoreV1().ConfigMaps(Namespace))
			for i := range each {
				if _, err := store.Modify(context.Background(), addUser(fmt.Sprintf("w%d-%d", w, i)), false); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(Decode(getAWSAuth(t, cs).Data).Set().Users); n != writers*each {
		t.Errorf("%d users mapped, want %d", n, writers*each)
	}
}

func TestIntegrationMissingConfigMap(t *testing.T) {
	cs := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	resetAWSAuth(t, cs, nil)
	store := NewStore(cs.CoreV1().ConfigMaps(Namespace))
	snap, err := store.Load(context.Background())
	if err != nil || snap.Exists() || len(snap.Doc.Entries()) != 0 {
		t.Fatalf("Load = %+v, %v", snap, err)
	}
	_, err = store.Modify(context.Background(), func(doc *Document) (bool, error) {
		_, err := DeleteMapping(doc, "arn:aws:iam::111122223333:user/x", false)
		return err == nil, err
	}, false)
	if err == nil {
		t.Fatal("delete of an absent mapping succeeded")
	}
	if _, err := cs.CoreV1().ConfigMaps(Namespace).Get(context.Background(), Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("aws-auth exists after a failed delete: %v", err)
	}
	res, err := store.Modify(context.Background(), addUser("new"), false)
	if err != nil || !res.Created {
		t.Fatalf("Modify on missing ConfigMap = %+v, %v", res, err)
	}
	if got := getAWSAuth(t, cs).Data; !maps.Equal(got, res.After) {
		t.Errorf("stored %v, want %v", got, res.After)
	}
}

func TestIntegrationDryRunStoresNothingButIsAuthorised(t *testing.T) {
	cs := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	before := resetAWSAuth(t, cs, map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:user/a\n"})
	store := NewStore(cs.CoreV1().ConfigMaps(Namespace))
	res, err := store.Modify(context.Background(), addUser("b"), true)
	if err != nil || res.Written || !res.Changed() {
		t.Fatalf("dry run = %+v, %v", res, err)
	}
	if cm := getAWSAuth(t, cs); cm.ResourceVersion != before.ResourceVersion || !maps.Equal(cm.Data, before.Data) {
		t.Error("dry run changed aws-auth")
	}
	nobody := NewStore(stacktest.Clientset(t, stacktest.Nobody).CoreV1().ConfigMaps(Namespace))
	if _, err := nobody.Modify(context.Background(), addUser("c"), true); !apierrors.IsForbidden(err) {
		t.Errorf("dry run by a user without RBAC: err = %v, want Forbidden", err)
	}
}
