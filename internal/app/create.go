package app

import (
	"fmt"
	"strings"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/cluster"
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
	// clusterNamed: --cluster (or IAMMAP_CLUSTER) names an EKS cluster,
	// whose account --service-name uses when --account is not given.
	clusterNamed bool
	// Access entries only.
	entryType   string
	tags        []string
	policies    []string
	accessScope string
}

func backendFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "backend", Value: backendAuto, EnvVars: []string{"IAMMAP_BACKEND"}, Usage: "auto, aws-auth or access-entry; auto routes by the cluster's authentication mode and where the principal is mapped (README: Where a change goes); the others are literal"},
	}
}

func createCommand() *cli.Command {
	return &cli.Command{
		Name:  "create",
		Usage: "map an IAM identity (aws-auth entry or EKS access entry)",
		Description: "Maps an IAM role or user (--arn) to a Kubernetes username and groups, or a whole account (--account, aws-auth only).\n" +
			"Without a noun or --backend, the change goes where the cluster's authentication mode and the principal's\n" +
			"current mappings say (README: Where a change goes), translated for access entries (system:masters becomes\n" +
			"AmazonEKSClusterAdminPolicy; the node-role shape becomes EC2_LINUX), and iammap prints where and why.\n" +
			"In aws-auth a role ARN with a path or an assumed-role ARN is stored as the role ARN EKS matches, and iammap says so.\n" +
			"Re-running the same command changes nothing.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "arn", Aliases: []string{"principal-arn"}, Usage: "IAM role or user `ARN` to map"},
			&cli.StringFlag{Name: "username", Aliases: []string{"kubernetes-username"}, Usage: "Kubernetes user name; may use {{AccountID}}, {{SessionName}}, {{SessionNameRaw}}, {{AccessKeyID}}, {{EC2PrivateDNSName}}"},
			&cli.StringSliceFlag{Name: "group", Aliases: []string{"kubernetes-groups"}, Usage: "Kubernetes `GROUP` (repeat or separate with commas)"},
			&cli.StringFlag{Name: "account", Usage: "map every principal of this AWS account `ID` (mapAccounts); with --service-name, the account of the service role"},
			&cli.BoolFlag{Name: "no-duplicate-arns", Usage: "refuse when the principal is already mapped differently"},
			&cli.StringFlag{Name: "service-name", Usage: "grant an AWS service access to --namespace (RBAC objects and its service-linked role's mapping); supported: " + strings.Join(serviceaccess.Names(), ", ")},
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
				dryRun: flagBool(c, "dry-run"), force: c.Bool("force"), backend: c.String("backend"), clusterNamed: flagString(c, "cluster") != "",
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
	req, err := f.request()
	if err != nil {
		return err
	}
	u := newUI(c)
	t, err := resolveTarget(c, u)
	if err != nil {
		return err
	}
	res, err := t.Create(c.Context, req, u)
	if res.Route.Why != "" && (err == nil || len(res.Entry.Changes) > 0) {
		// Where it went: a refusal or a failure before any change went
		// nowhere, and says so in its error.
		u.info("%s", routeLine("goes to", res.Backend, res.Route.Why))
	}
	switch {
	case res.Backend == cluster.BackendAccessEntry:
		if e := res.Entry.Effect; e != nil {
			u.warn("the access entry now decides instead of aws-auth: %s", e)
		}
		return reportEntry(u, res.Entry, f.dryRun, err)
	case err != nil:
		return err
	case req.Account != "":
		if res.AccountExisted {
			u.info("account %s is already in mapAccounts; nothing written", f.account)
			return nil
		}
		return reportWrite(c, u, res.Write, f.dryRun, "added account "+f.account+" to mapAccounts")
	case res.Added.Unchanged:
		u.info("%s is already mapped identically by %s; nothing written", res.Mapping.Display(), res.Added.Existing.Ref)
		return nil
	}
	for _, old := range res.Added.Shadows {
		u.warn("%s is already mapped by %s (%s); the new entry overrides it, because EKS uses the last entry for a principal. Use --no-duplicate-arns to refuse, or delete the old entry", old.Display(), old.Ref, output.Identity(old.Username, old.Groups))
	}
	m := res.Mapping
	return reportWrite(c, u, res.Write, f.dryRun, fmt.Sprintf("added %s to %s (%s)", m.Display(), m.Source, output.Identity(m.Username, m.Groups)))
}

// request checks everything that needs no cluster, so bad input never
// leads to a call, let alone a write, and parses the ARN once.
func (f createFlags) request() (cluster.CreateRequest, error) {
	groups := mapping.SplitGroups(f.groups)
	backend, err := cluster.ParseBackend(f.backend)
	if err != nil {
		return cluster.CreateRequest{}, err
	}
	req := cluster.CreateRequest{Backend: backend, Force: f.force, DryRun: f.dryRun, NoDuplicateARNs: f.noDuplicateARNs, AccessEntryOnly: f.accessEntryOnly()}
	switch {
	case f.serviceName != "":
		svc, ok := serviceaccess.Lookup(f.serviceName)
		if !ok {
			return req, badFlags("unknown --service-name %q: supported: %s", f.serviceName, strings.Join(serviceaccess.Names(), ", "))
		}
		if f.namespace == "" || f.arn != "" || f.username != "" || len(groups) > 0 {
			return req, badFlags("--service-name needs --namespace (and --account, or --cluster), and takes no --arn, --username or --group")
		}
		req.Service, req.ServiceNamespace = &svc, f.namespace
		if f.account == "" {
			if !f.clusterNamed {
				return req, badFlags("--service-name %s needs --account ID, the account of its service-linked role, or --cluster NAME, whose account iammap then uses (as eksctl does)", f.serviceName)
			}
			break // cluster.Create takes the account from the cluster
		}
		m, err := svc.Mapping(f.partition, f.account)
		if err != nil {
			return req, err
		}
		req.Mapping = m
	case f.account != "" && f.arn != "":
		return req, badFlags("--arn and --account are exclusive: --account maps a whole account")
	case f.account != "":
		if f.username != "" || len(groups) > 0 {
			return req, badFlags("--account maps every principal of the account to its own ARN with no groups; --username and --group do not apply")
		}
		if !mapping.ValidAccountID(f.account) {
			return req, badFlags("--account %q is not a 12-digit AWS account id", f.account)
		}
		req.Account = f.account
	case f.arn == "":
		return req, badFlags("one of --arn, --account or --service-name is required")
	default:
		if f.namespace != "" {
			return req, badFlags("--namespace only applies with --service-name")
		}
		p, rw, err := mapping.ParsePrincipal(f.arn)
		if err != nil {
			return req, err
		}
		req.Principal, req.Rewrites, req.Mapping = &p, rw, mapping.ForPrincipal(p, f.username, groups)
		if err := req.Mapping.Check(); err != nil {
			return req, badFlags("%v", err)
		}
	}
	scope, err := accessentry.ParseScope(f.accessScope)
	if err != nil {
		return req, err
	}
	tags, err := parseTags(f.tags)
	if err != nil {
		return req, err
	}
	req.Entry = accessentry.Spec{PrincipalARN: f.arn, Type: f.entryType, Username: f.username, Groups: groups, Tags: tags}
	for _, p := range f.policies {
		req.Entry.Policies = append(req.Entry.Policies, accessentry.PolicySpec{ARN: p, Namespaces: scope})
	}
	return req, nil
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

// reportEntry prints what ensuring an access entry changed.
func reportEntry(u *ui, res cluster.EntryResult, dryRun bool, err error) error {
	for _, change := range res.Changes {
		u.info("%s%s", cluster.DryPrefix(dryRun), change)
	}
	if err == nil && len(res.Changes) == 0 {
		u.info("access entry for %s already matches; nothing changed", res.PrincipalARN)
	}
	return err
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

// routeLine is the one line that says where a change went and why.
func routeLine(verb string, b cluster.Backend, why string) string {
	where := "aws-auth"
	if b == cluster.BackendAccessEntry {
		where = "the access entry"
	}
	return fmt.Sprintf("%s %s: %s", verb, where, why)
}
