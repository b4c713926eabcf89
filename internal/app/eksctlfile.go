package app

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/cluster"
	"github.com/iammap/iammap/internal/eksctlconfig"
	"github.com/iammap/iammap/internal/output"
	"github.com/iammap/iammap/internal/serviceaccess"
	"github.com/iammap/iammap/mapping"
	"github.com/urfave/cli/v2"
)

// configFileFlag is eksctl's -f/--config-file, on the nouns only: the
// ClusterConfig names the cluster and lists what to create or delete.
func configFileFlag() cli.Flag {
	return &cli.StringFlag{Name: "config-file", Aliases: []string{"f"}, Usage: "eksctl ClusterConfig `FILE`: its metadata names the cluster; create and delete take its iamIdentityMappings or accessConfig.accessEntries (docs/eksctl-config.md)"}
}

// fileFlagsRefused are the flags a ClusterConfig replaces, per verb and
// noun; eksctl refuses --cluster and --region with -f, and its accessentry
// commands the entry flags too. Anything else (--force, --dry-run, --all,
// --ignore-not-found, -o) keeps its meaning.
var fileFlagsRefused = map[string][]string{
	"create iamidentitymapping": {"arn", "username", "group", "account", "service-name", "namespace", "type", "tag", "access-policy", "access-scope"},
	"create accessentry":        {"arn", "username", "group", "account", "service-name", "namespace", "type", "tag", "access-policy", "access-scope"},
	"delete accessentry":        {"arn", "account", "all"},
	"get accessentry":           {"arn"},
}

// runConfigFile runs `iammap VERB NOUN -f FILE` the way eksctl runs it with
// a ClusterConfig; action is the noun's own, which get (and delete
// iamidentitymapping given --arn or --account, as eksctl takes them) runs
// against the file's cluster.
func runConfigFile(c *cli.Context, verb string, backend cluster.Backend, action cli.ActionFunc) error {
	path, noun := c.String("config-file"), c.Command.Name
	if c.NArg() > 0 {
		return badFlags("unexpected argument %q", c.Args().First())
	}
	for _, name := range append([]string{"cluster", "region"}, fileFlagsRefused[verb+" "+noun]...) {
		if setOnCommandLine(c, name) {
			return withHint(badFlags("cannot use --%s when --config-file/-f is set", name),
				fmt.Sprintf("the file's metadata.name and metadata.region name the cluster and the file lists what to %s: drop --%s, or drop -f and pass the flags", verb, name))
		}
	}
	cfg, err := eksctlconfig.Load(path)
	if err != nil {
		return withHint(err, "see docs/eksctl-config.md for the fields iammap reads from a ClusterConfig")
	}
	u := newUI(c)
	u.debug("%s: cluster %s in %s", path, cfg.Name, cfg.Region)
	// The file's cluster, through the flags every command reads, so get
	// and delete run unchanged; IAMMAP_CLUSTER is overridden too.
	for name, value := range map[string]string{"cluster": cfg.Name, "region": cfg.Region} {
		if err := c.Set(name, value); err != nil {
			return fmt.Errorf("use %s's %s: %w", path, name, err)
		}
	}
	switch {
	case verb == "get":
		return action(c)
	case verb == "delete" && backend == cluster.BackendAWSAuth && (c.String("arn") != "" || c.String("account") != ""):
		return action(c)
	case verb == "create" && backend == cluster.BackendAWSAuth:
		return createMappingsFromFile(c, u, path, cfg)
	case verb == "create":
		return createEntriesFromFile(c, u, path, cfg)
	case backend == cluster.BackendAWSAuth:
		return deleteMappingsFromFile(c, u, path, cfg)
	default:
		return deleteEntriesFromFile(c, u, path, cfg)
	}
}

// setOnCommandLine reports whether flag name was given on the command line,
// before or after the command; IAMMAP_CLUSTER alone does not count: the
// file overrides it, where eksctl has no such variable to refuse.
func setOnCommandLine(c *cli.Context, name string) bool {
	for _, cc := range c.Lineage() {
		if !cc.IsSet(name) {
			continue
		}
		if env, ok := os.LookupEnv("IAMMAP_CLUSTER"); cc.String(name) == "" || name == "cluster" && ok && cc.String(name) == env {
			continue
		}
		return true
	}
	return false
}

// fileItemError names the file and the item an error is about.
func fileItemError(path, where string, err error) error {
	return fmt.Errorf("%s: %s: %w", path, where, err)
}

// createMappingsFromFile is `create iamidentitymapping -f`: each item as
// `create iamidentitymapping` with its flags would add it, in file order,
// stopping at the first error as eksctl does. Every item is checked before
// the cluster is contacted.
func createMappingsFromFile(c *cli.Context, u *ui, path string, cfg *eksctlconfig.Config) error {
	if len(cfg.IAMIdentityMappings) == 0 {
		u.info("%s lists no iamIdentityMappings; nothing to do", path)
		return nil
	}
	dryRun := flagBool(c, "dry-run")
	reqs := make([]cluster.CreateRequest, len(cfg.IAMIdentityMappings))
	for i, m := range cfg.IAMIdentityMappings {
		f := createFlags{
			arn: m.ARN, username: m.Username, account: m.Account, groups: m.Groups,
			noDuplicateARNs: m.NoDuplicateARNs || c.Bool("no-duplicate-arns"),
			serviceName:     m.ServiceName, namespace: m.Namespace, partition: c.String("partition"),
			dryRun: dryRun, force: c.Bool("force"), backend: string(cluster.BackendAWSAuth), clusterNamed: true,
			entryType: "STANDARD", accessScope: "cluster",
		}
		req, err := f.request()
		if err != nil {
			return fileItemError(path, m.Where(i), err)
		}
		reqs[i] = req
	}
	return createAll(c, u, reqs, dryRun, func(i int, err error) error { return fileItemError(path, cfg.IAMIdentityMappings[i].Where(i), err) })
}

// createAll connects once, after every item was checked, and creates the
// items in file order, stopping at the first failure, which itemError
// places in the file.
func createAll(c *cli.Context, u *ui, reqs []cluster.CreateRequest, dryRun bool, itemError func(i int, err error) error) error {
	t, err := resolveTarget(c, u)
	if err != nil {
		return err
	}
	for i, req := range reqs {
		res, err := t.Create(c.Context, req, u)
		if err := reportFileCreate(c, u, req, res, dryRun, err); err != nil {
			return itemError(i, err)
		}
	}
	return nil
}

// createEntriesFromFile is `create accessentry -f`: each access entry and
// its policies, each policy with its own scope, ensured in file order.
func createEntriesFromFile(c *cli.Context, u *ui, path string, cfg *eksctlconfig.Config) error {
	if len(cfg.AccessEntries) == 0 {
		// eksctl's own refusal.
		return withHint(badFlags("%s: at least one access entry is required", path), "list them under accessConfig.accessEntries")
	}
	dryRun := flagBool(c, "dry-run")
	reqs := make([]cluster.CreateRequest, len(cfg.AccessEntries))
	for i, e := range cfg.AccessEntries {
		f := createFlags{
			arn: e.PrincipalARN, username: e.KubernetesUsername, groups: e.KubernetesGroups, entryType: e.Type,
			noDuplicateARNs: c.Bool("no-duplicate-arns"), partition: c.String("partition"),
			dryRun: dryRun, force: c.Bool("force"), backend: string(cluster.BackendAccessEntry), clusterNamed: true, accessScope: "cluster",
		}
		if f.entryType == "" {
			f.entryType = "STANDARD"
		}
		for _, p := range e.AccessPolicies {
			f.policies = append(f.policies, p.PolicyARN)
		}
		req, err := f.request()
		if err != nil {
			return fileItemError(path, e.Where(i), err)
		}
		// request gives every policy the one --access-scope; here each has its own.
		for j, p := range e.AccessPolicies {
			req.Entry.Policies[j].Namespaces = p.AccessScope.Namespaces
		}
		reqs[i] = req
	}
	return createAll(c, u, reqs, dryRun, func(i int, err error) error { return fileItemError(path, cfg.AccessEntries[i].Where(i), err) })
}

// reportFileCreate says what one create did, in the words of runCreate.
func reportFileCreate(c *cli.Context, u *ui, req cluster.CreateRequest, res cluster.CreateResult, dryRun bool, err error) error {
	switch {
	case res.Backend == cluster.BackendAccessEntry:
		return reportEntry(u, res.Entry, dryRun, err)
	case err != nil:
		return err
	case req.Account != "":
		if res.AccountExisted {
			u.info("account %s is already in mapAccounts; nothing written", req.Account)
			return nil
		}
		return reportWrite(c, u, res.Write, dryRun, "added account "+req.Account+" to mapAccounts")
	case res.Added.Unchanged:
		u.info("%s is already mapped identically by %s; nothing written", res.Mapping.Display(), res.Added.Existing.Ref)
		return nil
	}
	for _, old := range res.Added.Shadows {
		u.warn("%s is already mapped by %s (%s); the new entry overrides it, because EKS uses the last entry for a principal. Set noDuplicateARNs: true to refuse, or delete the old entry", old.Display(), old.Ref, output.Identity(old.Username, old.Groups))
	}
	m := res.Mapping
	return reportWrite(c, u, res.Write, dryRun, fmt.Sprintf("added %s to %s (%s)", m.Display(), m.Source, output.Identity(m.Username, m.Groups)))
}

// deleteMappingsFromFile is `delete iamidentitymapping -f` without --arn or
// --account: each item's mapping removed (the first entry for an ARN, or
// every one with --all), in file order.
func deleteMappingsFromFile(c *cli.Context, u *ui, path string, cfg *eksctlconfig.Config) error {
	if len(cfg.IAMIdentityMappings) == 0 {
		u.info("%s lists no iamIdentityMappings; nothing to do", path)
		return nil
	}
	base := cluster.DeleteRequest{Backend: cluster.BackendAWSAuth, Force: c.Bool("force"), DryRun: flagBool(c, "dry-run"), All: c.Bool("all")}
	reqs := make([]cluster.DeleteRequest, len(cfg.IAMIdentityMappings))
	for i, m := range cfg.IAMIdentityMappings {
		req := base
		switch {
		case m.Account != "":
			if !mapping.ValidAccountID(m.Account) {
				return fileItemError(path, m.Where(i), badFlags("account %q is not a 12-digit AWS account id", m.Account))
			}
			req.Account, req.All = m.Account, false
		case m.ServiceName != "":
			if m.ServiceName != serviceaccess.EMRContainers {
				return fileItemError(path, m.Where(i), badFlags("unknown serviceName %q: supported: %s", m.ServiceName, serviceaccess.EMRContainers))
			}
			// The role's ARN needs the cluster's account: filled in below.
		default:
			p, _, err := mapping.ParsePrincipal(strings.ToLower(m.ARN))
			if err != nil {
				return fileItemError(path, m.Where(i), err)
			}
			req.ARN, req.Principal = m.ARN, p
		}
		reqs[i] = req
	}
	t, err := resolveTarget(c, u)
	if err != nil {
		return err
	}
	for i, req := range reqs {
		m := cfg.IAMIdentityMappings[i]
		if m.ServiceName != "" {
			// eksctl leaves the Role and RoleBinding it made; so does iammap.
			emr, err := serviceaccess.EMRMapping(t.EKS.Cluster.Partition, t.EKS.Cluster.Account)
			if err != nil {
				return fileItemError(path, m.Where(i), err)
			}
			req.ARN = emr.ARN
			if req.Principal, _, err = mapping.ParsePrincipal(strings.ToLower(emr.ARN)); err != nil {
				return fileItemError(path, m.Where(i), err)
			}
		}
		res, err := t.Delete(c.Context, req)
		if err == nil {
			err = reportFileDelete(c, u, req, res)
		}
		if err != nil && !ignoreNotFound(c, u, err) {
			return fileItemError(path, m.Where(i), err)
		}
	}
	return nil
}

// deleteEntriesFromFile is `delete accessentry -f`: each listed access
// entry deleted with its policy associations, in file order.
func deleteEntriesFromFile(c *cli.Context, u *ui, path string, cfg *eksctlconfig.Config) error {
	if len(cfg.AccessEntries) == 0 {
		// eksctl's own refusal.
		return withHint(badFlags("%s: no access entries specified", path), "list them under accessConfig.accessEntries")
	}
	reqs := make([]cluster.DeleteRequest, len(cfg.AccessEntries))
	for i, e := range cfg.AccessEntries {
		p, _, err := mapping.ParsePrincipal(strings.ToLower(e.PrincipalARN))
		if err != nil {
			return fileItemError(path, e.Where(i), err)
		}
		reqs[i] = cluster.DeleteRequest{Backend: cluster.BackendAccessEntry, Force: c.Bool("force"), DryRun: flagBool(c, "dry-run"), ARN: e.PrincipalARN, Principal: p}
	}
	t, err := resolveTarget(c, u)
	if err != nil {
		return err
	}
	for i, req := range reqs {
		res, err := t.Delete(c.Context, req)
		if res.Backend == cluster.BackendAccessEntry {
			reportEntryDelete(u, req.ARN, res, req.DryRun)
		}
		if err != nil && !ignoreNotFound(c, u, err) {
			return fileItemError(path, cfg.AccessEntries[i].Where(i), err)
		}
	}
	return nil
}

// ignoreNotFound makes a missing mapping or entry a note with
// --ignore-not-found, as delete does.
func ignoreNotFound(c *cli.Context, u *ui, err error) bool {
	if (errors.Is(err, awsauth.ErrNotFound) || errors.Is(err, accessentry.ErrNotFound)) && c.Bool("ignore-not-found") {
		u.info("%v; nothing written", err)
		return true
	}
	return false
}

// reportFileDelete says what one aws-auth delete did, and warns, as delete
// does, when another entry still maps the principal.
func reportFileDelete(c *cli.Context, u *ui, req cluster.DeleteRequest, res cluster.DeleteResult) error {
	if req.Account != "" {
		return reportWrite(c, u, res.Write, req.DryRun, "removed account "+req.Account+" from mapAccounts")
	}
	var removed []string
	for _, e := range res.Deleted.Removed {
		removed = append(removed, fmt.Sprintf("%s %s (%s)", e.Ref, e.Display(), output.Identity(e.Username, e.Groups)))
	}
	if err := reportWrite(c, u, res.Write, req.DryRun, "removed "+strings.Join(removed, "; ")); err != nil {
		return err
	}
	if e := res.Deleted.Effective; e != nil {
		u.warn("%s is STILL MAPPED: %s now takes effect (%s); entries left for it: %d. Pass --all to remove every entry",
			e.Display(), e.Ref, output.Identity(e.Username, e.Groups), len(res.Deleted.Remaining))
	}
	return nil
}
