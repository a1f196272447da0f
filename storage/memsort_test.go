package storage

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// batchesArriving appends n values of a column the way a fleet's writes
// reach memory: batches of per values in time order, and with swap set
// each pair of neighbouring batches in the other order half the time
// (two clients whose requests overtake each other).
func batchesArriving(m *memColumn, r *rand.Rand, n, per int, swap bool) []refValue {
	var ref []refValue
	add := func(b int) {
		for k := range per {
			t := int64(b*per+k) * 10
			v := model.Int(r.Int64N(100))
			m.append(nil, t, v, uint64(b+1))
			ref = append(ref, refValue{t, v, uint64(b + 1)})
		}
	}
	batches := n / per
	for b := 0; b < batches; b++ {
		if swap && b+1 < batches && r.IntN(2) == 0 {
			add(b + 1)
			add(b)
			b++
			continue
		}
		add(b)
	}
	return ref
}

// TestSortByTimeShapes checks memColumn.sorted against the reference on
// the shapes its merging path and its fallback meet: batches overtaking
// each other, a column written backwards (every value a run of its own,
// which sorts instead of merging), one time written over and over, a
// random order with repeats, and late batches overwriting earlier ones.
func TestSortByTimeShapes(t *testing.T) {
	shapes := map[string]func(m *memColumn, r *rand.Rand) []refValue{
		"overtaking batches": func(m *memColumn, r *rand.Rand) []refValue { return batchesArriving(m, r, 4000, 10, true) },
		"backwards": func(m *memColumn, r *rand.Rand) []refValue {
			var ref []refValue
			for i := 3000; i > 0; i-- {
				v := model.Int(int64(i))
				m.append(nil, int64(i), v, uint64(i))
				ref = append(ref, refValue{int64(i), v, uint64(i)})
			}
			return ref
		},
		"one time": func(m *memColumn, r *rand.Rand) []refValue {
			var ref []refValue
			for i := range 500 {
				v, seq := model.Int(int64(i)), uint64(r.IntN(5))
				m.append(nil, 7, v, seq)
				ref = append(ref, refValue{7, v, seq})
			}
			return ref
		},
		"random with repeats": func(m *memColumn, r *rand.Rand) []refValue {
			var ref []refValue
			for range 2000 {
				tm, v, seq := int64(r.IntN(800)), model.Int(r.Int64()), uint64(r.IntN(50))
				m.append(nil, tm, v, seq)
				ref = append(ref, refValue{tm, v, seq})
			}
			return ref
		},
		"late overwrites": func(m *memColumn, r *rand.Rand) []refValue {
			ref := batchesArriving(m, r, 2000, 10, false)
			for range 30 {
				// A batch that rewrites earlier times, with a sequence
				// number now above, now below theirs.
				b := r.IntN(200)
				seq := uint64(b + 1 + r.IntN(3) - 1)
				for k := range 10 {
					tm, v := int64(b*10+k)*10, model.Int(r.Int64N(100))
					m.append(nil, tm, v, seq)
					ref = append(ref, refValue{tm, v, seq})
				}
			}
			return ref
		},
	}
	for name, shape := range shapes {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("%s/%d", name, seed), func(t *testing.T) {
				r := rand.New(rand.NewPCG(seed, 7))
				m := newMemColumn("v", model.KindInt)
				ref := shape(&m, r)
				if name != "one time" && m.ordered {
					t.Fatal("the shape left the column ordered: the test would not reach sortByTime")
				}
				st, sv := refSorted(ref)
				checkColumn(t, "sorted", m.sorted(), st, sv)
			})
		}
	}
}

// BenchmarkMemColumnSorted sorts a column of 4,000 values that arrived in
// batches of ten, neighbouring batches in the other order half the time
// (TSBS's 100 hosts written by two clients: what a flush and a read of
// memory sort).
//
//	go test -run '^$' -bench MemColumnSorted -count 6 ./storage
func BenchmarkMemColumnSorted(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	m := newMemColumn("v", model.KindInt)
	batchesArriving(&m, r, 4000, 10, true)
	for b.Loop() {
		m.sorted()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*m.n), "ns/value")
}
