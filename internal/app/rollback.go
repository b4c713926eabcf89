package app

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/iammap/iammap/awsauth"
	"github.com/urfave/cli/v2"
)

func rollbackCommand() *cli.Command {
	return &cli.Command{
		Name:  "rollback",
		Usage: "list aws-auth backups, or restore one (every iammap write first saves the content it replaces)",
		Description: "Backups are ConfigMaps aws-auth-iammap-backup-* in kube-system, the newest " + fmt.Sprint(awsauth.DefaultHistory) + " kept.\n" +
			"A rollback is an ordinary conditional write: it is itself backed up, so it can be rolled back too.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "list", Usage: "list the backups, newest first, and change nothing"},
			&cli.IntFlag{Name: "to", Value: 1, Usage: "restore backup `N` of the list (1 = the content before the last write)"},
			forceFlag(),
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
				tw := tabwriter.NewWriter(c.App.Writer, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "N\tSAVED\tRESOURCEVERSION\tROLES\tUSERS\tACCOUNTS\tNAME")
				for i, b := range backups {
					set := awsauth.Decode(b.Data).Set()
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%s\n", i+1, b.Time.Format(time.RFC3339), b.ResourceVersion, len(set.Roles), len(set.Users), len(set.Accounts), b.Name)
				}
				return tw.Flush()
			}
			n := c.Int("to")
			if n < 1 || n > len(backups) {
				return withHint(badFlags("no backup %d: there are %d", n, len(backups)), "see them with `iammap rollback --list`")
			}
			b := backups[n-1]
			g, err := t.Guard(c.Context, nil, flagBool(c, "force"))
			if err != nil {
				return err
			}
			dryRun := flagBool(c, "dry-run")
			res, err := store.Modify(c.Context, g.AWSAuthChange(awsauth.Restore(b)), dryRun)
			if err != nil {
				return err
			}
			if !res.Changed() {
				u.info("aws-auth already has the content of backup %d (%s); nothing written", n, b.Name)
				return nil
			}
			return reportWrite(c, u, res, dryRun, fmt.Sprintf("restored aws-auth from backup %d (%s, saved %s at resourceVersion %s)", n, b.Name, b.Time.Format(time.RFC3339), b.ResourceVersion))
		},
	}
}
