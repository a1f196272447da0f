// Slabs and chunks: where memory columns keep their values.
//
// A memory column's times, numeric values and sequence numbers live in
// chunks carved out of large pointer-free slabs, so the garbage collector
// sees a slab every 256 KiB instead of several small objects per column
// (with a million series, millions of them, which kept it marking all the
// time: docs/benchmarks-million.md, "Memory columns in slabs"). A chunk
// is taken by moving a pointer; nothing in a slab is ever reused or moved,
// so a reader's snapshot of a column stays valid after the DB's lock is
// released, and a slab is freed by the collector once no column or
// snapshot points into it. Each group has its own slabs (group.slabs):
// the flush writes and releases the memory of one group at a time, which
// slabs shared by every group's columns would hold until the last group
// was written.

package storage

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/soltixdb/soltix/model"
)

// maxSlabWords is the size of a slab in 8-byte words once its group has
// taken a megabyte (256 KiB): large enough that the collector has few
// objects to find (4,096 a gigabyte), small enough that taking a new one
// under the DB's lock (the runtime zeroes it) costs microseconds, that
// the room left at a slab's end when a chunk does not fit is a few
// percent at most, and that what each group's current slab holds but
// does not use yet stays small. A group's first slabs are smaller (a quarter of what
// it took so far, at least minSlabWords), so that a group holding little
// does not hold a whole slab.
const (
	maxSlabWords = 1 << 15
	minSlabWords = 1 << 12
)

// slabs hands out the chunks of one group's memory columns. The zero
// value is ready; the mutex is uncontended (writes hold the DB's lock).
type slabs struct {
	mu    sync.Mutex
	free  []uint64 // the current slab's unused end
	taken int      // words handed out so far
}

// next makes the chunks taken from now on come from a new slab: the
// generation swapped out for a flush then leaves its slabs to it, and
// the collector frees them once the flush drops the generation.
func (a *slabs) next() {
	a.mu.Lock()
	a.free = nil
	a.mu.Unlock()
}

// sharedSlabs serves appends given no slabs of their own (tests).
var sharedSlabs slabs

// alloc returns n zeroed words that nothing else uses. Requests over an
// eighth of the next slab get their own allocation.
func (a *slabs) alloc(n int) unsafe.Pointer {
	if a == nil {
		a = &sharedSlabs
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.taken += n
	size := min(max(a.taken/4, minSlabWords), maxSlabWords)
	if n > size/8 {
		return unsafe.Pointer(unsafe.SliceData(make([]uint64, n)))
	}
	if len(a.free) < n {
		if size == maxSlabWords {
			a.free = takeSlab()[:]
		} else {
			a.free = make([]uint64, size)
		}
	}
	p := unsafe.Pointer(unsafe.SliceData(a.free))
	a.free = a.free[n:]
	return p
}

// Chunk geometry. Chunk k of a column of phase q holds values
// [chunkStart(k, q), chunkStart(k+1, q)): 4 values, then 16, then 20+q,
// then as many as the column already holds (40+q, 80+2q, ...: a growing
// slice's spare room at most) up to chunkValues, then chunkValues each. A
// column of one value takes 4 values' room; one of the 18 values a column
// of the 1 M-series load holds, two chunks of 20.
//
// The phase (0 to phases-1, given to columns in turn) moves the columns'
// chunk boundaries apart: a fleet's columns grow in step (every host
// reports every interval), and with one geometry every column began a
// chunk in the same batch. A new chunk's memory is fresh from the
// operating system, so that batch took the page faults of every column's
// chunk at once: 9 MB for the 1,000 columns of TSBS's 100 hosts, every 51
// batches of 1,000 lines, a write of 1.5 ms taking 9 (in process; over
// HTTP at 2.4 M values/s, with the batches queued behind it, 30 ms: the
// p99 of issue 17's write latency). With 16 phases, whose boundaries are
// 16 values apart once chunks are full, a batch of 10 values a column
// begins the new chunks of one phase's columns at most.
const (
	firstChunk  = 4
	minChunk    = 16
	chunkValues = 512
	phases      = 16
)

// chunkStarts[q] holds the first index of each chunk of phase q up to the
// first of chunkValues values; from there on chunks are chunkValues long.
var chunkStarts = func() (t [phases][]int) {
	for q := range t {
		starts := []int{0, firstChunk, firstChunk + minChunk}
		for {
			n := starts[len(starts)-1]
			c := min(max(n, minChunk), chunkValues)
			if len(starts) == 3 {
				c += q
			}
			starts = append(starts, n+c)
			if c == chunkValues {
				t[q] = starts[:len(starts)-1]
				break
			}
		}
	}
	return t
}()

// nextPhase hands out the phases of new columns in turn.
var nextPhase atomic.Uint32

// newPhase returns the phase of a new column.
func newPhase() uint8 { return uint8(nextPhase.Add(1) % phases) }

// locate returns the chunk holding value i of a column of phase q and i's
// offset in it.
func locate(i int, q uint8) (k, off int) {
	starts := chunkStarts[q%phases]
	last := len(starts) - 1
	if s := starts[last]; i >= s {
		return last + (i-s)/chunkValues, (i - s) % chunkValues
	}
	for k = 0; starts[k+1] <= i; k++ {
	}
	return k, i - starts[k]
}

// chunkStart returns the first index of chunk k of a column of phase q.
func chunkStart(k int, q uint8) int {
	starts := chunkStarts[q%phases]
	last := len(starts) - 1
	if k >= last {
		return starts[last] + (k-last)*chunkValues
	}
	return starts[k]
}

// chunkCap returns how many values chunk k of a column of phase q holds.
func chunkCap(k int, q uint8) int { return chunkStart(k+1, q) - chunkStart(k, q) }

// A chunk of c values is one run of words: the base of its values'
// sequence numbers, c times, the sequence numbers as c uint16s relative
// to the base (seqWords), then the values: c words for floats, ints and
// uints, c bytes for bools; a string column keeps its values in a
// []string per chunk instead. So a float, integer or unsigned value takes
// 18 bytes in a full chunk.
func seqWords(c int) int { return (c + 3) / 4 }

// chunkWords returns the words of a chunk of c values of kind.
func chunkWords(kind model.Kind, c int) int {
	w := 1 + c + seqWords(c)
	switch kind {
	case model.KindFloat, model.KindInt, model.KindUint:
		w += c
	case model.KindBool:
		w += (c + 7) / 8
	}
	return w
}

// seqBase returns where the chunk at p keeps its sequence numbers' base.
func seqBase(p unsafe.Pointer) *uint64 { return (*uint64)(p) }

// timesAt returns the times of the chunk of c values at p.
func timesAt(p unsafe.Pointer, c int) []int64 {
	return unsafe.Slice((*int64)(unsafe.Add(p, 8)), c)
}

// seqAt returns where the chunk of c values at p keeps its values'
// sequence numbers (relative to its base).
func seqAt(p unsafe.Pointer, c int) []uint16 {
	return unsafe.Slice((*uint16)(unsafe.Add(p, 8*(1+c))), c)
}

// valueAt returns where the chunk of c values at p keeps its values. Only
// for kinds whose values are in the chunk: a string chunk ends before
// that address, and a pointer past the end of an allocation is invalid
// (checkptr, on under -race, stops the process on it).
func valueAt(p unsafe.Pointer, c int) unsafe.Pointer {
	return unsafe.Add(p, 8*(1+c+seqWords(c)))
}

// chunkBytes returns the bytes a chunk of c values of kind takes: its
// words, and for strings its []string (the strings' bytes are counted as
// they are appended).
func chunkBytes(kind model.Kind, c int) int {
	n := 8 * chunkWords(kind, c)
	if kind == model.KindString {
		n += c * int(unsafe.Sizeof(""))
	}
	return n
}
