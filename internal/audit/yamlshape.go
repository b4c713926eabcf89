package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/iammap/iammap/mapping"
	"go.yaml.in/yaml/v3"
)

// yamlShapes flags what aws-auth's YAML says that EKS silently drops,
// which awsauth reads as EKS does and so cannot report on its entries: a
// key holding several YAML documents (the authenticator decodes the first
// one only) and a mapping with a key twice (yaml.v2 keeps the last value).
// It reads the raw text of each key; a key that does not parse is the
// unparsable-key finding's.
func yamlShapes(data map[string]string, add addFunc) {
	for _, src := range []mapping.Source{mapping.MapRoles, mapping.MapUsers, mapping.MapAccounts} {
		text, ok := data[string(src)]
		if !ok {
			continue
		}
		subject := "aws-auth data." + string(src)
		dec := yaml.NewDecoder(bytes.NewReader([]byte(text)))
		var ignored []int // lines where ignored documents start
		for n := 0; ; n++ {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if n > 0 {
					ignored = append(ignored, -1)
				}
				break
			}
			if n == 0 {
				duplicateKeys(&doc, subject, add)
			} else if !emptyDocument(&doc) {
				ignored = append(ignored, doc.Line)
			}
		}
		if len(ignored) > 0 {
			where := "a second YAML document"
			if ignored[0] > 0 {
				where += fmt.Sprintf(" (starting at line %d of the value)", ignored[0])
			}
			add(Error, "multi-document", subject, fmt.Sprintf("data.%s holds %s: EKS reads only the first document, so every entry after the '---' is ignored", src, where),
				"move the entries into the first document and remove the '---' (`kubectl edit -n kube-system configmap aws-auth`)")
		}
	}
}

// duplicateKeys reports each mapping of the tree that has a key twice.
func duplicateKeys(n *yaml.Node, subject string, add addFunc) {
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if depth > 64 {
			return // deeper nesting is never an aws-auth entry
		}
		if n.Kind == yaml.MappingNode {
			first := map[string]int{}
			var dups []string
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Kind != yaml.ScalarNode {
					continue
				}
				if line, seen := first[k.Value]; seen {
					dups = append(dups, fmt.Sprintf("%q at lines %d and %d", k.Value, line, k.Line))
				} else {
					first[k.Value] = k.Line
				}
			}
			if len(dups) > 0 {
				slices.Sort(dups)
				add(Error, "duplicate-key", subject, fmt.Sprintf("an item has the same key twice (%s): EKS keeps the last value and silently drops the other", strings.Join(dups, "; ")),
					"keep one of the keys, with the value meant (`kubectl edit -n kube-system configmap aws-auth`)")
			}
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
}

// emptyDocument reports a document with no content ("---" and comments).
func emptyDocument(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	c := doc.Content[0]
	return len(doc.Content) == 1 && c.Kind == yaml.ScalarNode && c.Tag == "!!null" && c.Value == "" && c.Style == 0
}
