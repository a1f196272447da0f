// Package gctune keeps the Go collector from running over and over on a
// small heap. Go collects when the heap reaches live × (1 + GOGC/100): with
// the default GOGC of 100 and a few tens of MiB live, which is what a
// storage node or a router holds between flushes, a query that allocates a
// few MiB triggers a collection every other query, and the collector takes
// a fifth to a third of the process's CPU (measured with perf on the
// cpu-only benchmark's double-groupby-1, docs/benchmarks.md).
//
// A Floor is a heap size below which collecting is not worth it: after
// every collection it sets GOGC so that the next one comes when the heap
// reaches the floor (counting what Go counts: the heap live after the
// collection, goroutine stacks and globals), and never below 100 (Go's default), so a process
// whose live heap is above the floor collects as it always did. The soft
// memory limit (runtime/debug.SetMemoryLimit) still bounds the heap: near
// it the collector runs early whatever GOGC says.
package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// MinPercent is the lowest GOGC a Floor sets: Go's default.
const MinPercent = 100

// maxPercent bounds GOGC when almost nothing is live.
const maxPercent = 10_000

// Floor tunes GOGC after every collection; see the package comment.
type Floor struct {
	bytes   uint64
	percent atomic.Int64
	stopped atomic.Bool
	sample  []metrics.Sample
	mu      sync.Mutex // guards sample: live, stacks, globals, cycles
}

// current is the floor in force: GOGC is one setting per process.
var current atomic.Pointer[Floor]

// Start sets GOGC from now on so that the heap is collected no earlier
// than when it reaches bytes (and no more often than GOGC=100 would). It
// replaces the floor started before, if any; Stop undoes it.
func Start(bytes uint64) *Floor {
	f := &Floor{bytes: bytes, sample: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"}}}
	if old := current.Swap(f); old != nil {
		old.stopped.Store(true)
	}
	debug.SetGCPercent(MinPercent)
	f.percent.Store(MinPercent)
	f.tune()
	f.arm()
	return f
}

// Percent is the GOGC the floor set last.
func (f *Floor) Percent() int { return int(f.percent.Load()) }

// Stop stops tuning and, unless another floor replaced it, sets GOGC
// back to MinPercent.
func (f *Floor) Stop() {
	f.stopped.Store(true)
	if current.CompareAndSwap(f, nil) {
		debug.SetGCPercent(MinPercent)
	}
	f.percent.Store(MinPercent)
}

// Current is the floor in force, nil when none is.
func Current() *Floor { return current.Load() }

// sentinel is garbage as soon as it is made: its finalizer runs after the
// collection that found it, re-tunes and makes the next one.
type sentinel struct{ f *Floor }

func (f *Floor) arm() {
	runtime.SetFinalizer(&sentinel{f: f}, func(s *sentinel) {
		if s.f.stopped.Load() {
			return
		}
		s.f.tune()
		s.f.arm()
	})
}

// tune sets GOGC from the heap live after the last collection.
func (f *Floor) tune() {
	f.mu.Lock()
	metrics.Read(f.sample)
	var v [4]uint64
	for i := range f.sample {
		if f.sample[i].Value.Kind() == metrics.KindUint64 {
			v[i] = f.sample[i].Value.Uint64()
		}
	}
	f.mu.Unlock()
	if v[3] == 0 {
		// No collection yet: nothing is known of what is live, and a
		// GOGC from "nothing live" would let the first heap grow to
		// 100 times Go's 4 MiB minimum.
		return
	}
	p := Percent(f.bytes, v[0], v[1]+v[2])
	if int64(p) != f.percent.Load() && !f.stopped.Load() {
		debug.SetGCPercent(p)
		f.percent.Store(int64(p))
	}
}

// Percent is the GOGC that makes a heap with live bytes live, and roots
// bytes of goroutine stacks and globals, collect when it reaches floor, at
// least MinPercent and at most 10,000. Go's goal for the next collection
// is live + (live + roots) × GOGC/100 (runtime/mgcpacer.go), so it is
// (floor − live) / (live + roots) in percent.
func Percent(floor, live, roots uint64) int {
	if live >= floor {
		return MinPercent
	}
	scan := live + roots
	// The division is done in float64: floor*100 would overflow past
	// 2^57 bytes, and the result is clamped anyway.
	p := float64(floor-live) * 100 / float64(max(scan, 1))
	return int(max(MinPercent, min(p, maxPercent)))
}
