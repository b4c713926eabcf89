package awsauth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestVerifyBackup(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	data := map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/x\n  username: x\n"}
	genuine := func() *corev1.ConfigMap {
		cm := backupObject(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "42"}, Data: data}, now.Add(-time.Hour), "arn:aws:iam::111122223333:role/admin")
		cm.CreationTimestamp = metav1.NewTime(now.Add(-time.Hour).Truncate(time.Second))
		cm.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "iammap", Operation: metav1.ManagedFieldsOperationUpdate}}
		return cm
	}
	tests := []struct {
		name    string
		edit    func(cm *corev1.ConfigMap)
		problem string // "" = verified
	}{
		{"as iammap wrote it", func(*corev1.ConfigMap) {}, ""},
		{"recorded within the allowed skew", func(cm *corev1.ConfigMap) {
			cm.Annotations[backupTimeAnno] = cm.CreationTimestamp.Add(MaxClockSkew - time.Second).Format(time.RFC3339Nano)
		}, ""},
		{"data edited after saving", func(cm *corev1.ConfigMap) { cm.Data["mapUsers"] = "- userarn: x\n" }, "does not match its hash"},
		{"no hash (older iammap or hand-made)", func(cm *corev1.ConfigMap) { delete(cm.Annotations, backupHashAnno) }, "no content hash"},
		{"no recorded time", func(cm *corev1.ConfigMap) { delete(cm.Annotations, backupTimeAnno) }, "no recorded time"},
		{"recorded far in the future", func(cm *corev1.ConfigMap) {
			cm.Annotations[backupTimeAnno] = now.AddDate(10, 0, 0).Format(time.RFC3339Nano)
		}, "time in the future"},
		{"recorded long before it was created", func(cm *corev1.ConfigMap) {
			cm.Annotations[backupTimeAnno] = now.AddDate(-1, 0, 0).Format(time.RFC3339Nano)
		}, "is not when the API server created it"},
		{"touched by another field manager", func(cm *corev1.ConfigMap) {
			cm.ManagedFields = append(cm.ManagedFields, metav1.ManagedFieldsEntry{Manager: "kubectl-edit"})
		}, `field manager "kubectl-edit"`},
		{"not named as a backup", func(cm *corev1.ConfigMap) { cm.Name = "aws-auth-copy" }, "not named"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cm := genuine()
			tt.edit(cm)
			b := readBackup(cm, now)
			if tt.problem == "" && !b.Verified() {
				t.Fatalf("not verified: %s", b.Problem)
			}
			if !strings.Contains(b.Problem, tt.problem) {
				t.Fatalf("problem = %q, want it to contain %q", b.Problem, tt.problem)
			}
			if tt.problem == "" && b.Writer != "arn:aws:iam::111122223333:role/admin" {
				t.Errorf("writer = %q", b.Writer)
			}
		})
	}
}

func TestContentHashIsCanonical(t *testing.T) {
	if ContentHash(nil, nil) != ContentHash(map[string]string{}, map[string][]byte{}) {
		t.Error("nil and empty data hash differently")
	}
	a := ContentHash(map[string]string{"a": "1", "b": "2"}, nil)
	if a != ContentHash(map[string]string{"b": "2", "a": "1"}, nil) {
		t.Error("hash depends on map order")
	}
	if a == ContentHash(map[string]string{"a": "1", "b": "2 "}, nil) {
		t.Error("hash misses a one-byte change")
	}
}

func TestWriteBackupFile(t *testing.T) {
	b := backupObject(&corev1.ConfigMap{Data: map[string]string{"mapUsers": "[]\n"}}, time.Now(), "")
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		wantErr string
	}{
		{"new file", func(*testing.T, string) {}, ""},
		{"existing file is not overwritten", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "already exists"},
		{"symlink is not followed", func(t *testing.T, path string) {
			if err := os.Symlink(filepath.Join(filepath.Dir(path), "target"), path); err != nil {
				t.Fatal(err)
			}
		}, "already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "backup.yaml")
			tt.prepare(t, path)
			got, err := writeBackupFile(path, b)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if _, err := os.Stat(filepath.Join(filepath.Dir(path), "target")); !errors.Is(err, os.ErrNotExist) {
					t.Error("the symlink's target was created")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(got)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", fi.Mode().Perm())
			}
			y, _ := os.ReadFile(got)
			for _, want := range []string{"name: aws-auth", "namespace: kube-system", "iammap.io/content-sha256", "mapUsers"} {
				if !strings.Contains(string(y), want) {
					t.Errorf("backup file lacks %q:\n%s", want, y)
				}
			}
		})
	}
	t.Run("default directory under XDG_STATE_HOME", func(t *testing.T) {
		state := t.TempDir()
		t.Setenv("XDG_STATE_HOME", state)
		got, err := writeBackupFile("", b)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(state, "iammap", "backups", b.Name+".yaml"); got != want {
			t.Errorf("path %s, want %s", got, want)
		}
	})
}

// A backup that fails stops the write before it is sent, and says so in a
// way callers can tell from a lost reply (ErrBackup), with the cause's
// message unchanged.
func TestFailedBackupIsErrBackup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taken.yaml")
	if err := os.WriteFile(path, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Store{History: 1}
	_, err := s.backup(context.Background(), BackupOptions{To: BackupFile, File: path}, &corev1.ConfigMap{Data: map[string]string{"mapRoles": "[]\n"}})
	if !errors.Is(err, ErrBackup) || !strings.HasPrefix(err.Error(), "back up aws-auth to a file before writing it (nothing written): ") {
		t.Fatalf("backup onto an existing file: %v; want ErrBackup with the cause's message", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep" {
		t.Errorf("the existing file was changed: %q", b)
	}
}
