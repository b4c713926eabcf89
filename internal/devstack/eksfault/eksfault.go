// Package eksfault is a test helper: an HTTP reverse proxy in front of an
// EKS endpoint (the local EKS, or an emulator in a test) that breaks chosen
// calls the way a flaky network or a slow service does, so tests can check
// what iammap reports when a reply is lost, a call fails or a run is
// interrupted while calls are in flight. It imports only the standard
// library, so any package's tests can use it.
package eksfault

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// EKS operations, as Operation names them.
const (
	CreateAccessEntry            = "CreateAccessEntry"
	DescribeAccessEntry          = "DescribeAccessEntry"
	UpdateAccessEntry            = "UpdateAccessEntry"
	DeleteAccessEntry            = "DeleteAccessEntry"
	ListAccessEntries            = "ListAccessEntries"
	AssociateAccessPolicy        = "AssociateAccessPolicy"
	DisassociateAccessPolicy     = "DisassociateAccessPolicy"
	ListAssociatedAccessPolicies = "ListAssociatedAccessPolicies"
	DescribeCluster              = "DescribeCluster"
)

// Fault says what to do to matching calls.
type Fault struct {
	// Op is the operation to break (see the constants); "" matches any.
	Op string
	// Principal, when set, matches only calls for a principal ARN
	// containing it (in the path, or a create's body).
	Principal string
	// Times is how many matching calls to break; 0 means every one.
	Times int
	// DelayReply forwards the call at once and holds its reply this long:
	// the change lands, the caller waits.
	DelayReply time.Duration
	// DropReply forwards the call and then closes the connection instead
	// of replying: the change lands, the reply is lost.
	DropReply bool
	// Status answers with this HTTP status (and Code) without forwarding,
	// after DelayReply: EKS refused the call, or failed.
	Status int
	Code   string
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	// URL is the endpoint to give the client (--endpoint-url,
	// AWS_ENDPOINT_URL_EKS, or an SDK BaseEndpoint).
	URL string

	mu        sync.Mutex
	faults    []*Fault
	forwarded map[string]int
	broken    map[string]int
}

// New starts a proxy to upstream (an http:// EKS endpoint) for the duration
// of t.
func New(t testing.TB, upstream string) *Proxy {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	// A client giving up mid-call is what these tests provoke: not news.
	rp.ErrorLog = log.New(io.Discard, "", 0)
	p := &Proxy{forwarded: map[string]int{}, broken: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := Operation(r)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		who := principal(r)
		if op == CreateAccessEntry {
			who = string(body)
		}
		f := p.take(op, who)
		if f == nil {
			p.count(p.forwarded, op)
			rp.ServeHTTP(w, r)
			return
		}
		if f.Status != 0 {
			time.Sleep(f.DelayReply)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amzn-Errortype", f.Code)
			w.WriteHeader(f.Status)
			_, _ = io.WriteString(w, `{"message":"injected by eksfault"}`)
			return
		}
		// Forward on a context of its own, so the call lands even if the
		// client gives up while it waits.
		out := r.Clone(context.WithoutCancel(r.Context()))
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.URL.Scheme, out.URL.Host, out.Host, out.RequestURI = target.Scheme, target.Host, target.Host, ""
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		defer resp.Body.Close()
		reply, _ := io.ReadAll(resp.Body)
		p.count(p.forwarded, op)
		if f.DropReply {
			panic(http.ErrAbortHandler) // close the connection: no reply
		}
		select {
		case <-time.After(f.DelayReply):
		case <-r.Context().Done():
			return // the client went away; the call has landed all the same
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(reply)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Add breaks the calls f matches, from now on; faults added first win.
func (p *Proxy) Add(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, &f)
}

// Clear removes every fault.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

// Forwarded is how many calls of op reached the upstream.
func (p *Proxy) Forwarded(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.forwarded[op]
}

// Broken is how many calls of op a fault matched.
func (p *Proxy) Broken(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.broken[op]
}

func (p *Proxy) count(m map[string]int, op string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m[op]++
}

func (p *Proxy) take(op, who string) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.faults {
		if f.Times < 0 || (f.Op != "" && f.Op != op) || (f.Principal != "" && !strings.Contains(who, f.Principal)) {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				f.Times = -1 // used up
			}
		}
		p.broken[op]++
		c := *f
		return &c
	}
	return nil
}

// principal is the principal ARN a call's path names ("" for a create,
// whose ARN is in its body: match creates by Op alone).
func principal(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	if len(parts) >= 4 && parts[2] == "access-entries" {
		arn, _ := url.PathUnescape(parts[3])
		return arn
	}
	return ""
}

// Operation names the EKS operation of a REST-JSON request, "" for one it
// does not know.
func Operation(r *http.Request) string {
	// /clusters/{name}[/access-entries[/{principalArn}[/access-policies[/{policyArn}]]]],
	// each ARN escaped within its one segment.
	parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	if len(parts) < 2 || parts[0] != "clusters" {
		return ""
	}
	shape := []string{r.Method}
	for i, part := range parts[1:] {
		switch i {
		case 0:
			shape = append(shape, "cluster")
		case 2:
			shape = append(shape, "arn")
		case 4:
			shape = append(shape, "policy")
		default:
			shape = append(shape, part)
		}
	}
	return map[string]string{
		"GET cluster":                                              DescribeCluster,
		"POST cluster access-entries":                              CreateAccessEntry,
		"GET cluster access-entries":                               ListAccessEntries,
		"GET cluster access-entries arn":                           DescribeAccessEntry,
		"POST cluster access-entries arn":                          UpdateAccessEntry,
		"DELETE cluster access-entries arn":                        DeleteAccessEntry,
		"POST cluster access-entries arn access-policies":          AssociateAccessPolicy,
		"GET cluster access-entries arn access-policies":           ListAssociatedAccessPolicies,
		"DELETE cluster access-entries arn access-policies policy": DisassociateAccessPolicy,
	}[strings.Join(shape, " ")]
}
