package awsauth_test

import (
	"context"
	"maps"
	"testing"

	. "github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestIntegrationEveryWriteIsBackedUpAndRestoresByteForByte(t *testing.T) {
	cs := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	ctx := context.Background()
	cms := cs.CoreV1().ConfigMaps(Namespace)
	old, _ := NewStore(cms).Backups(ctx)
	for _, b := range old {
		_ = cms.Delete(ctx, b.Name, metav1.DeleteOptions{})
	}
	original := fixtureData(t, "realworld.yaml")
	resetAWSAuth(t, cs, original)
	store := NewStore(cms)
	store.History = 3
	var contents []map[string]string
	for _, name := range []string{"a", "b", "c", "d"} {
		contents = append(contents, getAWSAuth(t, cs).Data)
		if _, err := store.Modify(ctx, addUser(name), false); err != nil {
			t.Fatal(err)
		}
	}
	backups, err := store.Backups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(backups) != 3 {
		t.Fatalf("%d backups, want the newest 3", len(backups))
	}
	for i, b := range backups {
		if want := contents[len(contents)-1-i]; !maps.Equal(b.Data, want) {
			t.Errorf("backup %d does not hold the content its write replaced", i+1)
		}
	}
	beforeRollback := getAWSAuth(t, cs).Data
	// Back to the content before the second write, byte for byte.
	if _, err := store.Modify(ctx, Restore(backups[2]), false); err != nil {
		t.Fatal(err)
	}
	if got := getAWSAuth(t, cs).Data; !maps.Equal(got, contents[1]) {
		t.Errorf("restored data differs from the backup")
	}
	// The rollback was itself backed up: it can be undone.
	latest, _ := store.Backups(ctx)
	if got := latest[0].Data; !maps.Equal(got, beforeRollback) {
		t.Errorf("the rollback did not back up what it replaced")
	}
	if n := len(latest); n != 3 {
		t.Errorf("%d backups after the rollback, want History = 3", n)
	}
}
