package awsauth

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/util/retry"
)

// Where EKS reads the ConfigMap.
const (
	Namespace = "kube-system"
	Name      = "aws-auth"
)

// Snapshot is aws-auth as read at one resourceVersion.
type Snapshot struct {
	Doc *Document
	// Object is the ConfigMap as read; nil when it does not exist.
	Object *corev1.ConfigMap
}

// Exists reports whether the ConfigMap exists.
func (s *Snapshot) Exists() bool { return s.Object != nil }

// ResourceVersion of the read, or "" when the ConfigMap does not exist.
func (s *Snapshot) ResourceVersion() string {
	if s.Object == nil {
		return ""
	}
	return s.Object.ResourceVersion
}

// Store reads and writes aws-auth. It needs only the ConfigMaps of
// kube-system, so callers can hand it any ConfigMapInterface.
type Store struct {
	configMaps corev1client.ConfigMapInterface
	// Backoff bounds the re-read and re-apply loop on write conflicts.
	Backoff wait.Backoff
	// History is how many verified backups of aws-auth to keep; each write
	// first saves the content it replaces. 0 disables backups.
	History int
	// Backup says where backups go, unless the context of a write carries
	// other options (WithBackupOptions).
	Backup BackupOptions
	// createForbidden: creating a backup ConfigMap was forbidden, so later
	// attempts go straight to a file.
	createForbidden atomic.Bool
}

// DefaultBackoff retries long enough for a handful of writers racing on the
// same ConfigMap: client-go's DefaultRetry gives up after 5 tries. It has no
// Cap on purpose: wait.Backoff ends the retries once the Cap is reached.
// 40 steps growing 10% from 20ms wait about 9s in all (up to twice that
// with jitter) before giving up.
var DefaultBackoff = wait.Backoff{Steps: 40, Duration: 20 * time.Millisecond, Factor: 1.1, Jitter: 1}

// NewStore returns a Store over the ConfigMaps of kube-system.
func NewStore(configMaps corev1client.ConfigMapInterface) *Store {
	return &Store{configMaps: configMaps, Backoff: DefaultBackoff, History: DefaultHistory}
}

// Load reads aws-auth. A missing ConfigMap is an empty document, not an error.
func (s *Store) Load(ctx context.Context) (*Snapshot, error) {
	cm, err := s.configMaps.Get(ctx, Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return &Snapshot{Doc: Decode(nil)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", Namespace, Name, err)
	}
	return &Snapshot{Doc: Decode(cm.Data), Object: cm}, nil
}

// Change edits a freshly read document. It is called again with a newly read
// document after every write conflict, so it must not keep state from an
// earlier call. It returns whether it changed anything.
type Change func(doc *Document) (changed bool, err error)

// Result describes one Modify.
type Result struct {
	// Before and After are the data before and after the change.
	Before, After map[string]string
	// Written: a create or update was sent and accepted.
	Written bool
	// Created: the ConfigMap did not exist and was created.
	Created bool
	// Attempts counts read-modify-write rounds (more than 1 after conflicts).
	Attempts int
	// ResourceVersion after the write, or as read when nothing was written.
	ResourceVersion string
	// ReplyLost: the reply to the write was lost, and a re-read showed the
	// change had been applied.
	ReplyLost bool
	// Backup names where the replaced content was saved ("" when none).
	Backup string
}

// Changed reports whether the change altered the data.
func (r Result) Changed() bool { return !maps.Equal(r.Before, r.After) }

// ErrOutcomeUnknown is a write whose reply was lost (connection reset,
// stream error, timeout, 5xx) and whose effect a re-read could not settle:
// it may or may not have been applied. Re-running the same command is safe:
// changes converge.
var ErrOutcomeUnknown = errors.New("outcome unknown: the write may have been applied")

// ErrNotApplied is a write whose reply was lost, and a re-read shows it was
// not applied: aws-auth is as it was read.
var ErrNotApplied = errors.New("not applied")

// beforeWrite, when set (by tests only), runs between the backup and the
// write, where an interrupt leaves the most to clean up.
var beforeWrite func(ctx context.Context)

// Modify reads aws-auth, applies change and writes the result only if it
// differs, conditional on the resourceVersion read. On a conflict (or a
// concurrent create) it starts over from a fresh read. With dryRun the write
// is sent as a server-side dry run: checked, never stored.
//
// When the reply to the write is lost, Modify re-reads aws-auth to learn
// whether the write landed: if it did, the result is a success with
// ReplyLost set; if aws-auth is unchanged the error wraps [ErrNotApplied];
// otherwise it wraps [ErrOutcomeUnknown]. The backup is deleted only when
// the write certainly did not happen.
func (s *Store) Modify(ctx context.Context, change Change, dryRun bool) (Result, error) {
	o := s.backupOptions(ctx)
	var res Result
	err := retry.OnError(s.Backoff, retriable, func() error {
		res = Result{Attempts: res.Attempts + 1}
		snap, err := s.Load(ctx)
		if err != nil {
			return err
		}
		res.Before = snap.Doc.Data()
		res.ResourceVersion = snap.ResourceVersion()
		changed, err := change(snap.Doc)
		if err != nil {
			return err
		}
		res.After = snap.Doc.Data()
		if !changed || !res.Changed() {
			return nil
		}
		// A dry run still sends the write, marked dry-run: the API server
		// authorises and validates it but stores nothing, so a dry run also
		// tells whether the real write would be allowed.
		var dry []string
		if dryRun {
			dry = []string{metav1.DryRunAll}
		}
		var backup saved
		if !dryRun {
			// The backup of "no aws-auth" is an empty one: restoring it
			// leaves aws-auth without mappings, as it was.
			from := snap.Object
			if from == nil {
				from = &corev1.ConfigMap{}
			}
			if backup, err = s.backup(ctx, o, from); err != nil {
				return err
			}
			if beforeWrite != nil {
				beforeWrite(ctx)
			}
		}
		var written *corev1.ConfigMap
		verb := "update"
		if !snap.Exists() {
			verb = "create"
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace}, Data: res.After}
			written, err = s.configMaps.Create(ctx, cm, metav1.CreateOptions{FieldManager: fieldManager, DryRun: dry})
		} else {
			cm := snap.Object.DeepCopy()
			cm.Data = res.After
			// The object carries the resourceVersion that was read, which
			// makes the update conditional: a concurrent change yields 409
			// Conflict.
			written, err = s.configMaps.Update(ctx, cm, metav1.UpdateOptions{FieldManager: fieldManager, DryRun: dry})
		}
		if err != nil && !dryRun && ambiguous(err) {
			written, err = s.settle(ctx, o, snap, res.After, backup, verb, err)
			if written != nil {
				res.ReplyLost = true
			}
		} else if err != nil {
			// Refused (conflict, forbidden, invalid): nothing was
			// replaced, so there is nothing to keep.
			s.discard(ctx, backup)
			err = fmt.Errorf("%s %s/%s: %w", verb, Namespace, Name, err)
		}
		if err != nil {
			return err
		}
		if !dryRun {
			res.Written, res.Created, res.ResourceVersion = true, !snap.Exists(), written.ResourceVersion
			res.Backup = backup.String()
			if backup.configMap != "" {
				s.prune(ctx, o)
			}
		}
		return nil
	})
	return res, err
}

// ambiguous reports whether a failed write may still have been applied: the
// request may have reached the API server, and no reply says it refused.
// A status of 4xx is a refusal; 5xx (an aggregator's or a proxy's timeout,
// an internal error) and transport errors (reset, EOF, HTTP/2 stream error,
// cancellation, client timeout) are not.
func ambiguous(err error) bool {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := status.Status().Code
		return code >= 500 || code == 0 || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err)
	}
	return true
}

// settle re-reads aws-auth after a write whose reply was lost and decides
// whether it landed: it did when aws-auth now holds exactly the data
// written (in a new resourceVersion); it did not when aws-auth is still
// at the resourceVersion read (the write was conditional on it, so any
// write would have changed it). Anything else is unknown, and the backup is
// kept, since it may hold the content the write replaced.
func (s *Store) settle(ctx context.Context, o BackupOptions, snap *Snapshot, want map[string]string, backup saved, verb string, writeErr error) (*corev1.ConfigMap, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	cm, err := s.configMaps.Get(rctx, Name, metav1.GetOptions{})
	kept := ""
	if backup != (saved{}) {
		kept = "; the backup of what it would replace was kept: " + backup.String()
	}
	switch {
	case err == nil && cm.ResourceVersion != snap.ResourceVersion() && equalData(cm.Data, want):
		o.warn("the reply to the %s of %s/%s was lost (%v), but a re-read shows the change is there: applied", verb, Namespace, Name, writeErr)
		return cm, nil
	case err == nil && snap.Exists() && cm.ResourceVersion == snap.ResourceVersion(),
		apierrors.IsNotFound(err) && !snap.Exists():
		s.discard(ctx, backup)
		return nil, fmt.Errorf("%s %s/%s: %w (the reply was lost, and a re-read shows aws-auth unchanged): %w", verb, Namespace, Name, ErrNotApplied, writeErr)
	case err != nil:
		return nil, fmt.Errorf("%s %s/%s: %w (the reply was lost, and the re-read failed: %v)%s: %w", verb, Namespace, Name, ErrOutcomeUnknown, err, kept, writeErr)
	}
	return nil, fmt.Errorf("%s %s/%s: %w (the reply was lost, and aws-auth has changed since, to content other than this write's)%s: %w", verb, Namespace, Name, ErrOutcomeUnknown, kept, writeErr)
}

func equalData(a, b map[string]string) bool {
	return maps.Equal(a, b) || len(a) == 0 && len(b) == 0
}

func retriable(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)
}
