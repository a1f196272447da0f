package sketch

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestAddIntsEqualsAdd checks that AddInts and AddUints leave exactly
// the sketch that Add of every value as a float64 leaves, on integers
// inside and outside the looked-up magnitudes, runs of equal values,
// zero, both signs, the extremes, and spreads wide enough to collapse
// bins (more than MaxBins of them).
func TestAddIntsEqualsAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	sets := map[string][]int64{
		"empty":   nil,
		"extreme": {math.MinInt64, math.MaxInt64, 0, -1, 1, smallInts - 1, smallInts, -smallInts + 1, -smallInts, math.MinInt64 + 1},
	}
	walk := make([]int64, 8640)
	v := int64(50)
	for i := range walk {
		v = min(100, max(0, v+r.Int64N(3)-1))
		walk[i] = v
	}
	sets["cpu walk"] = walk
	runs := make([]int64, 0, 3000)
	for len(runs) < 3000 {
		x := r.Int64N(4000) - 2000
		for range 1 + r.IntN(20) {
			runs = append(runs, x)
		}
	}
	sets["runs"] = runs
	wide := make([]int64, 5000)
	for i := range wide {
		// Magnitudes from 1 to 2^62 of both signs: more bins than kept.
		wide[i] = int64(1) << r.IntN(62) * (1 - 2*r.Int64N(2)) * (1 + r.Int64N(7))
	}
	sets["wide"] = wide
	for name, vs := range sets {
		var want, got Sketch
		for _, v := range vs {
			want.Add(float64(v))
		}
		got.AddInts(vs)
		if !reflect.DeepEqual(&want, &got) {
			t.Errorf("%s: AddInts left %+v, Add %+v", name, got, want)
		}
		// The same magnitudes, unsigned.
		us := make([]uint64, len(vs))
		var wantU, gotU Sketch
		for i, v := range vs {
			us[i] = uint64(v)
			if v < 0 {
				us[i] = uint64(-(v + 1))
			}
			wantU.Add(float64(us[i]))
		}
		gotU.AddUints(us)
		if !reflect.DeepEqual(&wantU, &gotU) {
			t.Errorf("%s unsigned: AddUints left %+v, Add %+v", name, gotU, wantU)
		}
	}
	// Added onto a sketch that holds values already, as a day's sketch
	// grows.
	var want, got Sketch
	for _, v := range []float64{0.5, -3, 1e9} {
		want.Add(v)
		got.Add(v)
	}
	for _, v := range walk {
		want.Add(float64(v))
	}
	got.AddInts(walk)
	if !reflect.DeepEqual(&want, &got) {
		t.Error("AddInts onto a sketch with values differs from Add")
	}
}

// BenchmarkAddInts sketches a day of a TSBS cpu-only field (8,640
// integers 0–100 in a random walk), by Add of each value and by AddInts.
//
//	go test -run '^$' -bench AddInts ./internal/sketch
func BenchmarkAddInts(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	vs := make([]int64, 8640)
	v := 50.0
	for i := range vs {
		v = math.Min(100, math.Max(0, v+r.NormFloat64()))
		vs[i] = int64(math.Round(v))
	}
	b.Run("Add", func(b *testing.B) {
		for b.Loop() {
			var sk Sketch
			for _, v := range vs {
				sk.Add(float64(v))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(vs)), "ns/value")
	})
	b.Run("AddInts", func(b *testing.B) {
		for b.Loop() {
			var sk Sketch
			sk.AddInts(vs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(vs)), "ns/value")
	})
}
