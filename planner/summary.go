package planner

// Aggregating from summaries.
//
// A source that implements SummarySource can answer a run of a field's
// values that lies inside one GROUP BY bucket of the query's range with a
// Summary (from colstore block statistics) instead of the values. The
// planner uses this only where the answer stays what the values would give:
//
//   - Only for an aggregate query, and only for a series with no condition
//     left to evaluate per row (the series that would otherwise go through
//     aggregateRuns): with a condition, every row has to be looked at.
//   - Only for a column whose every aggregate is count, sum, avg, min, max,
//     spread, first or last. A column with stddev or percentile needs its
//     values and is read with Read, as before; the other columns of the same
//     query still use summaries.
//   - A summary is used only when it is exact for the column (exactSummary);
//     otherwise the values of its time range are read instead. This covers
//     three cases. avg of an integer or unsigned field sums float64(v) one
//     value at a time; a summary's exact integer sum is the same number only
//     when n × max(|min|, |max|) <= 2^53, where every partial sum is an
//     integer that float64 holds exactly (and no wrap happened). min and
//     max keep the first of equal values, so min of (+0, -0) is +0, while
//     a summary orders -0 below +0: a summary whose Min is -0 or whose Max
//     is +0 is used only when its First is that same zero (the first value
//     is then the one kept). A float summary whose sum is NaN may hold NaN
//     values, which min and max treat by position; it is not used.
//
// Sums and averages of floats then differ from a computation over the
// values only by summation order; everything else is bit-identical.

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/soltixdb/soltix/model"
)

// summaryAdder is implemented by the aggregators that can take a Summary
// of values of one series instead of the values.
type summaryAdder interface {
	addSummary(s *Summary, rank int)
}

var (
	_ summaryAdder = (*countAgg)(nil)
	_ summaryAdder = (*sumAgg)(nil)
	_ summaryAdder = (*avgAgg)(nil)
	_ summaryAdder = (*extremeAgg)(nil)
	_ summaryAdder = (*spreadAgg)(nil)
	_ summaryAdder = (*edgeAgg)(nil)
)

// summarised reports whether the aggregate fn can be computed from
// summaries (newAggregator then returns a summaryAdder).
func summarised(fn string) bool {
	switch fn {
	case "count", "sum", "avg", "min", "max", "spread", "first", "last":
		return true
	}
	return false
}

// chooseSummaries decides which aggregated columns are read as parts, when
// the source can give summaries. It needs p.items, p.read and p.aggCol.
func (p *plan) chooseSummaries() {
	ss, ok := p.src.(SummarySource)
	if !ok {
		return
	}
	n := len(p.read)
	p.sumCol = make([]bool, n)
	p.minMax = make([]bool, n)
	p.intAvg = make([]bool, n)
	copy(p.sumCol, p.aggCol)
	for i := range p.items {
		it := &p.items[i]
		switch {
		case !summarised(it.fn):
			p.sumCol[it.col] = false
		case it.fn == "min" || it.fn == "max":
			p.minMax[it.col] = true
		case it.fn == "avg" && it.kind != model.KindFloat:
			p.intAvg[it.col] = true
		}
	}
	if slices.Contains(p.sumCol, true) {
		p.parts = ss
	}
}

// whole reports whether [lo, hi] lies inside the query's range and inside
// one GROUP BY bucket, so that a summary of that range can be used.
func (p *plan) whole(lo, hi int64) bool {
	if lo > hi || lo < p.rng.lo || hi > p.rng.hi {
		return false
	}
	_, end := p.bk.span(lo)
	return hi <= end
}

// aggregateParts is aggregateRuns for a source that can give summaries: the
// aggregated columns that need values are read with Read, and each of the
// others with ReadParts.
func (ex *executor) aggregateParts(ctx context.Context, tags model.Tags, rank int) error {
	p := ex.p
	sa := seriesAgg{ex: ex, tags: tags, rank: rank}
	var fields []string
	var cis []int
	for ci, f := range p.read {
		if p.aggCol[ci] && !p.sumCol[ci] {
			fields = append(fields, f)
			cis = append(cis, ci)
		}
	}
	if len(fields) > 0 {
		cols, err := p.src.Read(ctx, p.coll, tags, fields, p.rng.lo, p.rng.hi)
		if err != nil {
			return err
		}
		if len(cols) != len(fields) {
			return fmt.Errorf("planner: source returned %d columns for %d fields", len(cols), len(fields))
		}
		for i := range cols {
			if err := p.checkKind(cols[i].Kind, cols[i].Len(), cis[i]); err != nil {
				return err
			}
			sa.values(&cols[i], cis[i])
		}
	}
	for ci, f := range p.read {
		if !p.sumCol[ci] {
			continue
		}
		parts, err := p.parts.ReadParts(ctx, p.coll, tags, f, p.rng.lo, p.rng.hi, p.whole)
		if err != nil {
			return err
		}
		if err := sa.parts(ctx, parts, ci); err != nil {
			return err
		}
	}
	return nil
}

// parts feeds the parts of aggregated column ci to the aggregators.
func (sa *seriesAgg) parts(ctx context.Context, parts []Part, ci int) error {
	p := sa.ex.p
	field := p.read[ci]
	var last int64 // the latest time of the parts so far
	started := false
	for i := range parts {
		pt := &parts[i]
		s := pt.Summary
		if s == nil {
			c := &pt.Values
			if c.Len() == 0 {
				continue
			}
			if err := p.checkKind(c.Kind, c.Len(), ci); err != nil {
				return err
			}
			if started && c.Times[0] <= last {
				return fmt.Errorf("planner: source returned the parts of field %q out of time order", field)
			}
			started, last = true, c.Times[c.Len()-1]
			sa.values(c, ci)
			continue
		}
		if s.Count == 0 {
			continue
		}
		if err := p.checkSummary(s, ci); err != nil {
			return err
		}
		if started && s.MinTime <= last {
			return fmt.Errorf("planner: source returned the parts of field %q out of time order", field)
		}
		started, last = true, s.MaxTime
		if !p.exactSummary(s, ci) {
			cols, err := p.src.Read(ctx, p.coll, sa.tags, []string{field}, s.MinTime, s.MaxTime)
			if err != nil {
				return err
			}
			if len(cols) != 1 {
				return fmt.Errorf("planner: source returned %d columns for 1 field", len(cols))
			}
			if err := p.checkKind(cols[0].Kind, cols[0].Len(), ci); err != nil {
				return err
			}
			sa.values(&cols[0], ci)
			continue
		}
		sa.summary(s, ci)
	}
	return nil
}

// summary feeds a summary, which checkSummary found to lie inside one
// bucket of the query's range, to the aggregators of column ci.
func (sa *seriesAgg) summary(s *Summary, ci int) {
	ex := sa.ex
	b := ex.bucket(sa.group(), s.MinTime)
	ex.note(s.MinTime)
	ex.note(s.MaxTime)
	for _, k := range ex.p.colItems[ci] {
		b.aggs[k].(summaryAdder).addSummary(s, sa.rank)
	}
}

// checkKind checks that a column of n values of kind k returned for read
// column ci has the field's kind.
func (p *plan) checkKind(k model.Kind, n, ci int) error {
	if want := p.fields[p.read[ci]]; n > 0 && k != want {
		return fmt.Errorf("planner: source returned field %q as %s, want %s", p.read[ci], k, want)
	}
	return nil
}

// checkSummary checks that a summary of read column ci is one the planner
// asked for: of the field's kind, and over a time range inside one bucket
// of the query's range.
func (p *plan) checkSummary(s *Summary, ci int) error {
	field, want := p.read[ci], p.fields[p.read[ci]]
	if s.Count < 0 || s.First.Kind != want || s.Last.Kind != want ||
		(want.Numeric() && (s.Min.Kind != want || s.Max.Kind != want)) {
		return fmt.Errorf("planner: source returned an invalid summary of %s field %q", want, field)
	}
	if !p.whole(s.MinTime, s.MaxTime) {
		return fmt.Errorf("planner: source returned a summary of field %q over [%d, %d], which is not inside one bucket of the query's range", field, s.MinTime, s.MaxTime)
	}
	return nil
}

// exactSummary reports whether the aggregates of read column ci computed
// from s are what its values would give (see the top of this file).
func (p *plan) exactSummary(s *Summary, ci int) bool {
	switch s.First.Kind {
	case model.KindFloat:
		if math.IsNaN(s.SumFloat) {
			return false
		}
		if p.minMax[ci] {
			first := math.Float64bits(s.First.Float())
			if isZero(s.Min, true) && first != math.Float64bits(s.Min.Float()) {
				return false
			}
			if isZero(s.Max, false) && first != math.Float64bits(s.Max.Float()) {
				return false
			}
		}
	case model.KindInt:
		if p.intAvg[ci] {
			return exactFloatSum(s.Count, max(absInt(s.Min.Int()), absInt(s.Max.Int())))
		}
	case model.KindUint:
		if p.intAvg[ci] {
			return exactFloatSum(s.Count, s.Max.Uint())
		}
	}
	return true
}

// isZero reports whether v is the float -0 (neg) or +0 (!neg).
func isZero(v model.Value, neg bool) bool {
	return v.Float() == 0 && math.Signbit(v.Float()) == neg
}

func absInt(i int64) uint64 {
	if i < 0 {
		return -uint64(i)
	}
	return uint64(i)
}

// exactFloatSum reports whether n integers of magnitude at most m add up
// exactly in float64 whatever their order: every partial sum is then an
// integer of magnitude at most 2^53.
func exactFloatSum(n int, m uint64) bool {
	return m == 0 || uint64(n) <= (1<<53)/m
}
