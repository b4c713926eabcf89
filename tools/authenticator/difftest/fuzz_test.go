package difftest

import (
	"testing"

	"github.com/iammap/iammap/awsauth"
)

// FuzzDifferential fuzzes the three aws-auth keys and a selector of the
// caller among the pool derived from them (see pool: the fixed callers, the
// callers the ARN-like strings of the texts stand for, callers in the
// mapAccounts accounts). It is seeded with every corpus case, once (and
// TestDifferentialCorpus already runs every case for every caller): with a
// seed per case and caller, the 20 s run of `make test` spent all its time
// gathering baseline coverage and never mutated an input. The body does no
// I/O.
func FuzzDifferential(f *testing.F) {
	cases := loadCorpus(f)
	knownIdx := newKnownSet(f, cases)
	allowKnownDiffs := allowKnown(f)
	for i, tc := range cases {
		f.Add(tc.Data["mapRoles"], tc.Data["mapUsers"], tc.Data["mapAccounts"], uint8(i))
	}
	f.Fuzz(func(t *testing.T, mapRoles, mapUsers, mapAccounts string, sel uint8) {
		data := map[string]string{"mapRoles": mapRoles, "mapUsers": mapUsers, "mapAccounts": mapAccounts}
		set := awsauth.Decode(data).Set()
		callers := pool(data, set)
		c := callers[int(sel)%len(callers)]
		cmp, ok := compare(data, set, c)
		if !ok {
			t.Fatalf("pool caller %s is not one the authenticator takes", c)
		}
		judge(t, cmp, knownIdx, true, allowKnownDiffs)
	})
}
