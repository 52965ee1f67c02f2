//go:build unix

package client

import (
	"syscall"
	"testing"
	"time"
)

// reportCPU adds cpu-ns/op, the process's user and system time per
// iteration (the exporter's goroutine included), beside ns/op: on a shared
// machine wall time measures the neighbours as much as the code. Call it
// after setup, as `defer reportCPU(b)()`.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
