package awsauth

import "context"

// SetBeforeWrite installs a hook that runs between a write's backup and the
// write itself, and returns a function that removes it. Tests use it to
// interrupt a write at its most delicate point.
func SetBeforeWrite(hook func(ctx context.Context)) (restore func()) {
	beforeWrite = hook
	return func() { beforeWrite = nil }
}
