package app

import (
	"strings"
	"testing"

	"github.com/iammap/iammap/internal/devstack/stacktest"
)

// hostileAWSAuth is aws-auth as another tool, or anyone allowed to edit the
// ConfigMap, may leave it: a username that moves the cursor up and erases
// the row above, a group with a newline that prints a forged row, a
// right-to-left override that makes a group read as system:masters.
var hostileAWSAuth = map[string]string{
	"mapRoles": `- rolearn: arn:aws:iam::111122223333:role/Admin
  username: "admin\e[1A\e[2K"
  groups: ["viewers\narn:aws:iam::111122223333:role/Fake  fake  system:masters  active"]
- rolearn: arn:aws:iam::111122223333:role/dev
  username: dev
  groups: ["\u202Esretsam:metsys"]
`,
}

// TestIntegrationGetEscapesControlCharacters writes aws-auth with the
// admin client, then checks `iammap get`'s table on the real API server:
// one line per entry, every control and bidi character shown escaped.
func TestIntegrationGetEscapesControlCharacters(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	kubeconfig := stacktest.Kubeconfig(t)
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	setAWSAuth(t, admin, hostileAWSAuth)
	defer setAWSAuth(t, admin, nil)

	stdout, stderr, err := iammap(t, kubeconfig, "get")
	if err != nil {
		t.Fatalf("get: %v: %s", err, stderr)
	}
	if lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n"); len(lines) != 3 {
		t.Errorf("%d lines for a header and 2 entries: a control character made or hid a row:\n%s", len(lines), stdout)
	}
	if i := strings.IndexFunc(stdout, func(r rune) bool { return (r < 0x20 && r != '\n') || r == 0x7f || r == 0x202e }); i >= 0 {
		t.Errorf("raw control character %U in get's table:\n%q", []rune(stdout[i:])[0], stdout)
	}
	for _, want := range []string{`admin\x1b[1A\x1b[2K`, `viewers\x0aarn:aws:iam::111122223333:role/Fake`, `\u202esretsam:metsys`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("get's table lacks %s:\n%s", want, stdout)
		}
	}
	// JSON keeps the exact values, escaped as JSON escapes them.
	stdout, _, err = iammap(t, kubeconfig, "get", "-o", "json")
	if err != nil || !strings.Contains(stdout, `admin\u001b[1A\u001b[2K`) || strings.ContainsRune(stdout, 0x1b) {
		t.Errorf("get -o json: %v\n%s", err, stdout)
	}
}

// TestIntegrationAuditAndMessagesEscapeControlCharacters: audit's table
// and iammap's messages quoted aws-auth's usernames and groups raw.
func TestIntegrationAuditAndMessagesEscapeControlCharacters(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	kubeconfig := stacktest.Kubeconfig(t)
	admin := stacktest.Clientset(t, stacktest.Cluster(t).Admin)
	setAWSAuth(t, admin, hostileAWSAuth)
	defer setAWSAuth(t, admin, nil)
	raw := func(s string) int {
		return strings.IndexFunc(s, func(r rune) bool { return (r < 0x20 && r != '\n') || r == 0x7f || r == 0x202e })
	}

	stdout, stderr, err := iammap(t, kubeconfig, "audit", "--fail-on", "none")
	if err != nil {
		t.Fatalf("audit: %v: %s", err, stderr)
	}
	if i := raw(stdout); i >= 0 {
		t.Errorf("raw control character in audit's table:\n%q", stdout)
	}
	if !strings.Contains(stdout, `\u202esretsam:metsys`) {
		t.Errorf("audit's table lacks the escaped group:\n%s", stdout)
	}

	_, stderr, err = iammap(t, kubeconfig, "delete", "--arn", "arn:aws:iam::111122223333:role/dev", "--force")
	if err != nil {
		t.Fatalf("delete: %v: %s", err, stderr)
	}
	if i := raw(stderr); i >= 0 || !strings.Contains(stderr, `\u202e`) {
		t.Errorf("delete's messages: raw control character, or the group not shown escaped:\n%q", stderr)
	}
}
