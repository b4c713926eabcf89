// Package output renders iammap's results for people (tables, diffs) and for
// programs (JSON, YAML). Everything here writes to the writer it is given;
// the CLI passes stdout, so data never mixes with messages.
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/mapping"
	"github.com/pmezard/go-difflib/difflib"
	sigsyaml "sigs.k8s.io/yaml"
)

// Format is an -o value.
type Format string

const (
	Table Format = "table"
	JSON  Format = "json"
	YAML  Format = "yaml"
)

// Formats lists the accepted -o values.
var Formats = []Format{Table, JSON, YAML}

// ParseFormat validates an -o value.
func ParseFormat(s string) (Format, error) {
	if slices.Contains(Formats, Format(s)) {
		return Format(s), nil
	}
	return "", fmt.Errorf("unknown output format %q: use table, json or yaml", s)
}

// Row is one identity mapping as printed by `iammap get`. The field names
// follow eksctl's JSON output (every row carries rolearn or userarn, or
// account, with username and groups), plus where the entry lives and
// whether it is in effect.
type Row struct {
	RoleARN  string       `json:"rolearn,omitempty"`
	UserARN  string       `json:"userarn,omitempty"`
	SSO      *mapping.SSO `json:"sso,omitempty"`
	Username string       `json:"username,omitempty"`
	Groups   []string     `json:"groups,omitempty"`
	UserID   string       `json:"userid,omitempty"`
	Account  string       `json:"account,omitempty"`
	// Access entries only.
	PrincipalARN string   `json:"principalArn,omitempty"`
	Type         string   `json:"type,omitempty"`
	Policies     []string `json:"accessPolicies,omitempty"`
	Source       string   `json:"source"`
	Status       string   `json:"status"`
	ShadowedBy   string   `json:"shadowedBy,omitempty"`
	// MayUse lists, for an undefined entry, the other entries EKS may use.
	MayUse []string `json:"mayUse,omitempty"`
	Reason string   `json:"reason,omitempty"`
	// Problems lists wrong-typed values EKS reads as empty.
	Problems []string `json:"problems,omitempty"`
}

// Overridden is the status of an aws-auth entry whose principal has an
// access entry: in API_AND_CONFIG_MAP mode EKS uses the access entry.
const Overridden mapping.State = "overridden"

// Rows converts aws-auth entries and accounts to printable rows.
func Rows(entries []awsauth.Entry, accounts []string) []Row {
	rows := make([]Row, 0, len(entries)+len(accounts))
	for _, e := range entries {
		r := Row{SSO: e.SSO, Username: e.Username, Groups: e.Groups, UserID: e.UserID, Source: string(e.Source), Status: string(e.Status.State), Problems: e.Problems}
		if e.Source == mapping.MapUsers {
			r.UserARN = e.ARN
		} else {
			r.RoleARN = e.ARN
		}
		if e.Status.By != nil && e.Status.State == mapping.Shadowed {
			r.ShadowedBy = e.Status.By.String()
		}
		for _, o := range e.Status.Others {
			r.MayUse = append(r.MayUse, o.String())
		}
		if e.Status.State != mapping.Active {
			r.Reason = e.Status.Reason
		}
		rows = append(rows, r)
	}
	for _, a := range accounts {
		st := mapping.AccountStatus(a)
		rows = append(rows, Row{Account: a, Source: string(mapping.MapAccounts), Status: string(st.State), Reason: st.Reason})
	}
	return rows
}

// Layouts: which table columns to print.
type Layout int

const (
	// AWSAuthLayout is eksctl's columns plus STATUS.
	AWSAuthLayout Layout = iota
	// AccessEntryLayout is for access entries alone.
	AccessEntryLayout
	// CombinedLayout lists both mechanisms with a SOURCE column.
	CombinedLayout
)

// AccessEntrySource is the Source of access-entry rows.
const AccessEntrySource = "access-entry"

// AccessEntryRows converts access entries to printable rows. Besides
// principalArn, a row carries eksctl's key for the principal: rolearn for a
// role, userarn for any other principal, so scripts reading eksctl's JSON
// find the ARN in either backend's rows.
func AccessEntryRows(entries []accessentry.Entry) []Row {
	rows := make([]Row, 0, len(entries))
	for _, e := range entries {
		r := Row{PrincipalARN: e.PrincipalARN, Type: e.Type, Username: e.Username, Groups: e.Groups, Source: AccessEntrySource, Status: string(mapping.Active)}
		if p, _, err := mapping.ParsePrincipal(e.PrincipalARN); err == nil && p.Kind == mapping.KindRole {
			r.RoleARN = e.PrincipalARN
		} else {
			r.UserARN = e.PrincipalARN
		}
		for _, p := range e.Policies {
			r.Policies = append(r.Policies, accessentry.PolicyName(p.ARN)+"("+p.Scope()+")")
		}
		rows = append(rows, r)
	}
	return rows
}

// WriteRows prints rows in the given format and table layout. An empty
// list is `[]` in JSON and YAML, never null.
func WriteRows(w io.Writer, f Format, rows []Row, layout Layout) error {
	if rows == nil {
		rows = []Row{}
	}
	switch f {
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "    ")
		return enc.Encode(rows)
	case YAML:
		b, err := sigsyaml.Marshal(rows)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	switch layout {
	case AccessEntryLayout:
		fmt.Fprintln(tw, "ARN\tUSERNAME\tGROUPS\tTYPE\tACCESS POLICIES")
	case CombinedLayout:
		fmt.Fprintln(tw, "ARN\tUSERNAME\tGROUPS\tACCOUNT\tSOURCE\tACCESS POLICIES\tSTATUS")
	default:
		fmt.Fprintln(tw, "ARN\tUSERNAME\tGROUPS\tACCOUNT\tSTATUS")
	}
	for _, r := range rows {
		arn := r.PrincipalARN
		if arn == "" {
			arn = r.RoleARN + r.UserARN
		}
		if arn == "" && r.SSO != nil {
			arn = "sso:" + r.SSO.ARNLike()
		}
		groups, policies := strings.Join(r.Groups, ","), strings.Join(r.Policies, ",")
		// Every cell through Safe: aws-auth is anyone's to write, and a
		// control character in a cell could rewrite or forge rows.
		switch layout {
		case AccessEntryLayout:
			writeCells(tw, arn, r.Username, groups, r.Type, policies)
		case CombinedLayout:
			writeCells(tw, arn, r.Username, groups, r.Account, r.Source, policies, statusCell(r))
		default:
			writeCells(tw, arn, r.Username, groups, r.Account, statusCell(r))
		}
	}
	return tw.Flush()
}

// writeCells prints one table row, each cell escaped with [Safe].
func writeCells(w io.Writer, cells ...string) {
	for i, c := range cells {
		cells[i] = Safe(c)
	}
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

func statusCell(r Row) string {
	cell := r.Status
	switch mapping.State(r.Status) {
	case mapping.Shadowed:
		cell = "shadowed by " + r.ShadowedBy
	case mapping.NeverMatches:
		cell = "never matches"
	case mapping.Dropped:
		cell = "dropped by EKS"
	case mapping.Undefined:
		cell = "undefined: EKS may use " + strings.Join(r.MayUse, " or ") + " instead"
	case mapping.Refuses:
		cell = "EKS refuses its callers"
	case Overridden:
		cell = "overridden by access entry"
	}
	if len(r.Problems) > 0 {
		cell += " (a value of the wrong type is read as empty)"
	}
	return cell
}

// WriteDataDiff prints a unified diff per ConfigMap data key that differs
// between before and after. It prints nothing when they are equal.
func WriteDataDiff(w io.Writer, name string, before, after map[string]string) error {
	keys := make([]string, 0, len(before)+len(after))
	for k := range before {
		keys = append(keys, k)
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if before[k] == after[k] {
			continue
		}
		text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A:        safeLines(before[k]),
			B:        safeLines(after[k]),
			FromFile: name + " data." + k + " (current)",
			ToFile:   name + " data." + k + " (after)",
			Context:  3,
		})
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, text); err != nil {
			return err
		}
	}
	return nil
}

// safeLines is splitLines with each line escaped by [Safe] (its newline
// kept): the diff prints aws-auth's text, which anyone may have written.
func safeLines(s string) []string {
	lines := splitLines(s)
	for i, l := range lines {
		lines[i] = Safe(strings.TrimSuffix(l, "\n")) + "\n"
	}
	return lines
}

// splitLines keeps each line's newline, as difflib wants, without the empty
// last line difflib.SplitLines adds after a final newline.
func splitLines(s string) []string {
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	} else {
		lines[len(lines)-1] += "\n"
	}
	return lines
}

// Identity renders the Kubernetes identity a mapping or access entry gives,
// as messages name it: `username "dev", groups [a,b]`. Every message that
// names a username and groups uses it, so they all read alike.
func Identity(username string, groups []string) string {
	// %q escapes the username; the groups need Safe.
	return fmt.Sprintf("username %q, groups [%s]", username, strings.Join(SafeAll(groups), ","))
}

// IdentityColumns is [Identity] as the plan and migration tables print it,
// without the comma: `username "dev" groups [a,b]`.
func IdentityColumns(username string, groups []string) string {
	return fmt.Sprintf("username %q groups [%s]", username, strings.Join(SafeAll(groups), ","))
}
