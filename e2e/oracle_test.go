package e2e

import (
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file is the oracle: a deliberately naive reading of docs/query.md.
// It walks every row of the collection for every query and computes each
// answer by brute force, the simplest way the spec's sentences allow. Where
// the spec leaves an answer open, the oracle either accepts each reading (a
// cell with alternatives, or a second acceptable table, labelled so the test
// can report which way the server went) or, where only one reading makes
// sense, expects it and marks the cell as open.

// cell is one expected value. A cell with alts also accepts each of them.
type cell struct {
	v      val
	approx bool // a float compared within relative 1e-9
	open   bool // the spec does not decide this value: the oracle expects its own reading (null)
	pct    bool // a percentile: from rollup sketches, within the sketch's bound
	// pctScale, when larger than the value's magnitude, is the magnitude the
	// sketch's bound applies to, and pctSlack an absolute slack added (a
	// FILL(linear) cell between two percentiles).
	pctScale, pctSlack float64
	alts               []cell
}

func nullCell() cell            { return cell{} }
func intCell(i int64) cell      { return cell{v: iv(i)} }
func exactCell(v val) cell      { return cell{v: v} }
func approxCell(f float64) cell { return cell{v: fv(f), approx: true} }

func (c cell) String() string {
	var s string
	switch {
	case c.approx:
		s = "~" + c.v.String()
	default:
		s = c.v.String()
	}
	for _, a := range c.alts {
		s += "|" + a.String()
	}
	return s
}

// table is one acceptable answer. label names the reading of the spec it
// follows when more than one is acceptable.
type table struct {
	label   string
	columns []string
	rows    [][]cell
}

// oracle answers queries over a dataset.
type oracle struct {
	d *dataset
}

// answer returns the acceptable answers to q, the first being the oracle's
// preferred reading.
func (o oracle) answer(q *selectQ) []table {
	fields := o.d.fields[q.coll]
	var matched []*row
	for _, r := range o.d.collRows(q.coll) {
		if q.where == nil || matches(q.where, r, fields) {
			matched = append(matched, r)
		}
	}
	if q.aggregate() {
		// docs/query.md, "Matching row": an aggregate query sees only
		// the rows that hold at least one aggregated field.
		matched = rowsHolding(matched, q.items)
		return withScaled(q, o.aggregateAnswer(q, matched, fields))
	}
	return withScaled(q, o.rawAnswer(q, matched, fields))
}

// rowsHolding keeps the rows that hold the field of at least one item.
func rowsHolding(rows []*row, items []item) []*row {
	var out []*row
	for _, r := range rows {
		for _, it := range items {
			if _, ok := r.f[it.field]; ok {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// ---- WHERE ----

// matches evaluates a WHERE expression on one row.
func matches(c cond, r *row, fields map[string]kind) bool {
	switch c := c.(type) {
	case *andCond:
		for _, t := range c.terms {
			if !matches(t, r, fields) {
				return false
			}
		}
		return true
	case *orCond:
		for _, t := range c.terms {
			if matches(t, r, fields) {
				return true
			}
		}
		return false
	case *cmpCond:
		return compareName(c.name, c.op, c.v, r, fields)
	case *inCond:
		in := false
		for _, v := range c.vals {
			if compareName(c.name, "=", v, r, fields) {
				in = true
			}
		}
		if _, isField := fields[c.name]; isField {
			if _, has := r.f[c.name]; !has {
				return false // a condition on a field is false where the row lacks it
			}
		}
		return in != c.not
	case *betweenCond:
		return compareName(c.name, ">=", c.lo, r, fields) && compareName(c.name, "<=", c.hi, r, fields)
	}
	panic("unknown condition")
}

// compareName evaluates `name op v` on a row: time, a field, or a tag.
func compareName(name, op string, v lit, r *row, fields map[string]kind) bool {
	if name == "time" {
		return opHolds(op, cmpInt(r.t, v.t))
	}
	if _, isField := fields[name]; isField {
		fv, has := r.f[name]
		if !has {
			return false
		}
		switch fv.k {
		case kFloat, kInt:
			if fv.k == kInt && v.k == lInt {
				return opHolds(op, cmpInt(fv.i, v.i))
			}
			a := fv.f
			if fv.k == kInt {
				a = float64(fv.i)
			}
			bb := v.f
			if v.k == lInt {
				bb = float64(v.i)
			}
			return opHolds(op, cmpFloat(a, bb))
		case kString:
			return stringHolds(op, fv.s, v)
		case kBool:
			eq := fv.b == v.b
			if op == "=" {
				return eq
			}
			return !eq
		}
		panic("bad field kind")
	}
	return stringHolds(op, r.s.tagValue(name), v)
}

func stringHolds(op, s string, v lit) bool {
	switch op {
	case "=~":
		return v.re.MatchString(s)
	case "!~":
		return !v.re.MatchString(s)
	}
	return opHolds(op, strings.Compare(s, v.s))
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func opHolds(op string, c int) bool {
	switch op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	panic("unknown operator " + op)
}

// timeBounds derives [lo, hi] from the time conditions joined by AND at the
// top of WHERE: the smallest interval outside which no row can match.
func timeBounds(c cond) (lo int64, hasLo bool, hi int64, hasHi bool) {
	lower := func(t int64) {
		if !hasLo || t > lo {
			lo, hasLo = t, true
		}
	}
	upper := func(t int64) {
		if !hasHi || t < hi {
			hi, hasHi = t, true
		}
	}
	var walk func(c cond)
	walk = func(c cond) {
		switch c := c.(type) {
		case *andCond:
			for _, t := range c.terms {
				walk(t)
			}
		case *cmpCond:
			if c.name != "time" {
				return
			}
			switch c.op {
			case ">=":
				lower(c.v.t)
			case ">":
				lower(c.v.t + 1)
			case "<=":
				upper(c.v.t)
			case "<":
				upper(c.v.t - 1)
			case "=":
				lower(c.v.t)
				upper(c.v.t)
			}
		case *betweenCond:
			if c.name == "time" {
				lower(c.lo.t)
				upper(c.hi.t)
			}
		}
	}
	if c != nil {
		walk(c)
	}
	return
}

// ---- grouping ----

// group is the rows of one combination of GROUP BY tag values.
type group struct {
	key  []string
	rows []*row // sorted by time, then series key
}

// groupRows splits rows by the values of tags ("" when a series lacks a
// tag) and orders the groups by those values, tag by tag.
func groupRows(rows []*row, tags []string) []*group {
	byKey := map[string]*group{}
	var out []*group
	for _, r := range rows {
		key := make([]string, len(tags))
		for i, t := range tags {
			key[i] = r.s.tagValue(t)
		}
		k := strings.Join(key, "\x00")
		g := byKey[k]
		if g == nil {
			g = &group{key: key}
			byKey[k] = g
			out = append(out, g)
		}
		g.rows = append(g.rows, r)
	}
	sort.Slice(out, func(i, j int) bool {
		for k := range tags {
			if out[i].key[k] != out[j].key[k] {
				return out[i].key[k] < out[j].key[k]
			}
		}
		return false
	})
	return out
}

// ---- buckets ----

const day = 24 * int64(time.Hour)

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// bucketStart returns the start of the bucket holding t.
func bucketStart(iv interval, t int64) int64 {
	tm := time.Unix(0, t).UTC()
	switch iv.unit {
	case "M":
		idx := int64(tm.Year())*12 + int64(tm.Month()) - 1
		idx = floorDiv(idx, iv.n) * iv.n
		return time.Date(int(floorDiv(idx, 12)), time.Month(idx-floorDiv(idx, 12)*12+1), 1, 0, 0, 0, 0, time.UTC).UnixNano()
	case "y":
		y := floorDiv(int64(tm.Year()), iv.n) * iv.n
		return time.Date(int(y), 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	case "w":
		// 1970-01-05 was the first Monday after the epoch.
		const monday = 4 * day
		w := iv.n * 7 * day
		return floorDiv(t-monday, w)*w + monday
	}
	d := int64(iv.approx())
	return floorDiv(t, d) * d
}

// nextBucket returns the start of the bucket after the one starting at b.
func nextBucket(iv interval, b int64) int64 {
	switch iv.unit {
	case "M":
		return time.Unix(0, b).UTC().AddDate(0, int(iv.n), 0).UnixNano()
	case "y":
		return time.Unix(0, b).UTC().AddDate(int(iv.n), 0, 0).UnixNano()
	}
	return b + int64(iv.approx())
}

// ---- aggregates ----

// resultKind is the kind of an aggregate's result over a field of kind fk.
func resultKind(fn string, fk kind) kind {
	switch fn {
	case "count":
		return kInt
	case "avg", "mean", "stddev":
		return kFloat
	}
	return fk
}

func numeric(k kind) bool { return k == kFloat || k == kInt }

// aggregate computes one item over the rows of a bucket, naively.
func aggregate(it item, rows []*row, fk kind) cell {
	var vals []val // in row order: by time, then series key
	for _, r := range rows {
		if v, ok := r.f[it.field]; ok {
			vals = append(vals, v)
		}
	}
	n := len(vals)
	if it.fn == "count" {
		return intCell(int64(n))
	}
	if n == 0 {
		return nullCell()
	}
	floats := make([]float64, n)
	for i, v := range vals {
		if v.k == kInt {
			floats[i] = float64(v.i)
		} else {
			floats[i] = v.f
		}
	}
	switch it.fn {
	case "first":
		return exactCell(vals[0])
	case "last":
		return exactCell(vals[n-1])
	case "sum":
		if fk == kInt {
			var s int64
			for _, v := range vals {
				s += v.i // wraps on overflow, as the spec says
			}
			return intCell(s)
		}
		var s float64
		for _, f := range floats {
			s += f
		}
		return approxCell(s)
	case "avg", "mean":
		if fk == kInt {
			// The exact total, rounded once to float64: bit for bit.
			s := new(big.Int)
			for _, v := range vals {
				s.Add(s, big.NewInt(v.i))
			}
			f, _ := new(big.Float).SetInt(s).Float64()
			return exactCell(fv(f / float64(n)))
		}
		var s float64
		for _, f := range floats {
			s += f
		}
		return approxCell(s / float64(n))
	case "min", "max", "spread":
		lo, hi := 0, 0
		for i := range vals {
			if less(vals[i], vals[lo]) {
				lo = i
			}
			if less(vals[hi], vals[i]) {
				hi = i
			}
		}
		switch it.fn {
		case "min":
			return exactCell(vals[lo])
		case "max":
			return exactCell(vals[hi])
		}
		if fk == kInt {
			return intCell(vals[hi].i - vals[lo].i)
		}
		return exactCell(fv(vals[hi].f - vals[lo].f))
	case "stddev":
		if n < 2 {
			return nullCell()
		}
		var s float64
		for _, f := range floats {
			s += f
		}
		mean := s / float64(n)
		var ss float64
		for _, f := range floats {
			ss += (f - mean) * (f - mean)
		}
		return approxCell(math.Sqrt(ss / float64(n-1)))
	case "percentile":
		sorted := append([]val(nil), vals...)
		sort.SliceStable(sorted, func(i, j int) bool { return less(sorted[i], sorted[j]) })
		var out cell
		for i, rank := range percentileRanks(it.p, n) {
			c := exactCell(sorted[rank-1])
			if i == 0 {
				out = c
			} else if !c.v.equal(out.v) {
				out.alts = append(out.alts, c)
			}
		}
		out.pct = true
		return out
	}
	panic("unknown aggregate " + it.fn)
}

func less(a, b val) bool {
	if a.k == kInt {
		return a.i < b.i
	}
	return a.f < b.f
}

func (v val) equal(w val) bool {
	return v.k == w.k && v.i == w.i && v.s == w.s && v.b == w.b &&
		(v.f == w.f || math.IsNaN(v.f) && math.IsNaN(w.f))
}

// percentileRanks returns the 1-based nearest rank ceil(p/100 × n), or 1
// when that is 0: first computed exactly, then as float64 arithmetic in
// the two obvious orders (the server may round either way at an exact
// integer; both readings are accepted).
func percentileRanks(p float64, n int) []int {
	clamp := func(r int) int { return min(max(r, 1), n) }
	pr, _ := new(big.Rat).SetString(strconv.FormatFloat(p, 'f', -1, 64))
	x := new(big.Rat).Mul(pr, big.NewRat(int64(n), 100))
	q, m := new(big.Int).QuoRem(x.Num(), x.Denom(), new(big.Int))
	exact := int(q.Int64())
	if m.Sign() > 0 {
		exact++
	}
	ranks := []int{clamp(exact)}
	for _, f := range []float64{math.Ceil(p / 100 * float64(n)), math.Ceil(p * float64(n) / 100)} {
		r := clamp(int(f))
		if !contains(ranks, r) {
			ranks = append(ranks, r)
		}
	}
	return ranks
}

func contains[T comparable](s []T, x T) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// ---- raw selects ----

func (o oracle) rawAnswer(q *selectQ, matched []*row, fields map[string]kind) []table {
	// names are what each column after time and the group tags shows;
	// "*" is all tag keys, sorted, then all fields, sorted.
	var names []string
	cols := append([]string{"time"}, q.tags...)
	if q.star {
		names = append(o.d.tagKeys(q.coll), sortedKeys(fields)...)
		cols = append(cols, names...)
	} else {
		for _, it := range q.items {
			names = append(names, it.field)
			cols = append(cols, it.column())
		}
	}

	var selected []*row
	for _, r := range matched {
		has := false
		for _, n := range names {
			if _, isField := fields[n]; isField {
				if _, ok := r.f[n]; ok {
					has = true
				}
			}
		}
		if has {
			selected = append(selected, r)
		}
	}
	render := func(r *row, g *group) []cell {
		c := []cell{intCell(r.t)}
		for _, k := range g.key {
			c = append(c, exactCell(sv(k)))
		}
		for _, n := range names {
			if _, isField := fields[n]; isField {
				if v, ok := r.f[n]; ok {
					c = append(c, exactCell(v))
				} else {
					c = append(c, nullCell())
				}
			} else {
				c = append(c, exactCell(sv(r.s.tagValue(n))))
			}
		}
		return c
	}

	// Ties in time are broken by series key; with DESC the whole order
	// (time, series key) is reversed. The spec's sentence could also mean
	// that only time is reversed; accept that reading as a second table.
	out := table{columns: cols, label: "desc ties: series key descending"}
	alt := table{columns: cols, label: "desc ties: series key ascending"}
	ties := false
	for _, g := range groupRows(selected, q.tags) {
		var rows [][]cell
		for _, r := range g.rows {
			rows = append(rows, render(r, g))
		}
		out.rows = append(out.rows, limitRows(rows, q)...)
		if q.desc {
			byTime := append([]*row(nil), g.rows...)
			sort.SliceStable(byTime, func(i, j int) bool { return byTime[i].t > byTime[j].t })
			var arows [][]cell
			for i, r := range byTime {
				arows = append(arows, render(r, g))
				if i > 0 && byTime[i-1].t == r.t {
					ties = true
				}
			}
			nq := *q
			nq.desc = false
			alt.rows = append(alt.rows, limitRows(arows, &nq)...)
		}
	}
	if q.desc && ties {
		return []table{out, alt}
	}
	out.label = ""
	return []table{out}
}

// ---- SHOW ----

// showCase is a SHOW statement and its answer.
type showCase struct {
	q    string
	want table
}

// shows returns the SHOW statements of every collection with their answers.
func (o oracle) shows() []showCase {
	colls := sortedKeys(o.d.fields)
	names := table{columns: []string{"name"}}
	for _, c := range colls {
		names.rows = append(names.rows, []cell{exactCell(sv(c))})
	}
	out := []showCase{{"SHOW COLLECTIONS", names}}
	for _, c := range colls {
		keys := table{columns: []string{"tag_key"}}
		for _, k := range o.d.tagKeys(c) {
			keys.rows = append(keys.rows, []cell{exactCell(sv(k))})
			values := map[string]bool{}
			for _, r := range o.d.rows {
				if r.s.coll == c && r.s.hasTag(k) {
					values[r.s.tagValue(k)] = true
				}
			}
			vt := table{columns: []string{"key", "value"}}
			for _, v := range sortedKeys(values) {
				vt.rows = append(vt.rows, []cell{exactCell(sv(k)), exactCell(sv(v))})
			}
			out = append(out, showCase{"SHOW TAG VALUES FROM " + c + " WITH KEY = " + k, vt})
		}
		out = append(out, showCase{"SHOW TAG KEYS FROM " + c, keys})
		ft := table{columns: []string{"field_key", "field_type"}}
		for _, f := range sortedKeys(o.d.fields[c]) {
			ft.rows = append(ft.rows, []cell{exactCell(sv(f)), exactCell(sv(o.d.fields[c][f].String()))})
		}
		out = append(out, showCase{"SHOW FIELDS FROM " + c, ft})
	}
	return out
}
