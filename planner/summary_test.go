package planner

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// summaryData builds collection s: series host=a with v (float) and i (int)
// every 20 minutes from t0, twelve points (v = 1 … 12; i the same but
// MaxInt64 at 01:20, so that sums wrap), and series host=b with v every 30
// minutes from t0, six points (100 … 600). With blocks of 3 values, host=a's
// blocks are exactly the hours; with 2 or 4 some straddle an hour.
func summaryData() *memSource {
	m := newMemSource()
	for k := range int64(12) {
		i := k + 1
		if k == 4 {
			i = math.MaxInt64
		}
		m.write("s", "host=a", t0+k*20*min_, "v", float64(k+1), "i", i)
	}
	for k := range int64(6) {
		m.write("s", "host=b", t0+k*30*min_, "v", float64(100*(k+1)))
	}
	return m
}

func TestSummaries(t *testing.T) {
	h := func(n int64) int64 { return t0 + n*hour }
	wrapped := int64(4)
	wrapped += math.MaxInt64 // wraps
	wrapped += 6
	runSummaryCases(t, summaryData, []queryCase{
		{
			q: "SELECT count(v), sum(v), avg(v), min(v), max(v), first(v), last(v), spread(v) FROM s WHERE host = 'a' GROUP BY 1h",
			want: [][]any{
				{h(0), 3, 6.0, 2.0, 1.0, 3.0, 1.0, 3.0, 2.0},
				{h(1), 3, 15.0, 5.0, 4.0, 6.0, 4.0, 6.0, 2.0},
				{h(2), 3, 24.0, 8.0, 7.0, 9.0, 7.0, 9.0, 2.0},
				{h(3), 3, 33.0, 11.0, 10.0, 12.0, 10.0, 12.0, 2.0},
			},
		},
		// Blocks straddle the 30m and 90m buckets.
		{
			q:    "SELECT count(v), sum(v), first(v), last(v) FROM s WHERE host = 'a' GROUP BY 90m",
			want: [][]any{{h(0), 5, 15.0, 1.0, 5.0}, {h(0) + 90*min_, 4, 30.0, 6.0, 9.0}, {h(3), 3, 33.0, 10.0, 12.0}},
		},
		{
			q: "SELECT count(v), max(v) FROM s WHERE host = 'a' AND time < '2025-01-01T01:30:00Z' GROUP BY 30m",
			want: [][]any{
				{h(0), 2, 2.0}, {h(0) + 30*min_, 1, 3.0}, {h(1), 2, 5.0},
			},
		},
		// The query's range cuts blocks.
		{
			q:    "SELECT count(v), sum(v), min(v), last(v) FROM s WHERE host = 'a' AND time >= '2025-01-01T00:30:00Z' AND time < '2025-01-01T02:50:00Z' GROUP BY 1h",
			want: [][]any{{h(0), 1, 3.0, 3.0, 3.0}, {h(1), 3, 15.0, 4.0, 6.0}, {h(2), 3, 24.0, 7.0, 9.0}},
		},
		{
			q:    "SELECT count(v), sum(v), first(v), last(v) FROM s WHERE host = 'a' AND time > '2025-01-01T00:00:00Z' AND time <= '2025-01-01T03:20:00Z'",
			want: [][]any{{t0 + 1, 10, 65.0, 2.0, 11.0}},
		},
		// Integer sums wrap as they do value by value; avg of huge
		// integers reads the values (3 × MaxInt64 is past 2^53).
		{
			q: "SELECT sum(i), min(i), max(i), avg(i), spread(i) FROM s WHERE host = 'a' GROUP BY 1h",
			want: [][]any{
				{h(0), 6, 1, 3, 2.0, 2},
				{h(1), wrapped, 4, int64(math.MaxInt64), (4 + float64(math.MaxInt64) + 6) / 3, int64(math.MaxInt64 - 4)},
				{h(2), 24, 7, 9, 8.0, 2},
				{h(3), 33, 10, 12, 11.0, 2},
			},
		},
		{q: "SELECT sum(i), count(i) FROM s", want: [][]any{{0, wrapped + 6 + 24 + 33, 12}}},
		// first/last ties across series: host=a is first on a tie, host=b
		// last; the tie may be between a summary and values.
		{
			q:    "SELECT first(v), last(v) FROM s WHERE time <= '2025-01-01T01:00:00Z'",
			want: [][]any{{0, 1.0, 300.0}},
		},
		{
			q:    "SELECT first(v), last(v), count(v) FROM s WHERE time <= '2025-01-01T01:00:00Z' GROUP BY 1h",
			want: [][]any{{h(0), 1.0, 3.0, 5}, {h(1), 4.0, 300.0, 2}},
		},
		// count with FILL over empty buckets before, between and after.
		{
			q: "SELECT count(v), sum(v) FROM s WHERE host = 'a' AND time >= '2024-12-31T23:00:00Z' AND time < '2025-01-01T06:00:00Z' GROUP BY 2h",
			want: [][]any{
				{h(-2), 0, nil}, {h(0), 6, 21.0}, {h(2), 6, 57.0}, {h(4), 0, nil},
			},
		},
		{
			q: "SELECT count(v), sum(v) FROM s WHERE host = 'a' AND time >= '2024-12-31T23:00:00Z' AND time < '2025-01-01T06:00:00Z' GROUP BY 1h FILL(0)",
			want: [][]any{
				{h(-1), 0, 0.0}, {h(0), 3, 6.0}, {h(1), 3, 15.0}, {h(2), 3, 24.0}, {h(3), 3, 33.0}, {h(4), 0, 0.0}, {h(5), 0, 0.0},
			},
		},
		{
			q:    "SELECT count(v), last(v) FROM s WHERE host = 'b' AND time < '2025-01-01T04:00:00Z' GROUP BY 1h FILL(previous)",
			want: [][]any{{h(0), 2, 200.0}, {h(1), 2, 400.0}, {h(2), 2, 600.0}, {h(3), 2, 600.0}},
		},
		{
			q:    "SELECT count(v), sum(v) FROM s WHERE time >= '2025-01-01T05:00:00Z'",
			want: [][]any{},
		},
		// GROUP BY a tag, and a column that needs its values (percentile)
		// beside one that does not.
		{
			q:    "SELECT count(v), sum(v) FROM s GROUP BY host",
			want: [][]any{{0, "a", 12, 78.0}, {0, "b", 6, 2100.0}},
		},
		{
			q:    "SELECT sum(v), percentile(i, 50), count(i), stddev(v) FROM s WHERE host = 'a'",
			want: [][]any{{0, 78.0, 7, 12, math.Sqrt(143.0 / 11)}},
		},
		// A condition on a field: no summaries, same answer.
		{
			q:    "SELECT count(v), sum(v) FROM s WHERE v > 2 AND host = 'a' GROUP BY 2h",
			want: [][]any{{h(0), 4, 18.0}, {h(2), 6, 57.0}},
		},
	})
}

// TestSummariesUsed checks that summaries are asked for and used where they
// can be, and not where they cannot.
func TestSummariesUsed(t *testing.T) {
	for _, tc := range []struct {
		q             string
		parts, summed bool
	}{
		{q: "SELECT count(v), sum(v), avg(v), min(v), max(v), spread(v), first(v), last(v) FROM s WHERE host = 'a' GROUP BY 1h", parts: true, summed: true},
		{q: "SELECT sum(i), avg(i) FROM s WHERE host = 'a' AND time < '2025-01-01T01:00:00Z'", parts: true, summed: true},
		{q: "SELECT count(v) FROM s GROUP BY 1m", parts: true, summed: false},
		{q: "SELECT stddev(v), count(v) FROM s", parts: false},
		{q: "SELECT percentile(v, 50) FROM s", parts: false},
		{q: "SELECT count(v) FROM s WHERE v > 0", parts: false},
		{q: "SELECT v FROM s", parts: false},
	} {
		src := newSummarySource(summaryData(), 3)
		if _, err := execute(src, tc.q); err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		if (src.parts > 0) != tc.parts || (src.summed > 0) != tc.summed {
			t.Errorf("%s: %d ReadParts, %d summaries; want ReadParts %v, summaries %v", tc.q, src.parts, src.summed, tc.parts, tc.summed)
		}
	}
}

// TestSummaryWhole checks the whole callback the planner passes: inside the
// query's range and inside one bucket.
func TestSummaryWhole(t *testing.T) {
	src := &wholeSource{summarySource: newSummarySource(summaryData(), 3)}
	if _, err := execute(src, "SELECT count(v) FROM s WHERE time >= '2025-01-01T00:20:00Z' AND time < '2025-01-01T02:40:00Z' GROUP BY 1h"); err != nil {
		t.Fatal(err)
	}
	lo, hi := t0+20*min_, t0+160*min_-1
	for _, tc := range []struct {
		lo, hi int64
		want   bool
	}{
		{lo, t0 + 59*min_, true},
		{lo, t0 + hour, false},        // crosses into the next bucket
		{lo - 1, t0 + 30*min_, false}, // starts before the range
		{t0 + hour, t0 + 2*hour - 1, true},
		{t0 + 2*hour, hi, true},
		{t0 + 2*hour, hi + 1, false}, // ends after the range
		{t0 + 30*min_, t0 + 30*min_, true},
		{t0 + 30*min_, t0 + 29*min_, false},
	} {
		if got := src.whole(tc.lo, tc.hi); got != tc.want {
			t.Errorf("whole(%d, %d) = %v, want %v", tc.lo-t0, tc.hi-t0, got, tc.want)
		}
	}
	if _, err := execute(src, "SELECT count(v) FROM s"); err != nil {
		t.Fatal(err)
	}
	if !src.whole(math.MinInt64, math.MaxInt64) {
		t.Errorf("without an interval or a range, whole(-inf, +inf) = false, want true")
	}
}

// wholeSource keeps the whole callback of the last ReadParts.
type wholeSource struct {
	*summarySource
	whole func(lo, hi int64) bool
}

func (w *wholeSource) ReadParts(ctx context.Context, coll string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool, level model.Level) ([]Part, error) {
	w.whole = whole
	return w.summarySource.ReadParts(ctx, coll, tags, field, min, max, whole, level)
}

// badSource returns the parts it is given, whatever whole says.
type badSource struct {
	*memSource
	parts []Part
}

func (b badSource) ReadParts(context.Context, string, model.Tags, string, int64, int64, func(lo, hi int64) bool, model.Level) ([]Part, error) {
	return b.parts, nil
}

func (b badSource) Rollups(string) (bool, int64) { return false, math.MinInt64 }

func TestSummaryChecks(t *testing.T) {
	sum := func(lo, hi int64) *Summary {
		return &Summary{Count: 2, MinTime: lo, MaxTime: hi, First: model.Float(1), Last: model.Float(2), Min: model.Float(1), Max: model.Float(2), SumFloat: 3}
	}
	vals := model.Column{Name: "v", Kind: model.KindFloat, Times: []int64{t0}, Floats: []float64{1}}
	for _, tc := range []struct {
		name  string
		parts []Part
		want  string
	}{
		{"straddles a bucket", []Part{{Summary: sum(t0, t0+hour)}}, "not inside one bucket"},
		{"outside the range", []Part{{Summary: sum(t0-hour, t0-1)}}, "not inside one bucket"},
		{"wrong kind", []Part{{Summary: &Summary{Count: 1, MinTime: t0, MaxTime: t0, First: model.Int(1), Last: model.Int(1), Min: model.Int(1), Max: model.Int(1)}}}, "invalid summary"},
		{"out of order", []Part{{Summary: sum(t0+min_, t0+2*min_)}, {Values: vals}}, "out of time order"},
	} {
		src := badSource{testData(), tc.parts}
		_, err := execute(src, "SELECT sum(v) FROM h WHERE time >= '2025-01-01' GROUP BY 1h")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestSummarySignedZeros checks that min and max of +0 and -0 are the same
// from summaries as from values (both order -0 below +0).
func TestSummarySignedZeros(t *testing.T) {
	negZero := math.Copysign(0, -1)
	build := func() *memSource {
		m := newMemSource()
		for k, v := range []float64{0, negZero, 5, -1, negZero, 0, negZero, 0, 0, negZero, 0, -2} {
			m.write("z", "", t0+int64(k)*min_, "v", v)
		}
		return m
	}
	q := "SELECT min(v), max(v), spread(v), first(v), sum(v) FROM z GROUP BY 3m"
	want, err := execute(build(), q)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 3, 4, 6} {
		got, err := execute(newSummarySource(build(), n), q)
		if err != nil {
			t.Fatal(err)
		}
		if msg := diffResults(got, want, 0); msg != "" {
			t.Errorf("blocks of %d: %s", n, msg)
		}
	}
}

// diffResults compares two results strictly (floats bit for bit), except
// float sums and averages, which may differ by rel relative. Averages of
// the integer fields of the test data (i and u) are exact: bit for bit.
func diffResults(got, want *Result, rel float64) string {
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
			if g.Kind == model.KindFloat && w.Kind == model.KindFloat &&
				(strings.HasPrefix(col, "sum(") || (strings.HasPrefix(col, "avg(") && col != "avg(i)" && col != "avg(u)")) &&
				math.Abs(g.Float()-w.Float()) <= rel*math.Max(math.Abs(g.Float()), math.Abs(w.Float())) {
				continue
			}
			return fmt.Sprintf("row %d column %s: %s:%v, want %s:%v (bits %x, %x)", i, col, g.Kind, g, w.Kind, w,
				math.Float64bits(g.Float()), math.Float64bits(w.Float()))
		}
	}
	return ""
}

// randomData makes three series of collection r with float, int, uint,
// string and bool fields at random times in a two-day window (several
// series share times, for first/last ties). Floats are multiples of 1/4
// and include -0; one series has integers near ±2^62, so that integer sums
// wrap and avg cannot use summaries.
func randomData(seed uint64) *memSource {
	rng := rand.New(rand.NewPCG(seed, 42))
	m := newMemSource()
	m.create("r", map[string]model.Kind{"f": model.KindFloat, "i": model.KindInt, "u": model.KindUint, "s": model.KindString, "b": model.KindBool})
	for si, host := range []string{"a", "b", "c"} {
		n := 20 + rng.IntN(200)
		for range n {
			t := t0 + rng.Int64N(48*60)*min_
			f := float64(rng.IntN(41)-20) / 4
			if f == 0 && rng.IntN(2) == 0 {
				f = math.Copysign(0, -1)
			}
			i := int64(rng.IntN(2001) - 1000)
			u := uint64(rng.IntN(1000))
			if si == 2 {
				i = (1 << 62) - int64(rng.IntN(10))
				if rng.IntN(2) == 0 {
					i = -i
				}
				u = math.MaxUint64 - uint64(rng.IntN(10))
			}
			kv := []any{"f", f, "i", i, "u", u, "s", fmt.Sprint(rng.IntN(100)), "b", rng.IntN(2) == 0}
			// Not every field at every row.
			for k := 0; k < len(kv); k += 2 {
				if rng.IntN(5) > 0 {
					m.write("r", "host="+host, t, kv[k], kv[k+1])
				}
			}
		}
	}
	return m
}

// TestSummariesDifferential runs random aggregate queries against random
// data as values and as summaries of several block sizes: every answer must
// be the same (float sums and averages up to summation order).
func TestSummariesDifferential(t *testing.T) {
	items := []string{
		"count(f), sum(f), avg(f), min(f), max(f), spread(f), first(f), last(f)",
		"count(i), sum(i), avg(i), min(i), max(i), spread(i), first(i), last(i)",
		"count(u), sum(u), avg(u), min(u), max(u), spread(u), first(u), last(u)",
		"count(s), first(s), last(s), count(b), first(b), last(b)",
		"min(f), max(i), stddev(f), percentile(u, 90), last(s)",
		"avg(f), sum(i), first(u)",
	}
	groups := []struct {
		clause   string
		interval bool
	}{
		{"", false}, {" GROUP BY 1h", true}, {" GROUP BY 7m", true}, {" GROUP BY 1d", true},
		{" GROUP BY host", false}, {" GROUP BY 3h, host", true}, {" GROUP BY 1w", true},
	}
	fills := []string{"", " FILL(none)", " FILL(previous)", " FILL(linear)", " FILL(0)"}
	wheres := []func(*rand.Rand) string{
		func(*rand.Rand) string { return "" },
		func(r *rand.Rand) string {
			lo := t0 + r.Int64N(48*60)*min_ + r.Int64N(2)
			return fmt.Sprintf(" WHERE time >= %d AND time < %d", lo, lo+r.Int64N(30*60)*min_+1)
		},
		func(r *rand.Rand) string {
			return fmt.Sprintf(" WHERE host != 'b' AND time > %d", t0+r.Int64N(48*60)*min_)
		},
		func(*rand.Rand) string { return " WHERE f > 0 OR i < 0" },
	}
	rng := rand.New(rand.NewPCG(7, 7))
	summed := 0
	for seed := range uint64(4) {
		data := randomData(seed)
		srcs := []*summarySource{}
		for _, n := range []int{1, 3, 5, 16} {
			srcs = append(srcs, newSummarySource(data, n))
		}
		for range 60 {
			g := groups[rng.IntN(len(groups))]
			q := "SELECT " + items[rng.IntN(len(items))] + " FROM r" + wheres[rng.IntN(len(wheres))](rng) + g.clause
			if g.interval {
				q += fills[rng.IntN(len(fills))]
			}
			want, err := execute(data, q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			for _, src := range srcs {
				got, err := execute(src, q)
				if err != nil {
					t.Fatalf("%s (blocks of %d): %v", q, src.block, err)
				}
				if msg := diffResults(got, want, 1e-9); msg != "" {
					t.Errorf("%s (blocks of %d): %s", q, src.block, msg)
				}
			}
		}
		for _, src := range srcs {
			summed += src.summed
		}
	}
	if summed == 0 {
		t.Errorf("no summary was used")
	}
}
