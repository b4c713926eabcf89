package stacktest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB whose Skip and Fatal record the message and
// stop the gate by panicking, as the real ones stop the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

type stopped struct{}

func (r *recorder) Helper() {}
func (r *recorder) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	panic(stopped{})
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	panic(stopped{})
}

func gate(t *testing.T, fn func(testing.TB)) *recorder {
	t.Helper()
	r := &recorder{TB: t}
	func() {
		defer func() {
			if v := recover(); v != nil {
				if _, ok := v.(stopped); !ok {
					panic(v)
				}
			}
		}()
		fn(r)
	}()
	return r
}

// A bin directory with the control plane but without authenticator-oracle
// is not a stack: the gate fails and names it.
func TestGateRequiresTheAuthenticatorOracle(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(IntegrationEnv, "1")
	t.Setenv("IAMMAP_KUBE_BIN", dir)
	r := gate(t, RequireIntegration)
	if !strings.Contains(r.failed, "authenticator-oracle not found") || !strings.Contains(r.failed, "`make kube-bin`") || r.skipped != "" {
		t.Errorf("want a failure naming authenticator-oracle and make kube-bin, got skip %q, failure %q", r.skipped, r.failed)
	}
}

func TestGateSkipsWithoutIntegrationAndFailsWithIt(t *testing.T) {
	requireStack := func(tb testing.TB) { RequireIntegration(tb) }
	requireTool := func(tb testing.TB) { RequireTool(tb, "iammap-no-such-tool", "get it somewhere") }
	for _, tc := range []struct {
		name, env     string
		fn            func(testing.TB)
		skip, failure string
	}{
		{name: "unset skips", env: "", fn: requireStack, skip: "`make test`"},
		{name: "0 skips", env: "0", fn: requireStack, skip: "`make test`"},
		{name: "unset skips a tool", env: "", fn: requireTool, skip: "`make test`"},
		{name: "1 fails without binaries", env: "1", fn: requireStack, failure: "`make kube-bin`"},
		{name: "1 fails without the tool", env: "1", fn: requireTool, failure: "iammap-no-such-tool is not on $PATH: get it somewhere"},
		{name: "a typo fails", env: "yes please", fn: requireStack, failure: "want 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(IntegrationEnv, tc.env)
			t.Setenv("IAMMAP_KUBE_BIN", "/nonexistent")
			r := gate(t, tc.fn)
			if tc.skip != "" && (!strings.Contains(r.skipped, tc.skip) || strings.Contains(r.skipped, "\n") || r.failed != "") {
				t.Errorf("want one skip line naming %s, got skip %q, failure %q", tc.skip, r.skipped, r.failed)
			}
			if tc.failure != "" && (!strings.Contains(r.failed, tc.failure) || r.skipped != "") {
				t.Errorf("want a failure naming %s, got skip %q, failure %q", tc.failure, r.skipped, r.failed)
			}
		})
	}
}
