package app

import (
	"fmt"
	"strings"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/output"
	"github.com/iammap/iammap/internal/serviceaccess"
	"github.com/iammap/iammap/mapping"
	"github.com/urfave/cli/v2"
)

type createFlags struct {
	arn, username, account string
	groups                 []string
	noDuplicateARNs        bool
	serviceName, namespace string
	partition              string
	dryRun, force          bool
	backend                string
	// Access entries only.
	entryType   string
	tags        []string
	policies    []string
	accessScope string
}

func backendFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "backend", Value: backendAuto, Usage: "auto, aws-auth or access-entry; auto follows the cluster's authentication mode (aws-auth with only a kubeconfig)"},
	}
}

func createCommand() *cli.Command {
	return &cli.Command{
		Name:  "create",
		Usage: "map an IAM identity (aws-auth entry or EKS access entry)",
		Description: "Maps an IAM role or user (--arn) to a Kubernetes username and groups, or a whole account (--account, aws-auth only).\n" +
			"In aws-auth a role ARN with a path or an assumed-role ARN is stored as the role ARN EKS matches, and iammap says so.\n" +
			"With access entries (--cluster, API or API_AND_CONFIG_MAP mode) the entry and its access policies are converged:\n" +
			"re-running the same command changes nothing.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "arn", Aliases: []string{"principal-arn"}, Usage: "IAM role or user `ARN` to map"},
			&cli.StringFlag{Name: "username", Usage: "Kubernetes user name; may use {{AccountID}}, {{SessionName}}, {{SessionNameRaw}}, {{AccessKeyID}}, {{EC2PrivateDNSName}}"},
			&cli.StringSliceFlag{Name: "group", Aliases: []string{"kubernetes-groups"}, Usage: "Kubernetes `GROUP` (repeat or separate with commas)"},
			&cli.StringFlag{Name: "account", Usage: "map every principal of this AWS account `ID` (mapAccounts); with --service-name, the account of the service role"},
			&cli.BoolFlag{Name: "no-duplicate-arns", Usage: "refuse when the principal is already mapped differently"},
			&cli.StringFlag{Name: "service-name", Usage: "grant an AWS service access; supported: " + serviceaccess.EMRContainers},
			&cli.StringFlag{Name: "namespace", Usage: "namespace for --service-name"},
			&cli.StringFlag{Name: "partition", Value: "aws", Usage: "AWS partition of the --service-name role"},
			&cli.StringFlag{Name: "type", Value: "STANDARD", Usage: "access entry type: " + strings.Join(accessentry.Types, ", ")},
			&cli.StringSliceFlag{Name: "tag", Usage: "access entry tag `KEY=VALUE` (repeatable)"},
			&cli.StringSliceFlag{Name: "access-policy", Usage: "associate access `POLICY` (a name like AmazonEKSViewPolicy, or its ARN; repeatable)"},
			&cli.StringFlag{Name: "access-scope", Value: "cluster", Usage: "scope of --access-policy: cluster or namespace=NS[,NS...]"},
			&cli.BoolFlag{Name: "force", Usage: "write aws-auth even where EKS ignores it (API mode), or make a change that would lock out you, the last cluster admin or a node role"},
		}, backendFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return badFlags("unexpected argument %q", c.Args().First())
			}
			return runCreate(c, createFlags{
				arn: c.String("arn"), username: c.String("username"), account: c.String("account"),
				groups: c.StringSlice("group"), noDuplicateARNs: c.Bool("no-duplicate-arns"),
				serviceName: c.String("service-name"), namespace: c.String("namespace"), partition: c.String("partition"),
				dryRun: flagBool(c, "dry-run"), force: c.Bool("force"), backend: c.String("backend"),
				entryType: c.String("type"), tags: c.StringSlice("tag"), policies: c.StringSlice("access-policy"), accessScope: c.String("access-scope"),
			})
		},
	}
}

// accessEntryOnly names the access-entry flags that were set, for a refusal
// when the change goes to aws-auth.
func (f createFlags) accessEntryOnly() string {
	var set []string
	if f.entryType != "STANDARD" {
		set = append(set, "--type")
	}
	if len(f.tags) > 0 {
		set = append(set, "--tag")
	}
	if len(f.policies) > 0 {
		set = append(set, "--access-policy")
	}
	return strings.Join(set, ", ")
}

func runCreate(c *cli.Context, f createFlags) error {
	u := newUI(c)
	groups := mapping.SplitGroups(f.groups)
	// Validate everything that needs no cluster first, so bad input never
	// leads to a call, let alone a write.
	var m mapping.Mapping
	var rewrites []mapping.Rewrite
	switch {
	case f.serviceName != "":
		if f.serviceName != serviceaccess.EMRContainers {
			return badFlags("unknown --service-name %q: supported: %s", f.serviceName, serviceaccess.EMRContainers)
		}
		if f.namespace == "" || f.arn != "" || f.username != "" || len(groups) > 0 {
			return badFlags("--service-name needs --namespace and --account, and takes no --arn, --username or --group")
		}
		if f.account == "" {
			return badFlags("--service-name %s needs --account ID, the account of its service-linked role", f.serviceName)
		}
		var err error
		if m, err = serviceaccess.EMRMapping(f.partition, f.account); err != nil {
			return err
		}
	case f.account != "" && f.arn != "":
		return badFlags("--arn and --account are exclusive: --account maps a whole account")
	case f.account != "":
		if f.username != "" || len(groups) > 0 {
			return badFlags("--account maps every principal of the account to its own ARN with no groups; --username and --group do not apply")
		}
		if !mapping.ValidAccountID(f.account) {
			return badFlags("--account %q is not a 12-digit AWS account id", f.account)
		}
	case f.arn == "":
		return badFlags("one of --arn, --account or --service-name is required")
	default:
		if f.namespace != "" {
			return badFlags("--namespace only applies with --service-name")
		}
		p, rw, err := mapping.ParsePrincipal(f.arn)
		if err != nil {
			return err
		}
		m, rewrites = mapping.ForPrincipal(p, f.username, groups), rw
	}
	scope, err := accessentry.ParseScope(f.accessScope)
	if err != nil {
		return err
	}
	tags, err := parseTags(f.tags)
	if err != nil {
		return err
	}

	t, err := resolveTarget(c, u)
	if err != nil {
		return err
	}
	backend, err := t.writeBackend(f.backend, f.force)
	if err != nil {
		return err
	}
	if backend == backendAccessEntry {
		if f.account != "" || f.serviceName != "" {
			return withHint(badFlags("--account and --service-name write aws-auth; access entries have no equivalent"), "add --backend aws-auth (the cluster must be in CONFIG_MAP or API_AND_CONFIG_MAP mode)")
		}
		var policies []accessentry.PolicySpec
		for _, p := range f.policies {
			policies = append(policies, accessentry.PolicySpec{ARN: p, Namespaces: scope})
		}
		return createAccessEntry(c, u, t, accessentry.Spec{PrincipalARN: f.arn, Type: f.entryType, Username: f.username, Groups: groups, Tags: tags, Policies: policies}, f)
	}
	if extra := f.accessEntryOnly(); extra != "" {
		return withHint(badFlags("%s only apply to access entries, and this change goes to aws-auth", extra), "pass --cluster NAME for a cluster in API or API_AND_CONFIG_MAP mode, or --backend access-entry")
	}
	if t.mode() == modeAPIAndCM {
		u.warn("cluster %s is in API_AND_CONFIG_MAP mode: an access entry for the same principal would override this aws-auth entry", t.eks.Cluster.Name)
	}
	for _, r := range rewrites {
		u.info("note: %s", r)
	}
	if f.account != "" && f.serviceName == "" {
		return createAccount(c, u, t, f)
	}
	for _, s := range append([]string{m.Username}, m.Groups...) {
		for _, w := range mapping.TemplateWarnings(s) {
			u.warn("%s", w)
		}
	}
	store, err := t.store(c.Context)
	if err != nil {
		return err
	}
	if f.serviceName != "" {
		cs, err := t.kubernetes(c.Context)
		if err != nil {
			return err
		}
		actions, err := serviceaccess.EnsureEMRRBAC(c.Context, cs.RbacV1(), f.namespace, f.dryRun)
		for _, a := range actions {
			u.info("%s%s %s %s/%s", dryPrefix(f.dryRun), a.Verb, a.Kind, a.Namespace, a.Name)
		}
		if err != nil {
			return err
		}
	}
	lk, err := lockoutFor(c, t, []string{m.Display()})
	if err != nil {
		return err
	}
	var added awsauth.AddResult
	res, err := store.Modify(c.Context, lk.awsAuthChange(func(doc *awsauth.Document) (bool, error) {
		r, err := awsauth.AddMapping(doc, m, f.noDuplicateARNs)
		added = r
		return !r.Unchanged, err
	}), f.dryRun)
	if err != nil {
		return err
	}
	u.debug("aws-auth read at resourceVersion %q; %d attempt(s)", res.ResourceVersion, res.Attempts)
	if added.Unchanged {
		u.info("%s is already mapped identically by %s; nothing written", m.Display(), added.Existing.Ref)
		return nil
	}
	for _, old := range added.Shadows {
		u.warn("%s is already mapped by %s (username %q, groups [%s]); the new entry overrides it, because EKS uses the last entry for a principal. Use --no-duplicate-arns to refuse, or delete the old entry", old.Display(), old.Ref, old.Username, strings.Join(old.Groups, ","))
	}
	return reportWrite(c, u, res, f.dryRun, fmt.Sprintf("added %s to %s (username %q, groups [%s])", m.Display(), m.Source, m.Username, strings.Join(m.Groups, ",")))
}

func parseTags(values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	tags := map[string]string{}
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, badFlags("--tag %q: want KEY=VALUE", v)
		}
		tags[k] = val
	}
	return tags, nil
}

func createAccessEntry(c *cli.Context, u *ui, t *target, spec accessentry.Spec, f createFlags) error {
	cl := t.eks.Cluster
	spec, rewrites, err := accessentry.Validate(spec, cl.Account, cl.Partition)
	if err != nil {
		return err
	}
	for _, r := range rewrites {
		u.info("note: %s", r)
	}
	client := t.accessEntries()
	if _, err := guardEntries(c, t, []string{spec.PrincipalARN}, func(current []accessentry.Entry) (accessentry.Plan, error) {
		return accessentry.PlanFor(current, []accessentry.Spec{spec}, false)
	}); err != nil {
		return err
	}
	if f.noDuplicateARNs {
		if existing, err := client.Get(c.Context, spec.PrincipalARN); err == nil && !sameEntry(existing, spec) {
			return fmt.Errorf("%w: %s already has an access entry (username %q, groups [%s]); delete it first or drop --no-duplicate-arns",
				awsauth.ErrDuplicate, spec.PrincipalARN, existing.Username, strings.Join(existing.Groups, ","))
		}
	}
	client.DryRun = f.dryRun
	res, err := client.Ensure(c.Context, spec)
	for _, change := range res.Changes {
		u.info("%s%s", dryPrefix(f.dryRun), change)
	}
	if err != nil {
		if len(res.Changes) > 0 {
			return withHint(err, "the changes listed above were made before the failure; fix the cause and run the same command again (it is idempotent)")
		}
		return err
	}
	if len(res.Changes) == 0 {
		u.info("access entry for %s already matches; nothing changed", spec.PrincipalARN)
	}
	return nil
}

// sameEntry: would Ensure leave existing as it is (policies aside)?
func sameEntry(e accessentry.Entry, spec accessentry.Spec) bool {
	return e.Type == spec.Type && (spec.Username == "" || spec.Username == e.Username) && strings.Join(e.Groups, ",") == strings.Join(spec.Groups, ",")
}

func createAccount(c *cli.Context, u *ui, t *target, f createFlags) error {
	store, err := t.store(c.Context)
	if err != nil {
		return err
	}
	unchanged := false
	res, err := store.Modify(c.Context, func(doc *awsauth.Document) (bool, error) {
		var err error
		unchanged, err = awsauth.AddAccount(doc, f.account)
		return !unchanged, err
	}, f.dryRun)
	if err != nil {
		return err
	}
	if unchanged {
		u.info("account %s is already in mapAccounts; nothing written", f.account)
		return nil
	}
	return reportWrite(c, u, res, f.dryRun, "added account "+f.account+" to mapAccounts")
}

// reportWrite prints the diff of a dry run, or confirms a write.
func reportWrite(c *cli.Context, u *ui, res awsauth.Result, dryRun bool, what string) error {
	if dryRun {
		if err := output.WriteDataDiff(c.App.Writer, awsauth.Namespace+"/"+awsauth.Name, res.Before, res.After); err != nil {
			return err
		}
		u.info("dry run: would have %s; nothing written", what)
		return nil
	}
	if res.Created {
		u.info("created ConfigMap %s/%s", awsauth.Namespace, awsauth.Name)
	}
	u.info("%s", what)
	u.debug("aws-auth written at resourceVersion %q", res.ResourceVersion)
	return nil
}

func dryPrefix(dryRun bool) string {
	if dryRun {
		return "dry run: would have "
	}
	return ""
}
