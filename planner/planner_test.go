package planner

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

const (
	min_ = int64(time.Minute)
	hour = int64(time.Hour)
	day  = 24 * hour
)

// ns parses an RFC 3339 time (or a date) to epoch nanoseconds.
func ns(s string) int64 {
	t, err := query.ParseTime(s)
	if err != nil {
		panic(err)
	}
	return t
}

var t0 = ns("2025-01-01T00:00:00Z")

// testNow is now() in every test: 2025-01-01T00:25:00Z.
var testNow = time.Unix(0, t0+25*min_).UTC()

// testData builds the collections the tests query.
func testData() *memSource {
	m := newMemSource()
	// m: one series with every kind of field; not every field at every row.
	m.write("m", "host=a", t0, "v", 1.0, "n", 4, "s", "x", "b", true, "u", uint64(5))
	m.write("m", "host=a", t0+10*min_, "v", 2.0, "n", -2, "u", uint64(3), "s", "y")
	m.write("m", "host=a", t0+20*min_, "v", 4.0, "n", 8, "b", false)
	m.write("m", "host=a", t0+30*min_, "v", 8.0, "u", uint64(10))
	m.write("m", "host=a", t0+40*min_, "n", 5, "s", "z")

	// t: several series with different tag sets. In series-key order:
	// t,dc=1,host=a < t,dc=2 < t,dc=2,host=a < t,host=b.
	m.write("t", "host=a,dc=1", t0, "v", 1.0)
	m.write("t", "host=a,dc=1", t0+hour, "v", 2.0)
	m.write("t", "host=b", t0, "v", 10.0)
	m.write("t", "dc=2", t0+30*min_, "v", 100.0)
	m.write("t", "host=a,dc=2", t0, "v", 1000.0)

	// f: two points three hours apart, for FILL.
	m.write("f", "host=a", t0, "v", 1.0, "n", 10)
	m.write("f", "host=a", t0+3*hour, "v", 4.0, "n", -10)

	// h: half-hourly points for unaligned ranges.
	for i, off := range []int64{0, 30, 60, 90, 150} {
		m.write("h", "", t0+off*min_, "v", float64(i+1))
	}
	// neg: points around the epoch.
	m.write("neg", "", -90*min_, "v", 1.0)
	m.write("neg", "", -30*min_, "v", 2.0)
	m.write("neg", "", 10*min_, "v", 3.0)

	m.write("d", "", ns("2025-01-01T05:00:00Z"), "v", 1.0)
	m.write("d", "", ns("2025-01-02T23:00:00Z"), "v", 2.0)
	m.write("d", "", ns("2025-01-03T01:00:00Z"), "v", 3.0)

	m.write("w", "", ns("2025-01-01T00:00:00Z"), "v", 1.0) // a Wednesday
	m.write("w", "", ns("2025-01-05T23:00:00Z"), "v", 2.0) // Sunday
	m.write("w", "", ns("2025-01-06T00:00:00Z"), "v", 3.0) // Monday

	m.write("mo", "", ns("2025-01-15"), "v", 1.0)
	m.write("mo", "", ns("2025-02-01"), "v", 2.0)
	m.write("mo", "", ns("2025-03-31T23:59:00Z"), "v", 3.0)
	m.write("mo", "", ns("2025-04-01"), "v", 4.0)

	m.write("q", "", ns("2024-12-31"), "v", 1.0)
	m.write("q", "", ns("2025-01-15"), "v", 2.0)
	m.write("q", "", ns("2025-03-31"), "v", 3.0)
	m.write("q", "", ns("2025-04-01"), "v", 4.0)
	m.write("q", "", ns("2025-08-01"), "v", 5.0)

	m.write("y", "", ns("2023-06-01"), "v", 1.0)
	m.write("y", "", ns("2025-02-01"), "v", 2.0)

	// two: v and w written at different times, for which rows exist.
	m.write("two", "", t0, "v", 1.0)
	m.write("two", "", t0+2*hour, "w", 5.0)

	m.create("empty", map[string]model.Kind{"v": model.KindFloat})
	return m
}

// val turns a Go value into a model.Value: int and int64 are integers.
func val(x any) model.Value {
	switch x := x.(type) {
	case nil:
		return model.Null
	case float64:
		return model.Float(x)
	case int:
		return model.Int(int64(x))
	case int64:
		return model.Int(x)
	case uint64:
		return model.Uint(x)
	case bool:
		return model.Bool(x)
	case string:
		return model.String(x)
	case model.Value:
		return x
	}
	panic(fmt.Sprintf("val: unsupported %T", x))
}

func sameValue(got, want model.Value) bool {
	if got.Kind == model.KindFloat && want.Kind == model.KindFloat {
		g, w := got.Float(), want.Float()
		if g == w {
			return true
		}
		return math.Abs(g-w) <= 1e-12*math.Max(math.Abs(g), math.Abs(w))
	}
	return got.Equal(want)
}

func formatRows(rows [][]model.Value) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString("\n  [")
		for i, v := range r {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(v.Kind.String()[:1] + ":" + v.String())
		}
		b.WriteString("]")
	}
	return b.String()
}

func wantRows(want [][]any) [][]model.Value {
	out := make([][]model.Value, len(want))
	for i, r := range want {
		out[i] = make([]model.Value, len(r))
		for j, x := range r {
			out[i][j] = val(x)
		}
	}
	return out
}

func sameRows(got, want [][]model.Value) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if len(got[i]) != len(want[i]) {
			return false
		}
		for j := range got[i] {
			if !sameValue(got[i][j], want[i][j]) {
				return false
			}
		}
	}
	return true
}

func execute(src Source, q string) (*Result, error) {
	stmt, err := query.Parse(q)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	return Execute(context.Background(), src, stmt, testNow)
}

type queryCase struct {
	q    string
	cols []string // nil: not checked
	want [][]any
}

func runCases(t *testing.T, src Source, cases []queryCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.q, func(t *testing.T) {
			res, err := execute(src, tc.q)
			if err != nil {
				t.Fatalf("Execute(%q): error %v", tc.q, err)
			}
			if tc.cols != nil && strings.Join(res.Columns, "|") != strings.Join(tc.cols, "|") {
				t.Errorf("Execute(%q): columns %q, want %q", tc.q, res.Columns, tc.cols)
			}
			if want := wantRows(tc.want); !sameRows(res.Rows, want) {
				t.Errorf("Execute(%q):\ngot%s\nwant%s", tc.q, formatRows(res.Rows), formatRows(want))
			}
		})
	}
}

// runAggCases runs aggregate cases against testData() and against the same
// data as summarySources with blocks of 1, 2, 3 and 4 values: every answer
// must be the same.
func runAggCases(t *testing.T, cases []queryCase) {
	t.Helper()
	runSummaryCases(t, testData, cases)
}

// runSummaryCases runs cases against the data build makes, as a memSource
// and as summarySources with blocks of 1, 2, 3 and 4 values.
func runSummaryCases(t *testing.T, build func() *memSource, cases []queryCase) {
	t.Helper()
	t.Run("values", func(t *testing.T) { runCases(t, build(), cases) })
	for _, n := range []int{1, 2, 3, 4} {
		t.Run(fmt.Sprintf("summaries/block=%d", n), func(t *testing.T) {
			runCases(t, newSummarySource(build(), n), cases)
		})
	}
}

func TestAggregates(t *testing.T) {
	sd := func(ss float64, n int) float64 { return math.Sqrt(ss / float64(n-1)) }
	runAggCases(t, []queryCase{
		{
			q:    "SELECT count(v), sum(v), avg(v), min(v), max(v), first(v), last(v), spread(v), stddev(v) FROM m",
			cols: []string{"time", "count(v)", "sum(v)", "avg(v)", "min(v)", "max(v)", "first(v)", "last(v)", "spread(v)", "stddev(v)"},
			// v = 1, 2, 4, 8: mean 3.75, squared deviations 7.5625+3.0625+0.0625+18.0625.
			want: [][]any{{0, 4, 15.0, 3.75, 1.0, 8.0, 1.0, 8.0, 7.0, sd(28.75, 4)}},
		},
		{
			q: "SELECT count(n), sum(n), avg(n), min(n), max(n), first(n), last(n), spread(n), stddev(n) FROM m",
			// n = 4, -2, 8, 5: mean 3.75, squared deviations 0.0625+33.0625+18.0625+1.5625.
			want: [][]any{{0, 4, 15, 3.75, -2, 8, 4, 5, 10, sd(52.75, 4)}},
		},
		{
			q: "SELECT count(u), sum(u), avg(u), min(u), max(u), first(u), last(u), spread(u), stddev(u), percentile(u, 50) FROM m",
			// u = 5, 3, 10: mean 6, squared deviations 1+9+16.
			want: [][]any{{0, 3, uint64(18), 6.0, uint64(3), uint64(10), uint64(5), uint64(10), uint64(7), sd(26, 3), uint64(5)}},
		},
		{
			q:    "SELECT percentile(v, 0), percentile(v, 25), percentile(v, 26), percentile(v, 50), percentile(v, 95), percentile(v, 100) FROM m",
			cols: []string{"time", "percentile(v, 0)", "percentile(v, 25)", "percentile(v, 26)", "percentile(v, 50)", "percentile(v, 95)", "percentile(v, 100)"},
			// sorted 1, 2, 4, 8; ranks 1 (0 → 1), 1, ceil(1.04)=2, 2, ceil(3.8)=4, 4.
			want: [][]any{{0, 1.0, 1.0, 2.0, 2.0, 8.0, 8.0}},
		},
		{
			q:    "SELECT percentile(n, 0), percentile(n, 50), percentile(n, 95) AS p95, percentile(n, 100) FROM m",
			cols: []string{"time", "percentile(n, 0)", "percentile(n, 50)", "p95", "percentile(n, 100)"},
			want: [][]any{{0, -2, 4, 8, 8}},
		},
		{
			q:    "SELECT count(s), first(s), last(s), count(b), first(b), last(b) FROM m",
			want: [][]any{{0, 3, "x", "z", 2, true, false}},
		},
		{
			q:    "SELECT mean(v) AS m FROM m",
			cols: []string{"time", "m"},
			want: [][]any{{0, 3.75}},
		},
		// One point: stddev is null; the label is tmin.
		{
			q:    "SELECT count(v), stddev(v), spread(v) FROM m WHERE time = '2025-01-01T00:00:00Z'",
			want: [][]any{{t0, 1, nil, 0.0}},
		},
		// Rows without v do not count for aggregates of v: no rows.
		{
			q:    "SELECT count(v), sum(v), first(v) FROM m WHERE time >= '2025-01-01T00:35:00Z'",
			want: [][]any{},
		},
		// No matching row at all: no rows.
		{q: "SELECT count(v) FROM m WHERE time > '2025-01-01T01:00:00Z'", want: [][]any{}},
		{q: "SELECT count(v) FROM empty", want: [][]any{}},
		{q: "SELECT count(v) FROM m WHERE time > 10 AND time < 5", want: [][]any{}},
		// first/last ties across series: the smaller key wins first, the larger last.
		{
			q:    "SELECT first(v), last(v) FROM t WHERE time < '2025-01-01T00:30:00Z'",
			want: [][]any{{0, 1.0, 10.0}},
		},
	})
}

func TestWhere(t *testing.T) {
	runAggCases(t, []queryCase{
		// Field conditions are false on rows that lack the field.
		{q: "SELECT count(n), sum(n) FROM m WHERE v > 1", want: [][]any{{0, 2, 6}}},
		{q: "SELECT count(n) FROM m WHERE v != 2", want: [][]any{{0, 2}}},
		{q: "SELECT sum(v) FROM m WHERE n >= 5 OR s = 'y'", want: [][]any{{0, 6.0}}},
		{q: "SELECT sum(v) FROM m WHERE n IN (4, 8)", want: [][]any{{0, 5.0}}},
		{q: "SELECT sum(n) FROM m WHERE n NOT IN (4, 8)", want: [][]any{{0, 3}}},
		{q: "SELECT count(n) FROM m WHERE n > 4.5", want: [][]any{{0, 2}}},
		{q: "SELECT count(n) FROM m WHERE n = 4.0", want: [][]any{{0, 1}}},
		{q: "SELECT count(v) FROM m WHERE v = 8", want: [][]any{{0, 1}}},
		{q: "SELECT sum(v) FROM m WHERE v BETWEEN 2 AND 4", want: [][]any{{0, 6.0}}},
		{q: "SELECT count(v) FROM m WHERE s =~ /^[xy]$/", want: [][]any{{0, 2}}},
		{q: "SELECT count(n) FROM m WHERE s !~ /x/", want: [][]any{{0, 2}}},
		{q: "SELECT count(v) FROM m WHERE s > 'x'", want: [][]any{{0, 1}}},
		{q: "SELECT sum(v) FROM m WHERE b = false", want: [][]any{{0, 4.0}}},
		{q: "SELECT sum(v) FROM m WHERE b != false", want: [][]any{{0, 1.0}}},
		{q: "SELECT count(u) FROM m WHERE u > -1", want: [][]any{{0, 3}}},
		{q: "SELECT count(u) FROM m WHERE u <= 4.5", want: [][]any{{0, 1}}},
		// Time: now() is 00:25; time > now() - 20m starts at 00:05 + 1ns.
		{q: "SELECT count(v) FROM m WHERE time > now() - 20m", want: [][]any{{t0 + 5*min_ + 1, 3}}},
		{q: "SELECT count(v) FROM m WHERE time <= now()", want: [][]any{{0, 3}}},
		{q: "SELECT count(v) FROM m WHERE time >= '2025-01-01' + 15m", want: [][]any{{t0 + 15*min_, 2}}},
		{q: fmt.Sprintf("SELECT count(v) FROM m WHERE time BETWEEN %d AND %d", t0+10*min_, t0+20*min_), want: [][]any{{t0 + 10*min_, 2}}},
		{q: fmt.Sprintf("SELECT count(v) FROM m WHERE time IN (%d, %d)", t0+30*min_, t0+10*min_), want: [][]any{{t0 + 10*min_, 2}}},
		{q: "SELECT count(v) FROM m WHERE time != '2025-01-01T00:10:00Z'", want: [][]any{{0, 3}}},
		// The lower bound of an OR is the hull of both sides.
		{q: "SELECT count(v) FROM m WHERE time = '2025-01-01T00:30:00Z' OR time = '2025-01-01T00:10:00Z'", want: [][]any{{t0 + 10*min_, 2}}},
		{q: "SELECT count(v) FROM m WHERE time = '2025-01-01T00:30:00Z' OR v = 1", want: [][]any{{0, 2}}},
		// Tags; a missing tag is ''.
		{q: "SELECT sum(v) FROM t WHERE host = 'b' OR dc = '2' AND time > '2025-01-01T00:00:00Z'", want: [][]any{{0, 110.0}}},
		{q: "SELECT count(v) FROM t WHERE host =~ /^a/", want: [][]any{{0, 3}}},
		{q: "SELECT count(v) FROM t WHERE host !~ /a/", want: [][]any{{0, 2}}},
		{q: "SELECT count(v) FROM t WHERE host IN ('b', '')", want: [][]any{{0, 2}}},
		{q: "SELECT count(v) FROM t WHERE host NOT IN ('a')", want: [][]any{{0, 2}}},
		{q: "SELECT sum(v) FROM t WHERE host = ''", want: [][]any{{0, 100.0}}},
		{q: "SELECT count(v) FROM t WHERE host BETWEEN 'a' AND 'az'", want: [][]any{{0, 3}}},
		{q: "SELECT sum(v) FROM t WHERE host > 'a'", want: [][]any{{0, 10.0}}},
		{q: "SELECT sum(v) FROM t WHERE nosuchtag = 'x'", want: [][]any{}},
		{q: "SELECT sum(v) FROM t WHERE nosuchtag = ''", want: [][]any{{0, 1113.0}}},
		// Fields written together (aligned columns).
		{q: "SELECT sum(n) FROM f WHERE v > 2", want: [][]any{{0, -10}}},
		{q: "SELECT n FROM f WHERE v < 2", want: [][]any{{t0, 10}}},
	})
}

func TestSeriesPruning(t *testing.T) {
	src := testData()
	if _, err := execute(src, "SELECT sum(v) FROM t WHERE host = 'b' OR (dc = '1' AND v > 0)"); err != nil {
		t.Fatal(err)
	}
	if src.reads != 2 {
		t.Errorf("host = 'b' OR (dc = '1' AND v > 0): read %d series, want 2", src.reads)
	}
}

func TestGroupByInterval(t *testing.T) {
	runAggCases(t, []queryCase{
		// Unaligned range: the first and last buckets hold only rows inside it.
		{
			q:    "SELECT count(v), sum(v) FROM h WHERE time >= '2025-01-01T00:20:00Z' AND time < '2025-01-01T02:40:00Z' GROUP BY 1h",
			cols: []string{"time", "count(v)", "sum(v)"},
			want: [][]any{{t0, 1, 2.0}, {t0 + hour, 2, 7.0}, {t0 + 2*hour, 1, 5.0}},
		},
		// No bounds: from the earliest to the latest matching row.
		{q: "SELECT count(v) FROM h GROUP BY time(1h)", want: [][]any{{t0, 2}, {t0 + hour, 2}, {t0 + 2*hour, 1}}},
		{q: "SELECT count(v) FROM h GROUP BY 90m", want: [][]any{{t0, 3}, {t0 + 90*min_, 2}}},
		{q: "SELECT sum(v) FROM neg GROUP BY 1h", want: [][]any{{-2 * hour, 1.0}, {-hour, 2.0}, {0, 3.0}}},
		// 1970-01-01 was a Thursday: its week starts on 1969-12-29.
		{q: "SELECT count(v) FROM neg GROUP BY 1w", want: [][]any{{-3 * day, 3}}},
		{
			q:    "SELECT count(v), sum(v) FROM d WHERE time >= '2025-01-01T06:00:00Z' AND time <= '2025-01-03T12:00:00Z' GROUP BY 1d",
			want: [][]any{{ns("2025-01-01"), 0, nil}, {ns("2025-01-02"), 1, 2.0}, {ns("2025-01-03"), 1, 3.0}},
		},
		{
			q:    "SELECT count(v), sum(v) FROM w GROUP BY 1w",
			want: [][]any{{ns("2024-12-30"), 2, 3.0}, {ns("2025-01-06"), 1, 3.0}},
		},
		{
			q:    "SELECT count(v), sum(v) FROM mo WHERE time >= '2025-01-10' AND time < '2025-04-01' GROUP BY 1M",
			want: [][]any{{ns("2025-01-01"), 1, 1.0}, {ns("2025-02-01"), 1, 2.0}, {ns("2025-03-01"), 1, 3.0}},
		},
		{
			q:    "SELECT count(v) FROM q GROUP BY 3M",
			want: [][]any{{ns("2024-10-01"), 1}, {ns("2025-01-01"), 2}, {ns("2025-04-01"), 1}, {ns("2025-07-01"), 1}},
		},
		{
			q:    "SELECT count(v), sum(v) FROM y GROUP BY 1y",
			want: [][]any{{ns("2023-01-01"), 1, 1.0}, {ns("2024-01-01"), 0, nil}, {ns("2025-01-01"), 1, 2.0}},
		},
		{q: "SELECT count(v) FROM y GROUP BY 2y", want: [][]any{{ns("2022-01-01"), 1}, {ns("2024-01-01"), 1}}},
		// Rows of other fields count as rows: the range ends at w's row.
		// Only rows holding an aggregated field make buckets and ranges.
		{q: "SELECT count(v) FROM two GROUP BY 1h", want: [][]any{{t0, 1}}},
		{q: "SELECT count(w) FROM two GROUP BY 1h FILL(none)", want: [][]any{{t0 + 2*hour, 1}}},
		{q: "SELECT count(v), count(w) FROM two GROUP BY 1h", want: [][]any{{t0, 1, 0}, {t0 + hour, 0, 0}, {t0 + 2*hour, 0, 1}}},
		{q: "SELECT count(v) FROM two WHERE w > 1 OR v > 0 GROUP BY 1h FILL(none)", want: [][]any{{t0, 1}}},
		{q: "SELECT count(v) FROM m WHERE time > '2025-01-01T01:00:00Z' GROUP BY 1h", want: [][]any{}},
	})
}

func TestFill(t *testing.T) {
	const rng = "FROM f WHERE time >= '2024-12-31T23:00:00Z' AND time < '2025-01-01T05:00:00Z' GROUP BY 1h"
	b := func(h int64) int64 { return t0 + h*hour }
	runAggCases(t, []queryCase{
		{
			q:    "SELECT count(v), avg(v), sum(n) " + rng,
			cols: []string{"time", "count(v)", "avg(v)", "sum(n)"},
			want: [][]any{{b(-1), 0, nil, nil}, {b(0), 1, 1.0, 10}, {b(1), 0, nil, nil}, {b(2), 0, nil, nil}, {b(3), 1, 4.0, -10}, {b(4), 0, nil, nil}},
		},
		{
			q:    "SELECT count(v), avg(v), sum(n) " + rng + " FILL(null)",
			want: [][]any{{b(-1), 0, nil, nil}, {b(0), 1, 1.0, 10}, {b(1), 0, nil, nil}, {b(2), 0, nil, nil}, {b(3), 1, 4.0, -10}, {b(4), 0, nil, nil}},
		},
		{
			q:    "SELECT count(v), avg(v), sum(n) " + rng + " FILL(none)",
			want: [][]any{{b(0), 1, 1.0, 10}, {b(3), 1, 4.0, -10}},
		},
		{
			q:    "SELECT count(v), avg(v), sum(n), first(v) " + rng + " FILL(7)",
			want: [][]any{{b(-1), 7, 7.0, 7, 7.0}, {b(0), 1, 1.0, 10, 1.0}, {b(1), 7, 7.0, 7, 7.0}, {b(2), 7, 7.0, 7, 7.0}, {b(3), 1, 4.0, -10, 4.0}, {b(4), 7, 7.0, 7, 7.0}},
		},
		{
			q:    "SELECT count(v), avg(v), sum(n) " + rng + " FILL(2.5)",
			want: [][]any{{b(-1), 2.5, 2.5, 2.5}, {b(0), 1, 1.0, 10}, {b(1), 2.5, 2.5, 2.5}, {b(2), 2.5, 2.5, 2.5}, {b(3), 1, 4.0, -10}, {b(4), 2.5, 2.5, 2.5}},
		},
		{
			q:    "SELECT count(v), avg(v), sum(n), stddev(v) " + rng + " FILL(previous)",
			want: [][]any{{b(-1), 0, nil, nil, nil}, {b(0), 1, 1.0, 10, nil}, {b(1), 1, 1.0, 10, nil}, {b(2), 1, 1.0, 10, nil}, {b(3), 1, 4.0, -10, nil}, {b(4), 1, 4.0, -10, nil}},
		},
		// Integers are interpolated exactly and rounded towards zero:
		// 10 - 20/3 = 3.33 → 3, 10 - 40/3 = -3.33 → -3.
		{
			q:    "SELECT count(v), avg(v), sum(n), last(n) AS ln " + rng + " FILL(linear)",
			cols: []string{"time", "count(v)", "avg(v)", "sum(n)", "ln"},
			want: [][]any{{b(-1), 0, nil, nil, nil}, {b(0), 1, 1.0, 10, 10}, {b(1), 1, 2.0, 3, 3}, {b(2), 1, 3.0, -3, -3}, {b(3), 1, 4.0, -10, -10}, {b(4), 0, nil, nil, nil}},
		},
		// FILL happens before LIMIT and OFFSET, and DESC reverses the buckets.
		{
			q:    "SELECT count(v) " + rng + " FILL(0) ORDER BY time DESC LIMIT 2 OFFSET 1",
			want: [][]any{{b(3), 1}, {b(2), 0}},
		},
		{
			q:    "SELECT count(v) " + rng + " LIMIT 3",
			want: [][]any{{b(-1), 0}, {b(0), 1}, {b(1), 0}},
		},
	})
}

func TestGroupByTags(t *testing.T) {
	runAggCases(t, []queryCase{
		{
			q:    "SELECT count(v), sum(v) FROM t GROUP BY host",
			cols: []string{"time", "host", "count(v)", "sum(v)"},
			want: [][]any{{0, "", 1, 100.0}, {0, "a", 3, 1003.0}, {0, "b", 1, 10.0}},
		},
		{
			q:    "SELECT sum(v) FROM t GROUP BY dc, host",
			cols: []string{"time", "dc", "host", "sum(v)"},
			want: [][]any{{0, "", "b", 10.0}, {0, "1", "a", 3.0}, {0, "2", "", 100.0}, {0, "2", "a", 1000.0}},
		},
		{q: "SELECT sum(v) FROM t GROUP BY host OFFSET 1", want: [][]any{}},
		{q: "SELECT sum(v) FROM t GROUP BY nosuchtag", want: [][]any{{0, "", 1113.0}}},
		{
			q: "SELECT sum(v) FROM t WHERE time >= '2025-01-01' AND time < '2025-01-01T02:00:00Z' GROUP BY 1h, host ORDER BY time DESC LIMIT 1",
			want: [][]any{
				{t0 + hour, "", nil},
				{t0 + hour, "a", 2.0},
				{t0 + hour, "b", nil},
			},
		},
		{
			q: "SELECT sum(v) FROM t WHERE time >= '2025-01-01' AND time < '2025-01-01T02:00:00Z' GROUP BY time(1h), host OFFSET 1",
			want: [][]any{
				{t0 + hour, "", nil},
				{t0 + hour, "a", 2.0},
				{t0 + hour, "b", nil},
			},
		},
		{
			q: "SELECT sum(v) FROM t WHERE time >= '2025-01-01' AND time < '2025-01-01T02:00:00Z' GROUP BY host, 1h ORDER BY time DESC OFFSET 1",
			want: [][]any{
				{t0, "", 100.0},
				{t0, "a", 1001.0},
				{t0, "b", 10.0},
			},
		},
		// A group without matching rows has no rows, even with FILL.
		{
			q: "SELECT count(v) FROM t WHERE time >= '2025-01-01T00:30:00Z' AND time <= '2025-01-01T01:00:00Z' GROUP BY 30m, host FILL(0)",
			want: [][]any{
				{t0 + 30*min_, "", 1},
				{t0 + hour, "", 0},
				{t0 + 30*min_, "a", 0},
				{t0 + hour, "a", 1},
			},
		},
	})
}

func TestRawSelect(t *testing.T) {
	runCases(t, testData(), []queryCase{
		{
			q:    "SELECT v, n FROM m",
			cols: []string{"time", "v", "n"},
			want: [][]any{
				{t0, 1.0, 4}, {t0 + 10*min_, 2.0, -2}, {t0 + 20*min_, 4.0, 8},
				{t0 + 30*min_, 8.0, nil}, {t0 + 40*min_, nil, 5},
			},
		},
		{
			q:    "SELECT v FROM m",
			want: [][]any{{t0, 1.0}, {t0 + 10*min_, 2.0}, {t0 + 20*min_, 4.0}, {t0 + 30*min_, 8.0}},
		},
		{
			q:    "SELECT * FROM m WHERE time <= '2025-01-01T00:10:00Z'",
			cols: []string{"time", "host", "b", "n", "s", "u", "v"},
			want: [][]any{
				{t0, "a", true, 4, "x", uint64(5), 1.0},
				{t0 + 10*min_, "a", nil, -2, "y", uint64(3), 2.0},
			},
		},
		{
			q:    "SELECT v AS value, host FROM m WHERE n < 0 OR n > 6",
			cols: []string{"time", "value", "host"},
			want: [][]any{{t0 + 10*min_, 2.0, "a"}, {t0 + 20*min_, 4.0, "a"}},
		},
		// A row is listed when it has a selected field, even if WHERE
		// looked at another.
		{q: "SELECT s FROM m WHERE v >= 2", want: [][]any{{t0 + 10*min_, "y"}}},
		// Ties in time: by series key.
		{
			q:    "SELECT * FROM t WHERE time < '2025-01-01T01:00:00Z'",
			cols: []string{"time", "dc", "host", "v"},
			want: [][]any{
				{t0, "1", "a", 1.0}, {t0, "2", "a", 1000.0}, {t0, "", "b", 10.0},
				{t0 + 30*min_, "2", "", 100.0},
			},
		},
		{
			q: "SELECT * FROM t WHERE time < '2025-01-01T01:00:00Z' ORDER BY time DESC",
			want: [][]any{
				{t0 + 30*min_, "2", "", 100.0},
				{t0, "", "b", 10.0}, {t0, "2", "a", 1000.0}, {t0, "1", "a", 1.0},
			},
		},
		{
			q:    "SELECT v, host FROM t WHERE host = 'a'",
			want: [][]any{{t0, 1.0, "a"}, {t0, 1000.0, "a"}, {t0 + hour, 2.0, "a"}},
		},
		{
			q:    "SELECT v FROM t GROUP BY host LIMIT 1",
			cols: []string{"time", "host", "v"},
			want: [][]any{{t0 + 30*min_, "", 100.0}, {t0, "a", 1.0}, {t0, "b", 10.0}},
		},
		{
			q:    "SELECT v FROM t GROUP BY host ORDER BY time DESC LIMIT 1 OFFSET 1",
			want: [][]any{{t0, "a", 1000.0}},
		},
		{q: "SELECT v FROM m LIMIT 2 OFFSET 1", want: [][]any{{t0 + 10*min_, 2.0}, {t0 + 20*min_, 4.0}}},
		{q: "SELECT v FROM m OFFSET 10", want: [][]any{}},
		// Tags alone select no field, so no row qualifies.
		{q: "SELECT host FROM m", cols: []string{"time", "host"}, want: [][]any{}},
		{q: "SELECT v FROM empty", want: [][]any{}},
	})
}

func TestShow(t *testing.T) {
	runCases(t, testData(), []queryCase{
		{
			q:    "SHOW COLLECTIONS",
			cols: []string{"name"},
			want: [][]any{{"d"}, {"empty"}, {"f"}, {"h"}, {"m"}, {"mo"}, {"neg"}, {"q"}, {"t"}, {"two"}, {"w"}, {"y"}},
		},
		{q: "SHOW TAG KEYS FROM t", cols: []string{"tag_key"}, want: [][]any{{"dc"}, {"host"}}},
		{q: "SHOW TAG KEYS FROM h", want: [][]any{}},
		{
			q:    "SHOW TAG VALUES FROM t WITH KEY = host",
			cols: []string{"key", "value"},
			want: [][]any{{"host", "a"}, {"host", "b"}},
		},
		{
			q:    "SHOW FIELDS FROM m",
			cols: []string{"field_key", "field_type"},
			want: [][]any{{"b", "boolean"}, {"n", "integer"}, {"s", "string"}, {"u", "unsigned"}, {"v", "float"}},
		},
	})
	res, err := execute(testData(), "SHOW COLLECTIONS")
	if err != nil || res.TimeColumn != -1 {
		t.Errorf("SHOW COLLECTIONS: TimeColumn %d, error %v; want -1, nil", res.TimeColumn, err)
	}
}

func TestExplain(t *testing.T) {
	runCases(t, testData(), []queryCase{
		{
			q:    "EXPLAIN SELECT count(v) FROM t WHERE host = 'a' AND time >= '2025-01-01' AND time <= '2025-01-01T01:00:00Z'",
			cols: []string{"segment_start", "segment_end", "level", "groups", "series", "files", "rows", "dirty_buckets", "memory_points"},
			want: [][]any{{"2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z", "raw", "2", 2, 0, 0, 0, 3}},
		},
		{
			q:    "EXPLAIN SELECT v FROM t",
			want: [][]any{{"-inf", "+inf", "raw", "1,2", 4, 0, 0, 0, 5}},
		},
		{q: "EXPLAIN SELECT v FROM t WHERE time > 5 AND time < 3", want: [][]any{}},
	})
}

// TestHandBuiltAST runs a statement built without the parser.
func TestHandBuiltAST(t *testing.T) {
	stmt := &query.Statement{Select: &query.Select{
		Items: []query.Item{{Func: "sum", Field: "v"}, {Func: "count", Field: "v", Alias: "c"}},
		From:  "t",
		Where: &query.Binary{
			Op:  "AND",
			LHS: &query.In{Name: "host", Values: []query.Literal{{Kind: query.LitString, Str: "a"}}},
			RHS: &query.Compare{Name: "time", Op: "<", Value: query.Literal{
				Kind: query.LitNow, Offsets: []query.Offset{{Sign: -1, Dur: query.Duration{N: 20, Unit: query.Minute}}},
			}},
		},
		GroupTags: []string{"dc"},
	}}
	res, err := Execute(context.Background(), testData(), stmt, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := wantRows([][]any{{0, "1", 1.0, 1}, {0, "2", 1000.0, 1}})
	if strings.Join(res.Columns, "|") != "time|dc|sum(v)|c" || !sameRows(res.Rows, want) {
		t.Errorf("hand-built statement: got %q%s\nwant time|dc|sum(v)|c%s", res.Columns, formatRows(res.Rows), formatRows(want))
	}
}

func TestBuckets(t *testing.T) {
	for _, tc := range []struct {
		dur    query.Duration
		t      int64
		lo, hi int64
	}{
		{query.Duration{N: 1, Unit: query.Hour}, -1, -hour, -1},
		{query.Duration{N: 1, Unit: query.Hour}, 0, 0, hour - 1},
		{query.Duration{N: 1, Unit: query.Week}, 0, -3 * day, 4*day - 1},
		{query.Duration{N: 2, Unit: query.Week}, ns("2025-01-08"), ns("2025-01-06"), ns("2025-01-20") - 1},
		{query.Duration{N: 1, Unit: query.Month}, ns("2024-02-29T12:00:00Z"), ns("2024-02-01"), ns("2024-03-01") - 1},
		{query.Duration{N: 3, Unit: query.Month}, ns("1969-12-31"), ns("1969-10-01"), -1},
		{query.Duration{N: 1, Unit: query.Year}, -1, ns("1969-01-01"), -1},
	} {
		b, err := newBucketer(tc.dur)
		if err != nil {
			t.Fatal(err)
		}
		if lo, hi := b.span(tc.t); lo != tc.lo || hi != tc.hi {
			t.Errorf("span(%v, %d) = [%d, %d], want [%d, %d]", tc.dur, tc.t, lo, hi, tc.lo, tc.hi)
		}
	}
}

func TestNumericCompare(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		i    int64
		want int
	}{
		{1.5, 1, 1}, {1.5, 2, -1}, {-1.5, -1, -1}, {-1.5, -2, 1}, {2, 2, 0},
		{9.223372036854775807e18, math.MaxInt64, 1}, {-9.223372036854775808e18, math.MinInt64, 0},
		{math.NaN(), 0, unordered}, {math.Inf(-1), math.MinInt64, -1},
	} {
		if got := cmpFloatInt(tc.f, tc.i); got != tc.want {
			t.Errorf("cmpFloatInt(%v, %d) = %d, want %d", tc.f, tc.i, got, tc.want)
		}
	}
	if got := cmpFloatUint(1.8446744073709551615e19, math.MaxUint64); got != 1 {
		t.Errorf("cmpFloatUint(2^64, MaxUint64) = %d, want 1", got)
	}
}

func TestNearestRank(t *testing.T) {
	for _, tc := range []struct {
		p    float64
		n    int
		want int // 0-based
	}{
		{0, 4, 0}, {25, 4, 0}, {26, 4, 1}, {50, 4, 1}, {95, 4, 3}, {100, 4, 3},
		{7, 100, 6}, // 7/100*100 is 7.000000000000001 in float64; the rank is 7
		{50, 1, 0}, {99.9, 1000, 998},
	} {
		if got := nearestRank(tc.p, tc.n); got != tc.want {
			t.Errorf("nearestRank(%v, %d) = %d, want %d", tc.p, tc.n, got, tc.want)
		}
	}
}
