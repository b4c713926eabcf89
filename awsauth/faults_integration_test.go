package awsauth_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const awsAuthPath = "/namespaces/kube-system/configmaps/aws-auth"

// backupSelector finds every backup, verified or not.
var backupSelector = metav1.ListOptions{LabelSelector: "iammap.io/backup-of=aws-auth"}

// clearBackups deletes every backup ConfigMap, so a test counts its own.
func clearBackups(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	cms := cs.CoreV1().ConfigMaps(Namespace)
	if err := cms.DeleteCollection(context.Background(), metav1.DeleteOptions{}, backupSelector); err != nil {
		t.Fatal(err)
	}
}

// backupObjects lists the backup ConfigMaps as they are stored.
func backupObjects(t *testing.T, cs kubernetes.Interface) []corev1.ConfigMap {
	t.Helper()
	list, err := cs.CoreV1().ConfigMaps(Namespace).List(context.Background(), backupSelector)
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// warnings collects what a Store warns about.
type warnings struct {
	mu  sync.Mutex
	all []string
}

func (w *warnings) warn(format string, a ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all = append(w.all, fmt.Sprintf(format, a...))
}

func (w *warnings) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.all, "\n")
}

// proxied is a Store whose requests go through a fault proxy.
func proxied(t *testing.T) (*stacktest.FaultProxy, *Store, *warnings) {
	t.Helper()
	p := stacktest.NewFaultProxy(t)
	cs, err := kubernetes.NewForConfig(p.RESTConfig(stacktest.Cluster(t).Admin))
	if err != nil {
		t.Fatal(err)
	}
	store := NewStore(cs.CoreV1().ConfigMaps(Namespace))
	w := &warnings{}
	store.Backup.Warn = w.warn
	return p, store, w
}

func TestIntegrationLostReply(t *testing.T) {
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	other := addUser("someone-else")
	tests := []struct {
		name string
		// absent: aws-auth does not exist, so the write is a create.
		absent bool
		// fault arranges the failure on the proxy.
		fault func(p *stacktest.FaultProxy, path string)
		// applied: the change is in aws-auth afterwards.
		applied bool
		wantErr error
		// keepBackup: the backup of the replaced content survives.
		keepBackup bool
	}{
		{
			name:  "update lands, reply lost: applied, backup kept",
			fault: func(p *stacktest.FaultProxy, path string) { p.DropReply("PUT", path, 1) },
			// A re-read shows the new data: the write is reported as done.
			applied: true, keepBackup: true,
		},
		{
			name:   "create lands, reply lost: applied, backup kept",
			absent: true,
			fault: func(p *stacktest.FaultProxy, _ string) {
				p.DropReply("POST", "/namespaces/kube-system/configmaps", 1)
			},
			applied: true, keepBackup: true,
		},
		{
			name:    "update never arrives: not applied, backup deleted",
			fault:   func(p *stacktest.FaultProxy, path string) { p.DropRequest("PUT", path, 1) },
			wantErr: ErrNotApplied,
		},
		{
			name: "update lands, another writer follows, reply lost: unknown, backup kept",
			fault: func(p *stacktest.FaultProxy, path string) {
				p.DropReplyThen("PUT", path, func() {
					if _, err := NewStore(admin.CoreV1().ConfigMaps(Namespace)).Modify(context.Background(), other, false); err != nil {
						t.Error(err)
					}
				})
			},
			applied: true, wantErr: ErrOutcomeUnknown, keepBackup: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before map[string]string
			if tt.absent {
				resetAWSAuth(t, admin, nil)
			} else {
				before = resetAWSAuth(t, admin, fixtureData(t, "realworld.yaml")).Data
			}
			clearBackups(t, admin)
			p, store, w := proxied(t)
			tt.fault(p, awsAuthPath)
			if tt.absent {
				// The create is a POST to the collection: drop only that
				// one, not the backup's, by creating the backup first.
				store.Backup.To = BackupFile
				store.Backup.File = t.TempDir() + "/backup.yaml"
			}
			res, err := store.Modify(context.Background(), addUser("lost-reply"), false)
			if p.Dropped() != 1 {
				t.Fatalf("the proxy dropped %d replies, want 1", p.Dropped())
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Modify error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (!res.Written || !res.ReplyLost) {
				t.Errorf("result = %+v, want Written and ReplyLost", res)
			}
			if err == nil && !strings.Contains(w.String(), "the change is there: applied") {
				t.Errorf("no warning that the reply was lost but the write applied; warnings: %q", w)
			}
			got := getAWSAuth(t, admin).Data
			if has := strings.Contains(got["mapUsers"], "user/lost-reply"); has != tt.applied {
				t.Errorf("aws-auth has the change: %v, want %v", has, tt.applied)
			}
			if tt.absent {
				return // the backup went to a file, checked elsewhere
			}
			backups := backupObjects(t, admin)
			if !tt.keepBackup {
				if len(backups) != 0 {
					t.Errorf("%d backups left after a write that did not happen, want 0", len(backups))
				}
				return
			}
			if len(backups) == 0 {
				t.Fatal("the backup of the replaced content was deleted")
			}
			found := false
			for _, b := range backups {
				found = found || maps.Equal(b.Data, before)
			}
			if !found {
				t.Error("no backup holds the content the write replaced")
			}
		})
	}
}

func TestIntegrationInterruptedWriteLeavesNoOrphanBackup(t *testing.T) {
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	before := resetAWSAuth(t, admin, fixtureData(t, "realworld.yaml"))
	clearBackups(t, admin)
	store := NewStore(admin.CoreV1().ConfigMaps(Namespace))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	backedUp := 0
	// SIGINT or SIGTERM cancels the command's context; here it comes
	// right after the backup was made, before the write.
	defer SetBeforeWrite(func(context.Context) {
		backedUp = len(backupObjects(t, admin))
		cancel()
	})()
	_, err := store.Modify(ctx, addUser("interrupted"), false)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Modify error = %v, want context.Canceled", err)
	}
	if backedUp != 1 {
		t.Fatalf("%d backups when interrupted, want the 1 just made", backedUp)
	}
	if n := len(backupObjects(t, admin)); n != 0 {
		t.Errorf("%d orphan backup(s) left by an interrupted write, want 0", n)
	}
	if after := getAWSAuth(t, admin); after.ResourceVersion != before.ResourceVersion {
		t.Errorf("aws-auth changed by an interrupted write")
	}
}

// plant creates a backup ConfigMap as a principal who may only create
// ConfigMaps would: a forger who knows iammap's format, computes the hash
// and dates it far in the future to survive pruning.
func plant(t *testing.T, cs kubernetes.Interface, name string, at time.Time, manager string, hash bool) {
	t.Helper()
	data := map[string]string{"mapUsers": "- userarn: arn:aws:iam::999999999999:user/attacker\n  username: attacker\n  groups:\n  - system:masters\n"}
	ann := map[string]string{"iammap.io/backed-up-at": at.Format(time.RFC3339Nano), "iammap.io/resource-version": "1"}
	if hash {
		ann["iammap.io/content-sha256"] = ContentHash(data, nil)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace, Annotations: ann,
			Labels: map[string]string{"iammap.io/backup-of": "aws-auth", "app.kubernetes.io/managed-by": "iammap"}},
		Data: data,
	}
	if _, err := cs.CoreV1().ConfigMaps(Namespace).Create(context.Background(), cm, metav1.CreateOptions{FieldManager: manager}); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationPlantedBackupsAreNotTrustedNorFavouredByPrune(t *testing.T) {
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	resetAWSAuth(t, admin, fixtureData(t, "realworld.yaml"))
	clearBackups(t, admin)
	t.Cleanup(func() { clearBackups(t, admin) })
	future := time.Now().Add(10 * 365 * 24 * time.Hour)
	plant(t, admin, "aws-auth-iammap-backup-29991231t235959-1", future, "iammap", true)
	plant(t, admin, "aws-auth-iammap-backup-29991231t235959-2", future, "kubectl-create", false)
	plant(t, admin, "aws-auth-iammap-backup-20200101t000000-3", time.Now(), "kubectl-create", true)
	store := NewStore(admin.CoreV1().ConfigMaps(Namespace))
	store.History = 2
	w := &warnings{}
	store.Backup.Warn = w.warn
	var replaced []map[string]string
	for _, name := range []string{"p1", "p2", "p3"} {
		replaced = append(replaced, getAWSAuth(t, admin).Data)
		if _, err := store.Modify(context.Background(), addUser(name), false); err != nil {
			t.Fatal(err)
		}
	}
	backups, err := store.Backups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var verified, planted []Backup
	for _, b := range backups {
		if strings.Contains(b.Data["mapUsers"], "attacker") {
			planted = append(planted, b)
			if b.Verified() {
				t.Errorf("planted backup %s passes as verified", b.Name)
			}
			continue
		}
		if !b.Verified() {
			t.Errorf("genuine backup %s not verified: %s", b.Name, b.Problem)
		}
		verified = append(verified, b)
	}
	// Prune kept the newest History genuine backups, not counting the
	// planted ones, and deleted none of the planted ones (a person must).
	if len(verified) != 2 {
		t.Fatalf("%d genuine backups kept, want History = 2", len(verified))
	}
	for i, b := range verified {
		if want := replaced[len(replaced)-1-i]; !maps.Equal(b.Data, want) {
			t.Errorf("genuine backup %d is not the content replaced by write %d", i+1, len(replaced)-i)
		}
	}
	if len(planted) != 3 {
		t.Errorf("%d planted backups left, want all 3 (listed as suspicious, not deleted)", len(planted))
	}
	// The newest backup is a genuine one: a forged time cannot put a
	// planted backup first.
	if backups[0].Name != verified[0].Name {
		t.Errorf("newest backup is %s, want the genuine %s", backups[0].Name, verified[0].Name)
	}
	if !strings.Contains(w.String(), "cannot verify") || !strings.Contains(w.String(), "time in the future") {
		t.Errorf("prune did not warn about the planted backups; warnings: %q", w)
	}
}

// limited is a Store acting as a user allowed only get and update on
// aws-auth, plus the extra rules given, in kube-system.
func limited(t *testing.T, user string, extra ...rbacv1.PolicyRule) *Store {
	t.Helper()
	c := stacktest.Cluster(t)
	admin := stacktest.Clientset(t, c.Admin)
	ctx := context.Background()
	rules := append([]rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{Name}, Verbs: []string{"get", "update"}}}, extra...)
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: Namespace}, Rules: rules}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: Namespace},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: user}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user}}
	rbac := admin.RbacV1()
	_ = rbac.Roles(Namespace).Delete(ctx, user, metav1.DeleteOptions{})
	_ = rbac.RoleBindings(Namespace).Delete(ctx, user, metav1.DeleteOptions{})
	if _, err := rbac.Roles(Namespace).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rbac.RoleBindings(Namespace).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = rbac.Roles(Namespace).Delete(ctx, user, metav1.DeleteOptions{})
		_ = rbac.RoleBindings(Namespace).Delete(ctx, user, metav1.DeleteOptions{})
	})
	cfg := c.RESTConfig(c.Admin)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// RBAC changes reach the authorizer within moments; wait for them.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := cs.CoreV1().ConfigMaps(Namespace).Get(ctx, Name, metav1.GetOptions{})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return NewStore(cs.CoreV1().ConfigMaps(Namespace))
}

func TestIntegrationBackupTo(t *testing.T) {
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	create := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create"}}
	tests := []struct {
		name  string
		extra []rbacv1.PolicyRule
		to    BackupTo
		// file: a backup file is written; configMaps: backup ConfigMaps made.
		file       bool
		configMaps int
		warning    string
	}{
		{name: "configmap forbidden: falls back to a file, with a warning", to: BackupConfigMap, file: true, warning: "backed up to"},
		{name: "file: needs only get and update on aws-auth", to: BackupFile, file: true},
		{name: "none: no backup at all", to: BackupNone},
		{name: "list forbidden: the growing backups are warned about", extra: []rbacv1.PolicyRule{create}, to: BackupConfigMap, configMaps: 1, warning: "keep growing"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resetAWSAuth(t, admin, fixtureData(t, "realworld.yaml"))
			clearBackups(t, admin)
			store := limited(t, fmt.Sprintf("backup-limited-%d", i), tt.extra...)
			path := t.TempDir() + "/aws-auth-backup.yaml"
			w := &warnings{}
			ctx := WithBackupOptions(context.Background(), BackupOptions{To: tt.to, File: path, Warn: w.warn})
			res, err := store.Modify(ctx, addUser("limited"), false)
			if err != nil || !res.Written {
				t.Fatalf("Modify = %+v, %v", res, err)
			}
			_, statErr := os.Stat(path)
			if (statErr == nil) != tt.file {
				t.Errorf("backup file written: %v, want %v", statErr == nil, tt.file)
			}
			if n := len(backupObjects(t, admin)); n != tt.configMaps {
				t.Errorf("%d backup ConfigMaps, want %d", n, tt.configMaps)
			}
			if tt.warning == "" && w.String() != "" || !strings.Contains(w.String(), tt.warning) {
				t.Errorf("warnings %q, want %q", w, tt.warning)
			}
		})
	}
}

// A write killed outright (SIGKILL) after its backup leaves that backup;
// the next write backs up the same revision again, and prune keeps only
// the newer copy, so orphans never crowd out the history.
func TestIntegrationKilledWriteOrphanIsPrunedAsDuplicate(t *testing.T) {
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	resetAWSAuth(t, admin, fixtureData(t, "realworld.yaml"))
	clearBackups(t, admin)
	store := NewStore(admin.CoreV1().ConfigMaps(Namespace))
	store.History = 2
	for range 3 {
		done := make(chan struct{})
		restore := SetBeforeWrite(func(context.Context) { runtime.Goexit() })
		go func() {
			defer close(done)
			_, _ = store.Modify(context.Background(), addUser("killed"), false)
		}()
		<-done
		restore()
	}
	if n := len(backupObjects(t, admin)); n != 3 {
		t.Fatalf("%d orphans after 3 killed writes, want 3", n)
	}
	first := getAWSAuth(t, admin).Data
	if _, err := store.Modify(context.Background(), addUser("after"), false); err != nil {
		t.Fatal(err)
	}
	// The orphans copied the same revision as this write's backup: only
	// the newest copy is kept, and no slot of History goes to an orphan.
	if all, _ := store.Backups(context.Background()); len(all) != 1 || !maps.Equal(all[0].Data, first) {
		t.Fatalf("%d backups after the first write, want 1 (the orphans pruned as duplicates)", len(all))
	}
	second := getAWSAuth(t, admin).Data
	if _, err := store.Modify(context.Background(), addUser("after2"), false); err != nil {
		t.Fatal(err)
	}
	backups, err := store.Backups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(backups) != 2 || !maps.Equal(backups[0].Data, second) || !maps.Equal(backups[1].Data, first) {
		t.Errorf("%d backups after two writes, want exactly the 2 genuine ones, newest first", len(backups))
	}
}
