package planner

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestExprArith checks the arithmetic rules of expressions (expr.go) case by
// case against values written out by hand.
func TestExprArith(t *testing.T) {
	i, f, null := intNum, floatNum, num{}
	const maxI, minI = math.MaxInt64, math.MinInt64
	cases := []struct {
		op   string
		a, b num
		want num
	}{
		{"+", i(2), i(3), i(5)},
		{"-", i(2), i(3), i(-1)},
		{"*", i(-4), i(3), i(-12)},
		{"/", i(7), i(2), f(3.5)},
		{"/", i(6), i(3), f(2)},
		{"%", i(7), i(3), i(1)},
		{"%", i(-7), i(3), i(-1)}, // the sign of the dividend
		{"%", i(minI), i(-1), i(0)},
		{"+", i(maxI), i(1), f(9223372036854775808)}, // overflow: the float result
		{"-", i(minI), i(1), f(-9223372036854775809)},
		{"*", i(maxI), i(2), f(18446744073709551614)},
		{"*", i(minI), i(1), i(minI)},
		{"*", i(-1), i(minI), f(9223372036854775808)},
		{"*", i(1 << 32), i(1 << 30), i(1 << 62)},
		{"*", i(1 << 32), i(1 << 31), f(9223372036854775808)},
		{"*", i(-(1 << 32)), i(1 << 31), i(minI)},
		{"+", i(1), f(0.5), f(1.5)},
		{"*", f(0.1), f(3), f(0.30000000000000004)},
		{"%", f(7.5), f(2), f(1.5)},
		{"/", i(1), i(0), null}, // division by zero
		{"/", f(1), f(0), null},
		{"%", i(1), i(0), null},
		{"%", f(1), f(0), null},
		{"*", f(1e200), f(1e200), null}, // not finite
		{"+", null, i(1), null},
		{"-", f(1), null, null},
	}
	for _, c := range cases {
		if got := arith(c.op, c.a, c.b); got != c.want {
			t.Errorf("%v %s %v = %+v, want %+v", c.a, c.op, c.b, got, c.want)
		}
	}
	fns := []struct {
		fn   string
		args []num
		want num
	}{
		{"abs", []num{i(-3)}, i(3)},
		{"abs", []num{i(minI)}, f(9223372036854775808)},
		{"abs", []num{f(-2.5)}, f(2.5)},
		{"ceil", []num{f(1.2)}, f(2)},
		{"ceil", []num{i(7)}, i(7)},
		{"floor", []num{f(-1.2)}, f(-2)},
		{"round", []num{f(2.5)}, f(3)},
		{"round", []num{f(-2.5)}, f(-3)},
		{"round", []num{i(-4)}, i(-4)},
		{"sqrt", []num{i(16)}, f(4)},
		{"sqrt", []num{f(-1)}, null},
		{"ln", []num{f(math.E)}, f(1)},
		{"ln", []num{i(0)}, null},
		{"log10", []num{i(1000)}, f(3)},
		{"log10", []num{f(-5)}, null},
		{"exp", []num{i(0)}, f(1)},
		{"exp", []num{i(1000)}, null},
		{"pow", []num{i(2), i(10)}, f(1024)},
		{"pow", []num{f(-8), f(1.0 / 3)}, null},
		{"pow", []num{i(0), i(-1)}, null},
		{"pow", []num{null, i(2)}, null},
	}
	for _, c := range fns {
		if got := mathCall(c.fn, c.args); got != c.want {
			t.Errorf("%s(%v) = %+v, want %+v", c.fn, c.args, got, c.want)
		}
	}
	if !compareNums(i(maxI), ">", i(maxI-1)) || compareNums(null, "=", null) || !compareNums(i(2), "=", f(2)) {
		t.Error("compareNums: integers compare exactly, null never holds, 2 = 2.0")
	}
}

// exprRefPoint is a point of the reference test's data.
type exprRefPoint struct {
	host string
	t    int64
	v    float64
	n    int64
}

// refData writes random points for three hosts over six hours into a
// memSource and returns them in time order per host.
func refData(seed uint64) (*memSource, []exprRefPoint) {
	r := rand.New(rand.NewPCG(seed, 7))
	m := newMemSource()
	var pts []exprRefPoint
	for _, h := range []string{"a", "b", "c"} {
		for k := 0; k < 40; k++ {
			tm := t0 + r.Int64N(6*hour)
			p := exprRefPoint{host: h, t: tm, v: math.Round((r.Float64()*200-50)*100) / 100, n: r.Int64N(101) - 50}
			m.write("r", "host="+h, tm, "v", p.v, "n", p.n)
		}
	}
	for _, h := range []string{"a", "b", "c"} {
		for _, s := range m.colls["r"].series {
			if s.tags.Get("host") != h {
				continue
			}
			v, n := s.cols["v"], s.cols["n"]
			for j := range v.Times {
				pts = append(pts, exprRefPoint{host: h, t: v.Times[j], v: v.Value(j).Float(), n: n.Value(j).Int()})
			}
		}
	}
	return m, pts
}

// refBuckets groups the points by host (in order) and hour, skipping empty
// hours, as GROUP BY 1h, host FILL(none) does.
func refBuckets(pts []exprRefPoint, byHost bool) (keys [][2]any, groups [][]exprRefPoint) {
	idx := map[[2]any]int{}
	for _, p := range pts {
		h := ""
		if byHost {
			h = p.host
		}
		k := [2]any{h, t0 + (p.t-t0)/hour*hour}
		j, ok := idx[k]
		if !ok {
			j = len(keys)
			idx[k] = j
			keys = append(keys, k)
			groups = append(groups, nil)
		}
		groups[j] = append(groups[j], p)
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int {
		if c := compareStr(keys[x][0].(string), keys[y][0].(string)); c != 0 {
			return c
		}
		return int(keys[x][1].(int64)/hour - keys[y][1].(int64)/hour)
	})
	var k2 [][2]any
	var g2 [][]exprRefPoint
	for _, o := range order {
		k2, g2 = append(k2, keys[o]), append(g2, groups[o])
	}
	return k2, g2
}

func compareStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// refStats computes the aggregates of a group with plain loops.
func refStats(g []exprRefPoint) (mx, mn, sum float64, nsum int64) {
	mx, mn = math.Inf(-1), math.Inf(1)
	for _, p := range g {
		mx, mn, sum, nsum = max(mx, p.v), min(mn, p.v), sum+p.v, nsum+p.n
	}
	return
}

// nullable is f as a cell, null when not finite.
func nullable(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

// TestExprReference runs expression queries over random data and checks
// them against answers computed here with plain loops over the points, on
// values and on summaries of several block sizes.
func TestExprReference(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		m, pts := refData(seed)
		var cases []queryCase

		keys, groups := refBuckets(pts, true)
		var want [][]any
		for j, g := range groups {
			mx, mn, sum, _ := refStats(g)
			want = append(want, []any{keys[j][1], keys[j][0], mx - mn, math.Round(sum/float64(len(g))*100) / 100, int64(len(g))*2 + 1})
		}
		cases = append(cases, queryCase{
			q:    "SELECT max(v) - min(v), round(avg(v) * 100) / 100, count(n) * 2 + 1 FROM r GROUP BY 1h, host FILL(none)",
			cols: []string{"time", "host", "max(v) - min(v)", "round(avg(v) * 100) / 100", "count(n) * 2 + 1"},
			want: want,
		})

		want = nil
		for j, g := range groups {
			mx, mn, _, nsum := refStats(g)
			if nsum > 0 && mx-mn < 200 || len(g) == 1 {
				want = append(want, []any{keys[j][1], keys[j][0], nsum})
			}
		}
		cases = append(cases, queryCase{
			q:    "SELECT sum(n) FROM r GROUP BY 1h, host HAVING sum(n) > 0 AND max(v) - min(v) < 200 OR count(v) = 1 FILL(none)",
			want: want,
		})

		want = nil
		for _, p := range pts {
			if p.host == "b" {
				want = append(want, []any{p.t, p.v*9/5 + 32, p.n % 7, p.n*p.n - 3, max(p.n, -p.n), nullable(math.Sqrt(p.v)), p.v / float64(p.n)})
			}
		}
		for _, w := range want {
			if w[6] == math.Inf(1) || w[6] == math.Inf(-1) || w[6] != w[6] {
				w[6] = nil
			}
		}
		cases = append(cases, queryCase{q: "SELECT v * 9 / 5 + 32, n % 7, n * n - 3, abs(n), sqrt(v), v / n FROM r WHERE host = 'b'", want: want})

		keys, groups = refBuckets(pts, false)
		want = nil
		for j, g := range groups {
			mx, mn, _, _ := refStats(g)
			want = append(want, []any{keys[j][1], int64(len(g)), int64(len(g)), nullable(math.Sqrt(mx)), nullable(math.Log(mn)), math.Pow(mx-mn, 2)})
		}
		cases = append(cases, queryCase{
			q:    "SELECT count(*), sqrt(max(v)), ln(min(v)), pow(spread(v), 2) FROM r GROUP BY 1h FILL(none)",
			cols: []string{"time", "count_n", "count_v", "sqrt(max(v))", "ln(min(v))", "pow(spread(v), 2)"},
			want: want,
		})
		for _, c := range cases {
			if len(c.want) < 3 {
				t.Fatalf("seed %d: %s: only %d rows in the reference; the data should give more", seed, c.q, len(c.want))
			}
		}
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			runCases(t, m, cases)
			for _, n := range []int{1, 3, 7} {
				runCases(t, newSummarySource(m, n), cases)
			}
		})
	}
}
