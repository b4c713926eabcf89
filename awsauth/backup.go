package awsauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iammap/iammap/internal/safefile"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// Backups of aws-auth are ConfigMaps in kube-system next to it, one per
// write, so they are as durable and as access-controlled as aws-auth itself
// and survive the laptop that made the change.
const (
	backupLabel       = "iammap.io/backup-of"
	backupRVAnno      = "iammap.io/resource-version"
	backupTimeAnno    = "iammap.io/backed-up-at"
	backupHashAnno    = "iammap.io/content-sha256"
	backupWriterAnno  = "iammap.io/written-by"
	backupPrefix      = "aws-auth-iammap-backup-"
	DefaultHistory    = 10
	backupManagedBy   = "app.kubernetes.io/managed-by"
	backupManagedName = "iammap"
	// fieldManager is the name iammap's writes carry in managedFields.
	fieldManager = "iammap"
)

// MaxClockSkew is how far a backup's recorded time may be from the time the
// API server stamped on it (creationTimestamp) and still be trusted: enough
// for a laptop's clock drift, far too little to pin a backup in the future.
const MaxClockSkew = 5 * time.Minute

// cleanupTimeout bounds the requests that tidy up after a failed or
// interrupted write. They run on a fresh context, because the command's
// own may be the very thing that was cancelled (SIGINT, SIGTERM, --timeout).
const cleanupTimeout = 5 * time.Second

// BackupTo is where each write saves the content it replaces.
type BackupTo string

const (
	// BackupConfigMap saves a ConfigMap aws-auth-iammap-backup-* in
	// kube-system (needs create, list and delete on configmaps there).
	BackupConfigMap BackupTo = "configmap"
	// BackupFile saves a ConfigMap manifest to a local file.
	BackupFile BackupTo = "file"
	// BackupNone saves nothing.
	BackupNone BackupTo = "none"
)

// ParseBackupTo checks a --backup-to value.
func ParseBackupTo(s string) (BackupTo, error) {
	switch b := BackupTo(s); b {
	case BackupConfigMap, BackupFile, BackupNone:
		return b, nil
	case "":
		return BackupConfigMap, nil
	}
	return "", fmt.Errorf("--backup-to %q: want configmap, file or none", s)
}

// BackupOptions say where and how a Store backs up. The command line puts
// them on the context ([WithBackupOptions]) so that they reach the Store
// whoever builds it.
type BackupOptions struct {
	// To is where backups go; "" is BackupConfigMap.
	To BackupTo
	// File is the backup file for BackupFile and for the fallback when a
	// ConfigMap backup is forbidden; "" is a new file under DefaultBackupDir.
	File string
	// Writer names who writes (e.g. the caller's ARN or username), recorded
	// in each backup; "" when unknown.
	Writer string
	// Warn, when set, receives warnings: a fallback to a file, backups that
	// cannot be pruned, suspicious backups, a lost reply.
	Warn func(format string, a ...any)
}

type backupOptionsKey struct{}

// WithBackupOptions returns ctx carrying o; a Store's writes under that
// context use o instead of the Store's own Backup field, except for the
// Writer and Warn o leaves unset, which come from the Store's: whoever
// builds the Store may know the caller when the command line does not.
func WithBackupOptions(ctx context.Context, o BackupOptions) context.Context {
	return context.WithValue(ctx, backupOptionsKey{}, o)
}

func (s *Store) backupOptions(ctx context.Context) BackupOptions {
	o, ok := ctx.Value(backupOptionsKey{}).(BackupOptions)
	if !ok {
		return s.Backup
	}
	if o.Writer == "" {
		o.Writer = s.Backup.Writer
	}
	if o.Warn == nil {
		o.Warn = s.Backup.Warn
	}
	return o
}

func (o BackupOptions) warn(format string, a ...any) {
	if o.Warn != nil {
		o.Warn(format, a...)
	}
}

// DefaultBackupDir is where file backups go without --backup-file:
// $XDG_STATE_HOME/iammap/backups, else ~/.local/state/iammap/backups.
func DefaultBackupDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "iammap", "backups"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find a directory for backup files (pass --backup-file): %w", err)
	}
	return filepath.Join(home, ".local", "state", "iammap", "backups"), nil
}

// Backup is one saved revision of aws-auth.
type Backup struct {
	Name string
	// Time is when the API server created the backup (creationTimestamp,
	// which no client can set), the order backups are listed and pruned in.
	Time time.Time
	// Recorded is the time iammap recorded in the backup.
	Recorded        time.Time
	ResourceVersion string // of aws-auth when it was saved
	Data            map[string]string
	BinaryData      map[string][]byte
	// Writer is who wrote the backup as iammap recorded it ("" if unknown).
	Writer string
	// Managers are the field managers that wrote the object, as the API
	// server recorded them (client-declared names, not identities).
	Managers []string
	// Problem says why the backup cannot be trusted; "" when verified.
	Problem string
}

// Verified reports whether iammap can vouch for the backup: see [verify].
func (b Backup) Verified() bool { return b.Problem == "" }

// ContentHash is the sha256 of a ConfigMap's data and binaryData in a
// canonical form (JSON, keys sorted, empty maps as absent).
func ContentHash(data map[string]string, binary map[string][]byte) string {
	if len(data) == 0 {
		data = nil
	}
	if len(binary) == 0 {
		binary = nil
	}
	b, _ := json.Marshal(struct {
		Data   map[string]string `json:"data,omitempty"`
		Binary map[string][]byte `json:"binaryData,omitempty"`
	}{data, binary})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// backupObject is the backup of cm (aws-auth as read) made now.
func backupObject(cm *corev1.ConfigMap, now time.Time, writer string) *corev1.ConfigMap {
	annotations := map[string]string{
		backupRVAnno:   cm.ResourceVersion,
		backupTimeAnno: now.Format(time.RFC3339Nano),
		backupHashAnno: ContentHash(cm.Data, cm.BinaryData),
	}
	if writer != "" {
		annotations[backupWriterAnno] = writer
	}
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        backupPrefix + now.Format("20060102t150405") + "-" + strconv.FormatInt(now.UnixNano()%1e9, 10),
			Namespace:   Namespace,
			Labels:      map[string]string{backupLabel: Name, backupManagedBy: backupManagedName},
			Annotations: annotations,
		},
		Data:       maps.Clone(cm.Data),
		BinaryData: maps.Clone(cm.BinaryData),
	}
}

// saved is a backup made for one write attempt, to undo if the write
// certainly did not happen.
type saved struct {
	configMap string // name of a backup ConfigMap
	file      string // path of a backup file
}

func (b saved) String() string {
	if b.file != "" {
		return "file " + b.file
	}
	return "ConfigMap " + Namespace + "/" + b.configMap
}

// backupError is a failed backup: errors.Is(err, ErrBackup) holds, and the
// message is the cause's alone.
type backupError struct{ error }

func (e backupError) Is(target error) bool { return target == ErrBackup }
func (e backupError) Unwrap() error        { return e.error }

func backupFailed(err error) error { return backupError{err} }

// backup saves cm (aws-auth as read) before it is overwritten.
func (s *Store) backup(ctx context.Context, o BackupOptions, cm *corev1.ConfigMap) (saved, error) {
	if s.History <= 0 || o.To == BackupNone {
		return saved{}, nil
	}
	b := backupObject(cm, time.Now().UTC(), o.Writer)
	if o.To == BackupFile {
		path, err := writeBackupFile(o.File, b)
		if err != nil {
			return saved{}, backupFailed(fmt.Errorf("back up aws-auth to a file before writing it (nothing written): %w", err))
		}
		return saved{file: path}, nil
	}
	var err error
	forbidden := s.createForbidden.Load()
	if !forbidden {
		_, err = s.configMaps.Create(ctx, b, metav1.CreateOptions{FieldManager: fieldManager})
		forbidden = apierrors.IsForbidden(err)
	}
	if forbidden {
		// A user allowed to edit aws-auth but not to create ConfigMaps
		// still gets a backup, where they can write one.
		path, ferr := writeBackupFile(o.File, b)
		if ferr != nil {
			return saved{}, backupFailed(fmt.Errorf("back up aws-auth before writing it (nothing written): creating a ConfigMap in %s is forbidden, and a file failed: %w", Namespace, ferr))
		}
		// Once per Store: a retry after a conflict would only repeat it.
		if !s.createForbidden.Swap(true) {
			o.warn("creating a backup ConfigMap in %s is forbidden (%v); aws-auth was backed up to %s instead (pass --backup-to file or none to skip the attempt)", Namespace, err, path)
		}
		return saved{file: path}, nil
	}
	if err != nil {
		return saved{}, backupFailed(fmt.Errorf("back up aws-auth before writing it (nothing written): %w", err))
	}
	return saved{configMap: b.Name}, nil
}

// writeBackupFile writes b as a manifest to path, or to a new file in
// DefaultBackupDir when path is "". It never follows a symlink nor reuses an
// existing file (O_EXCL), and the file is private (0600): it holds who may
// administer the cluster.
func writeBackupFile(path string, b *corev1.ConfigMap) (string, error) {
	if path == "" {
		dir, err := DefaultBackupDir()
		if err != nil {
			return "", err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("create %s: %w", dir, err)
		}
		path = filepath.Join(dir, b.Name+".yaml")
	}
	// The file restores aws-auth as it was with `kubectl replace -f`.
	m := b.DeepCopy()
	m.Name, m.Labels = Name, nil
	y, err := sigsyaml.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode backup: %w", err)
	}
	if err := safefile.Create(path, y); err != nil {
		if errors.Is(err, safefile.ErrExists) {
			return "", fmt.Errorf("backup file %w: pass another --backup-file", err)
		}
		return "", fmt.Errorf("backup file: %w", err)
	}
	return path, nil
}

// discard removes a backup whose write certainly did not happen. It runs on
// a fresh, bounded context: the write's own may have been cancelled, and a
// backup left behind would pass for a revision of aws-auth.
func (s *Store) discard(ctx context.Context, b saved) {
	switch {
	case b.configMap != "":
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = s.configMaps.Delete(ctx, b.configMap, metav1.DeleteOptions{})
	case b.file != "":
		_ = os.Remove(b.file)
	}
}

// prune keeps the newest s.History verified backups and deletes older
// ones, and duplicates: two verified backups of the same aws-auth revision
// mean a write was interrupted after its backup, and only the newer one
// counts. Unverified backups are neither counted nor deleted, but named in a
// warning: iammap cannot tell an attack from a hand-made backup, and a
// person should look. Failures are left for the next write, except a
// forbidden list, which would let backups grow without bound unseen.
func (s *Store) prune(ctx context.Context, o BackupOptions) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	all, err := s.Backups(ctx)
	if apierrors.IsForbidden(err) {
		o.warn("cannot list backups to prune them (forbidden), so backup ConfigMaps in %s keep growing: grant list and delete on configmaps there, or pass --backup-to file or none", Namespace)
		return
	}
	if err != nil {
		return
	}
	kept := 0
	seen := map[string]bool{}
	var suspicious []string
	for _, b := range all {
		if !b.Verified() {
			suspicious = append(suspicious, b.Name+" ("+b.Problem+")")
			continue
		}
		key := b.ResourceVersion + "/" + ContentHash(b.Data, b.BinaryData)
		if kept < s.History && !seen[key] {
			kept++
			seen[key] = true
			continue
		}
		_ = s.configMaps.Delete(ctx, b.Name, metav1.DeleteOptions{})
	}
	if len(suspicious) > 0 {
		o.warn("%d backup(s) of aws-auth that iammap cannot verify, not counted and not deleted: %s; inspect them (`iammap rollback --list`) and delete those nobody made with `kubectl -n %s delete configmap NAME`",
			len(suspicious), strings.Join(suspicious, ", "), Namespace)
	}
}

// Backups lists the saved revisions, newest first by the time the API
// server created them, each verified (see [Backup.Problem]).
func (s *Store) Backups(ctx context.Context) ([]Backup, error) {
	list, err := s.configMaps.List(ctx, metav1.ListOptions{LabelSelector: backupLabel + "=" + Name})
	if err != nil {
		return nil, fmt.Errorf("list aws-auth backups: %w", err)
	}
	now := time.Now()
	var out []Backup
	for _, cm := range list.Items {
		out = append(out, readBackup(&cm, now))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.After(out[j].Time)
		}
		// creationTimestamp has whole seconds; within one, verified
		// backups come first (a forged recorded time must not win a tie),
		// then the recorded time, then the name.
		if out[i].Verified() != out[j].Verified() {
			return out[i].Verified()
		}
		if !out[i].Recorded.Equal(out[j].Recorded) {
			return out[i].Recorded.After(out[j].Recorded)
		}
		return out[i].Name > out[j].Name
	})
	return out, nil
}

// readBackup reads a backup ConfigMap and checks it.
func readBackup(cm *corev1.ConfigMap, now time.Time) Backup {
	recorded, _ := time.Parse(time.RFC3339Nano, cm.Annotations[backupTimeAnno])
	b := Backup{
		Name:            cm.Name,
		Time:            cm.CreationTimestamp.Time,
		Recorded:        recorded,
		ResourceVersion: cm.Annotations[backupRVAnno],
		Data:            cm.Data,
		BinaryData:      cm.BinaryData,
		Writer:          cm.Annotations[backupWriterAnno],
	}
	for _, f := range cm.ManagedFields {
		if !slices.Contains(b.Managers, f.Manager) {
			b.Managers = append(b.Managers, f.Manager)
		}
	}
	b.Problem = verify(cm, b, now)
	return b
}

// verify says why a backup cannot be trusted, or "" when it can. It catches
// a backup edited after iammap wrote it, one written by another tool, and
// one whose recorded time is not when it was made (a far-future time used
// to survive pruning and to come first in the list). It cannot catch a
// forger who writes with field manager "iammap", a correct hash and the
// current time: field managers are names clients choose, and the hash is
// public. What stops that is RBAC on configmaps in kube-system; the
// creator shown by `rollback --list` and the diff of `rollback --dry-run`
// help a person notice it.
func verify(cm *corev1.ConfigMap, b Backup, now time.Time) string {
	want := cm.Annotations[backupHashAnno]
	switch {
	case !strings.HasPrefix(cm.Name, backupPrefix):
		return "not named as iammap names backups"
	case want == "":
		return "no content hash: not written by this iammap"
	case want != ContentHash(cm.Data, cm.BinaryData):
		return "content does not match its hash: changed after it was saved"
	case b.Recorded.IsZero():
		return "no recorded time"
	case b.Time.After(now.Add(MaxClockSkew)) || b.Recorded.After(now.Add(MaxClockSkew)):
		return "time in the future"
	case b.Recorded.Sub(b.Time).Abs() > MaxClockSkew:
		return fmt.Sprintf("recorded time %s is not when the API server created it (%s)", b.Recorded.UTC().Format(time.RFC3339), b.Time.UTC().Format(time.RFC3339))
	}
	for _, m := range b.Managers {
		if m != fieldManager {
			return "written by field manager " + strconv.Quote(m) + ", not iammap"
		}
	}
	return ""
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
