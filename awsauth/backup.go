package awsauth

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Backups of aws-auth are ConfigMaps in kube-system next to it, one per
// write, so they are as durable and as access-controlled as aws-auth itself
// and survive the laptop that made the change.
const (
	backupLabel       = "iammap.io/backup-of"
	backupRVAnno      = "iammap.io/resource-version"
	backupTimeAnno    = "iammap.io/backed-up-at"
	backupPrefix      = "aws-auth-iammap-backup-"
	DefaultHistory    = 10
	backupManagedBy   = "app.kubernetes.io/managed-by"
	backupManagedName = "iammap"
)

// Backup is one saved revision of aws-auth.
type Backup struct {
	Name            string
	Time            time.Time
	ResourceVersion string // of aws-auth when it was saved
	Data            map[string]string
	BinaryData      map[string][]byte
}

// backup saves cm (aws-auth as read) before it is overwritten, and keeps
// only the newest s.History backups.
func (s *Store) backup(ctx context.Context, cm *corev1.ConfigMap) (name string, err error) {
	if s.History <= 0 {
		return "", nil
	}
	now := time.Now().UTC()
	b := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:        backupPrefix + now.Format("20060102t150405") + "-" + strconv.FormatInt(now.UnixNano()%1e9, 10),
			Namespace:   Namespace,
			Labels:      map[string]string{backupLabel: Name, backupManagedBy: backupManagedName},
			Annotations: map[string]string{backupRVAnno: cm.ResourceVersion, backupTimeAnno: now.Format(time.RFC3339Nano)},
		},
		Data:       maps.Clone(cm.Data),
		BinaryData: maps.Clone(cm.BinaryData),
	}
	if _, err := s.configMaps.Create(ctx, b, metav1.CreateOptions{FieldManager: "iammap"}); err != nil {
		return "", fmt.Errorf("back up aws-auth before writing it (nothing written): %w", err)
	}
	return b.Name, nil
}

// prune keeps the newest s.History backups. Failures are left for the next write.
func (s *Store) prune(ctx context.Context) {
	all, err := s.Backups(ctx)
	if err != nil {
		return
	}
	for _, old := range all[min(len(all), s.History):] {
		_ = s.configMaps.Delete(ctx, old.Name, metav1.DeleteOptions{})
	}
}

// Backups lists the saved revisions, newest first.
func (s *Store) Backups(ctx context.Context) ([]Backup, error) {
	list, err := s.configMaps.List(ctx, metav1.ListOptions{LabelSelector: backupLabel + "=" + Name})
	if err != nil {
		return nil, fmt.Errorf("list aws-auth backups: %w", err)
	}
	var out []Backup
	for _, cm := range list.Items {
		t, _ := time.Parse(time.RFC3339Nano, cm.Annotations[backupTimeAnno])
		out = append(out, Backup{Name: cm.Name, Time: t, ResourceVersion: cm.Annotations[backupRVAnno], Data: cm.Data, BinaryData: cm.BinaryData})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

// Restore returns a Change that puts a backup's data back exactly, byte for
// byte. Written through Modify, it is conflict-safe and itself backed up.
func Restore(b Backup) Change {
	return func(doc *Document) (bool, error) {
		if maps.Equal(doc.data, b.Data) || len(doc.data) == 0 && len(b.Data) == 0 {
			return false, nil
		}
		doc.replace(b.Data)
		return true, nil
	}
}

// replace swaps the whole data for other content, decoded afresh.
func (d *Document) replace(data map[string]string) {
	fresh := Decode(data)
	d.data, d.keys = fresh.data, fresh.keys
}
