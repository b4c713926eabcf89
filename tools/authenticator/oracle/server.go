package oracle

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"slices"
	"time"

	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper"
)

// Request is the body of POST /map: what STS GetCallerIdentity answers for
// the caller (Arn, Account, UserId), and the access key id the token was
// signed with.
type Request struct {
	ARN         string `json:"arn"`
	Account     string `json:"account"`
	UserID      string `json:"userId"`
	AccessKeyID string `json:"accessKeyId"`
}

// Server answers POST /map with the Outcome the live mapper gives (JSON),
// and GET /healthz. A request that FromSTS refuses gets 400 with
// {"error": "..."}.
//
// The mapper's watch is asynchronous: right after aws-auth changes it may
// still hold the old state. So that callers see a deterministic answer, the
// server first reads aws-auth and computes Decide on it; while the live
// answer is not one of Decide's outcomes it waits (Poll, up to CatchUp) for
// the watch to catch up. It then answers what the live mapper says, and
// logs when that still disagrees.
type Server struct {
	// Mapper is the authenticator's started EKSConfigMap mapper.
	Mapper mapper.Mapper
	// AWSAuth reads kube-system/aws-auth now: its data, nil when absent.
	AWSAuth func(ctx context.Context) (map[string]string, error)
	// EC2 renders {{EC2PrivateDNSName}}; nil is FakeEC2.
	EC2 EC2
	// Log receives one line per decision; nil discards.
	Log *log.Logger
	// CatchUp bounds the wait for the watch (default 3s); Poll is the
	// interval between looks (default 20ms).
	CatchUp, Poll time.Duration
}

func (s *Server) logf(format string, a ...any) {
	if s.Log != nil {
		s.Log.Printf(format, a...)
	}
}

// ServeHTTP routes /map and /healthz.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/healthz" && r.Method == http.MethodGet:
		_, _ = w.Write([]byte("ok\n"))
	case r.URL.Path == "/map" && r.Method == http.MethodPost:
		s.serveMap(w, r)
	case r.URL.Path == "/map" || r.URL.Path == "/healthz":
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveMap(w http.ResponseWriter, r *http.Request) {
	var req Request
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "request: " + err.Error()})
		return
	}
	id, err := FromSTS(req.ARN, req.Account, req.UserID, req.AccessKeyID)
	if err != nil {
		s.logf("map %s: %v", req.ARN, err)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, s.answer(r.Context(), id.ARN, func() Outcome { return DoMapping(s.Mapper, id, s.EC2) }, func(data map[string]string) ([]Outcome, error) {
		return Decide(data, id, s.EC2)
	}))
}

// answer returns live() once it is one of the outcomes decide gives for
// the current aws-auth, or after CatchUp, logging the disagreement.
func (s *Server) answer(ctx context.Context, who string, live func() Outcome, decide func(map[string]string) ([]Outcome, error)) Outcome {
	catchUp, poll := s.CatchUp, s.Poll
	if catchUp == 0 {
		catchUp = 3 * time.Second
	}
	if poll == 0 {
		poll = 20 * time.Millisecond
	}
	data, err := s.AWSAuth(ctx)
	if err != nil {
		got := live()
		s.logf("map %s: reading aws-auth: %v; answering the live mapper's %+v", who, err, got)
		return got
	}
	want, parseErr := decide(data)
	if parseErr != nil {
		s.logf("map %s: aws-auth: %v (the authenticator keeps what parsed)", who, parseErr)
	}
	deadline := time.Now().Add(catchUp)
	for {
		got := live()
		if slices.ContainsFunc(want, got.Equal) {
			if len(want) > 1 {
				s.logf("map %s -> %+v (undefined: EKS picks at random among %+v)", who, got, want)
			} else {
				s.logf("map %s -> %+v", who, got)
			}
			return got
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			s.logf("map %s -> %+v: DISAGREES with Decide on the current aws-auth %+v after %s", who, got, want, catchUp)
			return got
		}
		time.Sleep(poll)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
