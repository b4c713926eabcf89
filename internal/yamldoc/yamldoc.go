// Package yamldoc finds a second YAML document in a file that must hold
// one. Reading only the first would silently drop the rest: for an access
// file applied with --prune, it would remove every principal the later
// documents name.
package yamldoc

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Second returns the line where a second, non-empty document starts (0 when
// there is none). An empty document (a trailing "---") carries nothing and
// does not count. When the second document does not even parse, line is 0
// and err says why; the first document's own errors are left to the caller's
// parser.
func Second(b []byte) (line int, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for n := 0; ; n++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		switch {
		case errors.Is(err, io.EOF):
			return 0, nil
		case n == 0:
			if err != nil {
				return 0, nil
			}
			continue
		case err != nil:
			return 0, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
		case empty(&doc):
			continue
		}
		return doc.Line, nil
	}
}

// empty reports a document with no content: "---" followed by nothing but
// comments.
func empty(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	c := doc.Content[0]
	return len(doc.Content) == 1 && c.Kind == yaml.ScalarNode && c.Tag == "!!null" && c.Value == "" && c.Style == 0
}
