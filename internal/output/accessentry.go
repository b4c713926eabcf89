package output

import (
	"encoding/json"
	"io"

	"github.com/iammap/iammap/accessentry"
	sigsyaml "sigs.k8s.io/yaml"
)

// AccessEntrySummary is one access entry as `eksctl get accessentry -o
// json|yaml` prints it: eksctl's accessentry.Summary
// (pkg/actions/accessentry/getter.go), whose keys are principalARN,
// kubernetesGroups and accessPolicies, the last two left out when empty.
// eksctl prints neither the username nor the type; iammap adds them under the
// keys eksctl's ClusterConfig uses for them (kubernetesUsername, type in
// v1alpha5.AccessEntry), so they clash with nothing and a row is also a valid
// item of a ClusterConfig's accessEntries.
type AccessEntrySummary struct {
	PrincipalARN     string                `json:"principalARN"`
	KubernetesGroups []string              `json:"kubernetesGroups,omitempty"`
	AccessPolicies   []AccessPolicySummary `json:"accessPolicies,omitempty"`
	// iammap's additions.
	KubernetesUsername string `json:"kubernetesUsername,omitempty"`
	Type               string `json:"type,omitempty"`
}

// AccessPolicySummary is eksctl's v1alpha5.AccessPolicy: the full policy ARN
// and its scope.
type AccessPolicySummary struct {
	PolicyARN   string      `json:"policyARN"`
	AccessScope AccessScope `json:"accessScope"`
}

// AccessScope is eksctl's v1alpha5.AccessScope: type is EKS's
// AccessScopeType, "cluster" or "namespace".
type AccessScope struct {
	Type       string   `json:"type"`
	Namespaces []string `json:"namespaces,omitempty"`
}

// AccessEntrySummaries converts access entries to eksctl's printed shape.
// A policy without namespaces is cluster-scoped, as EKS stores it.
func AccessEntrySummaries(entries []accessentry.Entry) []AccessEntrySummary {
	out := make([]AccessEntrySummary, 0, len(entries))
	for _, e := range entries {
		s := AccessEntrySummary{PrincipalARN: e.PrincipalARN, KubernetesGroups: e.Groups, KubernetesUsername: e.Username, Type: e.Type}
		for _, p := range e.Policies {
			scope := AccessScope{Type: "cluster"}
			if len(p.Namespaces) > 0 {
				scope = AccessScope{Type: "namespace", Namespaces: p.Namespaces}
			}
			s.AccessPolicies = append(s.AccessPolicies, AccessPolicySummary{PolicyARN: p.ARN, AccessScope: scope})
		}
		out = append(out, s)
	}
	return out
}

// WriteAccessEntries prints access entries as `iammap get accessentry` does:
// JSON and YAML in eksctl's shape ([AccessEntrySummary]; `[]` when there are
// none, as eksctl prints), and a table with iammap's access-entry columns,
// which say more than eksctl's counts of groups and policies.
func WriteAccessEntries(w io.Writer, f Format, entries []accessentry.Entry) error {
	switch f {
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "    ")
		return enc.Encode(AccessEntrySummaries(entries))
	case YAML:
		b, err := sigsyaml.Marshal(AccessEntrySummaries(entries))
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return WriteRows(w, f, AccessEntryRows(entries), AccessEntryLayout)
}
