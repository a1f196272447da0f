package planner

// Segments: which rollup level reads which part of the query's range.
//
// A query's range [lo, hi] is split into segments, each read at one level
// (DESIGN §5). The top level is the coarsest level whose buckets fit the
// GROUP BY interval: every bucket of the level lies inside one GROUP BY
// bucket, so that a rollup row can stand for its values. Without an
// interval every level fits. A fixed interval of width W fits 1h when W is
// a multiple of an hour and its buckets start on hours (the epoch, or for
// weeks the Monday origin, is hour and day aligned), 1d likewise with days;
// months and years never fit a fixed width. A calendar interval of n months
// fits 1h, 1d and 1M, and 1y when n is a multiple of 12.
//
// The top level reads the aligned inner part of the range,
// [ceil(lo), floor(hi+1)) in its buckets; the unaligned edges are split the
// same way at the next finer level, down to raw data. An unbounded end is
// aligned at every level. So 2025-01-01T12:30 … 2026-01-01 without an
// interval reads [12:30, 13:00) raw, the rest of January 1 from 1h rows,
// the rest of January from 1d rows and February to December from 1M rows.
//
// There is one raw segment when the collection keeps no rollups, the
// source cannot give summaries, the query asks for raw data (RawOnly), or
// no aggregated column can be answered from summaries.
//
// Segments only choose where storage starts: storage answers a rollup
// bucket that is dirty, or whose data whole() rejects, from finer levels,
// so the answer never depends on the split, only the work does.

import (
	"math"
	"time"

	"github.com/soltixdb/soltix/model"
)

// segment is a part [lo, hi] (inclusive) of the query's range read at one
// level.
type segment struct {
	lo, hi int64
	level  model.Level
	why    string // for a query with an offset or a zone: why this level (EXPLAIN)
}

const dayNanos = 24 * int64(time.Hour)

// fits reports whether every bucket of level l lies inside one bucket of
// the GROUP BY interval.
func (b *bucketer) fits(l model.Level) bool {
	switch b.kind {
	case bucketNone:
		return true
	case bucketFixed:
		switch l {
		case model.LevelRaw:
			return true
		case model.Level1h:
			h := int64(time.Hour)
			return b.width%h == 0 && b.origin%h == 0
		case model.Level1d:
			return b.width%dayNanos == 0 && b.origin%dayNanos == 0
		}
		return false
	case bucketCalendar:
		if l == model.Level1y {
			return b.months%12 == 0 && b.origin%12 == 0
		}
		return true
	case bucketZoned:
		return l <= model.Level1d // per period of the zone's offset: zone.go
	}
	return l == model.LevelRaw
}

// topLevel returns the coarsest level that fits the GROUP BY interval.
func (b *bucketer) topLevel() model.Level {
	for i := len(model.Levels) - 1; i >= 0; i-- {
		if l := model.Levels[i]; b.fits(l) {
			return l
		}
	}
	return model.LevelRaw
}

// planSegments splits the inclusive range [lo, hi] (math.MinInt64 and
// math.MaxInt64 standing for unbounded ends) into segments in time order:
// the aligned inner part at level top, the edges at finer levels.
func planSegments(lo, hi int64, top model.Level) []segment {
	var segs []segment
	var split func(lo, hi int64, l model.Level)
	split = func(lo, hi int64, l model.Level) {
		if lo > hi {
			return
		}
		if l == model.LevelRaw {
			segs = append(segs, segment{lo: lo, hi: hi, level: l})
			return
		}
		a, ok := lo, true // the first bucket start at or after lo
		if lo != math.MinInt64 {
			a, ok = l.Ceil(lo)
		}
		b := hi // the last instant before the last bucket start after hi
		if ok && hi != math.MaxInt64 {
			f := l.Floor(hi + 1)
			if f == math.MinInt64 {
				ok = false // no bucket starts in range
			}
			b = f - 1
		}
		if !ok || a > b {
			split(lo, hi, l.Finer())
			return
		}
		if a > lo {
			split(lo, a-1, l.Finer())
		}
		segs = append(segs, segment{lo: a, hi: b, level: l})
		if b < hi {
			split(b+1, hi, l.Finer())
		}
	}
	split(lo, hi, top)
	return segs
}
