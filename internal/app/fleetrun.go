package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go"
	"github.com/iammap/iammap/internal/audit"
	"github.com/iammap/iammap/internal/cluster"
	"github.com/iammap/iammap/internal/desired"
	"github.com/iammap/iammap/internal/eksconn"
	"github.com/iammap/iammap/internal/fleet"
	"github.com/iammap/iammap/internal/fleetreport"
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

// loadForRun is loadAccessFile for diff, apply and audit: it also says
// whether the run covers the file's clusters (fleetRun), and checks the
// fleet flags for that run.
func loadForRun(c *cli.Context) (file *desired.File, targets []desired.Target, fleetRun bool, err error) {
	if file, targets, err = loadAccessFile(c, c.String("filename")); err != nil {
		return nil, nil, false, err
	}
	fleetRun = isFleet(c, file)
	if err := checkFleetFlags(c, fleetRun); err != nil {
		return nil, nil, false, err
	}
	return file, targets, fleetRun, nil
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
			return withHint(fmt.Errorf("%w: cluster %s: endpointUrl %s is neither an AWS EKS endpoint (https://eks.REGION.amazonaws.com, a VPC endpoint) nor a loopback address (127.0.0.1, ::1); the file would send your signed AWS requests, and the tokens iammap makes for the cluster, there",
				desired.ErrInvalid, t.Label, output.Safe(t.Connection.EndpointURL)),
				"if you trust this file and that endpoint (a proxy, an emulator; the name localhost too, which DNS resolves), pass --allow-endpoint-url (or set IAMMAP_ALLOW_ENDPOINT_URL=true)")
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
func (r *fleetRunner) connect(ctx context.Context, want desired.Target, row *fleetreport.Row) (*cluster.Target, error) {
	o := targetOptions(r.c, want, r.sessions)
	row.Region, row.Role = o.Region, o.RoleARN
	if p, _, err := mapping.ParsePrincipal(o.RoleARN); err == nil {
		row.Account = p.Account
	}
	if o.Cluster == "" {
		row.Context = o.Context
	}
	t, err := connectWithin(ctx, r.u.forCluster(want.Label), o)
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
	}
	return t, nil
}

// run calls op on every selected cluster and returns the rows in the file's
// order. Each cluster is independent: an error or a panic is its row's, and
// an interrupt leaves the clusters not yet started as not-run.
func (r *fleetRunner) run(selected []fleet.Cluster, parallel int, op func(context.Context, desired.Target, *fleetreport.Row) error) []fleetreport.Row {
	bar := progress.Discard()
	if r.u.level >= levelInfo {
		bar = progress.New(r.c.App.ErrWriter, len(selected), "clusters")
	}
	defer bar.Finish()
	// Clusters' notes and warnings (and -v 5's AWS calls) go above a live
	// bar.
	u := *r.u
	u.stderr = bar.Messages(u.stderr)
	r.u = &u
	if r.sessions.Log != nil {
		r.sessions.Log = callLogger(r.u)
	}
	perCluster := r.c.Duration("cluster-timeout")
	finished := make(map[string]fleetreport.Row, len(selected))
	limits := fleet.Limits{Parallel: parallel, MaxFailures: r.c.Int("max-failures")}
	results := fleet.RunWithin(r.c.Context, selected, limits, func(ctx context.Context, fc fleet.Cluster) (fleetreport.Row, error) {
		bar.Start(fc.Name)
		row := fleetreport.Row{Cluster: fc.Name, Region: fc.Region}
		clusterCtx, cancel := context.WithTimeout(ctx, perCluster)
		defer cancel()
		err := op(clusterCtx, r.byName[fc.Name], &row)
		if err != nil && errors.Is(err, context.DeadlineExceeded) && clusterCtx.Err() != nil && ctx.Err() == nil {
			err = withHint(fmt.Errorf("gave up on this cluster after --cluster-timeout %s: %w", perCluster, err),
				"is the cluster's endpoint reachable from here? run it again alone with --clusters "+fc.Name+", or pass a longer --cluster-timeout")
		}
		if err != nil && ctx.Err() != nil {
			row.WasInterrupted = true
		}
		return row, err
	}, func(res fleet.Result[fleetreport.Row]) {
		row := finishRow(res)
		finished[res.Cluster.Name] = row // done is called one at a time
		status := row.Result()
		switch row.Status {
		case fleetreport.Failed:
			status = row.Error
		case fleetreport.Interrupted, fleetreport.Partial:
			status = row.Status + ": " + row.Error
		}
		bar.Done(row.Cluster, status, row.Status == fleetreport.Failed || row.Status == fleetreport.Partial, res.Duration)
	})
	rows := make([]fleetreport.Row, len(results))
	for i, res := range results {
		if res.Ran {
			rows[i] = finished[res.Cluster.Name]
			continue
		}
		rows[i] = finishRow(res)
		// Counted too, so the count reaches the total.
		bar.Done(rows[i].Cluster, "not run", false, 0)
	}
	return rows
}

// finishRow is the row of a finished (or never started) cluster.
func finishRow(res fleet.Result[fleetreport.Row]) fleetreport.Row {
	return fleetreport.Finish(res, describeFleetError)
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
	r := &fleetRunner{c: c, u: u, sessions: newSessions(c), byName: byName}
	dryRun := !write && c.Command.Name == "apply"
	opts := cluster.ConvergeOptions{Write: write, DryRun: dryRun, Prune: c.Bool("prune"), Force: c.Bool("force")}
	rows := r.run(selected, c.Int("parallel"), func(ctx context.Context, want desired.Target, row *fleetreport.Row) error {
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
			row.Plan = p
			row.Tally(*p, write)
		}
		if err == nil {
			err = wouldBeRefused(p)
		}
		return err
	})
	report := fleetreport.Report{Command: c.Command.Name, DryRun: dryRun, Clusters: rows}
	report.Summary = fleetreport.Summarize(rows)
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
		if err := report.WriteTable(c.App.Writer, false); err != nil {
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

// fleetError is the run's error when a cluster failed or did not run: one
// error line naming them; the report has each cluster's error.
func fleetError(c *cli.Context, report fleetreport.Report) error {
	failed, interrupted, notRun := report.Unfinished()
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
func describeFleetError(err error, row fleetreport.Row) (msg, hint string) {
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
		msg = fmt.Sprintf("assume role %s: STS refused: %s: %s", row.Role, api.ErrorCode(), api.ErrorMessage())
		hint = "the role's trust policy must trust your identity (and require the file's externalId as sts:ExternalId, if it names one); " +
			"`aws sts assume-role --role-arn ROLE --role-session-name test [--external-id ID]` gets the same answer"
	case op != nil:
		msg = fmt.Sprintf("assume role %s: %v", row.Role, op.Err)
		hint = "STS could not be reached or answered badly; run the same command again"
	case errors.Is(err, eksconn.ErrClusterNotFound):
		where := "the account of your credentials"
		if row.Account != "" {
			where = "account " + row.Account
		}
		hint = fmt.Sprintf("EKS looked in %s, region %s: check the name and region in the file; a cluster of another account needs a roleArn (or profile) there", where, fleetreport.OrDash(row.Region))
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

// runFleetAudit is audit over the clusters of an access file.
func runFleetAudit(c *cli.Context, u *ui, file *desired.File, targets []desired.Target, format, failOn string) error {
	selected, byName, err := selectTargets(c, file, targets)
	if err != nil {
		return err
	}
	r := &fleetRunner{c: c, u: u, sessions: newSessions(c), byName: byName}
	rows := r.run(selected, c.Int("parallel"), func(ctx context.Context, want desired.Target, row *fleetreport.Row) error {
		t, err := r.connect(ctx, want, row)
		if err != nil {
			return err
		}
		findings, err := auditTarget(ctx, r.u.forCluster(want.Label), t)
		if err != nil {
			return err
		}
		row.Findings, row.Status = findings, fleetreport.Clean
		if len(findings) > 0 {
			row.Status = fleetreport.Findings
		}
		for _, f := range findings {
			if failOn != "none" && audit.Rank(f.Severity) >= audit.Rank(failOn) {
				row.Failing++
			}
		}
		return nil
	})
	report := fleetreport.Report{Command: "audit", Clusters: rows, Summary: fleetreport.Summarize(rows)}
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
		if err := report.WriteTable(c.App.Writer, true); err != nil {
			return err
		}
	}
	if err := fleetError(c, report); err != nil {
		return err
	}
	for _, row := range rows {
		if row.Failing > 0 {
			return exitStatus(2)
		}
	}
	return nil
}
