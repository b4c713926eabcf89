package app

import (
	"fmt"
	"strings"

	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/mapping"
	"github.com/iammap/iammap/output"
	"github.com/iammap/iammap/serviceaccess"
	"github.com/urfave/cli/v2"
)

type createFlags struct {
	arn, username, account string
	groups                 []string
	noDuplicateARNs        bool
	serviceName, namespace string
	partition              string
	dryRun                 bool
}

func createCommand() *cli.Command {
	return &cli.Command{
		Name:  "create",
		Usage: "add an identity mapping to aws-auth",
		Description: "Maps an IAM role or user (--arn) to a Kubernetes username and groups, or a whole account (--account).\n" +
			"A role ARN with a path or an assumed-role ARN is stored as the role ARN EKS matches, and iammap says so.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "arn", Usage: "IAM role or user `ARN` to map"},
			&cli.StringFlag{Name: "username", Usage: "Kubernetes user name; may use {{AccountID}}, {{SessionName}}, {{SessionNameRaw}}, {{AccessKeyID}}, {{EC2PrivateDNSName}}"},
			&cli.StringSliceFlag{Name: "group", Usage: "Kubernetes `GROUP` (repeat or separate with commas)"},
			&cli.StringFlag{Name: "account", Usage: "map every principal of this AWS account `ID` (mapAccounts); with --service-name, the account of the service role"},
			&cli.BoolFlag{Name: "no-duplicate-arns", Usage: "refuse when the principal is already mapped differently"},
			&cli.StringFlag{Name: "service-name", Usage: "grant an AWS service access; supported: " + serviceaccess.EMRContainers},
			&cli.StringFlag{Name: "namespace", Usage: "namespace for --service-name"},
			&cli.StringFlag{Name: "partition", Value: "aws", Usage: "AWS partition of the --service-name role"},
		},
		Action: func(c *cli.Context) error {
			f := createFlags{
				arn: c.String("arn"), username: c.String("username"), account: c.String("account"),
				groups: c.StringSlice("group"), noDuplicateARNs: c.Bool("no-duplicate-arns"),
				serviceName: c.String("service-name"), namespace: c.String("namespace"), partition: c.String("partition"),
				dryRun: flagBool(c, "dry-run"),
			}
			if c.NArg() > 0 {
				return badFlags("unexpected argument %q", c.Args().First())
			}
			return runCreate(c, f)
		},
	}
}

func runCreate(c *cli.Context, f createFlags) error {
	u := newUI(c)
	groups := mapping.SplitGroups(f.groups)
	// Validate everything before contacting the cluster, so bad input never
	// leads to a write.
	var m mapping.Mapping
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
		return createAccount(c, u, f)
	case f.arn == "":
		return badFlags("one of --arn, --account or --service-name is required")
	default:
		if f.namespace != "" {
			return badFlags("--namespace only applies with --service-name")
		}
		p, rewrites, err := mapping.ParsePrincipal(f.arn)
		if err != nil {
			return err
		}
		for _, r := range rewrites {
			u.info("note: %s", r)
		}
		m = mapping.ForPrincipal(p, f.username, groups)
	}
	for _, s := range append([]string{m.Username}, m.Groups...) {
		for _, w := range mapping.TemplateWarnings(s) {
			u.warn("%s", w)
		}
	}

	conn, store, err := connect(c, u)
	if err != nil {
		return err
	}
	if f.serviceName != "" {
		actions, err := serviceaccess.EnsureEMRRBAC(c.Context, conn.Clientset.RbacV1(), f.namespace, f.dryRun)
		for _, a := range actions {
			u.info("%s%s %s %s/%s", dryPrefix(f.dryRun), a.Verb, a.Kind, a.Namespace, a.Name)
		}
		if err != nil {
			return err
		}
	}
	var added awsauth.AddResult
	res, err := store.Modify(c.Context, func(doc *awsauth.Document) (bool, error) {
		r, err := awsauth.AddMapping(doc, m, f.noDuplicateARNs)
		added = r
		return !r.Unchanged, err
	}, f.dryRun)
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

func createAccount(c *cli.Context, u *ui, f createFlags) error {
	_, store, err := connect(c, u)
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
