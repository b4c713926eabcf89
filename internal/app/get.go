package app

import (
	"fmt"
	"strings"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/cluster"
	"github.com/iammap/iammap/internal/output"
	"github.com/iammap/iammap/mapping"
	"github.com/urfave/cli/v2"
)

func getCommand() *cli.Command {
	return &cli.Command{
		Name:  "get",
		Usage: "list identity mappings (aws-auth and access entries) and whether each is in effect",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "arn", Aliases: []string{"principal-arn"}, Usage: "only mappings of this IAM role or user `ARN` (any case, either key)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "table, json or yaml"},
		}, backendFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return badFlags("unexpected argument %q", c.Args().First())
			}
			return runGet(c, c.String("arn"), c.String("output"), c.String("backend"))
		},
	}
}

func runGet(c *cli.Context, arn, format, backendFlag string) error {
	u := newUI(c)
	f, err := output.ParseFormat(format)
	if err != nil {
		return badFlags("%v", err)
	}
	filter := ""
	if arn != "" {
		// Matching is case-insensitive, like the authenticator's.
		if _, _, err := mapping.ParsePrincipal(strings.ToLower(arn)); err != nil {
			return err
		}
		filter = mapping.PrincipalKey(arn)
	}
	t, err := resolveTarget(c, u)
	if err != nil {
		return err
	}
	showAWSAuth, showEntries, err := cluster.ReadBackends(t.Name(), t.Mode(), cluster.Backend(backendFlag))
	if err != nil {
		return err
	}
	var rows []output.Row
	// keptEntries are the access entries listed, for the accessentry noun,
	// which prints them in eksctl's shape rather than as rows.
	var keptEntries []accessentry.Entry
	// access weighs what is listed the way EKS does, for the STATUS column.
	access := mapping.Access{Mode: t.Mode()}
	if showEntries {
		entries, err := t.AccessEntries().List(c.Context)
		if err != nil {
			return err
		}
		access.Entries = entries
		for _, e := range entries {
			key := mapping.PrincipalKey(e.PrincipalARN)
			if filter == "" || key == filter || strings.EqualFold(e.PrincipalARN, arn) {
				keptEntries = append(keptEntries, e)
			}
		}
		rows = append(rows, output.AccessEntryRows(keptEntries)...)
	}
	existed := true
	if showAWSAuth {
		snap, err := t.LoadAWSAuth(c.Context)
		if err != nil {
			return err
		}
		u.debug("aws-auth read at resourceVersion %q", snap.ResourceVersion())
		existed = snap.Exists()
		if !existed {
			u.info("ConfigMap %s/%s does not exist: no identity mappings", awsauth.Namespace, awsauth.Name)
		}
		if t.Mode() == modeAPI {
			u.warn("cluster %s is in API mode: EKS ignores aws-auth", t.EKS.Cluster.Name)
		}
		for _, e := range snap.Doc.Errs() {
			u.warn("%v; EKS ignores that key too. Fix it with `kubectl edit -n kube-system configmap aws-auth`", e)
		}
		for _, p := range snap.Doc.Problems(mapping.MapAccounts) {
			u.warn("aws-auth mapAccounts: %s", p)
		}
		var kept []awsauth.Entry
		for _, e := range snap.Doc.Entries() {
			if filter == "" || e.Key() == filter || e.Key() == strings.ToLower(arn) {
				kept = append(kept, e)
				for _, p := range e.Problems {
					u.warn("aws-auth %s: %s", e.Ref, p)
				}
			}
		}
		accounts := snap.Doc.Set().Accounts
		if filter != "" {
			accounts = nil
		}
		awsRows := output.Rows(kept, accounts)
		arns := make([]string, len(kept))
		for i, e := range kept {
			arns[i] = e.ARN
		}
		for i, entry := range access.Overrides(arns) {
			if entry != nil && kept[i].ARN != "" && awsRows[i].Status == string(mapping.Active) {
				awsRows[i].Status, awsRows[i].ShadowedBy, awsRows[i].Reason = string(output.Overridden), output.AccessEntrySource, "an access entry for the same principal takes precedence"
			}
		}
		rows = append(rows, awsRows...)
	}
	if len(rows) == 0 && arn != "" {
		// eksctl's error, word for word, so scripts that test for it keep working.
		return withHint(fmt.Errorf("no iamidentitymapping with arn %q found", arn), "list every mapping with `iammap get`")
	}
	if len(rows) == 0 && f == output.Table {
		if existed || showEntries {
			u.info("no identity mappings found")
		}
		return nil
	}
	if c.Command.Name == "accessentry" {
		// `eksctl get accessentry` prints its own shape, not
		// iamidentitymapping's keys; the noun fixes the backend, so
		// rows hold access entries only.
		return output.WriteAccessEntries(c.App.Writer, f, keptEntries)
	}
	layout := output.AWSAuthLayout
	switch {
	case showEntries && showAWSAuth:
		layout = output.CombinedLayout
	case showEntries:
		layout = output.AccessEntryLayout
	}
	return output.WriteRows(c.App.Writer, f, rows, layout)
}
