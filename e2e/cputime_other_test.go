//go:build !unix

package e2e

import "time"

// processCPU is 0 where getrusage is missing: no CPU metric.
func processCPU() time.Duration { return 0 }
