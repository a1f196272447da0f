package planner

// Aggregating from summaries.
//
// A source that implements SummarySource can answer a run of a field's
// values that lies inside one GROUP BY bucket of the query's range with a
// Summary (from colstore block statistics, or a rollup row of level 1h, 1d,
// 1M or 1y) instead of the values. The planner splits the range into
// segments, each read at a level (segments.go), and for each summarised
// column asks ReadParts once per segment, in time order; storage answers
// from that level or finer ones. The planner uses a summary only where the
// answer stays what the values would give:
//
//   - Only for an aggregate query, and only for a series with no condition
//     left to evaluate per row (the series that would otherwise go through
//     aggregateRuns): with a condition, every row has to be looked at.
//   - Only for a column whose every aggregate is count, sum, avg, min, max,
//     spread, first, last, stddev or percentile. A column with stddev or
//     percentile uses summaries only when the query reads rollups (block
//     statistics carry no M2 and no quantile sketch), and reads its raw
//     segments with Read; percentile uses a rollup row only when it has a
//     sketch (sketch.go).
//   - A summary is used only when it is exact for the column (exactSummary);
//     otherwise the values of its time range are read instead. avg of an
//     integer or unsigned field adds the values into an exact 128-bit
//     total (int128, intsum.go), converted to float64 once at the end; a
//     summary's integer sum is added into that total, which is then the
//     same number whatever the order and grouping of the additions, when
//     the sum cannot have wrapped: n × max(|min|, |max|) fits int64 (for
//     unsigned, n × max fits uint64). min and max order
//     -0 below +0 (floatBelow), as summaries do; a summary whose Min is -0
//     or whose Max is +0 is still used only when its First is that same
//     zero, a rule from when min and max kept the first of equal zeros
//     that now only costs a read in that rare case. A float summary whose
//     sum is NaN may hold NaN values, which min and max treat by position
//     (a NaN first is kept, later ones passed over); it is not used. For stddev a
//     summary needs M2 (HasM2), a finite float sum, and for integers a sum
//     that cannot have wrapped (n × max(|min|, |max|) fits the kind).
//   - stddev folds the values it is given into (n, mean, M2) one at a time
//     (Welford's update) and, apart, merges the summaries as (n, sum as
//     float64, M2) with Chan et al.'s pairwise formula (the order does not
//     matter: summaries of one bucket come from several series). The
//     result combines the two by the same formula; with no summaries it is
//     the values' state alone.
//   - A source that reads values for the plan elsewhere (a storage node)
//     may reduce them to summaries itself for the fields ReadSet.Reduce
//     lists (scope.go), only for aggregates whose result does not change
//     at all (model.Part.Reduced): avg of integers is one of them, its
//     total being exact; the plan counts such a summary as the points and
//     blocks it stands for.
//   - Where raw data has expired (before SummarySource.Rollups' rawFrom),
//     a rollup row that is not exact is used anyway, as nothing else is
//     left, and the result's Stats says so.
//
// Sums, averages and standard deviations of floats then differ from a
// computation over the values only by rounding (summation order), and so
// does stddev of integers (summed as float64); everything else, avg of
// integers included, is bit-identical.

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

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
	_ summaryAdder = (*stddevAgg)(nil)
)

// summarised reports whether the aggregate fn can be computed from
// summaries (newAggregator then returns a summaryAdder). stddev needs
// summaries with M2, which only rollup rows carry.
func summarised(fn string, rollups bool) bool {
	switch fn {
	case "count", "sum", "avg", "min", "max", "spread", "first", "last":
		return true
	case "stddev", "percentile":
		return rollups
	}
	return false
}

// chooseSummaries decides which aggregated columns are read as parts, when
// the source can give summaries, and the top level of the segments. It
// needs p.items, p.read, p.aggCol, p.bk, p.rollups and p.opts.
func (p *plan) chooseSummaries() {
	ss, ok := p.src.(SummarySource)
	if !ok {
		return
	}
	top := model.LevelRaw
	if p.rollups && !p.opts.RawOnly {
		top = p.bk.topLevel()
	}
	n := len(p.read)
	p.sumCol = make([]bool, n)
	p.minMax = make([]bool, n)
	p.intAvg = make([]bool, n)
	p.needM2 = make([]bool, n)
	p.needSketch = make([]bool, n)
	copy(p.sumCol, p.aggCol)
	for i := range p.items {
		it := &p.items[i]
		switch {
		case !summarised(it.fn, top > model.LevelRaw):
			p.sumCol[it.col] = false
		case it.fn == "min" || it.fn == "max":
			p.minMax[it.col] = true
		case it.fn == "avg" && it.kind != model.KindFloat:
			p.intAvg[it.col] = true
		case it.fn == "stddev":
			p.needM2[it.col] = true
		case it.fn == "percentile":
			p.needSketch[it.col] = true
		}
	}
	if slices.Contains(p.sumCol, true) {
		p.parts = ss
		p.top = top
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
// others with ReadParts, once per segment.
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
		err := ex.readEach(ctx, tags, fields, p.rng.lo, p.rng.hi, true, func(cols []model.Column) error {
			for i := range cols {
				if err := p.checkKind(cols[i].Kind, cols[i].Len(), cis[i]); err != nil {
					return err
				}
				sa.values(&cols[i], cis[i])
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for ci, f := range p.read {
		if !p.sumCol[ci] {
			continue
		}
		var ord partOrder
		for _, seg := range p.segs {
			ex.segmentRead(seg)
			if p.valuesAt(ci, seg) {
				// Block statistics have no M2 or sketch: read the values.
				err := ex.readEach(ctx, tags, []string{f}, seg.lo, seg.hi, false, func(cols []model.Column) error {
					return sa.segmentValues(&cols[0], ci, seg, &ord)
				})
				if err != nil {
					return err
				}
				continue
			}
			parts, err := readParts(ctx, p.parts, p.coll, tags, f, seg.lo, seg.hi, p.whole, seg.level, p.needSketch[ci])
			if err != nil {
				return err
			}
			if err := sa.parts(ctx, parts, ci, seg, &ord); err != nil {
				return err
			}
		}
	}
	return nil
}

// read reads fields of one series over [lo, hi] with Read, checks the
// number of columns and counts the values decoded. whole says that the
// read stands for the query's whole range (not a segment or a summary's
// range), for the note on expired raw data.
func (ex *executor) read(ctx context.Context, tags model.Tags, fields []string, lo, hi int64, whole bool) ([]model.Column, error) {
	p := ex.p
	cols, err := p.src.Read(ctx, p.coll, tags, fields, lo, hi)
	if err != nil {
		return nil, err
	}
	if len(cols) != len(fields) {
		return nil, fmt.Errorf("planner: source returned %d columns for %d fields", len(cols), len(fields))
	}
	var pts int64
	for i := range cols {
		pts += int64(cols[i].Len())
	}
	ex.levels[model.LevelRaw].Points += pts
	if whole && lo < p.rawFrom {
		ex.rawRead = true
	}
	if err := ex.spend(pts); err != nil {
		return nil, err
	}
	return cols, nil
}

// readEach is read in chunks: through LimitSource, when the source has
// it, it reads at most maxChunkRows rows at a time and hands each chunk's
// columns to fn, so that the points read are counted and the context
// checked before each chunk is decoded, and memory holds one chunk.
// Otherwise it hands fn everything at once. Chunks come in time order.
func (ex *executor) readEach(ctx context.Context, tags model.Tags, fields []string, lo, hi int64, whole bool, fn func([]model.Column) error) error {
	p := ex.p
	ls, ok := p.src.(LimitSource)
	if !ok {
		cols, err := ex.read(ctx, tags, fields, lo, hi, whole)
		if err != nil {
			return err
		}
		return fn(cols)
	}
	if whole && lo < p.rawFrom {
		ex.rawRead = true
	}
	var r rows
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		cols, err := ls.ReadLimit(ctx, p.coll, tags, fields, lo, hi, maxChunkRows, false)
		if err != nil {
			return err
		}
		if len(cols) != len(fields) {
			return fmt.Errorf("planner: source returned %d columns for %d fields", len(cols), len(fields))
		}
		var pts int64
		last := int64(math.MinInt64)
		for i := range cols {
			if n := cols[i].Len(); n > 0 {
				pts += int64(n)
				last = max(last, cols[i].Times[n-1])
			}
		}
		ex.levels[model.LevelRaw].Points += pts
		if err := ex.spend(pts); err != nil {
			return err
		}
		if err := fn(cols); err != nil {
			return err
		}
		if pts < int64(maxChunkRows) {
			return nil // fewer rows than asked for: the range is done
		}
		r.reset(cols)
		n := 0
		for n < maxChunkRows && r.next() {
			n++
		}
		if n < maxChunkRows || last >= hi {
			return nil
		}
		lo = last + 1
	}
}

// segmentRead notes a read of segment seg, for the notes on expired raw
// data.
func (ex *executor) segmentRead(seg segment) {
	if seg.lo >= ex.p.rawFrom {
		return
	}
	if ex.p.top > model.LevelRaw {
		ex.rollupRead = true
	} else {
		ex.rawRead = true
	}
}

// partOrder tracks the latest time of the parts of one column of one
// series fed so far, to check that they come in time order.
type partOrder struct {
	last    int64
	started bool
}

// parts feeds the parts of aggregated column ci read for segment seg to
// the aggregators.
func (sa *seriesAgg) parts(ctx context.Context, parts []Part, ci int, seg segment, ord *partOrder) error {
	ex := sa.ex
	p := ex.p
	field := p.read[ci]
	for i := range parts {
		if i%256 == 255 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		pt := &parts[i]
		s := pt.Summary
		if s == nil {
			ex.levels[model.LevelRaw].Points += int64(pt.Values.Len())
			if err := ex.spend(int64(pt.Values.Len())); err != nil {
				return err
			}
			if err := sa.segmentValues(&pt.Values, ci, seg, ord); err != nil {
				return err
			}
			continue
		}
		if s.Count == 0 {
			continue
		}
		if err := p.checkSummary(s, ci); err != nil {
			return err
		}
		if s.MinTime < seg.lo || s.MaxTime > seg.hi || pt.Level > model.Level1y || pt.Level > seg.level {
			return fmt.Errorf("planner: source returned a summary of field %q over [%d, %d] at level %s, outside the segment [%d, %d] at level %s it was asked for", field, s.MinTime, s.MaxTime, pt.Level, seg.lo, seg.hi, seg.level)
		}
		if ord.started && s.MinTime <= ord.last {
			return fmt.Errorf("planner: source returned the parts of field %q out of time order", field)
		}
		ord.started, ord.last = true, s.MaxTime
		if !p.exactSummary(s, ci) {
			if pt.Level > model.LevelRaw && s.MinTime < p.rawFrom {
				// The raw data is gone: the rollup row is all there is.
				ex.approx++
			} else {
				cols, err := ex.read(ctx, sa.tags, []string{field}, s.MinTime, s.MaxTime, false)
				if err != nil {
					return err
				}
				if err := p.checkKind(cols[0].Kind, cols[0].Len(), ci); err != nil {
					return err
				}
				sa.values(&cols[0], ci)
				continue
			}
		}
		if pt.Reduced {
			// Values and block statistics the source merged: counted
			// as what they are.
			ex.levels[model.LevelRaw].Points += int64(pt.Points)
			ex.levels[model.LevelRaw].Blocks += int64(pt.Blocks)
			if err := ex.spend(int64(pt.Points) + int64(pt.Blocks)); err != nil {
				return err
			}
			sa.summary(s, ci)
			continue
		}
		if err := ex.spend(1); err != nil {
			return err
		}
		if pt.Level == model.LevelRaw {
			ex.levels[model.LevelRaw].Blocks++
		} else {
			ex.levels[pt.Level].Rows++
		}
		sa.summary(s, ci)
	}
	return nil
}

// segmentValues feeds values of aggregated column ci read for segment seg
// to the aggregators, after checking their kind and order.
func (sa *seriesAgg) segmentValues(c *model.Column, ci int, seg segment, ord *partOrder) error {
	p := sa.ex.p
	if c.Len() == 0 {
		return nil
	}
	if err := p.checkKind(c.Kind, c.Len(), ci); err != nil {
		return err
	}
	if ord.started && c.Times[0] <= ord.last {
		return fmt.Errorf("planner: source returned the parts of field %q out of time order", p.read[ci])
	}
	ord.started, ord.last = true, c.Times[c.Len()-1]
	sa.valuesIn(c, ci, max(seg.lo, p.rng.lo), min(seg.hi, p.rng.hi))
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
	if s.Sketch != nil && ex.p.needSketch[ci] {
		ex.sketched = true
	}
}

// stats returns the statistics of the run.
func (ex *executor) stats() *Stats {
	st := ex.readStats()
	if ex.sketched {
		st.Notes = append(st.Notes, sketchNote)
	}
	return st
}

// readStats is stats without the note on sketches.
func (ex *executor) readStats() *Stats {
	p := ex.p
	st := &Stats{Levels: []LevelStats{}}
	for l, ls := range ex.levels {
		if ls.Rows != 0 || ls.Points != 0 || ls.Blocks != 0 {
			ls.Level = model.Level(l).String()
			st.Levels = append(st.Levels, ls)
		}
	}
	if ex.cold != nil {
		if c := ex.cold.Stats(); c != (model.ColdReadStats{}) {
			st.Cold = &c
		}
	}
	if !p.rollups || p.rng.empty || p.rawFrom <= p.rng.lo {
		return st
	}
	from := time.Unix(0, p.rawFrom).UTC().Format(time.RFC3339Nano)
	if ex.rollupRead {
		st.Notes = append(st.Notes, fmt.Sprintf("raw data before %s has expired: that range was answered from rollups only (buckets finer than the coarsest level covering it stay empty there)", from))
	}
	if ex.approx > 0 {
		st.Notes = append(st.Notes, fmt.Sprintf("%d rollup rows before %s could not be combined exactly (a NaN or infinite sum, integers too large, or a percentile's row without a sketch) and their raw data has expired: the buckets holding them are approximate", ex.approx, from))
	}
	if ex.rawRead {
		st.Notes = append(st.Notes, fmt.Sprintf("raw data before %s has expired: what this query reads from raw data only (levels=raw, conditions on fields, percentile, raw selects) has no values before it", from))
	}
	return st
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
	return exactFor(s, p.needM2[ci], p.minMax[ci], p.intAvg[ci]) && (!p.needSketch[ci] || s.Sketch != nil)
}

// valuesAt reports whether read column ci is read as values in segment
// seg: a raw segment of a column whose aggregates need M2 or a sketch,
// which block statistics do not carry.
func (p *plan) valuesAt(ci int, seg segment) bool {
	return seg.level == model.LevelRaw && (p.needM2[ci] || p.needSketch[ci])
}

// exactFor is exactSummary for a column whose aggregates need M2 (m2),
// include min or max (minMax) or avg of an integer field (intAvg).
func exactFor(s *Summary, m2, minMax, intAvg bool) bool {
	if m2 && !s.HasM2 {
		return false
	}
	switch s.First.Kind {
	case model.KindFloat:
		if math.IsNaN(s.SumFloat) || (m2 && math.IsInf(s.SumFloat, 0)) {
			return false
		}
		if minMax {
			first := math.Float64bits(s.First.Float())
			if isZero(s.Min, true) && first != math.Float64bits(s.Min.Float()) {
				return false
			}
			if isZero(s.Max, false) && first != math.Float64bits(s.Max.Float()) {
				return false
			}
		}
	case model.KindInt:
		// stddev converts the sum, avg adds it to its exact total: both
		// need it not to have wrapped.
		m := max(absInt(s.Min.Int()), absInt(s.Max.Int()))
		if (m2 || intAvg) && m != 0 && uint64(s.Count) > math.MaxInt64/m {
			return false
		}
	case model.KindUint:
		if m := s.Max.Uint(); (m2 || intAvg) && m != 0 && uint64(s.Count) > math.MaxUint64/m {
			return false
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
