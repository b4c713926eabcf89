package app

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/iammap/iammap/internal/devstack/stacktest"
)

// BenchmarkApply1000 applies 1,000 aws-auth mappings end to end on the local
// stack (file, kubeconfig, one read, one conditional write), against 1,000
// sequential `iammap create` calls for the same mappings. Both run in
// process; compare ns/op of the sub-benchmarks.
func BenchmarkApply1000(b *testing.B) {
	kubeconfig := stacktest.Kubeconfig(b)
	admin := stacktest.Clientset(b, stacktest.Cluster(b).Admin)
	file := roleFile(b, 1000, "")
	run := func(args ...string) {
		if err := Run(context.Background(), append([]string{"iammap", "--kubeconfig", kubeconfig}, args...), io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("apply", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			setAWSAuth(b, admin, map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:user/x\n"})
			b.StartTimer()
			run("apply", "-f", file)
		}
	})
	b.Run("sequential-create", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			setAWSAuth(b, admin, map[string]string{"mapUsers": "- userarn: arn:aws:iam::111122223333:user/x\n"})
			b.StartTimer()
			for i := range 1000 {
				run("create", "--arn", fmt.Sprintf("arn:aws:iam::111122223333:role/app-%04d", i), "--username", fmt.Sprintf("app-%04d", i), "--group", "apps")
			}
		}
	})
}
