package cluster

import (
	"errors"
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

func TestWriteBackend(t *testing.T) {
	tests := []struct {
		mode    mapping.Mode
		choice  Backend
		force   bool
		want    Backend
		wantErr string
		invalid bool
	}{
		{kubeconfig, BackendAuto, false, BackendAWSAuth, "", false},
		{kubeconfig, "", false, BackendAWSAuth, "", false},
		{configMap, BackendAuto, false, BackendAWSAuth, "", false},
		{both, BackendAuto, false, BackendAccessEntry, "", false},
		{api, BackendAuto, false, BackendAccessEntry, "", false},
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
			got, err := WriteBackend("c", tt.mode, tt.choice, tt.force)
			checkErr(t, err, tt.wantErr, tt.invalid)
			if tt.wantErr == "" && got != tt.want {
				t.Errorf("WriteBackend = %q, want %q", got, tt.want)
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
