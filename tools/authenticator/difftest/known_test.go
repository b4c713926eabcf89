package difftest

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// knownDifference is a difference that is a bug on iammap's side, reported
// and not fixed yet. Its corpus case (and caller, or every caller of the
// case) reproduces it; Class, when set, recognises the variants of the same
// bug that the fuzzer finds, so that a fuzz run goes on to find other ones.
//
// The tests log every known difference that shows, and fail on it unless
// IAMMAP_DIFF_ALLOW_KNOWN=1. TestDifferentialCorpus also fails when a
// known difference no longer shows: remove it from the list once fixed.
type knownDifference struct {
	Case   string // corpus case, "file.txtar/case"
	Caller string // the caller's STS ARN; "" for every caller of the case
	Bug    string // what iammap gets wrong
	// Class reports whether a comparison is entirely explained by this bug.
	Class func(c comparison) bool
}

// knownDifferences is empty: the two bugs this test found (mapAccounts that
// yaml.v2 stops decoding part-way, map-accounts.txtar/decode-error-after-valid
// and bad-tag-after-valid; a user path with an empty segment,
// misc.txtar/user-path-double-slash) are fixed, and their cases stay in the
// corpus.
var knownDifferences = []knownDifference{}

// allowedDifference is a difference that is deliberate: iammap answers
// otherwise than the authenticator on purpose. The tests log it and pass.
type allowedDifference struct {
	Why   string
	Match func(c comparison) bool
}

// allowedDifferences is empty: iammap means to answer exactly as
// aws-iam-authenticator v0.7.18 for every caller STS can return.
var allowedDifferences = []allowedDifference{}

func allowed(c comparison) *allowedDifference {
	for i := range allowedDifferences {
		if allowedDifferences[i].Match(c) {
			return &allowedDifferences[i]
		}
	}
	return nil
}

// allowKnown reads IAMMAP_DIFF_ALLOW_KNOWN: 1 or true lets the known
// differences pass (they are still logged); unset, 0 or false does not;
// anything else fails, so that a typo is neither silently strict nor lax.
func allowKnown(t testing.TB) bool {
	switch v := os.Getenv("IAMMAP_DIFF_ALLOW_KNOWN"); strings.ToLower(v) {
	case "1", "true":
		return true
	case "", "0", "false":
		return false
	default:
		t.Fatalf("IAMMAP_DIFF_ALLOW_KNOWN=%q: want 1 (or true) to let the known differences pass, 0 (or false) or unset not to", v)
		return false
	}
}

// knownSet finds the known differences: by their corpus case's data (and
// caller), or by their Class.
type knownSet struct {
	byData map[string][]int // dataKey of the case's data
}

func newKnownSet(t testing.TB, cases []corpusCase) knownSet {
	t.Helper()
	byName := map[string]corpusCase{}
	for _, tc := range cases {
		byName[tc.Name] = tc
	}
	k := knownSet{byData: map[string][]int{}}
	for i, d := range knownDifferences {
		tc, ok := byName[d.Case]
		if !ok {
			t.Fatalf("knownDifferences[%d] names corpus case %q, which does not exist", i, d.Case)
		}
		key := dataKey(tc.Data)
		k.byData[key] = append(k.byData[key], i)
	}
	return k
}

// find returns the known difference c is, -1 if none. byClass also tries
// each Class (the fuzz target does; the corpus test holds each case to its
// own entries, so that it can tell when one stops showing).
func (k knownSet) find(c comparison, byClass bool) int {
	for _, i := range k.byData[dataKey(c.Data)] {
		if d := knownDifferences[i]; d.Caller == "" || d.Caller == c.Caller.ARN {
			return i
		}
	}
	if byClass {
		for i, d := range knownDifferences {
			if d.Class != nil && d.Class(c) {
				return i
			}
		}
	}
	return -1
}

// verdict is what the tests make of one comparison.
type verdict int

const (
	same verdict = iota
	deliberate
	known
	unexpected
)

// judge classifies a comparison and logs or fails accordingly; for a known
// difference it also returns its index in knownDifferences.
func judge(t testing.TB, c comparison, k knownSet, byClass, allowKnownDiffs bool) (verdict, int) {
	t.Helper()
	if !c.differs() {
		return same, -1
	}
	if i := k.find(c, byClass); i >= 0 {
		d := knownDifferences[i]
		msg := fmt.Sprintf("known difference (iammap bug, knownDifferences[%d], %s): %s\n%s", i, d.Case, d.Bug, c.report())
		if allowKnownDiffs {
			t.Log(msg)
		} else {
			t.Error(msg + "\n(IAMMAP_DIFF_ALLOW_KNOWN=1 lets known differences pass)")
		}
		return known, i
	}
	if a := allowed(c); a != nil {
		t.Logf("deliberate difference (%s):\n%s", a.Why, c.report())
		return deliberate, -1
	}
	t.Errorf("iammap differs from aws-iam-authenticator v0.7.18:\n%s", c.report())
	return unexpected, -1
}
