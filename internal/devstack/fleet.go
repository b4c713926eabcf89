package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/awscreds"
	"github.com/iammap/iammap/internal/devstack/eksemu"
	"github.com/iammap/iammap/internal/devstack/stsemu"
)

// The local fleet: three clusters in two accounts and three authentication
// modes, the one internal/app's TestIntegrationFleetAcrossAccounts runs.
const (
	FleetAccountA = "111122223333"
	FleetAccountB = "444455556666"
	// FleetDeployerRole is account B's role the runner assumes to reach
	// charlie, with FleetExternalID.
	FleetDeployerRole = "arn:aws:iam::" + FleetAccountB + ":role/iammap-deployer"
	FleetExternalID   = "iammap-fleet"
	// FleetRunnerARN is the runner principal, ci, whose keys DIR/env holds.
	FleetRunnerARN = "arn:aws:iam::" + FleetAccountA + ":user/ci"
)

// FleetMember describes one cluster of the fleet.
type FleetMember struct {
	Name, Account, Region, AuthMode string
	// RoleARN is the role assumed to reach the cluster (empty: the runner's own keys).
	RoleARN string
}

// FleetMembers are the fleet's clusters, in the order of fleet.yaml. The
// first one's STS stands for AWS's global STS: every stack uses it.
var FleetMembers = []FleetMember{
	{Name: "alpha", Account: FleetAccountA, Region: "us-west-2", AuthMode: eksemu.ModeConfigMap},
	{Name: "bravo", Account: FleetAccountA, Region: "us-west-2", AuthMode: eksemu.ModeAPI},
	{Name: "charlie", Account: FleetAccountB, Region: "eu-west-1", AuthMode: eksemu.ModeAPIAndConfigMap, RoleARN: FleetDeployerRole},
}

// fleetIAM are the IAM principals the fleet's access file names; every
// stack's IAM knows them, so `audit` finds them.
var fleetIAM = []string{
	"arn:aws:iam::" + FleetAccountA + ":role/developers",
	"arn:aws:iam::" + FleetAccountB + ":role/developers",
	"arn:aws:iam::" + FleetAccountB + ":role/nodes",
	FleetDeployerRole,
}

// FleetOptions configure StartFleet.
type FleetOptions struct {
	// BinDir holds kube-apiserver, etcd and authenticator-oracle.
	BinDir string
	// Dir receives one directory per cluster and the fleet's state; it must exist.
	Dir string
}

// Fleet is a running local fleet: one stack per FleetMembers entry, all in
// this process, sharing one credential registry and the first stack's STS.
type Fleet struct {
	Dir      string     `json:"dir"`
	Clusters []*Cluster `json:"clusters"`
	// Runner is the principal ci of account A: the caller of every
	// cluster, directly (alpha, bravo) or through FleetDeployerRole (charlie).
	Runner authwebhook.Principal `json:"runner"`
	// DaemonPID is the process that owns the fleet when started by `iammap-devstack up --fleet`.
	DaemonPID int `json:"daemonPID,omitempty"`
}

// StartFleet starts the fleet: the first cluster, then the others in
// parallel, pointed at the first one's STS. On error nothing is left running.
func StartFleet(ctx context.Context, opts FleetOptions) (*Fleet, error) {
	reg := awscreds.New()
	f := &Fleet{Dir: opts.Dir, Runner: authwebhook.NewPrincipal("ci", FleetRunnerARN), Clusters: make([]*Cluster, len(FleetMembers))}
	start := func(i int, sharedSTS string) error {
		m := FleetMembers[i]
		dir := filepath.Join(opts.Dir, m.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		eks := &EKSOptions{
			ClusterName: m.Name, AuthMode: m.AuthMode, CreatorARN: FleetRunnerARN, IAMPrincipals: fleetIAM,
			Credentials: reg, CheckCallers: true, STSEndpoint: sharedSTS,
			Emulator: eksemu.Options{AccountID: m.Account, Region: m.Region},
		}
		if m.RoleARN != "" {
			eks.CreatorARN = m.RoleARN
		}
		if sharedSTS == "" {
			eks.Principals = []authwebhook.Principal{f.Runner}
			eks.Roles = []stsemu.Role{{ARN: FleetDeployerRole, Trusted: []string{FleetRunnerARN}, ExternalID: FleetExternalID}}
			for _, o := range FleetMembers {
				if o.Region != m.Region && !slices.Contains(eks.STSRegions, o.Region) {
					eks.STSRegions = append(eks.STSRegions, o.Region)
				}
			}
		}
		c, err := Start(ctx, Options{BinDir: opts.BinDir, Dir: dir, EKS: eks})
		if err != nil {
			return fmt.Errorf("start %s: %w", m.Name, err)
		}
		f.Clusters[i] = c
		// Each cluster's own state too: `down` finds whatever started,
		// even if the daemon died before the fleet's state was written.
		return c.WriteState()
	}
	if err := start(0, ""); err != nil {
		f.Stop()
		return nil, err
	}
	errs := make([]error, len(FleetMembers))
	var wg sync.WaitGroup
	for i := 1; i < len(FleetMembers); i++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = start(i, f.Clusters[0].STSEndpoint) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.Stop()
		return nil, err
	}
	return f, nil
}

// Stop stops every cluster of the fleet.
func (f *Fleet) Stop() {
	var wg sync.WaitGroup
	for _, c := range f.Clusters {
		if c != nil {
			wg.Add(1)
			go func() { defer wg.Done(); c.Stop() }()
		}
	}
	wg.Wait()
}

// Running reports whether every cluster of a loaded fleet is alive.
func (f *Fleet) Running() bool {
	if len(f.Clusters) == 0 {
		return false
	}
	for _, c := range f.Clusters {
		if c == nil || !c.Running() {
			return false
		}
	}
	return true
}

const fleetStateFile = "fleet.json"

// WriteState records the running fleet in its Dir so LoadFleet can find it.
func (f *Fleet) WriteState() error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(f.Dir, fleetStateFile), b, 0o600)
}

// LoadFleet reads a fleet recorded by WriteState.
func LoadFleet(dir string) (*Fleet, error) {
	b, err := os.ReadFile(filepath.Join(dir, fleetStateFile))
	if err != nil {
		return nil, err
	}
	var f Fleet
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, fleetStateFile), err)
	}
	return &f, nil
}

// IsFleetDir reports whether dir holds a fleet's state, or the state of a
// cluster of a fleet whose start did not finish.
func IsFleetDir(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, fleetStateFile)); err == nil {
		return true
	}
	for _, m := range FleetMembers {
		if _, err := os.Stat(filepath.Join(dir, m.Name, stateFile)); err == nil {
			return true
		}
	}
	return false
}

// StopFleetDir stops what a fleet in dir left running: its daemon (which
// stops its clusters), then any cluster still alive, found in the fleet's
// state or in the clusters' own.
func StopFleetDir(dir string, stopDaemon func(pid int)) error {
	f, err := LoadFleet(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if f != nil && f.DaemonPID > 0 && stopDaemon != nil {
		stopDaemon(f.DaemonPID)
	}
	for _, m := range FleetMembers {
		if c, err := Load(filepath.Join(dir, m.Name)); err == nil {
			c.Stop()
		}
	}
	if f != nil {
		f.Stop()
	}
	return nil
}

// Cluster returns the fleet's cluster called name, or nil.
func (f *Fleet) Cluster(name string) *Cluster {
	for _, c := range f.Clusters {
		if c != nil && c.ClusterName == name {
			return c
		}
	}
	return nil
}

// FleetFiles are the files WriteFiles writes in root: env, fleet.yaml and
// one admin kubeconfig per cluster.
func FleetFiles(root string) []string {
	files := []string{filepath.Join(root, "env"), filepath.Join(root, "fleet.yaml")}
	for _, m := range FleetMembers {
		files = append(files, filepath.Join(root, "kubeconfig-"+m.Name))
	}
	return files
}

// WriteFiles writes, in root: env (shell export lines for the runner
// principal, the shared STS and the account's IAM, and where the other
// files are), fleet.yaml (an iammap/v1 AccessConfig naming every cluster
// with its region and EKS endpoint, charlie with the deployer role, and a
// little access to grant), and kubeconfig-NAME, a cluster admin's kubeconfig
// (static token) for each cluster.
func (f *Fleet) WriteFiles(root string) error {
	if len(f.Clusters) != len(FleetMembers) {
		return fmt.Errorf("the fleet has %d clusters, want %d", len(f.Clusters), len(FleetMembers))
	}
	files := FleetFiles(root)
	envFile, accessFile := files[0], files[1]
	alpha := f.Clusters[0]
	lines := []string{
		"# written by `iammap-devstack up --fleet`; load it with: . " + shellQuote(envFile),
		"# The runner is " + f.Runner.ARN + "; every cluster is named in " + accessFile + " with its EKS endpoint.",
		"unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL_EKS IAMMAP_CLUSTER",
		"export AWS_ACCESS_KEY_ID=" + shellQuote(f.Runner.AccessKeyID),
		"export AWS_SECRET_ACCESS_KEY=" + shellQuote(f.Runner.SecretAccessKey),
		"export AWS_ENDPOINT_URL_STS=" + shellQuote(alpha.STSEndpoint),
		"export AWS_ENDPOINT_URL_IAM=" + shellQuote(alpha.IAMEndpoint),
		"export AWS_REGION=" + shellQuote(alpha.Region),
		"export AWS_DEFAULT_REGION=" + shellQuote(alpha.Region),
		"export AWS_EC2_METADATA_DISABLED=true",
		"export IAMMAP_FLEET_FILE=" + shellQuote(accessFile),
	}
	for i, c := range f.Clusters {
		kc := files[2+i]
		if err := c.WriteKubeconfig(kc); err != nil {
			return err
		}
		lines = append(lines, "export "+strings.ToUpper(c.ClusterName)+"_KUBECONFIG="+shellQuote(kc))
	}
	if err := os.WriteFile(envFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(`# written by ` + "`iammap-devstack up --fleet`" + `: the local fleet, three clusters in two accounts.
# alpha and bravo are reached with the runner's own keys (account ` + FleetAccountA + `),
# charlie by assuming account ` + FleetAccountB + `'s deployer role through the shared STS.
apiVersion: iammap/v1
kind: AccessConfig
clusters:
`)
	for i, m := range FleetMembers {
		c := f.Clusters[i]
		fmt.Fprintf(&b, "  - name: %s   # %s, account %s\n    region: %s\n    endpointUrl: %s\n", m.Name, m.AuthMode, m.Account, m.Region, c.EKSEndpoint)
		if m.RoleARN != "" {
			fmt.Fprintf(&b, "    roleArn: %s\n    externalId: %s\n", m.RoleARN, FleetExternalID)
		}
		b.WriteString(fleetAccess[m.Name])
	}
	return os.WriteFile(accessFile, []byte(b.String()), 0o600)
}

// fleetAccess is what fleet.yaml grants on each cluster, as in
// TestIntegrationFleetAcrossAccounts.
var fleetAccess = map[string]string{
	"alpha": `    awsAuth:
      mapRoles:
        - {rolearn: "arn:aws:iam::` + FleetAccountA + `:role/developers", username: dev, groups: [developers]}
`,
	"bravo": `    accessEntries:
      - principalArn: arn:aws:iam::` + FleetAccountA + `:role/developers
        kubernetesGroups: [developers]
        accessPolicies: [{policy: AmazonEKSViewPolicy}]
`,
	"charlie": `    awsAuth:
      mapRoles:
        - {rolearn: "arn:aws:iam::` + FleetAccountB + `:role/nodes", username: "system:node:{{EC2PrivateDNSName}}", groups: [system:bootstrappers, system:nodes]}
    accessEntries:
      - principalArn: arn:aws:iam::` + FleetAccountB + `:role/developers
        accessPolicies: [{policy: AmazonEKSViewPolicy}]
`,
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
