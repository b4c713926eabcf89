// Package desired reads iammap's declarative file: who may access which
// cluster, through aws-auth mappings and EKS access entries, kept in git and
// applied by CI (`iammap diff` / `iammap apply`). The format is documented in
// README.md and described by schema.json for editors. Load also takes an
// eksctl ClusterConfig (package eksctlconfig), converted by
// FromClusterConfig.
//
//	apiVersion: iammap/v1
//	kind: AccessConfig
//	awsAuth:                 # applies to every cluster of the file
//	  mapRoles: [{rolearn: ..., username: ..., groups: [...]}]
//	  mapUsers: [{userarn: ..., username: ..., groups: [...]}]
//	  mapAccounts: ["111122223333"]
//	accessEntries:
//	  - principalArn: ...
//	    type: STANDARD
//	    username: ...
//	    kubernetesGroups: [...]
//	    accessPolicies: [{policy: AmazonEKSViewPolicy, namespaces: [a, b]}]
//	clusters:                # optional; each adds its own awsAuth and accessEntries
//	  - {name: prod, region: us-west-2, accessEntries: [...]}
//	  - name: prod-eu          # reached with its own identity (see Connection)
//	    region: eu-west-1
//	    roleArn: arn:aws:iam::444455556666:role/iammap-deployer
//	    externalId: platform
//
// # Fleets
//
// A file with clusters is a fleet: `iammap diff|apply|audit -f FILE` runs
// every cluster it lists (package fleet). Each cluster may say how it is
// reached (Connection): region, AWS profile, a role to assume, the EKS
// endpoint, or a kubeconfig context for a cluster reached without EKS.
package desired

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"

	"github.com/iammap/iammap/internal/yamldoc"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/eksctlconfig"
	"github.com/iammap/iammap/internal/readlimit"
	"github.com/iammap/iammap/mapping"
	"go.yaml.in/yaml/v3"
)

// ErrInvalid is wrapped by every error about the file's content.
var ErrInvalid = errors.New("invalid access file")

// APIVersion and Kind identify the format.
const (
	APIVersion = "iammap/v1"
	Kind       = "AccessConfig"
)

// File is the whole document.
type File struct {
	APIVersion    string        `yaml:"apiVersion"`
	Kind          string        `yaml:"kind"`
	AWSAuth       *AWSAuth      `yaml:"awsAuth,omitempty"`
	AccessEntries []AccessEntry `yaml:"accessEntries,omitempty"`
	Clusters      []Cluster     `yaml:"clusters,omitempty"`
	// ClusterConfig is set when the file was an eksctl ClusterConfig: its
	// metadata names the one cluster, which the command line may not change.
	ClusterConfig bool `yaml:"-"`
	// targets are the resolved targets, kept by Parse.
	targets []Target
}

// Cluster adds cluster-specific mappings to the file's common ones, and
// says how the cluster is reached.
type Cluster struct {
	Name string `yaml:"name"`
	// Alias names the cluster in this file (--cluster, --clusters,
	// reports, CI matrices) when two clusters share an EKS name, in other
	// accounts or regions; default Name.
	Alias         string `yaml:"alias,omitempty"`
	Connection    `yaml:",inline"`
	AWSAuth       *AWSAuth      `yaml:"awsAuth,omitempty"`
	AccessEntries []AccessEntry `yaml:"accessEntries,omitempty"`
}

// Label is the cluster's name in the file: its alias, else its name.
func (c Cluster) Label() string {
	if c.Alias != "" {
		return c.Alias
	}
	return c.Name
}

// Connection is how iammap reaches one cluster of a fleet. Every field is
// optional; an empty one falls back to the command line's flag (--region,
// --profile, --endpoint-url) and then to the AWS SDK's own chain.
type Connection struct {
	Region string `yaml:"region,omitempty" json:"region,omitempty"`
	// Profile is a profile of the shared AWS config files.
	Profile string `yaml:"profile,omitempty" json:"profile,omitempty"`
	// RoleARN is assumed (STS AssumeRole, session name iammap-...) with the
	// profile's or the environment's credentials, typically a deployer role
	// in the cluster's account. Clusters with the same profile, role and
	// external id share one session.
	RoleARN    string `yaml:"roleArn,omitempty" json:"roleArn,omitempty"`
	ExternalID string `yaml:"externalId,omitempty" json:"externalId,omitempty"`
	// EndpointURL is the EKS API endpoint (a VPC endpoint, or a local stack).
	EndpointURL string `yaml:"endpointUrl,omitempty" json:"endpointUrl,omitempty"`
	// Context is a kubeconfig context: the cluster is reached through the
	// kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) without EKS,
	// so only aws-auth is managed. It excludes every AWS field.
	Context string `yaml:"context,omitempty" json:"context,omitempty"`
}

var (
	externalIDPattern  = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	contextForbids     = []string{"profile", "roleArn", "externalId", "endpointUrl"}
	endpointURLPattern = regexp.MustCompile(`^https?://[^\s/]+`)
)

// check refuses a connection that cannot be what the file means.
func (c Connection) check() error {
	if c.Context != "" {
		for i, v := range []string{c.Profile, c.RoleARN, c.ExternalID, c.EndpointURL} {
			if v != "" {
				return fmt.Errorf("context %q reaches the cluster through the kubeconfig; %s is for clusters reached through EKS: drop one of them", c.Context, contextForbids[i])
			}
		}
	}
	if c.ExternalID != "" && c.RoleARN == "" {
		return fmt.Errorf("externalId is sent when assuming roleArn, and roleArn is not set")
	}
	if n := len(c.ExternalID); n > 0 && (n < 2 || n > 1224 || !externalIDPattern.MatchString(c.ExternalID)) {
		return fmt.Errorf("externalId: STS takes 2 to 1224 characters of letters, digits and +=,.@:/-")
	}
	if c.RoleARN != "" {
		p, _, err := mapping.ParsePrincipal(c.RoleARN)
		if err != nil {
			return fmt.Errorf("roleArn: %w", err)
		}
		if p.Kind != mapping.KindRole || strings.Contains(c.RoleARN, ":assumed-role/") {
			return fmt.Errorf("roleArn: %s is not an IAM role (arn:aws:iam::ACCOUNT:role/NAME)", c.RoleARN)
		}
	}
	if c.EndpointURL != "" && !endpointURLPattern.MatchString(c.EndpointURL) {
		return fmt.Errorf("endpointUrl %q: want an http(s) URL such as https://eks.eu-west-1.amazonaws.com", c.EndpointURL)
	}
	if c.Region != "" && !regionPattern.MatchString(c.Region) {
		return fmt.Errorf("region %q is not an AWS region name such as eu-west-1", c.Region)
	}
	return nil
}

// clusterNamePattern is EKS's rule for cluster names; kubeconfig-context
// clusters follow it too, so every name is safe in a table, a CI matrix and
// a --clusters glob.
var clusterNamePattern = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$`)

// awsEndpointHost matches the hosts of AWS's own EKS endpoints: regional
// (eks.eu-west-1.amazonaws.com, .amazonaws.com.cn, .api.aws) and VPC
// interface endpoints (vpce-....eks.eu-west-1.vpce.amazonaws.com).
var awsEndpointHost = regexp.MustCompile(`^([a-z0-9-]+\.)*eks(-fips)?\.[a-z0-9-]+\.(vpce\.)?(amazonaws\.com(\.cn)?|api\.aws)$`)

// EndpointOutsideAWS reports whether the connection sends its EKS requests
// somewhere other than AWS or this machine. An access file is often
// reviewed in a pull request and run by CI with CI's credentials: such an
// endpoint would receive signed requests and, from the cluster it
// describes, the Kubernetes tokens iammap makes, so commands refuse it
// unless the operator allows it.
func (c Connection) EndpointOutsideAWS() bool {
	if c.EndpointURL == "" {
		return false
	}
	u, err := url.Parse(c.EndpointURL)
	if err != nil {
		return true
	}
	host := strings.ToLower(u.Hostname())
	// Loopback addresses only: the name "localhost" is resolved through
	// /etc/hosts and then DNS, which may send it elsewhere.
	if host == "127.0.0.1" || host == "::1" {
		return false
	}
	return u.Scheme != "https" || !awsEndpointHost.MatchString(host)
}

var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)

// AWSAuth mirrors the ConfigMap's three keys.
type AWSAuth struct {
	MapRoles    []RoleMapping `yaml:"mapRoles,omitempty"`
	MapUsers    []UserMapping `yaml:"mapUsers,omitempty"`
	MapAccounts []string      `yaml:"mapAccounts,omitempty"`
}

// RoleMapping is a mapRoles entry.
type RoleMapping struct {
	RoleARN  string       `yaml:"rolearn,omitempty"`
	SSO      *mapping.SSO `yaml:"sso,omitempty"`
	Username string       `yaml:"username,omitempty"`
	Groups   []string     `yaml:"groups,omitempty"`
}

// UserMapping is a mapUsers entry.
type UserMapping struct {
	UserARN  string   `yaml:"userarn"`
	Username string   `yaml:"username,omitempty"`
	Groups   []string `yaml:"groups,omitempty"`
}

// AccessEntry is an EKS access entry with its policies.
type AccessEntry struct {
	PrincipalARN     string            `yaml:"principalArn"`
	Type             string            `yaml:"type,omitempty"`
	Username         string            `yaml:"username,omitempty"`
	KubernetesGroups []string          `yaml:"kubernetesGroups,omitempty"`
	Tags             map[string]string `yaml:"tags,omitempty"`
	AccessPolicies   []AccessPolicy    `yaml:"accessPolicies,omitempty"`
}

// AccessPolicy is an association; no namespaces means cluster scope.
type AccessPolicy struct {
	Policy     string   `yaml:"policy"`
	Namespaces []string `yaml:"namespaces,omitempty"`
}

// Target is what one cluster should look like.
type Target struct {
	// Name and Connection are empty for a file without clusters: the
	// cluster then comes from the command line.
	Name string
	// Label names the cluster in the file (its alias, else Name): what
	// --cluster and --clusters select and reports show.
	Label         string
	Connection    Connection
	AWSAuth       awsauth.Desired
	AccessEntries []accessentry.Spec
	// Notes explain rewrites made while reading (role paths, sessions).
	Notes []string
	// SharedAWSAuth: every aws-auth mapping of the target comes from the
	// file's common awsAuth (the cluster adds none), so a cluster in API
	// mode, where EKS ignores aws-auth, skips them with a note instead of
	// refusing: the common section is for the clusters that read it.
	SharedAWSAuth bool
	// SharedEntries: every access entry comes from the file's common
	// accessEntries, so a cluster in CONFIG_MAP mode (no access entries)
	// skips them with a note instead of failing.
	SharedEntries bool
}

// Load reads and checks a file: an access file, or an eksctl ClusterConfig
// (see FromClusterConfig), told apart by apiVersion and kind.
//
// The file may hold at most [MaxFileSize] bytes and one YAML document.
func Load(path string) (*File, error) {
	b, err := readlimit.ReadFile(path, MaxFileSize, "access files")
	if err != nil {
		return nil, err
	}
	if err := singleDocument(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if eksctlconfig.IsClusterConfig(b) {
		c, err := eksctlconfig.Parse(b)
		if err == nil {
			var f *File
			if f, err = FromClusterConfig(c); err == nil {
				return f, nil
			}
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// MaxFileSize is the largest access file or ClusterConfig Load reads (4
// MiB): far more than thousands of principals need, and small enough that a
// wrong path (/dev/zero) fails at once instead of exhausting memory.
const MaxFileSize = readlimit.AccessFile

// singleDocument refuses a file of more than one YAML document (see
// yamldoc): only the first would be read, so with --prune apply would
// remove every principal the later documents name.
func singleDocument(b []byte) error {
	line, err := yamldoc.Second(b)
	if err != nil {
		return fmt.Errorf("%w: the file has more than one YAML document, and the second does not parse (%s); iammap reads one document per file: remove the '---' separators, or split the file and run diff/apply once per file",
			ErrInvalid, err)
	}
	if line > 0 {
		return fmt.Errorf("%w: line %d: a second YAML document starts here; iammap reads one document per file (only the first would be applied, and --prune would remove what the others list): merge them into one, or split the file and run diff/apply once per file",
			ErrInvalid, line)
	}
	return nil
}

var yamlFieldErr = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)

// Parse decodes a file strictly: an unknown field is an error with its
// line, and so is a second YAML document.
func Parse(b []byte) (*File, error) {
	if err := singleDocument(b); err != nil {
		return nil, err
	}
	return parse(b)
}

// parse is Parse for a file known to hold one document.
func parse(b []byte) (*File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the file is empty", ErrInvalid)
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
		msg = yamlFieldErr.ReplaceAllString(msg, `line $1: unknown field "$2"`)
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", "; ")), " "))
	}
	if f.APIVersion != APIVersion || f.Kind != Kind {
		return nil, fmt.Errorf("%w: want apiVersion: %s and kind: %s, got %q and %q", ErrInvalid, APIVersion, Kind, f.APIVersion, f.Kind)
	}
	names := map[string]bool{}
	reached := map[string]int{} // how a cluster is reached -> its index
	for i, c := range f.Clusters {
		if c.Name == "" {
			return nil, fmt.Errorf("%w: clusters[%d]: name is required", ErrInvalid, i)
		}
		if !clusterNamePattern.MatchString(c.Name) {
			return nil, fmt.Errorf("%w: clusters[%d]: name %q is not a cluster name: EKS takes 1 to 100 letters, digits, hyphens and underscores, starting with a letter or digit", ErrInvalid, i, c.Name)
		}
		if c.Alias != "" && !clusterNamePattern.MatchString(c.Alias) {
			return nil, fmt.Errorf("%w: clusters[%d] (%s): alias %q: use 1 to 100 letters, digits, hyphens and underscores, starting with a letter or digit", ErrInvalid, i, c.Name, c.Alias)
		}
		if names[c.Label()] {
			if c.Alias == "" {
				return nil, fmt.Errorf("%w: clusters[%d]: cluster %s is listed twice; if these are two clusters (in other accounts or regions), give each an alias to tell them apart", ErrInvalid, i, c.Name)
			}
			return nil, fmt.Errorf("%w: clusters[%d] (%s): alias %s is already used by another cluster of the file", ErrInvalid, i, c.Name, c.Alias)
		}
		names[c.Label()] = true
		if err := c.Connection.check(); err != nil {
			return nil, fmt.Errorf("%w: clusters[%d] (%s): %v", ErrInvalid, i, c.Name, err)
		}
		// Two entries that reach the same cluster the same way would
		// converge it to two states in turn, each run undoing the other.
		key := strings.Join([]string{c.Name, c.Region, c.Profile, c.RoleARN, c.EndpointURL, c.Context}, "\x00")
		if j, ok := reached[key]; ok {
			return nil, fmt.Errorf("%w: clusters[%d] (%s) and clusters[%d] (%s) are the same cluster, reached the same way; list it once (an alias is for clusters that only share a name)", ErrInvalid, j, f.Clusters[j].Label(), i, c.Label())
		}
		reached[key] = i
	}
	common := len(f.AccessEntries)
	if f.AWSAuth != nil {
		common += len(f.AWSAuth.MapRoles) + len(f.AWSAuth.MapUsers) + len(f.AWSAuth.MapAccounts)
	}
	if n := len(f.Clusters) * common; n > MaxClusterEntries {
		return nil, fmt.Errorf("%w: %d clusters each get the file's %d common entries: %d in all, more than iammap's limit of %d; split the file (one per group of clusters), or move entries into the clusters that need them", ErrInvalid, len(f.Clusters), common, n, MaxClusterEntries)
	}
	// Resolve every target once, so every content error surfaces at load,
	// and keep them: commands ask again.
	targets, err := f.Targets()
	if err != nil {
		return nil, err
	}
	f.targets = targets
	return &f, nil
}

// MaxClusterEntries bounds clusters × common entries: each cluster gets its
// own copy of the file's common section, so a small file could otherwise
// ask for gigabytes (2,000 clusters × 2,000 common mappings is 4 million
// mappings from 200 KB of YAML). 250,000 is a fleet of 500 clusters with
// 500 common entries.
const MaxClusterEntries = 250_000

// Targets returns the desired state of each cluster: one target without a
// name when the file lists no clusters.
func (f *File) Targets() ([]Target, error) {
	if f.targets != nil {
		return append([]Target(nil), f.targets...), nil
	}
	if len(f.Clusters) == 0 {
		t, err := build("", f.AWSAuth, f.AccessEntries)
		if err != nil {
			return nil, err
		}
		return []Target{t}, nil
	}
	var out []Target
	for i, c := range f.Clusters {
		merged := mergeAWSAuth(f.AWSAuth, c.AWSAuth)
		entries := append(append([]AccessEntry{}, f.AccessEntries...), c.AccessEntries...)
		var notes []string
		if c.Context != "" {
			// Reached without EKS: access entries cannot be read or written.
			if len(c.AccessEntries) > 0 {
				return nil, fmt.Errorf("%w: clusters[%d] (%s): accessEntries live in the EKS API, and this cluster is reached through kubeconfig context %q: map them in awsAuth, or reach the cluster by name through EKS", ErrInvalid, i, c.Name, c.Context)
			}
			entries = nil
			if len(f.AccessEntries) > 0 {
				notes = append(notes, fmt.Sprintf("the file's common accessEntries (%d) are not applied: this cluster is reached through kubeconfig context %s, without EKS", len(f.AccessEntries), c.Context))
			}
		}
		t, err := build(fmt.Sprintf("clusters[%d] (%s): ", i, c.Name), merged, entries)
		if err != nil {
			return nil, err
		}
		t.Notes = append(notes, t.Notes...)
		t.SharedAWSAuth = f.AWSAuth != nil && (c.AWSAuth == nil || len(c.AWSAuth.MapRoles)+len(c.AWSAuth.MapUsers)+len(c.AWSAuth.MapAccounts) == 0)
		t.SharedEntries = len(f.AccessEntries) > 0 && len(c.AccessEntries) == 0
		t.Name, t.Label, t.Connection = c.Name, c.Label(), c.Connection
		out = append(out, t)
	}
	return out, nil
}

// Target returns the desired state for the named cluster ("" for a file
// without clusters).
func (f *File) Target(name string) (Target, error) {
	targets, err := f.Targets()
	if err != nil {
		return Target{}, err
	}
	if len(f.Clusters) == 0 {
		targets[0].Name = name
		return targets[0], nil
	}
	for _, t := range targets {
		if t.Label == name {
			return t, nil
		}
	}
	return Target{}, fmt.Errorf("%w: cluster %s is not in the file", ErrInvalid, name)
}

func mergeAWSAuth(common, own *AWSAuth) *AWSAuth {
	var m AWSAuth
	for _, a := range []*AWSAuth{common, own} {
		if a != nil {
			m.MapRoles = append(m.MapRoles, a.MapRoles...)
			m.MapUsers = append(m.MapUsers, a.MapUsers...)
			m.MapAccounts = append(m.MapAccounts, a.MapAccounts...)
		}
	}
	return &m
}

func build(where string, a *AWSAuth, entries []AccessEntry) (Target, error) {
	var t Target
	fail := func(format string, args ...any) (Target, error) {
		return Target{}, fmt.Errorf("%w: %s%s", ErrInvalid, where, fmt.Sprintf(format, args...))
	}
	seen := map[string]string{}
	claim := func(key, what string) error {
		if prev, ok := seen[key]; ok {
			return fmt.Errorf("%s maps the same principal as %s; keep one", what, prev)
		}
		seen[key] = what
		return nil
	}
	if a != nil {
		for i, r := range a.MapRoles {
			what := fmt.Sprintf("awsAuth.mapRoles[%d]", i)
			m := mapping.Mapping{Source: mapping.MapRoles, SSO: r.SSO, Username: r.Username, Groups: r.Groups}
			switch {
			case r.RoleARN != "" && r.SSO != nil:
				return fail("%s: set rolearn or sso, not both", what)
			case r.RoleARN != "":
				p, rewrites, err := mapping.ParsePrincipal(r.RoleARN)
				if err != nil {
					return fail("%s: %v", what, err)
				}
				if p.Kind != mapping.KindRole {
					return fail("%s: %s is not a role; put users under mapUsers", what, r.RoleARN)
				}
				for _, rw := range rewrites {
					t.Notes = append(t.Notes, what+": "+rw.String())
				}
				m.ARN = p.ARN
			case r.SSO == nil:
				return fail("%s: rolearn or sso is required", what)
			}
			// An entry EKS would drop, never match (sso: among them) or
			// refuse is not what the file means; say so before any write.
			if err := m.Check(); err != nil {
				return fail("%s: %v", what, err)
			}
			if err := claim(m.Key(), what); err != nil {
				return fail("%v", err)
			}
			t.AWSAuth.Mappings = append(t.AWSAuth.Mappings, m)
		}
		for i, u := range a.MapUsers {
			what := fmt.Sprintf("awsAuth.mapUsers[%d]", i)
			p, _, err := mapping.ParsePrincipal(u.UserARN)
			if err != nil {
				return fail("%s: %v", what, err)
			}
			if p.Kind == mapping.KindRole {
				return fail("%s: %s is not a user; put roles under mapRoles", what, u.UserARN)
			}
			m := mapping.Mapping{Source: mapping.MapUsers, ARN: p.ARN, Username: u.Username, Groups: u.Groups}
			if err := m.Check(); err != nil {
				return fail("%s: %v", what, err)
			}
			if err := claim(m.Key(), what); err != nil {
				return fail("%v", err)
			}
			t.AWSAuth.Mappings = append(t.AWSAuth.Mappings, m)
		}
		for i, acct := range a.MapAccounts {
			if !mapping.ValidAccountID(acct) {
				return fail("awsAuth.mapAccounts[%d]: %q is not a 12-digit account id (quote it to keep leading zeros)", i, acct)
			}
			t.AWSAuth.Accounts = append(t.AWSAuth.Accounts, acct)
		}
	}
	entrySeen := map[string]string{}
	for i, e := range entries {
		what := fmt.Sprintf("accessEntries[%d]", i)
		if prev, ok := entrySeen[e.PrincipalARN]; ok {
			return fail("%s: %s already has an entry at %s; EKS allows one per principal", what, e.PrincipalARN, prev)
		}
		entrySeen[e.PrincipalARN] = what
		spec := accessentry.Spec{PrincipalARN: e.PrincipalARN, Type: e.Type, Username: e.Username, Groups: e.KubernetesGroups, Tags: e.Tags}
		if spec.Type == "" {
			spec.Type = "STANDARD"
		}
		for j, p := range e.AccessPolicies {
			if p.Policy == "" {
				return fail("%s.accessPolicies[%d]: policy is required", what, j)
			}
			spec.Policies = append(spec.Policies, accessentry.PolicySpec{ARN: p.Policy, Namespaces: p.Namespaces})
		}
		// The cluster's partition and account are checked at apply time;
		// here the principal's own are used for the shape checks.
		p, _, err := mapping.ParsePrincipal(e.PrincipalARN)
		if err != nil {
			return fail("%s: %v", what, err)
		}
		if _, _, err := accessentry.Validate(clone(spec), p.Account, p.Partition); err != nil {
			return fail("%s: %v", what, err)
		}
		t.AccessEntries = append(t.AccessEntries, spec)
	}
	return t, nil
}

func clone(s accessentry.Spec) accessentry.Spec {
	s.Policies = append([]accessentry.PolicySpec{}, s.Policies...)
	return s
}
