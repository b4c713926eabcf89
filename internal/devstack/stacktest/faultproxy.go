package stacktest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/iammap/iammap/internal/devstack"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// FaultProxy is an HTTPS reverse proxy in front of the shared API server
// that can break chosen requests the way a flaky network does, to test
// what iammap reports and keeps when a reply never arrives.
type FaultProxy struct {
	// URL is the proxy's address, for a rest.Config or a kubeconfig.
	URL    string
	caPEM  []byte
	server *httptest.Server

	mu      sync.Mutex
	drops   []drop
	dropped int
}

type drop struct {
	method, pathSuffix string
	left               int
	// forward: the request reaches the API server before the reply is
	// lost; otherwise it is lost on the way there.
	forward bool
	// then runs after the request was forwarded, before the reply is
	// dropped: another writer acting in the gap.
	then func()
}

// NewFaultProxy starts a proxy to the shared cluster for the duration of t.
// It speaks HTTP/2, as the API server does, so a dropped reply shows up in
// the client as the "stream error ... INTERNAL_ERROR" of a real reset.
func NewFaultProxy(t testing.TB) *FaultProxy {
	t.Helper()
	c := Cluster(t)
	target, err := url.Parse(c.Server)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(c.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	upstream := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = upstream
	rp.FlushInterval = -1
	p := &FaultProxy{}
	p.server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := p.take(r)
		if !ok {
			rp.ServeHTTP(w, r)
			return
		}
		if d.forward {
			// Forward the request so it takes effect and read the reply,
			// on a context of its own: the client's is about to go.
			out := r.Clone(context.WithoutCancel(r.Context()))
			out.URL.Scheme, out.URL.Host, out.Host, out.RequestURI = target.Scheme, target.Host, target.Host, ""
			resp, err := upstream.RoundTrip(out)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		if d.then != nil {
			d.then()
		}
		// Reset the stream (HTTP/2) or close the connection instead of
		// answering.
		panic(http.ErrAbortHandler)
	}))
	p.server.EnableHTTP2 = true
	p.server.StartTLS()
	t.Cleanup(p.server.Close)
	p.URL = p.server.URL
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.server.Certificate().Raw})
	return p
}

// DropReply makes the next n requests with method whose path ends in
// pathSuffix reach the API server, and then lose their reply.
func (p *FaultProxy) DropReply(method, pathSuffix string, n int) {
	p.add(drop{method: method, pathSuffix: pathSuffix, left: n, forward: true})
}

// DropReplyThen is DropReply for one request, running then (another
// writer, say) after the request took effect and before its reply is lost.
func (p *FaultProxy) DropReplyThen(method, pathSuffix string, then func()) {
	p.add(drop{method: method, pathSuffix: pathSuffix, left: 1, forward: true, then: then})
}

// DropRequest makes the next n requests with method whose path ends in
// pathSuffix fail as DropReply's do, but without reaching the API server.
func (p *FaultProxy) DropRequest(method, pathSuffix string, n int) {
	p.add(drop{method: method, pathSuffix: pathSuffix, left: n})
}

func (p *FaultProxy) add(d drop) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drops = append(p.drops, d)
}

// Dropped is how many replies the proxy has dropped.
func (p *FaultProxy) Dropped() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

func (p *FaultProxy) take(r *http.Request) (drop, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.drops {
		d := &p.drops[i]
		if d.left > 0 && r.Method == d.method && strings.HasSuffix(r.URL.Path, d.pathSuffix) {
			d.left--
			p.dropped++
			return *d, true
		}
	}
	return drop{}, false
}

// RESTConfig is a client configuration for u through the proxy.
func (p *FaultProxy) RESTConfig(u devstack.User) *rest.Config {
	return &rest.Config{Host: p.URL, BearerToken: u.Token, TLSClientConfig: rest.TLSClientConfig{CAData: p.caPEM}, QPS: 200, Burst: 400}
}

// Kubeconfig writes a kubeconfig like [Kubeconfig]'s whose server is the
// proxy, and returns its path.
func (p *FaultProxy) Kubeconfig(t testing.TB) string {
	t.Helper()
	cfg := Cluster(t).Kubeconfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: p.URL, CertificateAuthorityData: p.caPEM}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}
