// Package fleetreport is the report of a fleet run (package fleet runs the
// clusters): one row per cluster with its status, counts, error and plan or
// findings; a summary over the rows; and the table people read. The JSON of
// Report is what `-o json` prints for CI artifacts.
//
// # Statuses
//
// in-sync, pending, applied: the cluster's plan was made (diff) or carried
// out (apply). partial: a write that stopped after some changes landed.
// failed: nothing landed. interrupted: the cluster was running when the run
// was interrupted. not-run: it never started. Audit rows are clean or
// findings instead of the plan statuses.
package fleetreport

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/iammap/iammap/internal/audit"
	"github.com/iammap/iammap/internal/cluster"
	"github.com/iammap/iammap/internal/fleet"
	"github.com/iammap/iammap/internal/output"
	"github.com/iammap/iammap/mapping"
)

// Statuses of a row.
const (
	InSync      = "in-sync"
	Pending     = "pending"
	Applied     = "applied"
	Partial     = "partial"
	Failed      = "failed"
	Interrupted = "interrupted"
	NotRun      = "not-run"
	Clean       = "clean"
	Findings    = "findings"
)

// Row is one cluster's line of a fleet report, and its JSON.
type Row struct {
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
	// Failing: audit counts the findings at least as severe as --fail-on.
	Failing int `json:"-"`
	// WasInterrupted: the cluster was running when the run was interrupted
	// (or ran out of --timeout).
	WasInterrupted bool `json:"-"`
	// Role is the roleArn the cluster is reached with, for error messages.
	Role string `json:"-"`
}

// Report is a fleet run's whole report (-o json).
type Report struct {
	Command string `json:"command"`
	// DryRun: apply --dry-run, which plans (and checks) without writing.
	DryRun   bool    `json:"dryRun,omitempty"`
	Clusters []Row   `json:"clusters"`
	Summary  Summary `json:"summary"`
}

// Summary counts the rows by what became of them.
type Summary struct {
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

// Tally fills the row's counts and status from its cluster's plan, made
// (write false) or carried out.
func (row *Row) Tally(p cluster.Plan, write bool) {
	switch {
	case !write:
		row.Pending = p.Changes()
		row.Status = InSync
		if row.Pending > 0 {
			row.Status = Pending
		}
	case p.Applied:
		row.Applied = p.Changes()
		row.Status = InSync
		if row.Applied > 0 {
			row.Status = Applied
		}
	default:
		applied, maybe, not := p.Tally()
		row.Applied, row.MaybeApplied, row.Pending = applied, maybe, not
		row.Status = Partial
	}
}

// Summarize counts rows.
func Summarize(rows []Row) Summary {
	s := Summary{Clusters: len(rows)}
	for _, row := range rows {
		switch row.Status {
		case Failed, Partial:
			s.Failed++
		case Interrupted:
			s.Interrupted++
		case NotRun:
			s.NotRun++
		}
		if row.Applied+row.MaybeApplied > 0 || (row.Pending > 0 && !row.Stopped()) {
			s.WithChanges++
		}
		s.Pending += row.Pending
		s.Applied += row.Applied
		s.Findings += len(row.Findings)
	}
	return s
}

// Stopped says whether the row's cluster ended without finishing.
func (row Row) Stopped() bool {
	switch row.Status {
	case Failed, Partial, Interrupted, NotRun:
		return true
	}
	return false
}

// Result is the row's result cell: what changed (or was found), or the
// error, cut to fit a table. The full error is listed below the table.
func (row Row) Result() string {
	switch row.Status {
	case NotRun:
		return "not run"
	case Failed, Interrupted:
		return row.Status + ": " + cut(row.Error)
	case Clean:
		return "no findings"
	case Findings:
		return fmt.Sprintf("%d finding(s), %d at --fail-on", len(row.Findings), row.Failing)
	case InSync:
		return "in sync"
	case Pending:
		return fmt.Sprintf("%d change(s) pending", row.Pending)
	case Applied:
		return fmt.Sprintf("%d change(s) applied", row.Applied)
	case Partial:
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

// WriteTable prints the per-cluster table, the full errors with their
// hints, and a summary line; audit words the summary for findings.
func (report Report) WriteTable(w io.Writer, forAudit bool) error {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tACCOUNT\tREGION\tMODE\tRESULT\tTIME")
	for _, row := range report.Clusters {
		mode := string(row.Mode)
		if row.Context != "" {
			mode = "kubeconfig"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", output.Safe(row.Cluster), OrDash(row.Account), OrDash(row.Region), OrDash(mode),
			output.Safe(row.Result()), (time.Duration(row.Seconds * float64(time.Second))).Round(10*time.Millisecond))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, row := range report.Clusters {
		if row.Error == "" || row.Status == NotRun {
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
	case forAudit:
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

// OrDash is s escaped for a table cell, or "-" when empty.
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return output.Safe(s)
}

// Finish is the row of a cluster that finished (or never started): the
// run's error and duration go in, and the status says what became of it.
// describe words an error and its hint for the report.
func Finish(res fleet.Result[Row], describe func(error, Row) (msg, hint string)) Row {
	row := res.Value
	row.Cluster = res.Cluster.Name
	if row.Region == "" {
		row.Region = res.Cluster.Region
	}
	row.Seconds = res.Duration.Round(time.Millisecond).Seconds()
	switch {
	case !res.Ran:
		row.Status = NotRun
		row.Error = res.Err.Error()
	case res.Err != nil:
		row.Status = Failed
		if row.WasInterrupted {
			row.Status = Interrupted
		}
		if row.Applied+row.MaybeApplied > 0 {
			// A write that stopped after some changes landed: "failed"
			// would hide them.
			row.Status = Partial
		}
		row.Error, row.Hint = describe(res.Err, row)
	}
	return row
}

// Unfinished names the clusters that failed (partial included), were
// interrupted, or never ran.
func (report Report) Unfinished() (failed, interrupted, notRun []string) {
	for _, row := range report.Clusters {
		switch row.Status {
		case Failed, Partial:
			failed = append(failed, row.Cluster)
		case Interrupted:
			interrupted = append(interrupted, row.Cluster)
		case NotRun:
			notRun = append(notRun, row.Cluster)
		}
	}
	return failed, interrupted, notRun
}
