package app

import (
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/iammap/iammap/internal/audit"
	"github.com/urfave/cli/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "find mistakes in who can access the cluster (aws-auth and access entries), with a fix for each",
		Description: "Exit codes for CI: 0 when no finding reaches --fail-on, 2 when one does, 1 on error.\n" +
			"With --cluster, principals of the cluster's account are also looked up in IAM.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "table or json"},
			&cli.StringFlag{Name: "fail-on", Value: audit.Error, Usage: "exit 2 when a finding is at least this severe: warning, error or none"},
		},
		Action: runAudit,
	}
}

func runAudit(c *cli.Context) error {
	u := newUI(c)
	format, failOn := c.String("output"), c.String("fail-on")
	if format != "table" && format != "json" {
		return badFlags("unknown output format %q: use table or json", format)
	}
	if failOn != "none" && audit.Rank(failOn) < 2 {
		return badFlags("unknown --fail-on %q: use warning, error or none", failOn)
	}
	t, err := resolveTarget(c, u)
	if err != nil {
		return err
	}
	in := audit.Input{Mode: t.Mode()}
	snap, err := t.LoadAWSAuth(c.Context)
	if err != nil {
		return err
	}
	in.AWSAuth = snap.Doc
	if t.EKS != nil {
		if in.Mode.UsesAccessEntries() {
			if in.Entries, err = t.AccessEntries().List(c.Context); err != nil {
				return err
			}
		}
		in.IAM, in.Account = iam.NewFromConfig(t.EKS.AWS), t.EKS.Cluster.Account
	} else {
		u.info("note: without --cluster, principals are not looked up in IAM and access entries are not read")
	}
	cs, err := t.Kubernetes(c.Context)
	if err != nil {
		return err
	}
	in.BoundGroups = map[string]bool{}
	crbs, err := cs.RbacV1().ClusterRoleBindings().List(c.Context, metav1.ListOptions{})
	if err == nil {
		rbs, rerr := cs.RbacV1().RoleBindings("").List(c.Context, metav1.ListOptions{})
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
		return err
	}
	findings := audit.Run(c.Context, in)
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
