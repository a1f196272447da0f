//go:build !linux

package bench

import "time"

// preciseSleep sleeps for d with the runtime's timer.
func preciseSleep(d time.Duration) { time.Sleep(d) }
