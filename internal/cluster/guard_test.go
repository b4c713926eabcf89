package cluster

import (
	"errors"
	"testing"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/guard"
	"github.com/iammap/iammap/mapping"
)

const (
	nodes = "arn:aws:iam::111122223333:role/nodes"
	alice = "arn:aws:iam::111122223333:user/alice"
)

var testAWSAuth = map[string]string{
	"mapRoles": "- rolearn: " + nodes + "\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:bootstrappers, system:nodes]\n",
	"mapUsers": "- userarn: " + alice + "\n  username: alice\n  groups: [system:masters]\n",
}

func TestGuardAWSAuthChange(t *testing.T) {
	deleteNodes := func(doc *awsauth.Document) (bool, error) {
		_, err := awsauth.DeleteMapping(doc, nodes, true)
		return err == nil, err
	}
	for _, force := range []bool{false, true} {
		g := &Guard{Mode: mapping.ModeConfigMap, Caller: mapping.PrincipalKey(alice), Force: force}
		doc := awsauth.Decode(testAWSAuth)
		changed, err := g.AWSAuthChange(deleteNodes)(doc)
		if force {
			if err != nil || !changed {
				t.Errorf("forced: changed %v, err %v", changed, err)
			}
			continue
		}
		if !errors.Is(err, guard.ErrRefused) || hint(err) != "nothing was changed; if this is really intended, run again with --force" {
			t.Errorf("removing the node role: err %v (hint %q), want a refusal with the --force hint", err, hint(err))
		}
	}
}

func TestGuardEntriesChangeSeesBothMechanisms(t *testing.T) {
	admin := accessentry.Entry{PrincipalARN: alice, Type: "STANDARD", Policies: []accessentry.PolicySpec{{ARN: "arn:aws:eks::aws:cluster-access-policy/" + mapping.ClusterAdminPolicy}}}
	set := awsauth.Decode(map[string]string{"mapRoles": testAWSAuth["mapRoles"]}).Set()
	g := &Guard{Mode: mapping.ModeAPIAndConfigMap, Entries: []accessentry.Entry{admin}, Caller: mapping.PrincipalKey(alice)}
	drop := accessentry.Plan{Actions: []accessentry.Action{{Kind: accessentry.ActDelete, PrincipalARN: alice}}}
	if err := g.EntriesChange(set, drop); !errors.Is(err, guard.ErrRefused) {
		t.Errorf("deleting the caller's only admin entry: %v, want a refusal", err)
	}
	// With alice also admin through aws-auth, the entry can go: in
	// API_AND_CONFIG_MAP mode EKS falls back to aws-auth.
	set = awsauth.Decode(testAWSAuth).Set()
	if err := g.EntriesChange(set, drop); err != nil {
		t.Errorf("deleting an entry with an aws-auth fallback: %v", err)
	}
}

// In CONFIG_MAP mode a caller the cluster puts in system:masters although
// no mapping makes it admin (the cluster creator) stays admin: taking
// system:masters from the only mapped admin is no lockout then. A caller
// whose admin comes from aws-auth is still protected.
func TestGuardCountsACallerAdminOutsideTheMappings(t *testing.T) {
	const creator = "arn:aws:iam::111122223333:user/creator"
	demote := func(doc *awsauth.Document) (bool, error) {
		_, err := awsauth.AddMapping(doc, mapping.Mapping{Source: mapping.MapUsers, ARN: alice, Username: "alice", Groups: []string{"viewers"}}, false)
		return err == nil, err
	}
	for _, tt := range []struct {
		name          string
		caller        string
		callerMasters bool
		wantRefused   bool
	}{
		{"creator in system:masters", creator, true, false},
		{"creator not in system:masters", creator, false, true},
		{"alice demoting herself", alice, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := &Guard{Mode: mapping.ModeConfigMap, Caller: mapping.PrincipalKey(tt.caller), callerMasters: tt.callerMasters}
			_, err := g.AWSAuthChange(demote)(awsauth.Decode(testAWSAuth))
			if refused := errors.Is(err, guard.ErrRefused); refused != tt.wantRefused {
				t.Errorf("refused = %v (%v), want %v", refused, err, tt.wantRefused)
			}
		})
	}
	// Only CONFIG_MAP has an invisible creator.
	g := &Guard{Mode: mapping.ModeAPIAndConfigMap, Caller: mapping.PrincipalKey(creator), callerMasters: true}
	if _, err := g.AWSAuthChange(demote)(awsauth.Decode(testAWSAuth)); !errors.Is(err, guard.ErrRefused) {
		t.Errorf("API_AND_CONFIG_MAP: %v, want a refusal", err)
	}
}
