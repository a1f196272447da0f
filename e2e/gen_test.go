package e2e

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// This file generates the random data and the random queries of
// TestDifferential from one seeded source.

// Collections and their fields. cpu has every kind; env only v and n, so in
// env the names w, s and b are (absent) tags.
const (
	collCPU = "cpu"
	collEnv = "env"
)

var (
	stringValues = []string{"alpha", "beta", "gamma", "delta", "omega", "Beta"}
	percentiles  = []float64{0, 1, 5, 12.5, 25, 33.3, 50, 66.7, 75, 90, 95, 99, 99.9, 100}
	numericFns   = []string{"count", "sum", "avg", "mean", "min", "max", "first", "last", "spread", "stddev", "percentile"}
	anyKindFns   = []string{"count", "first", "last"}
)

// world is the generator's state.
type world struct {
	rng        *rand.Rand
	start, end int64 // the span timestamps are drawn from
	now        int64 // now() of every query
	series     map[string][]*series
	bursts     []int64 // starts of short dense stretches
	shared     []int64 // instants several series write at
	boundaries []int64 // month, year, week and day starts inside the span
	written    []point // every point written, for overwrites and range ends
	maxBuckets int64
}

func newWorld(seed uint64) *world {
	w := &world{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), maxBuckets: 1500}
	w.start = time.Date(2024, 11, 1, 0, 0, 0, 0, time.UTC).UnixNano() + w.rng.Int64N(5*day)
	w.end = time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC).UnixNano() + w.rng.Int64N(10*day)
	w.now = time.Date(2026, 2, 15, 12, 0, 0, 0, time.UTC).UnixNano()
	w.series = map[string][]*series{
		collCPU: {
			newSeries(collCPU, "device_id", "d00"),
			newSeries(collCPU, "device_id", "d00", "region", "eu"),
			newSeries(collCPU, "device_id", "d01", "region", "eu"),
			newSeries(collCPU, "device_id", "d02", "region", "us"),
			newSeries(collCPU, "device_id", "d03"),
			newSeries(collCPU, "device_id", "d04", "region", "us"),
			newSeries(collCPU, "device_id", "d05", "region", "ap"),
			newSeries(collCPU, "device_id", "d06"),
			newSeries(collCPU, "region", "eu"),
		},
		collEnv: {
			newSeries(collEnv, "device_id", "d00", "region", "eu"),
			newSeries(collEnv, "device_id", "d01"),
			newSeries(collEnv, "device_id", "d02", "region", "us"),
		},
	}
	for range 5 {
		w.bursts = append(w.bursts, w.uniform(w.start, w.end-2*day))
	}
	for range 120 {
		w.shared = append(w.shared, w.uniform(w.start, w.end)/int64(time.Second)*int64(time.Second))
	}
	for m := time.Date(2024, 11, 1, 0, 0, 0, 0, time.UTC); m.UnixNano() < w.end; m = m.AddDate(0, 1, 0) {
		if m.UnixNano() > w.start {
			w.boundaries = append(w.boundaries, m.UnixNano())
		}
	}
	for range 30 {
		t := floorDiv(w.uniform(w.start, w.end), day) * day
		w.boundaries = append(w.boundaries, t, bucketStart(interval{1, "w"}, t))
	}
	return w
}

// uniform returns a random instant in [lo, hi).
func (w *world) uniform(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + w.rng.Int64N(hi-lo)
}

func (w *world) chance(p float64) bool { return w.rng.Float64() < p }

func pick[T any](w *world, xs []T) T { return xs[w.rng.IntN(len(xs))] }

// ---- data ----

// randTime draws a timestamp: mostly uniform, some in bursts, some at
// instants other series share, some on or next to bucket boundaries.
func (w *world) randTime() int64 {
	var t int64
	switch r := w.rng.Float64(); {
	case r < 0.45:
		t = w.uniform(w.start, w.end)
	case r < 0.70:
		t = pick(w, w.bursts) + w.rng.Int64N(36*int64(time.Hour))
	case r < 0.85:
		return pick(w, w.shared)
	default:
		return pick(w, w.boundaries) + pick(w, []int64{0, 0, -1, 1})
	}
	switch r := w.rng.Float64(); {
	case r < 0.3:
		t = t / int64(time.Second) * int64(time.Second)
	case r < 0.5:
		t = t / int64(time.Minute) * int64(time.Minute)
	}
	return t
}

func (w *world) randFloat() float64 {
	switch r := w.rng.Float64(); {
	case r < 0.6:
		return w.rng.Float64()*200 - 50
	case r < 0.75:
		return float64(w.rng.IntN(100))
	case r < 0.9:
		return pick(w, []float64{0, 1.5, 42, -7.25, 100})
	}
	return w.rng.Float64() * 1e-3
}

func (w *world) randInt() int64 {
	switch r := w.rng.Float64(); {
	case r < 0.7:
		return w.rng.Int64N(1101) - 100
	case r < 0.9:
		return pick(w, []int64{0, 1, -1, 7, 42})
	case r < 0.995:
		return w.rng.Int64N(1e9)
	}
	// Rare huge values, so that sums wrap.
	return 1<<61 + w.rng.Int64N(1e6)
}

// randFields draws the fields of a new point. JSON points carry no
// integers, since JSON numbers are written as floats.
func (w *world) randFields(coll string, asJSON bool) map[string]val {
	f := map[string]val{}
	if coll == collEnv {
		if w.chance(0.95) {
			f["v"] = fv(w.randFloat())
		}
		if !asJSON && w.chance(0.8) {
			f["n"] = iv(w.randInt())
		}
		if len(f) == 0 {
			f["v"] = fv(w.randFloat())
		}
		return f
	}
	if w.chance(0.88) {
		f["v"] = fv(w.randFloat())
	}
	if !asJSON && w.chance(0.85) {
		f["n"] = iv(w.randInt())
	}
	if w.chance(0.15) {
		f["w"] = fv(w.randFloat())
	}
	if w.chance(0.35) {
		f["s"] = sv(pick(w, stringValues))
	}
	if w.chance(0.25) {
		f["b"] = bv(w.chance(0.5))
	}
	if len(f) == 0 {
		f["s"] = sv(pick(w, stringValues))
	}
	return f
}

// overwrite draws new values for some fields of an earlier point (and
// maybe fields it lacked), at the same series and time.
func (w *world) overwrite(asJSON bool) point {
	for {
		old := pick(w, w.written)
		fresh := w.randFields(old.s.coll, asJSON)
		f := map[string]val{}
		for _, k := range sortedKeys(fresh) { // in order, so the seed decides
			if w.chance(0.6) {
				f[k] = fresh[k]
			}
		}
		if len(f) > 0 {
			return point{s: old.s, t: old.t, fields: f}
		}
	}
}

// batches draws n points (a share of them overwrites of earlier points) in
// batches of mixed line protocol and JSON.
func (w *world) batches(n int, overwriteShare float64) []batch {
	var out []batch
	for n > 0 {
		b := batch{json: w.chance(0.35)}
		size := min(n, 50+w.rng.IntN(400))
		for range size {
			var p point
			if len(w.written) > 0 && w.chance(overwriteShare) {
				p = w.overwrite(b.json)
			} else {
				coll := collCPU
				if w.chance(0.2) {
					coll = collEnv
				}
				p = point{s: pick(w, w.series[coll]), t: w.randTime(), fields: w.randFields(coll, b.json)}
			}
			b.points = append(b.points, p)
			w.written = append(w.written, p)
		}
		n -= size
		out = append(out, b)
	}
	return out
}

// ---- queries ----

// instant draws an instant in [lo, hi], often on a boundary or a written
// timestamp.
func (w *world) instant(lo, hi int64) int64 {
	t := w.uniform(lo, hi+1)
	switch r := w.rng.Float64(); {
	case r < 0.35:
	case r < 0.55:
		t = floorDiv(t, day) * day
	case r < 0.65:
		t = bucketStart(interval{1, "M"}, t)
	case r < 0.72:
		t = bucketStart(interval{1, "w"}, t)
	case r < 0.80:
		t = floorDiv(t, int64(time.Hour)) * int64(time.Hour)
	default:
		p := pick(w, w.written)
		if p.t >= lo && p.t <= hi {
			t = p.t + pick(w, []int64{0, 0, 0, -1, 1})
		}
	}
	return t
}

// timeLit writes an instant as a time literal in one of the accepted forms.
// A now() form may move the instant to a whole number of hours before now.
func (w *world) timeLit(t int64) lit {
	tm := time.Unix(0, t).UTC()
	midnight := t == floorDiv(t, day)*day
	switch r := w.rng.Float64(); {
	case r < 0.3:
		return rfcLit(t)
	case r < 0.55:
		return timeLit(t, strconv.FormatInt(t, 10))
	case r < 0.7 && midnight:
		return timeLit(t, "'"+tm.Format("2006-01-02")+"'")
	case r < 0.75 && tm.Day() == 1 && midnight:
		base := tm.AddDate(0, -1, 0)
		return timeLit(t, "'"+base.Format("2006-01-02")+"' + 1M")
	case r < 0.82:
		base := t - 2*day - 3*int64(time.Hour)
		return timeLit(t, rfcLit(base).text+" + 2d + 3h")
	case r < 0.86:
		base := t + 90*int64(time.Minute)
		return timeLit(t, strconv.FormatInt(base, 10)+" - 90m")
	case r < 0.9 && t < w.now:
		h := (w.now - t) / int64(time.Hour)
		return timeLit(w.now-h*int64(time.Hour), "now() - "+strconv.FormatInt(h, 10)+"h")
	}
	return rfcLit(t)
}

// timeTerms draws the time conditions of a query and returns the span the
// query's buckets will cover (unbounded sides run to the data's ends).
func (w *world) timeTerms(minSpan, maxSpan int64) ([]cond, int64) {
	lo0, hi0 := w.start-5*day, w.end+5*day
	full := w.end - w.start
	mode := w.rng.Float64()
	switch {
	case mode < 0.12 && full <= maxSpan:
		return nil, full
	case mode < 0.24:
		lo := w.instant(max(lo0, w.end-maxSpan+day), hi0)
		l := w.timeLit(lo)
		op := pick(w, []string{">=", ">"})
		return []cond{&cmpCond{"time", op, l}}, max(w.end-l.t, 0)
	case mode < 0.36:
		hi := w.instant(lo0, min(hi0, w.start+maxSpan-day))
		l := w.timeLit(hi)
		op := pick(w, []string{"<", "<="})
		return []cond{&cmpCond{"time", op, l}}, max(l.t-w.start, 0)
	case mode < 0.39:
		p := pick(w, w.written)
		return []cond{&cmpCond{"time", "=", w.timeLit(p.t)}}, 0
	}
	// Both ends: a span drawn log-uniformly between minSpan and maxSpan,
	// often placed around a written point so that it holds data.
	loSpan, hiSpan := float64(minSpan), float64(min(maxSpan, hi0-lo0))
	span := int64(math.Exp(math.Log(loSpan) + w.rng.Float64()*(math.Log(hiSpan)-math.Log(loSpan))))
	lo := w.instant(lo0, hi0-span)
	if w.chance(0.6) {
		lo = w.instant(pick(w, w.written).t-span, hi0-span)
	}
	hi := lo + span
	if w.chance(0.5) {
		hi = w.instant(lo+span/2, lo+span)
	}
	ll, hl := w.timeLit(lo), w.timeLit(hi)
	if hl.t <= ll.t {
		ll, hl = rfcLit(lo), rfcLit(lo+span)
	}
	if w.chance(0.15) {
		return []cond{&betweenCond{"time", ll, hl}}, hl.t - ll.t
	}
	terms := []cond{
		&cmpCond{"time", pick(w, []string{">=", ">=", ">"}), ll},
		&cmpCond{"time", pick(w, []string{"<", "<", "<="}), hl},
	}
	if w.chance(0.5) {
		terms[0], terms[1] = terms[1], terms[0]
	}
	return terms, hl.t - ll.t
}

// tagCond draws a condition on tags.
func (w *world) tagCond() cond {
	devices := []string{"d00", "d01", "d02", "d03", "d04", "d05", "d06", "d09"}
	var c cond
	switch w.rng.IntN(14) {
	case 0:
		c = &cmpCond{"device_id", "=", strLit(pick(w, devices))}
	case 1:
		c = &cmpCond{"device_id", "!=", strLit(pick(w, devices))}
	case 2:
		c = &inCond{"device_id", false, []lit{strLit(pick(w, devices)), strLit(pick(w, devices)), strLit("")}}
	case 3:
		c = &inCond{"device_id", true, []lit{strLit(pick(w, devices)), strLit(pick(w, devices))}}
	case 4:
		c = &cmpCond{"device_id", "=~", reLit(pick(w, []string{"^d0[0-3]$", "[25]", "0", "^$"}))}
	case 5:
		c = &cmpCond{"device_id", "!~", reLit(pick(w, []string{"d00", "[4-6]$"}))}
	case 6:
		c = &cmpCond{"device_id", pick(w, []string{"<", "<=", ">", ">="}), strLit(pick(w, devices))}
	case 7:
		c = &cmpCond{"region", "=", strLit(pick(w, []string{"eu", "us", "ap", ""}))}
	case 8:
		c = &cmpCond{"region", "!=", strLit(pick(w, []string{"eu", "us", ""}))}
	case 9:
		c = &inCond{"region", w.chance(0.4), []lit{strLit("eu"), strLit(pick(w, []string{"", "ap"}))}}
	case 10:
		c = &cmpCond{"region", "=~", reLit(pick(w, []string{"u", "^e", "^$"}))}
	case 11:
		c = &betweenCond{"device_id", strLit("d01"), strLit(pick(w, devices))}
	default:
		c = &orCond{[]cond{w.tagCond(), w.tagCond()}}
	}
	return c
}

// fieldCond draws a condition on fields of the collection.
func (w *world) fieldCond(coll string) cond {
	num := func() lit {
		if w.chance(0.5) {
			return lit{k: lInt, i: w.rng.Int64N(200) - 50}
		}
		return lit{k: lFloat, f: math.Round((w.rng.Float64()*200-50)*100) / 100}
	}
	ops := []string{"<", "<=", ">", ">=", "=", "!="}
	n := 5
	if coll == collCPU {
		n = 10
	}
	switch w.rng.IntN(n) {
	case 0, 1:
		return &cmpCond{"v", pick(w, ops[:4]), num()}
	case 2:
		return &cmpCond{"n", pick(w, ops), num()}
	case 3:
		return &inCond{"n", w.chance(0.3), []lit{{k: lInt, i: 0}, {k: lInt, i: 7}, {k: lInt, i: 42}}}
	case 4:
		return &orCond{[]cond{&cmpCond{"v", ">", num()}, &cmpCond{"n", "<", num()}}}
	case 5:
		return &cmpCond{"w", pick(w, ops[:4]), num()}
	case 6:
		return &cmpCond{"s", pick(w, []string{"=", "!=", "<", ">="}), strLit(pick(w, stringValues))}
	case 7:
		return &cmpCond{"s", pick(w, []string{"=~", "!~"}), reLit(pick(w, []string{"^[ab]", "ta$", "e"}))}
	case 8:
		return &cmpCond{"b", pick(w, []string{"=", "!="}), lit{k: lBool, b: w.chance(0.5)}}
	}
	a := num()
	return &betweenCond{"v", a, lit{k: lFloat, f: float64(a.i) + a.f + 60}}
}

// intervals are the GROUP BY intervals queries use.
var intervals = []interval{
	{1, "h"}, {6, "h"}, {1, "d"}, {1, "w"}, {1, "M"}, {3, "M"}, {1, "y"},
	{30, "m"}, {12, "h"}, {2, "d"}, {7, "d"}, {2, "M"}, {2, "y"},
}

// query draws one SELECT.
func (w *world) query() *selectQ {
	q := &selectQ{coll: collCPU}
	if w.chance(0.2) {
		q.coll = collEnv
	}
	fieldNames := []string{"v", "n", "w", "s", "b"}
	if q.coll == collEnv {
		fieldNames = fieldNames[:2]
	}
	aggregate := w.chance(0.72)

	// Time range first; the interval must then keep the bucket count small.
	minSpan, maxSpan := 6*int64(time.Hour), 600*day
	if !aggregate {
		minSpan, maxSpan = int64(time.Hour), 40*day
	}
	terms, span := w.timeTerms(minSpan, maxSpan)
	if !aggregate && len(terms) == 0 {
		q.limit = 1 + w.rng.Int64N(20)
	}

	if aggregate {
		for range 1 + w.rng.IntN(4) {
			var it item
			it.field = pick(w, fieldNames)
			if w.chance(0.3) {
				it.field = fieldNames[w.rng.IntN(min(2, len(fieldNames)))]
			}
			if it.field == "s" || it.field == "b" {
				it.fn = pick(w, anyKindFns)
			} else {
				it.fn = pick(w, numericFns)
			}
			if it.fn == "percentile" {
				it.p = pick(w, percentiles)
			}
			if w.chance(0.05) {
				it.alias = "a" + strconv.Itoa(len(q.items))
			}
			dup := false
			for _, o := range q.items {
				dup = dup || o.column() == it.column()
			}
			if !dup {
				q.items = append(q.items, it)
			}
		}
		if w.chance(0.68) {
			var ok []interval
			for _, iv := range intervals {
				if span/int64(iv.approx()) <= w.maxBuckets {
					ok = append(ok, iv)
				}
			}
			if len(ok) > 0 {
				iv := pick(w, ok)
				q.every = &iv
				q.timeFunc = w.chance(0.5)
				q.everyLast = w.chance(0.3)
				w.drawZone(q)
				q.fill = pick(w, []fill{{}, {}, {mode: "null"}, {mode: "none"}, {mode: "none"}, {mode: "previous"},
					{mode: "previous"}, {mode: "linear"}, {mode: "linear"}, {mode: "number", num: 0},
					{mode: "number", num: 7}, {mode: "number", num: 2.5}})
			}
		}
	} else if w.chance(0.3) {
		q.star = true
	} else {
		names := append(append([]string(nil), fieldNames...), "device_id", "region")
		w.rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		k := 1 + w.rng.IntN(3)
		for _, n := range names[:k] {
			q.items = append(q.items, item{field: n})
		}
		if w.chance(0.9) && q.items[0].field != "v" && q.items[0].field != "n" {
			q.items = append(q.items, item{field: pick(w, fieldNames[:2])})
			if q.items[len(q.items)-1].field == q.items[0].field {
				q.items = q.items[:len(q.items)-1]
			}
		}
		dedup := map[string]bool{}
		var items []item
		for _, it := range q.items {
			if !dedup[it.field] {
				dedup[it.field] = true
				items = append(items, it)
			}
		}
		q.items = items
	}

	if w.chance(0.5) {
		terms = append(terms, w.tagCond())
	}
	if w.chance(0.15) {
		terms = append(terms, w.fieldCond(q.coll))
	}
	if q.coll == collEnv && w.chance(0.1) {
		// env has no field s, so s is a tag that no series has: ''.
		terms = append(terms, &cmpCond{"s", pick(w, []string{"=", "!="}), strLit(pick(w, []string{"", "beta"}))})
	}
	w.rng.Shuffle(len(terms), func(i, j int) { terms[i], terms[j] = terms[j], terms[i] })
	switch len(terms) {
	case 0:
	case 1:
		q.where = terms[0]
	default:
		q.where = &andCond{terms}
	}

	switch r := w.rng.Float64(); {
	case r < 0.45:
	case r < 0.7:
		q.tags = []string{"device_id"}
	case r < 0.85:
		q.tags = []string{"region"}
	default:
		q.tags = []string{"region", "device_id"}
		if w.chance(0.5) {
			q.tags = []string{"device_id", "region"}
		}
	}
	q.desc = w.chance(0.3)
	q.orderAsc = !q.desc && w.chance(0.1)
	if w.chance(0.2) {
		q.limit = 1 + w.rng.Int64N(8)
	}
	if w.chance(0.12) && (q.every != nil || !q.aggregate() || w.chance(0.2)) {
		q.offset = 1 + w.rng.Int64N(4)
	}
	w.addScaled(q)
	return q
}
