package main

import (
	"os/exec"
	"strings"
	"testing"
)

// deps lists the packages pkg depends on, itself included.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// The product never carries the dev stack: the emulators and the test
// webhook are for tests and `make demo` only.
func TestProductDoesNotImportTheDevStack(t *testing.T) {
	for _, d := range deps(t, ".") {
		if strings.Contains(d, "/internal/devstack") {
			t.Errorf("the iammap binary depends on %s", d)
		}
	}
}

// The access model is pure: other programs can import mapping to ask who a
// caller becomes without pulling in a Kubernetes or AWS client.
func TestMappingImportsNoClient(t *testing.T) {
	for _, d := range deps(t, "./mapping") {
		for _, client := range []string{"k8s.io/", "github.com/aws/", "github.com/iammap/iammap/internal/", "github.com/iammap/iammap/awsauth", "github.com/iammap/iammap/accessentry"} {
			if strings.HasPrefix(d, client) {
				t.Errorf("mapping depends on %s", d)
			}
		}
	}
}
