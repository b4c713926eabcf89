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
	yamlv2 "gopkg.in/yaml.v2"
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
	err error
	// editErr, when set, refuses edits of a key that is read (partly) but
	// whose items cannot be lined up with its text.
	editErr  error
	problems []string
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

// Problems lists the items of one key that the authenticator skips or reads
// only in part (mapAccounts items that are not strings; entries' own
// problems are on each [mapping.Mapping]).
func (d *Document) Problems(src mapping.Source) []string { return slices.Clone(d.keys[src].problems) }

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
	// One yaml.v3 parse gives the items' text spans and, for nearly every
	// real key, their values too.
	var root yaml.Node
	parseErr := yaml.Unmarshal([]byte(text), &root)
	if src == mapping.MapAccounts {
		accounts, problems, err := accountsAsAuthenticator(text)
		if err != nil {
			return fail(err)
		}
		k.accounts, k.problems = accounts, problems
		for _, a := range accounts {
			k.generic = append(k.generic, a)
		}
		if len(problems) > 0 {
			k.editErr = &KeyError{Key: src, Err: fmt.Errorf("some items are not account ids (%s); fix them by hand first", strings.Join(problems, "; "))}
		}
	} else {
		ok := false
		if parseErr == nil {
			k.generic, k.mappings, ok = decodePlainEntries(src, &root)
		}
		if !ok {
			var err error
			k.generic, k.mappings, err = decodeEntriesAsAuthenticator(src, text)
			if err != nil {
				return fail(err)
			}
		}
	}
	if parseErr == nil {
		k.header, k.spans, k.indent = splitItems(text, &root, len(k.generic))
	}
	return k
}

// decodeEntriesAsAuthenticator is the authenticator's own decoding: YAML to
// JSON with sigs.k8s.io/yaml (yaml.v2 underneath), then encoding/json. It is
// the reference that decodePlainEntries must agree with, and the path for
// every text decodePlainEntries declines.
func decodeEntriesAsAuthenticator(src mapping.Source, text string) (generic []any, mappings []mapping.Mapping, err error) {
	js, err := utilyaml.ToJSON([]byte(text))
	if err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(js, &generic); err != nil {
		return nil, nil, jsonProblem(err)
	}
	// encoding/json goes on after a value of the wrong type: it leaves that
	// field (or that item) empty and decodes the rest, and the
	// authenticator keeps what it got. So does iammap, noting each problem
	// on its entry.
	var entries []entryJSON
	if err := json.Unmarshal(js, &entries); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return nil, nil, jsonProblem(err)
		}
	}
	if len(entries) != len(generic) {
		return nil, nil, fmt.Errorf("decoded %d entries from %d items", len(entries), len(generic))
	}
	for i, e := range entries {
		m := e.mapping(src)
		m.Problems = itemProblems(generic[i])
		mappings = append(mappings, m)
	}
	return generic, mappings, nil
}

// itemProblems lists the values of one item that encoding/json cannot put
// in the authenticator's fields, each of which EKS reads as empty.
func itemProblems(item any) []string {
	fields, isMap := item.(map[string]any)
	if !isMap {
		if item == nil {
			return []string{"the item is empty"}
		}
		return []string{fmt.Sprintf("the item is a %s, not a mapping; EKS reads it as an empty entry", jsonKind(item))}
	}
	var out []string
	for _, key := range slices.Sorted(maps.Keys(fields)) {
		if entryField(key) < 0 {
			continue
		}
		b, err := json.Marshal(map[string]any{key: fields[key]})
		if err != nil {
			continue
		}
		var e entryJSON
		if err := json.Unmarshal(b, &e); err != nil {
			out = append(out, jsonProblem(err).Error()+"; EKS reads it as empty")
		}
	}
	return out
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "list"
	}
	return "value"
}

// accountsAsAuthenticator reads mapAccounts as the authenticator does: with
// yaml.v2 into a list of strings. Any scalar becomes its text (a quoted id,
// a plain number as written, an alias, !!binary decoded); an item yaml.v2
// cannot make a string is left out, and the rest kept. yaml.v2 fills the
// list in place, so when it stops part-way (invalid !!binary, a tag that
// does not fit its value) the items before are kept, as the authenticator
// keeps them.
func accountsAsAuthenticator(text string) (accounts, problems []string, err error) {
	err = yamlv2.Unmarshal([]byte(text), &accounts)
	if len(accounts) == 0 {
		accounts = nil
	}
	var te *yamlv2.TypeError
	switch {
	case err == nil:
		return accounts, nil, nil
	case errors.As(err, &te):
		for _, e := range te.Errors {
			problems = append(problems, e+" (EKS skips it)")
		}
		return accounts, problems, nil
	case len(accounts) > 0:
		return accounts, []string{err.Error() + " (EKS keeps the items before it and skips the rest)"}, nil
	}
	return nil, nil, err
}

func (e entryJSON) mapping(src mapping.Source) mapping.Mapping {
	m := mapping.Mapping{Source: src, SSO: e.SSO, Username: e.Username, Groups: e.Groups, UserID: e.UserID}
	if src == mapping.MapRoles {
		m.ARN = e.RoleARN
	} else {
		m.ARN, m.SSO = e.UserARN, nil
	}
	if len(m.Groups) == 0 {
		m.Groups = nil
	}
	return m
}

// decodePlainEntries reads mapRoles or mapUsers straight from the yaml.v3
// tree, without the authenticator's second parse and JSON round trip, when
// the tree holds nothing on which the two could disagree; otherwise it
// returns ok false and the caller decodes as the authenticator does.
//
// yaml.v2 and yaml.v3 share libyaml's scanner and parser, which differ only
// in how they keep comments, so a text that yaml.v3 parses has the same tree
// under yaml.v2. They differ in what the nodes mean: yaml.v2 follows YAML 1.1
// (yes, no, on and off are booleans, 0777 is octal, dates are timestamps),
// expands merge keys and keeps the last of duplicate keys; encoding/json then
// makes numbers float64 and fills a field from whichever of two spellings
// sorts last. So only these are read here: lists, mappings with distinct
// string keys, and strings that yaml.v2 reads as the same string (quoted,
// block, or plain and not resolvable to anything else). No anchors, aliases,
// tags, nulls, numbers or booleans. Such values come out of the JSON round
// trip unchanged, as libyaml only produces valid UTF-8.
func decodePlainEntries(src mapping.Source, root *yaml.Node) (generic []any, mappings []mapping.Mapping, ok bool) {
	if len(root.Content) != 1 {
		return nil, nil, false
	}
	seq := root.Content[0]
	if seq.Kind != yaml.SequenceNode || !untagged(seq) {
		return nil, nil, false
	}
	generic = make([]any, 0, len(seq.Content))
	if len(seq.Content) > 0 {
		mappings = make([]mapping.Mapping, 0, len(seq.Content))
	}
	for _, item := range seq.Content {
		fields, e, ok := decodePlainEntry(item)
		if !ok {
			return nil, nil, false
		}
		generic = append(generic, fields)
		mappings = append(mappings, e.mapping(src))
	}
	return generic, mappings, true
}

// entryFields are entryJSON's JSON names, in the order of entryField's
// results.
var entryFields = [...]string{"rolearn", "userarn", "sso", "username", "groups", "userid"}

// entryField returns the entryJSON field that encoding/json fills from a key:
// it matches names with bytes.EqualFold semantics. It returns -1 for a key
// it ignores.
func entryField(key string) int {
	for i, name := range entryFields {
		if strings.EqualFold(key, name) {
			return i
		}
	}
	return -1
}

func decodePlainEntry(item *yaml.Node) (fields map[string]any, e entryJSON, ok bool) {
	if item.Kind != yaml.MappingNode {
		return nil, e, false
	}
	v, ok := plainValue(item, 0)
	if !ok {
		return nil, e, false
	}
	fields = v.(map[string]any)
	var seen [len(entryFields)]bool
	for key, value := range fields {
		i := entryField(key)
		if i < 0 {
			continue
		}
		// Two spellings of one field: encoding/json keeps the one that
		// sorts last, as json.Marshal writes map keys in sorted order.
		// Rare enough to leave to the reference path.
		if seen[i] {
			return nil, e, false
		}
		seen[i] = true
		switch entryFields[i] {
		case "sso":
			// Through encoding/json itself, so that mapping.SSO's fields are
			// matched exactly as the authenticator matches them.
			b, err := json.Marshal(value)
			if err != nil || json.Unmarshal(b, &e.SSO) != nil {
				return nil, e, false
			}
		case "groups":
			list, isList := value.([]any)
			if !isList {
				return nil, e, false
			}
			e.Groups = make([]string, len(list))
			for j, g := range list {
				if e.Groups[j], ok = g.(string); !ok {
					return nil, e, false
				}
			}
		default:
			s, isString := value.(string)
			if !isString {
				return nil, e, false
			}
			switch entryFields[i] {
			case "rolearn":
				e.RoleARN = s
			case "userarn":
				e.UserARN = s
			case "username":
				e.Username = s
			case "userid":
				e.UserID = s
			}
		}
	}
	return fields, e, true
}

// maxPlainDepth bounds the nesting decodePlainEntries reads; encoding/json
// refuses documents nested 10,000 deep, which yaml.v2 accepts.
const maxPlainDepth = 64

// plainValue converts a node to the value encoding/json gives for the JSON
// that sigs.k8s.io/yaml makes of it, or reports false when it is not a
// node decodePlainEntries reads.
func plainValue(n *yaml.Node, depth int) (any, bool) {
	if !untagged(n) || depth > maxPlainDepth {
		return nil, false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return plainString(n)
	case yaml.SequenceNode:
		list := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, ok := plainValue(c, depth+1)
			if !ok {
				return nil, false
			}
			list[i] = v
		}
		return list, true
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, ok := plainString(n.Content[i])
			if !ok {
				return nil, false
			}
			// yaml.v2 keeps the last of duplicate keys; yaml.v3 would refuse them.
			if _, dup := m[key]; dup {
				return nil, false
			}
			v, ok := plainValue(n.Content[i+1], depth+1)
			if !ok {
				return nil, false
			}
			m[key] = v
		}
		return m, true
	}
	return nil, false
}

// untagged reports a node without anchor or explicit tag. The non-specific
// tag "!" does not show in a yaml.v3 node; yaml.v2 reads a scalar with it
// as a string, which agrees with plainString whenever that accepts it.
func untagged(n *yaml.Node) bool {
	return n.Anchor == "" && n.Style&yaml.TaggedStyle == 0
}

// plainString returns a scalar's string when yaml.v2 reads it as that same
// string.
func plainString(n *yaml.Node) (string, bool) {
	// "<<" is a merge key to yaml.v2 when plain; never worth the risk.
	if n.Kind != yaml.ScalarNode || !untagged(n) || n.Value == "<<" {
		return "", false
	}
	if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.Value, true
	}
	return n.Value, plainIsYAML11String(n.Value)
}

// plainIsYAML11String reports whether yaml.v2 resolves an unquoted scalar to
// a string. It follows yaml.v2's resolve: a first character that cannot
// start a number, boolean or null means a string; the letters that start
// YAML 1.1 booleans and null mean a string unless the whole value is one of
// those words. Anything starting like a number (sign, digit, dot) is
// declined rather than reimplementing yaml.v2's int, float and timestamp
// rules: ARNs, user names and group names do not start that way.
func plainIsYAML11String(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '+', '-', '.', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return false
	case 'y', 'Y', 'n', 'N', 't', 'T', 'f', 'F', 'o', 'O', '~':
		switch s {
		case "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
			"true", "True", "TRUE", "false", "False", "FALSE",
			"on", "On", "ON", "off", "Off", "OFF",
			"~", "null", "Null", "NULL":
			return false
		}
	}
	return true
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

// splitItems cuts a block sequence into the text before its first item and
// the text of each item, so items can be removed or appended without
// re-encoding the others. It returns nil spans when the text is not a plain
// block sequence with want items. root is text parsed by yaml.v3.
func splitItems(text string, root *yaml.Node, want int) (header string, spans []string, indent int) {
	if len(root.Content) != 1 {
		return "", nil, 0
	}
	seq := root.Content[0]
	if seq.Kind != yaml.SequenceNode || seq.Style&yaml.FlowStyle != 0 || len(seq.Content) != want || want == 0 {
		return "", nil, 0
	}
	// lineStart[l] is where line l starts, lines cut as strings.SplitAfter
	// cuts them, plus len(text) at the end: the spans are cut out of text
	// rather than copied.
	lineStart := make([]int, 1, strings.Count(text, "\n")+2)
	for i := 0; ; {
		nl := strings.IndexByte(text[i:], '\n')
		if nl < 0 {
			break
		}
		i += nl + 1
		lineStart = append(lineStart, i)
	}
	lineStart = append(lineStart, len(text))
	lines := len(lineStart) - 1
	dashCol := seq.Column - 1
	starts := make([]int, 0, want)
	for _, item := range seq.Content {
		start := -1
		for l := item.Line - 1; l >= 0 && l < lines; l-- {
			if isDashAt(text[lineStart[l]:lineStart[l+1]], dashCol) {
				start = l
				break
			}
		}
		if start < 0 || (len(starts) > 0 && start <= starts[len(starts)-1]) {
			return "", nil, 0
		}
		starts = append(starts, start)
	}
	header = text[:lineStart[starts[0]]]
	spans = make([]string, len(starts))
	for i, s := range starts {
		end := lines
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		spans[i] = text[lineStart[s]:lineStart[end]]
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
	if k.editErr != nil {
		return nil, fmt.Errorf("refusing to edit %s: %w", src, k.editErr)
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
