package mapping

import (
	"fmt"
	"unicode/utf8"
)

// IsControl reports the runes a terminal acts on instead of showing: C0
// controls (tab and newline included), DEL, C1 controls, and the Unicode
// bidi embeddings, overrides, isolates and marks (U+202A–U+202E,
// U+2066–U+2069, U+200E, U+200F, U+061C), which reorder what follows them.
// iammap refuses them in the usernames and groups it writes, and escapes
// them when it prints (output.Safe).
func IsControl(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}

// CheckPrintable refuses a username or group (what names it: "username",
// "group") holding a control character, a bidi formatting character or
// invalid UTF-8. Such a name can be written to aws-auth or an access entry,
// but no one means one: it hides or forges rows wherever the name is
// printed, and "system:masters" with an invisible override is not
// system:masters.
func CheckPrintable(what, s string) error {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("%s %q is not valid UTF-8 (byte %#x at %d); use printable characters only", what, s, s[i], i)
		}
		if IsControl(r) {
			return fmt.Errorf("%s %q holds the control or bidi character U+%04X at byte %d, which terminals act on instead of showing; use printable characters only", what, s, r, i)
		}
		i += size
	}
	return nil
}
