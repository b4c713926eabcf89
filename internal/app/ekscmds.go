package app

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/internal/cluster"
	"github.com/iammap/iammap/internal/eksconn"
	"github.com/iammap/iammap/mapping"
	"github.com/urfave/cli/v2"
)

// eksTarget resolves a target that must be named by --cluster.
func eksTarget(c *cli.Context, u *ui) (*cluster.Target, error) {
	if flagString(c, "cluster") == "" {
		return nil, withHint(badFlags("this command needs an EKS cluster"), "pass --cluster NAME (and --region), or set IAMMAP_CLUSTER")
	}
	return resolveTarget(c, u)
}

func authModeCommand() *cli.Command {
	return &cli.Command{
		Name:  "auth-mode",
		Usage: "show or move a cluster's authentication mode (CONFIG_MAP -> API_AND_CONFIG_MAP -> API, one way only)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "set", Usage: "move to `MODE`: API_AND_CONFIG_MAP or API. EKS cannot move back"},
			&cli.BoolFlag{Name: "wait", Usage: "wait until the update has finished"},
			&cli.DurationFlag{Name: "poll-interval", Value: 5 * time.Second, Usage: "how often --wait checks the update"},
			forceFlag(),
		},
		Action: func(c *cli.Context) error {
			return runAuthMode(c, mapping.Mode(c.String("set")), c.Bool("wait"))
		},
	}
}

// runAuthMode prints the cluster's authentication mode, or with want moves
// it there (waiting for EKS with wait).
func runAuthMode(c *cli.Context, want mapping.Mode, wait bool) error {
	u := newUI(c)
	if _, err := mapping.ParseMode(string(want)); want != "" && err != nil {
		return badFlags("unknown authentication mode %q: use API_AND_CONFIG_MAP or API", want)
	}
	t, err := eksTarget(c, u)
	if err != nil {
		return err
	}
	cl := t.EKS.Cluster
	if want == "" {
		fmt.Fprintln(c.App.Writer, cl.AuthMode)
		return nil
	}
	if noop, err := cluster.CheckMove(cl.Name, t.Mode(), want); noop || err != nil {
		if noop {
			u.info("cluster %s is already in %s mode; nothing changed", cl.Name, want)
		}
		return err
	}
	if err := t.CheckModeSwitch(c.Context, want, flagBool(c, "force")); err != nil {
		return err
	}
	if flagBool(c, "dry-run") {
		u.info("dry run: would have moved cluster %s from %s to %s (one way); nothing changed", cl.Name, cl.AuthMode, want)
		return nil
	}
	u.info("moving cluster %s from %s to %s; this cannot be undone", cl.Name, cl.AuthMode, want)
	return moveAuthMode(c, u, t, want, wait)
}

// utilsCommand holds eksctl's `utils` spellings of auth-mode and migrate.
func utilsCommand() *cli.Command {
	migrate := migrateCommand()
	migrate.Name = "migrate-to-access-entry"
	migrate.Usage = "`eksctl utils migrate-to-access-entry`: the same as `iammap migrate`"
	return &cli.Command{
		Name:            "utils",
		Usage:           "eksctl's utils spellings: update-authentication-mode, migrate-to-access-entry",
		HideHelpCommand: true,
		Subcommands: []*cli.Command{
			{
				Name:  "update-authentication-mode",
				Usage: "`eksctl utils update-authentication-mode`: the same as `iammap auth-mode --set MODE --wait`",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "authentication-mode", Usage: "move to `MODE`: API_AND_CONFIG_MAP or API. EKS cannot move back"},
					&cli.DurationFlag{Name: "poll-interval", Value: 5 * time.Second, Usage: "how often to check the update"},
					forceFlag(),
				},
				Action: func(c *cli.Context) error {
					if c.NArg() > 0 {
						return badFlags("unexpected argument %q", c.Args().First())
					}
					want := mapping.Mode(c.String("authentication-mode"))
					if want == "" {
						return badFlags("update-authentication-mode needs --authentication-mode MODE: API_AND_CONFIG_MAP or API")
					}
					return runAuthMode(c, want, true)
				},
			},
			migrate,
		},
	}
}

// moveAuthMode moves the cluster one step, saying so, and with wait waits
// for EKS to finish the update.
func moveAuthMode(c *cli.Context, u *ui, t *cluster.Target, mode mapping.Mode, wait bool) error {
	return cluster.MoveAuthMode(c.Context, t, mode, cluster.MoveOptions{Wait: wait, PollInterval: c.Duration("poll-interval"), Progress: func(p cluster.MoveProgress) {
		if p.Done {
			u.info("cluster %s is now in %s mode", p.Cluster, p.To)
		} else {
			u.info("switching cluster %s to %s (update %s; one way)", p.Cluster, p.To, p.UpdateID)
		}
	}})
}

// execCredential is the client.authentication.k8s.io ExecCredential kubectl reads.
type execCredential struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Spec       struct{} `json:"spec"`
	Status     struct {
		ExpirationTimestamp string `json:"expirationTimestamp"`
		Token               string `json:"token"`
	} `json:"status"`
}

func tokenCommand() *cli.Command {
	return &cli.Command{
		Name:  "token",
		Usage: "print an ExecCredential with a bearer token for --cluster (a kubeconfig exec plugin, like `aws eks get-token`)",
		Description: "The output holds a credential; it is meant for kubectl's exec plugin, not for a terminal or a log.\n" +
			"Only --cluster is needed: the token is signed in process with your AWS credentials; no EKS call is made.",
		Action: func(c *cli.Context) error {
			name := flagString(c, "cluster")
			if name == "" {
				return withHint(badFlags("token needs --cluster NAME"), "set IAMMAP_CLUSTER or pass --cluster")
			}
			cfg, err := eksconn.LoadAWSConfig(c.Context, flagString(c, "region"), flagString(c, "profile"))
			if err != nil {
				return err
			}
			tok, err := (&eksconn.Conn{STS: eksconn.NewSTS(cfg), Cluster: eksconn.Cluster{Name: name}}).Token(c.Context)
			if err != nil {
				return err
			}
			cred := execCredential{APIVersion: "client.authentication.k8s.io/v1beta1", Kind: "ExecCredential"}
			cred.Status.ExpirationTimestamp = tok.Expiration.UTC().Format(time.RFC3339)
			cred.Status.Token = tok.Value
			return json.NewEncoder(c.App.Writer).Encode(cred)
		},
	}
}

func policyCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:  "list-access-policies",
			Usage: "list the access policies EKS offers",
			Action: func(c *cli.Context) error {
				t, err := eksTarget(c, newUI(c))
				if err != nil {
					return err
				}
				policies, err := t.AccessEntries().AvailablePolicies(c.Context)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(c.App.Writer, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tARN")
				for _, p := range policies {
					fmt.Fprintf(tw, "%s\t%s\n", aws.ToString(p.Name), aws.ToString(p.Arn))
				}
				return tw.Flush()
			},
		},
		{
			Name:  "associate-access-policy",
			Usage: "associate an access policy with an access entry, at a scope",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "arn", Aliases: []string{"principal-arn"}, Required: true, Usage: "principal `ARN` of the access entry"},
				&cli.StringSliceFlag{Name: "access-policy", Required: true, Usage: "`POLICY` name or ARN (repeatable)"},
				&cli.StringFlag{Name: "access-scope", Value: "cluster", Usage: "cluster or namespace=NS[,NS...]"},
			},
			Action: func(c *cli.Context) error {
				u := newUI(c)
				scope, err := accessentry.ParseScope(c.String("access-scope"))
				if err != nil {
					return err
				}
				t, err := eksTarget(c, u)
				if err != nil {
					return err
				}
				if err := t.RequireAccessEntries(); err != nil {
					return err
				}
				current, err := t.AccessEntries().Get(c.Context, c.String("arn"))
				if err != nil {
					return err
				}
				p, _, err := mapping.ParsePrincipal(current.PrincipalARN)
				if err != nil {
					return err
				}
				req := cluster.EntryRequest{Principal: p, DryRun: flagBool(c, "dry-run"),
					Spec: accessentry.Spec{PrincipalARN: current.PrincipalARN, Type: current.Type, Username: current.Username, Groups: current.Groups}}
				for _, p := range c.StringSlice("access-policy") {
					req.Spec.Policies = append(req.Spec.Policies, accessentry.PolicySpec{ARN: p, Namespaces: scope})
				}
				res, err := t.EnsureEntry(c.Context, req, u)
				return reportEntry(u, res, req.DryRun, err)
			},
		},
		{
			Name:  "disassociate-access-policy",
			Usage: "remove an access policy from an access entry",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "arn", Aliases: []string{"principal-arn"}, Required: true, Usage: "principal `ARN` of the access entry"},
				&cli.StringFlag{Name: "access-policy", Required: true, Usage: "`POLICY` name or ARN"},
				forceFlag(),
			},
			Action: func(c *cli.Context) error {
				u := newUI(c)
				t, err := eksTarget(c, u)
				if err != nil {
					return err
				}
				if err := t.RequireAccessEntries(); err != nil {
					return err
				}
				policy, err := accessentry.PolicyARN(t.EKS.Cluster.Partition, c.String("access-policy"))
				if err != nil {
					return err
				}
				if err := t.GuardAction(c.Context, accessentry.Action{Kind: accessentry.ActDisassociate, PrincipalARN: c.String("arn"), Policy: &accessentry.PolicySpec{ARN: policy}}, flagBool(c, "force")); err != nil {
					return err
				}
				if flagBool(c, "dry-run") {
					u.info("dry run: would have disassociated %s from %s", accessentry.PolicyName(policy), c.String("arn"))
					return nil
				}
				if err := t.AccessEntries().Disassociate(c.Context, c.String("arn"), policy); err != nil {
					return err
				}
				u.info("disassociated %s from %s", accessentry.PolicyName(policy), c.String("arn"))
				return nil
			},
		},
	}
}
