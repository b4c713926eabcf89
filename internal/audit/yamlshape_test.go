package audit

import (
	"context"
	"strings"
	"testing"
)

// TestHiddenYAMLIsFlagged: a second YAML document in mapRoles and a key
// written twice in mapUsers are read silently, by EKS as by awsauth (the
// first document; the last value). audit says so, with the lines.
func TestHiddenYAMLIsFlagged(t *testing.T) {
	d := fixture(t, "hidden-yaml.yaml")
	if n := len(d.Entries()); n != 2 {
		t.Fatalf("awsauth reads %d entries, want 2 (the first document of mapRoles, and mapUsers)", n)
	}
	findings := Run(context.Background(), Input{Mode: "CONFIG_MAP", AWSAuth: d})
	want := map[string]struct{ subject, message string }{
		"multi-document": {"aws-auth data.mapRoles", "a second YAML document (starting at line 4 of the value): EKS reads only the first document"},
		"duplicate-key":  {"aws-auth data.mapUsers", `"groups" at lines 3 and 4`},
	}
	got := map[string]int{}
	for _, f := range findings {
		w, ok := want[f.Check]
		if !ok {
			continue
		}
		got[f.Check]++
		if f.Severity != Error || f.Subject != w.subject || !strings.Contains(f.Message, w.message) || f.Fix == "" {
			t.Errorf("%s = %+v, want error on %s with %q", f.Check, f, w.subject, w.message)
		}
	}
	for check := range want {
		if got[check] != 1 {
			t.Errorf("%s reported %d times, want once: %+v", check, got[check], findings)
		}
	}
	// Moot in API mode, where EKS ignores aws-auth: one finding says so.
	for _, f := range Run(context.Background(), Input{Mode: "API", AWSAuth: d}) {
		if _, ok := want[f.Check]; ok {
			t.Errorf("API mode: %+v", f)
		}
	}
}
