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

// TestInListLinear checks that IN and NOT IN over number fields and time
// cost a lookup per row, not a comparison per listed value: 100,000 values
// over 100,000 rows (10^10 comparisons if scanned) answer well within a
// generous deadline, and give the counts of the plain comparisons.
func TestInListLinear(t *testing.T) {
	const rows, values = 100_000, 100_000
	m := newMemSource()
	for s := range 4 {
		v := model.Column{Name: "v", Kind: model.KindFloat}
		n := model.Column{Name: "n", Kind: model.KindInt}
		u := model.Column{Name: "u", Kind: model.KindUint}
		for i := range rows / 4 {
			k := s*(rows/4) + i
			t := t0 + int64(k)*int64(time.Second)
			v.Append(t, model.Float(float64(k)))
			n.Append(t, model.Int(int64(k)))
			u.Append(t, model.Uint(uint64(k)))
		}
		tags := fmt.Sprintf("host=h%d", s)
		m.put("c", tags, v).put("c", tags, n).put("c", tags, u)
	}
	// Every third row matches: the listed values are 0, 3, 6, ...
	list := func(f func(i int) string) string {
		parts := make([]string, values)
		for i := range parts {
			parts[i] = f(3 * i)
		}
		return strings.Join(parts, ",")
	}
	ints := list(func(i int) string { return fmt.Sprint(i) })
	floats := list(func(i int) string { return fmt.Sprintf("%d.0", i) })
	times := list(func(i int) string { return fmt.Sprint(t0 + int64(i)*int64(time.Second)) })
	want := int64((rows + 2) / 3)
	for _, tc := range []struct {
		q    string
		want int64
	}{
		{"SELECT count(v) FROM c WHERE v IN (" + ints + ")", want},
		{"SELECT count(v) FROM c WHERE v IN (" + floats + ")", want},
		{"SELECT count(v) FROM c WHERE n IN (" + ints + ")", want},
		{"SELECT count(v) FROM c WHERE n IN (" + floats + ")", want},
		{"SELECT count(v) FROM c WHERE u IN (" + ints + ")", want},
		{"SELECT count(v) FROM c WHERE u IN (" + floats + ")", want},
		{"SELECT count(v) FROM c WHERE v NOT IN (" + ints + ")", rows - want},
		{"SELECT count(v) FROM c WHERE time IN (" + times + ")", want},
		{"SELECT count(v) FROM c WHERE time NOT IN (" + times + ")", rows - want},
	} {
		stmt, err := query.Parse(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := ExecuteWith(ctx, m, stmt, Options{Now: testNow})
		cancel()
		if err != nil {
			t.Errorf("%.60s…: %v", tc.q, err)
			continue
		}
		if got := res.Rows[0][1].Int(); got != tc.want {
			t.Errorf("%.60s…: count %d, want %d", tc.q, got, tc.want)
		}
	}
}

// TestInListExact checks that IN over numbers keeps the exact comparisons
// of = across kinds: integers beyond float precision, fractions against
// integer fields, negative values against unsigned ones.
func TestInListExact(t *testing.T) {
	m := newMemSource()
	big := int64(1) << 53
	m.write("e", "", t0, "v", float64(big), "n", big+1, "u", uint64(math.MaxUint64))
	m.write("e", "", t0+1, "v", 0.5, "n", int64(-1), "u", uint64(0))
	m.write("e", "", t0+2, "v", math.Copysign(0, -1), "n", int64(3), "u", uint64(3))
	for _, tc := range []struct {
		where string
		want  int64 // rows of count(time-wise) matched
	}{
		{"v IN (9007199254740993)", 0}, // 2^53+1 is no float
		{"v IN (9007199254740992)", 1},
		{"v IN (0.5, 7)", 1},
		{"v IN (0)", 1}, // -0 = 0
		{"n IN (9007199254740992.0)", 0},
		{"n IN (9007199254740993, 3.5)", 1},
		{"n IN (-1.0, 3)", 2},
		{"n IN (1e300, -1e300)", 0},
		{"u IN (-1, 3)", 1},
		{"u IN (18446744073709551615.0)", 0}, // 2^64 as a float: above every uint64
		{"u IN (1.8446744073709550e19)", 0},
		{"u IN (0.0)", 1},
		{"n NOT IN (3, -1)", 1},
	} {
		q := "SELECT count(v) FROM e WHERE " + tc.where
		stmt, err := query.Parse(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		res, err := ExecuteWith(context.Background(), m, stmt, Options{Now: testNow})
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		got := int64(0)
		if len(res.Rows) > 0 {
			got = res.Rows[0][1].Int()
		}
		if got != tc.want {
			t.Errorf("%s: %d rows, want %d", q, got, tc.want)
		}
	}
}
