// Package query owns Soltix's SQL-like query language: its grammar (built with
// participle), the abstract syntax tree the planner consumes, and a printer
// that turns a tree back into canonical text. It knows nothing about storage:
// whether a name in WHERE is a tag or a field is decided by the planner.
// The statements are SELECT, SHOW and DELETE; EXPLAIN applies to SELECT only.
//
// Parse turns text into a *Statement; (*Statement).String prints it back so
// that Parse(s.String()) yields an equal tree. The grammar is participle's
// (grammar.go); a hand-written lexer (lexer.go) feeds it, and a hand-written
// recursive descent (fastparse.go) builds the same grammar tree for the
// SELECTs it accepts, leaving participle the rest and every error. The tests
// compare both with participle and its regexp lexer (oracle_test.go).
package query

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
)

// Pos is a position in the query text. Offset is the byte offset from the
// start; Line and Column count from 1 (Column in bytes).
type Pos struct {
	Offset int
	Line   int
	Column int
}

// String formats the position as line:column.
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Column) }

// Error is a syntax error. Its message names the offending token and where it
// stands, for example `1:25: unexpected "FORM", expected "FROM"`.
type Error struct {
	Pos     Pos
	Token   string // the offending token as written, "" at end of input
	Message string // what was wrong, without the position
}

// Error implements error.
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Message }

// Statement is one parsed statement: exactly one of Select, Show and Delete
// is set. Explain is only ever set with Select.
type Statement struct {
	Explain bool
	Select  *Select
	Show    *Show
	Delete  *Delete
}

// Delete is a DELETE statement: it removes the points of the collection's
// series that Where selects. Which conditions Where may hold (tags, and time
// joined by AND at the top level) is for the planner to check.
type Delete struct {
	From    string
	FromPos Pos
	Where   Expr // nil when there is no WHERE clause: every point
}

// ShowKind says what a SHOW statement lists.
type ShowKind int

// The SHOW statements.
const (
	ShowCollections ShowKind = iota + 1 // SHOW COLLECTIONS, SHOW MEASUREMENTS
	ShowTagKeys                         // SHOW TAG KEYS [FROM c]
	ShowTagValues                       // SHOW TAG VALUES FROM c WITH KEY = k
	ShowFields                          // SHOW FIELDS [FROM c], SHOW FIELD KEYS [FROM c]
	ShowSeries                          // SHOW SERIES FROM c
)

// Show is a SHOW statement.
type Show struct {
	Kind ShowKind
	// From is the collection; empty for SHOW COLLECTIONS, and for SHOW TAG
	// KEYS and SHOW FIELDS of every collection.
	From string
	Key  string // the tag key of SHOW TAG VALUES
}

// Select is a SELECT statement.
type Select struct {
	Items []Item
	// From is the collection read; empty when Sub is set.
	From    string
	FromPos Pos
	// Sub is the subquery of FROM (SELECT ...), whose answer the
	// statement reads instead of a collection; nil for FROM collection.
	Sub   *Select
	Where Expr // nil when there is no WHERE clause
	// GroupBy holds the GROUP BY interval, nil when there is none.
	// GROUP BY 1d and GROUP BY time(1d) parse to the same thing.
	GroupBy *Duration
	// GroupByPos is where the GROUP BY interval is written.
	GroupByPos Pos
	// GroupTags holds the tag keys of GROUP BY, in the order written, and
	// GroupTagPos where each is written.
	GroupTags   []string
	GroupTagPos []Pos
	// GroupOffset is the offset of GROUP BY time(interval, offset), as
	// written (the planner reduces it modulo the interval); nil when none.
	GroupOffset *Offset
	// GroupAll is set by GROUP BY *: group by every tag key of the
	// collection (after GroupTags, in key order), which the planner knows.
	GroupAll bool
	// Having is the HAVING condition on aggregates, nil when there is
	// none; see expr.go.
	Having Expr
	Fill   Fill
	// TZ is the zone of the TZ('Area/City') clause, "" when there is none;
	// the parser has checked that time.LoadLocation knows it. TZPos is
	// where the clause is written.
	TZ     string
	TZPos  Pos
	Desc   bool  // ORDER BY time DESC
	Limit  int64 // 0 means no limit
	Offset int64
}

// Collection returns the collection the statement reads: From, or the
// collection of its innermost subquery.
func (s *Select) Collection() string {
	for s.Sub != nil {
		s = s.Sub
	}
	return s.From
}

// Item is one entry of the SELECT list.
type Item struct {
	// Star is set for SELECT *; the other fields are then empty. With
	// Func set it is fn(*): the aggregate over every field it applies to.
	Star bool
	// Func is the aggregate function, lower case, with mean already
	// normalised to avg; empty for a plain field or tag.
	Func string
	// Field is the field (or, for a plain item, possibly tag) name.
	Field string
	// Arg is the second argument of percentile(field, p): p in [0, 100].
	Arg   float64
	Alias string // the AS name, or ""
	Pos   Pos
	// Inner is, for a transformation of aggregated buckets (the nested
	// form derivative(mean(v), 1s)), the inner aggregate, normalised like
	// Func; Field is then the inner aggregate's field and InnerArg its
	// percentile rank. Empty for every other item. See fn.go.
	Inner    string
	InnerArg float64
	// Unit is the duration argument of derivative, non_negative_derivative,
	// rate, elapsed and integral, nil when not written (see DefaultUnit).
	Unit *Duration
	// N is the integer argument of moving_average, top, bottom and sample,
	// and of downsample (n) and forecast (the horizon).
	N int64
	// Method is the method of an analytics function (downsample,
	// anomalies, forecast: analytics.go), its default when not written;
	// Param its optional number (the threshold of anomalies, the season
	// length of forecast's holt_winters), nil when not written.
	Method string
	Param  *float64
	// Expr is set, and Func, Field and Arg are empty, when the item is
	// more than fn(field[, arg]) or a name: an arithmetic expression or a
	// math function (see expr.go).
	Expr ValueExpr
}

// Name returns the column name of the item: its alias, or fn(field), or field.
func (it Item) Name() string {
	switch {
	case it.Alias != "":
		return it.Alias
	case it.Expr != nil:
		return ValueString(it.Expr)
	case it.Star && it.Func == "percentile":
		return fmt.Sprintf("percentile(*, %s)", formatFloat(it.Arg))
	case it.Star && it.Func != "":
		return it.Func + "(*)"
	case it.Star:
		return "*"
	case IsFunction(it.Func):
		return it.callText(func(s string) string { return s })
	case it.Func == "percentile":
		return fmt.Sprintf("percentile(%s, %s)", it.Field, formatFloat(it.Arg))
	case it.Func != "":
		return it.Func + "(" + it.Field + ")"
	}
	return it.Field
}

// Aggregates lists the aggregate function names the language knows, in the
// normalised spelling of Item.Func.
var Aggregates = []string{"count", "sum", "avg", "min", "max", "first", "last", "spread", "stddev", "percentile", "median", "mode"}

// FillMode says what a GROUP BY interval puts in buckets that hold no points.
type FillMode int

// The fill modes. FillNull is the default.
const (
	FillNull     FillMode = iota // FILL(null), and the default
	FillNone                     // FILL(none): empty buckets are left out
	FillPrevious                 // FILL(previous)
	FillLinear                   // FILL(linear)
	FillValue                    // FILL(<number>)
)

// Fill is the FILL clause.
type Fill struct {
	Mode  FillMode
	Value float64 // for FillValue
}

// Unit is the unit of a duration literal.
type Unit int

// Duration units. Month and Year are calendar units (UTC); the rest are fixed.
const (
	Nanosecond Unit = iota + 1
	Microsecond
	Millisecond
	Second
	Minute
	Hour
	Day
	Week
	Month
	Year
)

// Duration is a duration literal such as 30d, 1M or 90s.
type Duration struct {
	N    int64 // > 0
	Unit Unit
}

// Calendar reports whether the duration counts calendar months or years.
func (d Duration) Calendar() bool { return d.Unit == Month || d.Unit == Year }

// Months returns the length of a calendar duration in months (12 per year).
// It is only meaningful when Calendar is true.
func (d Duration) Months() int64 {
	if d.Unit == Year {
		return d.N * 12
	}
	return d.N
}

// Nanos returns the length of a fixed duration in nanoseconds.
// It is only meaningful when Calendar is false.
func (d Duration) Nanos() int64 {
	var u int64
	switch d.Unit {
	case Nanosecond:
		u = 1
	case Microsecond:
		u = int64(time.Microsecond)
	case Millisecond:
		u = int64(time.Millisecond)
	case Second:
		u = int64(time.Second)
	case Minute:
		u = int64(time.Minute)
	case Hour:
		u = int64(time.Hour)
	case Day:
		u = 24 * int64(time.Hour)
	case Week:
		u = 7 * 24 * int64(time.Hour)
	}
	n, _ := timex.Mul(d.N, u) // the parser refuses durations that overflow
	return n
}

// Shift returns tm moved forward by sign*d: calendar units use UTC calendar
// arithmetic (time.AddDate), fixed ones add nanoseconds. time.Time spans far
// more than int64 nanoseconds, so a chain of shifts is exact even when it
// passes outside that range and comes back.
func (d Duration) Shift(tm time.Time, sign int) time.Time {
	if d.Calendar() {
		return tm.AddDate(0, sign*int(d.Months()), 0)
	}
	return tm.Add(time.Duration(sign) * time.Duration(d.Nanos()))
}

// Expr is a WHERE expression: *Binary, *Compare, *In or *Between.
type Expr interface{ expr() }

// Binary joins two expressions with AND or OR. AND binds tighter than OR;
// parentheses are not kept in the tree.
type Binary struct {
	Op  string // "AND" or "OR"
	LHS Expr
	RHS Expr
}

// Compare is `name op literal`. Name is "time" for the time column; whether
// any other name is a tag or a field is for the planner to decide.
type Compare struct {
	Name  string
	Op    string // one of = != < <= > >= =~ !~  (<> is read as !=)
	Value Literal
	Pos   Pos
}

// In is `name IN ('a', 'b', ...)` or, with Not, `name NOT IN (...)`.
type In struct {
	Name   string
	Not    bool
	Values []Literal
	Pos    Pos
}

// Between is `name BETWEEN low AND high`, both ends inclusive.
type Between struct {
	Name string
	Low  Literal
	High Literal
	Pos  Pos
}

func (*Binary) expr()  {}
func (*Compare) expr() {}
func (*In) expr()      {}
func (*Between) expr() {}

// LitKind is the kind of a literal.
type LitKind int

// Literal kinds.
const (
	LitString  LitKind = iota + 1 // 'text'
	LitNumber                     // 1.5, -2e3 (a number with a '.' or exponent)
	LitInteger                    // 42, -7
	LitBool                       // true, false
	LitRegex                      // /re/
	LitNow                        // now()
)

// Literal is a constant on the right of a comparison. String, integer and
// now() literals may carry offsets (`now() - 30d`, `'2025-01-01' + 1h`),
// which only make sense when the name compared is time.
type Literal struct {
	Kind    LitKind
	Str     string         // LitString; for LitRegex the source between the slashes
	Num     float64        // LitNumber
	Int     int64          // LitInteger
	Bool    bool           // LitBool
	Regex   *regexp.Regexp // LitRegex, compiled
	Offsets []Offset
	Pos     Pos
}

// Offset is `+ d` or `- d` after a time literal.
type Offset struct {
	Sign int // +1 or -1
	Dur  Duration
}

// TimeLayouts are the layouts a string literal may use as a time, tried in
// order. Strings without a zone are UTC.
var TimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02"}

// Time evaluates a literal used as a time value to nanoseconds since the
// epoch: now() is now, an integer is epoch nanoseconds, a string is an
// RFC 3339 time (or one of TimeLayouts); offsets are then applied in order.
// A result outside the int64 range is an error naming the literal.
func (l Literal) Time(now time.Time) (int64, error) {
	t, fit, err := l.Bound(now)
	if err == nil && !fit {
		return 0, fmt.Errorf("%s: time %s is %s", l.Pos, l, timex.RangeText)
	}
	return t, err
}

// Bound evaluates a literal used as a bound of a time comparison. Its base
// (now(), the string or the integer) must be a time; offsets that carry it
// past either end of the int64 range saturate there, fit reporting false and
// t (math.MinInt64 or math.MaxInt64) telling which end. Offsets are applied
// exactly, in order; only the result saturates.
func (l Literal) Bound(now time.Time) (t int64, fit bool, err error) {
	switch l.Kind {
	case LitNow:
		t, _ = timex.FromTime(now)
	case LitInteger:
		t = l.Int
	case LitString:
		t, err = ParseTime(l.Str)
		if err != nil {
			return 0, false, fmt.Errorf("%s: %w", l.Pos, err)
		}
	default:
		return 0, false, fmt.Errorf("%s: time must be compared with now(), an RFC 3339 string or integer nanoseconds", l.Pos)
	}
	if len(l.Offsets) == 0 {
		return t, true, nil
	}
	tm := timex.Time(t)
	for _, o := range l.Offsets {
		tm = o.Dur.Shift(tm, o.Sign)
	}
	t, fit = timex.FromTime(tm)
	return t, fit, nil
}

// ParseTime parses s with the first of TimeLayouts that fits. A time int64
// nanoseconds cannot hold is an error.
func ParseTime(s string) (int64, error) {
	for _, layout := range TimeLayouts {
		if tm, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			t, ok := timex.FromTime(tm)
			if !ok {
				return 0, fmt.Errorf("time %q is %s", s, timex.RangeText)
			}
			return t, nil
		}
	}
	return 0, fmt.Errorf("cannot parse %q as a time (want RFC 3339, e.g. 2025-01-01T00:00:00Z)", s)
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
