package planner

import (
	"math"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

type bucketKind uint8

const (
	bucketNone     bucketKind = iota // no GROUP BY interval: one bucket
	bucketFixed                      // ns … d, w: fixed length, aligned to an origin
	bucketCalendar                   // M, y: UTC calendar months
)

// bucketer maps times to the GROUP BY interval bucket holding them.
type bucketer struct {
	kind   bucketKind
	width  int64 // bucketFixed: length in ns
	origin int64 // bucketFixed: a bucket start
	months int64 // bucketCalendar: length in months
}

// mondayOrigin is 1970-01-05T00:00:00Z, the first Monday after the epoch;
// week buckets are aligned to it.
const mondayOrigin = 4 * 24 * int64(time.Hour)

func newBucketer(d query.Duration) (bucketer, error) {
	if d.N <= 0 {
		return bucketer{}, errorf(query.Pos{}, "GROUP BY interval must be positive")
	}
	if d.Calendar() {
		return bucketer{kind: bucketCalendar, months: d.Months()}, nil
	}
	w := d.Nanos()
	if w <= 0 || w/d.N == 0 {
		return bucketer{}, errorf(query.Pos{}, "GROUP BY interval is out of range")
	}
	b := bucketer{kind: bucketFixed, width: w}
	if d.Unit == query.Week {
		b.origin = mondayOrigin
	}
	return b, nil
}

// floorDiv divides rounding towards negative infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// span returns the bucket holding t as an inclusive range [lo, hi].
func (b *bucketer) span(t int64) (lo, hi int64) {
	switch b.kind {
	case bucketFixed:
		// Shift into [0, width) relative to the origin without overflowing.
		off := b.origin % b.width
		k := floorDiv(t, b.width)
		lo = k*b.width + off
		if lo > t {
			lo -= b.width
		}
		return lo, addClamp(lo, b.width) - 1
	case bucketCalendar:
		m := model.MonthIndex(t)
		start := floorDiv(m, b.months) * b.months
		lo = model.MonthStart(start)
		next := model.MonthStart(start + b.months)
		if next == math.MaxInt64 {
			return lo, math.MaxInt64
		}
		return lo, next - 1
	}
	return math.MinInt64, math.MaxInt64
}

// next returns the start of the bucket after the one starting at lo, and
// false when there is none.
func (b *bucketer) next(lo int64) (int64, bool) {
	_, hi := b.span(lo)
	if hi == math.MaxInt64 {
		return 0, false
	}
	return hi + 1, true
}

// count returns the number of buckets from the one holding lo to the one
// holding hi, inclusive.
func (b *bucketer) count(lo, hi int64) uint64 {
	switch b.kind {
	case bucketFixed:
		l, _ := b.span(lo)
		h, _ := b.span(hi)
		return (uint64(h)-uint64(l))/uint64(b.width) + 1
	case bucketCalendar:
		l := floorDiv(model.MonthIndex(lo), b.months)
		h := floorDiv(model.MonthIndex(hi), b.months)
		return uint64(h-l) + 1
	}
	return 1
}

func addClamp(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
