package model

import (
	"math"
	"time"
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
// returns t. Buckets before or after the int64 range clamp to its ends.
func (l Level) Floor(t int64) int64 {
	switch l {
	case Level1h:
		return floorTo(t, hourNanos)
	case Level1d:
		return floorTo(t, dayNanos)
	case Level1M:
		return MonthStart(MonthIndex(t))
	case Level1y:
		m := MonthIndex(t)
		return MonthStart(m - mod(m, 12))
	}
	return t
}

// Next returns the start of the bucket after the one starting at start, or
// math.MaxInt64 when it lies beyond the int64 range. For LevelRaw it returns
// start+1.
func (l Level) Next(start int64) int64 {
	switch l {
	case Level1h:
		return addClamp(start, hourNanos)
	case Level1d:
		return addClamp(start, dayNanos)
	case Level1M:
		return MonthStart(MonthIndex(start) + 1)
	case Level1y:
		return MonthStart(MonthIndex(start) + 12)
	}
	return addClamp(start, 1)
}

// Finer returns the next finer level (LevelRaw for Level1h and LevelRaw).
func (l Level) Finer() Level {
	if l == LevelRaw {
		return LevelRaw
	}
	return l - 1
}

func floorTo(t, w int64) int64 {
	q := t / w
	if t%w != 0 && t < 0 {
		q--
	}
	if q < math.MinInt64/w {
		return math.MinInt64
	}
	return q * w
}

func mod(a, b int64) int64 {
	r := a % b
	if r < 0 {
		r += b
	}
	return r
}

func addClamp(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// MonthIndex returns year*12 + month-1 of t in UTC.
func MonthIndex(t int64) int64 {
	tm := time.Unix(0, t).UTC()
	return int64(tm.Year())*12 + int64(tm.Month()) - 1
}

var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// MonthStart returns the first instant of month index m, clamped to the
// range of int64 nanoseconds.
func MonthStart(m int64) int64 {
	y := m / 12
	if m%12 != 0 && m < 0 {
		y--
	}
	mo := m - y*12
	tm := time.Date(int(y), time.Month(mo+1), 1, 0, 0, 0, 0, time.UTC)
	switch {
	case tm.Before(minTime):
		return math.MinInt64
	case tm.After(maxTime):
		return math.MaxInt64
	}
	return tm.UnixNano()
}
