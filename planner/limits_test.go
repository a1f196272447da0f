package planner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// limitSource is a memSource that also implements LimitSource, counting
// what it returns.
type limitSource struct {
	*memSource
	limitReads int   // calls to ReadLimit
	points     int64 // values returned by ReadLimit
	// onReadLimit, when set, is called at the start of every ReadLimit.
	onReadLimit func(tags model.Tags)
}

var _ LimitSource = (*limitSource)(nil)

func (l *limitSource) ReadLimit(ctx context.Context, coll string, tags model.Tags, fields []string, min, max int64, n int, desc bool) ([]model.Column, error) {
	if l.onReadLimit != nil {
		l.onReadLimit(tags)
	}
	if n < 1 {
		return nil, fmt.Errorf("ReadLimit: n = %d", n)
	}
	l.limitReads++
	cols, err := l.memSource.Read(ctx, coll, tags, fields, min, max)
	if err != nil {
		return nil, err
	}
	var times []int64
	for _, c := range cols {
		times = append(times, c.Times...)
	}
	slices.Sort(times)
	times = slices.Compact(times)
	if len(times) > n {
		lo, hi := times[0], times[n-1]
		if desc {
			lo, hi = times[len(times)-n], times[len(times)-1]
		}
		for i := range cols {
			cols[i] = cols[i].Range(lo, hi)
		}
	}
	for _, c := range cols {
		l.points += int64(c.Len())
	}
	return cols, nil
}

var limitDataOnce *memSource

// limitData is four series of 3000 rows each (v every row, n every third)
// at times that collide across series. It is built once; queries do not
// change it.
func limitData() *memSource {
	if limitDataOnce != nil {
		return limitDataOnce
	}
	m := newMemSource()
	defer func() { limitDataOnce = m }()
	r := rand.New(rand.NewPCG(7, 11))
	for s, tags := range []string{"host=a", "host=b", "host=c,dc=1", "dc=2"} {
		for i := range 3000 {
			t := t0 + int64(i)*int64(s+1)*1e9
			if i%3 == 0 {
				m.write("l", tags, t, "v", r.Float64(), "n", int64(i))
			} else {
				m.write("l", tags, t, "v", r.Float64())
			}
		}
	}
	return m
}

func executeOpts(t *testing.T, src Source, q string, opts Options) (*Result, error) {
	t.Helper()
	stmt, err := query.Parse(q)
	if err != nil {
		t.Fatalf("parse %q: %v", q, err)
	}
	if opts.Now.IsZero() {
		opts.Now = testNow
	}
	return ExecuteWith(context.Background(), src, stmt, opts)
}

// TestLimitPushdown checks that raw selects read through LimitSource give
// the answers of a plain read of everything, and that LIMIT reads about as
// many rows per series as it returns.
func TestLimitPushdown(t *testing.T) {
	cases := []struct {
		q string
		// maxPoints bounds the values ReadLimit may return (0: not
		// checked).
		maxPoints int64
	}{
		{q: "SELECT v FROM l ORDER BY time DESC LIMIT 1", maxPoints: 4},
		{q: "SELECT v FROM l LIMIT 1", maxPoints: 4},
		{q: "SELECT v, n FROM l ORDER BY time DESC LIMIT 5 OFFSET 3", maxPoints: 4 * 2 * 8},
		{q: "SELECT v FROM l WHERE host = 'a' ORDER BY time DESC LIMIT 10", maxPoints: 10},
		{q: "SELECT v FROM l GROUP BY host ORDER BY time DESC LIMIT 2", maxPoints: 4 * 2},
		{q: "SELECT v FROM l GROUP BY dc LIMIT 7 OFFSET 1", maxPoints: 4 * 8},
		{q: "SELECT * FROM l WHERE time >= '2025-01-01T00:10:00Z' ORDER BY time DESC LIMIT 3"},
		{q: "SELECT v FROM l WHERE n > 2990 ORDER BY time DESC LIMIT 3"},
		{q: "SELECT n FROM l WHERE v > 0.5 LIMIT 100 OFFSET 2000"},
		{q: "SELECT v, n FROM l"},
		{q: "SELECT v FROM l ORDER BY time DESC"},
		{q: "SELECT v, host FROM l GROUP BY dc ORDER BY time DESC"},
		{q: "SELECT n FROM l WHERE time < '2025-01-01T00:30:00Z' ORDER BY time DESC OFFSET 5"},
		{q: "SELECT v FROM l LIMIT 20000"},
	}
	for _, tc := range cases {
		t.Run(tc.q, func(t *testing.T) {
			want, err := executeOpts(t, limitData(), tc.q, Options{})
			if err != nil {
				t.Fatal(err)
			}
			ls := &limitSource{memSource: limitData()}
			reads0 := ls.memSource.reads
			got, err := executeOpts(t, ls, tc.q, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !sameRows(got.Rows, want.Rows) {
				t.Fatalf("through ReadLimit: %d rows, want %d:\ngot%s\nwant%s", len(got.Rows), len(want.Rows), formatRows(got.Rows[:min(5, len(got.Rows))]), formatRows(want.Rows[:min(5, len(want.Rows))]))
			}
			if r := ls.memSource.reads - reads0; r != ls.limitReads {
				t.Errorf("%d reads besides ReadLimit", r-ls.limitReads)
			}
			if tc.maxPoints > 0 && ls.points > tc.maxPoints {
				t.Errorf("read %d points, want at most %d", ls.points, tc.maxPoints)
			}
			if p := got.Stats.Levels[0].Points; len(got.Rows) > 0 && p != ls.points {
				t.Errorf("Stats count %d points, source returned %d", p, ls.points)
			}
		})
	}
}

// recordSink records rows and runs a hook on each.
type recordSink struct {
	rows  [][]model.Value
	onRow func() error
}

func (s *recordSink) Columns([]string, int) error { return nil }
func (s *recordSink) Row(row []model.Value) error {
	s.rows = append(s.rows, row)
	if s.onRow != nil {
		return s.onRow()
	}
	return nil
}

// TestStreamBeforeDone checks that a raw select hands rows to its sink
// before it has read every series.
func TestStreamBeforeDone(t *testing.T) {
	ls := &limitSource{memSource: limitData()}
	var asked []string
	ls.onReadLimit = func(tags model.Tags) { asked = append(asked, tags.Get("host")) }
	var askedAtFirstRow int
	sink := &recordSink{}
	sink.onRow = func() error {
		if len(sink.rows) == 1 {
			askedAtFirstRow = len(slices.Compact(slices.Clone(asked)))
		}
		return nil
	}
	stmt, _ := query.Parse("SELECT v FROM l WHERE host != '' GROUP BY host")
	if _, err := ExecuteStream(context.Background(), ls, stmt, Options{Now: testNow}, sink); err != nil {
		t.Fatal(err)
	}
	if askedAtFirstRow != 1 || len(slices.Compact(asked)) != 3 {
		t.Errorf("first row came after reading %d of %d series, want after 1", askedAtFirstRow, len(slices.Compact(asked)))
	}
	if len(sink.rows) != 9000 {
		t.Errorf("%d rows, want 9000", len(sink.rows))
	}
}

// TestQueryLimits checks MaxRows and MaxPoints: a query over a limit fails
// with a *LimitError naming the setting, and one under them answers as
// without limits.
func TestQueryLimits(t *testing.T) {
	cases := []struct {
		q       string
		opts    Options
		setting string // "" when the query must succeed
		// pushdown: only through LimitSource
		pushdown bool
	}{
		{q: "SELECT v FROM l", opts: Options{MaxRows: 11999}, setting: SettingMaxRows},
		{q: "SELECT v FROM l", opts: Options{MaxRows: 12000}},
		{q: "SELECT v FROM l LIMIT 10", opts: Options{MaxRows: 40}},
		{q: "SELECT v FROM l GROUP BY host LIMIT 10", opts: Options{MaxRows: 39}, setting: SettingMaxRows},
		{q: "SELECT count(v) FROM l GROUP BY 1s", opts: Options{MaxRows: 100}, setting: SettingMaxRows},
		{q: "SELECT count(v) FROM l GROUP BY 1s FILL(none)", opts: Options{MaxRows: 3000}, setting: SettingMaxRows},
		{q: "SELECT count(v) FROM l GROUP BY 1s", opts: Options{MaxRows: 12000}},
		{q: "SELECT v FROM l", opts: Options{MaxPoints: 11999}, setting: SettingMaxPoints},
		{q: "SELECT v FROM l", opts: Options{MaxPoints: 12000}},
		{q: "SELECT count(v), stddev(v) FROM l", opts: Options{MaxPoints: 11999}, setting: SettingMaxPoints},
		{q: "SELECT percentile(v, 50) FROM l", opts: Options{MaxPoints: 11999}, setting: SettingMaxPoints},
		{q: "SELECT percentile(v, 50) FROM l", opts: Options{MaxPoints: 12000}},
		{q: "SELECT v FROM l ORDER BY time DESC LIMIT 1", opts: Options{MaxPoints: 4, MaxRows: 1}, pushdown: true},
	}
	for _, tc := range cases {
		srcs := []Source{limitData(), &limitSource{memSource: limitData()}, newSummarySource(limitData(), 100)}
		if tc.pushdown {
			srcs = srcs[1:2]
		}
		for _, src := range srcs {
			name := fmt.Sprintf("%s/%T/%+v", tc.q, src, tc.opts)
			got, err := executeOpts(t, src, tc.q, tc.opts)
			if tc.setting != "" {
				var le *LimitError
				if !errors.As(err, &le) || le.Setting != tc.setting || !strings.Contains(err.Error(), "("+tc.setting+")") {
					t.Errorf("%s: error %v, want a *LimitError naming %s", name, err, tc.setting)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			want, err := executeOpts(t, limitData(), tc.q, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !sameRows(got.Rows, want.Rows) {
				t.Errorf("%s: %d rows differ from the unlimited answer's %d", name, len(got.Rows), len(want.Rows))
			}
		}
	}
}

// TestFillBucketsChecked checks that a GROUP BY interval with FILL is
// refused before its buckets are built, also when their count does not fit
// 64 bits.
func TestFillBucketsChecked(t *testing.T) {
	m := newMemSource()
	m.write("x", "", math.MinInt64, "v", 1.0)
	m.write("x", "", math.MaxInt64, "v", 2.0)
	m.write("x", "", 0, "v", 3.0)
	for _, q := range []string{
		"SELECT count(v) FROM x GROUP BY 1ns",
		"SELECT count(v) FROM x GROUP BY 1ns FILL(0)",
		"SELECT count(v) FROM x WHERE time >= 0 GROUP BY 1ns FILL(previous)",
		"SELECT count(v) FROM x WHERE time >= 0 GROUP BY 1us FILL(linear)",
		"SELECT count(v) FROM x WHERE time < 0 GROUP BY 1ms",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20e9)
		stmt, _ := query.Parse(q)
		_, err := ExecuteWith(ctx, m, stmt, Options{Now: testNow})
		cancel()
		var le *LimitError
		if !errors.As(err, &le) || le.Setting != SettingMaxRows {
			t.Errorf("%s: error %v, want a *LimitError naming %s", q, err, SettingMaxRows)
		}
	}
}

// TestFillCancel checks that filling buckets stops when the context ends.
func TestFillCancel(t *testing.T) {
	m := newMemSource()
	m.write("x", "", 0, "v", 1.0)
	m.write("x", "", 4_000_000, "v", 2.0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := &recordSink{onRow: func() error { cancel(); return nil }}
	stmt, _ := query.Parse("SELECT count(v) FROM x GROUP BY 1ns FILL(0)")
	_, err := ExecuteStream(ctx, m, stmt, Options{Now: testNow}, sink)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if n := len(sink.rows); n > 1024 {
		t.Errorf("%d rows after cancelling at the first, want at most 1024", n)
	}
}

// TestStddevStreaming checks that stddev keeps no values.
func TestStddevStreaming(t *testing.T) {
	col := model.Column{Kind: model.KindFloat}
	for i := range 10000 {
		col.Append(int64(i), model.Float(float64(i%7)))
	}
	allocs := testing.AllocsPerRun(5, func() {
		a := newAggregator(&outItem{fn: "stddev", kind: model.KindFloat})
		for i := range col.Len() {
			a.add(&col, i, col.Times[i], 0)
		}
		_ = a.result()
	})
	if allocs > 2 {
		t.Errorf("stddev of 10000 values: %v allocations, want at most 2", allocs)
	}
}

// limitSummarySource is a summarySource that also implements LimitSource.
type limitSummarySource struct {
	*summarySource
	l *limitSource
}

func (s limitSummarySource) ReadLimit(ctx context.Context, coll string, tags model.Tags, fields []string, min, max int64, n int, desc bool) ([]model.Column, error) {
	return s.l.ReadLimit(ctx, coll, tags, fields, min, max, n, desc)
}

// TestChunkedAnswersSame makes chunks tiny and checks that queries read in
// chunks through LimitSource answer as one read of everything does.
func TestChunkedAnswersSame(t *testing.T) {
	defer func(b, lo, hi int) { rawChunkBudget, minChunkRows, maxChunkRows = b, lo, hi }(rawChunkBudget, minChunkRows, maxChunkRows)
	rawChunkBudget, minChunkRows, maxChunkRows = 16, 2, 7
	for _, q := range []string{
		"SELECT count(v), sum(v), avg(n), min(v), max(n), first(v), last(n), spread(v), stddev(v), percentile(v, 90) FROM l",
		"SELECT count(v), sum(n), first(v), last(v), percentile(n, 50) FROM l WHERE n > 100 GROUP BY 5m, host",
		"SELECT stddev(v), percentile(v, 10), count(n) FROM l GROUP BY 1m FILL(0)",
		"SELECT last(v), first(n) FROM l WHERE v < 0.5 GROUP BY dc ORDER BY time DESC",
		"SELECT v, n FROM l",
		"SELECT v FROM l WHERE n > 2000 ORDER BY time DESC LIMIT 17 OFFSET 3",
		"SELECT n, host FROM l GROUP BY dc ORDER BY time DESC LIMIT 40",
	} {
		want, err := executeOpts(t, limitData(), q, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ls := &limitSource{memSource: limitData()}
		for name, src := range map[string]Source{
			"limit":         ls,
			"limit+summary": limitSummarySource{summarySource: newSummarySource(limitData(), 5), l: ls},
		} {
			got, err := executeOpts(t, src, q, Options{})
			if err != nil {
				t.Fatalf("%s %s: %v", name, q, err)
			}
			if !sameRows(got.Rows, want.Rows) {
				t.Errorf("%s %s: %d rows differ from one read's %d:\ngot%s\nwant%s", name, q, len(got.Rows), len(want.Rows), formatRows(got.Rows[:min(3, len(got.Rows))]), formatRows(want.Rows[:min(3, len(want.Rows))]))
			}
		}
		if ls.limitReads < 10 {
			t.Errorf("%s: %d chunk reads, want many", q, ls.limitReads)
		}
	}
}
