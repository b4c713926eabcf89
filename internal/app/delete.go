package app

import (
	"errors"
	"fmt"
	"strings"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/mapping"
	"github.com/urfave/cli/v2"
)

func deleteCommand() *cli.Command {
	return &cli.Command{
		Name:  "delete",
		Usage: "remove an identity mapping (aws-auth entry or EKS access entry)",
		Description: "In aws-auth, removes the first entry for --arn (as eksctl does), or every entry with --all, and reports\n" +
			"any entry that still maps the principal afterwards. With access entries, deletes the entry and its policy\n" +
			"associations, and reports an aws-auth entry EKS would fall back to.",
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
	dryRun := flagBool(c, "dry-run")
	var p mapping.Principal
	if arn != "" {
		// Matching is case-insensitive, like the authenticator's.
		var err error
		if p, _, err = mapping.ParsePrincipal(strings.ToLower(arn)); err != nil {
			return err
		}
	}
	t, err := resolveTarget(c, u)
	if err != nil {
		return err
	}
	backend, err := t.writeBackend(c.String("backend"), c.Bool("force"))
	if err != nil {
		return err
	}
	if backend == backendAccessEntry {
		if account != "" {
			return withHint(badFlags("--account removes a mapAccounts entry; access entries have no equivalent"), "add --backend aws-auth")
		}
		return deleteAccessEntry(c, u, t, arn, dryRun)
	}
	store, err := t.store(c.Context)
	if err != nil {
		return err
	}
	touched := []string{arn}
	if account != "" {
		touched = []string{}
	}
	lk, err := lockoutFor(c, t, touched)
	if err != nil {
		return err
	}
	if account != "" {
		res, err := store.Modify(c.Context, lk.awsAuthChange(func(doc *awsauth.Document) (bool, error) {
			return true, awsauth.DeleteAccount(doc, account)
		}), dryRun)
		if err != nil {
			return err
		}
		return reportWrite(c, u, res, dryRun, "removed account "+account+" from mapAccounts")
	}
	var del awsauth.DeleteResult
	res, err := store.Modify(c.Context, lk.awsAuthChange(func(doc *awsauth.Document) (bool, error) {
		// The ARN as given first (it may be a never-matching entry with a
		// path), then the form EKS matches.
		var err error
		del, err = awsauth.DeleteMapping(doc, arn, all)
		if errors.Is(err, awsauth.ErrNotFound) && p.ARN != strings.ToLower(arn) {
			del, err = awsauth.DeleteMapping(doc, p.ARN, all)
		}
		return err == nil, err
	}), dryRun)
	if err != nil {
		return err
	}
	var removed []string
	for _, e := range del.Removed {
		removed = append(removed, fmt.Sprintf("%s %s (username %q, groups [%s])", e.Ref, e.Display(), e.Username, strings.Join(e.Groups, ",")))
	}
	if err := reportWrite(c, u, res, dryRun, "removed "+strings.Join(removed, "; ")); err != nil {
		return err
	}
	// The trap eksctl leaves open: another entry for the same principal
	// silently keeps (or takes over) its access.
	switch {
	case del.Effective != nil:
		e := del.Effective
		u.warn("%s is STILL MAPPED: %s now takes effect (username %q, groups [%s]); entries left for it: %d. Run `iammap delete --arn %s --all` to remove every entry",
			e.Display(), e.Ref, e.Username, strings.Join(e.Groups, ","), len(del.Remaining), arn)
	case len(del.Remaining) > 0:
		u.warn("entries left for %s: %d, but none is in effect", arn, len(del.Remaining))
	}
	for _, e := range del.Unreadable {
		u.warn("%v: it may still map %s", e, arn)
	}
	if t.mode() == modeAPIAndCM && !dryRun {
		if e, err := t.accessEntries().Get(c.Context, arn); err == nil {
			u.info("note: %s also has an access entry (username %q), which is what EKS uses in API_AND_CONFIG_MAP mode", e.PrincipalARN, e.Username)
		}
	}
	return nil
}

func deleteAccessEntry(c *cli.Context, u *ui, t *target, arn string, dryRun bool) error {
	client := t.accessEntries()
	if err := guardAction(c, t, accessentry.Action{Kind: accessentry.ActDelete, PrincipalARN: arn}); err != nil {
		return err
	}
	var gone accessentry.Entry
	var err error
	if dryRun {
		gone, err = client.Get(c.Context, arn)
	} else {
		gone, err = client.Delete(c.Context, arn)
	}
	if err != nil {
		return err
	}
	var policies []string
	for _, p := range gone.Policies {
		policies = append(policies, accessentry.PolicyName(p.ARN)+"("+p.Scope()+")")
	}
	u.info("%sdeleted access entry %s (type %s, username %q, groups [%s], access policies [%s])", dryPrefix(dryRun), gone.PrincipalARN, gone.Type, gone.Username, strings.Join(gone.Groups, ","), strings.Join(policies, ","))
	// In API_AND_CONFIG_MAP mode EKS falls back to aws-auth: say so if it
	// still maps the principal.
	if t.mode() == modeAPIAndCM {
		snap, err := t.loadAWSAuth(c.Context)
		if err != nil {
			return err
		}
		res, ok := snap.Doc.Set().Resolve(mapping.Caller{CanonicalARN: mapping.PrincipalKey(arn)})
		if ok && res.Ref != nil {
			u.warn("%s is STILL MAPPED through aws-auth %s (username %q, groups [%s]): EKS falls back to it now. Remove it with `iammap delete --backend aws-auth --arn %s --all`",
				arn, res.Ref, res.Username, strings.Join(res.Groups, ","), arn)
		}
	}
	return nil
}
