package planner

import (
	"math"
	"slices"

	"github.com/soltixdb/soltix/model"
)

// aggregator accumulates one aggregate over the values of one bucket. add
// receives the column, the index of the value, its time and the rank of its
// series in series-key order (for first/last ties across series).
type aggregator interface {
	add(c *model.Column, i int, t int64, rank int)
	result() model.Value
}

// resultKind is the kind of an aggregate's result for a field kind.
func resultKind(fn string, k model.Kind) model.Kind {
	switch fn {
	case "count":
		return model.KindInt
	case "avg", "stddev", "median":
		return model.KindFloat
	}
	return k
}

func newAggregator(it *outItem) aggregator {
	switch it.fn {
	case "count":
		return &countAgg{}
	case "sum":
		return &sumAgg{}
	case "avg":
		return &avgAgg{}
	case "min":
		return &extremeAgg{wantMin: true}
	case "max":
		return &extremeAgg{}
	case "spread":
		return &spreadAgg{}
	case "first":
		return &edgeAgg{}
	case "last":
		return &edgeAgg{last: true}
	case "stddev":
		return &stddevAgg{}
	case "percentile":
		return &percentileAgg{p: it.arg}
	case "median":
		return &medianAgg{}
	case "mode":
		return &modeAgg{}
	}
	panic("planner: unknown aggregate " + it.fn) // resolveItems rejects these
}

// aggSlabs cuts the common aggregators from slabs (see slab): a GROUP BY
// time over many buckets makes one per bucket and aggregate.
type aggSlabs struct {
	count   slab[countAgg]
	sum     slab[sumAgg]
	avg     slab[avgAgg]
	extreme slab[extremeAgg]
	edge    slab[edgeAgg]
}

// new is newAggregator(it), from the slabs where it can be.
func (s *aggSlabs) new(it *outItem) aggregator {
	switch it.fn {
	case "count":
		return s.count.next()
	case "sum":
		return s.sum.next()
	case "avg":
		return s.avg.next()
	case "min", "max":
		a := s.extreme.next()
		a.wantMin = it.fn == "min"
		return a
	case "first", "last":
		a := s.edge.next()
		a.last = it.fn == "last"
		return a
	}
	return newAggregator(it)
}

type countAgg struct{ n int64 }

func (a *countAgg) add(*model.Column, int, int64, int) { a.n++ }
func (a *countAgg) result() model.Value                { return model.Int(a.n) }

// sumAgg sums in the field's kind; integers wrap on overflow.
type sumAgg struct {
	kind model.Kind
	f    float64
	i    int64
	u    uint64
}

func (a *sumAgg) add(c *model.Column, i int, _ int64, _ int) {
	a.kind = c.Kind
	switch c.Kind {
	case model.KindFloat:
		a.f += c.Floats[i]
	case model.KindInt:
		a.i += c.Ints[i]
	case model.KindUint:
		a.u += c.Uints[i]
	}
}

func (a *sumAgg) result() model.Value {
	switch a.kind {
	case model.KindFloat:
		return model.Float(a.f)
	case model.KindInt:
		return model.Int(a.i)
	case model.KindUint:
		return model.Uint(a.u)
	}
	return model.Null
}

// avgAgg is the sum divided by the count, as float64. Floats are summed
// in float64 in the order they come; integers and unsigned integers into
// an exact 128-bit total (int128), converted to float64 once at the end,
// so that their average does not depend on the order of the additions and
// a summary's sum may stand for its values (see summary.go).
type avgAgg struct {
	ints bool // an integer or unsigned field: the total is isum
	sum  float64
	isum int128
	n    int64
}

func (a *avgAgg) add(c *model.Column, i int, _ int64, _ int) {
	switch c.Kind {
	case model.KindFloat:
		a.sum += c.Floats[i]
	case model.KindInt:
		a.ints = true
		a.isum.addInt(c.Ints[i])
	case model.KindUint:
		a.ints = true
		a.isum.addUint(c.Uints[i])
	}
	a.n++
}

func (a *avgAgg) result() model.Value {
	if a.n == 0 {
		return model.Null
	}
	if a.ints {
		return model.Float(a.isum.float() / float64(a.n))
	}
	return model.Float(a.sum / float64(a.n))
}

// numRange tracks the smallest and largest value of a numeric column.
type numRange struct {
	kind       model.Kind
	minF, maxF float64
	minI, maxI int64
	minU, maxU uint64
	seen       bool
}

// floatBelow orders floats for min and max: by value, with -0 below +0
// (as summaries order them), so that which zero a bucket's min or max is
// does not depend on the order its values come in. A NaN compares false
// either way: a bucket whose first value is NaN keeps it, and a NaN after
// the first value is passed over.
func floatBelow(a, b float64) bool {
	return a < b || (a == 0 && b == 0 && math.Signbit(a) && !math.Signbit(b))
}

func (r *numRange) add(c *model.Column, i int) {
	first := !r.seen
	r.seen, r.kind = true, c.Kind
	switch c.Kind {
	case model.KindFloat:
		v := c.Floats[i]
		if first || floatBelow(v, r.minF) {
			r.minF = v
		}
		if first || floatBelow(r.maxF, v) {
			r.maxF = v
		}
	case model.KindInt:
		v := c.Ints[i]
		if first || v < r.minI {
			r.minI = v
		}
		if first || v > r.maxI {
			r.maxI = v
		}
	case model.KindUint:
		v := c.Uints[i]
		if first || v < r.minU {
			r.minU = v
		}
		if first || v > r.maxU {
			r.maxU = v
		}
	}
}

type extremeAgg struct {
	wantMin bool
	r       numRange
}

func (a *extremeAgg) add(c *model.Column, i int, _ int64, _ int) { a.r.add(c, i) }

// addRun is add of c[lo:hi] in one loop: the same comparisons in the same
// order, so the same result.
func (a *extremeAgg) addRun(c *model.Column, lo, hi int, _ int) {
	if lo >= hi {
		return
	}
	r := &a.r
	switch c.Kind {
	case model.KindFloat:
		if !r.seen {
			r.add(c, lo)
			lo++
		}
		r.kind = c.Kind
		mn, mx := r.minF, r.maxF
		for _, v := range c.Floats[lo:hi] {
			if floatBelow(v, mn) {
				mn = v
			}
			if floatBelow(mx, v) {
				mx = v
			}
		}
		r.minF, r.maxF = mn, mx
	case model.KindInt:
		if !r.seen {
			r.add(c, lo)
			lo++
		}
		r.kind = c.Kind
		mn, mx := r.minI, r.maxI
		for _, v := range c.Ints[lo:hi] {
			mn, mx = min(mn, v), max(mx, v)
		}
		r.minI, r.maxI = mn, mx
	default:
		for i := lo; i < hi; i++ {
			r.add(c, i)
		}
	}
}

func (a *extremeAgg) result() model.Value {
	if !a.r.seen {
		return model.Null
	}
	switch a.r.kind {
	case model.KindFloat:
		if a.wantMin {
			return model.Float(a.r.minF)
		}
		return model.Float(a.r.maxF)
	case model.KindInt:
		if a.wantMin {
			return model.Int(a.r.minI)
		}
		return model.Int(a.r.maxI)
	case model.KindUint:
		if a.wantMin {
			return model.Uint(a.r.minU)
		}
		return model.Uint(a.r.maxU)
	}
	return model.Null
}

// spreadAgg is max - min in the field's kind (integers wrap).
type spreadAgg struct{ r numRange }

func (a *spreadAgg) add(c *model.Column, i int, _ int64, _ int) { a.r.add(c, i) }

func (a *spreadAgg) result() model.Value {
	if !a.r.seen {
		return model.Null
	}
	switch a.r.kind {
	case model.KindFloat:
		return model.Float(a.r.maxF - a.r.minF)
	case model.KindInt:
		return model.Int(a.r.maxI - a.r.minI)
	case model.KindUint:
		return model.Uint(a.r.maxU - a.r.minU)
	}
	return model.Null
}

// edgeAgg is first (the earliest value; on a time tie the smaller series
// key) or last (the latest; on a tie the larger series key).
type edgeAgg struct {
	last bool
	seen bool
	t    int64
	rank int
	v    model.Value
}

func (a *edgeAgg) add(c *model.Column, i int, t int64, rank int) {
	if a.beats(t, rank) {
		a.seen, a.t, a.rank, a.v = true, t, rank, c.Value(i)
	}
}

// beats reports whether a value at time t of the series of this rank
// replaces the one kept so far.
func (a *edgeAgg) beats(t int64, rank int) bool {
	if !a.seen {
		return true
	}
	if a.last {
		return t > a.t || (t == a.t && rank >= a.rank)
	}
	return t < a.t || (t == a.t && rank <= a.rank)
}

func (a *edgeAgg) offer(t int64, rank int, v model.Value) {
	if a.beats(t, rank) {
		a.seen, a.t, a.rank, a.v = true, t, rank, v
	}
}

func (a *edgeAgg) result() model.Value { return a.v }

// stddevAgg computes the sample standard deviation in one pass, keeping
// only the count, mean and sum of squared deviations of the values added
// (Welford's update), so its memory does not grow with the values.
// Summaries (rollup rows, with M2) are merged apart as (n, sum, M2) with
// Chan et al.'s pairwise formula, and combined with the values' state the
// same way at the end.
type stddevAgg struct {
	// The values added one at a time: count, mean, and sum of squared
	// deviations from the mean.
	vn        int64
	mean, vm2 float64
	// The summaries merged so far: count, sum of the values as float64,
	// and sum of squared deviations from their mean.
	n      int64
	sum    float64
	m2     float64
	merged bool
}

func (a *stddevAgg) add(c *model.Column, i int, _ int64, _ int) {
	var v float64
	switch c.Kind {
	case model.KindFloat:
		v = c.Floats[i]
	case model.KindInt:
		v = float64(c.Ints[i])
	case model.KindUint:
		v = float64(c.Uints[i])
	}
	a.vn++
	d := v - a.mean
	a.mean += d / float64(a.vn)
	a.vm2 += d * (v - a.mean)
}

// addSummary merges a summary with M2 (the planner makes sure it has one
// and that its sum did not wrap).
func (a *stddevAgg) addSummary(s *Summary, _ int) {
	if s.Count == 0 {
		return
	}
	var sum float64
	switch s.First.Kind {
	case model.KindFloat:
		sum = s.SumFloat
	case model.KindInt:
		sum = float64(s.SumInt)
	case model.KindUint:
		sum = float64(s.SumUint)
	}
	a.n, a.sum, a.m2 = chan3(a.n, a.sum, a.m2, int64(s.Count), sum, s.M2)
	a.merged = true
}

// chan3 combines two sets of values given as (count, sum, M2) with Chan et
// al.'s pairwise formula.
func chan3(na int64, suma, m2a float64, nb int64, sumb, m2b float64) (int64, float64, float64) {
	if na == 0 {
		return nb, sumb, m2b
	}
	if nb == 0 {
		return na, suma, m2a
	}
	fa, fb := float64(na), float64(nb)
	d := sumb/fb - suma/fa
	return na + nb, suma + sumb, m2a + m2b + d*d*fa*fb/(fa+fb)
}

func (a *stddevAgg) result() model.Value {
	if a.vn+a.n < 2 {
		return model.Null
	}
	if !a.merged {
		return model.Float(math.Sqrt(a.vm2 / float64(a.vn-1)))
	}
	total, _, m2 := chan3(a.vn, a.mean*float64(a.vn), a.vm2, a.n, a.sum, a.m2)
	return model.Float(math.Sqrt(m2 / float64(total-1)))
}

// percentileAgg keeps the values and picks the nearest rank. The values it
// keeps are bounded by the points a query may read (Options.MaxPoints).
type percentileAgg struct {
	p    float64
	kind model.Kind
	f    []float64
	i    []int64
	u    []uint64
	ps   *pctSketch // once a rollup sketch came (sketch.go)
}

func (a *percentileAgg) add(c *model.Column, i int, _ int64, _ int) {
	a.kind = c.Kind
	switch c.Kind {
	case model.KindFloat:
		a.f = append(a.f, c.Floats[i])
	case model.KindInt:
		a.i = append(a.i, c.Ints[i])
	case model.KindUint:
		a.u = append(a.u, c.Uints[i])
	}
}

// nearestRank returns the 0-based index of the nearest-rank percentile p of
// n sorted values: rank ceil(p/100 × n), at least 1. p × n is computed
// before dividing by 100 so that integral ranks come out exact.
func nearestRank(p float64, n int) int {
	r := int(math.Ceil(p * float64(n) / 100))
	r = max(r, 1)
	r = min(r, n)
	return r - 1
}

func (a *percentileAgg) result() model.Value {
	if a.ps != nil {
		return a.sketchResult()
	}
	switch a.kind {
	case model.KindFloat:
		if len(a.f) == 0 {
			break
		}
		slices.Sort(a.f)
		return model.Float(a.f[nearestRank(a.p, len(a.f))])
	case model.KindInt:
		if len(a.i) == 0 {
			break
		}
		slices.Sort(a.i)
		return model.Int(a.i[nearestRank(a.p, len(a.i))])
	case model.KindUint:
		if len(a.u) == 0 {
			break
		}
		slices.Sort(a.u)
		return model.Uint(a.u[nearestRank(a.p, len(a.u))])
	}
	return model.Null
}

// runAdder is implemented by aggregators that can take the values
// c[lo:hi] of one series at once.
type runAdder interface {
	addRun(c *model.Column, lo, hi int, rank int)
}

func (a *countAgg) addRun(_ *model.Column, lo, hi int, _ int) { a.n += int64(hi - lo) }

// sumRun adds up vs in order, in a local so the loop stays in registers.
func sumRun[T float64 | int64 | uint64](acc T, vs []T) T {
	for _, v := range vs {
		acc += v
	}
	return acc
}

func (a *sumAgg) addRun(c *model.Column, lo, hi int, _ int) {
	a.kind = c.Kind
	switch c.Kind {
	case model.KindFloat:
		a.f = sumRun(a.f, c.Floats[lo:hi])
	case model.KindInt:
		a.i = sumRun(a.i, c.Ints[lo:hi])
	case model.KindUint:
		a.u = sumRun(a.u, c.Uints[lo:hi])
	}
}

func (a *avgAgg) addRun(c *model.Column, lo, hi int, _ int) {
	switch c.Kind {
	case model.KindFloat:
		a.sum = sumRun(a.sum, c.Floats[lo:hi])
	case model.KindInt:
		a.ints = true
		a.isum.addInts(c.Ints[lo:hi])
	case model.KindUint:
		a.ints = true
		a.isum.addUints(c.Uints[lo:hi])
	}
	a.n += int64(hi - lo)
}

// addSummary methods: s stands for values of one series (see summary.go
// for when the planner uses them).

func (a *countAgg) addSummary(s *Summary, _ int) { a.n += int64(s.Count) }

// addSummary adds the summary's sum; integer sums wrap as adding the values
// one at a time does.
func (a *sumAgg) addSummary(s *Summary, _ int) {
	a.kind = s.First.Kind
	switch a.kind {
	case model.KindFloat:
		a.f += s.SumFloat
	case model.KindInt:
		a.i += s.SumInt
	case model.KindUint:
		a.u += s.SumUint
	}
}

// addSummary adds the summary's sum. For integers the caller makes sure
// that the sum did not wrap (exactFor): it is then the exact total of the
// values, which the 128-bit total takes as it would the values.
func (a *avgAgg) addSummary(s *Summary, _ int) {
	switch s.First.Kind {
	case model.KindFloat:
		a.sum += s.SumFloat
	case model.KindInt:
		a.ints = true
		a.isum.addInt(s.SumInt)
	case model.KindUint:
		a.ints = true
		a.isum.addUint(s.SumUint)
	}
	a.n += int64(s.Count)
}

// addSummary merges the summary's Min and Max as add would the values: on
// a tie the earlier value stays.
func (r *numRange) addSummary(s *Summary) {
	first := !r.seen
	r.seen, r.kind = true, s.Min.Kind
	switch r.kind {
	case model.KindFloat:
		if lo := s.Min.Float(); first || floatBelow(lo, r.minF) {
			r.minF = lo
		}
		if hi := s.Max.Float(); first || floatBelow(r.maxF, hi) {
			r.maxF = hi
		}
	case model.KindInt:
		if lo := s.Min.Int(); first || lo < r.minI {
			r.minI = lo
		}
		if hi := s.Max.Int(); first || hi > r.maxI {
			r.maxI = hi
		}
	case model.KindUint:
		if lo := s.Min.Uint(); first || lo < r.minU {
			r.minU = lo
		}
		if hi := s.Max.Uint(); first || hi > r.maxU {
			r.maxU = hi
		}
	}
}

func (a *extremeAgg) addSummary(s *Summary, _ int) { a.r.addSummary(s) }
func (a *spreadAgg) addSummary(s *Summary, _ int)  { a.r.addSummary(s) }

// addSummary offers the summary's First (at MinTime) or Last (at MaxTime).
func (a *edgeAgg) addSummary(s *Summary, rank int) {
	if a.last {
		a.offer(s.MaxTime, rank, s.Last)
	} else {
		a.offer(s.MinTime, rank, s.First)
	}
}
