package readlimit

import (
	"fmt"
	"io"
	"net/http"
)

// Limits on what a server may answer: a hostile or broken endpoint that
// streams without end would otherwise hold the whole body in memory (the
// SDK and client-go decode whole bodies), and in a fleet run one such
// endpoint would take every cluster's run down with the process.
const (
	// AWSResponse bounds an AWS API answer; EKS's largest (a page of 100
	// access entries, a DescribeCluster) are a few KiB.
	AWSResponse = 16 << 20
	// KubernetesResponse bounds an API server answer; a list of every
	// RoleBinding of a large cluster is tens of MiB.
	KubernetesResponse = 256 << 20
)

// Responses wraps rt so that reading a response body past limit bytes
// fails with ErrTooLarge instead of growing without end.
func Responses(rt http.RoundTripper, limit int64, what string) http.RoundTripper {
	return responseLimit{rt: rt, limit: limit, what: what}
}

type responseLimit struct {
	rt    http.RoundTripper
	limit int64
	what  string
}

func (l responseLimit) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	if resp.ContentLength > l.limit {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: the answer to %s %s is %s, more than %s, iammap's limit for %s: the endpoint is broken, or not what it claims to be", ErrTooLarge, req.Method, req.URL.Redacted(), Size(resp.ContentLength), Size(l.limit), l.what)
	}
	resp.Body = Body(resp.Body, l.limit, req.Method+" "+req.URL.Redacted(), l.what)
	return resp, nil
}

// Body wraps a response body so that reading past limit bytes fails with
// ErrTooLarge; name says which request it answers, what the kind of answers.
func Body(body io.ReadCloser, limit int64, name, what string) io.ReadCloser {
	return &limitedBody{body: body, left: limit, name: name, limit: limit, what: what}
}

type limitedBody struct {
	body  io.ReadCloser
	left  int64
	name  string
	limit int64
	what  string
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		if n, _ := b.body.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("%w: the answer to %s is larger than %s, iammap's limit for %s: the endpoint is broken, or not what it claims to be", ErrTooLarge, b.name, Size(b.limit), b.what)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.body.Close() }
