package planner

import (
	"math"

	"github.com/soltixdb/soltix/query"
)

// numSet answers "equals one of the listed numbers" for IN over number
// fields and time with a lookup per value rather than a comparison per
// listed value (a list may hold 100,000 values, and it is tested on every
// row). Each literal is filed under the key that any value equal to it must
// have; the comparisons of the candidates found decide, so the answer is
// exactly that of = against each literal.
type numSet struct {
	cmps []valueCmp
	f64  map[float64][]int32
	i64  map[int64][]int32
	u64  map[uint64][]int32
}

// newNumSet files the literals; cmps[i] is the comparison of lits[i].
func newNumSet(lits []query.Literal, cmps []valueCmp, times []int64) *numSet {
	s := &numSet{cmps: cmps, f64: map[float64][]int32{}, i64: map[int64][]int32{}, u64: map[uint64][]int32{}}
	for i, l := range lits {
		ix := int32(i)
		if times != nil {
			s.i64[times[i]] = append(s.i64[times[i]], ix)
			continue
		}
		switch l.Kind {
		case query.LitInteger:
			n := l.Int
			// A float equal to n is float64(n) (n is representable then).
			s.f64[float64(n)] = append(s.f64[float64(n)], ix)
			s.i64[n] = append(s.i64[n], ix)
			if n >= 0 {
				s.u64[uint64(n)] = append(s.u64[uint64(n)], ix)
			}
		case query.LitNumber:
			f := l.Num
			if !math.IsNaN(f) {
				s.f64[f] = append(s.f64[f], ix)
			}
			// Only an integral value in range equals an integer.
			if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
				s.i64[int64(f)] = append(s.i64[int64(f)], ix)
			}
			if f == math.Trunc(f) && f >= 0 && f < 1<<64 {
				s.u64[uint64(f)] = append(s.u64[uint64(f)], ix)
			}
		}
	}
	return s
}

func (s *numSet) hasF64(v float64) bool {
	for _, i := range s.f64[v] {
		if s.cmps[i].f64(v) == 0 {
			return true
		}
	}
	return false
}

func (s *numSet) hasI64(v int64) bool {
	for _, i := range s.i64[v] {
		if s.cmps[i].i64(v) == 0 {
			return true
		}
	}
	return false
}

func (s *numSet) hasU64(v uint64) bool {
	for _, i := range s.u64[v] {
		if s.cmps[i].u64(v) == 0 {
			return true
		}
	}
	return false
}
