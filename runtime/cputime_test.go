//go:build unix

package runtime

import (
	"syscall"
	"testing"
	"time"
)

// reportCPU adds cpu-ns/op, the process's user and system time per
// iteration, beside ns/op: on a shared machine wall time measures the
// neighbours as much as the code. Call it after setup, as
// `defer reportCPU(b)()`.
func reportCPU(b *testing.B) func() {
	start := cpuTime(b)
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
