//go:build unix

package e2e

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) this process has used,
// so that benchmarks can report CPU per operation, which a machine busy
// with other work disturbs far less than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
