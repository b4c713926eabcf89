package awsauth

import (
	"fmt"
	"testing"

	"github.com/iammap/iammap/mapping"
)

// benchSet is an aws-auth with 5,000 mappings: 4,000 roles, 900 users and
// 100 accounts, shaped like a large multi-team cluster.
func benchSet() mapping.Set {
	var s mapping.Set
	for i := range 4000 {
		s.Roles = append(s.Roles, mapping.Mapping{Source: mapping.MapRoles, ARN: fmt.Sprintf("arn:aws:iam::111122223333:role/team-%d", i), Username: "team:{{SessionName}}", Groups: []string{"developers", fmt.Sprintf("team-%d", i)}})
	}
	for i := range 900 {
		s.Users = append(s.Users, mapping.Mapping{Source: mapping.MapUsers, ARN: fmt.Sprintf("arn:aws:iam::111122223333:user/people/u%d", i), Username: fmt.Sprintf("u%d", i), Groups: []string{"viewers"}})
	}
	for i := range 100 {
		s.Accounts = append(s.Accounts, fmt.Sprintf("%012d", i))
	}
	return s
}

func BenchmarkDecode5000(b *testing.B) {
	data, err := Encode(benchSet())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d := Decode(data); len(d.Errs()) > 0 {
			b.Fatal(d.Errs())
		}
	}
}

func BenchmarkEncode5000(b *testing.B) {
	set := benchSet()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(set); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAddTo5000 is one create against a 5,000-mapping aws-auth: decode,
// append with verification, and the data to write.
func BenchmarkAddTo5000(b *testing.B) {
	data, err := Encode(benchSet())
	if err != nil {
		b.Fatal(err)
	}
	m := mapping.Mapping{Source: mapping.MapRoles, ARN: "arn:aws:iam::111122223333:role/new", Username: "new"}
	b.ReportAllocs()
	for b.Loop() {
		d := Decode(data)
		if _, err := AddMapping(d, m, false); err != nil {
			b.Fatal(err)
		}
		_ = d.Data()
	}
}

// BenchSet lets the external get benchmark use the same 5,000 mappings; it
// has to be an external test package because internal/output imports awsauth.
var BenchSet = benchSet
