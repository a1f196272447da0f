package planner

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/soltixdb/soltix/model"
)

// transformer computes one transformation over the points (or buckets) of
// one series, in time order; nulls never reach it.
type transformer struct {
	fn   string
	unit float64 // nanoseconds
	n    int     // moving_average's window
	has  bool    // a previous point is known
	pt   int64
	pv   model.Value
	// moving_average: the last n values in a ring, their running sum and
	// how many were seen; the sum is recomputed every n values so that
	// rounding (or an infinity) does not stay in it.
	win  []float64
	wsum float64
	seen int
	// cumulative_sum: the running sum, in the kind of the values until an
	// integer sum overflows, as a float from then on.
	sum model.Value
}

func newTransformer(fi *fnItem) transformer {
	return transformer{fn: fi.it.Func, unit: float64(fi.unit), n: int(fi.it.N)}
}

// next takes the point (t, v) and returns the function's value at t, ok
// false when it gives none there.
func (x *transformer) next(t int64, v model.Value) (model.Value, bool) {
	switch x.fn {
	case "moving_average":
		return x.movingAverage(v)
	case "cumulative_sum":
		x.sum = addValues(x.sum, v)
		return x.sum, true
	}
	pt, pv, had := x.pt, x.pv, x.has
	x.pt, x.pv, x.has = t, v, true
	if !had {
		return model.Null, false
	}
	dt := float64(t - pt) // t > pt: the points of a series have distinct times
	switch x.fn {
	case "derivative", "non_negative_derivative":
		d := asFloat(diffValues(v, pv)) / (dt / x.unit)
		if x.fn == "non_negative_derivative" && d < 0 {
			return model.Null, false
		}
		return model.Float(d), true
	case "difference", "non_negative_difference":
		d := diffValues(v, pv)
		if x.fn == "non_negative_difference" && asFloat(d) < 0 {
			return model.Null, false
		}
		return d, true
	case "rate":
		d := asFloat(diffValues(v, pv))
		if d < 0 { // the counter restarted from 0
			d = asFloat(v)
		}
		return model.Float(d / (dt / x.unit)), true
	case "elapsed":
		return model.Int((t - pt) / int64(x.unit)), true
	}
	return model.Null, false
}

func (x *transformer) movingAverage(v model.Value) (model.Value, bool) {
	f := asFloat(v)
	if x.win == nil {
		x.win = make([]float64, 0, x.n)
	}
	if len(x.win) < x.n {
		x.win = append(x.win, f)
		x.wsum += f
	} else {
		i := x.seen % x.n
		x.wsum += f - x.win[i]
		x.win[i] = f
		if i == x.n-1 {
			x.wsum = 0
			for _, w := range x.win {
				x.wsum += w
			}
		}
	}
	x.seen++
	if len(x.win) < x.n {
		return model.Null, false
	}
	return model.Float(x.wsum / float64(x.n)), true
}

func asFloat(v model.Value) float64 {
	f, _ := v.AsFloat()
	return f
}

// diffValues returns a - b: an integer when both are integers (signed or
// not) and the difference fits an int64, a float otherwise.
func diffValues(a, b model.Value) model.Value {
	switch {
	case a.Kind == model.KindInt && b.Kind == model.KindInt:
		x, y := a.Int(), b.Int()
		d := x - y
		if (y < 0 && d < x) || (y > 0 && d > x) {
			return model.Float(float64(x) - float64(y))
		}
		return model.Int(d)
	case a.Kind == model.KindUint && b.Kind == model.KindUint:
		x, y := a.Uint(), b.Uint()
		if x >= y {
			if d := x - y; d <= math.MaxInt64 {
				return model.Int(int64(d))
			}
		} else if d := y - x; d <= 1<<63 {
			return model.Int(int64(-d))
		}
		return model.Float(float64(x) - float64(y))
	}
	return model.Float(asFloat(a) - asFloat(b))
}

// addValues returns sum + v for cumulative_sum (sum null at the start):
// integers stay integers of their kind until the sum overflows, then the
// sum goes on as a float.
func addValues(sum, v model.Value) model.Value {
	if sum.IsNull() {
		return v
	}
	switch {
	case sum.Kind == model.KindInt && v.Kind == model.KindInt:
		x, y := sum.Int(), v.Int()
		if s := x + y; (y >= 0) == (s >= x) {
			return model.Int(s)
		}
	case sum.Kind == model.KindUint && v.Kind == model.KindUint:
		if s := sum.Uint() + v.Uint(); s >= sum.Uint() {
			return model.Uint(s)
		}
	}
	return model.Float(asFloat(sum) + asFloat(v))
}

// reducer reduces the points of one group to the rows of integral,
// distinct, top, bottom or sample, bucket by bucket. The points come in
// time order (ties in series-key order).
type reducer struct {
	q     *fnQuery
	group string
	// integral: per item, the running area per bucket, and per series the
	// last point seen.
	areas []map[int64]float64
	last  []map[string]point
	// distinct: per bucket, the values seen.
	distinct map[int64]map[model.Value]bool
	nvals    int
	// top, bottom, sample: the bucket being read and its candidates.
	cur    int64
	curSet bool
	cands  candHeap
	seq    int64
	rng    *rand.Rand
	seen   int64
	// analytics (analytics.go): the group's series.
	an analyzer
}

type point struct {
	t, b int64 // time and bucket
	v    float64
}

func newReducer(q *fnQuery, group string) reducer {
	r := reducer{q: q, group: group}
	switch q.shape {
	case shapeIntegral:
		r.areas = make([]map[int64]float64, len(q.items))
		r.last = make([]map[string]point, len(q.items))
		for i := range q.items {
			r.areas[i], r.last[i] = map[int64]float64{}, map[string]point{}
		}
	case shapeDistinct:
		r.distinct = map[int64]map[model.Value]bool{}
	case shapePick:
		r.cands.top = q.items[0].it.Func == "top"
		r.cands.sample = q.items[0].it.Func == "sample"
	}
	return r
}

// bucket returns the start of the bucket holding t (the label of the one
// bucket without a GROUP BY interval).
func (r *reducer) bucket(t int64) int64 {
	if r.q.sel.GroupBy == nil {
		return r.q.label
	}
	lo, _ := r.q.bk.span(t)
	return lo
}

func (r *reducer) add(s *fnSink, t int64, row []model.Value) error {
	if r.q.shape == shapeSeries {
		return r.an.add(s, t, row)
	}
	b := r.bucket(t)
	switch r.q.shape {
	case shapeIntegral:
		key := s.seriesKey(row)
		for i := range r.q.items {
			v := row[r.q.items[i].col]
			if v.IsNull() {
				continue
			}
			f := asFloat(v)
			p, ok := r.last[i][key]
			if ok && p.b == b {
				r.areas[i][b] += (p.v + f) / 2 * (float64(t-p.t) / float64(r.q.items[i].unit))
			} else if _, ok := r.areas[i][b]; !ok {
				r.areas[i][b] = 0
			}
			r.last[i][key] = point{t: t, b: b, v: f}
		}
	case shapeDistinct:
		v := row[r.q.items[0].col]
		if v.IsNull() {
			return nil
		}
		if v.Kind == model.KindFloat && v.Float() == 0 {
			v = model.Float(0)
		}
		set := r.distinct[b]
		if set == nil {
			set = map[model.Value]bool{}
			r.distinct[b] = set
		}
		if !set[v] {
			set[v] = true
			if r.nvals++; int64(r.nvals) > s.opts.maxRows() {
				return rowsError(s.opts.maxRows())
			}
		}
	case shapePick:
		v := row[r.q.items[0].col]
		if v.IsNull() {
			return nil
		}
		if !r.curSet || b != r.cur {
			if err := r.emitPicks(s); err != nil {
				return err
			}
			r.cur, r.curSet = b, true
			r.seen = 0
			if r.cands.sample {
				s1, s2 := sampleSeed(r.q.seed, r.group, b)
				r.rng = rand.New(rand.NewPCG(s1, s2))
			}
		}
		r.pick(cand{t: t, seq: r.seq, v: v, row: row})
		r.seq++
	}
	return nil
}

// pick offers one point to the candidates of the current bucket.
func (r *reducer) pick(c cand) {
	n := int(r.q.items[0].it.N)
	h := &r.cands
	r.seen++
	switch {
	case len(h.c) < n && h.sample:
		h.c = append(h.c, c)
	case len(h.c) < n:
		heap.Push(h, c)
	case h.sample:
		if j := r.rng.Int64N(r.seen); j < int64(n) {
			h.c[j] = c
		}
	case h.better(c, h.c[0]):
		h.c[0] = c
		heap.Fix(h, 0)
	}
}

// emitPicks keeps the rows of the current bucket's candidates, in time
// order.
func (r *reducer) emitPicks(s *fnSink) error {
	if !r.curSet {
		return nil
	}
	cs := r.cands.c
	slices.SortFunc(cs, func(a, b cand) int {
		if a.t != b.t {
			return cmpInt(a.t, b.t)
		}
		return cmpInt(a.seq, b.seq)
	})
	for _, c := range cs {
		row := s.prefix(c.t, 1+len(r.q.tags))
		row[1+s.ngroup] = c.v
		for j, k := range r.q.tags {
			if col := r.q.tagCol(k); col >= 0 {
				row[2+s.ngroup+j] = c.row[col]
			}
		}
		if err := s.keep(row); err != nil {
			return err
		}
	}
	r.cands.c = r.cands.c[:0]
	return nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// finish keeps the rows of the group.
func (r *reducer) finish(s *fnSink) error {
	switch r.q.shape {
	case shapeIntegral:
		var buckets []int64
		for i := range r.areas {
			for b := range r.areas[i] {
				if !slices.Contains(buckets, b) {
					buckets = append(buckets, b)
				}
			}
		}
		slices.Sort(buckets)
		for _, b := range buckets {
			row := s.prefix(b, len(r.q.items))
			for i := range r.areas {
				if a, ok := r.areas[i][b]; ok {
					row[1+s.ngroup+i] = model.Float(a)
				}
			}
			if err := s.keep(row); err != nil {
				return err
			}
		}
	case shapeDistinct:
		buckets := make([]int64, 0, len(r.distinct))
		for b := range r.distinct {
			buckets = append(buckets, b)
		}
		slices.Sort(buckets)
		for _, b := range buckets {
			vals := make([]model.Value, 0, len(r.distinct[b]))
			for v := range r.distinct[b] {
				vals = append(vals, v)
			}
			slices.SortFunc(vals, valueCompare)
			for _, v := range vals {
				row := s.prefix(b, 1)
				row[1+s.ngroup] = v
				if err := s.keep(row); err != nil {
					return err
				}
			}
		}
	case shapePick:
		return r.emitPicks(s)
	case shapeSeries:
		return r.an.finish(s)
	}
	return nil
}

// cand is a point that top, bottom or sample may pick: its time, its place
// in the order the points came in (which breaks ties between series), its
// value and the inner row (for its tags).
type cand struct {
	t, seq int64
	v      model.Value
	row    []model.Value
}

// candHeap holds the candidates of one bucket with the worst at the root:
// for top the smallest value, for bottom the largest, the later of equal
// values (ties go to the earliest time). sample uses it as a plain slice.
type candHeap struct {
	c      []cand
	top    bool
	sample bool
}

// better reports whether a beats b.
func (h *candHeap) better(a, b cand) bool {
	if !a.v.Equal(b.v) {
		if h.top {
			return numLess(b.v, a.v)
		}
		return numLess(a.v, b.v)
	}
	if a.t != b.t {
		return a.t < b.t
	}
	return a.seq < b.seq
}

func (h *candHeap) Len() int           { return len(h.c) }
func (h *candHeap) Less(i, j int) bool { return h.better(h.c[j], h.c[i]) }
func (h *candHeap) Swap(i, j int)      { h.c[i], h.c[j] = h.c[j], h.c[i] }
func (h *candHeap) Push(x any)         { h.c = append(h.c, x.(cand)) }
func (h *candHeap) Pop() any {
	c := h.c[len(h.c)-1]
	h.c = h.c[:len(h.c)-1]
	return c
}
