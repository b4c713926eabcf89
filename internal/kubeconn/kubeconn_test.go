package kubeconn

import (
	"context"
	"errors"
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

	"github.com/iammap/iammap/internal/readlimit"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: %q}
users:
- name: u
  user: {token: t}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`, server)
	if err := os.WriteFile(p, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConnectRefusesOversizedKubeconfig: --kubeconfig /dev/zero was read
// until memory ran out; now every kubeconfig file is checked first.
func TestConnectRefusesOversizedKubeconfig(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("#", MaxKubeconfigSize+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	small := writeKubeconfig(t, "https://127.0.0.1:1")
	tests := []struct {
		name, explicit, env, bad string
	}{
		{"explicit device", "/dev/zero", "", "/dev/zero"},
		{"explicit file", big, "", big},
		{"second of KUBECONFIG", "", small + string(os.PathListSeparator) + big, big},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tt.env)
			_, err := Connect(Options{Kubeconfig: tt.explicit})
			if !errors.Is(err, readlimit.ErrTooLarge) || !strings.Contains(err.Error(), tt.bad+" is larger than 16 MiB") {
				t.Errorf("Connect = %v, want ErrTooLarge naming %s", err, tt.bad)
			}
		})
	}
	t.Setenv("KUBECONFIG", "")
	if _, err := Connect(Options{Kubeconfig: small}); err != nil {
		t.Errorf("small kubeconfig: %v", err)
	}
}

// hangingServer accepts connections and never answers.
func hangingServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// TestRequestTimeoutEndsHangingServer: with no client timeout, a server
// that accepts and never answers hung `create` (until --timeout, 25 minutes
// by default, and forever for calls on a background context). Each request
// now fails after the request timeout.
func TestRequestTimeoutEndsHangingServer(t *testing.T) {
	addr := hangingServer(t)
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			t.Setenv(RequestTimeoutEnv, "300ms")
			conn, err := Connect(Options{Kubeconfig: writeKubeconfig(t, scheme+"://"+addr)})
			if err != nil {
				t.Fatal(err)
			}
			if conn.Config.Timeout != 300*time.Millisecond {
				t.Errorf("Timeout = %s", conn.Config.Timeout)
			}
			// The context only keeps the test from hanging when the timeout
			// is missing; the request timeout must end the call long before.
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			start := time.Now()
			_, err = conn.Clientset.CoreV1().ConfigMaps("kube-system").Get(ctx, "aws-auth", metav1.GetOptions{})
			if err == nil {
				t.Fatal("no error from a server that never answers")
			}
			if d := time.Since(start); d > 10*time.Second || ctx.Err() != nil {
				t.Errorf("took %s with a 300ms request timeout", d)
			}
		})
	}
}

func TestRequestTimeout(t *testing.T) {
	tests := []struct {
		env     string
		want    time.Duration
		wantErr bool
	}{
		{"", DefaultRequestTimeout, false},
		{"5s", 5 * time.Second, false},
		{"2m", 2 * time.Minute, false},
		{"0s", 0, true},
		{"-1s", 0, true},
		{"30", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv(RequestTimeoutEnv, tt.env)
			got, err := RequestTimeout()
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("RequestTimeout() = %s, %v; want %s, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "want a positive duration") {
				t.Errorf("error without advice: %v", err)
			}
			if tt.wantErr {
				if _, err := Connect(Options{Kubeconfig: writeKubeconfig(t, "https://127.0.0.1:1")}); err == nil {
					t.Error("Connect accepted a bad " + RequestTimeoutEnv)
				}
			}
		})
	}
}

// klogLine matches klog's header: severity, MMDD, time ("W1206 12:00:00.000000").
var klogLine = regexp.MustCompile(`(?m)^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d{6}`)

// TestKlogSilenced runs a failing request in a child process and checks
// that client-go's klog lines (here: the server's Warning header, which
// client-go logs as "W1206 ... warnings.go:...") do not reach its stderr.
func TestKlogSilenced(t *testing.T) {
	if kc := os.Getenv("KUBECONN_TEST_CHILD"); kc != "" {
		conn, err := Connect(Options{Kubeconfig: kc})
		if err != nil {
			fmt.Println(err)
			os.Exit(3)
		}
		_, err = conn.Clientset.CoreV1().ConfigMaps("kube-system").Get(context.Background(), "aws-auth", metav1.GetOptions{})
		fmt.Println("error:", err)
		os.Exit(0)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Warning", `299 - "this API is going away"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,"message":"no"}`)
	}))
	defer srv.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKlogSilenced$")
	cmd.Env = append(os.Environ(), "KUBECONN_TEST_CHILD="+writeKubeconfig(t, srv.URL))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "error: no") {
		t.Fatalf("the request did not fail as the server said: %s", stdout.String())
	}
	if l := klogLine.FindString(stderr.String()); l != "" {
		t.Errorf("klog line on stderr: %q\nstderr:\n%s", l, stderr.String())
	}
}
