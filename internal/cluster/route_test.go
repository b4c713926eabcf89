package cluster

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/desired"
	"github.com/iammap/iammap/mapping"
)

const (
	kubeconfig = mapping.ModeKubeconfig
	configMap  = mapping.ModeConfigMap
	both       = mapping.ModeAPIAndConfigMap
	api        = mapping.ModeAPI
)

// hint returns err's hint, "" when it has none.
func hint(err error) string {
	var h *HintError
	if errors.As(err, &h) {
		return h.Hint
	}
	return ""
}

func TestRouteCreateExplicitBackendIsLiteral(t *testing.T) {
	tests := []struct {
		mode    mapping.Mode
		choice  Backend
		force   bool
		want    Backend
		wantErr string
		invalid bool
	}{
		{kubeconfig, BackendAWSAuth, false, BackendAWSAuth, "", false},
		{configMap, BackendAWSAuth, false, BackendAWSAuth, "", false},
		{both, BackendAWSAuth, false, BackendAWSAuth, "", false},
		{api, BackendAWSAuth, false, "", "cluster c is in API authentication mode: EKS ignores aws-auth", true},
		{api, BackendAWSAuth, true, BackendAWSAuth, "", false},
		{kubeconfig, BackendAccessEntry, false, BackendAccessEntry, "access entries live in the EKS API: name the cluster", true},
		{configMap, BackendAccessEntry, false, BackendAccessEntry, "cluster c is in CONFIG_MAP authentication mode: it has no access entries", false},
		{both, BackendAccessEntry, false, BackendAccessEntry, "", false},
		{api, BackendAccessEntry, false, BackendAccessEntry, "", false},
		{both, "configmap", false, "", `unknown --backend "configmap": use auto, aws-auth or access-entry`, true},
	}
	for _, tt := range tests {
		name := string(tt.mode) + "/" + string(tt.choice)
		if tt.force {
			name += "/force"
		}
		t.Run(name, func(t *testing.T) {
			// Even a mapping with a translation and a principal in aws-auth:
			// an explicit choice never routes or translates.
			in := CreateIntent{Principal: "arn:aws:iam::111122223333:user/u", Translation: []string{"system:masters becomes AmazonEKSClusterAdminPolicy at cluster scope"}}
			got, err := RouteCreate("c", tt.mode, tt.choice, tt.force, in, Presence{AWSAuth: true})
			checkErr(t, err, tt.wantErr, tt.invalid)
			if tt.wantErr == "" && (got.Backend != tt.want || got.Translate) {
				t.Errorf("RouteCreate = %q (translate %v), want %q, literal", got.Backend, got.Translate, tt.want)
			}
		})
	}
}

func TestRouteCreateExplicitAWSAuthRefusalNamesTheTranslation(t *testing.T) {
	in := CreateIntent{Principal: "arn:aws:iam::111122223333:user/u", Translation: []string{"system:masters becomes AmazonEKSClusterAdminPolicy at cluster scope"}}
	_, err := RouteCreate("c", api, BackendAWSAuth, false, in, Presence{})
	if h := hint(err); !strings.Contains(h, "creates the access entry (system:masters becomes AmazonEKSClusterAdminPolicy at cluster scope)") {
		t.Errorf("hint = %q, want it to name the translation auto makes", h)
	}
}

// TestRouteCreateByIntent is the README's routing table, row by row.
func TestRouteCreateByIntent(t *testing.T) {
	const p = "arn:aws:iam::111122223333:role/r"
	masters := []string{"system:masters becomes AmazonEKSClusterAdminPolicy at cluster scope"}
	noForm := errors.New("no access-entry equivalent: groups [system:authenticated] start with system:")
	tests := []struct {
		name      string
		mode      mapping.Mode
		in        CreateIntent
		at        Presence
		want      Backend
		translate bool
		wantWhy   string
		wantErr   string
	}{
		{"kubeconfig: aws-auth", kubeconfig, CreateIntent{Principal: p, Translation: masters}, Presence{}, BackendAWSAuth, false, "no EKS cluster is named", ""},
		{"kubeconfig refuses access-entry options", kubeconfig, CreateIntent{Principal: p, EntryOnly: "--access-policy"}, Presence{}, BackendAWSAuth, false, "", "--access-policy only apply to access entries"},
		{"CONFIG_MAP: aws-auth", configMap, CreateIntent{Principal: p, Untranslatable: noForm}, Presence{}, BackendAWSAuth, false, "CONFIG_MAP mode, where EKS reads only aws-auth", ""},
		{"CONFIG_MAP account", configMap, CreateIntent{AWSAuthOnly: "--account"}, Presence{}, BackendAWSAuth, false, "CONFIG_MAP", ""},
		{"API: translated entry", api, CreateIntent{Principal: p, Translation: masters}, Presence{}, BackendAccessEntry, true, "API mode, where EKS reads only access entries (system:masters becomes", ""},
		{"API: no form is refused", api, CreateIntent{Principal: p, Untranslatable: noForm}, Presence{}, BackendAccessEntry, false, "", "this mapping cannot be one: no access-entry equivalent"},
		{"API: --account is refused", api, CreateIntent{AWSAuthOnly: "--account"}, Presence{}, BackendAccessEntry, false, "", "--account writes aws-auth, which EKS ignores in API mode"},
		{"API: --service-name is refused", api, CreateIntent{AWSAuthOnly: "--service-name"}, Presence{}, BackendAccessEntry, false, "", "--service-name writes aws-auth"},
		{"both: has an entry -> its entry", both, CreateIntent{Principal: p}, Presence{AccessEntry: true, AWSAuth: true}, BackendAccessEntry, true, "has an access entry, which EKS uses instead", ""},
		{"both: has an entry, no form -> refused, never a silent aws-auth write", both, CreateIntent{Principal: p, Untranslatable: noForm}, Presence{AccessEntry: true}, BackendAccessEntry, false, "", "has an access entry, which EKS uses instead of any aws-auth entry; this mapping cannot be one"},
		{"both: only in aws-auth -> aws-auth", both, CreateIntent{Principal: p, Translation: masters}, Presence{AWSAuth: true}, BackendAWSAuth, false, "is mapped in aws-auth and has no access entry", ""},
		{"both: only in aws-auth, access-entry options -> entry", both, CreateIntent{Principal: p, EntryOnly: "--access-policy"}, Presence{AWSAuth: true}, BackendAccessEntry, true, "--access-policy only exist for access entries", ""},
		{"both: new -> translated entry", both, CreateIntent{Principal: p, Translation: masters}, Presence{}, BackendAccessEntry, true, "a new principal gets an access entry", ""},
		{"both: new, no form -> aws-auth", both, CreateIntent{Principal: p, Untranslatable: noForm}, Presence{}, BackendAWSAuth, false, "this mapping has no access-entry form (no access-entry equivalent", ""},
		{"both: --account -> aws-auth", both, CreateIntent{AWSAuthOnly: "--account"}, Presence{}, BackendAWSAuth, false, "--account has no access-entry equivalent", ""},
		{"both: --service-name -> aws-auth", both, CreateIntent{AWSAuthOnly: "--service-name"}, Presence{}, BackendAWSAuth, false, "--service-name has no access-entry equivalent", ""},
	}
	for _, tt := range tests {
		for _, choice := range []Backend{BackendAuto, ""} {
			t.Run(tt.name+"/"+string(choice), func(t *testing.T) {
				got, err := RouteCreate("c", tt.mode, choice, false, tt.in, tt.at)
				checkErr(t, err, tt.wantErr, tt.wantErr != "")
				if err != nil && hint(err) == "" {
					t.Errorf("refusal %v has no hint", err)
				}
				if got.Backend != tt.want || got.Translate != tt.translate {
					t.Errorf("RouteCreate = %q (translate %v), want %q (translate %v)", got.Backend, got.Translate, tt.want, tt.translate)
				}
				if !strings.Contains(got.Why, tt.wantWhy) {
					t.Errorf("Why = %q, want it to contain %q", got.Why, tt.wantWhy)
				}
			})
		}
	}
}

func TestRouteDelete(t *testing.T) {
	tests := []struct {
		mode             mapping.Mode
		choice           Backend
		account, force   bool
		awsAuth, entries bool
		wantErr          string
	}{
		{kubeconfig, BackendAuto, false, false, true, false, ""},
		{configMap, BackendAuto, false, false, true, false, ""},
		{both, BackendAuto, false, false, true, true, ""},
		{both, "", false, false, true, true, ""},
		{both, BackendAuto, true, false, true, false, ""},
		{api, BackendAuto, false, false, false, true, ""},
		{api, BackendAuto, true, false, false, false, "--account removes a mapAccounts entry, which EKS ignores in API mode"},
		{api, BackendAuto, true, true, true, false, ""},
		{both, BackendAWSAuth, false, false, true, false, ""},
		{both, BackendAccessEntry, false, false, false, true, ""},
		{api, BackendAWSAuth, false, false, false, false, "API authentication mode"},
		{api, BackendAWSAuth, false, true, true, false, ""},
		{configMap, BackendAccessEntry, false, false, false, true, "CONFIG_MAP authentication mode"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/account=%v/force=%v", tt.mode, tt.choice, tt.account, tt.force), func(t *testing.T) {
			got, err := RouteDelete("c", tt.mode, tt.choice, tt.force, tt.account)
			checkErr(t, err, tt.wantErr, false)
			if err == nil && (got.AWSAuth != tt.awsAuth || got.AccessEntry != tt.entries) {
				t.Errorf("RouteDelete = aws-auth %v, entries %v; want %v, %v", got.AWSAuth, got.AccessEntry, tt.awsAuth, tt.entries)
			}
			if err == nil && got.Why == "" {
				t.Error("route has no reason")
			}
		})
	}
}

func TestReadBackends(t *testing.T) {
	tests := []struct {
		mode             mapping.Mode
		choice           Backend
		awsAuth, entries bool
		wantErr          string
	}{
		{kubeconfig, BackendAuto, true, false, ""},
		{configMap, BackendAuto, true, false, ""},
		{both, BackendAuto, true, true, ""},
		{both, "", true, true, ""},
		{api, BackendAuto, false, true, ""},
		{api, BackendAWSAuth, true, false, ""},
		{kubeconfig, BackendAWSAuth, true, false, ""},
		{both, BackendAccessEntry, false, true, ""},
		{configMap, BackendAccessEntry, false, true, "CONFIG_MAP authentication mode"},
		{kubeconfig, BackendAccessEntry, false, true, "name the cluster"},
		{both, "all", false, false, `unknown --backend "all"`},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode)+"/"+string(tt.choice), func(t *testing.T) {
			a, e, err := ReadBackends("c", tt.mode, tt.choice)
			checkErr(t, err, tt.wantErr, false)
			if a != tt.awsAuth || e != tt.entries {
				t.Errorf("ReadBackends = aws-auth %v, entries %v; want %v, %v", a, e, tt.awsAuth, tt.entries)
			}
		})
	}
}

func checkErr(t *testing.T, err error, want string, invalid bool) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if invalid && !errors.Is(err, ErrInvalid) {
		t.Errorf("err %v does not wrap ErrInvalid", err)
	}
	if strings.Contains(want, "mode") && hint(err) == "" {
		t.Errorf("err %v has no hint", err)
	}
}

func TestRequireAccessEntriesHints(t *testing.T) {
	for mode, want := range map[mapping.Mode]string{
		kubeconfig: "pass --cluster NAME (and --region), or set IAMMAP_CLUSTER",
		configMap:  "switch it with `iammap auth-mode --set API_AND_CONFIG_MAP` (one way), or use --backend aws-auth",
		both:       "",
		api:        "",
	} {
		err := RequireAccessEntries("c", mode)
		if (err == nil) != (want == "") || hint(err) != want {
			t.Errorf("RequireAccessEntries(%q) = %v (hint %q), want hint %q", mode, err, hint(err), want)
		}
	}
}

func TestCheckMove(t *testing.T) {
	tests := []struct {
		from, to mapping.Mode
		noop     bool
		wantErr  string
	}{
		{configMap, configMap, true, ""},
		{configMap, both, false, ""},
		{both, api, false, ""},
		{api, api, true, ""},
		{configMap, api, false, "cluster c must pass through API_AND_CONFIG_MAP before API"},
		{both, configMap, false, "cannot move from API_AND_CONFIG_MAP back to CONFIG_MAP: EKS authentication mode changes are one way"},
		{api, both, false, "one way"},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"->"+string(tt.to), func(t *testing.T) {
			noop, err := CheckMove("c", tt.from, tt.to)
			checkErr(t, err, tt.wantErr, false)
			if noop != tt.noop {
				t.Errorf("noop = %v, want %v", noop, tt.noop)
			}
			if err != nil && hint(err) == "" {
				t.Errorf("refusal %v has no hint", err)
			}
		})
	}
}

func TestScope(t *testing.T) {
	m := mapping.Mapping{Source: mapping.MapRoles, ARN: "arn:aws:iam::111122223333:role/a", Username: "a"}
	withAWSAuth := desired.Target{AWSAuth: awsauth.Desired{Mappings: []mapping.Mapping{m}}}
	withAccount := desired.Target{AWSAuth: awsauth.Desired{Accounts: []string{"111122223333"}}}
	withEntries := desired.Target{AccessEntries: []accessentry.Spec{{PrincipalARN: m.ARN}}}
	tests := []struct {
		name                     string
		mode                     mapping.Mode
		want                     desired.Target
		prune, force             bool
		awsAuth, entries, refuse bool
	}{
		{"empty file", both, desired.Target{}, false, false, false, false, false},
		{"aws-auth mappings", configMap, withAWSAuth, false, false, true, false, false},
		{"accounts", kubeconfig, withAccount, false, false, true, false, false},
		{"entries", both, withEntries, false, false, false, true, false},
		{"prune kubeconfig reads aws-auth only", kubeconfig, desired.Target{}, true, false, true, false, false},
		{"prune CONFIG_MAP reads aws-auth only", configMap, desired.Target{}, true, false, true, false, false},
		{"prune both", both, desired.Target{}, true, false, true, true, false},
		{"prune API leaves aws-auth", api, desired.Target{}, true, false, false, true, false},
		{"aws-auth mappings in API mode are refused", api, withAWSAuth, false, false, true, false, true},
		{"unless forced", api, withAWSAuth, false, true, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, e, r := Scope(tt.mode, tt.want, tt.prune, tt.force)
			if a != tt.awsAuth || e != tt.entries || r != tt.refuse {
				t.Errorf("Scope = %v, %v, %v; want %v, %v, %v", a, e, r, tt.awsAuth, tt.entries, tt.refuse)
			}
		})
	}
}
