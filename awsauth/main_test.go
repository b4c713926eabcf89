package awsauth_test

import (
	"os"
	"testing"

	"github.com/iammap/iammap/internal/devstack/stacktest"
)

func TestMain(m *testing.M) { os.Exit(stacktest.Main(m)) }
