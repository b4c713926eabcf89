package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/internal/cluster"
	"github.com/iammap/iammap/internal/desired"
	"github.com/iammap/iammap/internal/output"
	"github.com/urfave/cli/v2"
)

// exitStatus ends a command with a code and no error message (diff's 2).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitStatus) ExitCode() int { return int(e) }

func fileFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "filename", Aliases: []string{"f", "config-file"}, Required: true, Usage: "access `FILE` (see README: the declarative format), or an eksctl ClusterConfig (docs/eksctl-config.md)"},
		&cli.BoolFlag{Name: "prune", Usage: "also remove mappings, access entries and policy associations that are not in the file"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "text or json"},
	}, fleetFlags()...)
}

func diffCommand() *cli.Command {
	return &cli.Command{
		Name:  "diff",
		Usage: "show what apply would change; exit 0 when nothing, 2 when changes are pending, 1 on error",
		Description: "With a file that lists clusters and no --cluster, diff plans every cluster of the file (--clusters selects,\n" +
			"--parallel paces) and prints a table; it exits 1 when a cluster failed, else 2 when one has changes pending.",
		Flags: fileFlags(),
		Action: func(c *cli.Context) error {
			return runConverge(c, false)
		},
	}
}

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:  "apply",
		Usage: "converge clusters to an access file (aws-auth in one conditional write; access entries in parallel)",
		Flags: append(fileFlags(), &cli.BoolFlag{Name: "force", Usage: "apply even a plan that removes your own access or every node mapping"}),
		Action: func(c *cli.Context) error {
			return runConverge(c, !flagBool(c, "dry-run"))
		},
		Description: "With a file that lists clusters and no --cluster, apply converges every cluster of the file (--clusters selects,\n" +
			"--parallel paces; --force then applies to each of them) and prints a table; it exits 1 when a cluster failed.\n" +
			"With --dry-run, apply runs the lockout guard and sends the aws-auth write as a server-side dry run " +
			"(checked, never stored), so a write you may not make is refused as the real run would be; access entries are " +
			"planned only: EKS has no dry run. On SIGINT or SIGTERM no new write starts, writes already sent get a few " +
			"seconds to finish, and the report lists what landed.",
	}
}

func runConverge(c *cli.Context, write bool) error {
	u := newUI(c)
	format := c.String("output")
	if format == "table" {
		format = "text" // audit's and clusters' name for it
	}
	if format != "text" && format != "json" {
		return badFlags("unknown output format %q: use text or json", format)
	}
	file, targets, fleetRun, err := loadForRun(c)
	if err != nil {
		return err
	}
	if fleetRun {
		return runFleetConverge(c, u, file, targets, write, format)
	}
	if file.ClusterConfig {
		// As with the nouns' -f: the file's metadata names the cluster; the
		// same name and region on the command line (a CI matrix job's) agree.
		meta := map[string]string{"cluster": targets[0].Name, "region": targets[0].Connection.Region}
		for _, name := range []string{"cluster", "region"} {
			if setOnCommandLine(c, name) && flagString(c, name) != meta[name] {
				return withHint(badFlags("cannot use --%s %s with an eksctl ClusterConfig for %s", name, flagString(c, name), meta[name]),
					"its metadata.name and metadata.region name the cluster: drop --"+name)
			}
		}
	} else if len(file.Clusters) > 0 && flagString(c, "cluster") != "" {
		name := flagString(c, "cluster")
		i := slices.IndexFunc(targets, func(t desired.Target) bool { return t.Label == name })
		if i < 0 {
			return withHint(badFlags("cluster %s is not in %s", name, c.String("filename")), notInFileHint(name, targets))
		}
		targets = targets[i : i+1]
		if err := checkFlagsAgreeWithFile(c, targets[0]); err != nil {
			return err
		}
	}
	var plans []cluster.Plan
	total := 0
	for _, want := range targets {
		p, err := convergeOne(c, u, want, write)
		if p != nil {
			plans = append(plans, *p)
			total += p.Changes()
		}
		if err == nil {
			err = wouldBeRefused(p)
		}
		if err != nil {
			printPlans(c.App.Writer, format, plans, write)
			return interrupted(c, err)
		}
	}
	if err := printPlans(c.App.Writer, format, plans, write); err != nil {
		return err
	}
	if !write && total > 0 {
		return exitStatus(2)
	}
	return nil
}

// wouldBeRefused is diff's error for a plan the lockout guard would refuse
// at apply: the plan is shown, and the run fails, so a pull request's
// plan is not green when its apply would stop.
func wouldBeRefused(p *cluster.Plan) error {
	if p == nil || p.WouldBeRefused == "" {
		return nil
	}
	return withHint(fmt.Errorf("apply would refuse this plan for %s: %s", output.Safe(p.Cluster), p.WouldBeRefused),
		"change the file so you keep access (and a node mapping stays), or, if this is really intended, apply it with --force")
}

// interrupted names an error caused by SIGINT/SIGTERM (which cancel the
// command's context) as such, and points at the report above.
func interrupted(c *cli.Context, err error) error {
	if !errors.Is(err, context.Canceled) || c.Context.Err() == nil {
		return err
	}
	err = fmt.Errorf("interrupted: %w", err)
	var h *cluster.HintError
	if errors.As(err, &h) {
		return err
	}
	return withHint(err, "the report above lists what was applied before the interrupt; run apply again to finish")
}

// convergeOne connects to one cluster of the file (or the flags') and
// converges it.
func convergeOne(c *cli.Context, u *ui, want desired.Target, write bool) (*cluster.Plan, error) {
	t, err := connect(c, u, targetOptions(c, want, nil))
	if err != nil {
		return nil, err
	}
	dryRun := !write && c.Command.Name == "apply"
	return cluster.Converge(c.Context, t, want, cluster.ConvergeOptions{Write: write, DryRun: dryRun, Prune: c.Bool("prune"), Force: c.Bool("force")}, u)
}

func printPlans(w io.Writer, format string, plans []cluster.Plan, applied bool) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(plans)
	}
	color := isTerminal(w)
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\033[" + code + "m" + s + "\033[0m"
	}
	for _, p := range plans {
		mode := ""
		if p.AuthMode != "" {
			mode = " (" + output.Safe(string(p.AuthMode)) + ")"
		}
		// The name may be what a server answered: escaped, like every table.
		fmt.Fprintf(w, "cluster %s%s: %s\n", output.Safe(p.Cluster), mode, summary(p, applied))
		if p.WouldBeRefused != "" {
			fmt.Fprintf(w, "  %s\n", paint("31", "apply would refuse this plan: "+output.Safe(p.WouldBeRefused)))
		}
		for _, n := range p.Notes {
			fmt.Fprintf(w, "  note: %s\n", output.Safe(n))
		}
		if p.DryRun {
			fmt.Fprintln(w, "  note: dry run: the API server checked the aws-auth write and stored nothing")
			if len(p.AccessEntries) > 0 {
				fmt.Fprintln(w, "  note: dry run: access entries were not sent: EKS has no dry run, so EKS has not checked them")
			}
		}
		if !applied || p.Applied || p.Partial == nil {
			printAWSAuth(w, paint, p.AWSAuth)
			printEntries(w, paint, p.AccessEntries)
			continue
		}
		// A write that stopped: each change under what became of it, so the
		// report says "applied" only of what the servers confirmed.
		part := p.Partial
		sections := []struct {
			head    string
			awsAuth bool
			entries []accessentry.Action
		}{
			{"applied:", part.AWSAuth == cluster.OutcomeApplied, part.AccessEntriesApplied},
			{"may have been applied (sent, but the reply was lost; run apply again: it re-reads and converges):", part.AWSAuth == cluster.OutcomeMaybeApplied, part.AccessEntriesMaybeApplied},
			{"not applied:", part.AWSAuth == cluster.OutcomeNotApplied, part.AccessEntriesNotApplied},
		}
		for _, sec := range sections {
			if (!sec.awsAuth || p.AWSAuth == nil) && len(sec.entries) == 0 {
				continue
			}
			fmt.Fprintln(w, "  "+sec.head)
			if sec.awsAuth {
				printAWSAuth(w, paint, p.AWSAuth)
			}
			printEntries(w, paint, sec.entries)
		}
	}
	return nil
}

// summary is the headline of a plan: pending, applied, or, for a write
// that stopped, how many changes landed, may have, and did not.
func summary(p cluster.Plan, write bool) string {
	switch {
	case !write:
		return fmt.Sprintf("%d change(s) pending", p.Changes())
	case p.Applied:
		return fmt.Sprintf("%d change(s) applied", p.Changes())
	}
	if p.Changes() == 0 {
		return "nothing applied (stopped before the plan was complete)"
	}
	applied, maybe, not := p.Tally()
	s := fmt.Sprintf("%d of %d change(s) applied", applied, p.Changes())
	if maybe > 0 {
		s += fmt.Sprintf(", %d may have been applied", maybe)
	}
	return s + fmt.Sprintf(", %d not applied", not)
}

func printAWSAuth(w io.Writer, paint func(code, s string) string, a *cluster.AWSAuthPlan) {
	if a == nil {
		return
	}
	for _, m := range a.Remove {
		fmt.Fprintln(w, paint("31", fmt.Sprintf("  - aws-auth %s %s %s", m.Source, output.Safe(m.Display()), output.IdentityColumns(m.Username, m.Groups))))
	}
	for _, m := range a.Add {
		fmt.Fprintln(w, paint("32", fmt.Sprintf("  + aws-auth %s %s %s", m.Source, output.Safe(m.Display()), output.IdentityColumns(m.Username, m.Groups))))
	}
	for _, acct := range a.RemoveAccounts {
		fmt.Fprintln(w, paint("31", "  - aws-auth mapAccounts "+acct))
	}
	for _, acct := range a.AddAccounts {
		fmt.Fprintln(w, paint("32", "  + aws-auth mapAccounts "+acct))
	}
}

func printEntries(w io.Writer, paint func(code, s string) string, actions []accessentry.Action) {
	for _, a := range actions {
		sign, code := "~", "33"
		switch a.Kind {
		case accessentry.ActCreate, accessentry.ActAssociate:
			sign, code = "+", "32"
		case accessentry.ActDelete, accessentry.ActDisassociate:
			sign, code = "-", "31"
		}
		// Details quote what another tool may have stored (usernames,
		// groups of a pruned entry): escaped, like every table.
		fmt.Fprintln(w, paint(code, fmt.Sprintf("  %s access entry %s %s: %s", sign, a.Kind, output.Safe(a.PrincipalARN), output.Safe(a.Detail))))
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// notInFileHint says which names --cluster takes: the file's names for its
// clusters, and which aliases stand for an EKS name given instead.
func notInFileHint(name string, targets []desired.Target) string {
	var aliases []string
	for _, t := range targets {
		if t.Name == name && t.Label != name {
			aliases = append(aliases, t.Label)
		}
	}
	if len(aliases) > 0 {
		return fmt.Sprintf("%s is the EKS name of %s in the file: pass the alias of the one you mean", name, strings.Join(aliases, " and "))
	}
	return "its clusters: " + clusterNames(targets)
}

// clusterNames lists the targets' names for a hint.
func clusterNames(targets []desired.Target) string {
	names := make([]string, 0, len(targets))
	for _, t := range targets {
		names = append(names, t.Label)
	}
	return strings.Join(names, ", ")
}

// checkFlagsAgreeWithFile refuses a command-line --region, --profile or
// --endpoint-url that contradicts what the access file says for the
// cluster: the file decides how its clusters are reached, and a flag that
// is silently ignored is worse than a refusal. Equal values (what a CI
// matrix job passes) are fine.
func checkFlagsAgreeWithFile(c *cli.Context, want desired.Target) error {
	conn := want.Connection
	for _, f := range []struct{ flag, field, value string }{
		{"region", "region", conn.Region}, {"profile", "profile", conn.Profile}, {"endpoint-url", "endpointUrl", conn.EndpointURL},
		{"context", "context", conn.Context},
	} {
		if f.value != "" && setOnCommandLine(c, f.flag) && flagString(c, f.flag) != f.value {
			return withHint(badFlags("--%s %s contradicts the access file, which gives cluster %s %s %s", f.flag, flagString(c, f.flag), want.Name, f.field, f.value),
				"the file decides how its clusters are reached: drop --"+f.flag+", or change the file")
		}
	}
	return nil
}
