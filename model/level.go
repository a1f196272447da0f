package model

import (
	"math"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
)

// Level is a rollup level: raw data, or one of the pre-computed levels whose
// buckets are UTC calendar hours, days, months and years.
type Level uint8

const (
	LevelRaw Level = iota
	Level1h
	Level1d
	Level1M
	Level1y
)

// Levels lists the rollup levels from the finest to the coarsest.
var Levels = []Level{Level1h, Level1d, Level1M, Level1y}

var levelNames = [...]string{"raw", "1h", "1d", "1M", "1y"}

// String returns the level's name: raw, 1h, 1d, 1M or 1y.
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "level?"
}

// ParseLevel parses a level's name as String writes it.
func ParseLevel(s string) (Level, bool) {
	for i, n := range levelNames {
		if n == s {
			return Level(i), true
		}
	}
	return 0, false
}

const (
	hourNanos = int64(time.Hour)
	dayNanos  = 24 * hourNanos
)

// Floor returns the start of the level's bucket holding t. For LevelRaw it
// returns t. A bucket that starts before the int64 range starts, here, at
// math.MinInt64 (FloorTime gives its true start).
func (l Level) Floor(t int64) int64 {
	switch l {
	case Level1h:
		f, _ := timex.Floor(t, hourNanos, 0)
		return f
	case Level1d:
		f, _ := timex.Floor(t, dayNanos, 0)
		return f
	case Level1M, Level1y:
		f, _ := timex.MonthStart(timex.FloorMonths(t, l.months()))
		return f
	}
	return t
}

// FloorTime returns the true start of the level's bucket holding t, which
// may lie before the int64 range (a 1677 point's day starts at
// 1677-09-21T00:00:00Z). For LevelRaw it returns t.
func (l Level) FloorTime(t int64) time.Time {
	switch l {
	case Level1h:
		return timex.FloorTime(t, hourNanos, 0)
	case Level1d:
		return timex.FloorTime(t, dayNanos, 0)
	case Level1M, Level1y:
		return timex.MonthTime(timex.FloorMonths(t, l.months()))
	}
	return timex.Time(t)
}

// Next returns the start of the bucket after the one starting at start, or
// math.MaxInt64 when it lies beyond the int64 range. The bucket holding
// math.MinInt64 starts there, so its successor is the first aligned start
// after it. For LevelRaw it returns start+1 (math.MaxInt64 for
// math.MaxInt64).
func (l Level) Next(start int64) int64 {
	var n int64
	switch l {
	case Level1h, Level1d:
		w := hourNanos
		if l == Level1d {
			w = dayNanos
		}
		if start == math.MinInt64 {
			n, _ = timex.Ceil(start+1, w, 0)
		} else {
			n = timex.AddSat(start, w)
		}
	case Level1M, Level1y:
		n, _ = timex.MonthStart(timex.FloorMonths(start, l.months()) + l.months())
	default:
		n = timex.AddSat(start, 1)
	}
	return n
}

// Ceil returns the first start of a bucket of the level at or after t, and
// false when none lies in the int64 range. The bucket holding
// math.MinInt64 counts as starting there. For LevelRaw it returns t.
func (l Level) Ceil(t int64) (int64, bool) {
	if l == LevelRaw || l.Floor(t) == t {
		return t, true
	}
	switch l {
	case Level1h:
		return timex.Ceil(t, hourNanos, 0)
	case Level1d:
		return timex.Ceil(t, dayNanos, 0)
	}
	return timex.MonthStart(timex.FloorMonths(t, l.months()) + l.months())
}

// End returns the last instant of the level's bucket starting at t:
// math.MaxInt64 for the last bucket of the range.
func (l Level) End(t int64) int64 {
	if n := l.Next(t); n != math.MaxInt64 {
		return n - 1
	}
	return math.MaxInt64
}

// Finer returns the next finer level (LevelRaw for Level1h and LevelRaw).
func (l Level) Finer() Level {
	if l == LevelRaw {
		return LevelRaw
	}
	return l - 1
}

func (l Level) months() int64 {
	if l == Level1y {
		return 12
	}
	return 1
}

// MonthIndex returns year*12 + month-1 of t in UTC.
func MonthIndex(t int64) int64 { return timex.MonthIndex(t) }

// MonthStart returns the first instant of month index m, clamped to the
// range of int64 nanoseconds.
func MonthStart(m int64) int64 {
	s, _ := timex.MonthStart(m)
	return s
}
