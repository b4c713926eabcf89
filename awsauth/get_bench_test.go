package awsauth_test

import (
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"testing"

	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/output"
)

// getTable is what `iammap get` does with aws-auth once the ConfigMap is
// read, without a filter and in the default table format: decode the data,
// entries with their status, rows, and the table written to stdout.
func getTable(data map[string]string, w io.Writer) (rows int, err error) {
	doc := awsauth.Decode(data)
	if errs := doc.Errs(); len(errs) > 0 {
		return 0, errs[0]
	}
	r := output.Rows(doc.Entries(), doc.Set().Accounts)
	return len(r), output.WriteRows(w, output.Table, r, output.AWSAuthLayout)
}

// BenchmarkGet5000 is `iammap get` of a 5,000-mapping aws-auth without a
// cluster. Besides ns/op and B/op it reports the highest of a few runs, each
// on a freshly collected heap that holds only the input (where the GC happens
// to run varies the peak by a few MB from run to run):
//   - peak-heap-MB: the most heap the objects took at any time, garbage not
//     yet collected included, which is what the process has to hold;
//   - peak-go-MB: the most memory the Go runtime held from the OS (heap,
//     stacks, metadata; released pages excluded), the Go part of RSS.
func BenchmarkGet5000(b *testing.B) {
	data, err := awsauth.Encode(awsauth.BenchSet())
	if err != nil {
		b.Fatal(err)
	}
	const wantRows, peakRuns = 5000, 5
	var heap, goMem uint64
	for range peakRuns {
		var runErr error
		h, g := peakMemory(func() {
			var n int
			n, runErr = getTable(data, io.Discard)
			if runErr == nil && n != wantRows {
				b.Errorf("%d rows, want %d", n, wantRows)
			}
		})
		if runErr != nil {
			b.Fatal(runErr)
		}
		heap, goMem = max(heap, h), max(goMem, g)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := getTable(data, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(heap)/1e6, "peak-heap-MB")
	b.ReportMetric(float64(goMem)/1e6, "peak-go-MB")
}

// peakMemory runs f once and returns the highest heap-object bytes and Go
// runtime memory seen while it ran. The heap only shrinks when the GC
// sweeps, so sampling it continuously from another goroutine catches the
// peak to within the few kilobytes allocated between two samples. That
// needs a second P, hence GOMAXPROCS of at least 2 for the measurement.
func peakMemory(f func()) (heapObjects, goMemory uint64) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	// Collect and return freed pages first, so earlier benchmarks in this
	// binary do not count.
	debug.FreeOSMemory()
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			metrics.Read(samples)
			heapObjects = max(heapObjects, samples[0].Value.Uint64())
			goMemory = max(goMemory, samples[1].Value.Uint64()-samples[2].Value.Uint64())
			if stop.Load() {
				return
			}
			runtime.Gosched()
		}
	}()
	f()
	stop.Store(true)
	<-done
	return heapObjects, goMemory
}
