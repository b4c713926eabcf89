package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/smithy-go"
	"github.com/iammap/iammap/internal/audit"
	"github.com/iammap/iammap/internal/cluster"
	"github.com/iammap/iammap/internal/desired"
	"github.com/iammap/iammap/internal/eksconn"
	"github.com/iammap/iammap/internal/fleet"
	"github.com/iammap/iammap/internal/output"
	"github.com/iammap/iammap/internal/progress"
	"github.com/iammap/iammap/mapping"
	"github.com/urfave/cli/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// fleetFlags select and pace the clusters of a fleet run (an access file
// with clusters and no --cluster).
func fleetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "clusters", Usage: "with -f and no --cluster: only these clusters of the file, `NAMES` or globs, comma-separated (e.g. 'prod-*,staging')"},
		&cli.IntFlag{Name: "parallel", Value: fleet.DefaultParallel, Usage: "with -f and no --cluster: how many clusters to work on at once"},
		&cli.BoolFlag{Name: "allow-endpoint-url", EnvVars: []string{"IAMMAP_ALLOW_ENDPOINT_URL"}, Usage: "let the access file send a cluster's EKS requests to an endpointUrl that is neither AWS's nor this machine's"},
		&cli.IntFlag{Name: "max-failures", Usage: "with -f and no --cluster: once `N` clusters have failed, start no more (a canary for a change that breaks every cluster; 0: no limit)"},
		&cli.DurationFlag{Name: "cluster-timeout", Value: defaultClusterTimeout, Usage: "with -f and no --cluster: give up on one cluster after this long, so a cluster that hangs holds no slot for the whole --timeout"},
	}
}

// defaultClusterTimeout bounds one cluster of a fleet run: far more than a
// cluster with thousands of access entries needs at EKS's rates, far less
// than the command's --timeout (25 minutes), so a region that hangs costs
// each of its clusters minutes, not the run.
const defaultClusterTimeout = 10 * time.Minute

// fleetRow is one cluster's line of a fleet report, and its JSON.
type fleetRow struct {
	Cluster string       `json:"cluster"`
	Account string       `json:"account,omitempty"`
	Region  string       `json:"region,omitempty"`
	Mode    mapping.Mode `json:"authenticationMode,omitempty"`
	// Context is the kubeconfig context of a cluster reached without EKS.
	Context string `json:"kubeconfigContext,omitempty"`
	// Status is in-sync, pending, applied, partial (a write that stopped),
	// failed, interrupted (running when the run was interrupted) or not-run
	// (never started); for audit: clean, findings, failed, interrupted,
	// not-run.
	Status  string `json:"status"`
	Pending int    `json:"pending"`
	Applied int    `json:"applied"`
	// MaybeApplied counts writes whose reply was lost.
	MaybeApplied int     `json:"maybeApplied,omitempty"`
	Error        string  `json:"error,omitempty"`
	Hint         string  `json:"hint,omitempty"`
	Seconds      float64 `json:"durationSeconds"`
	// Plan is the cluster's plan (diff, apply), as `-o json` prints it for
	// one cluster.
	Plan *cluster.Plan `json:"plan,omitempty"`
	// Findings are audit's.
	Findings []audit.Finding `json:"findings,omitempty"`
	// failing: audit counts the findings at least as severe as --fail-on.
	failing int
	// interrupted: the cluster was running when the run was interrupted
	// (or ran out of --timeout).
	interrupted bool
	// role is the roleArn the cluster is reached with, for error messages.
	role string
}

// fleetReport is a fleet run's whole report (-o json).
type fleetReport struct {
	Command string `json:"command"`
	// DryRun: apply --dry-run, which plans (and checks) without writing.
	DryRun   bool         `json:"dryRun,omitempty"`
	Clusters []fleetRow   `json:"clusters"`
	Summary  fleetSummary `json:"summary"`
}

type fleetSummary struct {
	Clusters int `json:"clusters"`
	// Failed counts failed and partial clusters.
	Failed      int `json:"failed"`
	Interrupted int `json:"interrupted,omitempty"`
	NotRun      int `json:"notRun,omitempty"`
	// WithChanges counts clusters with changes pending (diff) or applied.
	WithChanges int `json:"withChanges"`
	Pending     int `json:"pending"`
	Applied     int `json:"applied"`
	Findings    int `json:"findings,omitempty"`
}

// isFleet says whether a run over file covers its clusters: it lists some
// and --cluster (or IAMMAP_CLUSTER) picks none of them.
func isFleet(c *cli.Context, file *desired.File) bool {
	return !file.ClusterConfig && len(file.Clusters) > 0 && flagString(c, "cluster") == ""
}

// checkFleetFlags refuses arguments and flags that mean nothing, or
// something unsafe, for the run: a fleet run (fleetRun) or a run of one
// cluster.
func checkFleetFlags(c *cli.Context, fleetRun bool) error {
	if c.NArg() > 0 {
		err := badFlags("unexpected argument %q", c.Args().First())
		if c.IsSet("clusters") {
			return withHint(err, "--clusters takes one comma-separated list: --clusters a,b or --clusters 'prod-*'")
		}
		return withHint(err, "every input is a flag: see iammap "+c.Command.Name+" --help")
	}
	if !fleetRun {
		for _, name := range []string{"clusters", "parallel", "cluster-timeout", "max-failures"} {
			if !c.IsSet(name) {
				continue
			}
			if flagString(c, "cluster") != "" {
				via := "--cluster"
				if !setOnCommandLine(c, "cluster") {
					via = "IAMMAP_CLUSTER (in your environment)"
				}
				return withHint(badFlags("--%s is for a run over the file's clusters, and %s names one", name, via), "drop "+strings.Fields(via)[0]+" to run the file's clusters, or drop --"+name)
			}
			return withHint(badFlags("--%s needs an access file with a clusters: list", name), "list the clusters in the file, or name the one cluster with --cluster")
		}
		return nil
	}
	if c.Int("parallel") < 1 {
		return withHint(badFlags("--parallel %d: want at least 1", c.Int("parallel")), "--parallel N works on N clusters at once; the default is "+fmt.Sprint(fleet.DefaultParallel))
	}
	if c.Int("max-failures") < 0 {
		return badFlags("--max-failures %d: want 0 (no limit) or more", c.Int("max-failures"))
	}
	if c.Duration("cluster-timeout") <= 0 {
		return badFlags("--cluster-timeout %s: want a positive duration such as 10m", c.Duration("cluster-timeout"))
	}
	if c.IsSet("clusters") && strings.Trim(c.String("clusters"), " ,") == "" {
		return withHint(badFlags("--clusters is empty"), "name clusters or globs (--clusters 'prod-*'), or drop --clusters to run every cluster of the file")
	}
	if flagString(c, "backup-file") != "" {
		return withHint(badFlags("--backup-file names one file, and a fleet run backs up the aws-auth of each cluster it writes"),
			"drop --backup-file: each cluster's backup goes to a ConfigMap beside its aws-auth, or with --backup-to file to its own new file under $XDG_STATE_HOME/iammap/backups")
	}
	return nil
}

// loadAccessFile loads an access file and its targets, refusing one whose
// clusters' endpoints are not trusted (checkEndpoints).
func loadAccessFile(c *cli.Context, path string) (*desired.File, []desired.Target, error) {
	file, err := desired.Load(path)
	if err != nil {
		return nil, nil, err
	}
	targets, err := file.Targets()
	if err != nil {
		return nil, nil, err
	}
	if err := checkEndpoints(c, targets); err != nil {
		return nil, nil, err
	}
	return file, targets, nil
}

// checkEndpoints refuses, unless --allow-endpoint-url, a file that sends a
// cluster's EKS requests outside AWS and this machine: access files are
// reviewed in pull requests and run by CI with CI's credentials, and such
// an endpoint would receive signed AWS requests and, through the cluster
// endpoint it answers with, the Kubernetes tokens iammap makes.
func checkEndpoints(c *cli.Context, targets []desired.Target) error {
	if c.Bool("allow-endpoint-url") {
		return nil
	}
	for _, t := range targets {
		if t.Connection.EndpointOutsideAWS() {
			return withHint(badFlags("cluster %s: endpointUrl %s is neither an AWS EKS endpoint (https://eks.REGION.amazonaws.com, a VPC endpoint) nor on this machine; the file would send your signed AWS requests, and the tokens iammap makes for the cluster, there",
				t.Label, output.Safe(t.Connection.EndpointURL)),
				"if you trust this file and that endpoint (a proxy, an emulator), pass --allow-endpoint-url (or set IAMMAP_ALLOW_ENDPOINT_URL=true)")
		}
	}
	return nil
}

// selectTargets picks the targets --clusters names, in the file's order.
func selectTargets(c *cli.Context, file *desired.File, targets []desired.Target) ([]fleet.Cluster, map[string]desired.Target, error) {
	all := make([]fleet.Cluster, 0, len(targets))
	byName := make(map[string]desired.Target, len(targets))
	for _, t := range targets {
		all = append(all, fleet.Cluster{Name: t.Label, Region: t.Connection.Region})
		byName[t.Label] = t
	}
	selected, err := fleet.Select(all, c.String("clusters"))
	if err != nil {
		return nil, nil, withHint(badFlags("%v", err), "--clusters takes cluster names or globs from the file, comma-separated (iammap clusters -f FILE lists them)")
	}
	return selected, byName, nil
}

// fleetRunner runs one operation over a fleet with progress on stderr.
type fleetRunner struct {
	c        *cli.Context
	u        *ui
	sessions *eksconn.Sessions
	byName   map[string]desired.Target
	// claimed maps each cluster ARN reached in this run to the file's name
	// for it: two entries that reach one cluster (by other profiles, say)
	// would converge it to two states in turn.
	claimed sync.Map
}

// connect reaches one cluster of the file and fills the row's account,
// region and mode from what EKS says (or the file, before it answers).
func (r *fleetRunner) connect(ctx context.Context, want desired.Target, row *fleetRow) (*cluster.Target, error) {
	o := targetOptions(r.c, want, r.sessions)
	row.Region, row.role = o.Region, o.RoleARN
	if p, _, err := mapping.ParsePrincipal(o.RoleARN); err == nil {
		row.Account = p.Account
	}
	if o.Cluster == "" {
		row.Context = o.Context
	}
	t, err := cluster.Connect(ctx, o)
	if err != nil {
		return nil, err
	}
	row.Mode = t.Mode()
	if t.EKS != nil {
		cl := t.EKS.Cluster
		if other, dup := r.claimed.LoadOrStore(cl.ARN, want.Label); dup {
			return nil, withHint(fmt.Errorf("%s is also in this file as %s: one cluster, listed twice", output.Safe(cl.ARN), other),
				"list each cluster once; entries that reach one cluster would undo each other's changes on every run")
		}
		row.Account, row.Region = cl.Account, cl.Region
		r.u.forCluster(want.Label).debug("%s: status %s, authentication mode %s, endpoint %s, as %s", cl.ARN, cl.Status, cl.AuthMode, cl.Endpoint,
			eksconn.Identity{Profile: o.Profile, RoleARN: o.RoleARN, ExternalID: o.ExternalID})
	} else {
		r.u.forCluster(want.Label).debug("kubeconfig context %q (server %s)", t.Kube.Context, t.Kube.Server)
	}
	return t, nil
}

// run calls op on every selected cluster and returns the rows in the file's
// order. Each cluster is independent: an error or a panic is its row's, and
// an interrupt leaves the clusters not yet started as not-run.
func (r *fleetRunner) run(selected []fleet.Cluster, parallel int, op func(context.Context, desired.Target, *fleetRow) error) []fleetRow {
	bar := progress.Discard()
	if r.u.level >= levelInfo {
		bar = progress.New(r.c.App.ErrWriter, len(selected), "clusters")
	}
	defer bar.Finish()
	// Clusters' notes and warnings go above a live bar.
	u := *r.u
	u.stderr = bar.Messages(u.stderr)
	r.u = &u
	perCluster := r.c.Duration("cluster-timeout")
	limits := fleet.Limits{Parallel: parallel, MaxFailures: r.c.Int("max-failures")}
	results := fleet.RunWithin(r.c.Context, selected, limits, func(ctx context.Context, fc fleet.Cluster) (fleetRow, error) {
		bar.Start(fc.Name)
		row := fleetRow{Cluster: fc.Name, Region: fc.Region}
		clusterCtx, cancel := context.WithTimeout(ctx, perCluster)
		defer cancel()
		err := op(clusterCtx, r.byName[fc.Name], &row)
		if err != nil && errors.Is(err, context.DeadlineExceeded) && clusterCtx.Err() != nil && ctx.Err() == nil {
			err = withHint(fmt.Errorf("gave up on this cluster after --cluster-timeout %s: %w", perCluster, err),
				"is the cluster's endpoint reachable from here? run it again alone with --clusters "+fc.Name+", or pass a longer --cluster-timeout")
		}
		if err != nil && ctx.Err() != nil {
			row.interrupted = true
		}
		return row, err
	}, func(res fleet.Result[fleetRow]) {
		row := finishRow(res)
		status := rowResult(row)
		switch row.Status {
		case "failed":
			status = row.Error
		case "interrupted", "partial":
			status = row.Status + ": " + row.Error
		}
		bar.Done(row.Cluster, status, row.Status == "failed" || row.Status == "partial", res.Duration)
	})
	rows := make([]fleetRow, len(results))
	for i, res := range results {
		rows[i] = finishRow(res)
		if !res.Ran {
			// Counted too, so the count reaches the total.
			bar.Done(rows[i].Cluster, "not run", false, 0)
		}
	}
	return rows
}

// finishRow records the result's error and duration in its row.
func finishRow(res fleet.Result[fleetRow]) fleetRow {
	row := res.Value
	row.Cluster = res.Cluster.Name
	if row.Region == "" {
		row.Region = res.Cluster.Region
	}
	row.Seconds = res.Duration.Round(time.Millisecond).Seconds()
	switch {
	case !res.Ran:
		row.Status = "not-run"
		row.Error = res.Err.Error()
	case res.Err != nil:
		row.Status = "failed"
		if row.interrupted {
			row.Status = "interrupted"
		}
		if row.Applied+row.MaybeApplied > 0 {
			// A write that stopped after some changes landed: "failed"
			// would hide them.
			row.Status = "partial"
		}
		row.Error, row.Hint = describeFleetError(res.Err, row)
	}
	return row
}

// stopped says whether a row's cluster ended without finishing.
func stopped(row fleetRow) bool {
	switch row.Status {
	case "failed", "partial", "interrupted", "not-run":
		return true
	}
	return false
}

// forCluster is the ui of one cluster of a fleet: its notes and warnings
// name the cluster, as clusters run side by side.
func (u *ui) forCluster(name string) *ui {
	return &ui{stderr: u.stderr, level: u.level, prefix: "cluster " + name + ": "}
}

// runFleetConverge is diff and apply over the clusters of an access file.
func runFleetConverge(c *cli.Context, u *ui, file *desired.File, targets []desired.Target, write bool, format string) error {
	selected, byName, err := selectTargets(c, file, targets)
	if err != nil {
		return err
	}
	r := &fleetRunner{c: c, u: u, sessions: &eksconn.Sessions{}, byName: byName}
	dryRun := !write && c.Command.Name == "apply"
	opts := cluster.ConvergeOptions{Write: write, DryRun: dryRun, Prune: c.Bool("prune"), Force: c.Bool("force")}
	rows := r.run(selected, c.Int("parallel"), func(ctx context.Context, want desired.Target, row *fleetRow) error {
		t, err := r.connect(ctx, want, row)
		if err != nil {
			return err
		}
		p, err := cluster.Converge(ctx, t, want, opts, r.u.forCluster(want.Label))
		if p != nil {
			// The file's name for the cluster, as in the table.
			p.Cluster = want.Label
			if want.Label != want.Name {
				p.Cluster += ", EKS name " + want.Name
			}
		}
		if p != nil {
			row.Plan = p
			tally(row, *p, write)
		}
		if err == nil {
			err = wouldBeRefused(p)
		}
		return err
	})
	report := fleetReport{Command: c.Command.Name, DryRun: dryRun, Clusters: rows}
	report.Summary = summarize(rows)
	if format == "json" {
		if err := writeJSON(c.App.Writer, report); err != nil {
			return err
		}
	} else {
		for _, row := range rows {
			if row.Plan != nil && (row.Plan.Changes() > 0 || len(row.Plan.Notes) > 0 || row.Plan.Partial != nil) {
				if err := printPlans(c.App.Writer, format, []cluster.Plan{*row.Plan}, write); err != nil {
					return err
				}
			}
		}
		if err := writeFleetTable(c.App.Writer, report, false); err != nil {
			return err
		}
	}
	if err := fleetError(c, report); err != nil {
		return err
	}
	if !write && report.Summary.Pending > 0 {
		return exitStatus(2)
	}
	return nil
}

// tally fills a row's counts and status from its cluster's plan.
func tally(row *fleetRow, p cluster.Plan, write bool) {
	switch {
	case !write:
		row.Pending = p.Changes()
		row.Status = "in-sync"
		if row.Pending > 0 {
			row.Status = "pending"
		}
	case p.Applied:
		row.Applied = p.Changes()
		row.Status = "in-sync"
		if row.Applied > 0 {
			row.Status = "applied"
		}
	default:
		applied, maybe, not := p.Tally()
		row.Applied, row.MaybeApplied, row.Pending = applied, maybe, not
		row.Status = "partial"
	}
}

func summarize(rows []fleetRow) fleetSummary {
	s := fleetSummary{Clusters: len(rows)}
	for _, row := range rows {
		switch row.Status {
		case "failed", "partial":
			s.Failed++
		case "interrupted":
			s.Interrupted++
		case "not-run":
			s.NotRun++
		}
		if row.Applied+row.MaybeApplied > 0 || (row.Pending > 0 && !stopped(row)) {
			s.WithChanges++
		}
		s.Pending += row.Pending
		s.Applied += row.Applied
		s.Findings += len(row.Findings)
	}
	return s
}

// fleetError is the run's error when a cluster failed or did not run: one
// error line naming them; the report has each cluster's error.
func fleetError(c *cli.Context, report fleetReport) error {
	var failed, interrupted, notRun []string
	for _, row := range report.Clusters {
		switch row.Status {
		case "failed", "partial":
			failed = append(failed, row.Cluster)
		case "interrupted":
			interrupted = append(interrupted, row.Cluster)
		case "not-run":
			notRun = append(notRun, row.Cluster)
		}
	}
	if len(failed)+len(interrupted)+len(notRun) == 0 {
		return nil
	}
	var parts []string
	if len(failed) > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d clusters failed: %s", len(failed), len(report.Clusters), strings.Join(failed, ", ")))
	}
	if len(interrupted) > 0 {
		parts = append(parts, fmt.Sprintf("%d interrupted: %s", len(interrupted), strings.Join(interrupted, ", ")))
	}
	if len(notRun) > 0 {
		parts = append(parts, fmt.Sprintf("%d not run: %s", len(notRun), strings.Join(notRun, ", ")))
	}
	err := errors.New(strings.Join(parts, "; "))
	again := append(append(append([]string{}, failed...), interrupted...), notRun...)
	switch {
	case errors.Is(c.Context.Err(), context.Canceled):
		return withHint(fmt.Errorf("interrupted: %w: %w", err, c.Context.Err()),
			"the report lists what each cluster did before the interrupt; run the same command to finish (clusters already done have nothing left), or only these: --clusters "+strings.Join(again, ","))
	case c.Context.Err() != nil:
		return withHint(fmt.Errorf("%w: %w", err, c.Context.Err()),
			"the run ran out of --timeout; run it again to finish (clusters already done have nothing left), or only these: --clusters "+strings.Join(again, ",")+", or pass a longer --timeout")
	}
	hint := "each cluster's error and hint are in the report; the other clusters were not affected"
	switch c.Command.Name {
	case "apply":
		hint += ". Once fixed, run apply again: clusters already converged have nothing left to do"
	default:
		hint += ". Once fixed, run it again"
	}
	if len(again) < len(report.Clusters) {
		hint += ", or only these: --clusters " + strings.Join(again, ",")
	}
	return withHint(err, hint)
}

// describeFleetError is describe for one cluster of a fleet, where the
// usual causes are the cluster's own: a role that may not be assumed, a
// cluster in another account, no credentials at all.
func describeFleetError(err error, row fleetRow) (msg, hint string) {
	msg, hint = describe(err)
	// The SDK reports a refused AssumeRole inside the EKS call that needed
	// the credentials: find the STS operation in the chain.
	var op *smithy.OperationError
	for e := err; e != nil; e = errors.Unwrap(e) {
		if o, ok := e.(*smithy.OperationError); ok && o.Service() == "STS" && o.Operation() == "AssumeRole" {
			op = o
			break
		}
	}
	var api smithy.APIError
	switch {
	case op != nil && errors.As(op.Err, &api):
		msg = fmt.Sprintf("assume role %s: STS refused: %s: %s", row.role, api.ErrorCode(), api.ErrorMessage())
		hint = "the role's trust policy must trust your identity (and require the file's externalId as sts:ExternalId, if it names one); " +
			"`aws sts assume-role --role-arn ROLE --role-session-name test [--external-id ID]` gets the same answer"
	case op != nil:
		msg = fmt.Sprintf("assume role %s: %v", row.role, op.Err)
		hint = "STS could not be reached or answered badly; run the same command again"
	case errors.Is(err, eksconn.ErrClusterNotFound):
		where := "the account of your credentials"
		if row.Account != "" {
			where = "account " + row.Account
		}
		hint = fmt.Sprintf("EKS looked in %s, region %s: check the name and region in the file; a cluster of another account needs a roleArn (or profile) there", where, dash(row.Region))
	case apierrors.IsUnauthorized(err) && row.Context == "" && row.Mode != "":
		// EKS just accepted these credentials to describe the cluster.
		hint = "EKS accepted these AWS credentials, but the cluster maps them to no user: give that identity (-v 4 names it) an access entry or an aws-auth mapping on this cluster, or reach it with an identity that has one (profile or roleArn in the file)"
	case strings.Contains(msg, "failed to refresh cached credentials") || strings.Contains(msg, "no EC2 IMDS role found"):
		hint = "no AWS credentials were found: sign in (aws sso login, or AWS_PROFILE / AWS_ACCESS_KEY_ID), or give the cluster a profile in the file"
	}
	return oneLine(msg), oneLine(hint)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// rowResult is a row's result cell: what changed (or was found), or the
// error, cut to fit a table. The full error is listed below the table.
func rowResult(row fleetRow) string {
	switch row.Status {
	case "not-run":
		return "not run"
	case "failed", "interrupted":
		return row.Status + ": " + cut(row.Error)
	case "clean":
		return "no findings"
	case "findings":
		return fmt.Sprintf("%d finding(s), %d at --fail-on", len(row.Findings), row.failing)
	case "in-sync":
		return "in sync"
	case "pending":
		return fmt.Sprintf("%d change(s) pending", row.Pending)
	case "applied":
		return fmt.Sprintf("%d change(s) applied", row.Applied)
	case "partial":
		s := fmt.Sprintf("partial: %d applied, %d not applied", row.Applied, row.Pending)
		if row.MaybeApplied > 0 {
			s += fmt.Sprintf(", %d may have been", row.MaybeApplied)
		}
		if row.Error != "" {
			s += ": " + cut(row.Error)
		}
		return s
	}
	return row.Status
}

// cut shortens an error to fit a table cell; the whole error follows the
// table.
func cut(msg string) string {
	if r := []rune(msg); len(r) > 70 {
		return string(r[:69]) + "…"
	}
	return msg
}

// writeFleetTable prints the per-cluster table, the full errors, and a
// summary line.
func writeFleetTable(w io.Writer, report fleetReport, audit bool) error {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tACCOUNT\tREGION\tMODE\tRESULT\tTIME")
	for _, row := range report.Clusters {
		mode := string(row.Mode)
		if row.Context != "" {
			mode = "kubeconfig"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", output.Safe(row.Cluster), dash(row.Account), dash(row.Region), dash(mode),
			output.Safe(rowResult(row)), (time.Duration(row.Seconds * float64(time.Second))).Round(10*time.Millisecond))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, row := range report.Clusters {
		if row.Error == "" || row.Status == "not-run" {
			continue
		}
		fmt.Fprintf(w, "%s: error: %s\n", output.Safe(row.Cluster), output.Safe(row.Error))
		if row.Hint != "" {
			fmt.Fprintf(w, "%s: hint: %s\n", output.Safe(row.Cluster), output.Safe(row.Hint))
		}
	}
	s := report.Summary
	ok := s.Clusters - s.Failed - s.Interrupted - s.NotRun
	line := fmt.Sprintf("%d cluster(s): %d done", s.Clusters, ok)
	switch {
	case audit:
		line += fmt.Sprintf(", %d finding(s)", s.Findings)
	case report.Command == "diff" || report.DryRun:
		line += fmt.Sprintf(", %d with changes pending (%d change(s))", s.WithChanges, s.Pending)
	default:
		line += fmt.Sprintf(", %d change(s) applied", s.Applied)
		if s.Pending > 0 {
			line += fmt.Sprintf(", %d not applied", s.Pending)
		}
	}
	if s.Failed > 0 {
		line += fmt.Sprintf(", %d failed", s.Failed)
	}
	if s.Interrupted > 0 {
		line += fmt.Sprintf(", %d interrupted", s.Interrupted)
	}
	if s.NotRun > 0 {
		line += fmt.Sprintf(", %d not run", s.NotRun)
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return output.Safe(s)
}

// runFleetAudit is audit over the clusters of an access file.
func runFleetAudit(c *cli.Context, u *ui, file *desired.File, format, failOn string) error {
	targets, err := file.Targets()
	if err != nil {
		return err
	}
	selected, byName, err := selectTargets(c, file, targets)
	if err != nil {
		return err
	}
	r := &fleetRunner{c: c, u: u, sessions: &eksconn.Sessions{}, byName: byName}
	rows := r.run(selected, c.Int("parallel"), func(ctx context.Context, want desired.Target, row *fleetRow) error {
		t, err := r.connect(ctx, want, row)
		if err != nil {
			return err
		}
		findings, err := auditTarget(ctx, r.u.forCluster(want.Label), t)
		if err != nil {
			return err
		}
		row.Findings, row.Status = findings, "clean"
		if len(findings) > 0 {
			row.Status = "findings"
		}
		for _, f := range findings {
			if failOn != "none" && audit.Rank(f.Severity) >= audit.Rank(failOn) {
				row.failing++
			}
		}
		return nil
	})
	report := fleetReport{Command: "audit", Clusters: rows, Summary: summarize(rows)}
	if format == "json" {
		if err := writeJSON(c.App.Writer, report); err != nil {
			return err
		}
	} else {
		for _, row := range rows {
			if len(row.Findings) == 0 {
				continue
			}
			fmt.Fprintf(c.App.Writer, "cluster %s (%s):\n", output.Safe(row.Cluster), row.Mode)
			if err := audit.WriteTable(c.App.Writer, row.Findings); err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer)
		}
		if err := writeFleetTable(c.App.Writer, report, true); err != nil {
			return err
		}
	}
	if err := fleetError(c, report); err != nil {
		return err
	}
	for _, row := range rows {
		if row.failing > 0 {
			return exitStatus(2)
		}
	}
	return nil
}
