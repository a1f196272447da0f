package planner

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// TestAggSlabsSameAggregators checks that the aggregators cut from slabs
// start as newAggregator's do, for every aggregate function, however many
// are cut.
func TestAggSlabsSameAggregators(t *testing.T) {
	fns := []string{"count", "sum", "avg", "min", "max", "spread", "first", "last", "stddev", "percentile", "median", "mode"}
	var s aggSlabs
	for round := range 300 {
		for _, fn := range fns {
			it := &outItem{fn: fn, arg: 90}
			got, want := s.new(it), newAggregator(it)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d, %s: %#v from the slab, newAggregator gives %#v", round, fn, got, want)
			}
		}
	}
}

// TestExtremeAddRun checks that min and max take a run of values as they
// take them one by one (add), bit for bit: NaNs first, inside and alone,
// both zeros, integers, and runs split anywhere.
func TestExtremeAddRun(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	floats := []float64{math.NaN(), 0, math.Copysign(0, -1), 1, -1, math.Inf(1), math.Inf(-1), 2.5, -3.25}
	for trial := range 2000 {
		n := 1 + r.IntN(20)
		var c model.Column
		switch r.IntN(3) {
		case 0:
			c.Kind = model.KindFloat
			for range n {
				c.Floats = append(c.Floats, floats[r.IntN(len(floats))])
			}
		case 1:
			c.Kind = model.KindInt
			for range n {
				c.Ints = append(c.Ints, r.Int64N(21)-10)
			}
		default:
			c.Kind = model.KindUint
			for range n {
				c.Uints = append(c.Uints, r.Uint64N(21))
			}
		}
		c.Times = make([]int64, n)
		for _, wantMin := range []bool{false, true} {
			one := &extremeAgg{wantMin: wantMin}
			for i := range n {
				one.add(&c, i, 0, 0)
			}
			runs := &extremeAgg{wantMin: wantMin}
			for lo := 0; lo < n; {
				hi := min(n, lo+r.IntN(5))
				runs.addRun(&c, lo, hi, 0)
				lo = hi
				if r.IntN(4) == 0 {
					runs.addRun(&c, lo, lo, 0) // an empty run
				}
			}
			got, want := runs.result(), one.result()
			if !got.Equal(want) || runs.r.seen != one.r.seen || runs.r.kind != one.r.kind {
				t.Fatalf("trial %d (%s, min %v): runs give %v, one by one %v", trial, c.Kind, wantMin, got, want)
			}
		}
	}
}
