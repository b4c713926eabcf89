package guard

import (
	"fmt"
	"testing"

	"github.com/iammap/iammap/mapping"
)

// BenchmarkCheck5000 is the lockout guard on a 5,000-mapping aws-auth (4,000
// roles, 1,000 users, a tenth of them admins) for a write that adds one
// mapping: every principal is identified before and after.
func BenchmarkCheck5000(b *testing.B) {
	var before mapping.Access
	before.Mode = mapping.ModeConfigMap
	for i := range 4000 {
		groups := []string{"developers"}
		if i%10 == 0 {
			groups = append(groups, "system:masters")
		}
		before.AWSAuth.Roles = append(before.AWSAuth.Roles, mapping.Mapping{Source: mapping.MapRoles, ARN: fmt.Sprintf("arn:aws:iam::111122223333:role/team-%d", i), Username: "team:{{SessionName}}", Groups: groups})
	}
	for i := range 1000 {
		before.AWSAuth.Users = append(before.AWSAuth.Users, mapping.Mapping{Source: mapping.MapUsers, ARN: fmt.Sprintf("arn:aws:iam::111122223333:user/people/u%d", i), Username: fmt.Sprintf("u%d", i), Groups: []string{"viewers"}})
	}
	after := before
	after.AWSAuth.Roles = append(append([]mapping.Mapping{}, before.AWSAuth.Roles...), mapping.Mapping{Source: mapping.MapRoles, ARN: "arn:aws:iam::111122223333:role/new", Username: "new"})
	b.ReportAllocs()
	for b.Loop() {
		if vs := Check(before, after, "arn:aws:iam::111122223333:role/team-0"); len(vs) != 0 {
			b.Fatalf("violations: %v", vs)
		}
	}
}
