package awsauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/iammap/iammap/mapping"
	"go.yaml.in/yaml/v3"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// ErrKeyParse is wrapped by the error of a data key that does not parse.
var ErrKeyParse = errors.New("cannot parse")

// KeyError names the data key that failed to parse and why.
type KeyError struct {
	Key mapping.Source
	Err error
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("aws-auth key %s: %v: %v", e.Key, ErrKeyParse, e.Err)
}

func (e *KeyError) Unwrap() []error { return []error{ErrKeyParse, e.Err} }

// Document is the decoded data of an aws-auth ConfigMap that can be edited
// without disturbing what it does not touch.
type Document struct {
	data map[string]string
	keys map[mapping.Source]*keyDoc
}

// keyDoc is one decoded data key.
type keyDoc struct {
	err      error
	mappings []mapping.Mapping
	accounts []string
	// generic holds each item as decoded to JSON values, unknown fields
	// included; edits are verified against it.
	generic []any
	// spans holds, for a block sequence, the text of the lines before the
	// first item and of each item; nil when the key must be re-encoded to edit.
	header string
	spans  []string
	indent int
}

var sources = []mapping.Source{mapping.MapRoles, mapping.MapUsers, mapping.MapAccounts}

// Decode decodes a ConfigMap's data. It never fails as a whole: a key that
// does not parse is reported by Err and left out of Set.
func Decode(data map[string]string) *Document {
	d := &Document{data: maps.Clone(data), keys: map[mapping.Source]*keyDoc{}}
	if d.data == nil {
		d.data = map[string]string{}
	}
	for _, src := range sources {
		d.keys[src] = decodeKey(src, d.data[string(src)])
	}
	return d
}

// Data returns the ConfigMap data as it is after the edits made so far.
func (d *Document) Data() map[string]string { return maps.Clone(d.data) }

// Err returns the parse error of one key, or nil.
func (d *Document) Err(src mapping.Source) error { return d.keys[src].err }

// Errs returns the parse errors of all keys.
func (d *Document) Errs() []error {
	var errs []error
	for _, src := range sources {
		if err := d.keys[src].err; err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Set is the document as the authenticator sees it. Keys that do not parse
// contribute nothing, as in the authenticator.
func (d *Document) Set() mapping.Set {
	return mapping.Set{
		Roles:    slices.Clone(d.keys[mapping.MapRoles].mappings),
		Users:    slices.Clone(d.keys[mapping.MapUsers].mappings),
		Accounts: slices.Clone(d.keys[mapping.MapAccounts].accounts),
	}
}

// skippable mirrors the authenticator, which ignores blank values and a value
// that is only an empty quoted string.
func skippable(text string) bool {
	t := strings.TrimSpace(text)
	return t == "" || t == "''" || t == `""` || t == "``"
}

// entryJSON is an entry as the authenticator unmarshals it; encoding/json
// matches field names case-insensitively, so roleARN works as rolearn.
type entryJSON struct {
	RoleARN  string       `json:"rolearn"`
	UserARN  string       `json:"userarn"`
	SSO      *mapping.SSO `json:"sso"`
	Username string       `json:"username"`
	Groups   []string     `json:"groups"`
	UserID   string       `json:"userid"`
}

func decodeKey(src mapping.Source, text string) *keyDoc {
	k := &keyDoc{}
	if skippable(text) {
		return k
	}
	fail := func(err error) *keyDoc { return &keyDoc{err: &KeyError{Key: src, Err: err}} }
	if src == mapping.MapAccounts {
		accounts, err := decodeAccounts(text)
		if err != nil {
			return fail(err)
		}
		k.accounts = accounts
		for _, a := range accounts {
			k.generic = append(k.generic, a)
		}
	} else {
		js, err := utilyaml.ToJSON([]byte(text))
		if err != nil {
			return fail(err)
		}
		var entries []entryJSON
		if err := json.Unmarshal(js, &entries); err != nil {
			return fail(jsonProblem(err))
		}
		if err := json.Unmarshal(js, &k.generic); err != nil {
			return fail(err)
		}
		for _, e := range entries {
			m := mapping.Mapping{Source: src, SSO: e.SSO, Username: e.Username, Groups: e.Groups, UserID: e.UserID}
			if src == mapping.MapRoles {
				m.ARN = e.RoleARN
			} else {
				m.ARN, m.SSO = e.UserARN, nil
			}
			if len(m.Groups) == 0 {
				m.Groups = nil
			}
			k.mappings = append(k.mappings, m)
		}
	}
	k.header, k.spans, k.indent = splitItems(text, len(k.generic))
	return k
}

// jsonProblem turns encoding/json's Go-type wording into YAML terms.
func jsonProblem(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return fmt.Errorf("want a list of entries, found a %s", te.Value)
		}
		return fmt.Errorf("field %q: found a %s where a %s was expected", te.Field, te.Value, yamlKind(te.Type.Kind().String()))
	}
	return err
}

func yamlKind(goKind string) string {
	switch goKind {
	case "slice":
		return "list"
	case "struct", "ptr":
		return "mapping"
	}
	return goKind
}

// decodeAccounts keeps each scalar's text as written: 012345678901 must not
// become the number 12345678901.
func decodeAccounts(text string) ([]string, error) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(text), &root); err != nil {
		return nil, err
	}
	if len(root.Content) == 0 {
		return nil, nil
	}
	seq := root.Content[0]
	if seq.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: want a list of account ids", seq.Line)
	}
	var out []string
	for _, item := range seq.Content {
		if item.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: account id must be a single value", item.Line)
		}
		out = append(out, item.Value)
	}
	return out, nil
}

// splitItems cuts a block sequence into the text before its first item and
// the text of each item, so items can be removed or appended without
// re-encoding the others. It returns nil spans when the text is not a plain
// block sequence with want items.
func splitItems(text string, want int) (header string, spans []string, indent int) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(text), &root); err != nil || len(root.Content) != 1 {
		return "", nil, 0
	}
	seq := root.Content[0]
	if seq.Kind != yaml.SequenceNode || seq.Style&yaml.FlowStyle != 0 || len(seq.Content) != want || want == 0 {
		return "", nil, 0
	}
	lines := strings.SplitAfter(text, "\n")
	dashCol := seq.Column - 1
	starts := make([]int, 0, want)
	for _, item := range seq.Content {
		start := -1
		for l := item.Line - 1; l >= 0 && l < len(lines); l-- {
			if isDashAt(lines[l], dashCol) {
				start = l
				break
			}
		}
		if start < 0 || (len(starts) > 0 && start <= starts[len(starts)-1]) {
			return "", nil, 0
		}
		starts = append(starts, start)
	}
	header = strings.Join(lines[:starts[0]], "")
	for i, s := range starts {
		end := len(lines)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		spans = append(spans, strings.Join(lines[s:end], ""))
	}
	return header, spans, dashCol
}

func isDashAt(line string, col int) bool {
	if len(line) <= col || strings.TrimLeft(line[:col], " ") != "" || line[col] != '-' {
		return false
	}
	return len(line) == col+1 || line[col+1] == ' ' || line[col+1] == '\n' || line[col+1] == '\r'
}

// setKey replaces one key's text after checking that it decodes to exactly
// the intended items. want is the expected generic decoding.
func (d *Document) setKey(src mapping.Source, text string, want []any) error {
	k := decodeKey(src, text)
	if k.err != nil {
		return fmt.Errorf("edit of %s produced text that does not parse (nothing written): %w", src, k.err)
	}
	if !reflect.DeepEqual(normalize(k.generic), normalize(want)) {
		return fmt.Errorf("edit of %s would change entries it was not asked to change; nothing written", src)
	}
	if len(want) == 0 {
		delete(d.data, string(src))
	} else {
		d.data[string(src)] = text
	}
	d.keys[src] = k
	return nil
}

func normalize(v []any) []any {
	if len(v) == 0 {
		return nil
	}
	return v
}

// editable returns the key or its parse error: a key that did not parse is
// never rewritten.
func (d *Document) editable(src mapping.Source) (*keyDoc, error) {
	k := d.keys[src]
	if k.err != nil {
		return nil, fmt.Errorf("refusing to edit %s: %w", src, k.err)
	}
	return k, nil
}

// appendItems adds rendered items (the text of a block sequence, unindented)
// and their generic forms to a key, after its last item.
func (d *Document) appendItems(src mapping.Source, itemText string, itemGenerics []any) error {
	k, err := d.editable(src)
	if err != nil {
		return err
	}
	want := append(slices.Clone(k.generic), itemGenerics...)
	old := d.data[string(src)]
	var text string
	switch {
	case len(k.generic) == 0 && skippable(old):
		text = itemText
	case k.spans != nil:
		text = old
		if !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		text += indentLines(itemText, k.indent)
	default:
		text, err = reencode(old, func(seq *yaml.Node) error {
			var item yaml.Node
			if err := yaml.Unmarshal([]byte(itemText), &item); err != nil {
				return err
			}
			seq.Content = append(seq.Content, item.Content[0].Content...)
			return nil
		})
		if err != nil {
			return fmt.Errorf("edit %s: %w", src, err)
		}
	}
	return d.setKey(src, text, want)
}

// removeItems removes the items at the given indexes of one key.
func (d *Document) removeItems(src mapping.Source, indexes []int) error {
	k, err := d.editable(src)
	if err != nil {
		return err
	}
	drop := map[int]bool{}
	for _, i := range indexes {
		if i < 0 || i >= len(k.generic) {
			return fmt.Errorf("edit %s: no item %d", src, i)
		}
		drop[i] = true
	}
	var want []any
	for i, g := range k.generic {
		if !drop[i] {
			want = append(want, g)
		}
	}
	var text string
	if k.spans != nil {
		var b strings.Builder
		b.WriteString(k.header)
		for i, s := range k.spans {
			if !drop[i] {
				b.WriteString(s)
			}
		}
		text = b.String()
	} else {
		text, err = reencode(d.data[string(src)], func(seq *yaml.Node) error {
			var kept []*yaml.Node
			for i, n := range seq.Content {
				if !drop[i] {
					kept = append(kept, n)
				}
			}
			seq.Content = kept
			return nil
		})
		if err != nil {
			return fmt.Errorf("edit %s: %w", src, err)
		}
	}
	return d.setKey(src, text, want)
}

// reencode is the fallback for keys that are not a plain block sequence
// (flow style, JSON): it edits the YAML node tree, which keeps every field
// and comment but not the original layout of that one key.
func reencode(text string, edit func(seq *yaml.Node) error) (string, error) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(text), &root); err != nil {
		return "", err
	}
	if len(root.Content) != 1 || root.Content[0].Kind != yaml.SequenceNode {
		return "", errors.New("value is not a list")
	}
	seq := root.Content[0]
	seq.Style = 0
	if err := edit(seq); err != nil {
		return "", err
	}
	return encodeYAML(&root)
}

func encodeYAML(v any) (string, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return b.String(), nil
}

func indentLines(text string, n int) string {
	if n == 0 {
		return text
	}
	pad := strings.Repeat(" ", n)
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if l != "" && l != "\n" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "")
}
