package audit

import (
	"bytes"
	"context"
	"testing"

	"github.com/iammap/iammap/awsauth"
)

// TestWriteTableEscapesControlCharacters: findings quote aws-auth's
// usernames, groups and ARNs; printed raw, they could erase or forge rows
// of the audit table on a terminal.
func TestWriteTableEscapesControlCharacters(t *testing.T) {
	d := awsauth.Decode(map[string]string{"mapUsers": `- userarn: "arn:aws:iam::111122223333:user/eve\e[2K\rclean"
  username: eve
  groups: ["system:masters", "dead\u202e", "x\ny"]
`})
	findings := Run(context.Background(), Input{Mode: "CONFIG_MAP", AWSAuth: d, BoundGroups: map[string]bool{}})
	if len(findings) == 0 {
		t.Fatal("no findings")
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, findings); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != len(findings)+1 {
		t.Errorf("%d lines for %d findings:\n%s", n, len(findings), buf.Bytes())
	}
	for _, b := range buf.Bytes() {
		if (b < 0x20 && b != '\n') || b == 0x7f {
			t.Fatalf("raw control byte %#x:\n%s", b, buf.Bytes())
		}
	}
	if bytes.Contains(buf.Bytes(), []byte("\u202e")) {
		t.Errorf("raw U+202E:\n%s", buf.Bytes())
	}
	if !bytes.Contains(buf.Bytes(), []byte(`user/eve\x1b[2K\x0dclean`)) {
		t.Errorf("the ARN is not shown escaped:\n%s", buf.Bytes())
	}
}
