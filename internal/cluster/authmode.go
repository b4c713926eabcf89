package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/iammap/iammap/mapping"
)

// CheckMove decides whether a cluster can move from one authentication mode
// to another in one update: noop when it is already there, an error when
// the move goes back (EKS's changes are one way) or skips a step.
func CheckMove(cluster string, from, to mapping.Mode) (noop bool, err error) {
	next, _ := from.Next()
	switch {
	case to == from:
		return true, nil
	case !from.CanMoveTo(to):
		return false, WithHint(fmt.Errorf("cluster %s cannot move from %s back to %s: EKS authentication mode changes are one way", cluster, from, to), "nothing was changed")
	case to != next:
		return false, WithHint(fmt.Errorf("cluster %s must pass through %s before %s", cluster, next, to), "run with --set "+string(next)+" first")
	}
	return false, nil
}

// MoveOptions tune MoveAuthMode.
type MoveOptions struct {
	// Wait polls until EKS has finished the update.
	Wait bool
	// PollInterval is the time between polls; default 5s.
	PollInterval time.Duration
	// Progress, when set, hears of the update: once when EKS accepted it,
	// and once more (Done) when it has finished, if waiting.
	Progress func(MoveProgress)
}

// MoveProgress is one step of an authentication-mode update.
type MoveProgress struct {
	Cluster  string
	To       mapping.Mode
	UpdateID string
	Done     bool
}

// MoveAuthMode asks EKS to move the cluster to mode (UpdateClusterConfig)
// and, with Wait, polls DescribeUpdate until it succeeds, fails or ctx ends.
// After a finished move the target's mode is mode.
func MoveAuthMode(ctx context.Context, t *Target, mode mapping.Mode, o MoveOptions) error {
	progress := o.Progress
	if progress == nil {
		progress = func(MoveProgress) {}
	}
	interval := o.PollInterval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	name := t.EKS.Cluster.Name
	out, err := t.EKS.EKS.UpdateClusterConfig(ctx, &eks.UpdateClusterConfigInput{Name: aws.String(name), AccessConfig: &ekstypes.UpdateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationMode(mode)}})
	if err != nil {
		return fmt.Errorf("switch %s to %s: %w", name, mode, err)
	}
	id := aws.ToString(out.Update.Id)
	progress(MoveProgress{Cluster: name, To: mode, UpdateID: id})
	for o.Wait {
		up, err := t.EKS.EKS.DescribeUpdate(ctx, &eks.DescribeUpdateInput{Name: aws.String(name), UpdateId: aws.String(id)})
		if err != nil {
			return fmt.Errorf("wait for update %s: %w", id, err)
		}
		switch up.Update.Status {
		case ekstypes.UpdateStatusSuccessful:
			t.EKS.Cluster.AuthMode = mode
			progress(MoveProgress{Cluster: name, To: mode, UpdateID: id, Done: true})
			return nil
		case ekstypes.UpdateStatusFailed, ekstypes.UpdateStatusCancelled:
			return fmt.Errorf("update %s of cluster %s ended %s: %v", id, name, up.Update.Status, up.Update.Errors)
		}
		timer := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
	return nil
}
