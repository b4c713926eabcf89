package serviceaccess

import (
	"slices"
	"strings"
	"testing"
)

// The EMR Role grants what eksctl's emr-containers Role grants (make parity
// found persistentvolumeclaims over-granted and volcano podgroups missing):
// checked rule by rule, with the verbs in eksctl's order.
func TestEMRRoleIsEksctls(t *testing.T) {
	want := map[string]string{
		"/namespaces": "get",
		"/serviceaccounts,services,configmaps,events,pods,pods/log": "get,list,watch,describe,create,edit,delete,deletecollection,annotate,patch,label",
		"/secrets":                                     "create,patch,delete,watch",
		"apps/statefulsets,deployments":                "get,list,watch,describe,create,edit,delete,annotate,patch,label",
		"batch/jobs":                                   "get,list,watch,describe,create,edit,delete,annotate,patch,label",
		"extensions,networking.k8s.io/ingresses":       "get,list,watch,describe,create,edit,delete,annotate,patch,label",
		"rbac.authorization.k8s.io/roles,rolebindings": "get,list,watch,describe,create,edit,delete,deletecollection,annotate,patch,label",
		"/persistentvolumeclaims":                      "create,list,delete,deletecollection",
		"scheduling.volcano.sh/podgroups":              "get,list,watch,create,delete,update",
	}
	role := emrRole("spark")
	if len(role.Rules) != len(want) {
		t.Errorf("%d rules, want %d", len(role.Rules), len(want))
	}
	var seen []string
	for _, r := range role.Rules {
		key := strings.Join(r.APIGroups, ",") + "/" + strings.Join(r.Resources, ",")
		seen = append(seen, key)
		if got := strings.Join(r.Verbs, ","); got != want[key] {
			t.Errorf("rule %s: verbs %s, want %s", key, got, want[key])
		}
	}
	for key := range want {
		if !slices.Contains(seen, key) {
			t.Errorf("rule %s missing", key)
		}
	}
}
