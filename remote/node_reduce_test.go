package remote

import (
	"math"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
)

// TestReduceParts: what a node merges into one summary per bucket, and
// what it sends as it came.
func TestReduceParts(t *testing.T) {
	floats := func(t0 int64, vs ...float64) model.Part {
		c := model.Column{Name: "f", Kind: model.KindFloat}
		for i, v := range vs {
			c.Append(t0+int64(i), model.Float(v))
		}
		return model.Part{Values: c}
	}
	block := func(t0 int64, vs ...float64) model.Part {
		p := floats(t0, vs...)
		s := model.Summarize(&p.Values)
		s.HasM2, s.M2 = false, 0
		return model.Part{Summary: &s}
	}
	ints := func(vs ...int64) model.Part {
		c := model.Column{Kind: model.KindInt}
		for i, v := range vs {
			c.Append(int64(i+1), model.Int(v))
		}
		return model.Part{Values: c}
	}
	uints := func(vs ...uint64) model.Part {
		c := model.Column{Kind: model.KindUint}
		for i, v := range vs {
			c.Append(int64(i+1), model.Uint(v))
		}
		return model.Part{Values: c}
	}
	ten := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	negZero := math.Copysign(0, -1)
	// Buckets of 100 over [0, 999].
	whole := planner.WholeSpec{Kind: 1, Width: 100, Lo: 0, Hi: 999}.Func()
	rollup := block(300, 1, 2)
	rollup.Level = model.Level1h
	tests := []struct {
		name    string
		parts   []model.Part
		r       planner.Reduce
		reduced int // Reduced parts in the answer
		out     int // parts in the answer
	}{
		{"a run per bucket", []model.Part{floats(95, append(ten, ten...)...)}, 0, 1, 2}, // 95..99 as values
		{"one bucket", []model.Part{floats(0, append(ten, ten...)...)}, 0, 1, 1},
		{"blocks and values", []model.Part{block(0, ten...), floats(10, 1, 2)}, 0, 1, 1},
		{"a lone block", []model.Part{block(0, ten...)}, 0, 0, 1},
		{"short values", []model.Part{floats(0, 1, 2, 3)}, 0, 0, 1},
		{"outside the range", []model.Part{floats(995, ten...)}, 0, 0, 1},
		{"NaN", []model.Part{floats(0, append(ten, math.NaN())...)}, 0, 0, 1},
		{"zeros, min or max", []model.Part{floats(0, append([]float64{negZero, 0}, ten...)...)}, planner.ReduceMinMax, 1, 1},
		{"zeros out of order", []model.Part{floats(0, append([]float64{0, negZero}, ten...)...)}, planner.ReduceMinMax, 0, 1},
		{"zeros, count only", []model.Part{floats(0, append([]float64{0, negZero}, ten...)...)}, 0, 1, 1},
		{"a rollup row splits", []model.Part{floats(280, 1, 2, 3, 4, 5, 6, 7, 8, 9), rollup, floats(302, ten...)}, 0, 2, 3},
		{"ints", []model.Part{ints(math.MaxInt64, math.MaxInt64, 1, 1, 1, 1, 1, 1)}, planner.ReduceMinMax, 1, 1},
		// avg of integers: the merged sum must not have wrapped.
		{"ints past 2^53, avg", []model.Part{ints(1<<59, 1<<59, -1<<59, 1<<59, 3, 1<<59, 1<<59, 1<<58)}, planner.ReduceIntAvg, 1, 1},
		{"ints that may wrap, avg", []model.Part{ints(math.MaxInt64, math.MaxInt64, 1, 1, 1, 1, 1, 1)}, planner.ReduceIntAvg, 0, 1},
		{"ints that may wrap, avg and max", []model.Part{ints(math.MinInt64, -1, 1, 1, 1, 1, 1, 1)}, planner.ReduceIntAvg | planner.ReduceMinMax, 0, 1},
		{"uints past 2^63, avg", []model.Part{uints(1<<60, 1<<60, 1<<60, 1<<60, 1<<60, 1<<60, 1<<60, 1<<60, 1<<60, 1<<60, 1<<60, 1<<60)}, planner.ReduceIntAvg, 1, 1},
		{"uints that may wrap, avg", []model.Part{uints(math.MaxUint64, 1, 1, 1, 1, 1, 1, 1)}, planner.ReduceIntAvg, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := 0
			for _, p := range tc.parts {
				if p.Summary != nil {
					in += p.Summary.Count
				} else {
					in += p.Values.Len()
				}
			}
			out := reduceParts(tc.parts, whole, tc.r)
			reduced, n := 0, 0
			last := int64(math.MinInt64)
			for _, p := range out {
				lo, hi := int64(0), int64(0)
				if s := p.Summary; s != nil {
					n += s.Count
					lo, hi = s.MinTime, s.MaxTime
					if p.Reduced {
						reduced++
						if !whole(lo, hi) || !tc.r.Exact(s) {
							t.Fatalf("reduced summary %+v is not exact inside one bucket", s)
						}
					}
				} else {
					n += p.Values.Len()
					lo, hi = p.Values.Times[0], p.Values.Times[p.Values.Len()-1]
				}
				if lo <= last {
					t.Fatalf("parts out of order: %+v", out)
				}
				last = hi
			}
			if reduced != tc.reduced || len(out) != tc.out || n != in {
				t.Fatalf("%d parts, %d reduced, %d values; want %d, %d, %d", len(out), reduced, n, tc.out, tc.reduced, in)
			}
		})
	}
}
