package storage

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/soltixdb/soltix/model"
)

// TestMemColumnChunks checks a memory column against a plain column:
// values in arrival order, sorted with the last write of a time winning,
// and appends that never move values already stored (a write that moved
// every column of a fleet at once took 20 ms), with no more spare room
// than a growing slice would have.
func TestMemColumnChunks(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 15, 16, 17, 511, 512, 513, 3000} {
		m := newMemColumn("v", model.KindInt)
		var want model.Column
		want.Kind = model.KindInt
		var first unsafe.Pointer
		tm := int64(0)
		for i := range n {
			if r.IntN(10) == 0 {
				tm -= int64(r.IntN(5)) // now and then a late or repeated time
			} else {
				tm += int64(1 + r.IntN(3))
			}
			m.append(nil, tm, model.Int(int64(i)), uint64(i/7+1))
			want.Append(tm, model.Int(int64(i)))
			if i == 0 {
				first = unsafe.Pointer(&m.chunk(0).Times[0])
			}
		}
		if unsafe.Pointer(&m.chunk(0).Times[0]) != first {
			t.Errorf("n=%d: the first value moved", n)
		}
		got := m.column()
		if !slices.Equal(got.Times, want.Times) || !slices.Equal(got.Ints, want.Ints) {
			t.Fatalf("n=%d: column differs from the values appended", n)
		}
		spare := 0
		for k := range m.numChunks() {
			c := m.chunk(k)
			spare += chunkCap(k, m.phase) - c.Len()
			if chunkCap(k, m.phase) > chunkValues {
				t.Errorf("n=%d: a chunk of %d values", n, chunkCap(k, m.phase))
			}
		}
		// The phase adds up to phases-1 values to the third chunk.
		if spare > max(n, 16)+phases-1 {
			t.Errorf("n=%d: %d values of spare room", n, spare)
		}
		// Sorted: one value per time, the highest sequence number (the
		// last appended) winning.
		last := map[int64]int64{}
		for i, tt := range want.Times {
			last[tt] = want.Ints[i]
		}
		s := m.sorted()
		if s.Len() != len(last) || !slices.IsSorted(s.Times) {
			t.Fatalf("n=%d: sorted has %d values, want %d, in order", n, s.Len(), len(last))
		}
		for i, tt := range s.Times {
			if s.Ints[i] != last[tt] {
				t.Fatalf("n=%d: time %d has %d, want %d", n, tt, s.Ints[i], last[tt])
			}
		}
	}
}

// TestMemColumnSeqRuns checks that every value keeps its batch's sequence
// number whether it fits the compact form (16 bits relative to its
// chunk's base) or not: batches reaching memory out of order, sequence
// numbers near 0, a new chunk's own base, and jumps past what a chunk
// holds, which switch to wide runs.
func TestMemColumnSeqRuns(t *testing.T) {
	for _, tc := range []struct {
		name string
		seqs []uint64
		wide bool
	}{
		{"in order", []uint64{5, 5, 6, 7, 7, 7, 9}, false},
		{"out of order", []uint64{1 << 30, 1<<30 - 3, 1<<30 + 2, 1<<30 - seqSlack}, false},
		{"near zero", []uint64{2, 1, 0, 3}, false},
		{"below the slack", []uint64{1 << 40, 1<<40 - seqSlack - 1, 1 << 40}, true},
		{"past 32 bits", []uint64{7, 7, 1 << 33, 8, 8}, true},
		{"past 16 bits in a chunk", []uint64{5, 5 + 70_000}, true},
		{"a new chunk, a new base", []uint64{1, 2, 3, 4, 100_000, 100_001, 99_500}, false},
		{"max", []uint64{math.MaxUint64, 1, math.MaxUint64}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemColumn("v", model.KindInt)
			for i, seq := range tc.seqs {
				m.append(nil, int64(i), model.Int(int64(i)), seq)
			}
			if got := m.seqs(); !slices.Equal(got, tc.seqs) {
				t.Errorf("seqs %v: got %v, want them back", tc.seqs, got)
			}
			if got := m.x != nil && m.x.wide != nil; got != tc.wide {
				t.Errorf("seqs %v: wide runs %v, want %v", tc.seqs, got, tc.wide)
			}
			if got := m.snapshot(); !slices.Equal(got.seqs(), tc.seqs) {
				t.Errorf("seqs %v: snapshot's seqs %v", tc.seqs, got.seqs())
			}
		})
	}
}
