package planner

// Row conditions evaluated by the source. A raw select whose condition
// is left to evaluate on the rows of a series (a field condition, or a
// time condition with gaps) reads that series in chunks of rows and keeps
// the rows that satisfy it. A source that is not local (a cluster router)
// would ship every row read to the planner only for most of them to be
// dropped. So the plan describes the condition and its chunks in the
// ReadSet (ReadSet.Filter, SeriesRead.Chunk), and reads such series
// through FilterSource.ReadFiltered, which may leave out the rows that do
// not satisfy the condition but reports what it read before leaving them
// out (Scan): the plan counts those points as read, and continues after
// the rows it read, exactly as when it filters them itself. The planner
// still evaluates the condition on every row it gets, so a source may
// filter fewer rows than it could (or none).
//
// The source evaluates the condition with the planner's own code:
// Filter.Compile compiles it as a plan does, and SeriesFilter.Apply folds
// it for one series and evaluates it on the rows of its columns exactly as
// the plan's rows (a row is a time at which any column read has a value;
// a field without a value at that time is null, and a comparison on it is
// false).

import (
	"context"
	"fmt"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// FilterSource is implemented by sources that may evaluate a raw select's
// condition themselves (see ReadSet.Filter). The planner reads a series
// whose rows it must filter with ReadFiltered instead of ReadLimit.
type FilterSource interface {
	// ReadFiltered reads as ReadLimit does (the n rows with the smallest
	// times in [min, max], or the largest with desc) and may leave out of
	// the columns the rows that do not satisfy ReadSet.Filter's condition
	// for this series. scan describes the n rows read before any was left
	// out. The rows returned are whole: every value of the fields at their
	// times.
	ReadFiltered(ctx context.Context, collection string, tags model.Tags, fields []string, min, max int64, n int, desc bool) (cols []model.Column, scan Scan, err error)
}

// Scan is what a read returned before rows were left out of it.
type Scan struct {
	// Rows is the number of rows read (distinct times), and Points the
	// number of values.
	Rows   int
	Points int64
	// First and Last are the smallest and largest times of the rows read
	// (meaningless when Rows is 0).
	First, Last int64
}

// ScanOf returns the Scan of columns read together.
func ScanOf(cols []model.Column) Scan {
	var s Scan
	for i := range cols {
		s.Points += int64(cols[i].Len())
	}
	if s.Points == 0 {
		return s
	}
	var r rows
	r.reset(cols)
	first := true
	for r.next() {
		if first {
			s.First, first = r.t, false
		}
		s.Last = r.t
		s.Rows++
	}
	return s
}

// Filter is the condition of a raw select as a source needs it to filter
// rows: the WHERE clause and what the plan resolved its names against.
type Filter struct {
	// Where is the statement's WHERE clause and Now the value of now() it
	// was compiled with.
	Where query.Expr
	Now   time.Time
	// Fields are the columns the plan reads, in the order of every
	// filtered SeriesRead's Values, and Kinds their kinds. A name of the
	// clause that is not among them is a tag.
	Fields []string
	Kinds  []model.Kind
	// Lo and Hi are the plan's range (ReadSet.Lo and Hi): the condition
	// is folded for each series over it.
	Lo, Hi int64
	// MaxChunk is the largest chunk, in rows (see SeriesRead.Chunk).
	MaxChunk int
}

// RowFilter is a Filter compiled for a source: Series gives it for one
// series.
type RowFilter struct {
	where  *cond
	rng    interval
	fields []string
}

// Compile compiles the filter's condition as the plan did. An error is a
// condition the plan could not have compiled (a name of two kinds, a
// literal a field cannot be compared with) or a range that is empty.
func (f *Filter) Compile() (*RowFilter, error) {
	if len(f.Kinds) != len(f.Fields) {
		return nil, fmt.Errorf("filter: %d kinds for %d fields", len(f.Kinds), len(f.Fields))
	}
	if f.Lo > f.Hi {
		return nil, fmt.Errorf("filter: empty range [%d, %d]", f.Lo, f.Hi)
	}
	kinds := make(map[string]model.Kind, len(f.Fields))
	idx := make(map[string]int, len(f.Fields))
	for i, name := range f.Fields {
		if _, dup := kinds[name]; dup || name == "time" {
			return nil, fmt.Errorf("filter: field %q twice or reserved", name)
		}
		if k := f.Kinds[i]; k == model.KindNull || k > model.KindString {
			return nil, fmt.Errorf("filter: field %q of kind %d", name, k)
		}
		kinds[name], idx[name] = f.Kinds[i], i
	}
	c, err := compileWhere(f.Where, kinds, f.Now)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	if c == nil {
		c = condTrue
	}
	c.setColumns(idx)
	return &RowFilter{where: c, rng: interval{lo: f.Lo, hi: f.Hi}, fields: f.Fields}, nil
}

// Series returns the condition the rows of one series must satisfy: the
// filter folded for its tags over the range, as the plan folds it.
func (rf *RowFilter) Series(tags model.Tags) *SeriesFilter {
	return &SeriesFilter{c: rf.where.fold(tags, rf.rng, -1), fields: rf.fields}
}

// SeriesFilter is a RowFilter folded for one series.
type SeriesFilter struct {
	c      *cond
	fields []string
	r      rows
	keep   []int32 // scratch: per kept row, its index in each column (see Apply)
}

// All reports whether every row satisfies the condition.
func (sf *SeriesFilter) All() bool { return sf.c == condTrue }

// Apply returns the rows of cols (the columns of the filter's Fields, in
// order, read together: sorted by time) that satisfy the condition, and
// the Scan of cols. Columns of kinds other than the filter's (with
// values) are an error. The result shares memory with cols.
func (sf *SeriesFilter) Apply(cols []model.Column, kinds []model.Kind) ([]model.Column, Scan, error) {
	if len(cols) != len(sf.fields) || len(kinds) != len(cols) {
		return nil, Scan{}, fmt.Errorf("filter: %d columns for %d fields", len(cols), len(sf.fields))
	}
	var scan Scan
	for i := range cols {
		if cols[i].Len() > 0 && cols[i].Kind != kinds[i] {
			return nil, Scan{}, fmt.Errorf("filter: field %q is %s, want %s", sf.fields[i], cols[i].Kind, kinds[i])
		}
		scan.Points += int64(cols[i].Len())
	}
	if scan.Points == 0 {
		return cols, scan, nil
	}
	r := &sf.r
	r.reset(cols)
	all := sf.c == condTrue
	none := sf.c == condFalse
	n := len(cols)
	keep := sf.keep[:0]
	kept := 0
	for r.next() {
		if scan.Rows == 0 {
			scan.First = r.t
		}
		scan.Last = r.t
		scan.Rows++
		if all || (!none && sf.c.eval(r)) {
			for c := range n {
				keep = append(keep, int32(r.idx[c]))
			}
			kept++
		}
	}
	sf.keep = keep[:0]
	if kept == scan.Rows {
		return cols, scan, nil
	}
	out := make([]model.Column, n)
	for c := range n {
		out[c] = gather(&cols[c], keep, c, n)
	}
	return out, scan, nil
}

// gather returns the values of col at the indexes keep[c], keep[c+n], …
// that are not -1 (a row without a value of the column).
func gather(col *model.Column, keep []int32, c, n int) model.Column {
	m := 0
	for k := c; k < len(keep); k += n {
		if keep[k] >= 0 {
			m++
		}
	}
	out := model.NewColumn(col.Name, col.Kind, m)
	for k := c; k < len(keep); k += n {
		j := keep[k]
		if j < 0 {
			continue
		}
		out.Times = append(out.Times, col.Times[j])
		switch col.Kind {
		case model.KindFloat:
			out.Floats = append(out.Floats, col.Floats[j])
		case model.KindInt:
			out.Ints = append(out.Ints, col.Ints[j])
		case model.KindUint:
			out.Uints = append(out.Uints, col.Uints[j])
		case model.KindBool:
			out.Bools = append(out.Bools, col.Bools[j])
		case model.KindString:
			out.Strings = append(out.Strings, col.Strings[j])
		}
	}
	return out
}

// firstChunk is the rows of the first chunk of each series of a raw
// select's group of n series (see mergeGroup).
func (p *plan) firstChunk(n int) int {
	first := min(max(rawChunkBudget/n, minChunkRows), maxChunkRows)
	if lim := p.sel.Limit; lim > 0 {
		first = int(min(timex.AddSat(max(p.sel.Offset, 0), lim), int64(first)))
	}
	return first
}

// filter returns the Filter of a raw select (see ReadSet.Filter).
func (p *plan) filter() *Filter {
	f := &Filter{Where: p.sel.Where, Now: p.opts.Now, Lo: p.rng.lo, Hi: p.rng.hi, MaxChunk: maxChunkRows}
	for _, name := range p.read {
		f.Fields = append(f.Fields, name)
		f.Kinds = append(f.Kinds, p.fields[name])
	}
	return f
}
