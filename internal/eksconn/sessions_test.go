package eksconn

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/stsemu"
	"github.com/iammap/iammap/internal/ekstoken"
)

// localSTS serves the stack's STS (SigV4-checked, AssumeRole of role for
// callers of account 111122223333 sending externalID) and counts the
// AssumeRole calls; the environment points the SDK at it with ci's keys.
func localSTS(t *testing.T, role, externalID string) *atomic.Int64 {
	t.Helper()
	ci := authwebhook.NewPrincipal("ci", "arn:aws:iam::111122223333:user/ci")
	srv, err := stsemu.NewServer(stsemu.Options{Region: "us-west-2", Principals: []authwebhook.Principal{ci},
		Roles: []stsemu.Role{{ARN: role, Trusted: []string{"111122223333"}, ExternalID: externalID}}, MoreRegions: []string{"eu-west-1"}})
	if err != nil {
		t.Fatal(err)
	}
	var assumes atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if strings.Contains(string(body), "Action=AssumeRole") {
			assumes.Add(1)
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": ci.AccessKeyID, "AWS_SECRET_ACCESS_KEY": ci.SecretAccessKey, "AWS_SESSION_TOKEN": "",
		"AWS_ENDPOINT_URL_STS": hs.URL, "AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "",
	} {
		t.Setenv(k, v)
	}
	return &assumes
}

// TestSessionsAssumeOncePerIdentity: clusters reached with one role (in any
// region) share one AssumeRole; the caller is the role's session named
// iammap-...; another identity gets its own configuration.
func TestSessionsAssumeOncePerIdentity(t *testing.T) {
	const role = "arn:aws:iam::444455556666:role/iammap-deployer"
	assumes := localSTS(t, role, "platform")
	var s Sessions
	ctx := context.Background()
	id := Identity{RoleARN: role, ExternalID: "platform"}
	var wg sync.WaitGroup
	callers := make([]string, 8)
	errs := make([]error, 8)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			region := []string{"us-west-2", "eu-west-1"}[i%2]
			cfg, err := s.Config(ctx, id, region)
			if err != nil {
				errs[i] = err
				return
			}
			if cfg.Region != region {
				errs[i] = &regionError{cfg.Region, region}
				return
			}
			out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				errs[i] = err
				return
			}
			callers[i] = *out.Arn
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("cluster %d: %v", i, err)
		}
		if !strings.HasPrefix(callers[i], "arn:aws:sts::444455556666:assumed-role/iammap-deployer/"+SessionNamePrefix) {
			t.Errorf("cluster %d calls as %s; want the deployer role's iammap session", i, callers[i])
		}
	}
	if n := assumes.Load(); n != 1 {
		t.Errorf("%d AssumeRole calls for 8 clusters of one identity; want 1", n)
	}
	// The environment's own identity is another session of Sessions.
	cfg, err := s.Config(ctx, Identity{}, "us-west-2")
	if err != nil {
		t.Fatal(err)
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || *out.Arn != "arn:aws:iam::111122223333:user/ci" {
		t.Errorf("default identity: %v, %v; want the user ci", out, err)
	}
	if n := assumes.Load(); n != 1 {
		t.Errorf("the default identity assumed a role: %d AssumeRole calls", n)
	}
}

// TestSessionsRefusedRoleFailsOnlyItsClusters: a role STS refuses (wrong
// external id) fails the clusters that use it, with STS's answer, and no
// region is ever silently guessed.
func TestSessionsRefusedRoleFailsOnlyItsClusters(t *testing.T) {
	const role = "arn:aws:iam::444455556666:role/iammap-deployer"
	localSTS(t, role, "platform")
	var s Sessions
	ctx := context.Background()
	cfg, err := s.Config(ctx, Identity{RoleARN: role, ExternalID: "wrong"}, "us-west-2")
	if err != nil {
		t.Fatal(err) // credentials are fetched on first use
	}
	_, err = cfg.Credentials.Retrieve(ctx)
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("wrong external id: %v; want STS's AccessDenied", err)
	}
	if _, err := s.Config(ctx, Identity{}, "us-west-2"); err != nil {
		t.Errorf("the default identity failed with the refused role: %v", err)
	}
	if _, err := s.Config(ctx, Identity{Profile: ""}, ""); err == nil || !strings.Contains(err.Error(), "no AWS region") {
		t.Errorf("no region anywhere: %v; want ErrNoRegion", err)
	}
}

type regionError struct{ got, want string }

func (e *regionError) Error() string { return "region " + e.got + ", want " + e.want }

func TestSessionName(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 5, 9, 0, time.UTC)
	tests := []struct {
		env  map[string]string
		want string
	}{
		{nil, "iammap-20261207T100509Z"},
		{map[string]string{"GITHUB_RUN_ID": "123456789", "GITHUB_RUN_ATTEMPT": "2"}, "iammap-gh-123456789-2"},
		{map[string]string{"CI_JOB_ID": "987"}, "iammap-gitlab-987"},
		{map[string]string{"CI_JOB_ID": "a b/c" + strings.Repeat("9", 80)}, "iammap-gitlab-a_b_c" + strings.Repeat("9", 64-len("iammap-gitlab-a_b_c"))},
	}
	for _, tt := range tests {
		got := SessionName(at, func(k string) string { return tt.env[k] })
		if got != tt.want || len(got) > 64 {
			t.Errorf("SessionName(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

// The call log hears calls that were sent, not a presigned token.
func TestCallLogSkipsPresignedTokens(t *testing.T) {
	localSTS(t, "arn:aws:iam::444455556666:role/x", "")
	var calls []string
	s := Sessions{Log: func(service, operation string, err error, _ time.Duration) {
		calls = append(calls, service+" "+operation)
	}}
	cfg, err := s.Config(context.Background(), Identity{}, "us-west-2")
	if err != nil {
		t.Fatal(err)
	}
	client := sts.NewFromConfig(cfg)
	if _, err := ekstoken.Generate(context.Background(), client, "c"); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 0 {
		t.Errorf("a presigned token was logged as %v", calls)
	}
	if _, err := client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(calls, ",") != "STS GetCallerIdentity" {
		t.Errorf("calls %v; want the one sent", calls)
	}
}
