package authwebhook

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iammap/iammap/internal/devstack/awscreds"
)

// A token presigned with a session's key is checked as STS checks the
// session: its token must be the session's and the session alive. The
// caller is then the assumed role, by Principal.Identity.
func TestVerifyTokenOfASession(t *testing.T) {
	reg := awscreds.New()
	live, err := reg.IssueSession("arn:aws:iam::444455556666:role/ops/cross", "run-1", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired, err := reg.IssueSession("arn:aws:iam::444455556666:role/ops/cross", "run-0", time.Now().Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{Cluster: "prod", Credentials: reg}
	tok := func(k awscreds.Key, token string) string {
		return signed{key: k.AccessKeyID, secret: k.SecretAccessKey, sessionToken: token}.token(t)
	}

	_, key, err := h.verifyToken(context.Background(), tok(live, live.SessionToken), time.Now())
	if err != nil {
		t.Fatalf("live session refused: %v", err)
	}
	c, err := PrincipalOf(key).caller()
	if err != nil {
		t.Fatal(err)
	}
	if c.ARN != "arn:aws:sts::444455556666:assumed-role/cross/run-1" || c.CanonicalARN != "arn:aws:iam::444455556666:role/cross" ||
		c.Account != "444455556666" || c.SessionName != "run-1" || c.principal.ARN != "arn:aws:iam::444455556666:role/ops/cross" {
		t.Errorf("caller = %+v", c)
	}

	for name, tt := range map[string]struct {
		token, want string
	}{
		"no session token":      {tok(live, ""), "security token included in the request is invalid"},
		"another session token": {tok(live, expired.SessionToken), "security token included in the request is invalid"},
		"expired session":       {tok(expired, expired.SessionToken), "security token included in the request is expired"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := h.verifyToken(context.Background(), tt.token, time.Now()); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
