package accessentry

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/iammap/iammap/internal/devstack/eksemu"
)

// BenchmarkList500 lists 500 access entries with 2 policies each while the
// emulator adds 50 ms to every call: List (concurrent) against the same
// 1 + 2N calls made one after another. Compare ns/op of the sub-benchmarks.
func BenchmarkList500(b *testing.B) {
	api, emu := emulated(b, eksemu.Options{}, apiMode("c1"))
	seed(b, api, "c1", 500)
	ctx := context.Background()
	run := func(name string, throttle float64, list func() int) {
		b.Run(name, func(b *testing.B) {
			emu.SetFaults(50*time.Millisecond, throttle)
			defer emu.SetFaults(0, 0)
			for b.Loop() {
				if n := list(); n != 500 {
					b.Fatalf("listed %d entries", n)
				}
			}
		})
	}
	concurrent := func() int {
		entries, err := New(api, "c1").List(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return len(entries)
	}
	run("concurrent", 0, concurrent)
	run("concurrent-throttled-10pct", 0.1, concurrent)
	run("sequential", 0, func() int {
		n := 0
		pages := eks.NewListAccessEntriesPaginator(api, &eks.ListAccessEntriesInput{ClusterName: aws.String("c1")})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for _, arn := range page.AccessEntries {
				if _, err := api.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String("c1"), PrincipalArn: aws.String(arn)}); err != nil {
					b.Fatal(err)
				}
				if _, err := api.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String("c1"), PrincipalArn: aws.String(arn)}); err != nil {
					b.Fatal(err)
				}
				n++
			}
		}
		return n
	})
}
