package awscreds

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRegistry(t *testing.T) {
	r := New()
	alice := Key{AccessKeyID: "AKIAALICE", SecretAccessKey: "s", Name: "alice", ARN: "arn:aws:iam::111122223333:user/alice"}
	if err := r.Add(alice, alice); err != nil {
		t.Fatalf("adding a key twice: %v", err)
	}
	impostor := alice
	impostor.ARN = "arn:aws:iam::444455556666:user/eve"
	if err := r.Add(impostor); err == nil {
		t.Error("a key id registered for another identity was accepted")
	}
	if k, err := r.Check("AKIAALICE", "anything", time.Now()); err != nil || k.Account() != "111122223333" || k.Session() {
		t.Errorf("static key: %+v %v", k, err)
	}
	if _, err := r.Check("AKIANOBODY", "", time.Now()); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key: %v", err)
	}

	exp := time.Now().Add(time.Hour)
	s, err := r.IssueSession("arn:aws:iam::444455556666:role/x", "run", exp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.AccessKeyID, "ASIA") || len(s.AccessKeyID) != 20 || len(s.SecretAccessKey) != 40 || !s.Session() || s.Account() != "444455556666" {
		t.Errorf("session = %+v", s)
	}
	if _, err := r.Check(s.AccessKeyID, s.SessionToken, exp.Add(-time.Second)); err != nil {
		t.Errorf("live session: %v", err)
	}
	if _, err := r.Check(s.AccessKeyID, "", time.Now()); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("session without token: %v", err)
	}
	if _, err := r.Check(s.AccessKeyID, s.SessionToken, exp); !errors.Is(err, ErrExpiredToken) {
		t.Errorf("session at its expiry: %v", err)
	}
	r.Forget(s.AccessKeyID)
	if _, ok := r.Lookup(s.AccessKeyID); ok {
		t.Error("forgotten session still registered")
	}
}
