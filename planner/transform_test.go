package planner

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// refPoint is one point of the reference data.
type refPoint struct {
	t    int64
	v    float64 // field v (float); hasV false when the row lacks it
	hasV bool
	c    int64 // field c (integer counter, restarting now and then)
}

// refSeries is one series of the reference data, in series-key order.
type refSeries struct {
	device string
	pts    []refPoint
}

// fnTestData writes four series: d0 and d1 with irregular times, rows
// lacking v (nulls for v) and counters that restart, d2 with one point and
// d3 with two points at the same time as d0's, for ties.
func fnTestData() (*memSource, []refSeries) {
	rng := rand.New(rand.NewPCG(7, 9))
	m := newMemSource()
	var all []refSeries
	for d := 0; d < 2; d++ {
		s := refSeries{device: fmt.Sprintf("d%d", d)}
		t := t0
		c := int64(0)
		for i := 0; i < 60; i++ {
			t += int64(1+rng.IntN(20)) * sec
			if rng.IntN(9) == 0 {
				c = int64(rng.IntN(5)) // restart
			} else {
				c += int64(rng.IntN(50))
			}
			p := refPoint{t: t, c: c, v: math.Round(rng.NormFloat64()*1000) / 100, hasV: rng.IntN(6) != 0}
			if i%7 == 3 { // repeated values, for mode, distinct and ties
				p.v = 1.5
			}
			s.pts = append(s.pts, p)
			if p.hasV {
				m.write("dev", "device="+s.device, t, "v", p.v, "c", c)
			} else {
				m.write("dev", "device="+s.device, t, "c", c)
			}
		}
		all = append(all, s)
	}
	one := refSeries{device: "d2", pts: []refPoint{{t: t0 + 90*sec, v: 4, hasV: true, c: 3}}}
	m.write("dev", "device=d2", one.pts[0].t, "v", 4.0, "c", int64(3))
	two := refSeries{device: "d3", pts: []refPoint{
		{t: all[0].pts[0].t, v: 99, hasV: true, c: 1}, {t: all[0].pts[5].t, v: 99, hasV: true, c: 0},
	}}
	for _, p := range two.pts {
		m.write("dev", "device=d3", p.t, "v", p.v, "c", p.c)
	}
	return m, append(all, one, two)
}

const sec = int64(1e9)

// refOut is one output value of the reference for one series.
type refOut struct {
	t      int64
	series int
	v      model.Value
}

// refRows sorts reference outputs as the answer orders them (time, then
// series key) and turns them into rows of time and value.
func refRows(outs []refOut) [][]model.Value {
	slices.SortStableFunc(outs, func(a, b refOut) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.series, b.series)
	})
	rows := make([][]model.Value, len(outs))
	for i, o := range outs {
		rows[i] = []model.Value{model.Int(o.t), o.v}
	}
	return rows
}

// perSeries applies f to the points of each series holding v (or every
// point when allRows), collecting its outputs.
func perSeries(data []refSeries, allRows bool, f func(pts []refPoint, emit func(t int64, v model.Value))) []refOut {
	var outs []refOut
	for si, s := range data {
		var pts []refPoint
		for _, p := range s.pts {
			if allRows || p.hasV {
				pts = append(pts, p)
			}
		}
		f(pts, func(t int64, v model.Value) { outs = append(outs, refOut{t, si, v}) })
	}
	return outs
}

// TestTransformReference checks each transformation of raw points against
// a computation written here from its definition.
func TestTransformReference(t *testing.T) {
	src, data := fnTestData()
	cases := []struct {
		q    string
		want []refOut
	}{
		{"SELECT derivative(v, 1s) FROM dev", perSeries(data, false, func(p []refPoint, emit func(int64, model.Value)) {
			for i := 1; i < len(p); i++ {
				emit(p[i].t, model.Float((p[i].v-p[i-1].v)/(float64(p[i].t-p[i-1].t)/1e9)))
			}
		})},
		{"SELECT non_negative_derivative(v, 1m) FROM dev", perSeries(data, false, func(p []refPoint, emit func(int64, model.Value)) {
			for i := 1; i < len(p); i++ {
				if d := (p[i].v - p[i-1].v) / (float64(p[i].t-p[i-1].t) / 60e9); d >= 0 {
					emit(p[i].t, model.Float(d))
				}
			}
		})},
		{"SELECT difference(c) FROM dev", perSeries(data, true, func(p []refPoint, emit func(int64, model.Value)) {
			for i := 1; i < len(p); i++ {
				emit(p[i].t, model.Int(p[i].c-p[i-1].c))
			}
		})},
		{"SELECT non_negative_difference(c) FROM dev", perSeries(data, true, func(p []refPoint, emit func(int64, model.Value)) {
			for i := 1; i < len(p); i++ {
				if d := p[i].c - p[i-1].c; d >= 0 {
					emit(p[i].t, model.Int(d))
				}
			}
		})},
		{"SELECT rate(c, 1m) FROM dev", perSeries(data, true, func(p []refPoint, emit func(int64, model.Value)) {
			for i := 1; i < len(p); i++ {
				d := p[i].c - p[i-1].c
				if d < 0 {
					d = p[i].c
				}
				emit(p[i].t, model.Float(float64(d)/(float64(p[i].t-p[i-1].t)/60e9)))
			}
		})},
		{"SELECT moving_average(v, 4) FROM dev", perSeries(data, false, func(p []refPoint, emit func(int64, model.Value)) {
			for i := 3; i < len(p); i++ {
				emit(p[i].t, model.Float((p[i-3].v+p[i-2].v+p[i-1].v+p[i].v)/4))
			}
		})},
		{"SELECT cumulative_sum(c) FROM dev", perSeries(data, true, func(p []refPoint, emit func(int64, model.Value)) {
			var s int64
			for i := range p {
				s += p[i].c
				emit(p[i].t, model.Int(s))
			}
		})},
		{"SELECT elapsed(v, 1s) FROM dev", perSeries(data, false, func(p []refPoint, emit func(int64, model.Value)) {
			for i := 1; i < len(p); i++ {
				emit(p[i].t, model.Int((p[i].t-p[i-1].t)/1e9))
			}
		})},
	}
	for _, tc := range cases {
		t.Run(tc.q, func(t *testing.T) {
			res, err := execute(src, tc.q)
			if err != nil {
				t.Fatalf("Execute(%q): %v", tc.q, err)
			}
			if want := refRows(tc.want); !sameRows(res.Rows, want) {
				t.Errorf("Execute(%q):\ngot%s\nwant%s", tc.q, formatRows(res.Rows), formatRows(want))
			}
		})
	}
}

// TestNestedTransformReference checks derivative, difference and
// moving_average of GROUP BY interval buckets against buckets computed
// here: null (empty) buckets are skipped.
func TestNestedTransformReference(t *testing.T) {
	src, data := fnTestData()
	const width = 3 * 60 * sec
	type bucket struct {
		lo       int64
		sum, max float64
		n        int
	}
	buckets := func(s refSeries) []bucket {
		var bs []bucket
		for _, p := range s.pts {
			if !p.hasV {
				continue
			}
			lo := p.t - (p.t % width)
			if len(bs) == 0 || bs[len(bs)-1].lo != lo {
				bs = append(bs, bucket{lo: lo, max: math.Inf(-1)})
			}
			b := &bs[len(bs)-1]
			b.sum, b.n, b.max = b.sum+p.v, b.n+1, max(b.max, p.v)
		}
		return bs
	}
	for _, tc := range []struct {
		q string
		f func(bs []bucket) [][]model.Value
	}{
		{"SELECT derivative(mean(v), 1s) FROM dev WHERE device = '%s' GROUP BY 3m", func(bs []bucket) (rows [][]model.Value) {
			for i := 1; i < len(bs); i++ {
				a, b := bs[i-1].sum/float64(bs[i-1].n), bs[i].sum/float64(bs[i].n)
				rows = append(rows, []model.Value{model.Int(bs[i].lo), model.Float((b - a) / (float64(bs[i].lo-bs[i-1].lo) / 1e9))})
			}
			return rows
		}},
		{"SELECT difference(max(v)) FROM dev WHERE device = '%s' GROUP BY 3m FILL(none)", func(bs []bucket) (rows [][]model.Value) {
			for i := 1; i < len(bs); i++ {
				rows = append(rows, []model.Value{model.Int(bs[i].lo), model.Float(bs[i].max - bs[i-1].max)})
			}
			return rows
		}},
		{"SELECT moving_average(count(v), 2) FROM dev WHERE device = '%s' GROUP BY 3m FILL(none)", func(bs []bucket) (rows [][]model.Value) {
			for i := 1; i < len(bs); i++ {
				rows = append(rows, []model.Value{model.Int(bs[i].lo), model.Float(float64(bs[i].n+bs[i-1].n) / 2)})
			}
			return rows
		}},
	} {
		for _, s := range data[:3] {
			q := fmt.Sprintf(tc.q, s.device)
			t.Run(q, func(t *testing.T) {
				res, err := execute(src, q)
				if err != nil {
					t.Fatalf("Execute(%q): %v", q, err)
				}
				if want := tc.f(buckets(s)); !sameRows(res.Rows, want) {
					t.Errorf("Execute(%q):\ngot%s\nwant%s", q, formatRows(res.Rows), formatRows(want))
				}
			})
		}
	}
}

// TestSelectorReference checks top, bottom, distinct, integral, median and
// mode against computations written here, per 5m bucket.
func TestSelectorReference(t *testing.T) {
	src, data := fnTestData()
	const width = 5 * 60 * sec
	type pt struct {
		t      int64
		series int
		v      float64
		c      int64
	}
	// The points holding v, per bucket, in time then series-key order.
	byBucket := map[int64][]pt{}
	var los []int64
	for si, s := range data {
		for _, p := range s.pts {
			if p.hasV {
				lo := p.t - p.t%width
				if _, ok := byBucket[lo]; !ok {
					los = append(los, lo)
				}
				byBucket[lo] = append(byBucket[lo], pt{p.t, si, p.v, p.c})
			}
		}
	}
	slices.Sort(los)
	for _, ps := range byBucket {
		slices.SortStableFunc(ps, func(a, b pt) int {
			if c := cmp.Compare(a.t, b.t); c != 0 {
				return c
			}
			return cmp.Compare(a.series, b.series)
		})
	}
	pick := func(n int, better func(a, b pt) bool) [][]model.Value {
		var rows [][]model.Value
		for _, lo := range los {
			ps := slices.Clone(byBucket[lo])
			// Selection by repeated scans: the best left, ties to the
			// earliest (the first in ps's order).
			var chosen []pt
			for len(chosen) < n && len(ps) > 0 {
				best := 0
				for i := range ps {
					if better(ps[i], ps[best]) {
						best = i
					}
				}
				chosen = append(chosen, ps[best])
				ps = append(ps[:best], ps[best+1:]...)
			}
			slices.SortStableFunc(chosen, func(a, b pt) int {
				if c := cmp.Compare(a.t, b.t); c != 0 {
					return c
				}
				return cmp.Compare(a.series, b.series)
			})
			for _, c := range chosen {
				rows = append(rows, []model.Value{model.Int(c.t), model.Float(c.v), model.String(data[c.series].device)})
			}
		}
		return rows
	}
	perBucket := func(f func(ps []pt) []model.Value) [][]model.Value {
		var rows [][]model.Value
		for _, lo := range los {
			for _, v := range f(byBucket[lo]) {
				rows = append(rows, []model.Value{model.Int(lo), v})
			}
		}
		return rows
	}
	for _, tc := range []struct {
		q    string
		want [][]model.Value
	}{
		{"SELECT top(v, 3) FROM dev GROUP BY 5m", pick(3, func(a, b pt) bool { return a.v > b.v })},
		{"SELECT bottom(v, 2) FROM dev GROUP BY 5m", pick(2, func(a, b pt) bool { return a.v < b.v })},
		{"SELECT top(v, 10000) FROM dev GROUP BY 5m", pick(10000, func(a, b pt) bool { return a.v > b.v })},
		{"SELECT distinct(v) FROM dev GROUP BY 5m", perBucket(func(ps []pt) []model.Value {
			var vs []float64
			for _, p := range ps {
				if !slices.Contains(vs, p.v) {
					vs = append(vs, p.v)
				}
			}
			slices.Sort(vs)
			out := make([]model.Value, len(vs))
			for i, v := range vs {
				out[i] = model.Float(v)
			}
			return out
		})},
		{"SELECT median(v) FROM dev GROUP BY 5m FILL(none)", perBucket(func(ps []pt) []model.Value {
			var vs []float64
			for _, p := range ps {
				vs = append(vs, p.v)
			}
			slices.Sort(vs)
			if n := len(vs); n%2 == 1 {
				return []model.Value{model.Float(vs[n/2])}
			}
			return []model.Value{model.Float((vs[len(vs)/2-1] + vs[len(vs)/2]) / 2)}
		})},
		{"SELECT mode(v) FROM dev GROUP BY 5m FILL(none)", perBucket(func(ps []pt) []model.Value {
			best, bestN := 0.0, 0
			for _, p := range ps {
				n := 0
				for _, q := range ps {
					if q.v == p.v {
						n++
					}
				}
				if n > bestN || (n == bestN && p.v < best) {
					best, bestN = p.v, n
				}
			}
			return []model.Value{model.Float(best)}
		})},
		{"SELECT integral(v, 1s) FROM dev GROUP BY 5m", perBucket(func(ps []pt) []model.Value {
			area := 0.0
			for si := range data {
				var prev *pt
				for i := range ps {
					if ps[i].series != si {
						continue
					}
					if prev != nil {
						area += (prev.v + ps[i].v) / 2 * float64(ps[i].t-prev.t) / 1e9
					}
					prev = &ps[i]
				}
			}
			return []model.Value{model.Float(area)}
		})},
	} {
		t.Run(tc.q, func(t *testing.T) {
			res, err := execute(src, tc.q)
			if err != nil {
				t.Fatalf("Execute(%q): %v", tc.q, err)
			}
			got := res.Rows
			if len(tc.want) > 0 && len(got) > 0 && len(got[0]) > len(tc.want[0]) {
				got = make([][]model.Value, len(res.Rows))
				for i, r := range res.Rows {
					got[i] = r[:len(tc.want[0])]
				}
			}
			if !sameRows(got, tc.want) {
				t.Errorf("Execute(%q):\ngot%s\nwant%s", tc.q, formatRows(got), formatRows(tc.want))
			}
		})
	}
}

// TestSample checks that sample picks min(n, points) points of each
// bucket, each a point of the data with its tags, the same ones on every
// run of the same query text.
func TestSample(t *testing.T) {
	src, data := fnTestData()
	points := map[string]bool{}
	for _, s := range data {
		for _, p := range s.pts {
			if p.hasV {
				points[fmt.Sprint(p.t, s.device, p.v)] = true
			}
		}
	}
	for _, q := range []string{"SELECT sample(v, 3) FROM dev GROUP BY 5m", "SELECT sample(v, 1000) FROM dev", "SELECT sample(v, 1) FROM dev GROUP BY device"} {
		first, err := execute(src, q)
		if err != nil {
			t.Fatalf("Execute(%q): %v", q, err)
		}
		again, _ := execute(src, q)
		if !sameRows(first.Rows, again.Rows) {
			t.Errorf("Execute(%q) twice: different samples", q)
		}
		grouped := first.Columns[1] == "device"
		for _, r := range first.Rows {
			dev, v := r[len(r)-1].Str(), r[1]
			if grouped {
				dev, v = r[1].Str(), r[2]
			}
			if !points[fmt.Sprint(r[0].Int(), dev, v.Float())] {
				t.Errorf("Execute(%q): row %v is not a point of the data", q, r)
			}
		}
	}
	res, _ := execute(src, "SELECT sample(v, 1000) FROM dev")
	if len(res.Rows) != len(points) {
		t.Errorf("sample(v, 1000) of %d points gave %d rows", len(points), len(res.Rows))
	}
	res, _ = execute(src, "SELECT sample(v, 1) FROM dev GROUP BY device")
	if len(res.Rows) != len(data) {
		t.Errorf("sample(v, 1) GROUP BY device gave %d rows for %d devices", len(res.Rows), len(data))
	}
}
