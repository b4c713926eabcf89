package app

import (
	"slices"
	"testing"
)

// TestJoinVerboseLevel checks which `-v N` spellings become `-v=N`, and
// that nothing else is touched.
func TestJoinVerboseLevel(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"iammap", "-v", "4", "get"}, []string{"iammap", "-v=4", "get"}},
		{[]string{"iammap", "get", "--verbose", "0"}, []string{"iammap", "get", "--verbose=0"}},
		{[]string{"iammap", "get", "--verbose"}, []string{"iammap", "get", "--verbose"}},
		{[]string{"iammap", "--verbose", "get"}, []string{"iammap", "--verbose", "get"}},
		{[]string{"iammap", "get", "-v=2"}, []string{"iammap", "get", "-v=2"}},
		{[]string{"iammap", "get", "--", "-v", "4"}, []string{"iammap", "get", "--", "-v", "4"}},
		{[]string{"-v", "4"}, []string{"-v", "4"}}, // args[0] is the program
		{[]string{"iammap", "rollback", "--to", "3", "-v", "x"}, []string{"iammap", "rollback", "--to", "3", "-v", "x"}},
	} {
		if got := joinVerboseLevel(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("joinVerboseLevel(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestVerbositySet(t *testing.T) {
	for in, want := range map[string]int{"true": levelDebug, "false": levelInfo, "0": 0, "2": levelWarning, "5": levelMax} {
		v := verbosity{level: levelInfo}
		if err := v.Set(in); err != nil || v.level != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, v.level, err, want)
		}
	}
	for _, in := range []string{"6", "-1", "loud", ""} {
		v := verbosity{}
		if err := v.Set(in); err == nil {
			t.Errorf("Set(%q) accepted", in)
		}
	}
}
