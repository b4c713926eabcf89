package output

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
)

func TestSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"arn:aws:iam::111122223333:role/Admin", "arn:aws:iam::111122223333:role/Admin"},
		{"système:équipe", "système:équipe"}, // printable non-ASCII stays
		{"admin\x1b[2K\x1b[1A", `admin\x1b[2K\x1b[1A`},
		{"a\nforged row", `a\x0aforged row`},
		{"a\tb\rc", `a\x09b\x0dc`},
		{"del\x7f", `del\x7f`},
		{"nul\x00", `nul\x00`},
		{"c1\u0085\u009b", `c1\u0085\u009b`},
		{"\u202esretsam:metsys", `\u202esretsam:metsys`},
		{"\u202a\u202b\u202c\u202d", `\u202a\u202b\u202c\u202d`},
		{"\u2066x\u2067y\u2068z\u2069", `\u2066x\u2067y\u2068z\u2069`},
		{"mark\u200e\u200f\u061c", `mark\u200e\u200f\u061c`},
		{"bad\xffutf8\xc3", `bad\xffutf8\xc3`},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Safe(tt.in); got != tt.want {
			t.Errorf("Safe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// hostileDoc is aws-auth as another tool (or an attacker with edit rights
// on the ConfigMap) may leave it: a username that erases the row above and
// prints a forged one, a group with a newline, a right-to-left override.
func hostileDoc() *awsauth.Document {
	return awsauth.Decode(map[string]string{
		"mapRoles": `- rolearn: arn:aws:iam::111122223333:role/Admin
  username: "admin\e[1A\e[2K"
  groups: ["system:masters\narn:aws:iam::111122223333:role/Fake  fake  viewers"]
- rolearn: arn:aws:iam::111122223333:role/dev
  username: "dev\t\u202Esretsam:metsys"
  groups: [developers]
`,
	})
}

// TestTableEscapesControlCharacters: table output printed usernames and
// groups raw, so a row could be erased or forged on a terminal. Golden
// file: testdata/golden/hostile.txt (UPDATE_GOLDEN=1 rewrites it).
func TestTableEscapesControlCharacters(t *testing.T) {
	rows := Rows(hostileDoc().Entries(), nil)
	rows = append(rows, AccessEntryRows([]accessentry.Entry{{PrincipalARN: "arn:aws:iam::111122223333:role/x", Type: "STANDARD", Username: "x\x1b]0;owned\x07", Groups: []string{"g\u2066"}}})...)
	var buf bytes.Buffer
	for _, layout := range []Layout{AWSAuthLayout, AccessEntryLayout, CombinedLayout} {
		if err := WriteRows(&buf, Table, rows, layout); err != nil {
			t.Fatal(err)
		}
	}
	checkGolden(t, "hostile.txt", buf.Bytes())
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 3*(len(rows)+1) {
		t.Errorf("%d lines for %d rows in 3 layouts: a control character made a row", n, len(rows))
	}
	for _, b := range buf.Bytes() {
		if (b < 0x20 && b != '\n') || b == 0x7f {
			t.Fatalf("raw control byte %#x in table:\n%s", b, buf.Bytes())
		}
	}
	if bytes.Contains(buf.Bytes(), []byte("\u202e")) || bytes.Contains(buf.Bytes(), []byte("\u2066")) {
		t.Errorf("raw bidi character in table:\n%s", buf.Bytes())
	}
}

// TestMachineOutputEscapes verifies what the table's escaping leaves to
// JSON and YAML: both escape control characters (YAML writes a value with
// a newline as an indented block, which cannot forge an item), and JSON
// decodes back to the exact value. Both leave bidi characters raw: valid
// JSON and YAML, and harmless to the programs these formats are for.
func TestMachineOutputEscapes(t *testing.T) {
	rows := Rows(hostileDoc().Entries(), nil)
	for _, f := range []Format{JSON, YAML} {
		var buf bytes.Buffer
		if err := WriteRows(&buf, f, rows, AWSAuthLayout); err != nil {
			t.Fatal(err)
		}
		for _, b := range buf.Bytes() {
			if (b < 0x20 && b != '\n') || b == 0x7f {
				t.Errorf("%s: raw control byte %#x:\n%s", f, b, buf.Bytes())
				break
			}
		}
		if !bytes.Contains(buf.Bytes(), []byte("\u202e")) {
			t.Errorf("%s: U+202E escaped or lost (the doc says it is kept raw):\n%s", f, buf.Bytes())
		}
		if f == JSON {
			var back []Row
			if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back[0].Username != rows[0].Username || back[1].Username != rows[1].Username {
				t.Errorf("JSON does not round-trip: %v %+v", err, back)
			}
		}
	}
}

func TestIdentityAndDiffEscape(t *testing.T) {
	for _, got := range []string{Identity("a\x1b[2J", []string{"g\nh", "\u202ex"}), IdentityColumns("a\x1b[2J", []string{"g\nh", "\u202ex"})} {
		if strings.ContainsAny(got, "\x1b\n\u202e") || !strings.Contains(got, `g\x0ah`) || !strings.Contains(got, `\u202ex`) {
			t.Errorf("identity not escaped: %q", got)
		}
	}
	var buf bytes.Buffer
	before := map[string]string{"mapRoles": "- rolearn: a\n  username: \"x\x1b[2K\"\n"}
	after := map[string]string{"mapRoles": "- rolearn: a\n  username: \"y\u202e\"\n"}
	if err := WriteDataDiff(&buf, "aws-auth", before, after); err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(buf.Bytes(), "\x1b\u202e") || !bytes.Contains(buf.Bytes(), []byte(`-  username: "x\x1b[2K"`)) || !bytes.Contains(buf.Bytes(), []byte(`+  username: "y\u202e"`)) {
		t.Errorf("diff not escaped:\n%s", buf.Bytes())
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", "golden", name)
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (UPDATE_GOLDEN=1 writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got\n%s\nwant\n%s", golden, got, want)
	}
}

func TestSafeText(t *testing.T) {
	for in, want := range map[string]string{
		"created arn:aws:iam::111122223333:role/a":         "created arn:aws:iam::111122223333:role/a",
		"line one\nline two\n":                             "line one\nline two\n",
		"mapped to \x1b[1A\x1b[2Kadmin\nnext \u202eline\r": `mapped to \x1b[1A\x1b[2Kadmin` + "\n" + `next \u202eline\x0d`,
	} {
		if got := SafeText(in); got != want {
			t.Errorf("SafeText(%q) = %q, want %q", in, got, want)
		}
	}
}
