package app

import (
	"errors"
	"fmt"
	"strings"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/cluster"
	"github.com/iammap/iammap/internal/output"
	"github.com/iammap/iammap/mapping"
	"github.com/urfave/cli/v2"
)

func deleteCommand() *cli.Command {
	return &cli.Command{
		Name:  "delete",
		Usage: "remove an identity mapping (aws-auth entry or EKS access entry)",
		Description: "Without a noun or --backend, revokes the principal wherever EKS reads it: in API_AND_CONFIG_MAP mode its access\n" +
			"entry and its aws-auth entries, checked as one change, then says what still lets it in (or that it now gets 401).\n" +
			"In aws-auth, removes the first entry for --arn (as eksctl does), or every entry with --all. The accessentry\n" +
			"noun deletes only the access entry and reports an aws-auth entry EKS would fall back to.\n",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "arn", Aliases: []string{"principal-arn"}, Usage: "IAM role or user `ARN` whose mapping to remove (any case, either key)"},
			&cli.BoolFlag{Name: "all", Usage: "remove every aws-auth entry for --arn, not just the first"},
			&cli.StringFlag{Name: "account", Usage: "remove this account `ID` from mapAccounts"},
			&cli.BoolFlag{Name: "ignore-not-found", Usage: "succeed when there is nothing to delete"},
			&cli.BoolFlag{Name: "force", Usage: "write aws-auth even where EKS ignores it (API mode), or make a change that would lock out you, the last cluster admin or a node role"},
		}, backendFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return badFlags("unexpected argument %q", c.Args().First())
			}
			arn, account := c.String("arn"), c.String("account")
			switch {
			case arn != "" && account != "":
				return badFlags("--arn and --account are exclusive")
			case arn == "" && account == "":
				return badFlags("one of --arn or --account is required")
			case account != "" && c.Bool("all"):
				return badFlags("--all applies to --arn; --account removes every occurrence of the id")
			case account != "" && !mapping.ValidAccountID(account):
				return badFlags("--account %q is not a 12-digit AWS account id", account)
			}
			err := runDelete(c, arn, account, c.Bool("all"))
			if (errors.Is(err, awsauth.ErrNotFound) || errors.Is(err, accessentry.ErrNotFound)) && c.Bool("ignore-not-found") {
				newUI(c).info("%v; nothing written", err)
				return nil
			}
			return err
		},
	}
}

func runDelete(c *cli.Context, arn, account string, all bool) error {
	u := newUI(c)
	backend, err := cluster.ParseBackend(c.String("backend"))
	if err != nil {
		return err
	}
	req := cluster.DeleteRequest{Backend: backend, Force: c.Bool("force"), DryRun: flagBool(c, "dry-run"), ARN: arn, All: all, Account: account}
	if arn != "" {
		// Matching is case-insensitive, like the authenticator's.
		if req.Principal, _, err = mapping.ParsePrincipal(strings.ToLower(arn)); err != nil {
			return err
		}
	}
	t, err := resolveTarget(c, u)
	if err != nil {
		return err
	}
	res, err := t.Delete(c.Context, req)
	// Only what was done is reported: a refusal inside the aws-auth update
	// leaves Deleted filled in but nothing written.
	awsAuthDone := res.Write.Written || (req.DryRun && err == nil)
	if why := res.Route.Why; why != "" && (err == nil || res.Entry != nil || awsAuthDone) {
		if res.Route.AWSAuth && res.Route.AccessEntry {
			u.info("removes from aws-auth and the access entry: %s", why)
		} else {
			u.info("%s", routeLine("removes from", res.Backend, why))
		}
	}
	if awsAuthDone && (len(res.Deleted.Removed) > 0 || account != "") {
		if err := reportAWSAuthDelete(c, u, arn, account, res, req.DryRun); err != nil {
			return err
		}
	}
	if res.Entry != nil || res.Backend == cluster.BackendAccessEntry {
		reportEntryDelete(u, arn, res, req.DryRun)
	}
	if err != nil {
		return err
	}
	if e := res.Effect; e != nil {
		switch {
		case e.After.Mapped && res.Deleted.Effective != nil && e.After.Mechanism == mapping.ViaAWSAuth && e.After.Resolution.Ref != nil:
			// Already said: another aws-auth entry is STILL MAPPED.
		case e.After.Mapped:
			u.warn("%s STILL GETS IN: %s", arn, cluster.DescribeIdentity(e.After))
		case !req.DryRun:
			u.info("%s is mapped nowhere now: EKS answers it 401 Unauthorized", arn)
		}
	}
	if e := res.AlsoEntry; e != nil {
		u.info("note: %s also has an access entry (username %q), which is what EKS uses in API_AND_CONFIG_MAP mode", e.PrincipalARN, e.Username)
	}
	return nil
}

// reportEntryDelete prints the access entry deleted and the aws-auth
// mapping EKS falls back to.
func reportEntryDelete(u *ui, arn string, res cluster.DeleteResult, dryRun bool) {
	if gone := res.Entry; gone != nil {
		var policies []string
		for _, p := range gone.Policies {
			policies = append(policies, accessentry.PolicyName(p.ARN)+"("+p.Scope()+")")
		}
		u.info("%sdeleted access entry %s (type %s, %s, access policies [%s])", cluster.DryPrefix(dryRun), gone.PrincipalARN, gone.Type, output.Identity(gone.Username, gone.Groups), strings.Join(policies, ","))
	}
	if r := res.FallsBackTo; r != nil {
		u.warn("%s is STILL MAPPED through aws-auth %s (%s): EKS falls back to it now. Remove it with `iammap delete --backend aws-auth --arn %s --all`",
			arn, r.Ref, output.Identity(r.Username, r.Groups), arn)
	}
}

// reportAWSAuthDelete prints the aws-auth entries (or account) removed and
// what still maps the principal there.
func reportAWSAuthDelete(c *cli.Context, u *ui, arn, account string, res cluster.DeleteResult, dryRun bool) error {
	if account != "" {
		return reportWrite(c, u, res.Write, dryRun, "removed account "+account+" from mapAccounts")
	}
	var removed []string
	for _, e := range res.Deleted.Removed {
		removed = append(removed, fmt.Sprintf("%s %s (%s)", e.Ref, e.Display(), output.Identity(e.Username, e.Groups)))
	}
	if err := reportWrite(c, u, res.Write, dryRun, "removed "+strings.Join(removed, "; ")); err != nil {
		return err
	}
	// The trap eksctl leaves open: another entry for the same principal
	// silently keeps (or takes over) its access.
	switch del := res.Deleted; {
	case del.Effective != nil:
		e := del.Effective
		u.warn("%s is STILL MAPPED: %s now takes effect (%s); entries left for it: %d. Run `iammap delete --arn %s --all` to remove every entry",
			e.Display(), e.Ref, output.Identity(e.Username, e.Groups), len(del.Remaining), arn)
	case len(del.Remaining) > 0:
		u.warn("entries left for %s: %d, but none is in effect", arn, len(del.Remaining))
	}
	for _, e := range res.Deleted.Unreadable {
		u.warn("%v: it may still map %s", e, arn)
	}
	return nil
}
