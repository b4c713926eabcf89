package mapping

import (
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	c := Caller{AccountID: "111122223333", SessionName: "alice@example.com", AccessKeyID: "ASIAEXAMPLE", EC2PrivateDNSName: "ip-10-0-0-1.ec2.internal"}
	tests := []struct{ in, want string }{
		{"system:node:{{EC2PrivateDNSName}}", "system:node:ip-10-0-0-1.ec2.internal"},
		{"sso:{{SessionName}}", "sso:alice-example.com"},
		{"raw:{{SessionNameRaw}}", "raw:alice@example.com"},
		{"{{AccountID}}:{{AccessKeyID}}", "111122223333:ASIAEXAMPLE"},
		{"node:{{EC2InstanceID}}", "node:{{EC2InstanceID}}"},
		{"plain", "plain"},
	}
	for _, tt := range tests {
		if got := Render(tt.in, c); got != tt.want {
			t.Errorf("Render(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRenderCheckedRefusesEC2PrivateDNSNameWithoutInstance(t *testing.T) {
	for session, ok := range map[string]bool{"i-0123456789abcdef0": true, "i-01234567": true, "": false, "i-012": false, "alice": false, "i-0123456789abcdef0x": false} {
		_, err := RenderChecked("system:node:{{EC2PrivateDNSName}}", Caller{SessionName: session, EC2PrivateDNSName: "ip-1"})
		if (err == nil) != ok {
			t.Errorf("session %q: err = %v, want ok=%v", session, err, ok)
		}
	}
	if _, err := RenderChecked("{{SessionName}}", Caller{}); err != nil {
		t.Errorf("a template without {{EC2PrivateDNSName}} was refused: %v", err)
	}
}

func TestTemplateWarnings(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"system:node:{{EC2PrivateDNSName}}", 0},
		{"{{AccountID}}-{{SessionName}}-{{SessionNameRaw}}-{{AccessKeyID}}", 0},
		{"node:{{EC2InstanceID}}", 1},
		{"{{sessionname}}", 1},
		{"{{ SessionName }}", 1},
		{"none", 0},
	}
	for _, tt := range tests {
		got := TemplateWarnings(tt.in)
		if len(got) != tt.want {
			t.Errorf("TemplateWarnings(%q) = %v, want %d warnings", tt.in, got, tt.want)
		}
		for _, w := range got {
			if !strings.Contains(w, "stays literal") {
				t.Errorf("warning %q does not say what happens", w)
			}
		}
	}
}

func TestSplitGroups(t *testing.T) {
	got := SplitGroups([]string{"a,b", " c ", "a", ",", "d"})
	want := []string{"a", "b", "c", "d"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("SplitGroups = %v, want %v", got, want)
	}
}
