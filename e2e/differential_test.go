package e2e

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/storage"
)

// defaultSeed makes CI reproducible. SOLTIX_DIFF_SEED replaces it;
// SOLTIX_DIFF_RANDOM=1 adds a seed taken from the clock.
const defaultSeed = 20250101

// maxFailures is how many disagreements a seed reports before it stops.
const maxFailures = 8

// TestDifferential writes random data to a real server and checks the
// answers to random queries (and the SHOW statements) against the naive
// oracle of docs/query.md: with everything in memory, after a flush, after
// a restart, with overwrites split between files and memory (before and
// after another restart), and after a second flush. Every disagreement
// fails the query it occurs in.
func TestDifferential(t *testing.T) {
	differentialSeeds(t, serveTarget)
}

// differentialSeeds runs the hand cases and every seed against the
// targets start starts.
func differentialSeeds(t *testing.T, start starter) {
	seeds := []uint64{defaultSeed}
	if s := os.Getenv("SOLTIX_DIFF_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SOLTIX_DIFF_SEED=%q: %v", s, err)
		}
		seeds = []uint64{seed}
	}
	if os.Getenv("SOLTIX_DIFF_RANDOM") == "1" {
		seeds = append(seeds, uint64(time.Now().UnixNano()))
	}
	t.Run("hand", func(t *testing.T) { testHandCases(t, start) })
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runDifferential(t, seed, start) })
	}
}

// differential is the state of one seed's run.
type differential struct {
	t         *testing.T
	seed      uint64
	w         *world
	d         *dataset
	srv       target
	failures  int
	labels    map[string]int // which reading of the spec matched, when the spec allows more than one
	queries   int
	exprs     int // queries with expression items (oracle_expr_test.go)
	exprRows  int // rows of their answers
	rows      int
	empty     int
	openCells int // cells the spec leaves open (compared with the oracle's reading)
}

func runDifferential(t *testing.T, seed uint64, start starter) {
	initial, later, perPhase := 3000, 600, 220
	if testing.Short() {
		initial, later, perPhase = 800, 200, 40
	}
	w := newWorld(seed)
	// Layouts with a few hundred files at most: a flush fsyncs each file,
	// and daily partitions over 14 months make a flush slow on a busy disk.
	layout := pick(w, []struct {
		groups    int
		partition time.Duration
	}{{1, 7 * 24 * time.Hour}, {4, 7 * 24 * time.Hour}, {4, 30 * 24 * time.Hour}, {16, 30 * 24 * time.Hour}})
	// Small colstore blocks, so that whole blocks fall inside buckets and
	// aggregates are answered from block statistics as well as from values.
	opts := storage.Options{NumGroups: layout.groups, PartitionDuration: layout.partition, BlockSize: 16}
	t.Logf("seed %d (rerun with SOLTIX_DIFF_SEED=%d); %d groups, partitions of %v, blocks of %d", seed, seed, opts.NumGroups, opts.PartitionDuration, opts.BlockSize)
	x := &differential{t: t, seed: seed, w: w, d: newDataset(), labels: map[string]int{}}
	x.srv = start(t, opts, time.Unix(0, w.now).UTC())

	x.write(w.batches(initial, 0.05))
	x.phase("memory", perPhase)
	x.srv.flush()
	x.phase("flushed", perPhase)
	x.srv.restart()
	x.phase("restarted", perPhase)
	x.write(w.batches(later, 0.6))
	x.phase("files+memory", perPhase)
	x.srv.restart()
	x.phase("files+memory restarted", perPhase)
	x.srv.flush()
	x.phase("flushed twice", perPhase/2)
	x.srv.compact()
	x.phase("compacted", perPhase)
	x.srv.restart()
	x.phase("compacted restarted", perPhase/2)

	t.Logf("%d queries (%d with expressions, answering %d rows), %d of them with empty answers, %d rows compared (%d cells left open by the spec); %d rows in the data",
		x.queries, x.exprs, x.exprRows, x.empty, x.rows, x.openCells, len(x.d.rows))
	for _, l := range sortedKeys(x.labels) {
		t.Logf("spec reading %q matched %d times", l, x.labels[l])
	}
}

func (x *differential) write(bs []batch) {
	for _, b := range bs {
		x.srv.write(b)
		x.d.apply(b)
	}
}

// phase runs the SHOW statements and n random queries and checks each
// against the oracle.
func (x *differential) phase(name string, n int) {
	o := oracle{d: x.d}
	for _, sh := range o.shows() {
		got, err := x.srv.query(sh.q)
		if err != nil {
			x.t.Errorf("seed %d, phase %s:\n  %s\n  error: %v", x.seed, name, sh.q, err)
			continue
		}
		if _, diff := compare(got, []table{sh.want}); diff != "" {
			x.t.Errorf("seed %d, phase %s:\n  %s\n  %s", x.seed, name, sh.q, diff)
		}
		if diff := x.checkOthers(sh.q, []table{sh.want}); diff != "" {
			x.t.Errorf("seed %d, phase %s:\n  %s\n  %s", x.seed, name, sh.q, diff)
		}
	}
	for i := range n {
		if x.failures >= maxFailures {
			x.t.Fatalf("seed %d: stopping after %d disagreements", x.seed, x.failures)
		}
		q := x.w.query()
		text := q.render()
		wants := o.answer(q)
		x.queries++
		if len(q.scaled) > 0 {
			x.exprs++
		}
		got, err := x.srv.query(text)
		if err != nil {
			x.failures++
			x.t.Errorf("seed %d, phase %s, query %d:\n  %s\n  error: %v", x.seed, name, i, text, err)
			continue
		}
		label, diff := compare(got, wants)
		if diff != "" {
			x.failures++
			x.t.Errorf("seed %d, phase %s, query %d:\n  %s\n  %s", x.seed, name, i, text, diff)
			continue
		}
		if diff := x.checkOthers(text, wants); diff != "" {
			x.failures++
			x.t.Errorf("seed %d, phase %s, query %d:\n  %s\n  %s", x.seed, name, i, text, diff)
			continue
		}
		if label != "" {
			x.labels[label]++
		}
		for _, r := range wants[0].rows {
			for _, c := range r {
				if c.open {
					x.openCells++
				}
			}
		}
		x.rows += len(got.Rows)
		if len(q.scaled) > 0 && len(got.Rows) > 0 {
			x.exprRows += len(got.Rows)
		}
		if len(got.Rows) == 0 {
			x.empty++
		}
	}
}

// otherReads is a target that can answer a query in more ways than its
// query does (a replicated cluster: from the replicas).
type otherReads interface {
	// others returns the other answers to q, each named.
	others(q string) (names []string, answers []*queryAnswer, err error)
}

// checkOthers checks the other answers of an otherReads target against
// the oracle's, as query's; it returns the first disagreement.
func (x *differential) checkOthers(q string, wants []table) string {
	return checkOtherReads(x.srv, q, wants)
}

// checkOtherReads checks the other answers of srv, when it is an
// otherReads, against wants; it returns the first disagreement.
func checkOtherReads(srv target, q string, wants []table) string {
	o, ok := srv.(otherReads)
	if !ok {
		return ""
	}
	names, answers, err := o.others(q)
	if err != nil {
		return err.Error()
	}
	for i, a := range answers {
		if _, diff := compare(a, wants); diff != "" {
			return names[i] + ": " + diff
		}
	}
	return ""
}

// ---- hand-written cases ----

// handCase is a query with an answer computed by hand.
type handCase struct {
	q       *selectQ
	columns []string
	rows    [][]any // int/int64, float64 (compared within 1e-9), string or nil
}

func mustTime(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

// dateLit is a time literal written as a date ('2025-01-01').
func dateLit(s string) lit { return timeLit(mustTime(s+"T00:00:00Z"), "'"+s+"'") }

func timeCmp(op string, l lit) cond { return &cmpCond{"time", op, l} }

func allOf(cs ...cond) cond { return &andCond{cs} }

func agg(fn, field string) item { return item{fn: fn, field: field} }

func (h handCase) want() table {
	w := table{columns: h.columns}
	for _, r := range h.rows {
		var cells []cell
		for _, v := range r {
			switch v := v.(type) {
			case nil:
				cells = append(cells, nullCell())
			case int:
				cells = append(cells, intCell(int64(v)))
			case int64:
				cells = append(cells, intCell(v))
			case float64:
				c := approxCell(v)
				c.pct = strings.HasPrefix(h.columns[len(cells)], "percentile(")
				cells = append(cells, c)
			case string:
				cells = append(cells, exactCell(sv(v)))
			default:
				panic(fmt.Sprintf("hand case value %T", v))
			}
		}
		w.rows = append(w.rows, cells)
	}
	return w
}

// handData is a small dataset whose answers were worked out on paper. The
// row at a 06:00 is first written with v=99 and then overwritten with v=2;
// n=20 from the first write stays.
func handData() []batch {
	a := newSeries("hand", "device_id", "a", "region", "x")
	b := newSeries("hand", "device_id", "b")
	p := func(s *series, at string, f map[string]val) point { return point{s: s, t: mustTime(at), fields: f} }
	return []batch{
		{points: []point{
			p(a, "2025-01-01T00:00:00Z", map[string]val{"v": fv(1), "n": iv(10)}),
			p(a, "2025-01-01T06:00:00Z", map[string]val{"v": fv(99), "n": iv(20)}),
			p(a, "2025-01-02T12:00:00Z", map[string]val{"v": fv(4), "n": iv(5)}),
			p(b, "2025-01-01T00:00:00Z", map[string]val{"v": fv(3), "n": iv(1)}),
		}},
		{json: true, points: []point{
			p(a, "2025-01-04T00:00:00Z", map[string]val{"v": fv(10)}),
			p(b, "2025-01-03T01:00:00Z", map[string]val{"v": fv(5), "s": sv("z")}),
			p(a, "2025-01-01T06:00:00Z", map[string]val{"v": fv(2)}),
		}},
		{points: []point{
			p(newSeries("wrap"), "2025-01-01T00:00:00Z", map[string]val{"n": iv(math.MaxInt64)}),
			p(newSeries("wrap"), "2025-01-02T00:00:00Z", map[string]val{"n": iv(2)}),
		}},
	}
}

func handCases() []handCase {
	d1, d2, d3, d4 := mustTime("2025-01-01T00:00:00Z"), mustTime("2025-01-02T00:00:00Z"), mustTime("2025-01-03T00:00:00Z"),
		mustTime("2025-01-04T00:00:00Z")
	h := int64(time.Hour)
	return []handCase{
		{
			q: &selectQ{coll: "hand",
				items: []item{agg("count", "v"), agg("sum", "v"), agg("min", "n"), agg("max", "n"), agg("first", "v"), agg("last", "v")},
				where: allOf(timeCmp(">=", dateLit("2025-01-01")), timeCmp("<", dateLit("2025-01-05"))),
				every: &interval{1, "d"}},
			columns: []string{"time", "count(v)", "sum(v)", "min(n)", "max(n)", "first(v)", "last(v)"},
			rows: [][]any{
				{d1, 3, 6.0, 1, 20, 1.0, 2.0}, // first: a and b tie at 00:00; a has the smaller series key
				{d2, 1, 4.0, 5, 5, 4.0, 4.0},
				{d3, 1, 5.0, nil, nil, 5.0, 5.0},
				{d4, 1, 10.0, nil, nil, 10.0, 10.0},
			},
		},
		{
			q: &selectQ{coll: "hand", items: []item{agg("max", "v"), agg("count", "v")},
				where: allOf(&cmpCond{"device_id", "=", strLit("a")}, timeCmp(">=", dateLit("2025-01-01")), timeCmp("<=", dateLit("2025-01-04"))),
				every: &interval{12, "h"}, fill: fill{mode: "linear"}},
			columns: []string{"time", "max(v)", "count(v)"},
			rows: [][]any{
				{d1, 2.0, 2},
				{d1 + 12*h, 2 + 2.0/3, 1}, // count 2 -> 1 over 3 buckets: 1.67 rounds towards zero
				{d2, 2 + 4.0/3, 1},
				{d2 + 12*h, 4.0, 1},
				{d3, 6.0, 1},
				{d3 + 12*h, 8.0, 1},
				{d4, 10.0, 1},
			},
		},
		{
			q: &selectQ{coll: "hand", items: []item{{fn: "percentile", field: "v", p: 50}, {fn: "percentile", field: "v", p: 90},
				agg("stddev", "v"), agg("spread", "n"), agg("avg", "n")}},
			columns: []string{"time", "percentile(v, 50)", "percentile(v, 90)", "stddev(v)", "spread(n)", "avg(n)"},
			// v = 1 2 3 4 5 10: ranks ceil(3) = 3 and ceil(5.4) = 6;
			// variance (155 - 25²/6) / 5 = 61/6.
			rows: [][]any{{0, 3.0, 10.0, math.Sqrt(61.0 / 6), 19, 9.0}},
		},
		{
			q:       &selectQ{coll: "hand", items: []item{agg("count", "v"), agg("last", "s")}, tags: []string{"region"}},
			columns: []string{"time", "region", "count(v)", "last(s)"},
			rows:    [][]any{{0, "", 2, "z"}, {0, "x", 4, nil}},
		},
		{
			q:       &selectQ{coll: "hand", items: []item{{field: "v"}, {field: "s"}}, where: timeCmp("<=", rfcLit(d1+6*h))},
			columns: []string{"time", "v", "s"},
			rows:    [][]any{{d1, 1.0, nil}, {d1, 3.0, nil}, {d1 + 6*h, 2.0, nil}},
		},
		{
			q: &selectQ{coll: "hand", items: []item{agg("last", "v")},
				where: allOf(timeCmp(">=", dateLit("2025-01-01")), timeCmp("<", dateLit("2025-01-06"))),
				every: &interval{1, "d"}, fill: fill{mode: "previous"}, desc: true, limit: 2, offset: 1},
			columns: []string{"time", "last(v)"},
			rows:    [][]any{{d4, 10.0}, {d3, 5.0}},
		},
		{
			q:       &selectQ{coll: "hand", items: []item{agg("count", "v")}, where: timeCmp(">", rfcLit(d1))},
			columns: []string{"time", "count(v)"},
			rows:    [][]any{{d1 + 1, 4}},
		},
		{
			q: &selectQ{coll: "hand", items: []item{agg("count", "v")},
				where: allOf(timeCmp(">=", dateLit("2024-12-15")), timeCmp("<", dateLit("2025-02-10"))),
				every: &interval{1, "M"}},
			columns: []string{"time", "count(v)"},
			rows:    [][]any{{mustTime("2024-12-01T00:00:00Z"), 0}, {d1, 6}, {mustTime("2025-02-01T00:00:00Z"), 0}},
		},
		{
			q: &selectQ{coll: "hand", items: []item{agg("count", "v")},
				where: allOf(timeCmp(">=", dateLit("2025-01-01")), timeCmp("<", dateLit("2025-01-08"))),
				every: &interval{1, "w"}},
			columns: []string{"time", "count(v)"},
			rows:    [][]any{{mustTime("2024-12-30T00:00:00Z"), 6}, {mustTime("2025-01-06T00:00:00Z"), 0}}, // Mondays
		},
		{
			q: &selectQ{coll: "hand", items: []item{agg("count", "v")},
				where: allOf(timeCmp(">=", dateLit("2025-01-01")), timeCmp("<", dateLit("2025-01-08"))),
				every: &interval{7, "d"}},
			columns: []string{"time", "count(v)"},
			rows:    [][]any{{mustTime("2024-12-26T00:00:00Z"), 3}, {d2, 3}}, // Thursdays, like the epoch
		},
		{
			q: &selectQ{coll: "hand", items: []item{agg("count", "v")},
				where: allOf(&cmpCond{"v", ">", lit{k: lInt, i: 2}}, &cmpCond{"region", "!=", strLit("x")})},
			columns: []string{"time", "count(v)"},
			rows:    [][]any{{0, 2}},
		},
		{
			q: &selectQ{coll: "hand", items: []item{agg("count", "v"), agg("sum", "n")},
				where: allOf(&cmpCond{"device_id", "=", strLit("a")}, timeCmp(">=", dateLit("2025-01-02")), timeCmp("<", dateLit("2025-01-05"))),
				every: &interval{1, "d"}, fill: fill{mode: "number", num: 7}},
			columns: []string{"time", "count(v)", "sum(n)"},
			// The bucket of 01-04 had a row (without n): it is not filled.
			rows: [][]any{{d2, 1, 5}, {d3, 7, 7}, {d4, 1, nil}},
		},
		{
			// b's row at 01-03 has no n, so for sum(n) it is no matching
			// row (docs/query.md, "Matching row"): its bucket is filled.
			q: &selectQ{coll: "hand", items: []item{agg("sum", "n")},
				where: allOf(&cmpCond{"device_id", "=", strLit("b")}, timeCmp(">=", dateLit("2025-01-01")), timeCmp("<", dateLit("2025-01-04"))),
				every: &interval{1, "d"}, fill: fill{mode: "number", num: 7}},
			columns: []string{"time", "sum(n)"},
			rows:    [][]any{{d1, 1}, {d2, 7}, {d3, 7}},
		},
		{
			// The same row does not make a group for count(n) either: no
			// matching row, no answer.
			q: &selectQ{coll: "hand", items: []item{agg("count", "n")},
				where: allOf(&cmpCond{"device_id", "=", strLit("b")}, timeCmp(">=", dateLit("2025-01-03")), timeCmp("<", dateLit("2025-01-04"))),
				every: &interval{1, "d"}},
			columns: []string{"time", "count(n)"},
			rows:    [][]any{},
		},
		{
			// sum wraps; avg's total is exact (2^63 + 1, rounded once to
			// 2^63).
			q:       &selectQ{coll: "wrap", items: []item{agg("sum", "n"), agg("avg", "n"), agg("spread", "n"), agg("max", "n")}},
			columns: []string{"time", "sum(n)", "avg(n)", "spread(n)", "max(n)"},
			rows:    [][]any{{0, int64(math.MinInt64 + 1), 4.611686018427388e18, int64(math.MaxInt64 - 2), int64(math.MaxInt64)}},
		},
		{
			q: &selectQ{coll: "hand", items: []item{agg("mean", "v")}, tags: []string{"device_id"},
				where: &betweenCond{"time", rfcLit(d1 + 6*h), rfcLit(d3 + h)}},
			columns: []string{"time", "device_id", "avg(v)"},
			rows:    [][]any{{d1 + 6*h, "a", 3.0}, {d1 + 6*h, "b", 5.0}},
		},
	}
}

// handErrors are queries docs/query.md calls errors, with the status and
// words the answer must contain.
var handErrors = []struct {
	q      string
	status int
	words  []string
}{
	{"SELECT sum(s) FROM hand", 400, []string{"sum", "s", "string"}},
	{"SELECT stddev(s) FROM hand", 400, []string{"stddev", "s", "string"}},
	{"SELECT count(zz) FROM hand", 400, []string{"zz"}},
	{"SELECT zz FROM hand", 400, []string{"zz"}},
	{"SELECT v, count(v) FROM hand", 400, nil},
	{"SELECT v FROM hand GROUP BY 1d", 400, nil},
	{"SELECT count(v) FROM hand WHERE s > 3", 400, nil},
	{"SELECT count(v) FROM hand WHERE device_id > 3", 400, nil},
	{"SELECT count(v) FROM nope", 404, []string{`collection \"nope\" not found`}},
	{"SHOW TAG KEYS FROM nope", 404, []string{`collection \"nope\" not found`}},
}

// testHandCases checks the oracle, then the target start starts, against
// answers computed by hand.
func testHandCases(t *testing.T, start starter) {
	d := newDataset()
	srv := start(t, storage.Options{}, time.Date(2026, 2, 15, 12, 0, 0, 0, time.UTC))
	for _, b := range handData() {
		d.apply(b)
		srv.write(b)
	}
	o := oracle{d: d}
	for _, restarted := range []bool{false, true} {
		if restarted {
			srv.flush()
			srv.restart()
		}
		for i, h := range handCases() {
			text := h.q.render()
			want := h.want()
			if !restarted {
				got := o.answer(h.q)
				if _, diff := compare(asResponse(got[0]), []table{want}); diff != "" {
					t.Errorf("oracle, case %d: %s\n  %s", i, text, diff)
				}
			}
			got, err := srv.query(text)
			if err != nil {
				t.Errorf("server (restarted=%v), case %d: %s\n  %v", restarted, i, text, err)
				continue
			}
			if _, diff := compare(got, []table{want}); diff != "" {
				t.Errorf("server (restarted=%v), case %d: %s\n  %s", restarted, i, text, diff)
			}
			if diff := checkOtherReads(srv, text, []table{want}); diff != "" {
				t.Errorf("server (restarted=%v), case %d: %s\n  %s", restarted, i, text, diff)
			}
		}
	}
	for _, e := range handErrors {
		_, err := srv.query(e.q)
		if err == nil {
			t.Errorf("%s: got 200, want %d", e.q, e.status)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, fmt.Sprintf("status %d:", e.status)) {
			t.Errorf("%s: got %s, want status %d", e.q, msg, e.status)
		}
		for _, w := range e.words {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: got %s, want it to contain %s", e.q, msg, w)
			}
		}
	}
}
