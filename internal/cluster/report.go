package cluster

import (
	"errors"
	"fmt"
)

// Reporter hears what an operation does while it runs: notes, warnings and
// detail for --verbose. The command layer prints them; this package never
// writes to a terminal.
type Reporter interface {
	Note(format string, a ...any)
	Warn(format string, a ...any)
	Debug(format string, a ...any)
}

// Discard is a Reporter that drops everything.
var Discard Reporter = discard{}

type discard struct{}

func (discard) Note(string, ...any)  {}
func (discard) Warn(string, ...any)  {}
func (discard) Debug(string, ...any) {}

func orDiscard(r Reporter) Reporter {
	if r == nil {
		return Discard
	}
	return r
}

// ErrInvalid wraps refusals of how an operation was asked for: a backend
// the cluster's mode rules out, access entries without an EKS cluster. Its
// text is the command line's, where every such choice comes from a flag.
var ErrInvalid = errors.New("invalid flags")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// HintError is an error with the next step to suggest; the command layer
// prints Hint after the error.
type HintError struct {
	Err  error
	Hint string
}

func (h *HintError) Error() string { return h.Err.Error() }
func (h *HintError) Unwrap() error { return h.Err }

// WithHint attaches the next step to suggest to err.
func WithHint(err error, hint string) error { return &HintError{Err: err, Hint: hint} }
