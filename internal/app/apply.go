package app

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/desired"
	"github.com/iammap/iammap/mapping"
	"github.com/urfave/cli/v2"
	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// exitStatus ends a command with a code and no error message (diff's 2).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitStatus) ExitCode() int { return int(e) }

func fileFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "filename", Aliases: []string{"f"}, Required: true, Usage: "access `FILE` (see README: the declarative format)"},
		&cli.BoolFlag{Name: "prune", Usage: "also remove mappings, access entries and policy associations that are not in the file"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "text or json"},
	}
}

func diffCommand() *cli.Command {
	return &cli.Command{
		Name:  "diff",
		Usage: "show what apply would change; exit 0 when nothing, 2 when changes are pending, 1 on error",
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
	}
}

// clusterPlan is the plan for one cluster, as printed and as JSON.
type clusterPlan struct {
	Cluster       string               `json:"cluster"`
	AuthMode      mapping.Mode         `json:"authenticationMode,omitempty"`
	AWSAuth       *awsAuthPlanJSON     `json:"awsAuth,omitempty"`
	AccessEntries []accessentry.Action `json:"accessEntries,omitempty"`
	Notes         []string             `json:"notes,omitempty"`
	Applied       bool                 `json:"applied"`
}

type awsAuthPlanJSON struct {
	Add            []mapping.Mapping `json:"add,omitempty"`
	Remove         []mapping.Mapping `json:"remove,omitempty"`
	AddAccounts    []string          `json:"addAccounts,omitempty"`
	RemoveAccounts []string          `json:"removeAccounts,omitempty"`
}

func (p clusterPlan) changes() int {
	n := len(p.AccessEntries)
	if p.AWSAuth != nil {
		n += len(p.AWSAuth.Add) + len(p.AWSAuth.Remove) + len(p.AWSAuth.AddAccounts) + len(p.AWSAuth.RemoveAccounts)
	}
	return n
}

func runConverge(c *cli.Context, write bool) error {
	u := newUI(c)
	format := c.String("output")
	if format != "text" && format != "json" {
		return badFlags("unknown output format %q: use text or json", format)
	}
	file, err := desired.Load(c.String("filename"))
	if err != nil {
		return err
	}
	targets, err := file.Targets()
	if err != nil {
		return err
	}
	if len(file.Clusters) > 0 && flagString(c, "cluster") != "" {
		name := flagString(c, "cluster")
		i := slices.IndexFunc(targets, func(t desired.Target) bool { return t.Name == name })
		if i < 0 {
			return badFlags("cluster %s is not in %s", name, c.String("filename"))
		}
		targets = targets[i : i+1]
	}
	var plans []clusterPlan
	total := 0
	for _, want := range targets {
		p, err := convergeOne(c, u, want, write)
		if p != nil {
			plans = append(plans, *p)
			total += p.changes()
		}
		if err != nil {
			printPlans(c.App.Writer, format, plans, write)
			return err
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

func convergeOne(c *cli.Context, u *ui, want desired.Target, write bool) (*clusterPlan, error) {
	prune := c.Bool("prune")
	var t *target
	var err error
	if want.Name != "" {
		t, err = resolveNamed(c, u, want.Name, want.Region)
	} else {
		t, err = resolveTarget(c, u)
	}
	if err != nil {
		return nil, err
	}
	p := &clusterPlan{Cluster: want.Name, AuthMode: t.mode(), Notes: want.Notes}
	if t.eks != nil {
		p.Cluster = t.eks.Cluster.Name
	} else if t.kube != nil {
		p.Cluster = "kubeconfig context " + t.kube.Context
	}
	hasAWSAuth := len(want.AWSAuth.Mappings)+len(want.AWSAuth.Accounts) > 0
	doAWSAuth := hasAWSAuth || (prune && t.mode() != modeAPI)
	doEntries := len(want.AccessEntries) > 0 || (prune && t.eks != nil && t.mode() != modeConfigMap)
	if hasAWSAuth && t.mode() == modeAPI && !c.Bool("force") {
		return p, withHint(fmt.Errorf("cluster %s is in API mode: EKS ignores the file's aws-auth mappings", p.Cluster), "move them to accessEntries, or pass --force")
	}
	if doEntries {
		if err := t.requireAccessEntries(); err != nil {
			return p, err
		}
	}
	lk, err := newLockout(c, t)
	if err != nil {
		return p, err
	}
	// The access-entry plan comes first, so the guard sees both mechanisms
	// as they will be.
	var entryPlan accessentry.Plan
	if doEntries {
		specs := make([]accessentry.Spec, len(want.AccessEntries))
		for i, s := range want.AccessEntries {
			if specs[i], _, err = accessentry.Validate(s, t.eks.Cluster.Account, t.eks.Cluster.Partition); err != nil {
				return p, err
			}
		}
		if entryPlan, err = accessentry.PlanFor(lk.entries, specs, prune); err != nil {
			return p, err
		}
		p.AccessEntries = entryPlan.Actions
	}
	entriesAfter := entryPlan.Result(lk.entries)
	guarded := false
	if doAWSAuth {
		store, err := t.store(c.Context)
		if err != nil {
			return p, err
		}
		var plan awsauth.Plan
		// One read and one conditional write, whatever the number of
		// mappings; a conflict re-reads and re-plans.
		res, err := store.Modify(c.Context, func(doc *awsauth.Document) (bool, error) {
			var err error
			if plan, err = awsauth.PlanFor(doc, want.AWSAuth, prune); err != nil {
				return false, err
			}
			before := doc.Set()
			if err := awsauth.ApplyPlan(doc, plan); err != nil {
				return false, err
			}
			if write && (!plan.Empty() || len(entryPlan.Actions) > 0) {
				guarded = true
				if err := lk.check(lk.state(before, lk.entries, lk.mode), lk.state(doc.Set(), entriesAfter, lk.mode)); err != nil {
					return false, err
				}
			}
			return write && !plan.Empty(), nil
		}, false)
		p.AWSAuth = &awsAuthPlanJSON{Add: plan.Add, AddAccounts: plan.AddAccounts, RemoveAccounts: plan.RemoveAccounts}
		for _, e := range plan.Remove {
			p.AWSAuth.Remove = append(p.AWSAuth.Remove, e.Mapping)
		}
		if err != nil {
			return p, err
		}
		u.debug("aws-auth: %d attempt(s), written: %v, resourceVersion %s", res.Attempts, res.Written, res.ResourceVersion)
	}
	if write && len(entryPlan.Actions) > 0 {
		if !guarded {
			set, err := awsAuthSet(c, t)
			if err != nil {
				return p, err
			}
			if err := lk.entriesChange(set, entryPlan); err != nil {
				return p, err
			}
		}
		done, err := t.accessEntries().Apply(c.Context, entryPlan)
		if err != nil {
			p.AccessEntries = done
			return p, withHint(err, fmt.Sprintf("%d of %d access-entry changes were made (listed above); fix the cause and apply again", len(done), len(entryPlan.Actions)))
		}
	}
	p.Applied = write
	return p, nil
}

// resolveNamed connects to a cluster the file names.
func resolveNamed(c *cli.Context, u *ui, name, region string) (*target, error) {
	if region == "" {
		region = flagString(c, "region")
	}
	return connectEKS(c, u, name, region)
}

func printPlans(w io.Writer, format string, plans []clusterPlan, applied bool) error {
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
	verb := map[bool]string{true: "applied", false: "pending"}[applied]
	for _, p := range plans {
		mode := ""
		if p.AuthMode != "" {
			mode = " (" + string(p.AuthMode) + ")"
		}
		fmt.Fprintf(w, "cluster %s%s: %d change(s) %s\n", p.Cluster, mode, p.changes(), verb)
		for _, n := range p.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
		if a := p.AWSAuth; a != nil {
			for _, m := range a.Remove {
				fmt.Fprintln(w, paint("31", fmt.Sprintf("  - aws-auth %s %s username %q groups [%s]", m.Source, m.Display(), m.Username, strings.Join(m.Groups, ","))))
			}
			for _, m := range a.Add {
				fmt.Fprintln(w, paint("32", fmt.Sprintf("  + aws-auth %s %s username %q groups [%s]", m.Source, m.Display(), m.Username, strings.Join(m.Groups, ","))))
			}
			for _, acct := range a.RemoveAccounts {
				fmt.Fprintln(w, paint("31", "  - aws-auth mapAccounts "+acct))
			}
			for _, acct := range a.AddAccounts {
				fmt.Fprintln(w, paint("32", "  + aws-auth mapAccounts "+acct))
			}
		}
		for _, a := range p.AccessEntries {
			sign, code := "~", "33"
			switch a.Kind {
			case accessentry.ActCreate, accessentry.ActAssociate:
				sign, code = "+", "32"
			case accessentry.ActDelete, accessentry.ActDisassociate:
				sign, code = "-", "31"
			}
			fmt.Fprintln(w, paint(code, fmt.Sprintf("  %s access entry %s %s: %s", sign, a.Kind, a.PrincipalARN, a.Detail)))
		}
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// callerKey is the canonical ARN of whoever runs iammap, as the cluster
// sees it (SelfSubjectReview; EKS puts the ARN in the user's extra), or "".
func callerKey(c *cli.Context, t *target) string {
	cs, err := t.kubernetes(c.Context)
	if err != nil {
		return ""
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(c.Context, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return ""
	}
	for _, k := range []string{"canonicalArn", "arn"} {
		if v := review.Status.UserInfo.Extra[k]; len(v) == 1 {
			return mapping.PrincipalKey(v[0])
		}
	}
	return ""
}
