package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/internal/accesspolicy"
	"github.com/iammap/iammap/internal/cluster"
	"github.com/iammap/iammap/internal/explain"
	"github.com/iammap/iammap/internal/output"
	"github.com/iammap/iammap/mapping"
	"github.com/urfave/cli/v2"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Usage:     "what can an IAM identity do in the cluster, and why (or --can-i VERB RESOURCE for one yes/no)",
		ArgsUsage: "[RESOURCE, with --can-i: pods, pods/log, deployments.apps, nodes, ...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "arn", Aliases: []string{"principal-arn"}, Required: true, Usage: "IAM role, user or assumed-role `ARN`"},
			&cli.StringFlag{Name: "session-name", Usage: "session name for {{SessionName}} templates of a role (default: the assumed-role ARN's; with none, templates are shown as written). IAM users have no session: EKS renders it empty"},
			&cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Value: "default", Usage: "namespace of namespaced resources"},
			&cli.StringFlag{Name: "can-i", Usage: "answer yes or no for `VERB` on the RESOURCE argument (exit 0 yes, 1 no)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "table or json"},
		},
		Action: runExplain,
	}
}

// commonResources are summarised for everyone; resources named in the
// identity's rules are added.
var commonResources = []explain.Resource{
	{Resource: "pods", Namespaced: true}, {Resource: "services", Namespaced: true}, {Resource: "configmaps", Namespaced: true},
	{Resource: "secrets", Namespaced: true}, {Resource: "serviceaccounts", Namespaced: true},
	{Group: "apps", Resource: "deployments", Namespaced: true}, {Group: "apps", Resource: "statefulsets", Namespaced: true},
	{Group: "apps", Resource: "daemonsets", Namespaced: true}, {Group: "batch", Resource: "jobs", Namespaced: true},
	{Group: "networking.k8s.io", Resource: "ingresses", Namespaced: true},
	{Group: "rbac.authorization.k8s.io", Resource: "roles", Namespaced: true}, {Group: "rbac.authorization.k8s.io", Resource: "rolebindings", Namespaced: true},
	{Resource: "namespaces"}, {Resource: "nodes"}, {Resource: "persistentvolumes"},
	{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, {Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
}

var clusterScoped = map[string]bool{"namespaces": true, "nodes": true, "persistentvolumes": true, "clusterroles": true, "clusterrolebindings": true, "storageclasses": true, "customresourcedefinitions": true}

func runExplain(c *cli.Context) error {
	u := newUI(c)
	if f := c.String("output"); f != "table" && f != "json" {
		return badFlags("unknown output format %q: use table or json", f)
	}
	verb := c.String("can-i")
	ns := c.String("namespace")
	// Flags after RESOURCE (`--can-i delete pods -n team-a`, as kubectl
	// takes them) are not parsed by urfave/cli: take the namespace here.
	var args []string
	rest := c.Args().Slice()
	for i := 0; i < len(rest); i++ {
		switch a := rest[i]; {
		case (a == "-n" || a == "--namespace") && i+1 < len(rest):
			ns = rest[i+1]
			i++
		case strings.HasPrefix(a, "--namespace="):
			ns = strings.TrimPrefix(a, "--namespace=")
		case strings.HasPrefix(a, "-"):
			return badFlags("unexpected flag %q after the resource", a)
		default:
			args = append(args, a)
		}
	}
	if verb != "" && len(args) != 1 {
		return badFlags("--can-i %s needs one RESOURCE argument, such as pods or deployments.apps", verb)
	}
	if verb == "" && len(args) > 0 {
		return badFlags("unexpected argument %q (a RESOURCE goes with --can-i VERB)", args[0])
	}
	p, _, err := mapping.ParsePrincipal(c.String("arn"))
	if err != nil {
		return err
	}
	// What the authenticator knows of the caller: the session of an
	// assumed-role ARN or --session-name; none for users, the root and
	// federated users. A role with no session named stands for any of its
	// sessions, with templates left as written.
	caller, err := mapping.CallerFor(c.String("arn"), c.String("session-name"))
	if err != nil {
		return err
	}
	caller.AnySession = p.Kind == mapping.KindRole && caller.SessionName == ""
	principal := c.String("arn")
	if strings.Contains(principal, ":sts::") {
		principal = p.ARN
	}
	t, err := resolveTarget(c, u)
	if err != nil {
		return err
	}
	cl, err := loadExplainCluster(c, t)
	if err != nil {
		return err
	}
	id := cl.Identify(principal, caller)
	if verb != "" {
		group, resource, sub := explain.ParseResource(args[0])
		reqNS := ns
		if clusterScoped[resource] {
			reqNS = ""
		}
		d := cl.Decide(id, accesspolicy.Request{ResourceRequest: true, Verb: verb, APIGroup: group, Resource: resource, Subresource: sub, Namespace: reqNS})
		if c.String("output") == "json" {
			if err := json.NewEncoder(c.App.Writer).Encode(d); err != nil {
				return err
			}
		} else {
			fmt.Fprintln(c.App.Writer, map[bool]string{true: "yes", false: "no"}[d.Allowed])
			u.info("%s", d.Reason)
		}
		if !d.Allowed {
			return exitStatus(1)
		}
		return nil
	}
	resources := append([]explain.Resource{}, commonResources...)
	seen := map[string]bool{}
	for _, r := range resources {
		seen[r.Name()] = true
	}
	if id.Mapped {
		for _, g := range cl.RBAC.Grants(id.Username, append(id.Groups, "system:authenticated")) {
			for _, rule := range g.Rules {
				for _, grp := range rule.APIGroups {
					for _, res := range rule.Resources {
						r := explain.Resource{Group: grp, Resource: res, Namespaced: !clusterScoped[res]}
						if grp != "*" && res != "*" && !strings.Contains(res, "/") && !seen[r.Name()] {
							seen[r.Name()] = true
							resources = append(resources, r)
						}
					}
				}
			}
		}
	}
	rows := cl.Summarise(id, ns, resources)
	if c.String("output") == "json" {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Identity  explain.Identity `json:"identity"`
			Namespace string           `json:"namespace"`
			Resources []explain.Row    `json:"resources"`
		}{id, ns, rows})
	}
	w := c.App.Writer
	fmt.Fprintln(w, c.String("arn"))
	if id.Refused != "" {
		fmt.Fprintf(w, "  refused: %s: %s\n  every request gets 401 Unauthorized\n", id.Via, id.Refused)
		return nil
	}
	if !id.Mapped {
		fmt.Fprintf(w, "  not mapped: %s\n  every request gets 401 Unauthorized\n", id.Via)
		return nil
	}
	if id.Undefined() {
		fmt.Fprintf(w, "  UNDEFINED: several aws-auth entries match with different results, and EKS picks one at random at each sign-in:\n")
		for _, o := range id.Outcomes() {
			if o.Refused != "" {
				fmt.Fprintf(w, "    %s: refused (%s)\n", o.Via, o.Refused)
				continue
			}
			fmt.Fprintf(w, "    %s: %s\n", o.Via, output.Identity(o.Username, o.Groups))
		}
		fmt.Fprintln(w, "  the table shows what every choice allows; a verb only some choices allow shows -")
	}
	var policies []string
	for _, pol := range id.Policies {
		policies = append(policies, accessentry.PolicyName(pol.ARN)+"("+pol.Scope()+")")
	}
	fmt.Fprintf(w, "  mapped by:       %s\n  username:        %s\n  groups:          %s\n  access policies: %s\n\n", id.Via, id.Username, strings.Join(append(id.Groups, "system:authenticated"), ", "), orDash(strings.Join(policies, ", ")))
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "RESOURCE (namespace %s)\t%s\tVIA\n", ns, strings.ToUpper(strings.Join(explain.Verbs, "\t")))
	for _, r := range rows {
		var cells []string
		vias := map[string]bool{}
		for _, v := range explain.Verbs {
			if why, ok := r.Allowed[v]; ok {
				cells = append(cells, "yes")
				vias[why] = true
			} else {
				cells = append(cells, "-")
			}
		}
		var via []string
		for v := range vias {
			via = append(via, v)
		}
		sort.Strings(via)
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Resource, strings.Join(cells, "\t"), strings.Join(via, "; "))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// loadExplainCluster reads what decides access: mappings and RBAC.
func loadExplainCluster(c *cli.Context, t *cluster.Target) (explain.Cluster, error) {
	cl := explain.Cluster{Access: mapping.Access{Mode: t.Mode()}}
	if t.EKS != nil && cl.Mode.UsesAccessEntries() {
		entries, err := t.AccessEntries().List(c.Context)
		if err != nil {
			return cl, err
		}
		cl.Entries = entries
	}
	set, err := t.AWSAuthSet(c.Context)
	if err != nil {
		return cl, err
	}
	cl.AWSAuth = set
	cs, err := t.Kubernetes(c.Context)
	if err != nil {
		return cl, err
	}
	rbac, err := explain.ReadRBAC(c.Context, cs)
	var re *explain.ReadError
	if errors.As(err, &re) && re.Hint() != "" {
		// Name the read refused: the generic forbidden hint is about aws-auth's configmaps.
		return cl, withHint(err, re.Hint())
	}
	if err != nil {
		return cl, err
	}
	cl.RBAC = rbac
	return cl, nil
}
