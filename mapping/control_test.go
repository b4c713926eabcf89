package mapping

import (
	"strings"
	"testing"
)

// TestCheckRefusesControlCharacters: a username or group with a control or
// bidi character was written as given, to be printed raw by every tool
// that lists aws-auth. Check refuses it, naming the character.
func TestCheckRefusesControlCharacters(t *testing.T) {
	const arn = "arn:aws:iam::111122223333:role/dev"
	tests := []struct {
		name     string
		username string
		groups   []string
		want     string // "" when accepted
	}{
		{"plain", "dev:{{SessionName}}", []string{"developers", "viewers"}, ""},
		{"printable non-ASCII", "développeur", []string{"équipe"}, ""},
		{"escape in username", "dev\x1b[2K", nil, `username "dev\x1b[2K" holds the control or bidi character U+001B at byte 3`},
		{"newline in group", "dev", []string{"viewers\nsystem:masters"}, "group \"viewers\\nsystem:masters\" holds the control or bidi character U+000A"},
		{"tab in group", "dev", []string{"a\tb"}, "U+0009"},
		{"DEL", "dev\x7f", nil, "U+007F"},
		{"C1 CSI", "dev\u009b2J", nil, "U+009B"},
		{"right-to-left override", "dev", []string{"\u202esretsam:metsys"}, "U+202E at byte 0"},
		{"first strong isolate", "dev\u2068", nil, "U+2068"},
		{"right-to-left mark", "dev\u200f", nil, "U+200F"},
		{"invalid UTF-8", "dev\xff", nil, "is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, src := range []Source{MapRoles, MapUsers} {
				m := Mapping{Source: src, ARN: arn, Username: tt.username, Groups: tt.groups}
				if src == MapUsers {
					m.ARN = "arn:aws:iam::111122223333:user/dev"
				}
				err := m.Check()
				if tt.want == "" {
					if err != nil {
						t.Errorf("%s: %v", src, err)
					}
					continue
				}
				if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "use printable characters only") {
					t.Errorf("%s: err = %v, want %q with advice", src, err, tt.want)
				}
				if err != nil && strings.ContainsAny(err.Error(), "\x1b\n\t\x7f\u009b\u202e\u2068\u200f") {
					t.Errorf("the error itself holds the raw character: %q", err)
				}
			}
		})
	}
}

func TestIsControl(t *testing.T) {
	for r, want := range map[rune]bool{
		0x00: true, 0x09: true, 0x0a: true, 0x1b: true, 0x1f: true, ' ': false, '~': false, 0x7f: true,
		0x80: true, 0x9f: true, 0xa0: false, 'é': false, 0x202a: true, 0x202e: true, 0x202f: false,
		0x2066: true, 0x2069: true, 0x206a: false, 0x200e: true, 0x200f: true, 0x061c: true, 0x200b: false,
	} {
		if got := IsControl(r); got != want {
			t.Errorf("IsControl(%U) = %v, want %v", r, got, want)
		}
	}
}
