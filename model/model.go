// Package model holds the data types every layer of Soltix shares: a point as
// it arrives (collection, tags, fields, time), a typed field value, and a
// column of one field's values for one series as storage hands it to the
// planner. It imports nothing of the project but internal/timex (time
// arithmetic) and does no I/O.
package model

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/soltixdb/soltix/internal/sketch"
)

// Kind is the type of a field value. The zero Kind is KindNull, which only
// appears in query results (an empty bucket, a missing field).
type Kind uint8

// The field kinds. Their numeric values are part of the WAL and colfile
// formats and must never change.
const (
	KindNull   Kind = 0
	KindFloat  Kind = 1
	KindInt    Kind = 2
	KindUint   Kind = 3
	KindBool   Kind = 4
	KindString Kind = 5
)

// String returns the name users see for the kind ("float", "integer", ...).
func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindFloat:
		return "float"
	case KindInt:
		return "integer"
	case KindUint:
		return "unsigned"
	case KindBool:
		return "boolean"
	case KindString:
		return "string"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Numeric reports whether aggregates such as sum and avg apply to the kind.
func (k Kind) Numeric() bool { return k == KindFloat || k == KindInt || k == KindUint }

// Value is one typed field value. The zero Value is null.
type Value struct {
	Kind Kind
	bits uint64 // float64 bits, int64, uint64 or 0/1 for bool
	s    string
}

// Float returns a float value.
func Float(f float64) Value { return Value{Kind: KindFloat, bits: math.Float64bits(f)} }

// Int returns a signed integer value.
func Int(i int64) Value { return Value{Kind: KindInt, bits: uint64(i)} }

// Uint returns an unsigned integer value.
func Uint(u uint64) Value { return Value{Kind: KindUint, bits: u} }

// Bool returns a boolean value.
func Bool(b bool) Value {
	v := Value{Kind: KindBool}
	if b {
		v.bits = 1
	}
	return v
}

// String returns a string value.
func String(s string) Value { return Value{Kind: KindString, s: s} }

// Null is the null value.
var Null = Value{}

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.Kind == KindNull }

// Float returns the value of a float. It is only meaningful for KindFloat.
func (v Value) Float() float64 { return math.Float64frombits(v.bits) }

// Int returns the value of a signed integer. It is only meaningful for KindInt.
func (v Value) Int() int64 { return int64(v.bits) }

// Uint returns the value of an unsigned integer. It is only meaningful for KindUint.
func (v Value) Uint() uint64 { return v.bits }

// Bool returns the value of a boolean. It is only meaningful for KindBool.
func (v Value) Bool() bool { return v.bits != 0 }

// Str returns the value of a string. It is only meaningful for KindString.
func (v Value) Str() string { return v.s }

// AsFloat converts a numeric value to float64; ok is false for other kinds.
func (v Value) AsFloat() (f float64, ok bool) {
	switch v.Kind {
	case KindFloat:
		return v.Float(), true
	case KindInt:
		return float64(v.Int()), true
	case KindUint:
		return float64(v.Uint()), true
	}
	return 0, false
}

// Equal reports whether two values have the same kind and the same bits.
// Floats compare bit for bit, so NaN equals NaN and 0 differs from -0.
func (v Value) Equal(w Value) bool { return v.Kind == w.Kind && v.bits == w.bits && v.s == w.s }

// Interface returns the value as a Go value for encoding: nil, float64,
// int64, uint64, bool or string.
func (v Value) Interface() any {
	switch v.Kind {
	case KindFloat:
		return v.Float()
	case KindInt:
		return v.Int()
	case KindUint:
		return v.Uint()
	case KindBool:
		return v.Bool()
	case KindString:
		return v.s
	}
	return nil
}

// String formats the value for humans and tests.
func (v Value) String() string {
	switch v.Kind {
	case KindFloat:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case KindInt:
		return strconv.FormatInt(v.Int(), 10)
	case KindUint:
		return strconv.FormatUint(v.Uint(), 10)
	case KindBool:
		return strconv.FormatBool(v.Bool())
	case KindString:
		return strconv.Quote(v.s)
	}
	return "null"
}

// Tag is one key/value pair of a series' identity.
type Tag struct {
	Key   string
	Value string
}

// Tags is a tag set sorted by key with unique keys. Code that builds a Tags
// value must call Sort (or build it in order) before handing it on.
type Tags []Tag

// Sort sorts the tags by key.
func (ts Tags) Sort() { sort.Slice(ts, func(i, j int) bool { return ts[i].Key < ts[j].Key }) }

// Get returns the value of key, or "" when the tag is absent. Large sets
// are searched by bisection, so that reading every tag of a series (as
// SELECT * does for each row) costs n log n, not n².
func (ts Tags) Get(key string) string {
	if len(ts) > 16 {
		i := sort.Search(len(ts), func(i int) bool { return ts[i].Key >= key })
		if i < len(ts) && ts[i].Key == key {
			return ts[i].Value
		}
		return ""
	}
	for _, t := range ts {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// Has reports whether the tag set holds key.
func (ts Tags) Has(key string) bool {
	for _, t := range ts {
		if t.Key == key {
			return true
		}
	}
	return false
}

// Equal reports whether two sorted tag sets are identical.
func (ts Tags) Equal(o Tags) bool {
	if len(ts) != len(o) {
		return false
	}
	for i := range ts {
		if ts[i] != o[i] {
			return false
		}
	}
	return true
}

// Field is one named value of a point.
type Field struct {
	Key   string
	Value Value
}

// Point is one row as it arrives: a collection, its sorted tags, one or more
// fields and a timestamp in nanoseconds since the Unix epoch (UTC).
type Point struct {
	Collection string
	Tags       Tags
	Fields     []Field
	Time       int64
}

// SeriesKey returns the canonical identity of a series: the collection and
// its sorted tags, escaped so that distinct series never share a key.
func SeriesKey(collection string, tags Tags) string {
	var b strings.Builder
	n := len(collection)
	for _, t := range tags {
		n += len(t.Key) + len(t.Value) + 2
	}
	b.Grow(n + 8)
	writeEscaped(&b, collection)
	for _, t := range tags {
		b.WriteByte(',')
		writeEscaped(&b, t.Key)
		b.WriteByte('=')
		writeEscaped(&b, t.Value)
	}
	return b.String()
}

// AppendSeriesKey appends SeriesKey(collection, tags) to dst. Looking a
// series up by string(AppendSeriesKey(buf[:0], ...)) in a map allocates
// nothing.
func AppendSeriesKey(dst []byte, collection string, tags Tags) []byte {
	dst = appendEscaped(dst, collection)
	for _, t := range tags {
		dst = append(dst, ',')
		dst = appendEscaped(dst, t.Key)
		dst = append(dst, '=')
		dst = appendEscaped(dst, t.Value)
	}
	return dst
}

// escapeIndex returns the index of the first byte of s that a series key
// escapes, or -1.
func escapeIndex(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ',' || c == '=' || c == '\\' {
			return i
		}
	}
	return -1
}

func appendEscaped(dst []byte, s string) []byte {
	for {
		i := escapeIndex(s)
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		dst = append(dst, '\\', s[i])
		s = s[i+1:]
	}
}

func writeEscaped(b *strings.Builder, s string) {
	for {
		i := escapeIndex(s)
		if i < 0 {
			b.WriteString(s)
			return
		}
		b.WriteString(s[:i])
		b.WriteByte('\\')
		b.WriteByte(s[i])
		s = s[i+1:]
	}
}

// Column holds the values of one field of one series, sorted by time with no
// repeated timestamp. Exactly one of the value slices, the one matching Kind,
// has the same length as Times.
type Column struct {
	Name    string
	Kind    Kind
	Times   []int64
	Floats  []float64
	Ints    []int64
	Uints   []uint64
	Bools   []bool
	Strings []string
}

// Len returns the number of values in the column.
func (c *Column) Len() int { return len(c.Times) }

// NewColumn returns an empty column of a kind with room for n values.
func NewColumn(name string, kind Kind, n int) Column {
	c := Column{Name: name, Kind: kind, Times: make([]int64, 0, n)}
	switch kind {
	case KindFloat:
		c.Floats = make([]float64, 0, n)
	case KindInt:
		c.Ints = make([]int64, 0, n)
	case KindUint:
		c.Uints = make([]uint64, 0, n)
	case KindBool:
		c.Bools = make([]bool, 0, n)
	case KindString:
		c.Strings = make([]string, 0, n)
	}
	return c
}

// Value returns the i-th value as a Value.
func (c *Column) Value(i int) Value {
	switch c.Kind {
	case KindFloat:
		return Float(c.Floats[i])
	case KindInt:
		return Int(c.Ints[i])
	case KindUint:
		return Uint(c.Uints[i])
	case KindBool:
		return Bool(c.Bools[i])
	case KindString:
		return String(c.Strings[i])
	}
	return Null
}

// Append adds a value at time t to the end of the column. The value's kind
// must match the column's; Append panics otherwise, since that is a bug in
// the caller and not bad input.
func (c *Column) Append(t int64, v Value) {
	if v.Kind != c.Kind {
		panic(fmt.Sprintf("model: append %s value to %s column %q", v.Kind, c.Kind, c.Name))
	}
	c.Times = append(c.Times, t)
	switch c.Kind {
	case KindFloat:
		c.Floats = append(c.Floats, v.Float())
	case KindInt:
		c.Ints = append(c.Ints, v.Int())
	case KindUint:
		c.Uints = append(c.Uints, v.Uint())
	case KindBool:
		c.Bools = append(c.Bools, v.Bool())
	case KindString:
		c.Strings = append(c.Strings, v.Str())
	}
}

// Slice returns the part of the column with times in [lo, hi). The result
// shares memory with c.
func (c *Column) Slice(lo, hi int) Column {
	out := Column{Name: c.Name, Kind: c.Kind, Times: c.Times[lo:hi]}
	switch c.Kind {
	case KindFloat:
		out.Floats = c.Floats[lo:hi]
	case KindInt:
		out.Ints = c.Ints[lo:hi]
	case KindUint:
		out.Uints = c.Uints[lo:hi]
	case KindBool:
		out.Bools = c.Bools[lo:hi]
	case KindString:
		out.Strings = c.Strings[lo:hi]
	}
	return out
}

// Range returns the part of the column whose times lie in [min, max]
// (inclusive). The result shares memory with c.
func (c *Column) Range(min, max int64) Column {
	lo := sort.Search(len(c.Times), func(i int) bool { return c.Times[i] >= min })
	hi := sort.Search(len(c.Times), func(i int) bool { return c.Times[i] > max })
	if hi < lo {
		hi = lo
	}
	return c.Slice(lo, hi)
}

// ReadPlan describes what a read of some series over a time range touches;
// storage reports it and EXPLAIN shows it.
type ReadPlan struct {
	Groups       []int // groups touched, sorted
	Files        int   // colstore files whose time range overlaps
	MemoryPoints int   // values in memory for these series (all fields)
	// Rows is, for a rollup level, the rollup rows of these series in the
	// range (all fields); Dirty counts the buckets of the range that are
	// not rolled up yet and will be read from finer levels.
	Rows, Dirty int
	// Nodes are the storage nodes a cluster router reads these series
	// from (empty for a single node).
	Nodes []string
	// ColdFiles counts the Files that live in the cold tier (object
	// storage): blocks read from them are fetched unless cached.
	ColdFiles int
}

// ErrNotFound is returned (wrapped) when a collection does not exist.
var ErrNotFound = errors.New("not found")

// Summary is the aggregate state of every value of one field of one series
// with times in [MinTime, MaxTime], after last-write-wins and deletes: what
// the planner needs for count, sum, avg, min, max, spread, first and last
// without the values themselves.
type Summary struct {
	Count            int
	MinTime, MaxTime int64
	First, Last      Value   // the values at MinTime and MaxTime
	Min, Max         Value   // Null for booleans and strings; for floats NaN is skipped and -0 ranks below +0
	SumFloat         float64 // for floats
	SumInt           int64   // for integers, wrapping on overflow
	SumUint          uint64  // for unsigned integers, wrapping
	// M2 is the sum of squared deviations of the values (as float64) from
	// their mean, for numeric kinds: what the sample standard deviation
	// needs. It is meaningful only when HasM2 is set (rollup rows carry
	// it; colstore block statistics do not).
	M2    float64
	HasM2 bool
	// Sketch, when not nil, is the quantile sketch of the values (numeric
	// kinds, every value finite): rollup rows carry it so percentile can
	// be answered within sketch.Alpha. A Summary owns its Sketch.
	Sketch *sketch.Sketch
}

// Part is one piece of a field's values, in time order: decoded values, or
// a Summary standing for values that were never decoded.
type Part struct {
	Values  Column // when Summary is nil
	Summary *Summary
	// Level is where a Summary came from: LevelRaw for colstore block
	// statistics, a rollup level for a rollup row.
	Level Level
	// Reduced marks a Summary (at LevelRaw) that a storage node built, for
	// a query that asked for it (planner.Reduce), from what it read: Points
	// values and the statistics of Blocks colstore blocks (block summaries
	// it merged). A query counts it as those points and blocks.
	Reduced        bool
	Points, Blocks int
}
