package eksemu

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iammap/iammap/internal/devstack/awscreds"
)

// Authentication modes.
const (
	ModeConfigMap         = "CONFIG_MAP"
	ModeAPIAndConfigMap   = "API_AND_CONFIG_MAP"
	ModeAPI               = "API"
	policyARNPrefixFormat = "arn:%s:eks::aws:cluster-access-policy/"
)

// Access entry types.
var entryTypes = []string{"STANDARD", "EC2", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "HYBRID_LINUX", "HYPERPOD_LINUX"}

// PolicyNames are the access policies the emulator knows, sorted.
var PolicyNames = []string{
	"AmazonEKSAdminPolicy", "AmazonEKSAdminViewPolicy", "AmazonEKSAutoNodePolicy", "AmazonEKSBlockStorageClusterPolicy",
	"AmazonEKSBlockStoragePolicy", "AmazonEKSClusterAdminPolicy", "AmazonEKSComputeClusterPolicy", "AmazonEKSComputePolicy",
	"AmazonEKSEditPolicy", "AmazonEKSHybridPolicy", "AmazonEKSLoadBalancingClusterPolicy", "AmazonEKSLoadBalancingPolicy",
	"AmazonEKSNetworkingClusterPolicy", "AmazonEKSNetworkingPolicy", "AmazonEKSViewPolicy",
}

// ClusterSpec describes a cluster to emulate.
type ClusterSpec struct {
	Name string
	// Endpoint and CAData (base64 PEM) are what DescribeCluster returns; the
	// local stack sets them to its kube-apiserver.
	Endpoint, CAData string
	Version          string
	// AuthMode is the starting authentication mode (default CONFIG_MAP).
	AuthMode string
	// Status, when set, is reported instead of ACTIVE/UPDATING (CREATING, FAILED, ...).
	Status string
	// CreatorARN gets an access entry with AmazonEKSClusterAdminPolicy when
	// the cluster is in (or moves to) a mode with access entries, as
	// bootstrapClusterCreatorAdminPermissions does.
	CreatorARN string
}

// Options configure the emulator.
type Options struct {
	Region    string // default us-west-2
	AccountID string // default 111122223333
	Partition string // default aws
	// Latency is added to every request.
	Latency time.Duration
	// ThrottleRate is the share (0..1) of requests answered with 429 ThrottlingException.
	ThrottleRate float64
	// UpdateDuration is how long an authentication-mode update stays InProgress.
	UpdateDuration time.Duration
	// KnownPrincipals, when set, is the set of IAM ARNs that exist; others
	// are rejected as "invalid principal", as EKS does for missing principals.
	KnownPrincipals []string
	// Credentials, when set, turns on the caller check: every request must
	// be SigV4-signed (service eks, Region) with a key of the registry, and
	// a caller of another account than AccountID finds no cluster, as on
	// EKS, where clusters are per account. Nil: any signature, or none, is
	// accepted, and the caller is everyone's.
	Credentials *awscreds.Registry
}

// Server is the emulated EKS service. Its methods are safe for concurrent use.
type Server struct {
	opts     Options
	mu       sync.Mutex
	clusters map[string]*cluster
	calls    sync.Map // operation name -> *atomic.Int64
	rng      func() float64
	routes   *http.ServeMux

	faultMu      sync.RWMutex
	latency      time.Duration
	throttleRate float64
}

// SetFaults changes the injected latency and throttling share at run time.
func (s *Server) SetFaults(latency time.Duration, throttleRate float64) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.latency, s.throttleRate = latency, throttleRate
}

func (s *Server) faults() (time.Duration, float64) {
	s.faultMu.RLock()
	defer s.faultMu.RUnlock()
	return s.latency, s.throttleRate
}

type cluster struct {
	spec      ClusterSpec
	arn       string
	createdAt time.Time
	mode      string
	entries   map[string]*entry
	updates   map[string]*update
	pending   *update
	tokens    map[string]string // clientRequestToken -> request fingerprint
}

type entry struct {
	principalARN, entryType, username, arn string
	groups                                 []string
	tags                                   map[string]string
	createdAt, modifiedAt                  time.Time
	policies                               map[string]*association
}

type association struct {
	policyARN                string
	scopeType                string
	namespaces               []string
	associatedAt, modifiedAt time.Time
}

type update struct {
	id, status, mode  string
	createdAt, doneAt time.Time
}

// New returns an emulator with no clusters.
func New(opts Options) *Server {
	if opts.Region == "" {
		opts.Region = "us-west-2"
	}
	if opts.AccountID == "" {
		opts.AccountID = "111122223333"
	}
	if opts.Partition == "" {
		opts.Partition = "aws"
	}
	s := &Server{opts: opts, clusters: map[string]*cluster{}, rng: mrand.Float64}
	s.routes = s.mux()
	s.latency, s.throttleRate = opts.Latency, opts.ThrottleRate
	return s
}

// AddCluster creates a cluster in ACTIVE state.
func (s *Server) AddCluster(spec ClusterSpec) {
	if spec.AuthMode == "" {
		spec.AuthMode = ModeConfigMap
	}
	if spec.Version == "" {
		spec.Version = "1.37"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &cluster{
		spec: spec, mode: spec.AuthMode, createdAt: time.Now(),
		arn:     fmt.Sprintf("arn:%s:eks:%s:%s:cluster/%s", s.opts.Partition, s.opts.Region, s.opts.AccountID, spec.Name),
		entries: map[string]*entry{}, updates: map[string]*update{}, tokens: map[string]string{},
	}
	s.clusters[spec.Name] = c
	if c.mode != ModeConfigMap {
		s.bootstrapCreator(c)
	}
}

func (s *Server) policyARN(name string) string {
	return fmt.Sprintf(policyARNPrefixFormat, s.opts.Partition) + name
}

func (s *Server) bootstrapCreator(c *cluster) {
	if c.spec.CreatorARN == "" || c.entries[c.spec.CreatorARN] != nil {
		return
	}
	e := s.newEntry(c, c.spec.CreatorARN, "STANDARD", s.defaultUsername(c.spec.CreatorARN, "STANDARD"), nil, nil)
	now := time.Now()
	pa := s.policyARN("AmazonEKSClusterAdminPolicy")
	e.policies[pa] = &association{policyARN: pa, scopeType: "cluster", associatedAt: now, modifiedAt: now}
	c.entries[e.principalARN] = e
}

// settle applies an authentication-mode update whose time has come.
func (s *Server) settle(c *cluster) {
	if u := c.pending; u != nil && !time.Now().Before(u.doneAt) {
		u.status = "Successful"
		from := c.mode
		c.mode = u.mode
		c.pending = nil
		if from == ModeConfigMap {
			s.bootstrapCreator(c)
		}
	}
}

// AuthMode returns a cluster's current authentication mode.
func (s *Server) AuthMode(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clusters[name]
	if !ok {
		return "", false
	}
	s.settle(c)
	return c.mode, true
}

// Entry is an access entry as the local authenticator needs it.
type Entry struct {
	PrincipalARN, Type, Username string
	Groups                       []string
	Policies                     []Association
}

// Association is one associated access policy.
type Association struct {
	PolicyName string
	PolicyARN  string
	// Namespaces is empty for cluster scope.
	Namespaces []string
}

// AccessEntry returns the entry for a principal ARN (exact match, as EKS).
func (s *Server) AccessEntry(clusterName, principalARN string) (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clusters[clusterName]
	if !ok {
		return Entry{}, false
	}
	e, ok := c.entries[principalARN]
	if !ok {
		return Entry{}, false
	}
	out := Entry{PrincipalARN: e.principalARN, Type: e.entryType, Username: e.username, Groups: slices.Clone(e.groups)}
	for _, a := range e.sortedPolicies() {
		out.Policies = append(out.Policies, Association{PolicyName: a.policyARN[strings.LastIndex(a.policyARN, "/")+1:], PolicyARN: a.policyARN, Namespaces: slices.Clone(a.namespaces)})
	}
	return out, true
}

// AccessEntries returns every entry of a cluster.
func (s *Server) AccessEntries(clusterName string) []Entry {
	s.mu.Lock()
	c, ok := s.clusters[clusterName]
	var arns []string
	if ok {
		for arn := range c.entries {
			arns = append(arns, arn)
		}
	}
	s.mu.Unlock()
	sort.Strings(arns)
	var out []Entry
	for _, arn := range arns {
		if e, ok := s.AccessEntry(clusterName, arn); ok {
			out = append(out, e)
		}
	}
	return out
}

// Calls returns how many requests each operation received (throttled ones included).
func (s *Server) Calls() map[string]int64 {
	out := map[string]int64{}
	s.calls.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

func (s *Server) count(op string) {
	v, _ := s.calls.LoadOrStore(op, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (e *entry) sortedPolicies() []*association {
	out := make([]*association, 0, len(e.policies))
	for _, a := range e.policies {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].policyARN < out[j].policyARN })
	return out
}

func (s *Server) newEntry(c *cluster, principal, typ, username string, groups []string, tags map[string]string) *entry {
	now := time.Now()
	kind, acct, name := splitPrincipal(principal)
	e := &entry{
		principalARN: principal, entryType: typ, username: username, groups: groups, tags: tags,
		createdAt: now, modifiedAt: now, policies: map[string]*association{},
		arn: fmt.Sprintf("arn:%s:eks:%s:%s:access-entry/%s/%s/%s/%s/%s", s.opts.Partition, s.opts.Region, s.opts.AccountID, c.spec.Name, kind, acct, name, uuid()),
	}
	if e.groups == nil {
		e.groups = []string{}
	}
	if e.tags == nil {
		e.tags = map[string]string{}
	}
	return e
}

// splitPrincipal returns role|user, account and name (without path) of an IAM ARN.
func splitPrincipal(arn string) (kind, account, name string) {
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 {
		return "", "", ""
	}
	res := f[5]
	kind, rest, _ := strings.Cut(res, "/")
	return kind, f[4], rest[strings.LastIndex(rest, "/")+1:]
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
