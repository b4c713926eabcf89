package app

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/iammap/iammap/awsauth"
	"github.com/urfave/cli/v2"
)

func rollbackCommand() *cli.Command {
	return &cli.Command{
		Name:  "rollback",
		Usage: "list aws-auth backups, or restore one (every iammap write first saves the content it replaces)",
		Description: "Backups are ConfigMaps aws-auth-iammap-backup-* in kube-system, the newest " + fmt.Sprint(awsauth.DefaultHistory) + " verified ones kept.\n" +
			"A backup is verified when its content matches the hash iammap recorded, its recorded time is when the API server\n" +
			"created it, and only iammap wrote it; anyone who may create ConfigMaps in kube-system can make one that is not,\n" +
			"so rollback restores an unverified backup only with --force.\n" +
			"A rollback is an ordinary conditional write: it is itself backed up, so it can be rolled back too.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "list", Usage: "list the backups, newest first, with who made them and whether they are verified, and change nothing"},
			&cli.IntFlag{Name: "to", Usage: "restore backup `N` of the list (default: the newest verified one, the content before the last write)"},
			&cli.BoolFlag{Name: "force", Usage: "restore even an unverified backup, or a change that would lock out"},
		},
		Action: func(c *cli.Context) error {
			u := newUI(c)
			t, err := resolveTarget(c, u)
			if err != nil {
				return err
			}
			store, err := t.Store(c.Context)
			if err != nil {
				return err
			}
			backups, err := store.Backups(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("list") {
				return listBackups(c, backups)
			}
			force := flagBool(c, "force")
			n, err := pickBackup(backups, c.Int("to"), c.IsSet("to"))
			if err != nil {
				return err
			}
			b := backups[n-1]
			if !b.Verified() {
				if !force {
					return withHint(fmt.Errorf("refusing to restore backup %d (%s): unverified: %s", n, b.Name, b.Problem),
						"anyone who may create ConfigMaps in kube-system can plant a backup; look at it with `kubectl -n kube-system get configmap "+b.Name+" -o yaml` and `iammap rollback --to "+strconv.Itoa(n)+" --dry-run`, and pass --force only if you trust it")
				}
				u.warn("restoring unverified backup %d (%s: %s) because of --force", n, b.Name, b.Problem)
			}
			u.info("backup %d (%s) was created %s by %s", n, b.Name, b.Time.UTC().Format(time.RFC3339), creator(b))
			g, err := t.Guard(c.Context, nil, force)
			if err != nil {
				return err
			}
			// The backup this rollback makes names who rolled back.
			opts, err := backupOptions(c)
			if err != nil {
				return err
			}
			if who, err := t.Caller(c.Context); err == nil {
				opts.Writer = who
			}
			c.Context = awsauth.WithBackupOptions(c.Context, opts)
			dryRun := flagBool(c, "dry-run")
			res, err := store.Modify(c.Context, g.AWSAuthChange(awsauth.Restore(b)), dryRun)
			if err != nil {
				return err
			}
			if !res.Changed() {
				u.info("aws-auth already has the content of backup %d (%s); nothing written", n, b.Name)
				return nil
			}
			return reportWrite(c, u, res, dryRun, fmt.Sprintf("restored aws-auth from backup %d (%s, saved %s at resourceVersion %s)", n, b.Name, b.Time.UTC().Format(time.RFC3339), b.ResourceVersion))
		},
	}
}

// pickBackup returns the 1-based number of the backup to restore: --to N
// when given, else the newest verified one, so that a backup planted after
// the last write is never restored by default.
func pickBackup(backups []awsauth.Backup, to int, set bool) (int, error) {
	if set {
		if to < 1 || to > len(backups) {
			return 0, withHint(badFlags("no backup %d: there are %d", to, len(backups)), "see them with `iammap rollback --list`")
		}
		return to, nil
	}
	for i, b := range backups {
		if b.Verified() {
			return i + 1, nil
		}
	}
	if len(backups) == 0 {
		return 0, withHint(badFlags("there are no backups of aws-auth"), "iammap saves one before each write it makes (unless --backup-to file or none)")
	}
	return 0, withHint(badFlags("none of the %d backups of aws-auth is verified", len(backups)),
		"see why with `iammap rollback --list`; restore one with --to N --force only if you trust it")
}

func listBackups(c *cli.Context, backups []awsauth.Backup) error {
	tw := tabwriter.NewWriter(c.App.Writer, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "N\tSAVED\tRESOURCEVERSION\tROLES\tUSERS\tACCOUNTS\tNAME\tCREATED BY\tVERIFIED")
	for i, b := range backups {
		set := awsauth.Decode(b.Data).Set()
		verified := "yes"
		if !b.Verified() {
			verified = "NO: " + b.Problem
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", i+1, b.Time.UTC().Format(time.RFC3339), printable(b.ResourceVersion),
			len(set.Roles), len(set.Users), len(set.Accounts), b.Name, creator(b), printable(verified))
	}
	return tw.Flush()
}

// creator says who made a backup: the writer iammap recorded, and the
// field managers the API server recorded. Both are what clients declared,
// which is why they are shown rather than trusted.
func creator(b awsauth.Backup) string {
	who := b.Writer
	if who == "" {
		who = "unknown"
	}
	managers := "none recorded"
	if len(b.Managers) > 0 {
		managers = strings.Join(b.Managers, ",")
	}
	return printable(who + " (field manager " + managers + ")")
}

// printable keeps text from a ConfigMap that anyone with create rights may
// have written from steering the terminal: text with control characters is
// shown quoted, escapes visible.
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			q := strconv.QuoteToGraphic(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}
