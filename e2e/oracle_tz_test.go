package e2e

import "time"

// GROUP BY time(interval, offset) and TZ('Area/City') in the differential
// test: the query model's extra fields (selectQ.offset, selectQ.zone), what
// the generator draws, and the oracle's buckets, computed here from
// docs/query.md ("Offsets and time zones") with time.Date in the zone and
// plain loops, independently of planner/zone.go.

// zoneOffset is a GROUP BY offset as written, with its meaning.
type zoneOffset struct {
	text   string // "15m", "-1h", "3M"
	nanos  int64  // a fixed offset
	months int64  // a calendar offset
}

var (
	fixedOffsets    = []zoneOffset{{"15m", 15 * int64(time.Minute), 0}, {"-30m", -30 * int64(time.Minute), 0}, {"1h", int64(time.Hour), 0}, {"-2h", -2 * int64(time.Hour), 0}, {"6h", 6 * int64(time.Hour), 0}}
	calendarOffsets = []zoneOffset{{"1M", 0, 1}, {"3M", 0, 3}, {"-1M", 0, -1}}
	// Whole-hour zones with DST, a half-hour zone, a 45-minute zone, UTC.
	queryZones = []string{"Europe/Paris", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "UTC"}
)

// drawZone gives q, which has an interval, an offset and a zone at times.
func (w *world) drawZone(q *selectQ) {
	zoned := q.every.unit == "d" || q.every.unit == "w" || q.every.unit == "M" || q.every.unit == "y"
	if zoned && w.chance(0.35) {
		q.zone = pick(w, queryZones)
		q.zoneLast = w.chance(0.5)
	}
	if w.chance(0.3) {
		switch {
		case q.every.unit == "M" || q.every.unit == "y":
			if q.zone == "" || w.chance(0.5) {
				q.goffset = pick(w, calendarOffsets)
			} else {
				q.goffset = pick(w, fixedOffsets)
			}
		default:
			q.goffset = pick(w, fixedOffsets)
		}
	}
}

// intervalText renders the interval with its offset.
func (q *selectQ) intervalText() string {
	e := q.every.String()
	if q.goffset.text != "" {
		return "time(" + e + ", " + q.goffset.text + ")"
	}
	if q.timeFunc {
		return "time(" + e + ")"
	}
	return e
}

// tzText renders the TZ clause, "" when there is none.
func (q *selectQ) tzText() string {
	if q.zone == "" {
		return ""
	}
	return " TZ('" + q.zone + "')"
}

// zoneBuckets reports whether q's buckets need zoneStart rather than
// bucketStart.
func (q *selectQ) zoneBuckets() bool { return q.zone != "" || q.goffset.text != "" }

// qBucketStart is the start of q's bucket holding t.
func qBucketStart(q *selectQ, t int64) int64 {
	if !q.zoneBuckets() {
		return bucketStart(*q.every, t)
	}
	s, _ := zoneBucket(q, t)
	return s
}

// qNextBucket is the start of q's bucket after the one starting at b.
func qNextBucket(q *selectQ, b int64) int64 {
	if !q.zoneBuckets() {
		return nextBucket(*q.every, b)
	}
	_, next := zoneBucket(q, b)
	return next
}

// zoneBucket returns the start of q's bucket holding t and of the next one.
func zoneBucket(q *selectQ, t int64) (start, next int64) {
	iv := *q.every
	loc := time.UTC
	if q.zone != "" {
		var err error
		if loc, err = time.LoadLocation(q.zone); err != nil {
			panic(err)
		}
	}
	calendar := iv.unit == "d" || iv.unit == "w" || iv.unit == "M" || iv.unit == "y"
	if !calendar || (loc == time.UTC && (iv.unit == "d" || iv.unit == "w")) {
		// Fixed width: epoch (or Monday) aligned, plus the offset modulo
		// the width.
		width := int64(iv.approx())
		origin := int64(0)
		if iv.unit == "w" {
			origin = 4 * day
		}
		origin = ((origin+q.goffset.nanos)%width + width) % width
		s := floorDiv(t-origin, width)*width + origin
		return s, s + width
	}
	// Calendar: the k-th bucket starts at local midnight of a date, plus
	// the fixed offset on the zone's clock.
	wall := q.goffset.nanos
	var at func(k int64) int64
	var k int64
	lt := time.Unix(0, t).In(loc)
	switch iv.unit {
	case "d", "w":
		days, origin := iv.n, int64(0)
		if iv.unit == "w" {
			days, origin = 7*iv.n, 4
		}
		wall = ((wall % (days * day)) + days*day) % (days * day)
		at = func(k int64) int64 {
			d := time.Unix((origin+k*days)*86400, 0).UTC()
			return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, int(wall), loc).UnixNano()
		}
		civil := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400
		k = floorDiv(civil-origin, days)
	default:
		months := iv.n
		if iv.unit == "y" {
			months *= 12
		}
		shift := ((q.goffset.months % months) + months) % months
		at = func(k int64) int64 {
			m := shift + k*months
			y := floorDiv(m, 12)
			return time.Date(int(y), time.Month(m-y*12+1), 1, 0, 0, 0, int(wall), loc).UnixNano()
		}
		k = floorDiv(int64(lt.Year())*12+int64(lt.Month())-1-shift, months)
	}
	for at(k) > t {
		k--
	}
	for at(k+1) <= t {
		k++
	}
	return at(k), at(k + 1)
}
