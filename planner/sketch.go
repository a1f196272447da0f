package planner

// Percentiles from rollup sketches.
//
// A rollup row of 1d, 1M or 1y carries the quantile sketch of its values
// (internal/sketch: relative error sketch.Alpha, 1%) unless it was written
// before sketches or its bucket holds NaN or ±Inf; storage's 1h rows carry
// none (their bytes would cost 24 times those of 1d sketches), so a 1h
// row is replaced by its values like any row without a sketch. When a query reads rollups (it has no
// condition on fields, levels=raw is not asked, the collection keeps
// rollups), percentile is summarised like stddev: each whole rollup row
// with a sketch adds its sketch (merged, never modified), a row without
// one is replaced by the values of its range, and the raw segments at the
// edges of the range are read as values. The result then adds the values
// into a copy of the merged sketch and picks the nearest rank of all of
// them: NaN values rank lowest (as the exact sort puts them), then -Inf,
// the sketch, +Inf. The sketch's estimate is clamped to the smallest and
// largest finite value seen (so percentile 0 and 100 are exact) and, for
// integer fields, rounded to an integer. With no sketch used the answer is
// the exact nearest-rank value, as before. The response's Stats notes say
// when a sketch was used, with its bound (sketchNote).

import (
	"fmt"
	"math"

	"github.com/soltixdb/soltix/internal/sketch"
	"github.com/soltixdb/soltix/model"
)

// sketchNote is the Stats note (and EXPLAIN line) of a query whose
// percentile used rollup sketches.
var sketchNote = fmt.Sprintf("percentile from rollup sketches: approximate, relative error ≤ %g%% (levels=raw gives the exact value)", sketch.Alpha*100)

var _ summaryAdder = (*percentileAgg)(nil)

// pctSketch is what percentileAgg keeps once a summary came with a sketch.
type pctSketch struct {
	sk *sketch.Sketch
	// The finite range of every value, summaries' and kept values'.
	lo, hi model.Value
}

// addSummary merges s's sketch. A summary without one is used only where
// its raw data has expired (summary.go counts it as approximate): its
// values are then missing from the percentile.
func (a *percentileAgg) addSummary(s *Summary, _ int) {
	if s.Sketch == nil || s.Count == 0 {
		return
	}
	a.kind = s.First.Kind
	if a.ps == nil {
		a.ps = &pctSketch{sk: s.Sketch.Clone(), lo: s.Min, hi: s.Max}
		return
	}
	a.ps.sk.Merge(s.Sketch)
	a.ps.widen(s.Min)
	a.ps.widen(s.Max)
}

// widen extends the range to a finite v.
func (ps *pctSketch) widen(v model.Value) {
	switch v.Kind {
	case model.KindFloat:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return
		}
		if f < ps.lo.Float() {
			ps.lo = v
		}
		if f > ps.hi.Float() {
			ps.hi = v
		}
	case model.KindInt:
		ps.lo, ps.hi = model.Int(min(ps.lo.Int(), v.Int())), model.Int(max(ps.hi.Int(), v.Int()))
	case model.KindUint:
		ps.lo, ps.hi = model.Uint(min(ps.lo.Uint(), v.Uint())), model.Uint(max(ps.hi.Uint(), v.Uint()))
	}
}

// sketchResult is result once a sketch was merged.
func (a *percentileAgg) sketchResult() model.Value {
	ps := a.ps
	sk := ps.sk.Clone()
	var nan, negInf, posInf uint64
	for _, v := range a.f {
		switch {
		case math.IsNaN(v):
			nan++
		case math.IsInf(v, -1):
			negInf++
		case math.IsInf(v, 1):
			posInf++
		default:
			sk.Add(v)
			ps.widen(model.Float(v))
		}
	}
	for _, v := range a.i {
		sk.Add(float64(v))
		ps.widen(model.Int(v))
	}
	for _, v := range a.u {
		sk.Add(float64(v))
		ps.widen(model.Uint(v))
	}
	n := nan + negInf + sk.Count() + posInf
	r := uint64(nearestRank(a.p, int(n)))
	switch {
	case r < nan:
		return model.Float(math.NaN())
	case r < nan+negInf:
		return model.Float(math.Inf(-1))
	case r >= n-posInf:
		return model.Float(math.Inf(1))
	}
	// The smallest and largest finite values are known exactly.
	switch r {
	case nan + negInf:
		return ps.lo
	case n - posInf - 1:
		return ps.hi
	}
	est := sk.Quantile(r - nan - negInf)
	switch a.kind {
	case model.KindInt:
		lo, hi := ps.lo.Int(), ps.hi.Int()
		switch {
		case est <= float64(lo):
			return model.Int(lo)
		case est >= float64(hi):
			return model.Int(hi)
		}
		return model.Int(min(max(int64(math.Round(est)), lo), hi))
	case model.KindUint:
		lo, hi := ps.lo.Uint(), ps.hi.Uint()
		switch {
		case est <= float64(lo):
			return model.Uint(lo)
		case est >= float64(hi):
			return model.Uint(hi)
		}
		return model.Uint(min(max(uint64(math.Round(est)), lo), hi))
	}
	return model.Float(min(max(est, ps.lo.Float()), ps.hi.Float()))
}

// explainSketchNote is EXPLAIN's note for a plan whose percentile reads
// rollup sketches.
var explainSketchNote = "percentile read from rollup sketches for the segments at 1d and above: " + sketchNote

// sketchPlanned reports whether a percentile of the plan reads segments
// at 1d or coarser for some series, where storage's rows have sketches
// (its 1h rows have none: storage/rollup_build.go, buildSketches).
func (p *plan) sketchPlanned() bool {
	if p.parts == nil {
		return false
	}
	for ci, need := range p.needSketch {
		if !need || !p.sumCol[ci] {
			continue
		}
		for _, seg := range p.segs {
			if seg.level >= model.Level1d {
				return p.someSeriesSummarised()
			}
		}
	}
	return false
}

// someSeriesSummarised reports whether some series has no condition left
// to evaluate per row, and so is read with summaries.
func (p *plan) someSeriesSummarised() bool {
	for rank, tags := range p.series {
		if p.foldFor(rank, tags) == condTrue {
			return true
		}
	}
	return false
}
