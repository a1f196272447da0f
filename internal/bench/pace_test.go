package bench

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestSleepUntil checks that sleepUntil never returns before its time,
// whether the time is past, within the precise part or beyond it, and
// that a context ending first ends the sleep with its error.
func TestSleepUntil(t *testing.T) {
	for _, d := range []time.Duration{-time.Millisecond, 0, 300 * time.Microsecond, coarseSlack / 2, coarseSlack + 3*time.Millisecond} {
		at := time.Now().Add(d)
		if err := sleepUntil(context.Background(), at); err != nil {
			t.Fatalf("sleepUntil(now%+v) = %v", d, err)
		}
		if now := time.Now(); now.Before(at) {
			t.Errorf("sleepUntil(now%+v) returned %v early", d, at.Sub(now))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(10 * time.Millisecond)
		cancel()
	}()
	if err := sleepUntil(ctx, time.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Errorf("sleepUntil with a cancelled context = %v, want context.Canceled", err)
	}
}
