package audit

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/iammap/iammap/awsauth"
)

// duplicatesDoc is aws-auth with n entries for each of three principals:
// one role mapped n times (shadowed duplicates), one user mapped n times
// identically, and one user written in n letter-case spellings with
// different usernames, which EKS picks between at random (undefined); and
// n distinct roles sharing a group no binding names.
func duplicatesDoc(n int) *awsauth.Document {
	var roles, users strings.Builder
	for i := range n {
		fmt.Fprintf(&roles, "- rolearn: arn:aws:iam::111122223333:role/dev\n  username: dev%d\n  groups: [developers]\n", i%2)
		fmt.Fprintf(&roles, "- rolearn: arn:aws:iam::111122223333:role/r%d\n  username: r%d\n  groups: [unbound]\n", i, i)
		fmt.Fprintf(&users, "- userarn: arn:aws:iam::111122223333:user/alice\n  username: alice\n  groups: [viewers]\n")
		name := []byte("bobbobbobbobbob") // 2^15 spellings
		for j := range name {
			if i>>j&1 == 1 {
				name[j] -= 'a' - 'A'
			}
		}
		fmt.Fprintf(&users, "- userarn: arn:aws:iam::111122223333:user/%s\n  username: bob%d\n  groups: [viewers]\n", name, i)
	}
	return awsauth.Decode(map[string]string{"mapRoles": roles.String(), "mapUsers": users.String()})
}

func tableBytes(t testing.TB, fs []Finding) int {
	var buf bytes.Buffer
	if err := WriteTable(&buf, fs); err != nil {
		t.Fatal(err)
	}
	return buf.Len()
}

// TestDuplicatesGrouped: audit's output grew with the square of duplicate
// entries (8,000 duplicates: 1 GB). Each principal now gets one finding,
// naming at most maxRefs entries and how many more, so the output does
// not grow with the duplicates at all.
func TestDuplicatesGrouped(t *testing.T) {
	sizes := map[int]int{}
	for _, n := range []int{20, 400} {
		fs := Run(context.Background(), Input{Mode: "CONFIG_MAP", AWSAuth: duplicatesDoc(n), BoundGroups: map[string]bool{"developers": true, "viewers": true}})
		checks := map[string]int{}
		for _, f := range fs {
			checks[f.Check]++
			if strings.Count(f.Message, "Roles[")+strings.Count(f.Message, "Users[") > maxRefs+1 {
				t.Errorf("%s names more than %d entries: %s", f.Check, maxRefs, f.Message)
			}
		}
		// duplicate: role/dev and user/alice; undefined: bob's spellings;
		// dead-group: "unbound", used by the n distinct roles.
		want := map[string]int{"duplicate": 2, "undefined": 1, "dead-group": 1}
		for check, c := range want {
			if checks[check] != c {
				t.Errorf("n=%d: %s reported %d times, want %d: %v", n, check, checks[check], c, checks)
			}
		}
		for _, f := range fs {
			if f.Check == "undefined" && !strings.Contains(f.Message, fmt.Sprintf("%d entries match the same callers", n)) ||
				!strings.Contains(f.Message, fmt.Sprintf("and %d more", n-maxRefs)) && f.Check != "case-variant-duplicate" {
				t.Errorf("n=%d: %s: %s", n, f.Check, f.Message)
			}
		}
		sizes[n] = tableBytes(t, fs)
	}
	// Only the counts' digits differ.
	if sizes[400] > sizes[20]+32 {
		t.Errorf("table grows with the duplicates: %d bytes for 20 each, %d for 400", sizes[20], sizes[400])
	}
}

func TestRefList(t *testing.T) {
	refs := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("r%d", i))
		}
		return out
	}
	for _, tt := range []struct {
		refs  []string
		total int
		want  string
	}{
		{refs(1), 1, "r0"},
		{refs(maxRefs), maxRefs, "r0, r1, r2, r3, r4, r5, r6, r7, r8, r9"},
		{refs(maxRefs + 1), maxRefs + 1, "r0, r1, r2, r3, r4, r5, r6, r7, r8, r9 and 1 more"},
		{refs(maxRefs + 1), 8000, "r0, r1, r2, r3, r4, r5, r6, r7, r8, r9 and 7990 more"},
	} {
		if got := refList(tt.refs, tt.total); got != tt.want {
			t.Errorf("refList(%d of %d) = %q, want %q", len(tt.refs), tt.total, got, tt.want)
		}
	}
}

// BenchmarkAuditDuplicates runs audit (and renders its table) on
// duplicatesDoc: n entries for each of three principals, and n distinct
// roles.
func BenchmarkAuditDuplicates(b *testing.B) {
	for _, n := range []int{1000, 2000} {
		d := duplicatesDoc(n)
		b.Run(fmt.Sprintf("entries=%d", 4*n), func(b *testing.B) {
			var out int
			for b.Loop() {
				out = tableBytes(b, Run(context.Background(), Input{Mode: "CONFIG_MAP", AWSAuth: d, BoundGroups: map[string]bool{}}))
			}
			b.ReportMetric(float64(out), "table-bytes")
		})
	}
}
