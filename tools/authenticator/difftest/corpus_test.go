package difftest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iammap/iammap/awsauth"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The corpus is testdata/*.txtar, one file per class of input, and the
// authenticator's own aws-auth fixtures, testdata/authenticator/*.yaml.
//
// A txtar file's comment says what its class is about; each case is a set
// of sections named CASE/KEY:
//
//	-- CASE/mapRoles --     aws-auth data keys, each optional; a case with
//	-- CASE/mapUsers --     none of them has no aws-auth at all
//	-- CASE/mapAccounts --
//	-- CASE/callers --      optional: one caller a line,
//	                        ARN [USERID [ACCESSKEYID]] ('#' starts a comment)
//
// A caller line gives an ARN as STS returns it; the account is the ARN's,
// and a missing USERID or access key is what STS gives for that kind of
// principal (see stsCaller). Besides these, every case is run for the
// callers derived from its data (see pool): so a case needs callers only
// when the derived ones miss the point (an instance id of 8 characters, a
// caller the ARNs in the data do not name).

// corpusCase is one aws-auth and the callers written for it.
type corpusCase struct {
	File, Case string
	Name       string // File + "/" + Case
	Data       map[string]string
	Callers    []caller
}

var dataKeys = []string{"mapRoles", "mapUsers", "mapAccounts"}

func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in testdata/*.txtar (%v)", err)
	}
	var cases []corpusCase
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Base(file)
		comment, sections := parseTxtar(b)
		if strings.TrimSpace(comment) == "" {
			t.Errorf("%s: no comment saying what the class is", base)
		}
		var order []string
		byCase := map[string]*corpusCase{}
		for _, s := range sections {
			name, key, ok := strings.Cut(s.name, "/")
			if !ok || name == "" {
				t.Fatalf("%s: section %q is not CASE/KEY", base, s.name)
			}
			tc := byCase[name]
			if tc == nil {
				tc = &corpusCase{File: base, Case: name, Name: base + "/" + name}
				byCase[name] = tc
				order = append(order, name)
			}
			switch {
			case slices.Contains(dataKeys, key):
				if tc.Data == nil {
					tc.Data = map[string]string{}
				}
				if _, dup := tc.Data[key]; dup {
					t.Fatalf("%s: %s twice", base, s.name)
				}
				tc.Data[key] = s.data
			case key == "callers":
				for i, line := range strings.Split(s.data, "\n") {
					if j := strings.Index(line, "#"); j >= 0 {
						line = line[:j]
					}
					fields := strings.Fields(line)
					if len(fields) == 0 {
						continue
					}
					if len(fields) > 3 {
						t.Fatalf("%s: %s line %d: want ARN [USERID [ACCESSKEYID]], got %q", base, s.name, i+1, line)
					}
					c := stsCaller(fields[0])
					if len(fields) > 1 && fields[1] != "-" {
						c.UserID = fields[1]
					}
					if len(fields) > 2 {
						c.AccessKeyID = fields[2]
					}
					tc.Callers = append(tc.Callers, c)
				}
			default:
				t.Fatalf("%s: section %q: key %q is not one of %v or callers", base, s.name, key, dataKeys)
			}
		}
		for _, name := range order {
			cases = append(cases, *byCase[name])
		}
	}
	return append(cases, loadAuthenticatorFixtures(t)...)
}

// loadAuthenticatorFixtures reads aws-iam-authenticator v0.7.18's ConfigMap
// fixtures the way its yaml_test.go does: YAML to JSON, then a
// corev1.ConfigMap; one that does not decode (aws-auth-missing-bar.yaml)
// is no aws-auth at all.
func loadAuthenticatorFixtures(t testing.TB) []corpusCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "authenticator", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata/authenticator (%v)", err)
	}
	var cases []corpusCase
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		j, err := utilyaml.ToJSON(b)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var cm corev1.ConfigMap
		if err := json.Unmarshal(j, &cm); err != nil {
			cm = corev1.ConfigMap{}
		}
		base := filepath.Base(file)
		cases = append(cases, corpusCase{File: "authenticator", Case: base, Name: "authenticator/" + base, Data: cm.Data})
	}
	return cases
}

type txtarSection struct {
	name, data string
}

// parseTxtar reads the txtar format (golang.org/x/tools/txtar, which this
// module does not require): a comment, then sections that each start with
// a line "-- NAME --".
func parseTxtar(b []byte) (comment string, sections []txtarSection) {
	var cur *txtarSection
	var text bytes.Buffer
	flush := func() {
		if cur == nil {
			comment = text.String()
		} else {
			cur.data = text.String()
			sections = append(sections, *cur)
		}
		text.Reset()
	}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i+1], b[i+1:]
		} else {
			b = nil
		}
		l := strings.TrimRight(string(line), "\r\n")
		if strings.HasPrefix(l, "-- ") && strings.HasSuffix(l, " --") && len(l) > 6 {
			flush()
			cur = &txtarSection{name: strings.TrimSpace(l[3 : len(l)-3])}
			continue
		}
		text.Write(line)
	}
	flush()
	return comment, sections
}

// TestDifferentialCorpus runs every corpus case for its written and derived
// callers, and fails on every difference that is neither deliberate
// (allowedDifferences) nor a known iammap bug let through by
// IAMMAP_DIFF_ALLOW_KNOWN=1 (knownDifferences).
func TestDifferentialCorpus(t *testing.T) {
	cases := loadCorpus(t)
	knownIdx := newKnownSet(t, cases)
	allowKnownDiffs := allowKnown(t)
	shown := make([]bool, len(knownDifferences))
	var compared, differences int
	files := map[string][]corpusCase{}
	var fileOrder []string
	for _, tc := range cases {
		if files[tc.File] == nil {
			fileOrder = append(fileOrder, tc.File)
		}
		files[tc.File] = append(files[tc.File], tc)
	}
	for _, file := range fileOrder {
		t.Run(file, func(t *testing.T) {
			for _, tc := range files[file] {
				t.Run(tc.Case, func(t *testing.T) {
					set := awsauth.Decode(tc.Data).Set()
					callers := slices.Clone(tc.Callers)
					for _, c := range tc.Callers {
						if !stsCanReturn(c) {
							t.Errorf("caller %s: not an answer STS can give (or the authenticator refuses it); fix the corpus", c)
						}
					}
					for _, c := range pool(tc.Data, set) {
						if !slices.ContainsFunc(callers, func(d caller) bool { return d == c }) {
							callers = append(callers, c)
						}
					}
					for _, c := range callers {
						cmp, ok := compare(tc.Data, set, c)
						if !ok {
							continue
						}
						compared++
						switch v, i := judge(t, cmp, knownIdx, false, allowKnownDiffs); v {
						case known:
							shown[i] = true
							differences++
						case deliberate, unexpected:
							differences++
						}
					}
				})
			}
		})
	}
	// With -run naming subtests, some cases did not run.
	partial := strings.Contains(flag.Lookup("test.run").Value.String(), "/")
	for i, k := range knownDifferences {
		if !shown[i] && !partial {
			t.Errorf("knownDifferences[%d] (%s, caller %q) no longer differs: remove it from the list", i, k.Case, k.Caller)
		}
	}
	t.Logf("%d corpus cases, %d comparisons (case x caller), %d differences", len(cases), compared, differences)
}
