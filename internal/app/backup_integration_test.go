package app

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

var backupSelector = metav1.ListOptions{LabelSelector: "iammap.io/backup-of=aws-auth"}

func backupConfigMaps(t *testing.T, cs kubernetes.Interface) []corev1.ConfigMap {
	t.Helper()
	list, err := cs.CoreV1().ConfigMaps(awsauth.Namespace).List(context.Background(), backupSelector)
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func deleteBackups(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	if err := cs.CoreV1().ConfigMaps(awsauth.Namespace).DeleteCollection(context.Background(), metav1.DeleteOptions{}, backupSelector); err != nil {
		t.Fatal(err)
	}
}

var startingAWSAuth = map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/first\n  username: first\n"}

// The reply to the aws-auth PUT is lost after the API server applied it:
// the command says so, succeeds, and keeps the backup of what it replaced.
func TestIntegrationCLILostReplyIsReportedAndKeepsTheBackup(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	tests := []struct {
		name string
		// other writes aws-auth between the lost write and the re-read.
		other    bool
		wantErr  bool
		wantText []string
	}{
		{name: "applied", wantText: []string{"reply to the update of kube-system/aws-auth was lost", "the change is there: applied", "added arn:aws:iam::111122223333:role/lost"}},
		{name: "unknown", other: true, wantErr: true, wantText: []string{"outcome unknown", "hint: the write may have been applied: run `iammap get` to check; re-running the same command is safe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setAWSAuth(t, admin, startingAWSAuth)
			deleteBackups(t, admin)
			p := stacktest.NewFaultProxy(t)
			path := "/namespaces/kube-system/configmaps/aws-auth"
			if tt.other {
				p.DropReplyThen("PUT", path, func() {
					cm := readAWSAuth(t, admin)
					cm.Data["mapUsers"] = "- userarn: arn:aws:iam::111122223333:user/other\n  username: other\n"
					if _, err := admin.CoreV1().ConfigMaps(awsauth.Namespace).Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
						t.Error(err)
					}
				})
			} else {
				p.DropReply("PUT", path, 1)
			}
			_, stderr, err := iammap(t, p.Kubeconfig(t), "create", "--arn", "arn:aws:iam::111122223333:role/lost", "--username", "lost")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v; stderr:\n%s", err, tt.wantErr, stderr)
			}
			t.Logf("stderr:\n%s", stderr)
			if p.Dropped() != 1 {
				t.Fatalf("proxy dropped %d replies, want 1", p.Dropped())
			}
			for _, want := range tt.wantText {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, "stream error") && !strings.Contains(stderr, "lost") {
				t.Errorf("bare transport error:\n%s", stderr)
			}
			kept := false
			for _, b := range backupConfigMaps(t, admin) {
				kept = kept || maps.Equal(b.Data, startingAWSAuth)
			}
			if !kept {
				t.Error("the backup of the content the write replaced is gone")
			}
		})
	}
}

// A ConfigMap planted to look like a backup, dated far in the future with
// a correct hash and a system:masters mapping, is listed as unverified,
// skipped by a plain rollback, refused by --to without --force, and not
// favoured by prune.
func TestIntegrationCLIRollbackRefusesPlantedBackup(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	kubeconfig := stacktest.Kubeconfig(t)
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	setAWSAuth(t, admin, startingAWSAuth)
	deleteBackups(t, admin)
	if _, stderr, err := iammap(t, kubeconfig, "create", "--arn", "arn:aws:iam::111122223333:role/second", "--username", "second"); err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	// The plant comes a second later: creationTimestamp has whole seconds,
	// and within one second the genuine backup is listed first by design.
	waitNextSecond()
	evil := map[string]string{"mapUsers": "- userarn: arn:aws:iam::999999999999:user/attacker\n  username: attacker\n  groups:\n  - system:masters\n"}
	future := time.Now().AddDate(5, 0, 0)
	planted := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "aws-auth-iammap-backup-" + future.Format("20060102t150405") + "-1", Namespace: awsauth.Namespace,
			Labels: map[string]string{"iammap.io/backup-of": "aws-auth", "app.kubernetes.io/managed-by": "iammap"},
			Annotations: map[string]string{"iammap.io/backed-up-at": future.Format(time.RFC3339Nano), "iammap.io/resource-version": "1",
				"iammap.io/content-sha256": awsauth.ContentHash(evil, nil), "iammap.io/written-by": "admin\x1b[2K"}},
		Data: evil,
	}
	if _, err := admin.CoreV1().ConfigMaps(awsauth.Namespace).Create(context.Background(), planted, metav1.CreateOptions{FieldManager: "iammap"}); err != nil {
		t.Fatal(err)
	}
	// Other tests expect no unverified backups (prune warns about them).
	t.Cleanup(func() { deleteBackups(t, admin) })

	stdout, stderr, err := iammap(t, kubeconfig, "rollback", "--list")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	// Listed by when the API server created them, whatever time the plant
	// claims: it came after the genuine backup.
	if len(lines) != 3 || !strings.Contains(lines[1], planted.Name) || !strings.Contains(lines[1], "NO: time in the future") || !strings.HasSuffix(lines[2], "yes") {
		t.Errorf("rollback --list: want the planted backup first (NO: time in the future) and the genuine one second (yes):\n%s", stdout)
	}
	if strings.Contains(stdout, "\x1b") || !strings.Contains(stdout, `admin\x1b[2K`) {
		t.Errorf("the planted writer's control characters are not escaped:\n%q", stdout)
	}

	if _, stderr, err := iammap(t, kubeconfig, "rollback", "--to", "1"); err == nil || !strings.Contains(stderr, "refusing to restore backup 1") || !strings.Contains(stderr, "--force") {
		t.Errorf("rollback --to 1 of the planted backup: err %v, stderr:\n%s", err, stderr)
	}
	if got := readAWSAuth(t, admin).Data["mapUsers"]; strings.Contains(got, "attacker") {
		t.Fatal("the planted backup was restored")
	}
	// A plain rollback restores the newest verified backup, not the plant.
	_, stderr, err = iammap(t, kubeconfig, "rollback")
	if err != nil || !strings.Contains(stderr, "restored aws-auth from backup 2") {
		t.Errorf("rollback: err %v, stderr:\n%s", err, stderr)
	}
	got := readAWSAuth(t, admin).Data
	if !maps.Equal(got, startingAWSAuth) {
		t.Errorf("rollback restored %v, want the content before the last write", got)
	}
	// The rollback's write pruned: the plant is neither deleted silently
	// nor counted, and it is named in a warning.
	if !strings.Contains(stderr, "cannot verify") || !strings.Contains(stderr, planted.Name) {
		t.Errorf("no warning naming the planted backup:\n%s", stderr)
	}
	if _, err := admin.CoreV1().ConfigMaps(awsauth.Namespace).Get(context.Background(), planted.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("the planted backup was deleted: %v", err)
	}
	// With --force, and only then, it can be restored (the rollback's own
	// backup is newer: the plant is now number 2).
	if _, stderr, err := iammap(t, kubeconfig, "rollback", "--to", "2", "--force", "--dry-run"); err != nil || !strings.Contains(stderr, "unverified backup 2") {
		t.Errorf("rollback --force --dry-run: err %v, stderr:\n%s", err, stderr)
	}
}

func TestIntegrationCLIBackupTo(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	kubeconfig := stacktest.Kubeconfig(t)
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	dir := t.TempDir()
	tests := []struct {
		name       string
		args       []string
		file       string // a backup file expected here
		configMaps int
	}{
		{name: "configmap (default)", configMaps: 1},
		{name: "file", args: []string{"--backup-to", "file", "--backup-file", filepath.Join(dir, "a.yaml")}, file: filepath.Join(dir, "a.yaml")},
		{name: "--backup-file implies file", args: []string{"--backup-file", filepath.Join(dir, "b.yaml")}, file: filepath.Join(dir, "b.yaml")},
		{name: "file in the state directory", args: []string{"--backup-to", "file"}},
		{name: "none", args: []string{"--backup-to", "none"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setAWSAuth(t, admin, startingAWSAuth)
			deleteBackups(t, admin)
			state := t.TempDir()
			t.Setenv("XDG_STATE_HOME", state)
			arn := "arn:aws:iam::111122223333:role/b" + string(rune('a'+i))
			_, stderr, err := iammap(t, kubeconfig, append([]string{"create", "--arn", arn, "--username", "b"}, tt.args...)...)
			if err != nil {
				t.Fatalf("%v: %s", err, stderr)
			}
			if n := len(backupConfigMaps(t, admin)); n != tt.configMaps {
				t.Errorf("%d backup ConfigMaps, want %d", n, tt.configMaps)
			}
			files, _ := filepath.Glob(filepath.Join(state, "iammap", "backups", "*.yaml"))
			if tt.file != "" {
				files = append(files, tt.file)
			}
			wantFiles := 0
			if tt.file != "" || strings.Join(tt.args, " ") == "--backup-to file" {
				wantFiles = 1
			}
			if len(files) != wantFiles {
				t.Fatalf("backup files %v, want %d", files, wantFiles)
			}
			for _, f := range files {
				fi, err := os.Lstat(f)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
				}
				b, _ := os.ReadFile(f)
				if !strings.Contains(string(b), "role/first") || strings.Contains(string(b), arn) {
					t.Errorf("%s does not hold the content replaced:\n%s", f, b)
				}
			}
		})
	}
}
