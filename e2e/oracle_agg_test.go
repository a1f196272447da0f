package e2e

// The oracle's answers to aggregate queries (oracle_test.go has the rest
// of docs/query.md's naive reading): per group and bucket, with FILL,
// ORDER BY and LIMIT.

import (
	"math"
	"math/big"
)

// ---- aggregate queries ----

func (o oracle) aggregateAnswer(q *selectQ, matched []*row, fields map[string]kind) []table {
	cols := append([]string{"time"}, q.tags...)
	for _, it := range q.items {
		cols = append(cols, it.column())
	}
	lo, hasLo, hi, hasHi := timeBounds(q.where)
	groups := groupRows(matched, q.tags)

	if q.every == nil {
		t := int64(0)
		if hasLo {
			t = lo
		}
		out := table{columns: cols}
		for _, g := range groups {
			r := []cell{intCell(t)}
			for _, k := range g.key {
				r = append(r, exactCell(sv(k)))
			}
			for _, it := range q.items {
				r = append(r, aggregate(it, g.rows, fields[it.field]))
			}
			out.rows = append(out.rows, limitRows([][]cell{r}, q)...)
		}
		if len(groups) == 0 && len(q.tags) == 0 {
			// "one row per tag group": whether a query that matches no
			// row at all has a group is not said. Prefer no rows; accept
			// one row of empty aggregates.
			alt := table{label: "no rows: one empty row", columns: cols}
			r := []cell{intCell(t)}
			for _, it := range q.items {
				if it.fn == "count" {
					r = append(r, intCell(0))
				} else {
					r = append(r, nullCell())
				}
			}
			alt.rows = limitRows([][]cell{r}, q)
			out.label = "no rows: no row"
			return []table{out, alt}
		}
		return []table{out}
	}

	// The range of buckets: from WHERE, else from the matching rows of the
	// whole query.
	out := table{columns: cols}
	if len(matched) == 0 {
		return []table{out}
	}
	start, end := lo, hi
	if !hasLo {
		start = matched[0].t
		for _, r := range matched {
			start = min(start, r.t)
		}
	}
	if !hasHi {
		end = matched[0].t
		for _, r := range matched {
			end = max(end, r.t)
		}
	}
	var buckets []int64
	if start <= end {
		for b := qBucketStart(q, start); b <= end; b = qNextBucket(q, b) {
			buckets = append(buckets, b)
		}
	}
	for _, g := range groups {
		out.rows = append(out.rows, o.groupBuckets(q, g, buckets, fields)...)
	}
	return []table{out}
}

// groupBuckets computes, fills, orders and limits the bucket rows of one
// group.
func (o oracle) groupBuckets(q *selectQ, g *group, buckets []int64, fields map[string]kind) [][]cell {
	type brow struct {
		start int64
		had   bool
		cells []cell // the items only
	}
	byBucket := map[int64][]*row{}
	for _, r := range g.rows {
		b := qBucketStart(q, r.t)
		byBucket[b] = append(byBucket[b], r)
	}
	rs := make([]brow, len(buckets))
	for i, b := range buckets {
		rs[i].start = b
		in := byBucket[b]
		if len(in) == 0 {
			continue
		}
		rs[i].had = true
		for _, it := range q.items {
			rs[i].cells = append(rs[i].cells, aggregate(it, in, fields[it.field]))
		}
	}

	empty := func(it item) cell {
		if it.fn == "count" {
			return intCell(0)
		}
		return nullCell()
	}
	var kept []brow
	for i := range rs {
		if rs[i].had {
			kept = append(kept, rs[i])
			continue
		}
		r := brow{start: rs[i].start}
		switch q.fill.mode {
		case "none":
			continue
		case "", "null":
			for _, it := range q.items {
				r.cells = append(r.cells, empty(it))
			}
		case "number":
			for _, it := range q.items {
				if resultKind(it.fn, fields[it.field]) == kInt && q.fill.num == math.Trunc(q.fill.num) {
					r.cells = append(r.cells, intCell(int64(q.fill.num)))
				} else {
					r.cells = append(r.cells, exactCell(fv(q.fill.num)))
				}
			}
		case "previous":
			p := -1
			for j := i - 1; j >= 0; j-- {
				if rs[j].had {
					p = j
					break
				}
			}
			for k, it := range q.items {
				if p < 0 {
					r.cells = append(r.cells, empty(it))
				} else {
					r.cells = append(r.cells, rs[p].cells[k])
				}
			}
		case "linear":
			p, n := -1, -1
			for j := i - 1; j >= 0; j-- {
				if rs[j].had {
					p = j
					break
				}
			}
			for j := i + 1; j < len(rs); j++ {
				if rs[j].had {
					n = j
					break
				}
			}
			for k, it := range q.items {
				if p < 0 || n < 0 {
					r.cells = append(r.cells, empty(it))
					continue
				}
				r.cells = append(r.cells, interpolate(rs[p].start, rs[p].cells[k], rs[n].start, rs[n].cells[k], rs[i].start,
					resultKind(it.fn, fields[it.field])))
			}
		}
		kept = append(kept, r)
	}

	var rows [][]cell
	for _, r := range kept {
		c := []cell{intCell(r.start)}
		for _, k := range g.key {
			c = append(c, exactCell(sv(k)))
		}
		rows = append(rows, append(c, r.cells...))
	}
	return limitRows(rows, q)
}

// interpolate fills a bucket at t linearly between (t0, c0) and (t1, c1).
func interpolate(t0 int64, c0 cell, t1 int64, c1 cell, t int64, rk kind) cell {
	out := interpolateExact(t0, c0, t1, c1, t, rk)
	if c0.pct && c1.pct && out.v.k != kNull {
		// Between two percentiles from sketches: each within α of its
		// own value (and 0.5 for integers), the result truncated.
		out.pct = true
		out.pctScale = max(math.Abs(c0.v.f), math.Abs(c1.v.f), math.Abs(float64(c0.v.i)), math.Abs(float64(c1.v.i)))
		if rk == kInt {
			out.pctSlack = 1
		}
	}
	return out
}

// interpolateExact is interpolate's exact reading.
func interpolateExact(t0 int64, c0 cell, t1 int64, c1 cell, t int64, rk kind) cell {
	if !numeric(rk) || c0.v.k == kNull || c1.v.k == kNull {
		// The spec interpolates numeric items between values; it does not
		// say what a non-numeric item, or one whose neighbour is null,
		// gets. The oracle reads it as nothing to interpolate: null.
		return cell{open: true}
	}
	if rk == kInt {
		// Exact: y0 + (y1-y0)(t-t0)/(t1-t0), rounded towards zero. A server
		// computing in float64 may land on the other side of an exact
		// integer; accept that too.
		diff := new(big.Int).Sub(big.NewInt(c1.v.i), big.NewInt(c0.v.i))
		y := new(big.Rat).SetInt(diff)
		y.Mul(y, big.NewRat(t-t0, t1-t0))
		y.Add(y, new(big.Rat).SetInt64(c0.v.i))
		exact := truncRat(y)
		out := intCell(exact)
		f, _ := y.Float64()
		y0, y1 := float64(c0.v.i), float64(c1.v.i)
		cands := []float64{
			f * (1 + 1e-9), f * (1 - 1e-9), f + 1e-9, f - 1e-9,
			y0 + (y1-y0)*float64(t-t0)/float64(t1-t0),
		}
		for _, c := range cands {
			if math.Abs(c) > 9e18 {
				continue
			}
			alt := int64(c) // conversion truncates towards zero
			if alt != exact && !containsCell(out.alts, alt) {
				out.alts = append(out.alts, intCell(alt))
			}
		}
		return out
	}
	y0, y1 := c0.v.f, c1.v.f
	if c0.v.k == kInt {
		y0, y1 = float64(c0.v.i), float64(c1.v.i)
	}
	return approxCell(y0 + (y1-y0)*float64(t-t0)/float64(t1-t0))
}

func containsCell(cs []cell, i int64) bool {
	for _, c := range cs {
		if c.v.i == i {
			return true
		}
	}
	return false
}

// truncRat rounds r towards zero.
func truncRat(r *big.Rat) int64 {
	return new(big.Int).Quo(r.Num(), r.Denom()).Int64() // Quo truncates
}

// limitRows orders the rows of one group (given ascending) and applies
// OFFSET and LIMIT to them.
func limitRows(rows [][]cell, q *selectQ) [][]cell {
	if q.desc {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	off := int(min(q.offset, int64(len(rows))))
	rows = rows[off:]
	if q.limit > 0 && int64(len(rows)) > q.limit {
		rows = rows[:q.limit]
	}
	return rows
}
