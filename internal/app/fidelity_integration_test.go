package app

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/iammap/iammap/internal/audit"
	"github.com/iammap/iammap/internal/devstack/authwebhook"
	"github.com/iammap/iammap/internal/devstack/stacktest"
	"github.com/iammap/iammap/internal/output"
	"github.com/iammap/iammap/mapping"
	authnv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// signedIn is what the API server makes of a caller's real token: who it
// is (SelfSubjectReview), or 401.
type signedIn struct {
	unauthorized bool
	username     string
	groups       []string // without system:authenticated, which the API server adds
}

func whoAmI(t *testing.T, cs *kubernetes.Clientset) signedIn {
	t.Helper()
	r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(context.Background(), &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if apierrors.IsUnauthorized(err) {
		return signedIn{unauthorized: true}
	}
	if err != nil {
		t.Fatalf("SelfSubjectReview: %v", err)
	}
	var groups []string
	for _, g := range r.Status.UserInfo.Groups {
		if g != "system:authenticated" {
			groups = append(groups, g)
		}
	}
	return signedIn{username: r.Status.UserInfo.Username, groups: groups}
}

// fidelityCase is one class of aws-auth input (issue 9 numbers them): what
// the authenticator makes of a caller with a real token, and what iammap's
// get, explain and audit must say about it.
type fidelityCase struct {
	name   string
	data   map[string]string
	caller string // key of stacktest.Fidelity
	// real is the expected sign-in: "401", or the username; groups too.
	real       string
	realGroups []string
	// realOneOf lists usernames EKS picks between at random (undefined).
	realOneOf []string
	// getState is the STATUS of the row getRow picks, "" to skip.
	getState string
	getRow   func(output.Row) bool
	// auditCheck must be among audit's findings, "" to skip.
	auditCheck string
	// usernamePrefix: iammap cannot look up EC2, so it shows
	// {{EC2PrivateDNSName}} as written; only the prefix is compared.
	usernamePrefix bool
}

func rowARN(arn string) func(output.Row) bool {
	return func(r output.Row) bool { return r.RoleARN+r.UserARN == arn }
}

func rowSSO(r output.Row) bool { return r.SSO != nil }

func rowAccount(a string) func(output.Row) bool {
	return func(r output.Row) bool { return r.Account == a }
}

var fidelityCases = []fidelityCase{
	{name: "1 wrong-typed groups keep the entry, with no groups",
		data:   map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/fid-wild\n  username: wild-{{SessionName}}\n  groups: system:masters\n"},
		caller: "wild", real: "wild-wild", getState: "active", getRow: rowARN("arn:aws:iam::111122223333:role/fid-wild"), auditCheck: "wrong-type"},
	{name: "2 an invalid later entry is dropped, the valid one stays",
		data: map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/fid-kube\n  username: valid\n  groups: [g1]\n" +
			"- rolearn: arn:aws:iam::111122223333:role/fid-kube\n  sso: {permissionSetName: X, accountID: '111122223333'}\n  username: invalid\n  groups: [system:masters]\n"},
		caller: "kube", real: "valid", realGroups: []string{"g1"}, getState: "dropped", getRow: func(r output.Row) bool { return r.Username == "invalid" }, auditCheck: "dropped-entry"},
	{name: "3 mapAccounts through an alias of a quoted id",
		data:   map[string]string{"mapAccounts": "- &partner \"444455556666\"\n- *partner\n"},
		caller: "partner", real: "arn:aws:iam::444455556666:user/partner", getState: "active", getRow: rowAccount("444455556666"), auditCheck: "map-accounts"},
	{name: "3 mapAccounts with a plain integer",
		data:   map[string]string{"mapAccounts": "- 444455556666\n"},
		caller: "partner", real: "arn:aws:iam::444455556666:user/partner", getState: "active", getRow: rowAccount("444455556666")},
	{name: "4 a wildcard is text",
		data:   map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/*\n  username: wild\n  groups: [system:masters]\n"},
		caller: "wild", real: "401", getState: "never-matches", getRow: rowARN("arn:aws:iam::111122223333:role/*"), auditCheck: "never-matches"},
	{name: "5 EC2PrivateDNSName with an instance session",
		data:   map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/fid-node\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:nodes]\n", "mapAccounts": "- '111122223333'\n"},
		caller: "node-instance", real: "system:node:", realGroups: []string{"system:nodes"}, usernamePrefix: true},
	{name: "5 EC2PrivateDNSName with another session is refused, mapAccounts notwithstanding",
		data:   map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/fid-node\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:nodes]\n", "mapAccounts": "- '111122223333'\n"},
		caller: "node-other", real: "401"},
	{name: "6 sso entries never match on EKS",
		data:   map[string]string{"mapRoles": "- sso: {permissionSetName: Admin, accountID: '111122223333'}\n  username: sso\n  groups: [system:masters]\n"},
		caller: "sso", real: "401", getState: "never-matches", getRow: rowSSO, auditCheck: "sso-never-matches"},
	{name: "7 case-variant users: EKS picks either",
		data:   map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:user/varied\n  username: v1\n- userarn: arn:aws:iam::111122223333:user/Varied\n  username: v2\n"},
		caller: "varied", realOneOf: []string{"v1", "v2"}, getState: "undefined", getRow: rowARN("arn:aws:iam::111122223333:user/Varied"), auditCheck: "undefined"},
	{name: "8 the account root",
		data:   map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:root\n  username: root-user\n  groups: [g-root]\n"},
		caller: "root", real: "root-user", realGroups: []string{"g-root"}, getState: "active", getRow: rowARN("arn:aws:iam::111122223333:root"), auditCheck: "root-mapped"},
	{name: "8 a federated user",
		data:   map[string]string{"mapUsers": "- userarn: arn:aws:sts::111122223333:federated-user/fed\n  username: fed\n"},
		caller: "federated", real: "fed", getState: "active", getRow: rowARN("arn:aws:sts::111122223333:federated-user/fed")},
	{name: "9 an upper-case ARN matches",
		data:   map[string]string{"mapRoles": "- rolearn: ARN:AWS:IAM::111122223333:ROLE/FID-KUBE\n  username: upper\n"},
		caller: "kube", real: "upper", getState: "active", getRow: rowARN("ARN:AWS:IAM::111122223333:ROLE/FID-KUBE")},
	{name: "10 eksctl's float rewrite of an account id never matches",
		data:   map[string]string{"mapAccounts": "- \"1.2345679e+10\"\n"},
		caller: "float", real: "401", getState: "never-matches", getRow: rowAccount("1.2345679e+10"), auditCheck: "account-not-an-id"},
	{name: "11 a user has no session: {{SessionName}} renders empty",
		data:   map[string]string{"mapUsers": "- userarn: arn:aws:sts::111122223333:federated-user/fed\n  username: fed-{{SessionName}}-{{AccountID}}\n"},
		caller: "federated", real: "fed--111122223333", getState: "active", getRow: rowARN("arn:aws:sts::111122223333:federated-user/fed")},
	{name: "11 Unicode case folding: the Kelvin sign",
		data:   map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/fid-\u212Aube\n  username: kelvin\n"},
		caller: "kube", real: "kelvin", getState: "active", getRow: rowARN("arn:aws:iam::111122223333:role/fid-\u212Aube")},
}

// TestIntegrationFidelityRealTokensAgreeWithGetExplainAndAudit signs in
// with real tokens, decided in the stack by aws-iam-authenticator's own
// code, and checks that iammap's explain, get and audit say the same, for
// every class of input where iammap used to differ.
func TestIntegrationFidelityRealTokensAgreeWithGetExplainAndAudit(t *testing.T) {
	awsAuthLock.Lock()
	defer awsAuthLock.Unlock()
	env := resetIdentities(t)
	defer resetIdentities(t)
	cl := stacktest.Cluster(t)
	admin := stacktest.Clientset(t, cl.Admin)
	for _, c := range fidelityCases {
		t.Run(c.name, func(t *testing.T) {
			setAWSAuth(t, admin, c.data)
			p := stacktest.Fidelity[c.caller]
			id := explainIdentity(t, env, p)
			// A fresh token: the API server caches a token's identity, so
			// one used before the aws-auth change would show the old one.
			checkRealAgreesWithExplain(t, c, stacktest.SignIn(t, cl, p), id)
			if c.getState != "" {
				checkGetState(t, env, c)
			}
			if c.auditCheck != "" {
				checkAuditFinds(t, env, c.auditCheck)
			}
		})
	}
}

func explainIdentity(t *testing.T, env []string, p authwebhook.Principal) mapping.Identity {
	t.Helper()
	args := []string{"explain", "--arn", p.ARN, "-o", "json"}
	if strings.Contains(p.ARN, ":role/") {
		session := p.SessionName
		if session == "" {
			session = p.Name // the stack's default session name
		}
		args = append(args, "--session-name", session)
	}
	stdout, stderr, err := iammapEnv(t, env, args...)
	if err != nil {
		t.Fatalf("iammap %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	var out struct{ Identity mapping.Identity }
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("explain -o json: %v\n%s", err, stdout)
	}
	return out.Identity
}

func checkRealAgreesWithExplain(t *testing.T, c fidelityCase, cs *kubernetes.Clientset, id mapping.Identity) {
	t.Helper()
	if len(c.realOneOf) > 0 {
		// Tokens of the same user, each decided afresh by the
		// authenticator, which returns the first match of a Go map
		// iteration. That is random but not even: Go starts a small map's
		// iteration at a random one of 8 slots, so with two entries the
		// later one comes first about 1 time in 8. Up to 8 rounds of 16
		// fresh tokens: all 128 agree with probability (7/8)^128 < 1e-7.
		seen := map[string]bool{}
		signIns := 0
		for round := 0; round < 8 && len(seen) < len(c.realOneOf); round++ {
			for _, p := range stacktest.Varied {
				sign := stacktest.SignInNow
				if round > 0 && p.Name == stacktest.Varied[0].Name {
					sign = stacktest.SignIn // a new second: new tokens for all sixteen
				}
				got := whoAmI(t, sign(t, stacktest.Cluster(t), p))
				signIns++
				if !slices.Contains(c.realOneOf, got.username) {
					t.Fatalf("real sign-in as %q, want one of %v", got.username, c.realOneOf)
				}
				seen[got.username] = true
			}
		}
		if len(seen) != len(c.realOneOf) {
			t.Errorf("%d sign-ins saw only %v of %v", signIns, seen, c.realOneOf)
		}
		var explained []string
		for _, o := range id.Outcomes() {
			explained = append(explained, o.Username)
		}
		slices.Sort(explained)
		if !id.Undefined() || !slices.Equal(explained, c.realOneOf) {
			t.Errorf("explain says %+v, want undefined between %v", id, c.realOneOf)
		}
		return
	}
	got := whoAmI(t, cs)
	if c.real == "401" {
		if !got.unauthorized {
			t.Fatalf("real sign-in as %q %v, want 401", got.username, got.groups)
		}
		if id.Mapped {
			t.Errorf("the API server answers 401, explain says mapped: %+v", id)
		}
		return
	}
	if got.unauthorized {
		t.Fatalf("real sign-in got 401, want %q", c.real)
	}
	if matches := got.username == c.real || (c.usernamePrefix && strings.HasPrefix(got.username, c.real)); !matches || !slices.Equal(got.groups, c.realGroups) {
		t.Fatalf("real sign-in as %q %v, want %q %v", got.username, got.groups, c.real, c.realGroups)
	}
	if !id.Mapped || id.Undefined() || !slices.Equal(id.Groups, c.realGroups) && !(len(id.Groups) == 0 && len(c.realGroups) == 0) {
		t.Errorf("explain says %+v; the API server says %q %v", id, got.username, got.groups)
	}
	if c.usernamePrefix {
		if !strings.HasPrefix(id.Username, c.real) {
			t.Errorf("explain's username %q, want prefix %q", id.Username, c.real)
		}
	} else if id.Username != got.username {
		t.Errorf("explain's username %q, the API server's %q", id.Username, got.username)
	}
}

func checkGetState(t *testing.T, env []string, c fidelityCase) {
	t.Helper()
	stdout, stderr, err := iammapEnv(t, env, "get", "--backend", "aws-auth", "-o", "json")
	if err != nil {
		t.Fatalf("get: %v\n%s", err, stderr)
	}
	var rows []output.Row
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatalf("get -o json: %v\n%s", err, stdout)
	}
	for _, r := range rows {
		if c.getRow(r) {
			if r.Status != c.getState {
				t.Errorf("get: row %+v has status %q, want %q", r, r.Status, c.getState)
			}
			return
		}
	}
	t.Errorf("get lists no row for the case:\n%s", stdout)
}

func checkAuditFinds(t *testing.T, env []string, check string) {
	t.Helper()
	stdout, stderr, err := iammapEnv(t, env, "audit", "-o", "json", "--fail-on", "none")
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, stderr)
	}
	var findings []audit.Finding
	if err := json.Unmarshal([]byte(stdout), &findings); err != nil {
		t.Fatalf("audit -o json: %v\n%s", err, stdout)
	}
	if !slices.ContainsFunc(findings, func(f audit.Finding) bool { return f.Check == check }) {
		t.Errorf("audit does not report %s:\n%s", check, stdout)
	}
}
