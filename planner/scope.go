package planner

// Hooks for sources that are not local: a cluster router answers queries
// through this package over the storage nodes owning a query's data. Two
// optional interfaces let such a source fetch that data in few requests:
// Scoper gives it the statement before anything is read, so that it can
// contact only the nodes the statement can touch, and Preparer tells it,
// once per SELECT and before the first read, every read the plan will make.
// Local sources implement neither; the answer never depends on them.

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// Scoper is implemented by sources that answer a statement better when they
// know it first. ExecuteStream (and so Execute and ExecuteWith) calls Scope
// once per statement and runs the statement against the source it returns
// (the source itself when that is nil), then calls done (when not nil). An
// error from Scope is the statement's error.
type Scoper interface {
	Scope(ctx context.Context, stmt *query.Statement, opts Options) (src Source, done func(), err error)
}

// Preparer is implemented by sources that fetch what a SELECT reads ahead
// of the reads. The planner calls Prepare once per SELECT, after selecting
// its series and before its first Read, ReadLimit or ReadParts, with
// everything it will read. Reads outside the set may still come (a summary
// that is not exact is read again as values) and must be answered.
type Preparer interface {
	Prepare(ctx context.Context, rs *ReadSet) error
}

// ReadSet is what one SELECT reads: per series, in the order the plan reads
// them, the fields it reads as values and the fields it reads as parts.
type ReadSet struct {
	Collection string
	// Lo and Hi bound every read: the query's time range.
	Lo, Hi int64
	// Whole is the predicate the plan passes to ReadParts.
	Whole WholeSpec
	// Desc is set for a raw select with ORDER BY time DESC.
	Desc   bool
	Series []SeriesRead
	// Reduce lists the fields read with ReadParts whose runs of values
	// inside one bucket (whole) the source may send as summaries it
	// computes itself, and what makes such a summary exact (see Reduce).
	// A field not listed must not be reduced.
	Reduce map[string]Reduce
	// Sketch lists the fields read with ReadParts whose rollup summaries
	// must keep their quantile sketch (a percentile reads them); a source
	// that ships summaries elsewhere may leave the others' sketches out.
	Sketch map[string]bool
	// Filter, for a raw select some of whose series have a condition left
	// to evaluate on their rows, is that condition (filter.go): the series
	// with a Chunk are read through FilterSource.ReadFiltered.
	Filter *Filter
}

// Reduce says how a source that reads a field's values may reduce a run of
// them inside one bucket of the query to a Summary (model.Part.Reduced)
// without changing the answer: the plan applies to the field only
// aggregates whose result from such a summary is bit-identical to the
// result from its values, whatever the bucket held before: count, min,
// max, spread, first and last, sum of an integer field (which wraps the
// same way in any order), and avg of an integer field (added into an exact
// 128-bit total, see summary.go; the summary's sum must not have wrapped).
// A sum or an average of floats depends on the order of the additions;
// stddev combines values and summaries by different formulas. Those are
// never reduced.
type Reduce uint8

const (
	// ReduceMinMax is set when the field's aggregates include min, max or
	// spread: the rule on signed zeros applies.
	ReduceMinMax Reduce = 1 << iota
	// ReduceIntAvg is set when the field is an integer or unsigned one
	// and its aggregates include avg: the summary's sum must not have
	// wrapped (n × max(|min|, |max|) fits int64; n × max fits uint64).
	ReduceIntAvg
)

// Valid reports whether r holds only flags this package knows.
func (r Reduce) Valid() bool { return r&^(ReduceMinMax|ReduceIntAvg) == 0 }

// Exact reports whether s, a summary of values a source read, may be sent
// in their place: it is one the plan uses exactly (the rules of
// summary.go).
func (r Reduce) Exact(s *Summary) bool {
	return s.Count > 0 && exactFor(s, false, r&ReduceMinMax != 0, r&ReduceIntAvg != 0)
}

// reducible returns, for the columns read as parts, whether and how their
// values may be reduced by the source (see Reduce).
func (p *plan) reducible() map[string]Reduce {
	var m map[string]Reduce
	for ci, f := range p.read {
		if !p.sumCol[ci] || p.needM2[ci] || p.needSketch[ci] {
			continue
		}
		kind := p.fields[f]
		if kind != model.KindFloat && kind != model.KindInt && kind != model.KindUint {
			continue
		}
		var r Reduce
		ok := true
		for _, k := range p.colItems[ci] {
			switch fn := p.items[k].fn; fn {
			case "count", "first", "last":
			case "min", "max", "spread":
				r |= ReduceMinMax
			case "sum":
				ok = ok && kind != model.KindFloat
			case "avg":
				ok = ok && kind != model.KindFloat
				r |= ReduceIntAvg
			default:
				ok = false
			}
		}
		if ok {
			if m == nil {
				m = map[string]Reduce{}
			}
			m[f] = r
		}
	}
	return m
}

// SeriesRead is what a plan reads of one series.
type SeriesRead struct {
	Tags model.Tags
	// Batch numbers the reads in plan order: the plan reads series of
	// batch b only after it is done with every series of earlier batches
	// (an aggregate query reads one series at a time; a raw select the
	// series of one GROUP BY tag combination together).
	Batch int
	// Values are read as values (Read or ReadLimit) over their spans.
	Values []FieldSpan
	// Rows, when positive, says that the plan needs at most this many rows
	// of the Values fields (together, as ReadLimit counts rows) from the
	// start of the range, or from its end with ReadSet.Desc.
	Rows int
	// Parts are read with ReadParts.
	Parts []PartSpan
	// Chunk, when positive, says that the plan reads the Values (all
	// over the query's range) with FilterSource.ReadFiltered, filtered by
	// ReadSet.Filter, in chunks of rows: the first of Chunk rows from the
	// start of the range (its end with ReadSet.Desc), each next one twice
	// as many as the one before, at most Filter.MaxChunk, starting after
	// the last row read (before the first with Desc), until a chunk reads
	// fewer rows than asked or reaches the end of the range, or the plan
	// has its rows.
	Chunk int
}

// FieldSpan is a field read as values over [Lo, Hi].
type FieldSpan struct {
	Field  string
	Lo, Hi int64
}

// PartSpan is a ReadParts call: a field over [Lo, Hi] at a level.
type PartSpan struct {
	Field  string
	Lo, Hi int64
	Level  model.Level
}

// WholeSpec is the whole predicate of ReadParts (see SummarySource) as
// data, so that a storage node can rebuild it: [lo, hi] lies inside
// [Lo, Hi] and inside one GROUP BY interval bucket, described by Kind
// (0 none, 1 fixed width, 2 calendar months, 3 zoned), Width and Origin
// (fixed, in nanoseconds), Months and Origin (calendar: the month index
// modulo Months buckets start at), or for zoned buckets (zone.go) Zone,
// Wall, and either Width days from civil day Origin or Months months
// shifted by Origin.
type WholeSpec struct {
	Kind                  uint8
	Width, Origin, Months int64
	Lo, Hi                int64
	Zone                  string // Kind 3 only
	Wall                  int64  // Kind 3 only
}

func (p *plan) wholeSpec() WholeSpec {
	w := WholeSpec{Kind: uint8(p.bk.kind), Width: p.bk.width, Origin: p.bk.origin, Months: p.bk.months, Lo: p.rng.lo, Hi: p.rng.hi}
	if z := p.bk.z; z != nil {
		w.Width, w.Origin, w.Months, w.Zone, w.Wall = z.days, z.dayOrigin, z.months, z.name, z.wall
		if z.months > 0 {
			w.Origin = z.shift
		}
	}
	return w
}

// Func returns the predicate: the same answers as the plan's own.
func (w WholeSpec) Func() func(lo, hi int64) bool {
	bk := bucketer{kind: bucketKind(w.Kind), width: w.Width, origin: w.Origin, months: w.Months}
	valid := (bk.kind == bucketNone) || (bk.kind == bucketFixed && bk.width > 0) || (bk.kind == bucketCalendar && bk.months > 0)
	if bk.kind == bucketZoned {
		bk = bucketer{kind: bucketZoned, z: w.zoneSpec()}
		valid = bk.z != nil
	}
	return func(lo, hi int64) bool {
		if !valid || lo > hi || lo < w.Lo || hi > w.Hi {
			return false
		}
		_, end := bk.span(lo)
		return hi <= end
	}
}

// TimeBounds returns an interval holding the times a WHERE clause can
// accept, from its top-level AND chain of conditions on time (the planner's
// range of the query lies inside it). empty is set when none can match.
// A clause it cannot evaluate gives the whole int64 range.
func TimeBounds(where query.Expr, now time.Time) (lo, hi int64, empty bool) {
	var conj []query.Expr
	var walk func(e query.Expr)
	walk = func(e query.Expr) {
		switch x := e.(type) {
		case *query.Binary:
			if x.Op == "AND" {
				walk(x.LHS)
				walk(x.RHS)
			}
		case *query.Compare:
			if x.Name == "time" {
				conj = append(conj, x)
			}
		case *query.In:
			if x.Name == "time" {
				conj = append(conj, x)
			}
		case *query.Between:
			if x.Name == "time" {
				conj = append(conj, x)
			}
		}
	}
	walk(where)
	if len(conj) == 0 {
		return math.MinInt64, math.MaxInt64, false
	}
	e := conj[0]
	for _, c := range conj[1:] {
		e = &query.Binary{Op: "AND", LHS: e, RHS: c}
	}
	c, err := compileWhere(e, map[string]model.Kind{}, now)
	if err != nil {
		return math.MinInt64, math.MaxInt64, false
	}
	b := c.bounds()
	return b.lo, b.hi, b.empty
}

// scope runs the statement's Scoper, when src has one.
func scope(ctx context.Context, src Source, stmt *query.Statement, opts Options) (Source, func(), error) {
	sc, ok := src.(Scoper)
	if !ok || stmt == nil {
		return src, func() {}, nil
	}
	s, done, err := sc.Scope(ctx, stmt, opts)
	if err != nil {
		return nil, nil, err
	}
	if s == nil {
		s = src
	}
	if done == nil {
		done = func() {}
	}
	return s, done, nil
}

// prepare tells a Preparer what the plan reads.
func (p *plan) prepare(ctx context.Context) error {
	pr, ok := p.src.(Preparer)
	if !ok || p.rng.empty {
		return nil
	}
	return pr.Prepare(ctx, p.readSet())
}

// readSet lists the reads of run, in its order (see run, streamRaw and
// aggregateParts).
func (p *plan) readSet() *ReadSet {
	rs := &ReadSet{Collection: p.coll, Lo: p.rng.lo, Hi: p.rng.hi, Whole: p.wholeSpec(), Desc: p.sel.Desc && !p.agg}
	all := func(lo, hi int64) []FieldSpan {
		spans := make([]FieldSpan, len(p.read))
		for i, f := range p.read {
			spans[i] = FieldSpan{Field: f, Lo: lo, Hi: hi}
		}
		return spans
	}
	if !p.agg {
		for b, g := range p.rawGroups() {
			for _, m := range g.series {
				sr := SeriesRead{Tags: m.tags, Batch: b, Values: all(p.rng.lo, p.rng.hi)}
				if m.pred != nil {
					sr.Chunk = p.firstChunk(len(g.series))
					if rs.Filter == nil {
						rs.Filter = p.filter()
					}
				}
				if lim := p.sel.Limit; lim > 0 && m.pred == nil {
					if n := max(p.sel.Offset, 0) + lim; n > 0 && n <= math.MaxInt32 {
						sr.Rows = int(n)
					}
				}
				rs.Series = append(rs.Series, sr)
			}
		}
		return rs
	}
	for rank, tags := range p.series {
		pred := p.foldFor(rank, tags)
		if pred == condFalse {
			continue
		}
		sr := SeriesRead{Tags: tags, Batch: len(rs.Series)}
		if pred != condTrue || p.parts == nil {
			sr.Values = all(p.rng.lo, p.rng.hi)
			rs.Series = append(rs.Series, sr)
			continue
		}
		for ci, f := range p.read {
			if p.aggCol[ci] && !p.sumCol[ci] {
				sr.Values = append(sr.Values, FieldSpan{Field: f, Lo: p.rng.lo, Hi: p.rng.hi})
			}
		}
		for ci, f := range p.read {
			if !p.sumCol[ci] {
				continue
			}
			for _, seg := range p.segs {
				if p.valuesAt(ci, seg) {
					sr.Values = append(sr.Values, FieldSpan{Field: f, Lo: seg.lo, Hi: seg.hi})
					continue
				}
				sr.Parts = append(sr.Parts, PartSpan{Field: f, Lo: seg.lo, Hi: seg.hi, Level: seg.level})
			}
		}
		rs.Series = append(rs.Series, sr)
	}
	if p.parts != nil {
		rs.Reduce = p.reducible()
		for ci, f := range p.read {
			if p.sumCol[ci] && p.needSketch[ci] {
				if rs.Sketch == nil {
					rs.Sketch = map[string]bool{}
				}
				rs.Sketch[f] = true
			}
		}
	}
	return rs
}

// Partial collects what a partial answer left out (see Options.Partial).
type Partial struct {
	mu      sync.Mutex
	groups  []int
	reasons []string
}

// Add records groups left out and why.
func (p *Partial) Add(groups []int, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, g := range groups {
		if !slices.Contains(p.groups, g) {
			p.groups = append(p.groups, g)
		}
	}
	slices.Sort(p.groups)
	p.reasons = append(p.reasons, reason)
}

// Missing returns the groups left out, sorted, and the reasons.
func (p *Partial) Missing() (groups []int, reasons []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.groups), slices.Clone(p.reasons)
}

// zoneSpec rebuilds the zoned buckets of a Kind 3 spec, nil when it is not
// valid (an unknown zone, no length, an offset out of range).
func (w WholeSpec) zoneSpec() *zoneSpec {
	name := w.Zone
	if name == "" {
		name = "UTC"
	}
	loc, err := query.LoadZone(name)
	if err != nil {
		return nil
	}
	z := &zoneSpec{name: w.Zone, loc: loc, wall: w.Wall}
	switch {
	case w.Width > 0 && w.Months == 0 && w.Width <= math.MaxInt64/dayNanos && w.Wall >= 0 && w.Wall < w.Width*dayNanos && (w.Origin == 0 || w.Origin == 4):
		z.days, z.dayOrigin = w.Width, w.Origin
	case w.Months > 0 && w.Width == 0 && w.Months <= math.MaxInt32 && w.Origin >= 0 && w.Origin < w.Months && w.Wall > -maxCalendarWall && w.Wall < maxCalendarWall:
		z.months, z.shift = w.Months, w.Origin
	default:
		return nil
	}
	return z
}
