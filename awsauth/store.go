package awsauth

import (
	"context"
	"fmt"
	"maps"
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
	// History is how many backups of aws-auth to keep; each write first
	// saves the content it replaces. 0 disables backups.
	History int
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
}

// Changed reports whether the change altered the data.
func (r Result) Changed() bool { return !maps.Equal(r.Before, r.After) }

// Modify reads aws-auth, applies change and writes the result only if it
// differs, conditional on the resourceVersion read. On a conflict (or a
// concurrent create) it starts over from a fresh read. With dryRun the write
// is sent as a server-side dry run: checked, never stored.
func (s *Store) Modify(ctx context.Context, change Change, dryRun bool) (Result, error) {
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
		if !snap.Exists() {
			// The backup of "no aws-auth" is an empty one: restoring it
			// leaves aws-auth without mappings, as it was.
			var backup string
			if !dryRun {
				if backup, err = s.backup(ctx, &corev1.ConfigMap{}); err != nil {
					return err
				}
			}
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace}, Data: res.After}
			created, err := s.configMaps.Create(ctx, cm, metav1.CreateOptions{FieldManager: "iammap", DryRun: dry})
			if err != nil {
				if backup != "" {
					_ = s.configMaps.Delete(ctx, backup, metav1.DeleteOptions{})
				}
				return fmt.Errorf("create %s/%s: %w", Namespace, Name, err)
			}
			if !dryRun {
				res.Written, res.Created, res.ResourceVersion = true, true, created.ResourceVersion
				s.prune(ctx)
			}
			return nil
		}
		var backup string
		if !dryRun {
			if backup, err = s.backup(ctx, snap.Object); err != nil {
				return err
			}
		}
		cm := snap.Object.DeepCopy()
		cm.Data = res.After
		// The object carries the resourceVersion that was read, which makes
		// the update conditional: a concurrent change yields 409 Conflict.
		updated, err := s.configMaps.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "iammap", DryRun: dry})
		if err != nil {
			if backup != "" {
				// Nothing was replaced, so there is nothing to keep.
				_ = s.configMaps.Delete(ctx, backup, metav1.DeleteOptions{})
			}
			return fmt.Errorf("update %s/%s: %w", Namespace, Name, err)
		}
		if backup != "" {
			s.prune(ctx)
		}
		if !dryRun {
			res.Written, res.ResourceVersion = true, updated.ResourceVersion
		}
		return nil
	})
	return res, err
}

func retriable(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)
}
