package model

import (
	"math"

	"github.com/soltixdb/soltix/internal/sketch"
)

// FloatRange returns the min and max of a non-empty vs as colstore block
// statistics and summaries define them: NaN is skipped unless every value
// is NaN (then both are the first value), and -0 ranks below +0.
func FloatRange(vs []float64) (lo, hi float64) {
	lo, hi = vs[0], vs[0]
	for _, v := range vs {
		if v != v {
			continue
		}
		if lo != lo || v < lo || (v == lo && math.Signbit(v)) {
			lo = v
		}
		if hi != hi || v > hi || (v == hi && !math.Signbit(v)) {
			hi = v
		}
	}
	return lo, hi
}

// Summarize returns the summary of every value of a non-empty column, with
// M2 (HasM2 set). Min and max follow the colstore block statistics: NaN is
// skipped unless every value is NaN, and -0 ranks below +0.
func Summarize(c *Column) Summary {
	n := c.Len()
	s := Summary{Count: n, MinTime: c.Times[0], MaxTime: c.Times[n-1], First: c.Value(0), Last: c.Value(n - 1), HasM2: true}
	switch c.Kind {
	case KindFloat:
		lo, hi := FloatRange(c.Floats)
		var sum float64
		for _, v := range c.Floats {
			sum += v
		}
		s.Min, s.Max, s.SumFloat = Float(lo), Float(hi), sum
		mean := sum / float64(n)
		for _, v := range c.Floats {
			d := v - mean
			s.M2 += d * d
		}
	case KindInt:
		lo, hi, sum, m2 := intStats(c.Ints)
		s.Min, s.Max, s.SumInt, s.M2 = Int(lo), Int(hi), sum, m2
	case KindUint:
		lo, hi, sum, m2 := intStats(c.Uints)
		s.Min, s.Max, s.SumUint, s.M2 = Uint(lo), Uint(hi), sum, m2
	}
	return s
}

// intStats returns the min, max, wrapping sum and M2 (over the values as
// float64) of non-empty integers.
func intStats[T int64 | uint64](vs []T) (lo, hi, sum T, m2 float64) {
	lo, hi = vs[0], vs[0]
	var fsum float64
	for _, v := range vs {
		sum += v
		fsum += float64(v)
		lo, hi = min(lo, v), max(hi, v)
	}
	mean := fsum / float64(len(vs))
	for _, v := range vs {
		d := float64(v) - mean
		m2 += d * d
	}
	return lo, hi, sum, m2
}

// Mean returns the mean of the summarised values as float64 (NaN when the
// summary is empty or of a non-numeric kind). Integer sums are converted
// as they are, so the mean is exact only while they did not wrap.
func (s *Summary) Mean() float64 {
	if s.Count == 0 {
		return math.NaN()
	}
	switch s.First.Kind {
	case KindFloat:
		return s.SumFloat / float64(s.Count)
	case KindInt:
		return float64(s.SumInt) / float64(s.Count)
	case KindUint:
		return float64(s.SumUint) / float64(s.Count)
	}
	return math.NaN()
}

// SketchOf returns the quantile sketch of the values of a numeric column,
// or nil when the column is of another kind or holds NaN or ±Inf.
func SketchOf(c *Column) *sketch.Sketch {
	sk := &sketch.Sketch{}
	switch c.Kind {
	case KindFloat:
		for _, v := range c.Floats {
			if !sk.Add(v) {
				return nil
			}
		}
	case KindInt:
		sk.AddInts(c.Ints)
	case KindUint:
		sk.AddUints(c.Uints)
	default:
		return nil
	}
	return sk
}

// Merge folds o, whose values all come after s's (o.MinTime > s.MaxTime),
// into s. An empty s becomes a copy of o (its Sketch cloned). M2 is
// combined with Chan et al.'s pairwise formula; HasM2 stays set only when
// both had it, and Sketch only when both have one (merged).
func (s *Summary) Merge(o *Summary) {
	if o.Count == 0 {
		return
	}
	if s.Count == 0 {
		*s = *o
		if o.Sketch != nil {
			s.Sketch = o.Sketch.Clone()
		}
		return
	}
	if s.Sketch != nil && o.Sketch != nil {
		s.Sketch.Merge(o.Sketch)
	} else {
		s.Sketch = nil // a part without one: no sketch of the whole
	}
	if s.HasM2 && o.HasM2 {
		na, nb := float64(s.Count), float64(o.Count)
		d := o.Mean() - s.Mean()
		s.M2 = s.M2 + o.M2 + d*d*na*nb/(na+nb)
	} else {
		s.HasM2, s.M2 = false, 0
	}
	s.Count += o.Count
	s.MaxTime, s.Last = o.MaxTime, o.Last
	switch s.First.Kind {
	case KindFloat:
		s.SumFloat += o.SumFloat
		lo, hi, v, w := s.Min.Float(), s.Max.Float(), o.Min.Float(), o.Max.Float()
		if v == v && (lo != lo || v < lo || (v == lo && math.Signbit(v))) {
			s.Min = o.Min
		}
		if w == w && (hi != hi || w > hi || (w == hi && !math.Signbit(w))) {
			s.Max = o.Max
		}
	case KindInt:
		s.SumInt += o.SumInt
		s.Min, s.Max = Int(min(s.Min.Int(), o.Min.Int())), Int(max(s.Max.Int(), o.Max.Int()))
	case KindUint:
		s.SumUint += o.SumUint
		s.Min, s.Max = Uint(min(s.Min.Uint(), o.Min.Uint())), Uint(max(s.Max.Uint(), o.Max.Uint()))
	}
}
