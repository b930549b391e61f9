//go:build unix

package pricing

import (
	"syscall"
	"time"
)

// processCPUTime returns the user and system CPU time the process has used.
// Benchmarks report it beside wall time because the benchmark machine is
// shared: wall time per op inflates when other processes take the cores,
// CPU time per op does not.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
