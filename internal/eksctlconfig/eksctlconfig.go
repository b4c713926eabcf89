// Package eksctlconfig reads the parts of an eksctl ClusterConfig file
// (apiVersion: eksctl.io/v1alpha5, kind: ClusterConfig) that map IAM
// identities: metadata.name and metadata.region, iamIdentityMappings, and
// accessConfig (authenticationMode, accessEntries with their access
// policies), so that `iammap create|get|delete iamidentitymapping -f` and
// `... accessentry -f`, and `iammap diff|apply -f`, take the files eksctl
// users already have.
//
// Field names and shapes follow eksctl's own types
// (pkg/apis/eksctl.io/v1alpha5: ClusterMeta, IAMIdentityMapping,
// AccessConfig, AccessEntry, AccessPolicy, AccessScope). Everything else in
// the file (vpc, nodeGroups, managedNodeGroups, iam, addons, ...) belongs to
// eksctl's cluster management and is ignored, as are metadata's other
// fields (version, tags, ...). Inside the sections read here, parsing is
// strict: an unknown field, usually a misspelling that eksctl would refuse
// too, is an error naming the field and its line, because silently
// skipping "kubernetesGroup:" would grant something other than what the
// file says.
package eksctlconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/iammap/iammap/internal/yamldoc"

	"github.com/iammap/iammap/internal/readlimit"
	"go.yaml.in/yaml/v3"
)

// ErrInvalid is wrapped by every error about a file's content.
var ErrInvalid = errors.New("invalid eksctl ClusterConfig")

// APIVersion and Kind identify eksctl's format.
const (
	APIVersion = "eksctl.io/v1alpha5"
	Kind       = "ClusterConfig"
)

// Authentication modes accessConfig.authenticationMode may name.
var authModes = []string{"CONFIG_MAP", "API_AND_CONFIG_MAP", "API"}

// Config is what iammap reads from a ClusterConfig.
type Config struct {
	// Name and Region are metadata.name and metadata.region: the cluster
	// every command run with the file works on.
	Name   string `json:"name"`
	Region string `json:"region"`
	// IAMIdentityMappings are aws-auth mappings, in file order.
	IAMIdentityMappings []IAMIdentityMapping `json:"iamIdentityMappings,omitempty"`
	// AuthenticationMode is accessConfig.authenticationMode ("" when unset).
	AuthenticationMode string `json:"authenticationMode,omitempty"`
	// AccessEntries are accessConfig.accessEntries, in file order.
	AccessEntries []AccessEntry `json:"accessEntries,omitempty"`
}

// IAMIdentityMapping is one item of iamIdentityMappings: eksctl's
// `create iamidentitymapping` flags, as a file.
type IAMIdentityMapping struct {
	ARN             string   `yaml:"arn" json:"arn,omitempty"`
	Username        string   `yaml:"username" json:"username,omitempty"`
	Groups          []string `yaml:"groups" json:"groups,omitempty"`
	Account         string   `yaml:"account" json:"account,omitempty"`
	ServiceName     string   `yaml:"serviceName" json:"serviceName,omitempty"`
	Namespace       string   `yaml:"namespace" json:"namespace,omitempty"`
	NoDuplicateARNs bool     `yaml:"noDuplicateARNs" json:"noDuplicateARNs,omitempty"`
	// Line is where the item starts, for messages about it.
	Line int `yaml:"-" json:"line"`
}

// AccessEntry is one item of accessConfig.accessEntries.
type AccessEntry struct {
	PrincipalARN       string         `yaml:"principalARN" json:"principalARN"`
	Type               string         `yaml:"type" json:"type,omitempty"`
	KubernetesUsername string         `yaml:"kubernetesUsername" json:"kubernetesUsername,omitempty"`
	KubernetesGroups   []string       `yaml:"kubernetesGroups" json:"kubernetesGroups,omitempty"`
	AccessPolicies     []AccessPolicy `yaml:"accessPolicies" json:"accessPolicies,omitempty"`
	Line               int            `yaml:"-" json:"line"`
}

// AccessPolicy is an access policy to associate with an entry.
type AccessPolicy struct {
	PolicyARN   string      `yaml:"policyARN" json:"policyARN"`
	AccessScope AccessScope `yaml:"accessScope" json:"accessScope"`
}

// AccessScope is cluster-wide or a list of namespaces.
type AccessScope struct {
	Type       string   `yaml:"type" json:"type"`
	Namespaces []string `yaml:"namespaces" json:"namespaces,omitempty"`
}

// Where names an item for messages: "iamIdentityMappings[1] (line 14)".
func (m IAMIdentityMapping) Where(i int) string {
	return fmt.Sprintf("iamIdentityMappings[%d] (line %d)", i, m.Line)
}

// Where names an item for messages: "accessConfig.accessEntries[0] (line 9)".
func (e AccessEntry) Where(i int) string {
	return fmt.Sprintf("accessConfig.accessEntries[%d] (line %d)", i, e.Line)
}

// The fields each strict section allows, as eksctl's types spell them.
var (
	mappingFields      = []string{"arn", "username", "groups", "account", "serviceName", "namespace", "noDuplicateARNs"}
	accessConfigFields = []string{"authenticationMode", "bootstrapClusterCreatorAdminPermissions", "accessEntries"}
	entryFields        = []string{"principalARN", "type", "kubernetesUsername", "kubernetesGroups", "accessPolicies"}
	policyFields       = []string{"policyARN", "accessScope"}
	scopeFields        = []string{"type", "namespaces"}
)

// IsClusterConfig reports whether b looks like an eksctl file (its kind is
// ClusterConfig or its apiVersion is eksctl.io's), so callers that also
// take other formats can send it here, where a wrong version is then named.
// It never fails: a document it cannot read is not one.
func IsClusterConfig(b []byte) bool {
	var head struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
	}
	if err := yaml.Unmarshal(b, &head); err != nil {
		return false
	}
	return head.Kind == Kind || strings.HasPrefix(head.APIVersion, "eksctl.io/")
}

// MaxFileSize is the largest ClusterConfig Load reads (4 MiB, as for access
// files): a wrong path such as /dev/zero fails at once instead of
// exhausting memory.
const MaxFileSize = readlimit.AccessFile

// Load reads and checks the file at path.
func Load(path string) (*Config, error) {
	b, err := readlimit.ReadFile(path, MaxFileSize, "eksctl ClusterConfig files")
	if err != nil {
		return nil, fmt.Errorf("read eksctl config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and checks a ClusterConfig.
func Parse(b []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, invalid("the file is empty")
		}
		return nil, invalid("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	// eksctl reads one ClusterConfig per file; a second document would be
	// dropped without a word.
	switch line, err := yamldoc.Second(b); {
	case err != nil:
		return nil, invalid("the second YAML document does not parse (%s); a ClusterConfig file holds one document", err)
	case line > 0:
		return nil, invalid("line %d: a second YAML document starts here; a ClusterConfig file holds one document (eksctl reads one, and iammap would drop the rest): split the file", line)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, invalid("line %d: want a mapping with apiVersion: %s and kind: %s", root.Line, APIVersion, Kind)
	}
	var (
		c                   Config
		apiVersion, kind    string
		metadata            *yaml.Node
		mappings, accessCfg *yaml.Node
	)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "apiVersion":
			apiVersion = v.Value
		case "kind":
			kind = v.Value
		case "metadata":
			metadata = v
		case "iamIdentityMappings":
			mappings = v
		case "accessConfig":
			accessCfg = v
		}
		// Any other section is eksctl's business (nodeGroups, vpc, ...).
	}
	if apiVersion != APIVersion || kind != Kind {
		return nil, invalid("want apiVersion: %s and kind: %s, got %q and %q", APIVersion, Kind, apiVersion, kind)
	}
	if err := readMetadata(metadata, &c); err != nil {
		return nil, err
	}
	if err := readMappings(mappings, &c); err != nil {
		return nil, err
	}
	if err := readAccessConfig(accessCfg, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// readMetadata takes name and region, which eksctl requires with -f;
// metadata's other fields (version, tags, annotations, ...) are eksctl's.
func readMetadata(n *yaml.Node, c *Config) error {
	if n == nil {
		return invalid("metadata must be set (metadata.name and metadata.region name the cluster)")
	}
	if n.Kind != yaml.MappingNode {
		return invalid("line %d: metadata: want a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "name", "region":
			if v.Kind != yaml.ScalarNode {
				return invalid("line %d: metadata.%s: want a string", v.Line, k.Value)
			}
			if k.Value == "name" {
				c.Name = v.Value
			} else {
				c.Region = v.Value
			}
		}
	}
	switch {
	case c.Name == "":
		return invalid("metadata.name must be set")
	case c.Region == "":
		return invalid("metadata.region must be set")
	}
	return nil
}

// strict refuses a field of mapping n not in allowed, naming it and its
// line, and a node that is not a mapping.
func strict(n *yaml.Node, where string, allowed []string) error {
	if n.Kind != yaml.MappingNode {
		return invalid("line %d: %s: want a mapping", n.Line, where)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(allowed, k.Value) {
			return invalid("line %d: unknown field %q in %s (known: %s)", k.Line, k.Value, where, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// field returns the value of key in mapping n, or nil.
func field(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// items returns the items of a sequence, refusing anything else; null is
// an empty list, as in eksctl.
func items(n *yaml.Node, where string) ([]*yaml.Node, error) {
	switch {
	case n == nil || n.Tag == "!!null":
		return nil, nil
	case n.Kind != yaml.SequenceNode:
		return nil, invalid("line %d: %s: want a list", n.Line, where)
	}
	return n.Content, nil
}

// decode fills v from n; a type error keeps yaml's line number.
func decode(n *yaml.Node, where string, v any) error {
	if err := n.Decode(v); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
		return invalid("%s: %s", where, strings.Join(strings.Fields(msg), " "))
	}
	return nil
}

func readMappings(n *yaml.Node, c *Config) error {
	list, err := items(n, "iamIdentityMappings")
	if err != nil {
		return err
	}
	for i, item := range list {
		where := fmt.Sprintf("iamIdentityMappings[%d]", i)
		if err := strict(item, where, mappingFields); err != nil {
			return err
		}
		var m IAMIdentityMapping
		if err := decode(item, where, &m); err != nil {
			return err
		}
		m.Line = item.Line
		if err := m.validate(); err != nil {
			return invalid("%s: %v", m.Where(i), err)
		}
		c.IAMIdentityMappings = append(c.IAMIdentityMappings, m)
	}
	return nil
}

// validate applies eksctl's rules for one mapping (IAMIdentityMapping.
// Validate), and requires something to map; the ARN and the names are
// checked by the command that uses the mapping.
func (m IAMIdentityMapping) validate() error {
	switch {
	case m.ServiceName != "" && m.Namespace == "":
		return errors.New("namespace is required with serviceName")
	case m.ServiceName == "" && m.Namespace != "":
		return errors.New("namespace only applies with serviceName")
	case m.ServiceName != "" && (m.ARN != "" || m.Username != "" || len(m.Groups) > 0):
		return errors.New("serviceName takes no arn, username or groups")
	case m.Account != "" && (m.ARN != "" || m.Username != "" || len(m.Groups) > 0 || m.ServiceName != ""):
		return errors.New("account cannot be configured with any other options")
	case m.ARN == "" && m.Account == "" && m.ServiceName == "":
		return errors.New("one of arn, account or serviceName is required")
	}
	return nil
}

func readAccessConfig(n *yaml.Node, c *Config) error {
	if n == nil || n.Tag == "!!null" {
		return nil
	}
	if err := strict(n, "accessConfig", accessConfigFields); err != nil {
		return err
	}
	if v := field(n, "authenticationMode"); v != nil {
		if v.Kind != yaml.ScalarNode || !slices.Contains(authModes, v.Value) {
			return invalid("line %d: accessConfig.authenticationMode %q: want one of %s", v.Line, v.Value, strings.Join(authModes, ", "))
		}
		c.AuthenticationMode = v.Value
	}
	list, err := items(field(n, "accessEntries"), "accessConfig.accessEntries")
	if err != nil {
		return err
	}
	for i, item := range list {
		where := fmt.Sprintf("accessConfig.accessEntries[%d]", i)
		if err := strict(item, where, entryFields); err != nil {
			return err
		}
		policies, err := items(field(item, "accessPolicies"), where+".accessPolicies")
		if err != nil {
			return err
		}
		for j, p := range policies {
			pwhere := fmt.Sprintf("%s.accessPolicies[%d]", where, j)
			if err := strict(p, pwhere, policyFields); err != nil {
				return err
			}
			if s := field(p, "accessScope"); s != nil {
				if err := strict(s, pwhere+".accessScope", scopeFields); err != nil {
					return err
				}
			}
		}
		var e AccessEntry
		if err := decode(item, where, &e); err != nil {
			return err
		}
		e.Line = item.Line
		if err := e.validate(i, policies); err != nil {
			return err
		}
		// EKS keeps one entry per principal, and eksctl refuses a repeat.
		if j := slices.IndexFunc(c.AccessEntries, func(o AccessEntry) bool { return o.PrincipalARN == e.PrincipalARN }); j >= 0 {
			return invalid("%s: principal %s already has an entry at %s", e.Where(i), e.PrincipalARN, c.AccessEntries[j].Where(j))
		}
		c.AccessEntries = append(c.AccessEntries, e)
	}
	return nil
}

// validate applies the rules eksctl's loader applies before any call:
// a principal, and for each policy an ARN and a scope EKS accepts.
func (e AccessEntry) validate(i int, policies []*yaml.Node) error {
	if e.PrincipalARN == "" {
		return invalid("%s: principalARN is required", e.Where(i))
	}
	for j, p := range e.AccessPolicies {
		where := fmt.Sprintf("%s.accessPolicies[%d] (line %d)", strings.SplitN(e.Where(i), " ", 2)[0], j, policies[j].Line)
		switch s := p.AccessScope; {
		case p.PolicyARN == "":
			return invalid("%s: policyARN is required", where)
		case s.Type == "":
			return invalid("%s: accessScope.type is required: cluster or namespace", where)
		case s.Type == "namespace" && len(s.Namespaces) == 0:
			return invalid("%s: accessScope type namespace needs namespaces", where)
		case s.Type == "cluster" && len(s.Namespaces) > 0:
			return invalid("%s: accessScope type cluster takes no namespaces", where)
		case s.Type != "cluster" && s.Type != "namespace":
			return invalid("%s: accessScope.type %q: want cluster or namespace", where, s.Type)
		}
	}
	return nil
}
