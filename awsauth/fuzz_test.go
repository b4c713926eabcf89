package awsauth

import (
	"reflect"
	"testing"

	"github.com/iammap/iammap/mapping"
)

func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		"- rolearn: arn:aws:iam::111122223333:role/a\n  username: a\n  groups:\n    - system:masters\n",
		"- roleARN: x\n  sso: {permissionSetName: p, accountID: '111122223333'}\n",
		"[{\"userarn\": \"u\", \"groups\": [\"g\"]}]",
		"- 012345678901\n- 444455556666\n",
		"''",
		"  - rolearn: a\n    groups:\n      - x\n       - y\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		d := Decode(map[string]string{"mapRoles": text, "mapUsers": text, "mapAccounts": text})
		// Encode writes what EKS reads: a wrong-typed value as the empty
		// value EKS reads, so the problem notes do not survive it.
		set := withoutProblems(d.Set())
		data, err := Encode(set)
		if err != nil {
			t.Fatalf("Encode of decoded set: %v", err)
		}
		again := Decode(data)
		if errs := again.Errs(); len(errs) > 0 {
			t.Fatalf("Encode produced data that does not decode: %v\n%q", errs, data)
		}
		if got := withoutProblems(again.Set()); !reflect.DeepEqual(got, set) {
			t.Fatalf("round trip changed the set:\n%#v\n%#v", got, set)
		}
		// An edit either succeeds keeping every other item (setKey verifies
		// that) or is refused; it never panics.
		for _, src := range []mapping.Source{mapping.MapRoles, mapping.MapUsers} {
			_, _ = AddMapping(d, mapping.Mapping{Source: src, ARN: "arn:aws:iam::111122223333:role/fuzz", Username: "f"}, false)
		}
		_, _ = AddAccount(d, "111122223333")
	})
}

func withoutProblems(s mapping.Set) mapping.Set {
	for _, ms := range [][]mapping.Mapping{s.Roles, s.Users} {
		for i := range ms {
			ms[i].Problems = nil
		}
	}
	return s
}
