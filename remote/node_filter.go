package remote

import (
	"fmt"
	"slices"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/remote/wire"
)

// The node's side of filtering a raw select's rows (filter_proto.go).

// parseWhere parses the condition of msgOpen.
func parseWhere(text string) (query.Expr, error) {
	stmt, err := query.Parse("SELECT * FROM x WHERE " + text)
	if err != nil {
		return nil, fmt.Errorf("open: condition: %v: %w", err, wire.ErrMalformed)
	}
	if stmt.Select == nil || stmt.Select.Where == nil {
		return nil, fmt.Errorf("open: condition %q: %w", text, wire.ErrMalformed)
	}
	return stmt.Select.Where, nil
}

// compileFilter compiles a fetch's filter with the session's condition
// and checks the items it applies to: values only, the filter's fields
// over its range, no row bound.
func (ss *nodeSession) compileFilter(f *fetchMsg) (*planner.RowFilter, error) {
	if f.Filter == nil {
		return nil, nil
	}
	if ss.where == nil {
		return nil, fmt.Errorf("fetch: a filter in a session opened without a condition: %w", wire.ErrMalformed)
	}
	f.Filter.Where, f.Filter.Now = ss.where, time.Unix(0, ss.open.Now).UTC()
	rf, err := f.Filter.Compile()
	if err != nil {
		return nil, fmt.Errorf("fetch: %v: %w", err, wire.ErrMalformed)
	}
	for i := range f.Items {
		it := &f.Items[i]
		if it.Chunk == 0 {
			continue
		}
		ok := it.Rows == 0 && len(it.Parts) == 0 && len(it.Values) == len(f.Filter.Fields)
		for j := 0; ok && j < len(it.Values); j++ {
			v := it.Values[j]
			ok = v.Field == f.Filter.Fields[j] && v.Lo == f.Filter.Lo && v.Hi == f.Filter.Hi
		}
		if !ok {
			return nil, fmt.Errorf("fetch: item %d is filtered but does not read the filter's fields over its range: %w", i, wire.ErrMalformed)
		}
	}
	return rf, nil
}

// filtered is what a node needs to read one series filtered.
type filtered struct {
	sf    *planner.SeriesFilter
	kinds []model.Kind
	max   int
}

// newFiltered starts reading item i filtered, in the planner's chunks.
func (ss *nodeSession) newFiltered(f *fetchMsg, i int, rf *planner.RowFilter) *pending {
	it := &f.Items[i]
	p := &pending{item: i, tags: it.Tags, lo: f.Filter.Lo, hi: f.Filter.Hi, n: it.Chunk,
		filt: &filtered{sf: rf.Series(it.Tags), kinds: f.Filter.Kinds, max: f.Filter.MaxChunk}}
	p.fields = slices.Clone(f.Filter.Fields)
	for j := range it.Values {
		p.idx = append(p.idx, j)
	}
	return p
}

// readFiltered reads the next chunk of a filtered series: the p.n rows
// from p.lo up (from p.hi down with desc), keeping those that satisfy
// its condition.
func (ss *nodeSession) readFiltered(p *pending, desc bool) error {
	if err := ss.ctx.Err(); err != nil {
		return err
	}
	cols, err := ss.n.db.ReadLimit(ss.ctx, ss.open.Collection, p.tags, p.fields, p.lo, p.hi, p.n, desc)
	if err != nil {
		return err
	}
	kept, scan, err := p.filt.sf.Apply(cols, p.filt.kinds)
	if err != nil {
		return err
	}
	if scan.Rows > 0 {
		ss.n.metrics.rowsRead.Add(uint64(scan.Rows))
		ss.n.metrics.rowsKept.Add(uint64(len(rowTimes(kept))))
	}
	p.cols, p.scan, p.readLo, p.readHi = kept, scan, p.lo, p.hi
	// The planner goes on after a chunk that read every row it asked for
	// and did not reach the end of the range (stream.go, fill).
	p.last = scan.Rows < p.n || (!desc && scan.Last >= p.hi) || (desc && scan.First <= p.lo)
	return nil
}

// sendRows sends the chunk a filtered series read and moves to its next.
func (ss *nodeSession) sendRows(p *pending, desc bool) error {
	// The points sent count against the session's limit; the router's
	// planner counts those read (p.scan.Points) against the query's.
	var pts int64
	for i := range p.cols {
		pts += int64(p.cols[i].Len())
	}
	if err := ss.spend(pts); err != nil {
		return err
	}
	m := rowsMsg{Item: p.item, Lo: p.readLo, Hi: p.readHi, N: p.n, Scan: p.scan, Cols: p.cols}
	var e wire.MsgEnc
	m.encode(&e)
	if err := ss.send(msgRows, e.B); err != nil {
		return err
	}
	if p.last {
		return nil
	}
	if desc {
		p.hi = p.scan.First - 1
	} else {
		p.lo = p.scan.Last + 1
	}
	p.n = min(2*p.n, p.filt.max)
	return nil
}
