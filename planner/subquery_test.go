package planner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// subqueryData writes dev: three devices, a point every 7 minutes for
// three days from t0 (d2 only on the second day), v a float, c an integer.
func subqueryData() (*memSource, []subPoint) {
	m := newMemSource()
	var pts []subPoint
	for i := int64(0); i < 3*24*60/7; i++ {
		t := t0 + i*7*int64(60e9)
		for d := range 3 {
			if d == 2 && (t < t0+24*hour || t >= t0+48*hour) {
				continue
			}
			v := float64((i*37+int64(d)*11)%101) + 0.5
			c := (i + int64(d)) % 9
			dev := fmt.Sprintf("d%d", d)
			m.write("dev", "device_id="+dev, t, "v", v, "c", c)
			pts = append(pts, subPoint{dev, t, v, c})
		}
	}
	return m, pts
}

type subPoint struct {
	dev string
	t   int64
	v   float64
	c   int64
}

// hourlyMax is the reference inner query: max(v) per device and hour.
func hourlyMax(pts []subPoint) map[[2]any]float64 {
	out := map[[2]any]float64{}
	for _, p := range pts {
		k := [2]any{p.dev, p.t - (p.t-t0)%hour}
		if cur, ok := out[k]; !ok || p.v > cur {
			out[k] = p.v
		}
	}
	return out
}

// TestSubqueries checks SELECT ... FROM (SELECT ...) against reference
// computations written as loops over the points.
func TestSubqueries(t *testing.T) {
	m, pts := subqueryData()
	hm := hourlyMax(pts)
	rng := fmt.Sprintf("time >= %d AND time < %d", t0, t0+72*hour)

	// Daily mean of the hourly maxima of every device.
	daySum, dayN := map[int64]float64{}, map[int64]int{}
	devSum := map[string]float64{}
	over50 := 0
	for k, v := range hm {
		day := k[1].(int64) - (k[1].(int64)-t0)%(24*hour)
		daySum[day] += v
		dayN[day]++
		devSum[k[0].(string)] += v
		if v > 50 {
			over50++
		}
	}
	var daily [][]any
	for d := int64(0); d < 3; d++ {
		day := t0 + d*24*hour
		daily = append(daily, []any{day, daySum[day] / float64(dayN[day])})
	}
	var perDev [][]any
	maxDev := math.Inf(-1)
	for _, d := range []string{"d0", "d1", "d2"} {
		perDev = append(perDev, []any{d, devSum[d]})
		maxDev = math.Max(maxDev, devSum[d])
	}

	inner := "SELECT max(v) AS m FROM dev WHERE " + rng + " GROUP BY 1h, device_id"
	tests := []struct {
		name string
		q    string
		cols []string
		want [][]any // rows without the time column when noTime
		// noTime leaves the time column out of the comparison (an
		// aggregate without interval stands at the range start).
		noTime bool
	}{
		{name: "daily mean of hourly maxima", q: "SELECT mean(m) FROM (" + inner + ") WHERE " + rng + " GROUP BY 1d",
			cols: []string{"time", "avg(m)"}, want: daily},
		{name: "sum per device", q: "SELECT sum(m) FROM (" + inner + ") GROUP BY device_id",
			cols: []string{"time", "device_id", "sum(m)"}, want: perDev, noTime: true},
		{name: "where on the subquery's column", q: "SELECT count(m) FROM (" + inner + ") WHERE m > 50",
			cols: []string{"time", "count(m)"}, want: [][]any{{int64(over50)}}, noTime: true},
		{name: "three levels", q: "SELECT max(s) FROM (SELECT sum(m) AS s FROM (" + inner + ") GROUP BY device_id)",
			cols: []string{"time", "max(s)"}, want: [][]any{{maxDev}}, noTime: true},
		{name: "raw subquery keeps every point", q: "SELECT count(v) FROM (SELECT v FROM dev)",
			cols: []string{"time", "count(v)"}, want: [][]any{{int64(len(pts))}}, noTime: true},
		{name: "integer column stays integer", q: "SELECT sum(n) FROM (SELECT count(v) AS n FROM dev WHERE " + rng + " GROUP BY 1d, device_id)",
			cols: []string{"time", "sum(n)"}, want: [][]any{{int64(len(pts))}}, noTime: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runQuery(t, m, tc.q)
			if !slices.Equal(res.Columns, tc.cols) {
				t.Fatalf("columns %q, want %q", res.Columns, tc.cols)
			}
			if len(res.Rows) != len(tc.want) {
				t.Fatalf("%d rows %v, want %d %v", len(res.Rows), res.Rows, len(tc.want), tc.want)
			}
			for i, row := range res.Rows {
				if tc.noTime {
					row = row[1:]
				}
				for j, want := range tc.want[i] {
					if !subValueIs(row[j], want) {
						t.Errorf("row %d column %d: %v, want %v", i, j, row[j], want)
					}
				}
			}
		})
	}
}

// subValueIs compares a result value with a reference one: floats within
// 1e-9 relative (sums in another order), the rest exactly.
func subValueIs(v model.Value, want any) bool {
	switch w := want.(type) {
	case float64:
		return v.Kind == model.KindFloat && math.Abs(v.Float()-w) <= 1e-9*math.Max(1, math.Abs(w))
	case int64:
		return v.Kind == model.KindInt && v.Int() == w
	case string:
		return v.Kind == model.KindString && v.Str() == w
	}
	return false
}

// TestSubqueryErrorsAndExplain checks what a subquery cannot do and that
// EXPLAIN describes the reads of the inner statement.
func TestSubqueryErrorsAndExplain(t *testing.T) {
	m, _ := subqueryData()
	run := func(q string) (*Result, error) {
		stmt, err := query.Parse(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return ExecuteWith(context.Background(), m, stmt, Options{Now: testNow})
	}
	if _, err := run("SELECT x FROM (SELECT max(v), max(v) FROM dev)"); err == nil || !errors.As(err, new(*Error)) {
		t.Errorf("two columns of one name: %v", err)
	}
	if _, err := run("SELECT max(v) FROM (SELECT v FROM nope)"); !errors.Is(err, ErrNotFound) {
		t.Errorf("inner collection missing: %v, want ErrNotFound", err)
	}
	if _, err := run("SELECT max(x) FROM (SELECT max(v) AS m FROM dev)"); err == nil {
		t.Error("unknown column of the subquery: no error")
	}
	inner := "SELECT max(v) AS m FROM dev WHERE time >= 0 GROUP BY 1h, device_id"
	a, err := run("EXPLAIN SELECT mean(m) FROM (" + inner + ") GROUP BY 1d")
	if err != nil {
		t.Fatal(err)
	}
	b, err := run("EXPLAIN " + inner)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(a.Rows) != fmt.Sprint(b.Rows) || len(a.Rows) == 0 {
		t.Errorf("EXPLAIN of the outer query %v, want the inner's %v", a.Rows, b.Rows)
	}
	// The outer query is bounded like any other.
	stmt, _ := query.Parse("SELECT m FROM (" + inner + ")")
	if _, err := ExecuteWith(context.Background(), m, stmt, Options{Now: testNow, MaxRows: 10}); !errors.Is(err, ErrLimit) {
		t.Errorf("row limit: %v", err)
	}
}
