package app

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func serverKubeconfig(t *testing.T, server string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	kc := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: %q}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n", server)
	if err := os.WriteFile(p, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCreateAgainstHangingServerTimesOut: in kubeconfig mode a server that
// accepts and never answers hung `create` until --timeout (25 minutes by
// default). Each request now has IAMMAP_REQUEST_TIMEOUT (default 30s), and
// the command fails with exit 1 and the reason.
func TestCreateAgainstHangingServerTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	t.Setenv("IAMMAP_REQUEST_TIMEOUT", "500ms")
	kubeconfig := serverKubeconfig(t, "http://"+ln.Addr().String())
	for _, args := range [][]string{
		{"create", "--arn", "arn:aws:iam::111122223333:role/A", "--username", "a", "--group", "g"},
		{"create", "--force", "--arn", "arn:aws:iam::111122223333:role/A", "--username", "a", "--group", "g"},
		{"get"},
	} {
		t.Run(strings.Join(args[:min(2, len(args))], " "), func(t *testing.T) {
			// The context only keeps a regression from hanging the test.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := Main(ctx, append([]string{"iammap", "--kubeconfig", kubeconfig}, args...), &stdout, &stderr)
			if d := time.Since(start); d > 10*time.Second || ctx.Err() != nil {
				t.Errorf("took %s with a 500ms request timeout", d)
			}
			// client-go ends the request by its context or the HTTP
			// client's timeout, whichever fires first; both name it.
			msg := stderr.String()
			timedOut := strings.Contains(msg, "Client.Timeout exceeded") || strings.Contains(msg, "timeout=500ms") && strings.Contains(msg, "context deadline exceeded")
			if code != 1 || !timedOut || strings.Contains(msg, "gave up after --timeout") {
				t.Errorf("exit %d, stderr %q; want 1 and the request timeout", code, stderr.String())
			}
		})
	}
}

// klogLine matches klog's header: severity, MMDD, time ("W1206 12:00:00.000000").
var klogLine = regexp.MustCompile(`(?m)^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d{6}`)

// TestNoKlogLinesOnStderr runs iammap as a process against a server that
// refuses with a Warning header: client-go logged it through klog as a raw
// "I1206 ... warnings.go:...] ..." line between iammap's own messages.
func TestNoKlogLinesOnStderr(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Warning", `299 - "this API is going away"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,"message":"configmaps is forbidden"}`)
	}))
	defer srv.Close()
	kubeconfig := serverKubeconfig(t, srv.URL)
	for _, args := range [][]string{{"get"}, {"audit"}, {"create", "--arn", "arn:aws:iam::111122223333:role/A", "--username", "a", "--group", "g"}} {
		cmd := exec.Command("iammap", append([]string{"--kubeconfig", kubeconfig}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if exitCode(err) != 1 || !strings.Contains(stderr.String(), "iammap: error:") {
			t.Errorf("%s: exit %d, stderr %q; want a failing command", args[0], exitCode(err), stderr.String())
		}
		if l := klogLine.FindString(stderr.String()); l != "" {
			t.Errorf("%s: klog line on stderr: %q\n%s", args[0], l, stderr.String())
		}
	}
}
