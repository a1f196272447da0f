package bench

import (
	"syscall"
	"time"
)

// preciseSleep sleeps for d in the kernel (nanosleep on a high-resolution
// timer), blocking the calling thread: d is at most coarseSlack, and the
// runtime gives the thread's processor to other goroutines meanwhile.
func preciseSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(d.Nanoseconds())
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
