package oracle

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/aws-iam-authenticator/pkg/config"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper/configmap"
	"sigs.k8s.io/aws-iam-authenticator/pkg/metrics"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeKube is just enough of an API server for the authenticator's watch
// on kube-system/aws-auth (JSON watch events) and for a GET of it.
type fakeKube struct {
	mu       sync.Mutex
	data     map[string]string // nil: no aws-auth
	rv       int
	watchers []chan []byte
	done     chan struct{}
	url      string
}

func newFakeKube(t *testing.T) *fakeKube {
	t.Helper()
	fk := &fakeKube{done: make(chan struct{})}
	srv := httptest.NewServer(fk)
	fk.url = srv.URL
	t.Cleanup(func() {
		close(fk.done)
		srv.Close()
	})
	return fk
}

func (fk *fakeKube) object() corev1.ConfigMap {
	return corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "aws-auth", Namespace: "kube-system", ResourceVersion: fmt.Sprint(fk.rv)},
		Data:       fk.data,
	}
}

func event(typ string, cm corev1.ConfigMap) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "object": cm})
	return append(b, '\n')
}

// set replaces aws-auth (nil deletes it) and tells the watchers.
func (fk *fakeKube) set(data map[string]string) {
	fk.mu.Lock()
	defer fk.mu.Unlock()
	typ := "MODIFIED"
	switch {
	case data == nil && fk.data == nil:
		return
	case data == nil:
		typ = "DELETED"
	case fk.data == nil:
		typ = "ADDED"
	}
	fk.rv++
	fk.data = data
	cm := fk.object()
	if data == nil {
		cm.Data = map[string]string{}
	}
	for _, w := range fk.watchers {
		w <- event(typ, cm)
	}
}

// get is what a GET of aws-auth answers: its data, or nil.
func (fk *fakeKube) get(context.Context) (map[string]string, error) {
	fk.mu.Lock()
	defer fk.mu.Unlock()
	return fk.data, nil
}

func (fk *fakeKube) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/namespaces/kube-system/configmaps" || r.URL.Query().Get("watch") != "true" {
		http.NotFound(w, r)
		return
	}
	events := make(chan []byte, 100)
	fk.mu.Lock()
	fk.watchers = append(fk.watchers, events)
	if fk.data != nil {
		events <- event("ADDED", fk.object())
	}
	fk.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	for {
		select {
		case e := <-events:
			if _, err := w.Write(e); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		case <-r.Context().Done():
			return
		case <-fk.done:
			return
		}
	}
}

var initMetrics sync.Once

// liveMapper is the authenticator's EKSConfigMap mapper, started, watching fk.
func liveMapper(t *testing.T, fk *fakeKube) *configmap.ConfigMapMapper {
	t.Helper()
	initMetrics.Do(func() { metrics.InitMetrics(prometheus.NewRegistry()) })
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "`+fk.url+`"}}]
users: [{name: fake, user: {}}]
contexts: [{name: fake, context: {cluster: fake, user: fake}}]
current-context: fake
`), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := configmap.NewConfigMapMapper(config.Config{Kubeconfig: kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	if err := m.Start(stop); err != nil {
		t.Fatal(err)
	}
	return m
}

// settle sets aws-auth to data and returns once the live mapper has loaded
// it: a sentinel aws-auth goes first, and its user stops being mapped only
// when the watch has moved past it.
func settle(t *testing.T, fk *fakeKube, m *configmap.ConfigMapMapper, n int, data map[string]string) {
	t.Helper()
	sentinel := mustSTS(t, fmt.Sprintf("arn:aws:iam::999999999999:user/sentinel-%d", n), "AIDASENTINEL")
	fk.set(map[string]string{"mapUsers": "- userarn: " + sentinel.ARN + "\n  username: sentinel\n"})
	waitFor(t, func() bool { return DoMapping(m, sentinel, nil).Mapped })
	fk.set(data)
	waitFor(t, func() bool { return !DoMapping(m, sentinel, nil).Mapped })
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the authenticator's watch did not catch up in 10s")
		}
	}
}

// The real MapStore, fed by the authenticator's own watch, answers one of
// Decide's outcomes for every case, and over many calls every one of them
// when there are several.
func TestLiveMapperAgreesWithDecide(t *testing.T) {
	fk := newFakeKube(t)
	m := liveMapper(t, fk)
	for i, tc := range decideCases {
		t.Run(tc.name, func(t *testing.T) {
			settle(t, fk, m, i, tc.data)
			id := mustSTS(t, tc.arn, tc.uid)
			want, _ := Decide(tc.data, id, nil)
			var seen []Outcome
			for range 200 {
				got := DoMapping(m, id, nil)
				if !slices.ContainsFunc(want, got.Equal) {
					t.Fatalf("live %+v is none of Decide's %+v", got, want)
				}
				if !slices.ContainsFunc(seen, got.Equal) {
					seen = append(seen, got)
				}
			}
			if len(seen) != len(want) {
				t.Errorf("live answers %+v, want each of %+v", seen, want)
			}
		})
	}
}

func post(t *testing.T, url string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url+"/map", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// POST /map right after aws-auth changes answers for the new aws-auth: the
// server waits for the watch.
func TestServerAnswersForTheCurrentAWSAuth(t *testing.T) {
	fk := newFakeKube(t)
	var logs syncBuffer
	srv := httptest.NewServer(&Server{Mapper: liveMapper(t, fk), AWSAuth: fk.get, Log: log.New(&logs, "", 0)})
	defer srv.Close()
	for round := range 3 {
		for _, tc := range decideCases {
			fk.set(tc.data)
			code, body := post(t, srv.URL, Request{ARN: tc.arn, Account: strings.Split(tc.arn, ":")[4], UserID: tc.uid, AccessKeyID: "AKIAEXAMPLE"})
			var got Outcome
			if err := json.Unmarshal(body, &got); code != http.StatusOK || err != nil {
				t.Fatalf("%s: %d %s", tc.name, code, body)
			}
			if !slices.ContainsFunc(tc.want, got.Equal) {
				t.Errorf("round %d, %s: got %+v, want one of %+v", round, tc.name, got, tc.want)
			}
		}
	}
	if strings.Contains(logs.String(), "DISAGREES") {
		t.Errorf("the live mapper disagreed with Decide:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "AKIAEXAMPLE") {
		t.Errorf("the log names the access key id:\n%s", logs.String())
	}

	code, body := post(t, srv.URL, Request{ARN: "arn:aws:iam::111122223333:role/dev", Account: "111122223333", UserID: "AROANOSESSION"})
	if code != http.StatusBadRequest || !strings.Contains(string(body), "malformed UserID") {
		t.Errorf("a UserId without session: %d %s", code, body)
	}
	code, body = post(t, srv.URL, map[string]string{"arn": "arn:aws:iam::111122223333:user/a", "token": "k8s-aws-v1.x"})
	if code != http.StatusBadRequest || !strings.Contains(string(body), "unknown field") {
		t.Errorf("an unknown field: %d %s", code, body)
	}
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: %v %v", resp, err)
	}
	resp, err = http.Get(srv.URL + "/map")
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /map: %v %v", resp, err)
	}
}

// lagging answers old until ready is closed.
type lagging struct {
	ready    chan struct{}
	old, new Outcome
}

func (l lagging) live() Outcome {
	select {
	case <-l.ready:
		return l.new
	default:
		return l.old
	}
}

func TestServerWaitsForTheWatchAndReportsADisagreement(t *testing.T) {
	var logs syncBuffer
	s := &Server{AWSAuth: func(context.Context) (map[string]string, error) { return nil, nil }, Log: log.New(&logs, "", 0), CatchUp: 300 * time.Millisecond, Poll: time.Millisecond}
	decide := func(map[string]string) ([]Outcome, error) { return []Outcome{mapped("new")}, nil }

	l := lagging{ready: make(chan struct{}), old: mapped("old"), new: mapped("new")}
	time.AfterFunc(50*time.Millisecond, func() { close(l.ready) })
	if got := s.answer(context.Background(), "caller", l.live, decide); !reflect.DeepEqual(got, mapped("new")) {
		t.Errorf("got %+v, want the caught-up answer", got)
	}
	if strings.Contains(logs.String(), "DISAGREES") {
		t.Errorf("logged a disagreement: %s", logs.String())
	}

	start := time.Now()
	stuck := lagging{ready: make(chan struct{}), old: mapped("old")}
	if got := s.answer(context.Background(), "caller", stuck.live, decide); !reflect.DeepEqual(got, mapped("old")) {
		t.Errorf("got %+v, want the live answer", got)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 2*time.Second {
		t.Errorf("gave up after %s, want CatchUp (300ms)", d)
	}
	if !strings.Contains(logs.String(), "DISAGREES") {
		t.Errorf("no disagreement logged: %s", logs.String())
	}
}
