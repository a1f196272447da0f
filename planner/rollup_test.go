package planner

import (
	"context"
	"fmt"
	"github.com/soltixdb/soltix/internal/sketch"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// rollupSource is a summarySource that also keeps rollups, standing in for
// storage with rollup levels. When it is made it computes, per series and
// field, a Summary per UTC calendar hour of the raw values
// (model.Summarize), then each day from its hours, each month from its
// days and each year from its months (model.Summary.Merge).
//
// ReadParts at a level answers each bucket of that level that lies inside
// [min, max], is not dirty and whose data span whole accepts with its
// rollup row, and everything else (edges, dirty or rejected buckets) from
// the next finer level, down to raw data, which the summarySource answers
// with block statistics and values.
//
// Raw data before rawFrom is dropped after the rollups are computed, as
// retention would: only rollups answer there. dirty marks buckets as not
// rolled up yet and spoils their rows, so that using one would show.
type rollupSource struct {
	*summarySource
	on      bool
	rawFrom int64
	rows    map[rollupKey]*Summary
	dirtyAt map[rollupKey]bool // by level and bucket start, any series
	span    map[*model.Column][2]int64
	used    [model.Level1y + 1]int // rollup rows returned, per level
}

type rollupKey struct {
	col   *model.Column
	level model.Level
	start int64
}

var _ SummarySource = (*rollupSource)(nil)

// newRollupSource computes the rollups of m, drops its raw values before
// rawFrom (math.MinInt64: none) and answers raw data with blocks of block
// values. Write no more points to m afterwards.
func newRollupSource(m *memSource, block int, rawFrom int64) *rollupSource {
	r := &rollupSource{on: true, rawFrom: rawFrom, rows: map[rollupKey]*Summary{},
		dirtyAt: map[rollupKey]bool{}, span: map[*model.Column][2]int64{}}
	var expire []model.Tags
	for _, c := range m.colls {
		for _, se := range c.series {
			for _, col := range se.cols {
				if col.Len() == 0 {
					continue
				}
				r.span[col] = [2]int64{col.Times[0], col.Times[col.Len()-1]}
				r.rollUp(col)
			}
			expire = append(expire, se.tags)
		}
	}
	if rawFrom != math.MinInt64 {
		for name := range m.colls {
			if err := m.Delete(context.Background(), name, expire, math.MinInt64, rawFrom-1); err != nil {
				panic(err)
			}
		}
		m.deletes, m.deleted = 0, nil
	}
	r.summarySource = newSummarySource(m, block)
	return r
}

// rollUp computes the rows of every level for one column.
func (r *rollupSource) rollUp(col *model.Column) {
	for lo := 0; lo < col.Len(); {
		start := model.Level1h.Floor(col.Times[lo])
		hi := lo + 1
		for hi < col.Len() && col.Times[hi] < model.Level1h.Next(start) {
			hi++
		}
		part := col.Slice(lo, hi)
		s := model.Summarize(&part)
		s.Sketch = model.SketchOf(&part)
		r.rows[rollupKey{col, model.Level1h, start}] = &s
		lo = hi
	}
	for _, l := range []model.Level{model.Level1d, model.Level1M, model.Level1y} {
		var starts []int64
		for k := range r.rows {
			if k.col == col && k.level == l.Finer() {
				starts = append(starts, k.start)
			}
		}
		slices.Sort(starts)
		for _, st := range starts {
			k := rollupKey{col, l, l.Floor(st)}
			s := r.rows[k]
			if s == nil {
				s = &Summary{}
				r.rows[k] = s
			}
			s.Merge(r.rows[rollupKey{col, l.Finer(), st}])
		}
	}
}

// dirty marks the buckets of every level holding t as not rolled up, and
// spoils their rows.
func (r *rollupSource) dirty(t int64) {
	for _, l := range model.Levels {
		start := l.Floor(t)
		r.dirtyAt[rollupKey{level: l, start: start}] = true
		for k, s := range r.rows {
			if k.level == l && k.start == start {
				s.Count += 1000
				s.SumFloat, s.SumInt, s.M2 = s.SumFloat+1e6, s.SumInt+7, s.M2*3+1
			}
		}
	}
}

func (r *rollupSource) Rollups(string) (bool, int64) { return r.on, r.rawFrom }

func (r *rollupSource) ReadParts(ctx context.Context, coll string, tags model.Tags, field string, from, to int64, whole func(lo, hi int64) bool, level model.Level) ([]Part, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, ok := r.colls[coll]; !ok {
		return nil, fmt.Errorf("read %q: %w", coll, ErrNotFound)
	}
	s := r.find(coll, tags)
	if s == nil || s.cols[field] == nil {
		return nil, nil
	}
	col := s.cols[field]
	var parts []Part
	var cover func(lo, hi int64, l model.Level) error
	cover = func(lo, hi int64, l model.Level) error {
		if lo > hi {
			return nil
		}
		if l == model.LevelRaw {
			raw, err := r.summarySource.ReadParts(ctx, coll, tags, field, lo, hi, whole, l)
			parts = append(parts, raw...)
			return err
		}
		span, ok := r.span[col]
		if !ok {
			return nil
		}
		first, last := max(lo, span[0]), min(hi, span[1])
		for b := l.Floor(first); b <= last; {
			next := l.Next(b)
			end := next - 1
			if next == math.MaxInt64 {
				end = math.MaxInt64
			}
			row := r.rows[rollupKey{col, l, b}]
			switch {
			case b >= lo && end <= hi && row == nil:
				// No data in the bucket.
			case b >= lo && end <= hi && !r.dirtyAt[rollupKey{level: l, start: b}] && whole(row.MinTime, row.MaxTime):
				parts = append(parts, Part{Summary: row, Level: l})
				r.used[l]++
			default:
				if err := cover(max(b, lo), min(end, hi), l.Finer()); err != nil {
					return err
				}
			}
			if end == math.MaxInt64 {
				break
			}
			b = next
		}
		return nil
	}
	err := cover(from, to, level)
	return parts, err
}

// Explain adds the rollup rows of the level inside [min, max] and its dirty
// buckets there to what memSource reports.
func (r *rollupSource) Explain(coll string, series []model.Tags, min, max int64, level model.Level) ReadPlan {
	rp := r.memSource.Explain(coll, series, min, max, level)
	if level == model.LevelRaw {
		return rp
	}
	cols := map[*model.Column]bool{}
	for _, tags := range series {
		if s := r.find(coll, tags); s != nil {
			for _, c := range s.cols {
				cols[c] = true
			}
		}
	}
	for k, s := range r.rows {
		if k.level == level && cols[k.col] && k.start >= min && s.MaxTime <= max && level.Next(k.start)-1 <= max {
			rp.Rows++
		}
	}
	for _, k := range slices.Collect(maps.Keys(r.dirtyAt)) {
		if k.level == level && k.start <= max && level.Next(k.start)-1 >= min {
			rp.Dirty++
		}
	}
	return rp
}

// executeWith runs q against src with opts (Now defaults to testNow).
func executeWith(src Source, q string, opts Options) (*Result, error) {
	stmt, err := query.Parse(q)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if opts.Now.IsZero() {
		opts.Now = testNow
	}
	return ExecuteWith(context.Background(), src, stmt, opts)
}

// rollupData makes collection r: three series with a float f, an int i
// and an unsigned u at random minutes from 2024-01-01 to 2026-07-01, about
// half of them in bursts of a few hours so that buckets hold several
// points, and some on bucket boundaries or 1 ns before. Floats are around 100 with a few NaN, +0 and -0; series c has
// integers near ±2^62 and unsigned near 2^64 (sums wrap, avg and stddev
// cannot use its rollups) in about half of its rows. Not every field is at
// every row. meanAbs is the mean magnitude of each field's values.
func rollupData(seed uint64) (m *memSource, meanAbs map[string]float64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	m = newMemSource()
	m.create("r", map[string]model.Kind{"f": model.KindFloat, "i": model.KindInt, "u": model.KindUint})
	start, span := ns("2024-01-01"), ns("2026-07-01")-ns("2024-01-01")
	sums, counts := map[string]float64{}, map[string]float64{}
	for si, host := range []string{"a", "b", "c"} {
		var burst int64
		for range 1500 + rng.IntN(1000) {
			var t int64
			if rng.IntN(2) == 0 || burst == 0 {
				t = start + rng.Int64N(span/min_)*min_
				if rng.IntN(20) == 0 {
					burst = t
				}
			} else {
				t = burst + rng.Int64N(6*60)*min_
			}
			if rng.IntN(10) == 0 { // on a bucket boundary, or just before
				t = model.Levels[rng.IntN(4)].Floor(t) - rng.Int64N(2)
			}
			f := 100 + rng.NormFloat64()*20
			switch rng.IntN(100) {
			case 0:
				f = math.NaN()
			case 1:
				f = 0
			case 2:
				f = math.Copysign(0, -1)
			}
			i := int64(rng.IntN(2001) - 1000)
			u := uint64(rng.IntN(1_000_000))
			if si == 2 && rng.IntN(2) == 0 {
				i = (1 << 62) - int64(rng.IntN(10))
				if rng.IntN(2) == 0 {
					i = -i
				}
				u = math.MaxUint64 - uint64(rng.IntN(10))
			}
			kv := []any{"f", f, "i", i, "u", u}
			for k := 0; k < len(kv); k += 2 {
				if rng.IntN(6) > 0 {
					m.write("r", "host="+host, t, kv[k], kv[k+1])
				}
			}
		}
	}
	for _, se := range m.colls["r"].series {
		for name, col := range se.cols {
			for j := range col.Len() {
				var v float64
				switch col.Kind {
				case model.KindFloat:
					v = col.Floats[j]
				case model.KindInt:
					v = float64(col.Ints[j])
				case model.KindUint:
					v = float64(col.Uints[j])
				}
				if !math.IsNaN(v) {
					sums[name] += math.Abs(v)
					counts[name]++
				}
			}
		}
	}
	meanAbs = map[string]float64{}
	for k := range sums {
		meanAbs[k] = sums[k] / counts[k]
	}
	return m, meanAbs
}

// diffRollup compares a result from rollups with one from raw data:
// count, min, max, first, last, percentile and avg of the integer fields
// i and u bit for bit; sum, avg of floats and spread within relative 1e-9;
// stddev within 1e-9 of the largest of the two results and the mean
// magnitude of the field's values.
// sketched reports whether a result's percentile came from rollup
// sketches (its Stats note says so).
func sketched(r *Result) bool {
	return r.Stats != nil && slices.Contains(r.Stats.Notes, sketchNote)
}

// withinSketchInt reports whether an integer percentile g from sketches
// is within the documented bound of the exact w: α|w| rounded, plus 0.5.
func withinSketchInt(g, w model.Value) bool {
	var d, x float64
	switch {
	case g.Kind == model.KindInt && w.Kind == model.KindInt:
		d, x = math.Abs(float64(g.Int())-float64(w.Int())), float64(w.Int())
	case g.Kind == model.KindUint && w.Kind == model.KindUint:
		d, x = math.Abs(float64(g.Uint())-float64(w.Uint())), float64(w.Uint())
	default:
		return false
	}
	return d <= sketch.Alpha*math.Abs(x)*(1+1e-9)+0.5
}

func diffRollup(got, want *Result, meanAbs map[string]float64) string {
	if strings.Join(got.Columns, "|") != strings.Join(want.Columns, "|") {
		return fmt.Sprintf("columns %q, want %q", got.Columns, want.Columns)
	}
	if len(got.Rows) != len(want.Rows) {
		return fmt.Sprintf("%d rows, want %d:\ngot%s\nwant%s", len(got.Rows), len(want.Rows), formatRows(got.Rows), formatRows(want.Rows))
	}
	for i := range got.Rows {
		for j, g := range got.Rows[i] {
			w := want.Rows[i][j]
			if g.Equal(w) {
				continue
			}
			col := want.Columns[j]
			fn, field, _ := strings.Cut(strings.TrimSuffix(col, ")"), "(")
			if g.Kind == model.KindFloat && w.Kind == model.KindFloat {
				a, b := g.Float(), w.Float()
				scale := math.Max(math.Abs(a), math.Abs(b))
				if fn == "stddev" {
					scale = math.Max(scale, meanAbs[field])
				}
				// avg of integers (i, u) is exact: bit for bit.
				intAvg := fn == "avg" && (field == "i" || field == "u")
				switch {
				case math.IsNaN(a) && math.IsNaN(b):
					continue
				case (fn == "sum" || (fn == "avg" && !intAvg) || fn == "spread" || fn == "stddev") && math.Abs(a-b) <= 1e-9*scale:
					continue
				case fn == "percentile" && sketched(got) && math.Abs(a-b) <= sketch.Alpha*math.Abs(b)*(1+1e-9):
					continue
				}
			}
			if fn == "percentile" && sketched(got) && withinSketchInt(g, w) {
				continue
			}
			return fmt.Sprintf("row %d column %s: %s:%v, want %s:%v\ngot%s\nwant%s", i, col, g.Kind, g, w.Kind, w,
				formatRows(got.Rows[i:i+1]), formatRows(want.Rows[i:i+1]))
		}
	}
	return ""
}

// TestRollupsDifferential runs random aggregate queries over random data
// from rollups and with levels=raw (RawOnly): the answers must agree.
func TestRollupsDifferential(t *testing.T) {
	items := []string{
		"count(f), sum(f), avg(f), min(f), max(f), first(f), last(f), spread(f), stddev(f)",
		"count(i), sum(i), avg(i), min(i), max(i), first(i), last(i), spread(i), stddev(i)",
		"count(u), sum(u), avg(u), min(u), max(u), first(u), last(u), spread(u), stddev(u)",
		"percentile(f, 50), count(i), stddev(i), max(f)",
		"stddev(f), percentile(i, 90), max(u), avg(i)",
		"stddev(f), stddev(i), stddev(u), count(f)",
	}
	intervals := []string{"", "1m", "1h", "1d", "1w", "1M", "1y", "3M", "6h"}
	lo, hi := ns("2024-01-01"), ns("2026-07-01")
	ranges := []func(r *rand.Rand, short bool) string{
		func(_ *rand.Rand, short bool) string {
			if short {
				return " WHERE time >= '2025-03-04T00:00:00Z' AND time < '2025-03-06T00:00:00Z'"
			}
			return ""
		},
		func(*rand.Rand, bool) string {
			return " WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z'"
		},
		func(*rand.Rand, bool) string {
			return " WHERE time >= '2024-06-01T00:00:00Z' AND time < '2024-09-01T00:00:00Z'"
		},
		func(r *rand.Rand, short bool) string { // unaligned, in minutes
			from := lo + r.Int64N((hi-lo)/min_)*min_
			length := r.Int64N(2*365*day/min_) * min_
			if short {
				length = r.Int64N(3*day/min_) * min_
			}
			return fmt.Sprintf(" WHERE time >= %d AND time < %d", from, from+length)
		},
		func(r *rand.Rand, short bool) string { // unaligned, in nanoseconds
			from := lo + r.Int64N(hi-lo)
			length := r.Int64N(400 * day)
			if short {
				length = r.Int64N(3 * day)
			}
			return fmt.Sprintf(" WHERE time > %d AND time <= %d", from, from+length)
		},
		func(r *rand.Rand, short bool) string {
			if short {
				return fmt.Sprintf(" WHERE time >= %d AND time < %d", hi-2*day, hi)
			}
			return fmt.Sprintf(" WHERE time > %d", lo+r.Int64N(hi-lo))
		},
		func(r *rand.Rand, short bool) string {
			if short {
				return fmt.Sprintf(" WHERE time < %d", lo+day)
			}
			return fmt.Sprintf(" WHERE host != 'b' AND time < %d", lo+r.Int64N(hi-lo))
		},
	}
	rng := rand.New(rand.NewPCG(11, 12))
	var rows [model.Level1y + 1]int64
	queries := 0
	for seed := range uint64(3) {
		data, meanAbs := rollupData(seed)
		src := newRollupSource(data, 1+rng.IntN(8), math.MinInt64)
		// A few buckets not rolled up yet (none for the first seed, so that
		// whole years are used): storage reads finer levels.
		for range 5 * seed {
			col := data.colls["r"].series[rng.IntN(3)].cols["f"]
			src.dirty(col.Times[rng.IntN(col.Len())])
		}
		for range 150 {
			iv := intervals[rng.IntN(len(intervals))]
			short := iv == "1m"
			q := "SELECT " + items[rng.IntN(len(items))] + " FROM r" + ranges[rng.IntN(len(ranges))](rng, short)
			var group []string
			if iv != "" {
				group = append(group, iv)
			}
			if rng.IntN(3) == 0 {
				group = append(group, "host")
			}
			if len(group) > 0 {
				q += " GROUP BY " + strings.Join(group, ", ")
			}
			if iv != "" && (short || rng.IntN(2) == 0) {
				q += " FILL(none)"
			}
			want, err := executeWith(src, q, Options{RawOnly: true})
			if err != nil {
				t.Fatalf("%s (raw): %v", q, err)
			}
			got, err := executeWith(src, q, Options{})
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			queries++
			if msg := diffRollup(got, want, meanAbs); msg != "" {
				t.Errorf("seed %d: %s:\n%s", seed, q, msg)
			}
			for _, ls := range want.Stats.Levels {
				if ls.Level != "raw" {
					t.Errorf("%s: levels=raw used level %s", q, ls.Level)
				}
			}
			for _, ls := range got.Stats.Levels {
				l, _ := model.ParseLevel(ls.Level)
				rows[l] += ls.Rows
			}
		}
	}
	for _, l := range model.Levels {
		if rows[l] == 0 {
			t.Errorf("no rollup row of level %s was used in %d queries", l, queries)
		}
	}
}

// TestRollupsStddevBlocks checks that block statistics, which have no M2,
// are not used for stddev where storage descends to raw data inside a
// rollup segment (a dirty bucket): blocks of 2 values, 6 values an hour.
func TestRollupsStddevBlocks(t *testing.T) {
	src := newRollupSource(segData(), 2, math.MinInt64)
	src.dirty(ns("2025-03-10T05:15:00Z"))
	for _, q := range []string{
		"SELECT stddev(v), stddev(i), count(v) FROM c WHERE time >= '2025-03-01T00:00:00Z' AND time < '2025-04-01T00:00:00Z' GROUP BY 1h FILL(none)",
		"SELECT stddev(v), stddev(i), count(v) FROM c GROUP BY 1d",
		"SELECT stddev(v), stddev(i), count(v) FROM c",
	} {
		want, err := executeWith(src, q, Options{RawOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		got, err := executeWith(src, q, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if msg := diffRollup(got, want, map[string]float64{"v": 12, "i": 250}); msg != "" {
			t.Errorf("%s: %s", q, msg)
		}
		if got.Stats.Levels[0].Level != "raw" || got.Stats.Levels[0].Points == 0 || len(got.Stats.Levels) < 2 {
			t.Errorf("%s: stats %+v, want raw values read for the dirty hour and rollup rows", q, got.Stats)
		}
	}
}

func TestRollupStats(t *testing.T) {
	const (
		year      = "time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z'"
		unaligned = "time >= '2025-01-01T12:30:00Z' AND time < '2026-01-01T00:00:00Z'"
	)
	src := newRollupSource(segData(), 100, math.MinInt64)
	dirty := newRollupSource(segData(), 100, math.MinInt64)
	dirty.dirty(ns("2025-03-10T05:15:00Z"))
	points := (ns("2026-01-01") - t0) / (10 * min_)
	for _, tc := range []struct {
		src  Source
		q    string
		opts Options
		want []LevelStats
		rows [][]any
	}{
		{
			src: src, q: "SELECT max(v), count(v) FROM c WHERE " + unaligned,
			want: []LevelStats{{Level: "raw", Points: 3}, {Level: "1h", Rows: 11}, {Level: "1d", Rows: 30}, {Level: "1M", Rows: 11}},
			rows: [][]any{{ns("2025-01-01T12:30:00Z"), 96 / 4.0, points - 75}},
		},
		{
			src: src, q: "SELECT count(v), stddev(v) FROM c WHERE " + year + " GROUP BY 1d FILL(none) LIMIT 1",
			want: []LevelStats{{Level: "1d", Rows: 365}}, // one column
		},
		{
			src: src, q: "SELECT count(v) FROM c WHERE " + year,
			want: []LevelStats{{Level: "1y", Rows: 1}},
			rows: [][]any{{t0, points}},
		},
		{
			src: src, q: "SELECT percentile(v, 50) FROM c WHERE " + year, opts: Options{RawOnly: true},
			want: []LevelStats{{Level: "raw", Points: points}},
		},
		{
			src: src, q: "SELECT count(v) FROM c WHERE v > 3 AND " + year,
			want: []LevelStats{{Level: "raw", Points: points}},
		},
		{
			src: src, q: "SELECT v FROM c WHERE time < '2025-01-01T01:00:00Z'",
			want: []LevelStats{{Level: "raw", Points: 6}},
		},
		{
			src: src, q: "SELECT count(v) FROM c WHERE " + unaligned, opts: Options{RawOnly: true},
			want: []LevelStats{{Level: "raw", Points: 25, Blocks: points / 100}}, // blocks 1 … 525, the last one short
			rows: [][]any{{ns("2025-01-01T12:30:00Z"), points - 75}},
		},
		{
			// The year, March and March 10 are dirty: 11 months, 30 days,
			// 23 hours and the 6 values of 05:00.
			src: dirty, q: "SELECT count(v) FROM c WHERE " + year,
			want: []LevelStats{{Level: "raw", Points: 6}, {Level: "1h", Rows: 23}, {Level: "1d", Rows: 30}, {Level: "1M", Rows: 11}},
			rows: [][]any{{t0, points}},
		},
		{
			src: segData(), q: "SELECT count(v) FROM c WHERE " + year,
			want: []LevelStats{{Level: "raw", Points: points}},
		},
		{src: src, q: "SELECT count(v) FROM c WHERE time > 5 AND time < 3", want: []LevelStats{}, rows: [][]any{}},
	} {
		res, err := executeWith(tc.src, tc.q, tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		if res.Stats == nil || !slices.Equal(res.Stats.Levels, tc.want) || len(res.Stats.Notes) != 0 {
			t.Errorf("%s (RawOnly %v): stats %+v, want levels %+v and no notes", tc.q, tc.opts.RawOnly, res.Stats, tc.want)
		}
		if tc.rows != nil && !sameRows(res.Rows, wantRows(tc.rows)) {
			t.Errorf("%s:\ngot%s\nwant%s", tc.q, formatRows(res.Rows), formatRows(wantRows(tc.rows)))
		}
	}
	for _, q := range []string{"SHOW COLLECTIONS", "EXPLAIN SELECT count(v) FROM c"} {
		if res, err := executeWith(src, q, Options{}); err != nil || res.Stats != nil {
			t.Errorf("%s: stats %+v, error %v; want none", q, res.Stats, err)
		}
	}
}

// TestRollupsExpired checks answers and notes where raw data has expired:
// raw values of segData before 2025-07-01T12:30 are gone, rollups remain.
func TestRollupsExpired(t *testing.T) {
	rawFrom := ns("2025-07-01T12:30:00Z")
	src := newRollupSource(segData(), 100, rawFrom)
	const year = "time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z'"
	points := (ns("2026-01-01") - t0) / (10 * min_)
	kept := (ns("2026-01-01") - rawFrom) / (10 * min_)
	rollupNote := "raw data before 2025-07-01T12:30:00Z has expired: that range was answered from rollups only"
	rawNote := "raw data before 2025-07-01T12:30:00Z has expired: what this query reads from raw data only"
	h := func(s string) int64 { return ns("2025-07-01T" + s + ":00Z") }
	for _, tc := range []struct {
		q     string
		opts  Options
		rows  [][]any
		notes []string
	}{
		{q: "SELECT count(v) FROM c WHERE " + year, rows: [][]any{{t0, points}}, notes: []string{rollupNote}},
		{q: "SELECT count(v) FROM c WHERE " + year, opts: Options{RawOnly: true}, rows: [][]any{{t0, kept}}, notes: []string{rawNote}},
		// percentile reads the rollups' sketches, expired range included;
		// levels=raw reads what raw data is left.
		{q: "SELECT percentile(v, 100), count(i) FROM c WHERE " + year, rows: [][]any{{t0, 96 / 4.0, points}}, notes: []string{rollupNote, sketchNote}},
		{q: "SELECT percentile(v, 100), count(i) FROM c WHERE " + year, opts: Options{RawOnly: true}, rows: [][]any{{t0, 96 / 4.0, kept}}, notes: []string{rawNote}},
		// The unaligned edge 06:15 … 07:00 has no raw data left; the hour
		// of rawFrom is whole in its rollup row.
		{
			q:     "SELECT count(v) FROM c WHERE time >= '2025-07-01T06:15:00Z' AND time < '2025-07-01T14:00:00Z' GROUP BY 1h",
			rows:  [][]any{{h("06:00"), 0}, {h("07:00"), 6}, {h("08:00"), 6}, {h("09:00"), 6}, {h("10:00"), 6}, {h("11:00"), 6}, {h("12:00"), 6}, {h("13:00"), 6}},
			notes: []string{rollupNote},
		},
		{q: "SELECT count(v) FROM c WHERE time >= '2025-07-01T12:30:00Z'", rows: [][]any{{rawFrom, kept}}},
		{q: "SELECT count(v) FROM c WHERE time >= '2025-07-02T00:00:00Z'", rows: [][]any{{ns("2025-07-02"), kept - 69}}},
	} {
		res, err := executeWith(src, tc.q, tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		if !sameRows(res.Rows, wantRows(tc.rows)) {
			t.Errorf("%s (RawOnly %v):\ngot%s\nwant%s", tc.q, tc.opts.RawOnly, formatRows(res.Rows), formatRows(wantRows(tc.rows)))
		}
		ok := len(res.Stats.Notes) == len(tc.notes)
		for i := 0; ok && i < len(tc.notes); i++ {
			ok = strings.HasPrefix(res.Stats.Notes[i], tc.notes[i])
		}
		if !ok {
			t.Errorf("%s (RawOnly %v): notes %q, want ones starting %q", tc.q, tc.opts.RawOnly, res.Stats.Notes, tc.notes)
		}
	}

	// A rollup row that is not exact (a NaN sum) is used where its raw data
	// is gone, and the answer says so.
	m := newMemSource()
	for k, v := range []float64{3, math.NaN(), 1, 2} {
		m.write("n", "", ns("2024-05-01")+int64(k)*hour, "v", v)
	}
	m.write("n", "", ns("2025-05-01"), "v", 7.0)
	nan := newRollupSource(m, 1, ns("2025-01-01"))
	res, err := executeWith(nan, "SELECT min(v), count(v) FROM n WHERE time < '2025-01-01T00:00:00Z'", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := wantRows([][]any{{0, 1.0, 4}}); !sameRows(res.Rows, want) || len(res.Stats.Notes) != 2 || !strings.Contains(res.Stats.Notes[1], "1 rollup rows before 2025-01-01T00:00:00Z could not be combined exactly") {
		t.Errorf("NaN rollup row before rawFrom:\ngot%s\nwant%s\nnotes %q", formatRows(res.Rows), formatRows(want), res.Stats.Notes)
	}
}

func TestExplainRollups(t *testing.T) {
	src := newRollupSource(segData(), 100, math.MinInt64)
	src.dirty(ns("2025-03-10T05:15:00Z"))
	runCases(t, src, []queryCase{
		{
			q:    "EXPLAIN SELECT max(v), min(i) FROM c WHERE time >= '2025-01-01T12:30:00Z' AND time < '2026-01-01T00:00:00Z'",
			cols: []string{"segment_start", "segment_end", "level", "groups", "series", "files", "rows", "dirty_buckets", "memory_points"},
			want: [][]any{
				{"2025-01-01T12:30:00Z", "2025-01-01T12:59:59.999999999Z", "raw", "1", 1, 0, 0, 0, 2 * 3},
				{"2025-01-01T13:00:00Z", "2025-01-01T23:59:59.999999999Z", "1h", "1", 1, 0, 2 * 11, 0, 2 * 66},
				{"2025-01-02T00:00:00Z", "2025-01-31T23:59:59.999999999Z", "1d", "1", 1, 0, 2 * 30, 0, 2 * 30 * 144},
				{"2025-02-01T00:00:00Z", "2025-12-31T23:59:59.999999999Z", "1M", "1", 1, 0, 2 * 11, 1, 2 * 334 * 144},
			},
		},
		{
			q:    "EXPLAIN SELECT count(v) FROM c GROUP BY 1w",
			want: [][]any{{"-inf", "+inf", "1d", "1", 1, 0, 2*365 + 1, 1, 2*365*144 + 1}},
		},
		{
			q:    "EXPLAIN SELECT percentile(v, 5) FROM c",
			want: [][]any{{"-inf", "+inf", "1y", "1", 1, 0, 3, 1, 2*365*144 + 1}},
		},
	})
}
