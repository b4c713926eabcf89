package serviceaccess

import (
	"os"
	"testing"

	"github.com/iammap/iammap/internal/devstack/stacktest"
)

// TestMain stops the local stack once, if a test started it.
func TestMain(m *testing.M) { os.Exit(stacktest.Main(m)) }
