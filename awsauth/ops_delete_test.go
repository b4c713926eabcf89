package awsauth

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

// TestDeleteMappingInAnUnparseableKey: a principal that no readable key
// maps may still be mapped in a key that does not parse; delete must say
// so (and that iammap will not edit that key), not "no such mapping".
func TestDeleteMappingInAnUnparseableKey(t *testing.T) {
	const (
		broken  = "- rolearn: arn:aws:iam::111122223333:role/ops\n  groups: [system:masters\n"
		roleARN = "arn:aws:iam::111122223333:role/ops"
		userARN = "arn:aws:iam::111122223333:user/alice"
		users   = "- userarn: arn:aws:iam::111122223333:user/alice\n  username: alice\n"
		roles   = "- rolearn: arn:aws:iam::111122223333:role/dev\n  username: dev\n"
	)
	tests := []struct {
		name string
		data map[string]string
		arn  string
		// wantKeys are the unparseable keys the error names; nil: no such error.
		wantKeys    []string
		wantMissing bool // ErrNotFound
	}{
		{name: "role in broken mapRoles", data: map[string]string{"mapRoles": broken, "mapUsers": users}, arn: roleARN, wantKeys: []string{"mapRoles"}},
		{name: "role spelled in other cases", data: map[string]string{"mapRoles": broken}, arn: strings.ToUpper(roleARN[:4]) + roleARN[4:], wantKeys: []string{"mapRoles"}},
		{name: "user absent from mapUsers, mapRoles broken", data: map[string]string{"mapRoles": broken, "mapUsers": users}, arn: "arn:aws:iam::111122223333:user/bob", wantKeys: []string{"mapRoles"}},
		{name: "role absent from mapRoles, mapUsers broken", data: map[string]string{"mapRoles": roles, "mapUsers": broken}, arn: roleARN, wantKeys: []string{"mapUsers"}},
		{name: "both broken", data: map[string]string{"mapRoles": broken, "mapUsers": broken}, arn: userARN, wantKeys: []string{"mapRoles and mapUsers"}},
		{name: "found in a readable key despite a broken one", data: map[string]string{"mapRoles": broken, "mapUsers": users}, arn: userARN},
		{name: "a role path when the form EKS matches is readable", data: map[string]string{"mapRoles": roles, "mapUsers": broken}, arn: "arn:aws:iam::111122223333:role/team/dev", wantMissing: true},
		{name: "a role path, the form EKS matches nowhere readable", data: map[string]string{"mapRoles": roles, "mapUsers": broken}, arn: "arn:aws:iam::111122223333:role/team/ops", wantKeys: []string{"mapUsers"}},
		{name: "nothing broken: no such mapping", data: map[string]string{"mapRoles": roles}, arn: roleARN, wantMissing: true},
		{name: "broken mapAccounts holds no role", data: map[string]string{"mapRoles": roles, "mapAccounts": "[unclosed\n"}, arn: roleARN, wantMissing: true},
		{name: "no aws-auth data", data: nil, arn: roleARN, wantMissing: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decode(tt.data)
			before := d.Data()
			res, err := DeleteMapping(d, tt.arn, true)
			switch {
			case tt.wantKeys != nil:
				if err == nil {
					t.Fatalf("deleted %+v; want a refusal", res.Removed)
				}
				msg := err.Error()
				for _, want := range append([]string{"cannot be parsed", "will not edit", tt.arn}, tt.wantKeys...) {
					if !strings.Contains(msg, want) {
						t.Errorf("error %q does not say %q", msg, want)
					}
				}
				if !errors.Is(err, ErrKeyParse) {
					t.Errorf("error %q is not ErrKeyParse, whose hint is kubectl edit", msg)
				}
				var ke *KeyError
				if !errors.As(err, &ke) {
					t.Errorf("error %q carries no KeyError", msg)
				}
				if errors.Is(err, ErrNotFound) || strings.Contains(msg, ErrNotFound.Error()) {
					t.Errorf("error %q claims the mapping does not exist; --ignore-not-found would act on it", msg)
				}
				if !maps.Equal(d.Data(), before) {
					t.Errorf("data changed on a refusal: %v", d.Data())
				}
			case tt.wantMissing:
				if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrKeyParse) {
					t.Fatalf("err = %v, want ErrNotFound only", err)
				}
			default:
				if err != nil || len(res.Removed) != 1 {
					t.Fatalf("DeleteMapping = %+v, %v; want one entry removed", res, err)
				}
				if len(res.Unreadable) == 0 {
					t.Errorf("the broken key is not reported as unreadable")
				}
			}
		})
	}
}
