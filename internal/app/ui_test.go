package app

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A server's text in a message stays on its line: a newline in it could
// otherwise start a CI workflow command ("::error::") or forge a line.
func TestUIEscapesArguments(t *testing.T) {
	var buf bytes.Buffer
	u := &ui{stderr: &buf, level: levelDebug, prefix: "cluster a: "}
	u.warn("cannot list RBAC bindings (%v): skipped", errors.New("denied\n::error title=x::y\x1b[31m"))
	u.info("two\nlines of %s", "ours")
	u.debug("arn %s", "arn:aws:eks:us-west-2:1:cluster/x\n::warning::z")
	got := buf.String()
	want := "iammap: warning: cluster a: cannot list RBAC bindings (denied\\x0a::error title=x::y\\x1b[31m): skipped\n" +
		"iammap: cluster a: two\nlines of ours\n" +
		"iammap: cluster a: arn arn:aws:eks:us-west-2:1:cluster/x\\x0a::warning::z\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "::") {
			t.Errorf("a line starts a workflow command: %q", line)
		}
	}
}
