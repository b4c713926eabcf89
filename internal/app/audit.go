package app

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/iammap/iammap/internal/audit"
	"github.com/iammap/iammap/internal/cluster"
	"github.com/urfave/cli/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "find mistakes in who can access the cluster (aws-auth and access entries), with a fix for each",
		Description: "Exit codes for CI: 0 when no finding reaches --fail-on, 2 when one does, 1 on error.\n" +
			"With --cluster, principals of the cluster's account are also looked up in IAM.\n" +
			"With -f FILE and no --cluster, every cluster of the file is audited (--clusters, --parallel) and a table\n" +
			"sums them up; the exit code is 1 when a cluster could not be audited, else 2 when one has a finding at --fail-on.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "table or json"},
			&cli.StringFlag{Name: "fail-on", Value: audit.Error, Usage: "exit 2 when a finding is at least this severe: warning, error or none"},
			&cli.StringFlag{Name: "filename", Aliases: []string{"f"}, Usage: "access `FILE`: audit every cluster it lists (or the one --cluster names), each reached as the file says"},
		}, fleetFlags()...),
		Action: runAudit,
	}
}

func runAudit(c *cli.Context) error {
	u := newUI(c)
	format, failOn := c.String("output"), c.String("fail-on")
	if format == "text" {
		format = "table" // diff's and apply's name for it
	}
	if format != "table" && format != "json" {
		return badFlags("unknown output format %q: use table or json", format)
	}
	if failOn != "none" && audit.Rank(failOn) < 2 {
		return badFlags("unknown --fail-on %q: use warning, error or none", failOn)
	}
	if c.String("filename") != "" {
		file, targets, fleetRun, err := loadForRun(c)
		if err != nil {
			return err
		}
		if fleetRun {
			return runFleetAudit(c, u, file, targets, format, failOn)
		}
		if flagString(c, "cluster") != "" && len(file.Clusters) > 0 {
			want, err := file.Target(flagString(c, "cluster"))
			if err != nil {
				return withHint(badFlags("cluster %s is not in %s", flagString(c, "cluster"), c.String("filename")), notInFileHint(flagString(c, "cluster"), targets))
			}
			if err := checkFlagsAgreeWithFile(c, want); err != nil {
				return err
			}
			t, err := connect(c, u, targetOptions(c, want, nil))
			if err != nil {
				return err
			}
			return auditOne(c, u, t, format, failOn)
		}
	} else if err := checkFleetFlags(c, false); err != nil {
		return err
	}
	if c.NArg() > 0 {
		return badFlags("unexpected argument %q", c.Args().First())
	}
	t, err := resolveTarget(c, u)
	if err != nil {
		return err
	}
	return auditOne(c, u, t, format, failOn)
}

// auditOne audits one cluster and prints its findings.
func auditOne(c *cli.Context, u *ui, t *cluster.Target, format, failOn string) error {
	findings, err := auditTarget(c.Context, u, t)
	if err != nil {
		return err
	}
	if format == "json" {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if findings == nil {
			findings = []audit.Finding{}
		}
		if err := enc.Encode(findings); err != nil {
			return err
		}
	} else if len(findings) == 0 {
		u.info("no findings")
	} else if err := audit.WriteTable(c.App.Writer, findings); err != nil {
		// WriteTable escapes control characters from aws-auth's content.
		return err
	}
	if failOn != "none" {
		for _, f := range findings {
			if audit.Rank(f.Severity) >= audit.Rank(failOn) {
				return exitStatus(2)
			}
		}
	}
	return nil
}

// auditTarget reads what decides access to one cluster (aws-auth, access
// entries, RBAC bindings, IAM) and returns audit's findings.
func auditTarget(ctx context.Context, u *ui, t *cluster.Target) ([]audit.Finding, error) {
	in := audit.Input{Mode: t.Mode()}
	snap, err := t.LoadAWSAuth(ctx)
	if err != nil {
		return nil, err
	}
	in.AWSAuth = snap.Doc
	if t.EKS != nil {
		if in.Mode.UsesAccessEntries() {
			if in.Entries, err = t.AccessEntries().List(ctx); err != nil {
				return nil, err
			}
		}
		in.IAM, in.Account = iam.NewFromConfig(t.EKS.AWS), t.EKS.Cluster.Account
	} else {
		u.info("note: without --cluster, principals are not looked up in IAM and access entries are not read")
	}
	cs, err := t.Kubernetes(ctx)
	if err != nil {
		return nil, err
	}
	in.BoundGroups = map[string]bool{}
	crbs, err := cs.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	if err == nil {
		rbs, rerr := cs.RbacV1().RoleBindings("").List(ctx, metav1.ListOptions{})
		err = rerr
		for _, b := range crbs.Items {
			for _, s := range b.Subjects {
				if s.Kind == "Group" {
					in.BoundGroups[s.Name] = true
				}
			}
		}
		if rerr == nil {
			for _, b := range rbs.Items {
				for _, s := range b.Subjects {
					if s.Kind == "Group" {
						in.BoundGroups[s.Name] = true
					}
				}
			}
		}
	}
	if apierrors.IsForbidden(err) {
		u.warn("cannot list RBAC bindings (%v): the dead-group check is skipped", err)
		in.BoundGroups = nil
	} else if err != nil {
		return nil, err
	}
	return audit.Run(ctx, in), nil
}
