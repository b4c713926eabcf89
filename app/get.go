package app

import (
	"strings"

	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/mapping"
	"github.com/iammap/iammap/output"
	"github.com/urfave/cli/v2"
)

func getCommand() *cli.Command {
	return &cli.Command{
		Name:  "get",
		Usage: "list identity mappings and whether each is in effect",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "arn", Usage: "only mappings of this IAM role or user `ARN` (any case, either key)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "table, json or yaml"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return badFlags("unexpected argument %q", c.Args().First())
			}
			return runGet(c, c.String("arn"), c.String("output"))
		},
	}
}

func runGet(c *cli.Context, arn, format string) error {
	u := newUI(c)
	f, err := output.ParseFormat(format)
	if err != nil {
		return badFlags("%v", err)
	}
	var filterKeys []string
	if arn != "" {
		filterKeys = []string{strings.ToLower(arn)}
		// Matching is case-insensitive, like the authenticator's.
		p, rewrites, err := mapping.ParsePrincipal(strings.ToLower(arn))
		if err != nil {
			return err
		}
		if len(rewrites) > 0 {
			filterKeys = append(filterKeys, strings.ToLower(p.ARN))
		}
	}
	_, store, err := connect(c, u)
	if err != nil {
		return err
	}
	snap, err := store.Load(c.Context)
	if err != nil {
		return err
	}
	u.debug("aws-auth read at resourceVersion %q", snap.ResourceVersion())
	if !snap.Exists() {
		u.info("ConfigMap %s/%s does not exist: no identity mappings", awsauth.Namespace, awsauth.Name)
	}
	for _, e := range snap.Doc.Errs() {
		u.warn("%v; EKS ignores that key too. Fix it with `kubectl edit -n kube-system configmap aws-auth`", e)
	}
	entries := snap.Doc.Entries()
	accounts := snap.Doc.Set().Accounts
	if filterKeys != nil {
		var kept []awsauth.Entry
		for _, e := range entries {
			for _, k := range filterKeys {
				if e.Key() == k {
					kept = append(kept, e)
					break
				}
			}
		}
		entries, accounts = kept, nil
	}
	rows := output.Rows(entries, accounts)
	if len(rows) == 0 && f == output.Table {
		if snap.Exists() {
			u.info("no identity mappings found")
		}
		return nil
	}
	return output.WriteRows(c.App.Writer, f, rows)
}
