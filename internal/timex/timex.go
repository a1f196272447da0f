// Package timex owns time arithmetic on Soltix timestamps: int64 nanoseconds
// since the Unix epoch, UTC. Every layer that adds a duration or a calendar
// step to a time, floors a time to an interval, counts the buckets of a range
// or converts an epoch in another unit to nanoseconds does it here, so the
// int64 range is checked in one place.
//
// The representable times run from Min (1677-09-21T00:12:43.145224192Z) to
// Max (2262-04-11T23:47:16.854775807Z). Operations whose true result lies
// outside that range never wrap: they return the result saturated to Min or
// Max together with ok == false. A caller comparing against a bound may use
// the saturated value (with the direction it tells); a caller that needs a
// real time refuses it.
//
// Buckets are aligned to an origin: the starts of width-w buckets are
// origin + k*w for every integer k. A bucket whose true start lies before
// Min starts, as far as int64 can say, at Min.
//
// Everything here is a pure function, safe for concurrent use.
package timex

import (
	"math"
	"math/bits"
	"time"
)

// Min and Max are the earliest and latest representable times.
const (
	Min int64 = math.MinInt64
	Max int64 = math.MaxInt64
)

var (
	minTime = time.Unix(0, Min).UTC()
	maxTime = time.Unix(0, Max).UTC()
)

// RangeText ends the error of a time outside the int64 range:
// "time X is " + RangeText.
var RangeText = "outside the range of nanosecond timestamps (" + Format(Min) + " to " + Format(Max) + ")"

// MinTime returns Min as a time.Time in UTC.
func MinTime() time.Time { return minTime }

// MaxTime returns Max as a time.Time in UTC.
func MaxTime() time.Time { return maxTime }

// Add returns t+d saturated to [Min, Max] and whether it fit.
func Add(t, d int64) (int64, bool) {
	s := t + d
	switch {
	case d > 0 && s < t:
		return Max, false
	case d < 0 && s > t:
		return Min, false
	}
	return s, true
}

// AddSat returns t+d saturated to [Min, Max].
func AddSat(t, d int64) int64 {
	s, _ := Add(t, d)
	return s
}

// Sub returns t-d saturated to [Min, Max] and whether it fit.
func Sub(t, d int64) (int64, bool) {
	if d == math.MinInt64 {
		if t >= 0 {
			return Max, false
		}
		return t - d, true
	}
	return Add(t, -d)
}

// Mul returns n*unit saturated to [Min, Max] and whether it fit. It scales
// a count of some unit (an epoch in seconds, a number of days) to
// nanoseconds.
func Mul(n, unit int64) (int64, bool) {
	if n == 0 || unit == 0 {
		return 0, true
	}
	neg := (n < 0) != (unit < 0)
	hi, lo := bits.Mul64(abs(n), abs(unit))
	switch {
	case hi != 0, !neg && lo > math.MaxInt64, neg && lo > 1<<63:
		if neg {
			return Min, false
		}
		return Max, false
	}
	if neg {
		return int64(-lo), true // -(1<<63) wraps to itself, which is right
	}
	return int64(lo), true
}

func abs(x int64) uint64 {
	if x < 0 {
		return uint64(-x) // MinInt64 gives 1<<63, as wanted
	}
	return uint64(x)
}

// FloorDiv returns a/b rounded towards negative infinity. b must be positive.
func FloorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// Mod returns a modulo b in [0, b). b must be positive.
func Mod(a, b int64) int64 {
	r := a % b
	if r < 0 {
		r += b
	}
	return r
}

// shift maps int64 order onto uint64 order: Min becomes 0, Max 1<<64-1.
func shift(t int64) uint64 { return uint64(t) ^ 1<<63 }

func unshift(u uint64) int64 { return int64(u ^ 1<<63) }

// phase returns where, measured from Min, the first bucket start at or after
// Min lies: a value in [0, w).
func phase(w, origin int64) uint64 { return shift(origin) % uint64(w) }

// Floor returns the start of the width-w bucket (aligned to origin) holding
// t, and false when that start lies before Min (Min is returned then). w must
// be positive.
func Floor(t, w, origin int64) (int64, bool) {
	u, r := shift(t), phase(w, origin)
	if u < r {
		return Min, false
	}
	return unshift(u - (u-r)%uint64(w)), true
}

// Ceil returns the first start of a width-w bucket (aligned to origin) at or
// after t, and false when it lies after Max (Max is returned then).
func Ceil(t, w, origin int64) (int64, bool) {
	u, r := shift(t), phase(w, origin)
	if u < r {
		return unshift(r), true
	}
	rem := (u - r) % uint64(w)
	if rem == 0 {
		return t, true
	}
	base := u - rem
	if base > math.MaxUint64-uint64(w) {
		return Max, false
	}
	return unshift(base + uint64(w)), true
}

// Span returns the bucket of width w (aligned to origin) holding t as an
// inclusive range, clipped to [Min, Max].
func Span(t, w, origin int64) (lo, hi int64) {
	lo, _ = Floor(t, w, origin)
	if t == Max {
		return lo, Max
	}
	next, ok := Ceil(t+1, w, origin)
	if !ok {
		return lo, Max
	}
	return lo, next - 1
}

// Buckets returns how many width-w buckets (aligned to origin) there are
// from the one holding lo to the one holding hi, inclusive, saturated at
// math.MaxUint64 (a width of 1ns over the whole range has 1<<64). It returns
// 0 when hi < lo.
func Buckets(lo, hi, w, origin int64) uint64 {
	if hi < lo {
		return 0
	}
	ul, uh, r, uw := shift(lo), shift(hi), phase(w, origin), uint64(w)
	// Index buckets so that the partial one before the first start at or
	// after Min is bucket 0.
	idx := func(u uint64) (uint64, uint64) { // (index, carry)
		if u < r {
			return 0, 0
		}
		if r == 0 {
			return u / uw, 0
		}
		return bits.Add64((u-r)/uw, 1, 0)
	}
	il, _ := idx(ul)
	ih, carry := idx(uh)
	// ih - il + 1, with ih possibly 1<<64 (carry set).
	n, borrow := bits.Sub64(ih, il, 0)
	carry -= borrow
	n, c := bits.Add64(n, 1, 0)
	if carry+c != 0 {
		return math.MaxUint64
	}
	return n
}

// Dist returns b-a for a <= b. It never overflows: the widest distance,
// Max-Min, is math.MaxUint64.
func Dist(a, b int64) uint64 { return uint64(b) - uint64(a) }

// SatMul returns a*b, saturated at math.MaxUint64: for guards that multiply
// a bucket count by a number of groups.
func SatMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

// FromTime returns tm as nanoseconds, saturated to [Min, Max], and whether
// it fit.
func FromTime(tm time.Time) (int64, bool) {
	switch {
	case tm.Before(minTime):
		return Min, false
	case tm.After(maxTime):
		return Max, false
	}
	return tm.UnixNano(), true
}

// Time returns t as a time.Time in UTC.
func Time(t int64) time.Time { return time.Unix(0, t).UTC() }

// FloorTime is Floor as a time.Time, which, unlike an int64, can hold the
// true start of a bucket that begins before Min.
func FloorTime(t, w, origin int64) time.Time {
	if lo, ok := Floor(t, w, origin); ok {
		return Time(lo)
	}
	rem := (shift(t) + uint64(w) - phase(w, origin)) % uint64(w)
	return Time(t).Add(-time.Duration(rem))
}

// MonthIndex returns year*12 + month-1 of t in UTC.
func MonthIndex(t int64) int64 {
	tm := Time(t)
	return int64(tm.Year())*12 + int64(tm.Month()) - 1
}

// MonthTime returns the first instant of month index m as a time.Time.
func MonthTime(m int64) time.Time {
	y := FloorDiv(m, 12)
	return time.Date(int(y), time.Month(m-y*12+1), 1, 0, 0, 0, 0, time.UTC)
}

// MonthStart returns the first instant of month index m saturated to
// [Min, Max], and whether it fit.
func MonthStart(m int64) (int64, bool) { return FromTime(MonthTime(m)) }

// FloorMonths returns the month index starting the n-month bucket holding t;
// buckets are aligned to year 0, so 12-month buckets are calendar years. n
// must be positive.
func FloorMonths(t, n int64) int64 {
	m := MonthIndex(t)
	return m - Mod(m, n)
}

// MonthSpan returns the n-month bucket holding t as an inclusive range,
// clipped to [Min, Max].
func MonthSpan(t, n int64) (lo, hi int64) {
	m := FloorMonths(t, n)
	lo, _ = MonthStart(m)
	next, ok := MonthStart(m + n)
	if !ok {
		return lo, Max
	}
	return lo, next - 1
}

// MonthBuckets returns how many n-month buckets there are from the one
// holding lo to the one holding hi, inclusive (0 when hi < lo). It cannot
// overflow: the int64 range spans fewer than 7,000 months.
func MonthBuckets(lo, hi, n int64) uint64 {
	if hi < lo {
		return 0
	}
	return uint64((FloorMonths(hi, n)-FloorMonths(lo, n))/n) + 1
}

// AddMonths returns t moved by n calendar months in UTC (time.AddDate
// semantics: 31 January plus one month is 3 March in a common year),
// saturated to [Min, Max], and whether it fit.
func AddMonths(t, n int64) (int64, bool) {
	const limit = 1 << 40 // far beyond the range; keeps int conversions exact
	switch {
	case n > limit:
		return Max, false
	case n < -limit:
		return Min, false
	}
	return FromTime(Time(t).AddDate(0, int(n), 0))
}

// FromUnit converts n units of unit nanoseconds (an epoch in seconds with
// unit 1e9) to nanoseconds, and reports whether the result is a
// representable time.
func FromUnit(n, unit int64) (int64, bool) { return Mul(n, unit) }

// ToUnit converts t to whole units of unit nanoseconds, rounding towards
// negative infinity (an instant belongs to the second it falls in).
func ToUnit(t, unit int64) int64 { return FloorDiv(t, unit) }

// Format formats t as RFC 3339 with nanoseconds, in UTC.
func Format(t int64) string { return Time(t).Format(time.RFC3339Nano) }
