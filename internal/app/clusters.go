package app

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/iammap/iammap/internal/desired"
	"github.com/iammap/iammap/internal/eksconn"
	"github.com/iammap/iammap/internal/fleet"
	"github.com/iammap/iammap/internal/fleetreport"
	"github.com/iammap/iammap/internal/output"
	"github.com/iammap/iammap/mapping"
	"github.com/urfave/cli/v2"
)

// clustersCommand lists the clusters of an access file, for a CI matrix:
// the CI system runs one job per cluster, and each job runs
// `iammap diff|apply -f FILE --cluster NAME --region REGION`.
func clustersCommand() *cli.Command {
	return &cli.Command{
		Name:  "clusters",
		Usage: "list the clusters an access file names (-o json is a CI matrix: one job per cluster)",
		Description: "Prints the clusters of -f FILE, optionally selected with --clusters (names or globs, comma-separated).\n" +
			"-o json prints [{\"cluster\": NAME, \"region\": REGION, ...}, ...] with how each is reached (account, roleArn,\n" +
			"externalId, profile, endpointUrl, context, when the file names them), which a GitHub Actions matrix takes as\n" +
			"`include: ${{ fromJSON(needs.list.outputs.clusters) }}`; GitLab takes it through a generated child pipeline.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Required: true, Usage: "access `FILE` (iammap/v1 AccessConfig, or an eksctl ClusterConfig)"},
			&cli.StringFlag{Name: "clusters", Usage: "only these clusters: `NAMES` or globs, comma-separated (e.g. 'prod-*,staging')"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "table or json"},
			&cli.BoolFlag{Name: "allow-endpoint-url", EnvVars: []string{"IAMMAP_ALLOW_ENDPOINT_URL"}, Usage: "list clusters whose endpointUrl is neither AWS's nor this machine's (diff, apply and audit refuse them without the same flag)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return badFlags("unexpected argument %q", c.Args().First())
			}
			format, err := output.ParseFormat(c.String("output"))
			if err != nil || format == output.YAML {
				return badFlags("unknown output format %q: use table or json", c.String("output"))
			}
			// A matrix of clusters its jobs would refuse fails here, first.
			file, _, err := loadAccessFile(c, c.String("file"))
			if err != nil {
				return err
			}
			var all []fleet.Cluster
			for _, cl := range file.Clusters {
				all = append(all, fleet.Cluster{Name: cl.Label(), Region: cl.Region})
			}
			if len(all) == 0 {
				return withHint(fmt.Errorf("%w: %s lists no clusters", desired.ErrInvalid, c.String("file")), "add a clusters: section, or name the cluster with --cluster when you run diff or apply")
			}
			selected, err := fleet.Select(all, c.String("clusters"))
			if err != nil {
				return withHint(badFlags("%v", err), "--clusters takes cluster names or globs from the file, comma-separated")
			}
			byName := map[string]desired.Cluster{}
			for _, cl := range file.Clusters {
				byName[cl.Label()] = cl
			}
			if format == output.JSON {
				// The matrix carries how each cluster is reached, so a job
				// can pick its credentials (matrix.roleArn) before iammap runs.
				type matrixEntry struct {
					Name    string `json:"cluster"`
					EKSName string `json:"name,omitempty"` // when an alias names the cluster in the file
					Account string `json:"account,omitempty"`
					desired.Connection
				}
				entries := []matrixEntry{}
				for _, sel := range selected {
					e := matrixEntry{Name: sel.Name, Connection: byName[sel.Name].Connection}
					if cl := byName[sel.Name]; cl.Alias != "" {
						e.EKSName = cl.Name
					}
					if p, _, err := mapping.ParsePrincipal(e.RoleARN); err == nil {
						e.Account = p.Account
					}
					entries = append(entries, e)
				}
				b, err := json.Marshal(entries)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(c.App.Writer, "%s\n", b)
				return err
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "CLUSTER\tREGION\tREACHED WITH")
			for _, sel := range selected {
				conn := byName[sel.Name].Connection
				via := eksconn.Identity{Profile: conn.Profile, RoleARN: conn.RoleARN, ExternalID: conn.ExternalID}.String()
				if conn.Context != "" {
					via = "kubeconfig context " + conn.Context
				}
				fmt.Fprintf(w, "%s\t%s\t%s\n", output.Safe(sel.Name), fleetreport.OrDash(sel.Region), output.Safe(via))
			}
			return w.Flush()
		},
	}
}
