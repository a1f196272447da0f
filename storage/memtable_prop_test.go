package storage

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// refValue is one append to a memory column as the reference keeps it.
type refValue struct {
	t   int64
	v   model.Value
	seq uint64
}

// randValue returns a random value of kind.
func randValue(r *rand.Rand, kind model.Kind) model.Value {
	switch kind {
	case model.KindFloat:
		return model.Float(r.NormFloat64())
	case model.KindInt:
		return model.Int(r.Int64() - math.MaxInt64/2)
	case model.KindUint:
		return model.Uint(r.Uint64())
	case model.KindBool:
		return model.Bool(r.IntN(2) == 0)
	default:
		return model.String(strings.Repeat("s", r.IntN(12)))
	}
}

// refSorted is what memColumn.sorted must return for the appends ref: by
// time, one value per time, the highest sequence number winning and among
// equal ones the last appended.
func refSorted(ref []refValue) ([]int64, []model.Value) {
	win := map[int64]int{}
	for i, a := range ref {
		if j, ok := win[a.t]; !ok || a.seq >= ref[j].seq {
			win[a.t] = i
		}
	}
	times := make([]int64, 0, len(win))
	for t := range win {
		times = append(times, t)
	}
	slices.Sort(times)
	vals := make([]model.Value, len(times))
	for i, t := range times {
		vals[i] = ref[win[t]].v
	}
	return times, vals
}

// checkColumn fails t unless col holds exactly times and vals.
func checkColumn(t *testing.T, what string, col model.Column, times []int64, vals []model.Value) {
	t.Helper()
	if col.Len() != len(times) {
		t.Fatalf("%s: %d values, want %d", what, col.Len(), len(times))
	}
	for i := range times {
		if col.Times[i] != times[i] || col.Value(i) != vals[i] {
			t.Fatalf("%s: value %d is %d=%v, want %d=%v", what, i, col.Times[i], col.Value(i), times[i], vals[i])
		}
	}
}

// checkAgainst checks every view of m (arrival order, sequence numbers,
// sorted, limited reads) against the appends ref.
func checkAgainst(t *testing.T, what string, m *memColumn, ref []refValue, r *rand.Rand) {
	t.Helper()
	times := make([]int64, len(ref))
	vals := make([]model.Value, len(ref))
	seqs := make([]uint64, len(ref))
	for i, a := range ref {
		times[i], vals[i], seqs[i] = a.t, a.v, a.seq
	}
	checkColumn(t, what+": column", m.column(), times, vals)
	if got := m.seqs(); !slices.Equal(got, seqs) {
		t.Fatalf("%s: seqs %v, want %v", what, got, seqs)
	}
	st, sv := refSorted(ref)
	checkColumn(t, what+": sorted", m.sorted(), st, sv)
	lo := int64(r.IntN(300)) - 50
	hi := lo + int64(r.IntN(300))
	n := 1 + r.IntN(40)
	a := sort.Search(len(st), func(i int) bool { return st[i] >= lo })
	b := sort.Search(len(st), func(i int) bool { return st[i] > hi })
	for _, desc := range []bool{false, true} {
		x, y := a, b
		if y-x > n {
			if desc {
				x = y - n
			} else {
				y = x + n
			}
		}
		checkColumn(t, fmt.Sprintf("%s: limit(%d, %d, %d, %v)", what, lo, hi, n, desc), m.limit(lo, hi, n, desc), st[x:y], sv[x:y])
	}
}

// TestMemColumnAgainstReference appends random values of every kind, with
// times now increasing, now late or repeated, and sequence numbers now
// in order, now out of order, now past what 32 bits hold, and checks
// every view of the column against a plain list of the appends, and that
// snapshots taken along the way still show what they showed then.
func TestMemColumnAgainstReference(t *testing.T) {
	kinds := []model.Kind{model.KindFloat, model.KindInt, model.KindUint, model.KindBool, model.KindString}
	for seed := range uint64(40) {
		kind := kinds[seed%uint64(len(kinds))]
		t.Run(fmt.Sprintf("%d-%s", seed, kind), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 99))
			n := []int{1, 3, 4, 5, 20, 21, 100, 700, 1500}[r.IntN(9)]
			ordered := r.IntN(3) == 0
			m := newMemColumn("v", kind)
			var ref []refValue
			type snap struct {
				m   memColumn
				ref []refValue
			}
			var snaps []snap
			tm, seq := int64(0), uint64(r.IntN(3))<<31
			for range n {
				switch {
				case ordered || r.IntN(4) > 0:
					tm += 1 + int64(r.IntN(3))
				default:
					tm -= int64(r.IntN(6)) // late or repeated
				}
				switch r.IntN(20) {
				case 0:
					seq -= min(seq, uint64(r.IntN(5))) // a batch that reached memory late
				case 1:
					switch seed % 4 {
					case 0:
						seq += 1 << 33 // far: wide runs
					case 1:
						seq += 1<<16 + uint64(r.IntN(1000)) // past what a chunk holds: wide runs
					}
				default:
					seq += uint64(r.IntN(2))
				}
				v := randValue(r, kind)
				m.append(nil, tm, v, seq)
				ref = append(ref, refValue{tm, v, seq})
				if r.IntN(50) == 0 {
					snaps = append(snaps, snap{m.snapshot(), slices.Clone(ref)})
				}
			}
			checkAgainst(t, "column", &m, ref, r)
			for i, s := range snaps {
				checkAgainst(t, fmt.Sprintf("snapshot %d", i), &s.m, s.ref, r)
			}
		})
	}
}

// TestMemSeriesColumns checks that a series finds its columns by name
// whatever the hint, and that adding columns (which may move them) keeps
// every column's values.
func TestMemSeriesColumns(t *testing.T) {
	ms := newMemSeries(2)
	var names []string
	for i := range indexAfter + 5 { // past indexAfter: a map too
		names = append(names, strings.Repeat("f", i%3+1)+fmt.Sprint(i))
	}
	for round := range 3 {
		for i, name := range names {
			for j, hint := range []int{i, 0, len(names) + 3} {
				mc := ms.find(name, hint)
				if round == 0 && j == 0 {
					if mc != nil {
						t.Fatalf("find(%q) before it was added: %v", name, mc.name)
					}
					mc, _ = ms.add(newMemColumn(name, model.KindInt))
				}
				if mc == nil || mc.name != name {
					t.Fatalf("round %d: find(%q, %d) = %v", round, name, hint, mc)
				}
			}
			ms.find(name, i).append(nil, int64(round), model.Int(int64(10*round+i)), 1)
		}
	}
	for i, name := range names {
		got := ms.find(name, 0).column()
		want := model.Column{Name: name, Kind: model.KindInt, Times: []int64{0, 1, 2}, Ints: []int64{int64(i), int64(10 + i), int64(20 + i)}}
		if !slices.Equal(got.Times, want.Times) || !slices.Equal(got.Ints, want.Ints) {
			t.Errorf("column %q: %v, want %v", name, got, want)
		}
	}
	if ms.index == nil {
		t.Errorf("%d columns and no map", len(ms.cols))
	}
	if want := memSeriesBytes + cap(ms.cols)*memColumnBytes + len(ms.cols)*mapEntryBytes; ms.recount() < want {
		t.Errorf("recount %d, below the series and its columns' room %d", ms.bytes, want)
	}
}

// TestMemColumnSnapshotsUnderAppends checks (under -race) that snapshots
// of columns of every kind, taken under a read lock, stay the same while
// appends go on under the write lock, through new chunks, strings and the
// switch to wide runs.
func TestMemColumnSnapshotsUnderAppends(t *testing.T) {
	for _, kind := range []model.Kind{model.KindFloat, model.KindInt, model.KindUint, model.KindBool, model.KindString} {
		t.Run(kind.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(kind), 5))
			vals := make([]model.Value, 2000)
			for i := range vals {
				vals[i] = randValue(r, kind)
			}
			seqOf := func(i int) uint64 {
				if i >= 1500 {
					return 1 << 40 // wide runs from here on
				}
				return uint64(i/3 + 1)
			}
			m := newMemColumn("v", kind)
			var mu sync.RWMutex
			var wg sync.WaitGroup
			wg.Go(func() {
				for i, v := range vals {
					mu.Lock()
					m.append(nil, int64(i%700), v, seqOf(i)) // repeats from 700 on
					mu.Unlock()
				}
			})
			for range 200 {
				mu.RLock()
				s := m.snapshot()
				mu.RUnlock()
				n := s.n
				col, seqs := s.column(), s.seqs()
				for i := range n {
					if col.Times[i] != int64(i%700) || col.Value(i) != vals[i] || seqs[i] != seqOf(i) {
						t.Fatalf("snapshot of %d values: value %d is %d=%v seq %d", n, i, col.Times[i], col.Value(i), seqs[i])
					}
				}
				s.sorted()
			}
			wg.Wait()
		})
	}
}
