package cluster

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/iammap/iammap/internal/devstack/eksemu"
	"github.com/iammap/iammap/internal/eksconn"
	"github.com/iammap/iammap/mapping"
)

// emulatedTarget is a target on a cluster of an in-process EKS emulator,
// with no Kubernetes behind it: enough for what only calls EKS.
func emulatedTarget(t *testing.T, opts eksemu.Options, spec eksemu.ClusterSpec) (*Target, *eksemu.Server) {
	t.Helper()
	emu := eksemu.New(opts)
	emu.AddCluster(spec)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	api := eks.New(eks.Options{Region: "us-west-2", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	cl, err := eksconn.Describe(context.Background(), api, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	return FromEKS(&eksconn.Conn{EKS: api, Cluster: cl}), emu
}

func TestMoveAuthModeWaitsAndReportsProgress(t *testing.T) {
	target, emu := emulatedTarget(t, eksemu.Options{UpdateDuration: 150 * time.Millisecond}, eksemu.ClusterSpec{Name: "legacy", AuthMode: eksemu.ModeConfigMap})
	var events []MoveProgress
	err := MoveAuthMode(context.Background(), target, mapping.ModeAPIAndConfigMap, MoveOptions{Wait: true, PollInterval: 20 * time.Millisecond, Progress: func(p MoveProgress) { events = append(events, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].Done || !events[1].Done || events[0].UpdateID == "" || events[0].UpdateID != events[1].UpdateID ||
		events[1].Cluster != "legacy" || events[1].To != mapping.ModeAPIAndConfigMap {
		t.Errorf("progress = %+v, want one start and one done of the same update", events)
	}
	if target.Mode() != mapping.ModeAPIAndConfigMap {
		t.Errorf("target mode after the move = %s", target.Mode())
	}
	if mode, _ := emu.AuthMode("legacy"); mode != eksemu.ModeAPIAndConfigMap {
		t.Errorf("emulator mode = %s", mode)
	}
}

func TestMoveAuthModeWithoutWaitReturnsAtOnce(t *testing.T) {
	target, _ := emulatedTarget(t, eksemu.Options{UpdateDuration: time.Hour}, eksemu.ClusterSpec{Name: "slow", AuthMode: eksemu.ModeAPIAndConfigMap})
	var events []MoveProgress
	if err := MoveAuthMode(context.Background(), target, mapping.ModeAPI, MoveOptions{Progress: func(p MoveProgress) { events = append(events, p) }}); err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Done {
		t.Errorf("progress = %+v, want the start only", events)
	}
	if target.Mode() != mapping.ModeAPIAndConfigMap {
		t.Errorf("an unfinished move changed the target's mode to %s", target.Mode())
	}
}

func TestMoveAuthModeStopsWhenCtxEnds(t *testing.T) {
	target, _ := emulatedTarget(t, eksemu.Options{UpdateDuration: time.Hour}, eksemu.ClusterSpec{Name: "slow", AuthMode: eksemu.ModeConfigMap})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := MoveAuthMode(ctx, target, mapping.ModeAPIAndConfigMap, MoveOptions{Wait: true, PollInterval: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("returned after %v: the poll interval, not the context, ended the wait", d)
	}
}

func TestMoveAuthModeRefusedByEKS(t *testing.T) {
	target, _ := emulatedTarget(t, eksemu.Options{}, eksemu.ClusterSpec{Name: "c", AuthMode: eksemu.ModeAPI})
	err := MoveAuthMode(context.Background(), target, mapping.ModeConfigMap, MoveOptions{Wait: true})
	if err == nil {
		t.Fatal("EKS accepted a move back to CONFIG_MAP")
	}
	if target.Mode() != mapping.ModeAPI {
		t.Errorf("mode after a refused move = %s", target.Mode())
	}
}
