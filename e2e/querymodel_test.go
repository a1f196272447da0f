package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// This file holds the test's own description of a SELECT: the generator
// builds one, render turns it into query text for the server, and the oracle
// evaluates the description itself (it never parses text).

// litKind is the kind of a literal in WHERE.
type litKind byte

const (
	lString litKind = iota + 1
	lFloat
	lInt
	lBool
	lRegex
	lTime // a time literal: t holds its value, text how it is written
)

// lit is a literal on the right of a comparison.
type lit struct {
	k    litKind
	s    string
	f    float64
	i    int64
	b    bool
	re   *regexp.Regexp
	t    int64
	text string // for lTime: the text, e.g. '2025-01-01' + 1h
}

func (l lit) render() string {
	switch l.k {
	case lString:
		return "'" + l.s + "'"
	case lFloat:
		return floatLiteral(l.f)
	case lInt:
		return strconv.FormatInt(l.i, 10)
	case lBool:
		return strconv.FormatBool(l.b)
	case lRegex:
		return "/" + l.s + "/"
	case lTime:
		return l.text
	}
	return "?"
}

func strLit(s string) lit { return lit{k: lString, s: s} }

func reLit(s string) lit { return lit{k: lRegex, s: s, re: regexp.MustCompile(s)} }

// timeLit is a time literal at t, written as text.
func timeLit(t int64, text string) lit { return lit{k: lTime, t: t, text: text} }

// rfcLit writes t as an RFC 3339 string.
func rfcLit(t int64) lit {
	return timeLit(t, "'"+time.Unix(0, t).UTC().Format(time.RFC3339Nano)+"'")
}

// cond is a WHERE expression: *andCond, *orCond, *cmpCond, *inCond or
// *betweenCond.
type cond interface{ render() string }

type andCond struct{ terms []cond }

type orCond struct{ terms []cond }

type cmpCond struct {
	name string
	op   string
	v    lit
}

type inCond struct {
	name string
	not  bool
	vals []lit
}

type betweenCond struct {
	name   string
	lo, hi lit
}

func (c *andCond) render() string {
	parts := make([]string, len(c.terms))
	for i, t := range c.terms {
		parts[i] = t.render()
	}
	return strings.Join(parts, " AND ")
}

func (c *orCond) render() string {
	parts := make([]string, len(c.terms))
	for i, t := range c.terms {
		parts[i] = t.render()
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

func (c *cmpCond) render() string { return c.name + " " + c.op + " " + c.v.render() }

func (c *inCond) render() string {
	parts := make([]string, len(c.vals))
	for i, v := range c.vals {
		parts[i] = v.render()
	}
	op := " IN ("
	if c.not {
		op = " NOT IN ("
	}
	return c.name + op + strings.Join(parts, ", ") + ")"
}

func (c *betweenCond) render() string {
	return c.name + " BETWEEN " + c.lo.render() + " AND " + c.hi.render()
}

// item is one entry of the SELECT list: an aggregate (fn set) or a plain
// field or tag.
type item struct {
	fn    string // count, sum, avg, mean, ..., percentile; "" for a plain name
	field string
	p     float64 // percentile argument
	alias string
}

func (it item) render() string {
	var s string
	switch {
	case it.fn == "percentile":
		s = "percentile(" + it.field + ", " + strconv.FormatFloat(it.p, 'f', -1, 64) + ")"
	case it.fn != "":
		s = it.fn + "(" + it.field + ")"
	default:
		s = it.field
	}
	if it.alias != "" {
		s += " AS " + it.alias
	}
	return s
}

// column returns the column name the server should use for the item.
func (it item) column() string {
	switch {
	case it.alias != "":
		return it.alias
	case it.fn == "percentile":
		return "percentile(" + it.field + ", " + strconv.FormatFloat(it.p, 'g', -1, 64) + ")"
	case it.fn == "mean":
		return "avg(" + it.field + ")"
	case it.fn != "":
		return it.fn + "(" + it.field + ")"
	}
	return it.field
}

// interval is a GROUP BY interval such as 6h, 1w or 3M.
type interval struct {
	n    int64
	unit string // m, h, d, w, M, y
}

func (iv interval) String() string { return strconv.FormatInt(iv.n, 10) + iv.unit }

// approx returns the interval's rough length, for sizing ranges.
func (iv interval) approx() time.Duration {
	u := map[string]time.Duration{
		"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour,
		"M": 30 * 24 * time.Hour, "y": 365 * 24 * time.Hour,
	}[iv.unit]
	return time.Duration(iv.n) * u
}

// fill is the FILL clause; mode "" means no clause (the default, null).
type fill struct {
	mode string // "", null, none, previous, linear, number
	num  float64
}

func (f fill) render() string {
	switch f.mode {
	case "":
		return ""
	case "number":
		return " FILL(" + strconv.FormatFloat(f.num, 'f', -1, 64) + ")"
	}
	return " FILL(" + f.mode + ")"
}

// selectQ is one SELECT statement.
type selectQ struct {
	coll      string
	star      bool
	items     []item
	where     cond
	every     *interval
	timeFunc  bool // write the interval as time(...) rather than bare
	everyLast bool // write the interval after the GROUP BY tags
	tags      []string
	fill      fill
	desc      bool
	orderAsc  bool // write ORDER BY time ASC explicitly
	limit     int64
	offset    int64
	// GROUP BY time(every, goffset) and TZ(zone), written last when
	// zoneLast (oracle_tz_test.go).
	goffset  zoneOffset
	zone     string
	zoneLast bool
	scaled   []scaled // expression items after items (oracle_expr_test.go)
}

func (q *selectQ) aggregate() bool { return !q.star && len(q.items) > 0 && q.items[0].fn != "" }

// render returns the query text.
func (q *selectQ) render() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	if q.star {
		b.WriteString("*")
	} else {
		for i, it := range q.items {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(it.render())
		}
		for _, s := range q.scaled {
			b.WriteString(", " + s.render(q))
		}
	}
	b.WriteString(" FROM " + q.coll)
	if q.where != nil {
		b.WriteString(" WHERE " + q.where.render())
	}
	var groups []string
	if q.every != nil {
		groups = append(groups, q.intervalText())
	}
	if q.everyLast && len(groups) == 1 {
		groups = append(append([]string(nil), q.tags...), groups[0])
	} else {
		groups = append(groups, q.tags...)
	}
	if len(groups) > 0 {
		b.WriteString(" GROUP BY " + strings.Join(groups, ", "))
	}
	b.WriteString(q.fill.render())
	if !q.zoneLast {
		b.WriteString(q.tzText())
	}
	switch {
	case q.desc:
		b.WriteString(" ORDER BY time DESC")
	case q.orderAsc:
		b.WriteString(" ORDER BY time ASC")
	}
	if q.limit > 0 {
		b.WriteString(" LIMIT " + strconv.FormatInt(q.limit, 10))
	}
	if q.offset > 0 {
		b.WriteString(" OFFSET " + strconv.FormatInt(q.offset, 10))
	}
	if q.zoneLast {
		b.WriteString(q.tzText())
	}
	return b.String()
}
