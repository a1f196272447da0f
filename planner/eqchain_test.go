package planner

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// eqChainData has number and string fields of every kind, with gaps (rows
// without a value), NaN and integers beyond float precision.
func eqChainData() *memSource {
	m := newMemSource()
	big := int64(1<<53 + 1)
	for i := range 400 {
		t := t0 + int64(i)*int64(time.Second)
		tags := fmt.Sprintf("host=h%d", i%3)
		kv := []any{}
		if i%7 != 0 {
			f := float64(i%11) / 2
			if i%50 == 1 {
				f = math.NaN()
			}
			kv = append(kv, "v", f)
		}
		if i%5 != 0 {
			n := int64(i%13 - 3)
			if i%40 == 2 {
				n = big
			}
			kv = append(kv, "n", n)
		}
		if i%6 != 0 {
			kv = append(kv, "u", uint64(i%9))
		}
		if i%4 != 0 {
			kv = append(kv, "s", fmt.Sprintf("s%d", i%8))
		}
		kv = append(kv, "w", float64(i%17))
		m.write("c", tags, t, kv...)
	}
	return m
}

// randomChain builds an OR or AND chain of = / != terms over the fields,
// mixed with other operands that stay unmerged.
func randomChain(rng *rand.Rand) string {
	nums := []string{"0", "1", "2", "-1", "-3", "2.5", "3.0", "4.5", "9007199254740993", "9007199254740992.0", "1e19", "-0.0", "8"}
	join := " OR "
	eq := "="
	if rng.Intn(2) == 0 {
		join, eq = " AND ", "!="
		if rng.Intn(2) == 0 {
			eq = "<>"
		}
	}
	terms := make([]string, 2+rng.Intn(12))
	for i := range terms {
		switch r := rng.Intn(10); {
		case r < 2:
			terms[i] = fmt.Sprintf("s %s 's%d'", eq, rng.Intn(9))
		case r < 8:
			f := []string{"v", "n", "u"}[rng.Intn(3)]
			terms[i] = fmt.Sprintf("%s %s %s", f, eq, nums[rng.Intn(len(nums))])
		case r == 8:
			terms[i] = fmt.Sprintf("w > %d", rng.Intn(17))
		default:
			terms[i] = fmt.Sprintf("host = 'h%d'", rng.Intn(3))
		}
	}
	return strings.Join(terms, join)
}

func runQuery(t *testing.T, m *memSource, q string) *Result {
	t.Helper()
	stmt, err := query.Parse(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	res, err := ExecuteWith(context.Background(), m, stmt, Options{Now: testNow})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return res
}

// TestEqualityChainsMerged checks that OR chains of = and AND chains of !=
// over one field, merged into one set lookup, answer exactly what the
// unmerged chains answer: random chains over floats, ints, uints and
// strings with gaps, NaN and integers beyond float precision, mixed with
// operands that are not merged.
func TestEqualityChainsMerged(t *testing.T) {
	m := eqChainData()
	rng := rand.New(rand.NewSource(11))
	for range 300 {
		where := randomChain(rng)
		for _, q := range []string{
			"SELECT v, n, u, s, w FROM c WHERE " + where,
			"SELECT count(w) FROM c WHERE " + where + " GROUP BY host",
			"SELECT count(w) FROM c WHERE (" + where + ") AND w < 12",
		} {
			got := runQuery(t, m, q)
			mergeEqualityChains = false
			want := runQuery(t, m, q)
			mergeEqualityChains = true
			if formatRows(got.Rows) != formatRows(want.Rows) { // NaN prints equal to NaN
				t.Fatalf("%s:\nmerged %s\nunmerged %s", q, formatRows(got.Rows), formatRows(want.Rows))
			}
		}
	}
}

// TestEqualityChainsCompileToOneLeaf counts the work per row: a chain of
// 20,000 = terms (OR) or != terms (AND) on one field compiles to one leaf
// per field, and other operands are kept.
func TestEqualityChainsCompileToOneLeaf(t *testing.T) {
	fields := map[string]model.Kind{"v": model.KindFloat, "n": model.KindInt, "s": model.KindString, "b": model.KindBool, "w": model.KindFloat}
	chain := func(f func(i int) string, join string) string {
		parts := make([]string, 20_000)
		for i := range parts {
			parts[i] = f(i)
		}
		return strings.Join(parts, join)
	}
	for _, tc := range []struct {
		where  string
		leaves int
	}{
		{chain(func(i int) string { return fmt.Sprintf("v = %d", i) }, " OR "), 1},
		{chain(func(i int) string { return fmt.Sprintf("v != %d.5", i) }, " AND "), 1},
		{chain(func(i int) string { return fmt.Sprintf("n <> %d", i) }, " AND "), 1},
		{chain(func(i int) string { return fmt.Sprintf("s = 'x%d'", i) }, " OR "), 1},
		{chain(func(i int) string { return fmt.Sprintf([]string{"n = %d", "v = %d"}[i%2], i/2) }, " OR "), 2},
		{"v = 1 OR w > 2 OR v = 2 OR host = 'a' OR v > 3", 4},
		{"b = true OR b = false", 2}, // booleans have two values: left alone
		{"v = 1 AND v = 2", 2},       // = in an AND is not a set
	} {
		stmt, err := query.Parse("SELECT v FROM c WHERE " + tc.where)
		if err != nil {
			t.Fatal(err)
		}
		c, err := compileWhere(stmt.Select.Where, fields, testNow)
		if err != nil {
			t.Fatalf("%.50s: %v", tc.where, err)
		}
		n := 0
		c.leaves(func(*leaf) { n++ })
		if n != tc.leaves {
			t.Errorf("%.50s…: %d leaves, want %d", tc.where, n, tc.leaves)
		}
	}
}

// TestEqualityChainsLinear runs a 100,000-term OR of = and AND of != over
// 100,000 rows (10^10 comparisons unmerged) within a generous deadline.
func TestEqualityChainsLinear(t *testing.T) {
	const rows, terms = 100_000, 100_000
	m := newMemSource()
	for s := range 4 {
		v := model.Column{Name: "v", Kind: model.KindFloat}
		for i := range rows / 4 {
			k := s*(rows/4) + i
			v.Append(t0+int64(k)*int64(time.Second), model.Float(float64(k)))
		}
		m.put("c", fmt.Sprintf("host=h%d", s), v)
	}
	chain := func(op, join string) string {
		parts := make([]string, terms)
		for i := range parts {
			parts[i] = fmt.Sprintf("v %s %d", op, 3*i)
		}
		return strings.Join(parts, join)
	}
	want := int64((rows + 2) / 3)
	for _, tc := range []struct {
		where string
		want  int64
	}{
		{chain("=", " OR "), want},
		{chain("!=", " AND "), rows - want},
	} {
		stmt, err := query.Parse("SELECT count(v) FROM c WHERE " + tc.where)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		res, err := ExecuteWith(ctx, m, stmt, Options{Now: testNow})
		cancel()
		if err != nil {
			t.Fatalf("%.40s…: %v", tc.where, err)
		}
		if got := res.Rows[0][1].Int(); got != tc.want {
			t.Errorf("%.40s…: count %d, want %d", tc.where, got, tc.want)
		}
	}
}
