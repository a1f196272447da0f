package e2e

import (
	"hash/fnv"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
)

// Expressions in the differential test: a query may add items that scale
// one of its numeric items by a constant (`max(v) * -3`, `n / 4`,
// `count(s) % 5`). The server computes them from the aggregates (or
// fields) it computes anyway; the oracle takes the column of the item it
// scales, from its own answer, and applies docs/query.md's arithmetic
// ("Expressions") here, written independently of the planner's.

// scaled is an item `items[idx] op k` appended to the SELECT list.
type scaled struct {
	idx int
	op  string // *, / or % (% only for integer results)
	k   int64
}

// bare renders the scaled item, whose column name is the same text.
func (s scaled) render(q *selectQ) string {
	it := q.items[s.idx]
	it.alias = ""
	return it.column() + " " + s.op + " " + strconv.FormatInt(s.k, 10)
}

// numericItem reports whether an item's result is a number.
func numericItem(it item) bool {
	return it.fn == "count" || it.field == "v" || it.field == "n" || it.field == "w"
}

// addScaled draws the scaled items of q (sometimes none) from a generator
// seeded by the query's text, so that the queries drawn before and after
// it stay those the seed always gave.
func (w *world) addScaled(q *selectQ) {
	h := fnv.New64a()
	h.Write([]byte(q.render()))
	w = &world{rng: rand.New(rand.NewPCG(h.Sum64(), 16))}
	if q.star || !w.chance(0.3) {
		return
	}
	for range 1 + w.rng.IntN(2) {
		i := w.rng.IntN(len(q.items))
		it := q.items[i]
		if !numericItem(it) || it.fn == "" && it.field != "v" && it.field != "n" && it.field != "w" {
			continue
		}
		s := scaled{idx: i, op: pick(w, []string{"*", "/"}), k: pick(w, []int64{2, 4, -3})}
		if it.fn == "count" && w.chance(0.4) {
			s.op, s.k = "%", 5
		}
		q.scaled = append(q.scaled, s)
	}
}

// withScaled appends the scaled columns to each acceptable table.
func withScaled(q *selectQ, tables []table) []table {
	if len(q.scaled) == 0 {
		return tables
	}
	for ti := range tables {
		t := &tables[ti]
		cols := make([]int, len(q.scaled))
		for i, s := range q.scaled {
			cols[i] = 1 + len(q.tags) + s.idx // time, the GROUP BY tags, the items
			t.columns = append(t.columns, s.render(q))
		}
		for ri, r := range t.rows {
			for i, s := range q.scaled {
				r = append(r, scaleCell(r[cols[i]], s.op, s.k))
			}
			t.rows[ri] = r
		}
	}
	return tables
}

// scaleCell is c op k: integers stay integers under * and % (a product
// that overflows int64 is the float product), / gives a float, null stays
// null.
func scaleCell(c cell, op string, k int64) cell {
	out := c
	out.alts = nil
	for _, a := range c.alts {
		out.alts = append(out.alts, scaleCell(a, op, k))
	}
	switch c.v.k {
	case kInt:
		x := big.NewInt(c.v.i)
		switch op {
		case "*":
			x.Mul(x, big.NewInt(k))
			if x.IsInt64() {
				out.v = iv(x.Int64())
			} else {
				f, _ := new(big.Float).SetInt(x).Float64()
				out.v, out.approx = fv(f), true
			}
		case "%":
			out.v = iv(x.Rem(x, big.NewInt(k)).Int64()) // truncated: the sign of the dividend
		case "/":
			out.v, out.approx = fv(float64(c.v.i)/float64(k)), true
		}
	case kFloat:
		f := c.v.f
		switch op {
		case "*":
			f *= float64(k)
		case "%":
			// A count filled with a fractional FILL value is a float:
			// % of floats is math.Mod (docs/query.md, "Expressions").
			f = math.Mod(f, float64(k))
		default:
			f /= float64(k)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return cell{open: c.open}
		}
		out.v, out.approx = fv(f), true
	}
	return out
}
