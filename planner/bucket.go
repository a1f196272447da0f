package planner

import (
	"math"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/query"
)

type bucketKind uint8

const (
	bucketNone     bucketKind = iota // no GROUP BY interval: one bucket
	bucketFixed                      // ns … d, w: fixed length, aligned to an origin
	bucketCalendar                   // M, y: UTC calendar months
	// bucketZoned (zone.go): d, w, M, y on a zone's clock
)

// bucketer maps times to the GROUP BY interval bucket holding them.
type bucketer struct {
	kind   bucketKind
	width  int64     // bucketFixed: length in ns
	origin int64     // bucketFixed: a bucket start; bucketCalendar: the month index modulo months buckets start at
	months int64     // bucketCalendar: length in months
	z      *zoneSpec // bucketZoned
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

// span returns the bucket holding t as an inclusive range [lo, hi], clipped
// to the int64 range: the bucket holding math.MinInt64 starts there even
// when its true start lies before it.
func (b *bucketer) span(t int64) (lo, hi int64) {
	switch b.kind {
	case bucketFixed:
		return timex.Span(t, b.width, b.origin)
	case bucketCalendar:
		if b.origin != 0 {
			return calSpan(t, b.months, b.origin)
		}
		return timex.MonthSpan(t, b.months)
	case bucketZoned:
		return b.z.span(t)
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
// holding hi, inclusive, saturated at math.MaxUint64 (GROUP BY 1ns over the
// whole int64 range has 1<<64).
func (b *bucketer) count(lo, hi int64) uint64 {
	switch b.kind {
	case bucketFixed:
		return timex.Buckets(lo, hi, b.width, b.origin)
	case bucketCalendar:
		if b.origin != 0 {
			return calCount(lo, hi, b.months, b.origin)
		}
		return timex.MonthBuckets(lo, hi, b.months)
	case bucketZoned:
		return b.z.count(lo, hi)
	}
	return 1
}
