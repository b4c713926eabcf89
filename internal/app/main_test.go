package app

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	"github.com/rogpeppe/go-internal/testscript"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type withStack struct{ m *testing.M }

func (w withStack) Run() int { return stacktest.Main(w.m) }

// TestMain lets the test binary act as the iammap command (on $PATH for
// scripts and for exec.Command), so CLI tests run real processes.
func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(withStack{m}, map[string]func() int{
		"iammap": func() int { return Main(context.Background(), os.Args, os.Stdout, os.Stderr) },
	}))
}

// TestScripts checks CLI behaviour that needs no cluster: help, flag and
// ARN validation. Each script asserts stdout, stderr and the exit code.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(env *testscript.Env) error {
			// No cluster: any attempt to connect fails loudly.
			env.Setenv("KUBECONFIG", filepath.Join(env.WorkDir, "no-such-kubeconfig"))
			return nil
		},
	})
}

// awsAuthLock serialises tests that share the cluster's one aws-auth.
var awsAuthLock sync.Mutex

// TestIntegrationScripts runs CLI scripts against the local API server,
// each starting from an absent aws-auth.
func TestIntegrationScripts(t *testing.T) {
	kubeconfig := stacktest.Kubeconfig(t)
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "integration"),
		// UPDATE_GOLDEN=1 rewrites the golden files in the scripts from the
		// actual output; review the diff before committing.
		UpdateScripts: os.Getenv("UPDATE_GOLDEN") != "",
		Setup: func(env *testscript.Env) error {
			awsAuthLock.Lock()
			env.Defer(awsAuthLock.Unlock)
			env.Setenv("KUBECONFIG", kubeconfig)
			err := admin.CoreV1().ConfigMaps(awsauth.Namespace).Delete(context.Background(), awsauth.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			return nil
		},
	})
}
