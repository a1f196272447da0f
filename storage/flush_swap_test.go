package storage

import (
	"sync"
	"testing"
	"time"
)

// TestLockPatiently: while readers hold the lock, lockPatiently polls
// without queueing, so new readers still get in; it takes the lock at the
// first free moment, and queues for it (Lock) only after its patience.
func TestLockPatiently(t *testing.T) {
	t.Run("new readers pass while it polls", func(t *testing.T) {
		var mu sync.RWMutex
		mu.RLock() // a batch in flight
		polls := 0
		lockPatiently(&mu, 10*swapPoll, func(time.Duration) {
			polls++
			// A new batch arrives: it is not held up.
			if !mu.TryRLock() {
				t.Fatalf("poll %d: a new reader was held up", polls)
			}
			mu.RUnlock()
			if polls == 3 {
				mu.RUnlock() // the batch in flight is done
			}
		})
		if polls != 3 {
			t.Errorf("took the lock after %d polls, want 3 (the first free moment)", polls)
		}
		if mu.TryRLock() {
			t.Fatal("lockPatiently returned without the lock")
		}
		mu.Unlock()
	})
	t.Run("queues after its patience", func(t *testing.T) {
		var mu sync.RWMutex
		mu.RLock() // readers that never leave a gap
		var wg sync.WaitGroup
		locked := make(chan struct{})
		polls := 0
		wg.Go(func() {
			lockPatiently(&mu, 4*swapPoll, func(time.Duration) { polls++ })
			close(locked)
			mu.Unlock()
		})
		// Once it queues, new readers wait: the readers drain and the
		// flush gets its turn.
		for mu.TryRLock() {
			mu.RUnlock()
			time.Sleep(time.Millisecond)
		}
		mu.RUnlock()
		<-locked
		wg.Wait()
		if polls != 4 {
			t.Errorf("queued after %d polls, want 4", polls)
		}
	})
}
