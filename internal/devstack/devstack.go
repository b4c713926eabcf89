package devstack

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/awscreds"
	"github.com/iammap/iammap/internal/devstack/eksemu"
	"github.com/iammap/iammap/internal/devstack/stsemu"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ErrBinariesMissing means kube-apiserver, etcd or authenticator-oracle has
// not been built yet.
var ErrBinariesMissing = errors.New("local stack binaries missing")

// BuildHint is the command that builds the binaries.
const BuildHint = "run `make kube-bin` from the repository root (a one-time build of kube-apiserver, etcd and authenticator-oracle, about 6 minutes on 2 cores)"

// Binaries are the programs FindBinDir requires: the control plane, and
// aws-iam-authenticator's aws-auth decision that the local EKS's webhook
// asks (tools/authenticator).
var Binaries = []string{"kube-apiserver", "etcd", "authenticator-oracle"}

// User is a static-token identity the API server accepts.
type User struct {
	Name   string   `json:"name"`
	Groups []string `json:"groups,omitempty"`
	Token  string   `json:"token"`
}

// Options configure Start.
type Options struct {
	// BinDir holds kube-apiserver, etcd and authenticator-oracle.
	BinDir string
	// Dir receives data, certificates, logs and state; it must exist.
	Dir string
	// Users are extra static-token users; an admin in system:masters is always added.
	Users []User
	// ReadyTimeout bounds the wait for the API server; default 3 minutes.
	// One starts in a few seconds; under `make test` several start at once
	// on 2 cores beside -race test binaries, and one took over 90 s.
	ReadyTimeout time.Duration
	// EKS, when set, adds the local EKS: the EKS API emulator, and
	// authentication and authorization webhooks that map IAM-signed tokens
	// the way EKS does.
	EKS *EKSOptions
}

// EKSOptions configure the local EKS.
type EKSOptions struct {
	ClusterName string // default iammap-local
	// AuthMode is the cluster's starting authentication mode; default API_AND_CONFIG_MAP.
	AuthMode string
	// Principals are the local IAM identities whose tokens are accepted.
	Principals []authwebhook.Principal
	// CreatorARN is the cluster creator, admin from the start as on EKS.
	CreatorARN string
	Emulator   eksemu.Options
	// IAMPrincipals are IAM ARNs (paths allowed) that exist in the local IAM
	// besides the principals; GetRole/GetUser answer for all of them.
	IAMPrincipals []string
	// Roles are the roles the stack's STS lets callers assume (AssumeRole),
	// in any account: like the real STS, one stack's STS can issue a
	// session for a role of another stack's account.
	Roles []stsemu.Role
	// Credentials is the credential registry the STS, the token webhook
	// and (with CheckCallers) the EKS emulator check keys against;
	// Principals are added to it. Stacks started with the same registry
	// (one per fake account, say) accept each other's principals and
	// sessions. Nil: a registry of the stack's own.
	Credentials *awscreds.Registry
	// CheckCallers turns on the EKS emulator's caller check: requests must
	// be signed with a registered key, and callers of another account than
	// Emulator.AccountID find no cluster (eksemu.Options.Credentials).
	CheckCallers bool
	// STSEndpoint, when set, is another stack's STS that this stack uses
	// instead of starting its own: its webhook accepts tokens presigned for
	// it, as every EKS cluster accepts tokens for AWS's STS, so one runner
	// with one AWS_ENDPOINT_URL_STS signs in to every stack. That STS must
	// accept this stack's region (STSRegions) and share Credentials.
	STSEndpoint string
	// STSRegions are regions the stack's own STS accepts signatures for,
	// besides its own and us-east-1: those of the stacks sharing it.
	STSRegions []string
}

// Cluster is a running local control plane.
type Cluster struct {
	Dir       string `json:"dir"`
	Server    string `json:"server"`
	CAFile    string `json:"caFile"`
	Admin     User   `json:"admin"`
	Users     []User `json:"users"`
	EtcdPID   int    `json:"etcdPID"`
	ServerPID int    `json:"apiserverPID"`
	// OraclePID is authenticator-oracle's, started with the local EKS.
	OraclePID int `json:"oraclePID,omitempty"`
	// AuditLog records every ConfigMap request (JSON lines, audit.k8s.io/v1 Events).
	AuditLog string `json:"auditLog"`
	// DaemonPID is the process that owns the stack when started by `iammap-devstack up`.
	DaemonPID int `json:"daemonPID,omitempty"`

	// Local EKS, when started.
	ClusterName string `json:"clusterName,omitempty"`
	EKSEndpoint string `json:"eksEndpoint,omitempty"`
	// OracleURL is where authenticator-oracle answers (POST /map).
	OracleURL   string `json:"oracleURL,omitempty"`
	IAMEndpoint string `json:"iamEndpoint,omitempty"`
	// STSEndpoint is the local STS (GetCallerIdentity, and AssumeRole of EKSOptions.Roles).
	STSEndpoint string                  `json:"stsEndpoint,omitempty"`
	Region      string                  `json:"region,omitempty"`
	Principals  []authwebhook.Principal `json:"principals,omitempty"`
	// Emulator is the in-process EKS emulator (nil after Load).
	Emulator *eksemu.Server `json:"-"`
	// Credentials is the registry of the stack's keys and sessions (nil
	// after Load): EKSOptions.Credentials, or the stack's own.
	Credentials *awscreds.Registry `json:"-"`

	procs   []*exec.Cmd
	servers []*http.Server
	webhook *authwebhook.Handler
}

// FindBinDir returns dir if it holds every one of Binaries, or
// ErrBinariesMissing with the command that builds them.
func FindBinDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for _, name := range Binaries {
		if _, err := os.Stat(filepath.Join(abs, name)); err != nil {
			return "", fmt.Errorf("%w: %s not found in %s: %s", ErrBinariesMissing, name, abs, BuildHint)
		}
	}
	return abs, nil
}

// Start launches etcd and kube-apiserver on free loopback ports and waits
// until the API server is ready and kube-system exists. With EKS it then
// starts authenticator-oracle, which watches aws-auth on that API server.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := FindBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 3 * time.Minute
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, Admin: User{Name: "admin", Groups: []string{"system:masters"}, Token: randomToken()}, Users: opts.Users}
	if err := c.writeAuthFiles(); err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdClient, etcdPeer, apiPort := ports[0], ports[1], ports[2]
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdClient)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)
	etcd, err := c.launch(filepath.Join(bin, "etcd"), "etcd.log",
		"--name=local", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=local="+peerURL, "--unsafe-no-fsync=true")
	if err != nil {
		return nil, err
	}
	c.EtcdPID = etcd.Process.Pid
	if err := waitFor(ctx, 30*time.Second, func() bool { return httpOK(http.DefaultClient, etcdURL+"/health") }); err != nil {
		c.Stop()
		return nil, fmt.Errorf("etcd did not become healthy (log: %s): %w", filepath.Join(dir, "etcd.log"), err)
	}
	authFlags := []string{"--authorization-mode=RBAC"}
	if opts.EKS != nil {
		authFlags, err = c.startEKS(*opts.EKS, "https://127.0.0.1:"+strconv.Itoa(apiPort))
		if err != nil {
			c.Stop()
			return nil, err
		}
	}
	// An audit log of ConfigMap requests lets tests count exactly what
	// iammap sent (one GET, one UPDATE), from the API server's side.
	auditPolicy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(auditPolicy, []byte(auditPolicyYAML), 0o600); err != nil {
		c.Stop()
		return nil, err
	}
	c.AuditLog = filepath.Join(dir, "audit.log")
	authFlags = append(authFlags, "--audit-policy-file="+auditPolicy, "--audit-log-path="+c.AuditLog, "--audit-log-mode=blocking")
	apiserver, err := c.launch(filepath.Join(bin, "kube-apiserver"), "kube-apiserver.log", append(authFlags,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--secure-port="+strconv.Itoa(apiPort),
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--anonymous-auth=false",
		"--token-auth-file="+filepath.Join(dir, "tokens.csv"),
		"--disable-admission-plugins=ServiceAccount")...)
	if err != nil {
		c.Stop()
		return nil, err
	}
	c.ServerPID = apiserver.Process.Pid
	c.Server = "https://127.0.0.1:" + strconv.Itoa(apiPort)
	c.CAFile = filepath.Join(dir, "certs", "apiserver.crt")
	if err := c.waitReady(ctx, opts.ReadyTimeout); err != nil {
		c.Stop()
		return nil, fmt.Errorf("kube-apiserver not ready (log: %s): %w", filepath.Join(dir, "kube-apiserver.log"), err)
	}
	if opts.EKS != nil {
		if err := c.startOracle(ctx, bin); err != nil {
			c.Stop()
			return nil, err
		}
		if err := c.registerCluster(*opts.EKS); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) writeAuthFiles() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	for i, u := range append([]User{c.Admin}, c.Users...) {
		fmt.Fprintf(&b, "%s,%s,uid-%d,%q\n", u.Token, u.Name, i, strings.Join(u.Groups, ","))
	}
	return os.WriteFile(filepath.Join(c.Dir, "tokens.csv"), []byte(b.String()), 0o600)
}

func (c *Cluster) launch(path, logName string, args ...string) (*exec.Cmd, error) {
	logFile, err := os.Create(filepath.Join(c.Dir, logName))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group: a Ctrl-C in the terminal that ran `make up` does not
	// take the stack down, and Stop can end the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", filepath.Base(path), err)
	}
	logFile.Close()
	c.procs = append(c.procs, cmd)
	go cmd.Wait() //nolint:errcheck // reaps the child; its exit is observed through readiness and Stop
	return cmd, nil
}

func (c *Cluster) waitReady(ctx context.Context, timeout time.Duration) error {
	// A process that exits (a port taken, a bad flag) fails the wait at
	// once, instead of after the whole timeout.
	dead := false
	waitFor := func(ctx context.Context, timeout time.Duration, ok func() bool) error {
		err := waitFor(ctx, timeout, func() bool {
			if !c.alive() {
				dead = true
				return true
			}
			return ok()
		})
		if dead {
			return errors.New("kube-apiserver or etcd exited before the API server was ready")
		}
		return err
	}
	// The API server writes its self-signed serving certificate at start-up.
	if err := waitFor(ctx, timeout, func() bool {
		_, err := os.Stat(c.CAFile)
		return err == nil
	}); err != nil {
		return err
	}
	rc := c.RESTConfig(c.Admin)
	hc, err := rest.HTTPClientFor(rc)
	if err != nil {
		return err
	}
	if err := waitFor(ctx, timeout, func() bool {
		return httpOK(hc, c.Server+"/readyz")
	}); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	// kube-system is created asynchronously after /readyz.
	return waitFor(ctx, timeout, func() bool {
		_, err := cs.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
		return err == nil
	})
}

func (c *Cluster) alive() bool {
	for _, pid := range c.pids() {
		if pid != 0 && syscall.Kill(pid, 0) != nil {
			return false
		}
	}
	return true
}

// pids are the stack's processes, in the order Stop ends them: the oracle
// (a client of the API server), the API server, etcd.
func (c *Cluster) pids() []int { return []int{c.OraclePID, c.ServerPID, c.EtcdPID} }

// Stop ends the oracle, the API server and etcd, one after the other, and
// waits briefly for each to exit. One at a time: an API server whose etcd
// is gone takes ~10 s to shut down; with etcd still there, about one.
func (c *Cluster) Stop() {
	for _, srv := range c.servers {
		_ = srv.Close()
	}
	for _, pid := range c.pids() {
		if pid <= 0 {
			continue
		}
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		deadline := time.Now().Add(5 * time.Second)
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if syscall.Kill(pid, 0) == nil {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
}

// RESTConfig returns a client config that authenticates as u.
func (c *Cluster) RESTConfig(u User) *rest.Config {
	return &rest.Config{Host: c.Server, BearerToken: u.Token, TLSClientConfig: rest.TLSClientConfig{CAFile: c.CAFile}, QPS: 200, Burst: 400}
}

// Kubeconfig returns a kubeconfig with one context per user; the admin's is current.
func (c *Cluster) Kubeconfig() *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthority: c.CAFile}
	for _, u := range append([]User{c.Admin}, c.Users...) {
		cfg.AuthInfos[u.Name] = &clientcmdapi.AuthInfo{Token: u.Token}
		cfg.Contexts[u.Name] = &clientcmdapi.Context{Cluster: "local", AuthInfo: u.Name}
	}
	cfg.CurrentContext = c.Admin.Name
	return cfg
}

// WriteKubeconfig writes Kubeconfig to path with owner-only permissions (it holds tokens).
func (c *Cluster) WriteKubeconfig(path string) error {
	return clientcmd.WriteToFile(*c.Kubeconfig(), path)
}

const stateFile = "cluster.json"

// WriteState records the running cluster in its Dir so Load can find it.
func (c *Cluster) WriteState() error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.Dir, stateFile), b, 0o600)
}

// Load reads a cluster recorded by WriteState.
func Load(dir string) (*Cluster, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var c Cluster
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, stateFile), err)
	}
	return &c, nil
}

// Running reports whether the processes of a loaded cluster are alive.
func (c *Cluster) Running() bool { return c.EtcdPID > 0 && c.ServerPID > 0 && c.alive() }

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewUser returns a user with a fresh random token.
func NewUser(name string, groups ...string) User {
	return User{Name: name, Groups: groups, Token: randomToken()}
}

// handedOut are the ports freePorts gave this process. A port is free
// again once its probe closes, so stacks started side by side (a fleet)
// could each be handed the same one, and the second API server or etcd
// would never bind it; a port is handed out once per process.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

func freePorts(n int) ([]int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l) // held open while probing, so the kernel picks another
		port := l.Addr().(*net.TCPAddr).Port
		if handedOut.ports[port] {
			continue
		}
		handedOut.ports[port] = true
		ports = append(ports, port)
	}
	return ports, nil
}

func httpOK(hc *http.Client, url string) bool {
	resp, err := hc.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func waitFor(ctx context.Context, timeout time.Duration, ok func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if ok() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up after %s", timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

const auditPolicyYAML = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    resources: [{group: "", resources: [configmaps]}]
  - level: None
`
