// Scratch memory for the columns a flush builds and drops.

package storage

import (
	"unsafe"

	"github.com/soltixdb/soltix/model"
)

// colArena hands out the value slices of columns that live only until
// reset: a flush's sorted copies of one group's memory columns, which the
// file writer is done with when the group's files are written. Taking
// them from memory the flush used before, instead of fresh from the heap
// for every group of every flush, spares the collector the garbage (the
// copies of every value a flush writes) and the process the page faults
// of fresh memory (docs/benchmarks-latency.md, "Issue 17, sixth wave").
//
// Only pointer-free values come from it (times, floats, integers,
// booleans); a string column's slice is an ordinary allocation. A nil
// arena allocates from the heap. Not safe for concurrent use; the flush
// holds flushMu.
type colArena struct {
	words []uint64 // in use up to len
	bools []bool
}

// arenaMinWords is the smallest buffer the arena allocates (512 KiB).
const arenaMinWords = 1 << 16

// arenaKeepWords is the most an arena keeps between flushes (32 MiB):
// a larger one was needed by a group of exceptional size and goes.
const arenaKeepWords = 1 << 22

// take returns n words no one else uses until the next reset, with
// contents left from before.
func (a *colArena) take(n int) unsafe.Pointer {
	if n == 0 {
		return nil
	}
	if cap(a.words)-len(a.words) < n {
		// The old buffer stays with the columns cut from it; a new one
		// twice as large serves from here on, and alone after reset.
		a.words = make([]uint64, 0, max(n, 2*cap(a.words), arenaMinWords))
	}
	l := len(a.words)
	a.words = a.words[:l+n]
	return unsafe.Pointer(&a.words[l])
}

func (a *colArena) takeBools(n int) []bool {
	if cap(a.bools)-len(a.bools) < n {
		a.bools = make([]bool, 0, max(n, 2*cap(a.bools), 8*arenaMinWords))
	}
	l := len(a.bools)
	a.bools = a.bools[:l+n]
	return a.bools[l : l+n : l+n]
}

// reset makes everything handed out reusable: the caller no longer uses
// any of it.
func (a *colArena) reset() {
	a.words = a.words[:0]
	a.bools = a.bools[:0]
}

// trim drops buffers larger than arenaKeepWords.
func (a *colArena) trim() {
	if cap(a.words) > arenaKeepWords {
		a.words = nil
	}
	if cap(a.bools) > 8*arenaKeepWords {
		a.bools = nil
	}
}

// column returns an empty column of kind with room for n values, its
// pointer-free slices from a (nil: from the heap).
func (a *colArena) column(name string, kind model.Kind, n int) model.Column {
	if a == nil || n == 0 {
		return model.NewColumn(name, kind, n)
	}
	c := model.Column{Name: name, Kind: kind, Times: unsafe.Slice((*int64)(a.take(n)), n)[:0]}
	switch kind {
	case model.KindFloat:
		c.Floats = unsafe.Slice((*float64)(a.take(n)), n)[:0]
	case model.KindInt:
		c.Ints = unsafe.Slice((*int64)(a.take(n)), n)[:0]
	case model.KindUint:
		c.Uints = unsafe.Slice((*uint64)(a.take(n)), n)[:0]
	case model.KindBool:
		c.Bools = a.takeBools(n)[:0]
	case model.KindString:
		c.Strings = make([]string, 0, n)
	}
	return c
}
