package bench

import (
	"context"
	"time"
)

// coarseSlack is how much earlier than its due time sleepUntil wakes
// from the context-aware timer before it sleeps the rest precisely: Go's
// timers fire up to a millisecond late (on Linux the runtime's network
// poller sleeps in whole milliseconds), and a load paced by them counted
// that lateness, 0.6 ms at the median on an idle machine, as the
// server's latency.
const coarseSlack = 2 * time.Millisecond

// sleepUntil returns at time at (or soon after), or earlier with ctx's
// error when ctx ends first. It sleeps on a timer until coarseSlack
// before at and the rest with preciseSleep.
func sleepUntil(ctx context.Context, at time.Time) error {
	if wait := time.Until(at) - coarseSlack; wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if wait := time.Until(at); wait > 0 {
		preciseSleep(wait)
	}
	return ctx.Err()
}
