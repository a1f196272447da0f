package storage

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
)

func TestWriteGateBusy(t *testing.T) {
	for _, tc := range []struct {
		limit, inFlight int
		busy            bool
	}{
		{1, 0, false},
		{1, 1, true},
		{1, 2, true},
		{2, 1, false},
		{2, 2, true},
		{3, 2, false},
	} {
		g := &writeGate{limit: tc.limit}
		for range tc.inFlight {
			g.enter()
		}
		if got := g.busy(); got != tc.busy {
			t.Errorf("limit %d, %d in flight: busy %v, want %v", tc.limit, tc.inFlight, got, tc.busy)
		}
		if g.wait() != tc.busy {
			t.Errorf("limit %d, %d in flight: wait did not match busy", tc.limit, tc.inFlight)
		}
		for range tc.inFlight {
			g.leave()
		}
		if g.busy() {
			t.Errorf("limit %d: busy with no write in flight", tc.limit)
		}
	}
	if g := (&writeGate{}); g.limitNow() != max(1, runtime.GOMAXPROCS(0)-1) {
		t.Errorf("default limit %d, want max(1, GOMAXPROCS-1)", g.limitNow())
	}
}

// waitingOn waits until a wait of g is registered, or fails the test if
// the waiter ended first (closed done, or sent on it) without waiting.
func waitingOn[T any](t *testing.T, g *writeGate, done <-chan T) {
	t.Helper()
	for {
		g.mu.Lock()
		w := g.wake != nil
		g.mu.Unlock()
		if w {
			return
		}
		select {
		case <-done:
			t.Fatal("returned without waiting")
		default:
		}
		runtime.Gosched()
	}
}

// TestWriteGateWakesOnLeave: a wait ends when the write it waits for
// leaves, not at its bound (an hour here: a missed wake hangs the test).
func TestWriteGateWakesOnLeave(t *testing.T) {
	g := &writeGate{limit: 1, maxWait: time.Hour}
	g.enter()
	done := make(chan bool)
	go func() { done <- g.wait() }()
	waitingOn(t, g, done)
	g.leave()
	if !<-done {
		t.Fatal("wait reported it did not wait")
	}
	// Two writes in flight over a limit of two: the first to leave wakes
	// the wait.
	g = &writeGate{limit: 2, maxWait: time.Hour}
	g.enter()
	g.enter()
	go func() { done <- g.wait() }()
	waitingOn(t, g, done)
	g.leave()
	<-done
	g.leave()
}

// TestYieldToWritesNotWhenBehind: the flush gives way to the writes in
// flight only while the active generation is not due for a flush yet.
func TestYieldToWritesNotWhenBehind(t *testing.T) {
	ctx := context.Background()
	db := openFS(t, t.TempDir(), nil, Options{MaxMemoryPoints: 3, MaxMemoryBytes: -1})
	defer db.Close()
	db.gate.limit, db.gate.maxWait = 1, time.Hour
	if err := db.Write(ctx, []model.Point{pt("c", "d", 1, iv("a", 1))}); err != nil {
		t.Fatal(err)
	}
	db.yieldToWrites() // no write in flight
	if n := db.gate.waits.Load(); n != 0 {
		t.Fatalf("%d waits with no write in flight", n)
	}
	db.gate.enter() // a write in flight, the flush ahead: wait for it
	done := make(chan struct{})
	go func() { db.yieldToWrites(); close(done) }()
	waitingOn(t, &db.gate, done)
	db.gate.leave()
	<-done
	if n := db.gate.waits.Load(); n != 1 {
		t.Fatalf("%d waits, want 1", n)
	}
	if err := db.Write(ctx, []model.Point{pt("c", "d", 2, iv("a", 1), iv("b", 2))}); err != nil {
		t.Fatal(err)
	}
	db.mu.RLock()
	due := db.flushDue()
	db.mu.RUnlock()
	if !due {
		t.Fatal("flush not due after 3 points with MaxMemoryPoints 3")
	}
	db.gate.enter() // behind: no wait (a wait would last the hour)
	db.yieldToWrites()
	db.gate.leave()
	if n := db.gate.waits.Load(); n != 1 {
		t.Fatalf("%d waits, want still 1: the flush is behind", n)
	}
}

// TestDecodingHoldsBackground: a write being decoded (Decoding) makes the
// background work give way, as a write in the store does, until its done
// function is called.
func TestDecodingHoldsBackground(t *testing.T) {
	db := openFS(t, t.TempDir(), nil, Options{MaxMemoryBytes: -1})
	defer db.Close()
	db.gate.limit, db.gate.maxWait = 1, time.Hour
	done := db.Decoding()
	yielded := make(chan struct{})
	go func() { db.yieldToWrites(); close(yielded) }()
	waitingOn(t, &db.gate, yielded)
	done()
	<-yielded
	if n := db.gate.waits.Load(); n != 1 {
		t.Fatalf("%d waits, want 1", n)
	}
	db.yieldToWrites() // nothing in flight any more
	if n := db.gate.waits.Load(); n != 1 {
		t.Fatalf("%d waits after the decode ended, want still 1", n)
	}
}
