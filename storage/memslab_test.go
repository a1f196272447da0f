package storage

import (
	"testing"
	"unsafe"

	"github.com/soltixdb/soltix/model"
)

// TestSlabsAlloc takes chunks of many sizes from one set of slabs,
// starting new slabs now and then as a flush's swap does, and checks that
// each comes zeroed and that none overlaps another (each is filled with
// its own number, checked after all were taken).
func TestSlabsAlloc(t *testing.T) {
	var a slabs
	type chunk struct {
		words []uint64
		mark  uint64
	}
	var chunks []chunk
	for i := range 5000 {
		n := 1 + (i*7919)%1500 // up to chunks of 512 values and beyond a small slab's eighth
		if i%997 == 0 {
			a.next()
		}
		w := unsafe.Slice((*uint64)(a.alloc(n)), n)
		for j, x := range w {
			if x != 0 {
				t.Fatalf("chunk %d of %d words: word %d is %d, want zeroed", i, n, j, x)
			}
		}
		mark := uint64(i + 1)
		for j := range w {
			w[j] = mark
		}
		chunks = append(chunks, chunk{w, mark})
	}
	for i, c := range chunks {
		for j, x := range c.words {
			if x != c.mark {
				t.Fatalf("chunk %d: word %d is %d, want %d (overlapped by another chunk)", i, j, x, c.mark)
			}
		}
	}
	if a.taken < 5000 {
		t.Errorf("taken %d words, want them counted", a.taken)
	}
}

// TestChunkGeometry checks that locate, chunkStart and chunkCap agree for
// every phase: every index lies in the chunk locate names, at its offset,
// chunks follow one another, and none holds more than chunkValues.
func TestChunkGeometry(t *testing.T) {
	for q := range uint8(phases) {
		if got := chunkStarts[q][:3]; got[0] != 0 || got[1] != firstChunk || got[2] != firstChunk+minChunk {
			t.Fatalf("phase %d: first chunk starts %v, want 0, %d, %d", q, got, firstChunk, firstChunk+minChunk)
		}
		for i := range 20_000 {
			k, off := locate(i, q)
			if start := chunkStart(k, q); start+off != i || off < 0 || off >= chunkCap(k, q) {
				t.Fatalf("phase %d: locate(%d) = chunk %d offset %d; chunk starts at %d and holds %d", q, i, k, off, start, chunkCap(k, q))
			}
			if chunkStart(k+1, q) != chunkStart(k, q)+chunkCap(k, q) || chunkCap(k, q) > chunkValues {
				t.Fatalf("phase %d: chunk %d: starts %d, holds %d, next starts %d", q, k, chunkStart(k, q), chunkCap(k, q), chunkStart(k+1, q))
			}
		}
	}
}

// TestChunkBoundariesSpread grows 1,000 columns in step, 10 values each
// per batch, as a fleet of 100 hosts of 10 fields writes, and counts the
// columns that begin a chunk in each batch: with one geometry every
// column began one in the same batches (each time, the page faults of
// 9 MB of fresh memory in one write). Once chunks are full, a batch may
// begin the chunks of one phase's columns at most.
func TestChunkBoundariesSpread(t *testing.T) {
	const columns, perBatch = 1000, 10
	ms := make([]memColumn, columns)
	for i := range ms {
		ms[i] = newMemColumn("f", model.KindInt)
	}
	full := 0 // the index from which every phase's chunks are full
	for q := range chunkStarts {
		full = max(full, chunkStarts[q][len(chunkStarts[q])-1])
	}
	worstGrowing, worstFull := 0, 0
	for b := range 400 {
		began := 0 // columns beginning a chunk in batch b
		for i := range ms {
			for j := range perBatch {
				if _, off := locate(ms[i].n+j, ms[i].phase); off == 0 {
					began++
					break
				}
			}
			ms[i].n += perBatch // the geometry only: no values are stored
		}
		switch {
		case b*perBatch >= full:
			worstFull = max(worstFull, began)
		case b*perBatch >= firstChunk+minChunk+perBatch:
			// Past the first chunks, which every phase shares.
			worstGrowing = max(worstGrowing, began)
		}
	}
	if limit := (columns + phases - 1) / phases; worstFull > limit {
		t.Errorf("with full chunks, %d columns began a chunk in one batch, want at most %d", worstFull, limit)
	}
	if worstGrowing > columns*2/3 {
		t.Errorf("with growing chunks, %d of %d columns began a chunk in one batch", worstGrowing, columns)
	}
	t.Logf("most columns beginning a chunk in one batch: %d while chunks grow, %d once full", worstGrowing, worstFull)
}

// TestChunksOfEveryKindFillTheirAllocation gives each chunk of a column
// of each kind a slab exactly its size, so that the chunk ends where its
// allocation does, and reads every value back. Under -race, checkptr
// stops the process if a chunk's accessors form a pointer past the
// allocation, as the values' address of a string chunk (which keeps its
// values elsewhere) once did.
func TestChunksOfEveryKindFillTheirAllocation(t *testing.T) {
	kinds := []model.Value{model.Float(1.5), model.Int(-3), model.Uint(7), model.Bool(true), model.String("s")}
	for _, v := range kinds {
		t.Run(v.Kind.String(), func(t *testing.T) {
			a := slabs{taken: 1 << 30} // every chunk fits a slab's eighth
			m := newMemColumn("f", v.Kind)
			const n = 3 * chunkValues
			for i := range n {
				if k, off := locate(i, m.phase); off == 0 {
					a.free = make([]uint64, chunkWords(v.Kind, chunkCap(k, m.phase)))
				}
				m.append(&a, int64(i), v, 1)
				if len(a.free) != 0 {
					t.Fatalf("value %d: the chunk left %d words of its slab", i, len(a.free))
				}
			}
			col := m.column()
			if col.Len() != n {
				t.Fatalf("%d values, want %d", col.Len(), n)
			}
			for i := range n {
				if col.Times[i] != int64(i) || col.Value(i) != v {
					t.Fatalf("value %d: %d %v, want %d %v", i, col.Times[i], col.Value(i), i, v)
				}
			}
		})
	}
}
