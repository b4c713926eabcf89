package output

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/iammap/iammap/mapping"
)

// Safe renders s for a terminal: C0 controls (tab and newline included),
// DEL, C1 controls, Unicode bidi formatting characters ([mapping.IsControl])
// and invalid UTF-8 become visible escapes (\x1b, \u202e); everything else
// is unchanged.
//
// Usernames, groups and ARNs come from aws-auth, which any tool (or anyone
// who may edit the ConfigMap) can write; printed raw, an escape sequence
// can clear or rewrite rows of `iammap get` and `iammap audit`, a newline
// or tab can forge a row or shift columns, and a right-to-left override can
// make "system:masters" read as something else. The tables, diffs and
// identities of this package and audit.WriteTable pass every cell through
// Safe; messages that quote such values should too. JSON and YAML
// output escape control characters themselves (YAML writes a value with a
// newline as an indented block); both leave bidi characters raw, which is
// valid and harmless to the programs those formats are for.
func Safe(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case mapping.IsControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// SafeAll is [Safe] for each item of a list, such as groups.
func SafeAll(items []string) []string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = Safe(s)
	}
	return out
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			// Non-ASCII: decide rune by rune (the usual name is ASCII).
			if c < 0x80 {
				return true
			}
			for _, r := range s[i:] {
				if r == utf8.RuneError || mapping.IsControl(r) {
					return true
				}
			}
			return false
		}
	}
	return false
}

// SafeText is [Safe] for a message that may span lines: each line is
// escaped and the newlines between them are kept. A message's own text is
// iammap's; what it quotes (usernames, groups, ARNs) may not be, and a
// control character in it could rewrite the lines printed before.
func SafeText(s string) string {
	if !needsEscape(s) {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Safe(l)
	}
	return strings.Join(lines, "\n")
}
