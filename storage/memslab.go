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
		a.free = make([]uint64, size)
	}
	p := unsafe.Pointer(unsafe.SliceData(a.free))
	a.free = a.free[n:]
	return p
}

// Chunk geometry. Chunk k of every column holds values [chunkStart(k),
// chunkStart(k+1)): 4 values, then 16, then as many as the column already
// holds (20, 40, ...: a growing slice's spare room at most) up to
// chunkValues, then chunkValues each. A column of one value takes 4
// values' room; one of the 18 values a column of the 1 M-series load
// holds, two chunks of 20.
const (
	firstChunk  = 4
	minChunk    = 16
	chunkValues = 512
)

// chunkStarts holds the first index of each chunk up to the first of
// chunkValues values; from there on chunks are chunkValues long.
var chunkStarts = func() []int {
	starts := []int{0, firstChunk}
	for {
		n := starts[len(starts)-1]
		c := min(max(n, minChunk), chunkValues)
		starts = append(starts, n+c)
		if c == chunkValues {
			return starts[:len(starts)-1]
		}
	}
}()

// locate returns the chunk holding value i and i's offset in it.
func locate(i int) (k, off int) {
	last := len(chunkStarts) - 1
	if s := chunkStarts[last]; i >= s {
		return last + (i-s)/chunkValues, (i - s) % chunkValues
	}
	for k = 0; chunkStarts[k+1] <= i; k++ {
	}
	return k, i - chunkStarts[k]
}

// chunkStart returns the first index of chunk k.
func chunkStart(k int) int {
	last := len(chunkStarts) - 1
	if k >= last {
		return chunkStarts[last] + (k-last)*chunkValues
	}
	return chunkStarts[k]
}

// chunkCap returns how many values chunk k holds.
func chunkCap(k int) int { return chunkStart(k+1) - chunkStart(k) }

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
