package planner

import (
	"context"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/sketch"
	"github.com/soltixdb/soltix/model"
)

// refPercentile is the reference: the nearest-rank percentile p of vs,
// by sorting a copy (NaN first, as slices.Sort orders it).
func refPercentile(vs []float64, p float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	r := int(math.Ceil(p * float64(len(s)) / 100))
	return s[min(max(r, 1), len(s))-1]
}

// sketchYear is a year of 10-minute readings of one series, of a shape
// given by f, as a float field v and an integer field i.
func sketchYear(f func(r *rand.Rand, k int) float64) (*memSource, []float64) {
	m := newMemSource()
	r := rand.New(rand.NewPCG(5, 6))
	v := model.Column{Name: "v", Kind: model.KindFloat}
	iv := model.Column{Name: "i", Kind: model.KindInt}
	var all []float64
	for t := t0; t < ns("2026-01-01"); t += 10 * min_ {
		x := f(r, len(all))
		v.Append(t, model.Float(x))
		iv.Append(t, model.Int(int64(math.Round(x))))
		all = append(all, x)
	}
	m.put("c", "host=a", v)
	m.put("c", "host=a", iv)
	return m, all
}

// TestPercentileSketch: percentile(v, p) GROUP BY 1M over a year reads
// rollup sketches, says so, and stays within the bound of the exact
// nearest-rank value computed here by sorting each month's values;
// levels=raw gives that exact value.
func TestPercentileSketch(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(r *rand.Rand, k int) float64
	}{
		{"uniform", func(r *rand.Rand, _ int) float64 { return r.Float64() * 100 }},
		{"exponential", func(r *rand.Rand, _ int) float64 { return r.ExpFloat64() * 20 }},
		{"bimodal", func(r *rand.Rand, _ int) float64 {
			if r.IntN(2) == 0 {
				return 10 + r.NormFloat64()
			}
			return 500 + 20*r.NormFloat64()
		}},
		{"negative and zero", func(r *rand.Rand, k int) float64 {
			if k%5 == 0 {
				return 0
			}
			return -r.ExpFloat64() * 1000
		}},
		{"constant", func(*rand.Rand, int) float64 { return 21.5 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := sketchYear(tc.f)
			src := newRollupSource(m, 100, math.MinInt64)
			for _, field := range []string{"v", "i"} {
				for _, p := range []float64{0, 1, 50, 90, 99, 99.9, 100} {
					q := "SELECT percentile(" + field + ", " + formatP(p) + ") FROM c WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z' GROUP BY 1M"
					got, err := executeWith(src, q, Options{})
					if err != nil {
						t.Fatalf("%s: %v", q, err)
					}
					exact, err := executeWith(src, q, Options{RawOnly: true})
					if err != nil {
						t.Fatalf("%s (raw): %v", q, err)
					}
					if !sketched(got) || sketched(exact) {
						t.Errorf("%s: notes %q (levels=raw: %q), want the sketch note only without levels=raw", q, got.Stats.Notes, exact.Stats.Notes)
					}
					if len(got.Rows) != 12 || len(exact.Rows) != 12 {
						t.Fatalf("%s: %d rows (raw %d), want 12", q, len(got.Rows), len(exact.Rows))
					}
					for k := range 12 {
						lo, hi := monthBounds(k)
						var vs []float64
						col := m.colls["c"].series[0].cols[field]
						for j, tm := range col.Times {
							if tm >= lo && tm < hi {
								vs = append(vs, sketchNum(col.Value(j)))
							}
						}
						want := refPercentile(vs, p)
						e := exact.Rows[k][1]
						if ev := sketchNum(e); ev != want {
							t.Errorf("%s month %d: levels=raw gave %v, want exact %v", q, k+1, e, want)
						}
						g := got.Rows[k][1]
						gv := sketchNum(g)
						bound := sketch.Alpha * math.Abs(want) * (1 + 1e-9)
						if field == "i" {
							bound += 0.5
						}
						if math.Abs(gv-want) > bound {
							t.Errorf("%s month %d: got %v, want %v within %v", q, k+1, gv, want, bound)
						}
						if (p == 0 || p == 100) && gv != want {
							t.Errorf("%s month %d: got %v, want the exact extreme %v", q, k+1, gv, want)
						}
					}
					for _, ls := range got.Stats.Levels {
						if ls.Level != "1M" {
							t.Errorf("%s: read level %s, want 1M only", q, ls.Level)
						}
					}
				}
			}
		})
	}
}

// num is a float or integer value as a float64.
func sketchNum(v model.Value) float64 {
	if v.Kind == model.KindInt {
		return float64(v.Int())
	}
	return v.Float()
}

func formatP(p float64) string {
	return model.Float(p).String()
}

func monthBounds(k int) (int64, int64) {
	lo := time.Date(2025, time.Month(k+1), 1, 0, 0, 0, 0, time.UTC)
	return lo.UnixNano(), lo.AddDate(0, 1, 0).UnixNano()
}

// TestPercentileSketchEdges: unaligned edges are read raw and added into
// the sketch; a bucket with NaN or ±Inf has no sketch and is read raw, so
// NaN ranks lowest and ±Inf at the ends as levels=raw has them.
func TestPercentileSketchEdges(t *testing.T) {
	m := newMemSource()
	v := model.Column{Name: "v", Kind: model.KindFloat}
	var all []float64
	for k := range 3 * 24 * 6 { // three days of 10-minute readings
		x := float64(k%50) + 0.25
		switch k {
		case 100:
			x = math.NaN()
		case 200:
			x = math.Inf(1)
		case 300:
			x = math.Inf(-1)
		}
		v.Append(t0+int64(k)*10*min_, model.Float(x))
		all = append(all, x)
	}
	m.put("c", "host=a", v)
	src := newRollupSource(m, 10, math.MinInt64)
	for _, tc := range []struct {
		from, to int // 10-minute steps
		p        float64
	}{
		{0, len(all), 0}, {0, len(all), 0.1}, {0, len(all), 0.2}, {0, len(all), 0.3}, {0, len(all), 50}, {0, len(all), 100},
		{7, 400, 50}, {7, 400, 99}, {301, 431, 1}, {145, 290, 90},
	} {
		from, to := t0+int64(tc.from)*10*min_, t0+int64(tc.to)*10*min_
		q := "SELECT percentile(v, " + formatP(tc.p) + ") FROM c WHERE time >= " + model.Int(from).String() + " AND time < " + model.Int(to).String()
		got, err := executeWith(src, q, Options{})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		want := refPercentile(all[tc.from:tc.to], tc.p)
		g := got.Rows[0][1].Float()
		switch {
		case math.IsNaN(want) || math.IsInf(want, 0):
			if math.Float64bits(g) != math.Float64bits(want) {
				t.Errorf("%s: got %v, want %v", q, g, want)
			}
		case math.Abs(g-want) > sketch.Alpha*math.Abs(want)*(1+1e-9):
			t.Errorf("%s: got %v, want %v within %v", q, g, want, sketch.Alpha)
		}
	}
}

// TestExplainSketch: EXPLAIN says when percentile reads rollup sketches.
func TestExplainSketch(t *testing.T) {
	src := newRollupSource(segData(), 100, math.MinInt64)
	for _, tc := range []struct {
		q    string
		opts Options
		note bool
	}{
		{"EXPLAIN SELECT percentile(v, 99) FROM c WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z' GROUP BY 1M", Options{}, true},
		{"EXPLAIN SELECT percentile(v, 99) FROM c GROUP BY 1M", Options{RawOnly: true}, false},
		{"EXPLAIN SELECT percentile(v, 99) FROM c WHERE v > 3", Options{}, false},
		{"EXPLAIN SELECT max(v) FROM c", Options{}, false},
	} {
		res, err := executeWith(src, tc.q, tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		got := res.Stats != nil && slices.Contains(res.Stats.Notes, explainSketchNote)
		if got != tc.note {
			t.Errorf("%s (RawOnly %v): sketch note %v, want %v", tc.q, tc.opts.RawOnly, got, tc.note)
		}
	}
}

// sketchlessSource is a rollupSource that can leave sketches out, and
// counts the reads of each field with and without them.
type sketchlessSource struct {
	*rollupSource
	with, without map[string]int
}

func (s *sketchlessSource) ReadParts(ctx context.Context, coll string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool, level model.Level) ([]Part, error) {
	s.with[field]++
	return s.rollupSource.ReadParts(ctx, coll, tags, field, min, max, whole, level)
}

func (s *sketchlessSource) ReadPartsWithoutSketches(ctx context.Context, coll string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool, level model.Level) ([]Part, error) {
	s.without[field]++
	parts, err := s.rollupSource.ReadParts(ctx, coll, tags, field, min, max, whole, level)
	for i := range parts {
		if sm := parts[i].Summary; sm != nil && sm.Sketch != nil {
			c := *sm
			c.Sketch = nil
			parts[i].Summary = &c
		}
	}
	return parts, err
}

// TestSketchlessReads: a SketchlessSource is asked for sketches only for
// the fields a percentile reads, and the answers are those of a source
// that always gives them.
func TestSketchlessReads(t *testing.T) {
	m, _ := sketchYear(func(r *rand.Rand, _ int) float64 { return r.ExpFloat64() * 20 })
	const rng = " FROM c WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z' GROUP BY 1M"
	for _, tc := range []struct {
		q             string
		with, without []string // the fields read each way
	}{
		{"SELECT mean(v), max(i), stddev(v)" + rng, nil, []string{"i", "v"}},
		{"SELECT percentile(v, 90), mean(i)" + rng, []string{"v"}, []string{"i"}},
		{"SELECT percentile(v, 50), percentile(i, 99), mean(v)" + rng, []string{"i", "v"}, nil},
	} {
		src := &sketchlessSource{rollupSource: newRollupSource(m, 100, math.MinInt64), with: map[string]int{}, without: map[string]int{}}
		got, err := executeWith(src, tc.q, Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		want, err := executeWith(newRollupSource(m, 100, math.MinInt64), tc.q, Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		if !reflect.DeepEqual(got.Rows, want.Rows) {
			t.Errorf("%s: got %v, want %v", tc.q, got.Rows, want.Rows)
		}
		if w, wo := slices.Sorted(maps.Keys(src.with)), slices.Sorted(maps.Keys(src.without)); !slices.Equal(w, tc.with) || !slices.Equal(wo, tc.without) {
			t.Errorf("%s: read with sketches %v and without %v, want %v and %v", tc.q, w, wo, tc.with, tc.without)
		}
	}
}
