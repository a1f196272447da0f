package storage

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// writeGate lets the background work (a flush's files and rollups, a
// compaction) give the processors to the writes in flight.
//
// On a machine with few cores a flush encoding its columns takes a whole
// core for a quarter of a second or more; a batch that arrives meanwhile
// shares what is left with the other batch in flight, the HTTP parse and
// the client, and waits for Go's and the kernel's time slices: that wait,
// not the batch's own work, was most of the write latency's p99 at 2.4 M
// values/s on two cores (docs/benchmarks-latency.md). So
// the background work calls yieldToWrites between units of well under a
// millisecond (a column of a file, a field of a series in a rollup pass),
// and that waits while the writes in flight could use every processor
// but one, until one of them ends or maxYieldWait has passed: writes come
// first, and the background work still advances at least a unit per
// maxYieldWait however busy the writers are. It does not wait at all
// when the flush is behind (see yieldToWrites).
//
// yieldToWrites is never called with a lock that a write takes held (the
// flush's cut is made before its files are written), so a write never
// waits for a yielding flush.
type writeGate struct {
	mu   sync.Mutex
	n    int           // writes in flight (DB.write past its checks)
	wake chan struct{} // closed when n falls below the limit; nil when no one waits
	// limit is how many writes in flight make the background work wait;
	// 0 means max(1, GOMAXPROCS-1), read at each yield.
	limit int
	// maxWait bounds one wait; 0 means maxYieldWait (tests set it).
	maxWait time.Duration
	// waits counts the waits, for tests.
	waits atomic.Int64
}

// maxYieldWait bounds one wait of yieldToWrites.
const maxYieldWait = 5 * time.Millisecond

// enter counts a write in flight; leave must follow.
func (g *writeGate) enter() {
	g.mu.Lock()
	g.n++
	g.mu.Unlock()
}

// leave ends a write that enter counted and wakes a waiting yield once
// the writes in flight fall below the limit.
func (g *writeGate) leave() {
	g.mu.Lock()
	g.n--
	if g.wake != nil && g.n < g.limitNow() {
		close(g.wake)
		g.wake = nil
	}
	g.mu.Unlock()
}

func (g *writeGate) limitNow() int {
	if g.limit > 0 {
		return g.limit
	}
	return max(1, runtime.GOMAXPROCS(0)-1)
}

// busy reports whether the writes in flight reach the limit.
func (g *writeGate) busy() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n >= g.limitNow()
}

// wait waits while the writes in flight reach the limit, at most
// maxYieldWait, and reports whether it waited.
func (g *writeGate) wait() bool {
	g.mu.Lock()
	if g.n < g.limitNow() {
		g.mu.Unlock()
		return false
	}
	if g.wake == nil {
		g.wake = make(chan struct{})
	}
	wake := g.wake
	g.mu.Unlock()
	g.waits.Add(1)
	d := g.maxWait
	if d <= 0 {
		d = maxYieldWait
	}
	t := time.NewTimer(d)
	select {
	case <-wake:
	case <-t.C:
	}
	t.Stop()
	return true
}

// yieldToWrites is where the background work gives way to the writes in
// flight (writeGate), unless it is behind them: when the active
// generation is already due for the next flush or memory is over its
// bound, the flush (and whatever else runs in the flusher) goes at full
// speed, so that yielding can never make writes wait for memory.
func (db *DB) yieldToWrites() {
	if !db.gate.busy() {
		return
	}
	db.mu.RLock()
	due := db.flushDue()
	db.mu.RUnlock()
	if due {
		return
	}
	if over, _ := db.overMemory(); over {
		return
	}
	db.gate.wait()
}

// Decoding counts a write whose request the caller is decoding as in
// flight, until the function it returns is called: the background work
// gives way to it as to a write in the store (writeGate). Decoding a
// line-protocol body is most of a write's CPU (1,000 lines of TSBS: about
// a millisecond, against 0.6 for the WAL and 0.7 for the apply), and a
// flush that yielded only to the store's part took the processor from
// the parse of the batches that arrived meanwhile.
func (db *DB) Decoding() (done func()) {
	db.gate.enter()
	return db.gate.leave
}
