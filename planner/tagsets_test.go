package planner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// randomWhere returns a random WHERE expression over tags a, b and c
// (values 0 to 3, sometimes missing), the float field v and time.
func randomWhere(r *rand.Rand, depth int) string {
	if depth > 0 && r.IntN(3) > 0 {
		n := 2 + r.IntN(4)
		op := []string{" AND ", " OR "}[r.IntN(2)]
		parts := make([]string, n)
		for i := range parts {
			parts[i] = randomWhere(r, depth-1)
		}
		return "(" + strings.Join(parts, op) + ")"
	}
	key := string(rune('a' + r.IntN(3)))
	val := func() string {
		if r.IntN(6) == 0 {
			return "''"
		}
		return fmt.Sprintf("'%d'", r.IntN(4))
	}
	switch r.IntN(9) {
	case 0:
		return key + " = " + val()
	case 1:
		return key + " != " + val()
	case 2:
		return key + " IN (" + val() + ", " + val() + ")"
	case 3:
		return key + " NOT IN (" + val() + ", " + val() + ")"
	case 4:
		return key + " =~ /^[12]?$/"
	case 5:
		return key + " !~ /3/"
	case 6:
		return key + " > " + val()
	case 7:
		return fmt.Sprintf("v > %d", r.IntN(3))
	}
	return fmt.Sprintf("time >= %d", t0+int64(r.IntN(3))*min_)
}

// TestSelectSeriesAgreesWithTags checks the set evaluation of series
// selection against testing every series' tags (cond.tri), over random
// conditions: the same series may match, and the same must.
func TestSelectSeriesAgreesWithTags(t *testing.T) {
	var series []model.Tags
	for i := range 80 {
		var parts []string
		for k, key := range []string{"a", "b", "c"} {
			if v := (i >> (2 * k)) % 5; v < 4 {
				parts = append(parts, fmt.Sprintf("%s=%d", key, v))
			}
		}
		series = append(series, parseTags(strings.Join(parts, ",")))
	}
	fields := map[string]model.Kind{"v": model.KindFloat}
	r := rand.New(rand.NewPCG(11, 13))
	for range 2000 {
		where := randomWhere(r, 3)
		st, err := query.Parse("SELECT v FROM c WHERE " + where)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		w, err := compileWhere(st.Select.Where, fields, testNow)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		selected, ids, tagTrue := selectSeries(series, w)
		var want []string
		var wantTrue []bool
		for _, s := range series {
			if v := w.tri(s); v != triFalse {
				want = append(want, model.SeriesKey("c", s))
				wantTrue = append(wantTrue, v == triTrue)
			}
		}
		var got []string
		for _, s := range selected {
			got = append(got, model.SeriesKey("c", s))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("WHERE %s selects\n%v\nwant\n%v", where, got, want)
		}
		if tagTrue == nil { // no tag condition: every series, tested per row
			if w.hasTags() || len(selected) != len(series) {
				t.Fatalf("WHERE %s: no tagTrue, %d of %d series selected", where, len(selected), len(series))
			}
			continue
		}
		for i := range want {
			if tagTrue[i] != wantTrue[i] {
				t.Fatalf("WHERE %s: series %s tagTrue %v, want %v", where, want[i], tagTrue[i], wantTrue[i])
			}
			// Folding with the operand index gives what folding
			// without it does, row by row.
			for _, rng := range []interval{fullRange, {lo: t0, hi: t0 + 5*min_}} {
				a, b := w.fold(selected[i], rng, ids[i]), w.fold(selected[i], rng, -1)
				if condString(a) != condString(b) {
					t.Fatalf("WHERE %s: series %s folds to %s with the index, %s without", where, want[i], condString(a), condString(b))
				}
			}
		}
	}
}

// manySeries is a Source of n series host=h<i>,dc=d<i%10>, each with one
// point v=i at t0; Read finds a series in constant time.
type manySeries struct {
	series []model.Tags
	index  map[string]int
}

func newManySeries(n int) *manySeries {
	m := &manySeries{index: make(map[string]int, n)}
	for i := range n {
		tags := model.Tags{{Key: "dc", Value: fmt.Sprintf("d%d", i%10)}, {Key: "host", Value: fmt.Sprintf("h%d", i)}}
		m.series = append(m.series, tags)
		m.index[model.SeriesKey("c", tags)] = i
	}
	return m
}

func (m *manySeries) Collections() []string { return []string{"c"} }
func (m *manySeries) Fields(string) (map[string]model.Kind, bool) {
	return map[string]model.Kind{"v": model.KindFloat}, true
}
func (m *manySeries) TagKeys(string) []string           { return []string{"dc", "host"} }
func (m *manySeries) TagValues(string, string) []string { return nil }
func (m *manySeries) Series(_ string, match func(model.Tags) bool) []model.Tags {
	var out []model.Tags
	for _, s := range m.series {
		if match == nil || match(s) {
			out = append(out, s)
		}
	}
	return out
}
func (m *manySeries) Read(_ context.Context, _ string, tags model.Tags, fields []string, lo, hi int64) ([]model.Column, error) {
	col := model.Column{Name: "v", Kind: model.KindFloat}
	if lo <= t0 && t0 <= hi {
		col.Times, col.Floats = []int64{t0}, []float64{float64(m.index[model.SeriesKey("c", tags)])}
	}
	return []model.Column{col}, nil
}
func (m *manySeries) Explain(string, []model.Tags, int64, int64, model.Level) ReadPlan {
	return ReadPlan{}
}

// chainShapes are WHERE clauses of issue 11's kind over newManySeries(n),
// with the number of rows count(v) GROUP BY host returns.
func chainShapes(n int) []struct {
	name, where string
	rows        int
} {
	chain := func(terms int, term func(i int) string, op string) string {
		var b strings.Builder
		for i := range terms {
			if i > 0 {
				b.WriteString(op)
			}
			b.WriteString(term(i))
		}
		return b.String()
	}
	hostIs := func(i int) string { return fmt.Sprintf("host = 'h%d'", i) }
	ands := min(n, 30_000) // ANDs of two or three conditions in an OR
	return []struct {
		name, where string
		rows        int
	}{
		{"OR of equalities", chain(n, hostIs, " OR "), n},
		{"AND of inequalities", chain(min(2*n, query.MaxTerms), func(i int) string { return fmt.Sprintf("host != 'x%d'", i) }, " AND "), n},
		{"OR of ANDs", chain(ands, func(i int) string { return fmt.Sprintf("(%s AND dc = 'd%d')", hostIs(i), i%10) }, " OR "), ands},
		{"OR of ANDs with a field", chain(ands, func(i int) string { return fmt.Sprintf("(%s AND v >= 0 AND dc = 'd%d')", hostIs(i), i%10) }, " OR "), ands},
		{"AND of ORs", "(" + chain(n/2, hostIs, " OR ") + ") AND (" + chain(5, func(i int) string { return fmt.Sprintf("dc = 'd%d'", i) }, " OR ") + ")", n / 4},
		// A regular expression is tested once per distinct value of its
		// key (not once per series), so a few of them over many values.
		{"regular expressions", chain(3, func(i int) string { return fmt.Sprintf("host =~ /^h%d$/", i) }, " OR "), 3},
	}
}

// TestSeriesSelectionWorkIsLinear counts the tests of tag values made to
// select series and fold the WHERE clause for each: it must grow with the
// series plus the terms, where testing every series against every term
// (as before) makes series × terms.
func TestSeriesSelectionWorkIsLinear(t *testing.T) {
	const n = 5000
	src := newManySeries(n)
	for _, tt := range chainShapes(n) {
		t.Run(tt.name, func(t *testing.T) {
			st, err := query.Parse("SELECT count(v) FROM c WHERE " + tt.where)
			if err != nil {
				t.Fatal(err)
			}
			fields, _ := src.Fields("c")
			w, err := compileWhere(st.Select.Where, fields, testNow)
			if err != nil {
				t.Fatal(err)
			}
			calls, terms := 0, 0
			w.leaves(func(lf *leaf) {
				terms++
				if f := lf.str; f != nil {
					lf.str = func(v string) bool { calls++; return f(v) }
				}
			})
			selected, ids, tagTrue := selectSeries(src.series, w)
			for i := range selected {
				if !tagTrue[i] {
					w.fold(selected[i], fullRange, ids[i])
				}
			}
			if limit := 4 * (n + terms); calls > limit {
				t.Errorf("%d tag tests for %d series and %d terms, want at most %d", calls, n, terms, limit)
			}
		})
	}
}

// TestWhereChainsAreLinear runs the chains of issue 11 over as many series
// as terms: before, every series was tested against every term (an OR of
// 70,000 equalities took 179 s over HTTP, an AND of 100,000 more than
// 300 s). The deadline is generous for a linear plan, which takes about a
// second on a loaded machine.
func TestWhereChainsAreLinear(t *testing.T) {
	const n = 70_000
	src := newManySeries(n)
	for _, tt := range chainShapes(n) {
		t.Run(tt.name, func(t *testing.T) {
			st, err := query.Parse("SELECT count(v) FROM c WHERE " + tt.where + " GROUP BY host")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			type result struct {
				rows int
				err  error
			}
			done := make(chan result, 1)
			go func() {
				res, err := Execute(ctx, src, st, testNow)
				if err != nil {
					done <- result{err: err}
					return
				}
				done <- result{rows: len(res.Rows)}
			}()
			select {
			case r := <-done:
				if r.err != nil {
					t.Fatal(r.err)
				}
				if r.rows != tt.rows {
					t.Errorf("%d rows, want %d", r.rows, tt.rows)
				}
			case <-ctx.Done():
				t.Fatal("the query did not finish within 60s")
			}
		})
	}
}

// condString prints a folded condition for comparisons in tests.
func condString(c *cond) string {
	switch c.op {
	case opTrue:
		return "true"
	case opFalse:
		return "false"
	case opLeaf:
		return fmt.Sprintf("%s#%p", c.lf.name, c.lf)
	}
	parts := make([]string, len(c.kids))
	for i, k := range c.kids {
		parts[i] = condString(k)
	}
	op := " AND "
	if c.op == opOr {
		op = " OR "
	}
	return "(" + strings.Join(parts, op) + ")"
}

// TestAnchoredPrefix: the literal every match must begin with is found
// only where it is certain.
func TestAnchoredPrefix(t *testing.T) {
	for _, tc := range []struct{ re, want string }{
		{`^host_1`, "host_1"},
		{`^host_1$`, "host_1"},
		{`^host_1.*`, "host_1"},
		{`^(host_1)`, "host_1"},
		{`^ab[0-9]+`, "ab"},
		{`^abc|^abd`, ""}, // sound, not found
		{`host_1`, ""},
		{`.*^host`, ""},
		{`(?i)^host`, ""},
		{`(?m)^host`, ""},
		{`^`, ""},
		{`^a|b`, ""},
		{`^.`, ""},
	} {
		if got := anchoredPrefix(regexp.MustCompile(tc.re)); got != tc.want {
			t.Errorf("anchoredPrefix(%s) = %q, want %q", tc.re, got, tc.want)
		}
	}
}
