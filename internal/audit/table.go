package audit

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/iammap/iammap/internal/output"
)

// WriteTable prints findings as `iammap audit` shows them, one row each.
// Subjects and messages quote aws-auth's content, which any tool may have
// written: each cell goes through output.Safe, so a control character or a
// bidi override cannot rewrite, hide or forge rows on a terminal.
func WriteTable(w io.Writer, findings []Finding) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tCHECK\tSUBJECT\tFINDING\tFIX")
	for _, f := range findings {
		cells := []string{f.Severity, f.Check, f.Subject, f.Message, f.Fix}
		for i, c := range cells {
			cells[i] = output.Safe(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
