package cluster

import (
	"errors"
	"fmt"
	"strings"

	"github.com/iammap/iammap/mapping"
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

// Effect is what a principal gets before and after a change, where the
// change moves it between the two mechanisms.
type Effect struct {
	Principal     string
	Before, After mapping.Identity
}

// String is "before → after", each side in words.
func (e Effect) String() string {
	return fmt.Sprintf("%s: %s → %s", e.Principal, DescribeIdentity(e.Before), DescribeIdentity(e.After))
}

// DescribeIdentity says what an identity is and what decided it, in one
// phrase: `aws-auth mapRoles[0] (username "a", groups [g])`.
func DescribeIdentity(id mapping.Identity) string {
	if !id.Mapped {
		if id.Refused != "" {
			return id.Via + " (refused: 401)"
		}
		return "not mapped (401: " + id.Via + ")"
	}
	var policies []string
	for _, p := range id.Policies {
		policies = append(policies, mapping.PolicyName(p.ARN)+"("+p.Scope()+")")
	}
	username := fmt.Sprintf("%q", id.Username)
	if id.Username == "" && id.Mechanism == mapping.ViaAccessEntry {
		username = "(EKS default)"
	}
	what := fmt.Sprintf("username %s, groups [%s]", username, strings.Join(id.Groups, ","))
	if id.Mechanism == mapping.ViaAccessEntry {
		what += ", access policies [" + strings.Join(policies, ",") + "]"
	}
	if id.Undefined() {
		what += fmt.Sprintf(", or one of %d other outcomes at random", len(id.Alternatives))
	}
	return id.Via + " (" + what + ")"
}
