package awsauth

import (
	"encoding/json"
	"fmt"

	"github.com/iammap/iammap/mapping"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// roleItem and userItem fix the field order of new entries to the one the
// EKS documentation uses.
type roleItem struct {
	RoleARN  string       `yaml:"rolearn,omitempty"`
	SSO      *mapping.SSO `yaml:"sso,omitempty"`
	Username string       `yaml:"username,omitempty"`
	Groups   []string     `yaml:"groups,omitempty"`
	UserID   string       `yaml:"userid,omitempty"`
}

type userItem struct {
	UserARN  string   `yaml:"userarn"`
	Username string   `yaml:"username,omitempty"`
	Groups   []string `yaml:"groups,omitempty"`
	UserID   string   `yaml:"userid,omitempty"`
}

func itemValue(m mapping.Mapping) any {
	if m.Source == mapping.MapUsers {
		return userItem{UserARN: m.ARN, Username: m.Username, Groups: m.Groups, UserID: m.UserID}
	}
	it := roleItem{RoleARN: m.ARN, Username: m.Username, Groups: m.Groups, UserID: m.UserID}
	it.SSO = m.SSO
	return it
}

// renderItems renders entries as a block sequence, unindented.
func renderItems(items []any) (string, error) {
	if len(items) == 0 {
		return "", nil
	}
	return encodeYAML(items)
}

// renderMany renders items and returns their text and their decoding as the
// authenticator would see it, for verification.
func renderMany(values []any) (string, []any, error) {
	text, err := renderItems(values)
	if err != nil {
		return "", nil, err
	}
	js, err := utilyaml.ToJSON([]byte(text))
	if err != nil {
		return "", nil, err
	}
	var generic []any
	if err := json.Unmarshal(js, &generic); err != nil || len(generic) != len(values) {
		return "", nil, fmt.Errorf("rendered entries do not decode back: %v", err)
	}
	return text, generic, nil
}

// Encode renders a whole Set as fresh ConfigMap data, one key per non-empty
// list. Use it to create aws-auth; to change an existing one, edit its
// Document so untouched entries keep their text.
func Encode(s mapping.Set) (map[string]string, error) {
	data := map[string]string{}
	add := func(key mapping.Source, items []any) error {
		text, err := renderItems(items)
		if err != nil {
			return fmt.Errorf("encode %s: %w", key, err)
		}
		if text != "" {
			data[string(key)] = text
		}
		return nil
	}
	var roles, users, accounts []any
	for _, m := range s.Roles {
		m.Source = mapping.MapRoles
		roles = append(roles, itemValue(m))
	}
	for _, m := range s.Users {
		m.Source = mapping.MapUsers
		users = append(users, itemValue(m))
	}
	for _, a := range s.Accounts {
		accounts = append(accounts, a)
	}
	for _, kv := range []struct {
		key   mapping.Source
		items []any
	}{{mapping.MapRoles, roles}, {mapping.MapUsers, users}, {mapping.MapAccounts, accounts}} {
		if err := add(kv.key, kv.items); err != nil {
			return nil, err
		}
	}
	return data, nil
}
