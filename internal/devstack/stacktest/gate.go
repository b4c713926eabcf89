package stacktest

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/iammap/iammap/internal/devstack"
)

// IntegrationEnv is the environment variable that turns integration tests
// on. `make test` and CI set it; plain `go test ./...` leaves it unset.
const IntegrationEnv = "IAMMAP_INTEGRATION"

// SkipMessage is the one line an integration test skips with.
const SkipMessage = "integration test: set " + IntegrationEnv + "=1 or run `make test` (builds the local kube-apiserver and etcd once)"

// integration is the one decision: false means skip. It is false when
// IAMMAP_INTEGRATION is unset, empty or false, and true when it is 1 (or
// true); any other value fails t, so a typo never turns into a silent skip.
func integration(t testing.TB) bool {
	t.Helper()
	v := os.Getenv(IntegrationEnv)
	if v == "" {
		return false
	}
	on, err := strconv.ParseBool(v)
	if err != nil {
		t.Fatalf("%s=%q: want 1 (run the integration tests) or 0 (skip them)", IntegrationEnv, v)
	}
	return on
}

// RequireIntegration gates a test that needs the local stack: it skips t
// with SkipMessage unless IAMMAP_INTEGRATION=1. When that is set nothing
// skips: if kube-apiserver, etcd or authenticator-oracle is missing from
// BinDir (devstack.Binaries), t fails with the command that builds them. Cluster calls it; tests that start their own
// stack with devstack.Start call it first.
func RequireIntegration(t testing.TB) {
	t.Helper()
	if !integration(t) {
		t.Skip(SkipMessage)
	}
	if _, err := devstack.FindBinDir(BinDir()); err != nil {
		t.Fatalf("%s=1 but %v", IntegrationEnv, err)
	}
}

// RequireTool gates a test that needs an external program: it skips t
// unless IAMMAP_INTEGRATION=1, and then fails t, with install (how to get
// the program), if name is not on $PATH. It returns the program's path.
func RequireTool(t testing.TB, name, install string) string {
	t.Helper()
	if !integration(t) {
		t.Skip(SkipMessage)
	}
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s=1 but %s is not on $PATH: %s", IntegrationEnv, name, install)
	}
	return path
}

// awsCLIInstall says which AWS CLI the cross-check needs and how to get it.
const awsCLIInstall = "install an AWS CLI that knows EKS access entries (any release since December 2023, e.g. `pip install awscli`); " +
	"Debian 12's awscli package (2.9.19) predates them"

// RequireAWSCLI is RequireTool for the AWS CLI, which must also know the
// EKS access entry commands: an older one fails t rather than every
// command it runs.
func RequireAWSCLI(t testing.TB) string {
	t.Helper()
	path := RequireTool(t, "aws", awsCLIInstall)
	// Without arguments a known command complains about them; an unknown
	// one answers "Invalid choice" with the list of commands it knows.
	out, _ := exec.Command(path, "eks", "describe-access-entry").CombinedOutput()
	if strings.Contains(string(out), "Invalid choice") {
		t.Fatalf("%s=1 but %s has no `eks describe-access-entry`: %s", IntegrationEnv, path, awsCLIInstall)
	}
	return path
}
