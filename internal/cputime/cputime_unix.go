//go:build unix

// Package cputime reads the CPU time the process has used, which the
// benchmarks report per operation: a machine busy with other work
// inflates it far less than wall time.
package cputime

import (
	"syscall"
	"time"
)

// Process returns the user and system CPU time of this process (0 when
// the system cannot tell).
func Process() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
