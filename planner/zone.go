package planner

// GROUP BY time(interval, offset) and TZ('Area/City').
//
// An offset moves every bucket boundary: for a fixed interval (ns … h, and
// d and w in UTC) it is reduced modulo the interval and added to the
// origin, so time(1h, 15m) starts buckets at :15 and time(1h, -15m) at :45.
// A calendar offset (M, y) of a calendar interval shifts the months buckets
// start at: time(1y, 3M) gives years from April 1.
//
// TZ applies to intervals in d, w, M and y: a bucket runs from the zone's
// local midnight of its first day (a Monday for w; the first of a month for
// M and y) to that of the next bucket, so a day is 23 or 25 hours across a
// DST change. Such buckets (and those of a calendar interval with a fixed
// offset, which is added on the zone's clock: time(1M, 6h) starts months at
// 06:00 on the first) are bucketZoned, computed with time.Date in the zone.
// Intervals in ns … h ignore TZ: they stay aligned to the epoch (plus the
// offset), which is already local hours in a whole-hour zone; write
// time(1h, 30m) for local hours at +05:30.
//
// Rollups stay UTC. A zoned bucket's boundaries are local clock times minus
// the zone's UTC offset, so over a period of constant offset z they lie on
// whole UTC hours when wall - z is a whole number of hours (wall being the
// offset on the zone's clock): there the plan reads 1h rollups, and 1d
// ones only when wall - z is a whole number of days over the whole range;
// elsewhere (Asia/Kolkata's +05:30, local mean time before a zone adopted
// standard time) it reads raw data. Which level reads a rollup row never
// decides the answer: whole() checks every row against the exact buckets.

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// bucketZoned buckets are d, w, M or y on a zone's clock (zoneSpec).
const bucketZoned bucketKind = 3

// maxCalendarWall bounds the fixed offset of a calendar interval, so that
// month boundaries stay in order.
const maxCalendarWall = 28 * dayNanos

// zoneSpec describes bucketZoned buckets. Exactly one of days and months
// is set.
type zoneSpec struct {
	name string
	loc  *time.Location
	// days > 0: buckets of days local days, the first starting on the civil
	// day number (days since 1970-01-01) dayOrigin or a multiple of days
	// from it (0 for d, 4, a Monday, for w).
	days, dayOrigin int64
	// months > 0: buckets of months local months starting at month indexes
	// (year × 12 + month − 1) congruent to shift modulo months.
	months, shift int64
	// wall is added to each bucket start on the zone's clock, in ns.
	wall int64
	// last caches the last span computed: points come in time order, and
	// a span costs a few time.Date calls.
	last atomic.Pointer[[2]int64]
}

// bucketerFor returns the bucketer of sel's GROUP BY interval, with its
// offset and zone.
func bucketerFor(sel *query.Select) (bucketer, error) {
	d := *sel.GroupBy
	b, err := newBucketer(d)
	if err != nil {
		return b, err
	}
	var offNanos, offMonths int64
	if o := sel.GroupOffset; o != nil {
		if o.Dur.Calendar() {
			offMonths = int64(o.Sign) * o.Dur.Months()
		} else {
			offNanos = int64(o.Sign) * o.Dur.Nanos()
		}
	}
	loc := time.UTC
	if sel.TZ != "" {
		if loc, err = query.LoadZone(sel.TZ); err != nil {
			return b, errorf(sel.TZPos, "%s", err.Error())
		}
	}
	zonedUnit := d.Unit == query.Day || d.Unit == query.Week || d.Calendar()
	utc := loc == time.UTC
	switch {
	case !d.Calendar() && (utc || !zonedUnit):
		b.origin = addMod(b.origin, offNanos, b.width)
		return b, nil
	case d.Calendar() && utc && offNanos == 0:
		b.origin = timex.Mod(offMonths, b.months)
		return b, nil
	}
	z := &zoneSpec{name: sel.TZ, loc: loc}
	if d.Calendar() {
		if offNanos <= -maxCalendarWall || offNanos >= maxCalendarWall {
			return b, errorf(sel.GroupByPos, "the offset of a calendar interval must be shorter than 28d")
		}
		z.months, z.shift, z.wall = d.Months(), timex.Mod(offMonths, d.Months()), offNanos
	} else {
		z.days = b.width / dayNanos
		if d.Unit == query.Week {
			z.dayOrigin = 4
		}
		z.wall = timex.Mod(offNanos, b.width)
	}
	return bucketer{kind: bucketZoned, z: z}, nil
}

// addMod returns (a + b) mod w for a in [0, w), without overflow.
func addMod(a, b, w int64) int64 {
	r := uint64(a) + uint64(timex.Mod(b, w))
	if r >= uint64(w) {
		r -= uint64(w)
	}
	return int64(r)
}

// start returns the first instant of bucket k, as a time.Time (it may lie
// outside the int64 range).
func (z *zoneSpec) start(k int64) time.Time {
	if z.days > 0 {
		civil := time.Unix((z.dayOrigin+k*z.days)*86400, 0).UTC()
		y, m, d := civil.Date()
		return time.Date(y, m, d, 0, 0, 0, int(z.wall), z.loc)
	}
	mi := z.shift + k*z.months
	y := timex.FloorDiv(mi, 12)
	return time.Date(int(y), time.Month(mi-y*12+1), 1, 0, 0, 0, int(z.wall), z.loc)
}

// index returns the number of the bucket holding t.
func (z *zoneSpec) index(t int64) int64 {
	tm := timex.Time(t)
	lt := tm.In(z.loc)
	y, mo, d := lt.Date()
	h, mi, s := lt.Clock()
	clock := time.Date(y, mo, d, h, mi, s, lt.Nanosecond(), time.UTC).Add(-time.Duration(z.wall))
	var k int64
	if z.days > 0 {
		k = timex.FloorDiv(timex.FloorDiv(clock.Unix(), 86400)-z.dayOrigin, z.days)
	} else {
		m := int64(clock.Year())*12 + int64(clock.Month()) - 1
		k = timex.FloorDiv(m-z.shift, z.months)
	}
	// The clock may be off by a bucket around a DST change or an offset
	// that moves the start across midnight: settle on the true one.
	for i := 0; i < 4 && tm.Before(z.start(k)); i++ {
		k--
	}
	for i := 0; i < 4 && !tm.Before(z.start(k+1)); i++ {
		k++
	}
	return k
}

// clip returns tm in nanoseconds, saturated to the int64 range.
func clip(tm time.Time) int64 {
	t, _ := timex.FromTime(tm)
	return t
}

// span is bucketer.span for zoned buckets.
func (z *zoneSpec) span(t int64) (lo, hi int64) {
	if c := z.last.Load(); c != nil && c[0] <= t && t <= c[1] {
		return c[0], c[1]
	}
	k := z.index(t)
	lo, hi = clip(z.start(k)), int64(math.MaxInt64)
	if n, ok := timex.FromTime(z.start(k + 1)); ok {
		hi = n - 1
	}
	z.last.Store(&[2]int64{lo, hi})
	return lo, hi
}

// count is bucketer.count for zoned buckets.
func (z *zoneSpec) count(lo, hi int64) uint64 {
	if hi < lo {
		return 0
	}
	return uint64(z.index(hi)-z.index(lo)) + 1
}

// calSpan is timex.MonthSpan for n-month buckets starting at month indexes
// congruent to shift modulo n.
func calSpan(t, n, shift int64) (lo, hi int64) {
	m := timex.MonthIndex(t)
	m -= timex.Mod(m-shift, n)
	lo, _ = timex.MonthStart(m)
	next, ok := timex.MonthStart(m + n)
	if !ok {
		return lo, math.MaxInt64
	}
	return lo, next - 1
}

// calCount is timex.MonthBuckets for buckets shifted as calSpan's.
func calCount(lo, hi, n, shift int64) uint64 {
	if hi < lo {
		return 0
	}
	a, b := timex.MonthIndex(lo), timex.MonthIndex(hi)
	return uint64((b-timex.Mod(b-shift, n)-(a-timex.Mod(a-shift, n)))/n) + 1
}

// zonePeriods calls f for each period of constant UTC offset (seconds) of
// loc that overlaps [lo, hi], clipped to it, in time order.
func zonePeriods(loc *time.Location, lo, hi int64, f func(a, b int64, off int)) {
	for a := lo; ; {
		tm := timex.Time(a).In(loc)
		_, off := tm.Zone()
		_, end := tm.ZoneBounds()
		e, ok := timex.FromTime(end)
		if end.IsZero() || !ok || e <= a || e > hi {
			f(a, hi, off)
			return
		}
		f(a, e-1, off)
		a = e
	}
}

// segments splits [lo, hi] into segments for zoned buckets: per period of
// the zone's offset, 1h (or, when every boundary of the range is a UTC
// midnight, 1d) where bucket boundaries fall on whole UTC hours, raw data
// elsewhere, never above top. Each segment says why in its why field.
func (z *zoneSpec) segments(lo, hi int64, top model.Level) []segment {
	type era struct {
		lo, hi int64
		level  model.Level
		offs   []int // the zone's offsets in the era, in order of first use
	}
	h := int64(time.Hour)
	var eras []era
	allDays := true
	zonePeriods(z.loc, lo, hi, func(a, b int64, off int) {
		diff := z.wall - int64(off)*int64(time.Second)
		l := model.Level1h
		if timex.Mod(diff, h) != 0 {
			l = model.LevelRaw
		}
		if timex.Mod(diff, dayNanos) != 0 {
			allDays = false
		}
		if n := len(eras); n > 0 && eras[n-1].level == l {
			eras[n-1].hi = b
			if !slices.Contains(eras[n-1].offs, off) {
				eras[n-1].offs = append(eras[n-1].offs, off)
			}
			return
		}
		eras = append(eras, era{a, b, l, []int{off}})
	})
	var segs []segment
	for _, e := range eras {
		l := e.level
		why := fmt.Sprintf("TZ(%s) is UTC%s here: bucket boundaries fall on whole UTC hours", quoteZone(z.name), offsetsText(e.offs))
		switch {
		case l == model.LevelRaw:
			why = fmt.Sprintf("TZ(%s) is UTC%s here: bucket boundaries fall inside UTC hours, so rollups cannot be used", quoteZone(z.name), offsetsText(e.offs))
			if z.wall%h != 0 {
				why = fmt.Sprintf("bucket boundaries (offset %s, TZ(%s) UTC%s) fall inside UTC hours, so rollups cannot be used", time.Duration(z.wall), quoteZone(z.name), offsetsText(e.offs))
			}
		case allDays && len(eras) == 1:
			l = model.Level1d
			why = fmt.Sprintf("TZ(%s) is UTC%s over the range: bucket boundaries fall on UTC midnights", quoteZone(z.name), offsetsText(e.offs))
		default:
			why += " (1d rollups would cross local days)"
		}
		l = min(l, top)
		for _, s := range planSegments(e.lo, e.hi, l) {
			s.why = why
			segs = append(segs, s)
		}
	}
	return segs
}

// quoteZone prints a zone as in the TZ clause.
func quoteZone(name string) string {
	if name == "" {
		return "'UTC'"
	}
	return "'" + name + "'"
}

// offsetsText prints UTC offsets in seconds as +hh:mm, +hh:mm (at most
// four, then "…").
func offsetsText(offs []int) string {
	var parts []string
	for i, o := range offs {
		if i == 4 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, offsetText(o))
	}
	return strings.Join(parts, ", ")
}

// offsetText prints a UTC offset in seconds as +hh:mm (with :ss when it has
// seconds).
func offsetText(off int) string {
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	s := fmt.Sprintf("%s%02d:%02d", sign, off/3600, off/60%60)
	if off%60 != 0 {
		s += fmt.Sprintf(":%02d", off%60)
	}
	return s
}

// offsetWhy says why a query with an offset but no zoned buckets reads the
// level it reads, or "" when it has no offset or zone.
func offsetWhy(sel *query.Select, b *bucketer, top model.Level) string {
	if sel.GroupOffset == nil && sel.TZ == "" {
		return ""
	}
	switch b.kind {
	case bucketFixed:
		if top == model.LevelRaw && b.origin%int64(time.Hour) != 0 {
			return fmt.Sprintf("buckets start %s after a UTC hour, so rollups cannot be used", time.Duration(b.origin%int64(time.Hour)))
		}
		if sel.TZ != "" && sel.GroupBy.Unit != query.Day && sel.GroupBy.Unit != query.Week {
			return fmt.Sprintf("TZ(%s) does not move intervals in ns … h: buckets stay aligned to the epoch", quoteZone(sel.TZ))
		}
	case bucketCalendar:
		if b.origin != 0 && b.months%12 == 0 {
			return fmt.Sprintf("years start in month %d, so 1y rollups cannot be used", b.origin%12+1)
		}
	}
	if top == model.LevelRaw {
		return ""
	}
	return fmt.Sprintf("bucket boundaries fall on those of UTC %s rollups", top)
}
