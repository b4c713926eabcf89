package app

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iammap/iammap/internal/safefile"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/cluster"
	"github.com/iammap/iammap/internal/migrate"
	"github.com/iammap/iammap/internal/output"
	"github.com/iammap/iammap/internal/progress"
	"github.com/iammap/iammap/mapping"
	"github.com/urfave/cli/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

func migrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "plan, then (with --approve) move a cluster's aws-auth mappings to access entries",
		Description: "Prints what each aws-auth entry becomes, or why it is skipped, and changes nothing without --approve.\n" +
			"With --approve: moves a CONFIG_MAP cluster to API_AND_CONFIG_MAP, creates the access entries, and with\n" +
			"--target-authentication-mode API switches to API only when nothing was skipped, after saving aws-auth to a file.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target-authentication-mode", Value: string(modeAPIAndCM), Usage: "API_AND_CONFIG_MAP (keep aws-auth as a fallback) or API (aws-auth is then ignored)"},
			&cli.BoolFlag{Name: "approve", Usage: "carry the plan out"},
			&cli.StringFlag{Name: "backup", Usage: "`FILE` for the aws-auth backup made before switching to API (default: aws-auth-backup-CLUSTER-TIME.yaml)"},
			&cli.BoolFlag{Name: "delete-aws-auth", Usage: "with target API: delete the aws-auth ConfigMap once the switch succeeded (a backup is written first)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "table or json"},
			&cli.DurationFlag{Name: "poll-interval", Value: 5 * time.Second, Usage: "how often to check an authentication-mode update"},
			forceFlag(),
		},
		Action: runMigrate,
	}
}

func runMigrate(c *cli.Context) error {
	u := newUI(c)
	targetMode := mapping.Mode(c.String("target-authentication-mode"))
	if targetMode != modeAPIAndCM && targetMode != modeAPI {
		return badFlags("unknown --target-authentication-mode %q: use API_AND_CONFIG_MAP or API", targetMode)
	}
	if format := c.String("output"); format != "table" && format != "json" {
		return badFlags("unknown output format %q: use table or json", format)
	}
	if c.Bool("delete-aws-auth") && targetMode != modeAPI {
		return badFlags("--delete-aws-auth needs --target-authentication-mode API: in API_AND_CONFIG_MAP mode EKS still reads aws-auth")
	}
	t, err := eksTarget(c, u)
	if err != nil {
		return err
	}
	cl := t.EKS.Cluster
	if cl.AuthMode == modeAPI {
		u.info("cluster %s is already in API mode: EKS ignores aws-auth, nothing to migrate", cl.Name)
		return nil
	}
	plan, snap, err := buildMigration(c, t)
	if err != nil {
		return err
	}
	if err := printMigration(c, plan); err != nil {
		return err
	}
	summary := func(p migrate.Plan) string {
		counts := map[string]int{}
		for _, it := range p.Items {
			counts[it.Outcome]++
		}
		return fmt.Sprintf("%d to create, %d already there, %d conflicting (left as is), %d skipped, %d dropped", counts[migrate.Create], counts[migrate.Exists], counts[migrate.Conflict], counts[migrate.Skip], counts[migrate.Dropped])
	}
	if !c.Bool("approve") {
		u.info("plan: %s; nothing changed. Run again with --approve to carry it out", summary(plan))
		return nil
	}

	if cl.AuthMode == mapping.ModeConfigMap {
		// The finished move leaves t in API_AND_CONFIG_MAP mode.
		if err := moveAuthMode(c, u, t, modeAPIAndCM, true); err != nil {
			return err
		}
		// EKS creates some entries itself on the switch: plan again against them.
		if plan, snap, err = buildMigration(c, t); err != nil {
			return err
		}
	}
	client := t.AccessEntries()
	current, err := client.List(c.Context)
	if err != nil {
		return err
	}
	writes, err := accessentry.PlanFor(current, plan.Specs(), false)
	if err != nil {
		return err
	}
	done, lines, err := applyWithProgress(c, u, client, writes)
	if !lines {
		// The live bar is gone: list what was made. Plain progress lines
		// have already said it, one per principal.
		for _, a := range done {
			u.info("%s access entry %s: %s", a.Kind, a.PrincipalARN, a.Detail)
		}
	}
	if err != nil {
		return withHint(err, "the changes listed above were made; fix the cause and run migrate --approve again (it skips what exists)")
	}
	if targetMode == modeAPI {
		if blocking := plan.Blocking(); len(blocking) > 0 {
			var names []string
			for _, it := range blocking {
				names = append(names, it.From)
			}
			return withHint(fmt.Errorf("not switching %s to API: %d aws-auth entr%s could not be migrated and would lose access: %s", cl.Name, len(blocking), map[bool]string{true: "y", false: "ies"}[len(blocking) == 1], strings.Join(names, "; ")),
				"the access entries above were created and the cluster stays in API_AND_CONFIG_MAP; fix or remove those entries, then run again")
		}
		if err := t.CheckModeSwitch(c.Context, modeAPI, flagBool(c, "force")); err != nil {
			return err
		}
		backup, err := writeBackup(c, cl.Name, snap)
		if err != nil {
			return err
		}
		if backup != "" {
			u.info("saved aws-auth to %s", backup)
		}
		if err := moveAuthMode(c, u, t, modeAPI, true); err != nil {
			return err
		}
		if c.Bool("delete-aws-auth") && snap.Exists() {
			cs, err := t.Kubernetes(c.Context)
			if err != nil {
				return err
			}
			if err := cs.CoreV1().ConfigMaps(awsauth.Namespace).Delete(c.Context, awsauth.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: aws.String(snap.ResourceVersion())}}); err != nil {
				return fmt.Errorf("delete aws-auth (backup in %s): %w", backup, err)
			}
			u.info("deleted ConfigMap %s/%s (backup in %s)", awsauth.Namespace, awsauth.Name, backup)
		}
	}
	u.info("migrated cluster %s: %s; authentication mode now %s", cl.Name, summary(plan), targetMode)
	return nil
}

// applyWithProgress makes the writes, reporting each principal as it ends
// on stderr (a live bar on a terminal, a line each elsewhere; nothing at
// -v 2 or below). Stdout, which carries the plan, is untouched.
func applyWithProgress(c *cli.Context, u *ui, client *accessentry.Client, writes accessentry.Plan) ([]accessentry.Action, bool, error) {
	principals := map[string]bool{}
	for _, a := range writes.Actions {
		principals[a.PrincipalARN] = true
	}
	rep := progress.Discard()
	if u.level >= levelInfo && len(principals) > 0 {
		rep = progress.New(c.App.ErrWriter, len(principals), "principals")
	}
	defer rep.Finish()
	done, err := migrate.Apply(c.Context, client, writes, migrate.Hooks{
		Start: rep.Start,
		Done: func(arn string, made []accessentry.Action, err error, took time.Duration) {
			status := migrate.Status(made)
			if err != nil {
				status = oneLine(err.Error())
			}
			rep.Done(arn, status, err != nil, took)
		},
	})
	return done, rep.Lines(), err
}

func buildMigration(c *cli.Context, t *cluster.Target) (migrate.Plan, *awsauth.Snapshot, error) {
	snap, err := t.LoadAWSAuth(c.Context)
	if err != nil {
		return migrate.Plan{}, nil, err
	}
	var existing []accessentry.Entry
	if t.Mode() != mapping.ModeConfigMap {
		if existing, err = t.AccessEntries().List(c.Context); err != nil {
			return migrate.Plan{}, nil, err
		}
	}
	cl := t.EKS.Cluster
	plan, err := migrate.Build(c.Context, migrate.Cluster{Account: cl.Account, Partition: cl.Partition}, snap.Doc, existing, iam.NewFromConfig(t.EKS.AWS))
	return plan, snap, err
}

func printMigration(c *cli.Context, plan migrate.Plan) error {
	if c.String("output") == "json" {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(plan)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "AWS-AUTH ENTRY\tOUTCOME\tACCESS ENTRY\tNOTE")
	for _, it := range plan.Items {
		target := ""
		if s := it.Spec; s != nil {
			target = s.Type + " " + s.PrincipalARN
			if s.Type == "STANDARD" {
				target += " " + output.IdentityColumns(s.Username, s.Groups)
			}
			for _, p := range s.Policies {
				target += " +" + accessentry.PolicyName(p.ARN)
			}
		}
		note := it.Reason
		if it.Blocks {
			note += " (blocks API mode)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", it.From, it.Outcome, target, note)
	}
	return tw.Flush()
}

// writeBackup saves aws-auth as a manifest that `kubectl apply -f` restores.
func writeBackup(c *cli.Context, cluster string, snap *awsauth.Snapshot) (string, error) {
	if !snap.Exists() {
		return "", nil
	}
	path := c.String("backup")
	if path == "" {
		path = fmt.Sprintf("aws-auth-backup-%s-%s.yaml", cluster, time.Now().UTC().Format("20060102T150405Z"))
	}
	cm := snap.Object.DeepCopy()
	cm.APIVersion, cm.Kind = "v1", "ConfigMap"
	cm.ResourceVersion, cm.UID, cm.ManagedFields, cm.CreationTimestamp = "", "", nil, metav1.Time{}
	b, err := sigsyaml.Marshal(cm)
	if err != nil {
		return "", err
	}
	// Never through a link, never over an existing file (whose 0644 mode
	// would stay): the backup says who may administer the cluster.
	if err := safefile.Create(path, b); err != nil {
		return "", fmt.Errorf("write aws-auth backup: %w", err)
	}
	abs, _ := filepath.Abs(path)
	return abs, nil
}
