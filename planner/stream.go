package planner

import (
	"context"
	"strings"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// Sink receives the answer to a statement as it is produced.
type Sink interface {
	// Columns is called once, before any Row, with the names of the
	// result's columns and the index of its time column (-1 when it has
	// none; see Result).
	Columns(names []string, timeColumn int) error
	// Row receives one row, a model.Value per column. The sink may keep
	// the slice. An error from Row ends the statement with that error.
	Row(row []model.Value) error
}

// GrowSink is implemented by sinks that keep the rows they are given:
// Grow says that n more rows are about to come (rows already made, so n is
// within the query's row limit), so that they are kept with one
// allocation.
type GrowSink interface {
	Sink
	Grow(n int)
}

// LimitSource is implemented by sources that can read the first or the
// last rows of a series without reading the rest. The planner uses it for
// raw selects, which it reads in chunks of rows per series (so their rows
// are streamed and LIMIT reads only what it returns).
type LimitSource interface {
	// ReadLimit is Read restricted to the n rows with the smallest times
	// in [min, max], or with desc the n rows with the largest times. A row
	// is a time at which any of the fields has a value, so every column
	// holds the values of the fields at those times (and no others), sorted
	// by time as Read returns them. Fewer than n rows come back only when
	// [min, max] holds fewer. n is at least 1.
	ReadLimit(ctx context.Context, collection string, tags model.Tags, fields []string, min, max int64, n int, desc bool) ([]model.Column, error)
}

// ExecuteStream runs one statement like ExecuteWith but hands its rows to
// sink as they are produced instead of building a Result, and returns the
// Stats of a SELECT (nil for other statements and for EXPLAIN).
//
// A raw select reads its series in chunks of rows, through LimitSource when
// src implements it, and merges them in the order of the answer: its rows
// reach sink while it still reads, memory holds a chunk per series of a
// group rather than the answer, and a LIMIT reads about as many rows per
// series as it returns (with ORDER BY time DESC, the newest). Aggregate
// queries hand over their rows once every series has been read, and SHOW,
// EXPLAIN and DELETE once done.
//
// Errors are those of Execute, and any error from sink. When an error comes
// after rows were handed over, the rows handed over are a prefix of the
// answer.
func ExecuteStream(ctx context.Context, src Source, stmt *query.Statement, opts Options, sink Sink) (*Stats, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if stmt != nil && stmt.Select != nil && stmt.Select.Sub != nil {
		return executeSubquery(ctx, src, stmt, opts, sink)

	}
	if stmt != nil && stmt.Select != nil && hasFunctions(stmt.Select) {
		return executeFunctions(ctx, src, stmt, opts, sink)
	}
	src, done, err := scope(ctx, src, stmt, opts)
	if err != nil {
		return nil, err
	}
	defer done()
	if stmt != nil && stmt.Select != nil {
		// Expressions, agg(*), GROUP BY * and HAVING plan an inner
		// SELECT of plain items and compute the rows from its (expr.go).
		sel, ep, err := prepareExpr(src, stmt.Select)
		if err != nil {
			return nil, err
		}
		p, err := newPlan(src, sel, opts)
		if err != nil {
			return nil, err
		}
		if !stmt.Explain {
			if ep != nil {
				sink = ep.wrap(sink)
			}
			return p.run(ctx, sink)
		}
		res := p.explain()
		return res.Stats, replay(ctx, res, sink, opts)
	}
	res, err := executeOther(ctx, src, stmt, opts)
	if err != nil {
		return nil, err
	}
	return nil, replay(ctx, res, sink, opts)
}

// replay hands a finished result to sink, bounded like the rows of a
// SELECT: by Options.MaxRows and MaxBytes (and Budget), checking ctx every
// few rows.
func replay(ctx context.Context, res *Result, sink Sink, opts Options) error {
	em := newEmitter(ctx, sink, &opts)
	if b := opts.Budget; b != nil {
		em.rows, em.bytes = b.Rows, b.Bytes
		defer func() { b.Rows, b.Bytes = em.rows, em.bytes }()
	}
	if err := sink.Columns(res.Columns, res.TimeColumn); err != nil {
		return err
	}
	for _, row := range res.Rows {
		if err := em.emit(row); err != nil {
			return err
		}
	}
	return nil
}

// resultSink builds a Result.
type resultSink struct{ res Result }

func (s *resultSink) Columns(names []string, timeColumn int) error {
	s.res.Columns, s.res.TimeColumn, s.res.Rows = names, timeColumn, [][]model.Value{}
	return nil
}

func (s *resultSink) Row(row []model.Value) error {
	s.res.Rows = append(s.res.Rows, row)
	return nil
}

// Chunk sizes of raw selects, in rows per series: a group's series share
// rawChunkBudget rows, each reading at least minChunkRows (about a colstore
// block) and at most maxChunkRows at a time. A series' chunks double from
// its first one.
// Aggregate queries read through LimitSource in chunks of maxChunkRows.
// (Variables so that tests can make chunks tiny.)
var (
	rawChunkBudget = 1 << 20
	minChunkRows   = 1024
	maxChunkRows   = 1 << 16
)

// rawGroup is one GROUP BY tag combination of a raw select and its series.
type rawGroup struct {
	vals   []string
	series []member
}

// member is a series of a raw select with the condition left to evaluate
// on its rows (nil for none).
type member struct {
	tags model.Tags
	rank int
	pred *cond
}

// groupVals returns the values of the GROUP BY tags of a series and a
// collision-free key made of them.
func (p *plan) groupVals(tags model.Tags) ([]string, string) {
	vals := make([]string, len(p.sel.GroupTags))
	var kb strings.Builder
	for i, k := range p.sel.GroupTags {
		vals[i] = tags.Get(k)
		kb.WriteString(itoa(len(vals[i])))
		kb.WriteByte(':')
		kb.WriteString(vals[i])
	}
	return vals, kb.String()
}

// streamRaw answers a raw select: group by group in the order of their tag
// values, it merges the rows of the group's series by (time, series rank),
// reversed for ORDER BY time DESC, applying OFFSET and LIMIT per group.
func (ex *executor) streamRaw(ctx context.Context, em *emitter) error {
	for _, g := range ex.p.rawGroups() {
		if err := ex.mergeGroup(ctx, g, em); err != nil {
			return err
		}
	}
	return nil
}

// rawGroups returns the groups of a raw select's series that can match, in
// the order of their tag values.
func (p *plan) rawGroups() []*rawGroup {
	byKey := map[string]*rawGroup{}
	var groups []*rawGroup
	for rank, tags := range p.series {
		pred := p.foldFor(rank, tags)
		if pred == condFalse {
			continue
		}
		if pred == condTrue {
			pred = nil
		}
		vals, key := p.groupVals(tags)
		g := byKey[key]
		if g == nil {
			g = &rawGroup{vals: vals}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.series = append(g.series, member{tags: tags, rank: rank, pred: pred})
	}
	sortGroups(groups)
	return groups
}

// mergeGroup emits the rows of one group's series in answer order.
func (ex *executor) mergeGroup(ctx context.Context, g *rawGroup, em *emitter) error {
	p := ex.p
	desc := p.sel.Desc
	off, lim := max(p.sel.Offset, 0), p.sel.Limit
	first := p.firstChunk(len(g.series))
	h := cursorHeap{desc: desc}
	for _, m := range g.series {
		c := ex.newCursor(m, first)
		ok, err := c.advance(ctx)
		if err != nil {
			return err
		}
		if ok {
			h.cs = append(h.cs, c)
		}
	}
	h.init()
	var emitted int64
	for len(h.cs) > 0 {
		c := h.cs[0]
		if off > 0 {
			off--
		} else {
			if err := em.emit(c.cur().vals); err != nil {
				return err
			}
			if emitted++; lim > 0 && emitted >= lim {
				return nil
			}
		}
		ok, err := c.advance(ctx)
		if err != nil {
			return err
		}
		if ok {
			h.fix()
		} else {
			h.pop()
		}
	}
	return nil
}

// cursor walks the rows of one series of a raw select in answer order,
// reading them a chunk at a time.
type cursor struct {
	ex    *executor
	m     member
	fixed []model.Value // the values of a row that depend on the series only
	// lo and hi bound what is left to read; left says whether anything
	// is; next is the size of the next chunk.
	lo, hi int64
	left   bool
	next   int
	buf    []rawRow // the rows of the current chunk, in ascending time
	i      int      // the current row: buf[i], or buf[len-1-i] for DESC
	r      rows
}

type rawRow struct {
	t    int64
	vals []model.Value
}

func (ex *executor) newCursor(m member, first int) *cursor {
	p := ex.p
	n := 1 + len(p.sel.GroupTags) + len(p.items)
	fixed := make([]model.Value, n)
	for i, k := range p.sel.GroupTags {
		fixed[1+i] = model.String(m.tags.Get(k))
	}
	base := 1 + len(p.sel.GroupTags)
	for i, it := range p.items {
		if it.isTag {
			fixed[base+i] = model.String(m.tags.Get(it.field))
		}
	}
	return &cursor{ex: ex, m: m, fixed: fixed, lo: p.rng.lo, hi: p.rng.hi, left: true, next: first, i: -1}
}

func (c *cursor) cur() *rawRow {
	if c.ex.p.sel.Desc {
		return &c.buf[len(c.buf)-1-c.i]
	}
	return &c.buf[c.i]
}

// advance moves to the next row, reading chunks as needed, and reports
// whether there is one.
func (c *cursor) advance(ctx context.Context) (bool, error) {
	c.i++
	for c.i >= len(c.buf) {
		if !c.left {
			return false, nil
		}
		if err := c.fill(ctx); err != nil {
			return false, err
		}
	}
	return true, nil
}

// fill reads the next chunk of the series.
func (c *cursor) fill(ctx context.Context) error {
	ex, p := c.ex, c.ex.p
	if err := ctx.Err(); err != nil {
		return err
	}
	n := c.next
	ls, limited := p.src.(LimitSource)
	// A series with a condition left to evaluate is read through a
	// FilterSource: what it left out still counts (filter.go).
	fs, filtered := p.src.(FilterSource)
	filtered = filtered && c.m.pred != nil
	var cols []model.Column
	var scan Scan
	var err error
	switch {
	case filtered:
		limited = true
		cols, scan, err = fs.ReadFiltered(ctx, p.coll, c.m.tags, p.read, c.lo, c.hi, n, p.sel.Desc)
	case limited:
		cols, err = ls.ReadLimit(ctx, p.coll, c.m.tags, p.read, c.lo, c.hi, n, p.sel.Desc)
	default:
		cols, err = p.src.Read(ctx, p.coll, c.m.tags, p.read, c.lo, c.hi)
	}
	if err != nil {
		return err
	}
	if err := p.checkColumns(cols); err != nil {
		return err
	}
	pts := scan.Points
	if !filtered {
		for i := range cols {
			pts += int64(cols[i].Len())
		}
	}
	ex.levels[model.LevelRaw].Points += pts
	if c.lo < p.rawFrom {
		ex.rawRead = true
	}
	if err := ex.spend(pts); err != nil {
		return err
	}
	c.r.reset(cols)
	var got int
	var tmin, tmax int64
	c.buf, got, tmin, tmax, err = ex.chunkRows(&c.r, c.m.pred, c.fixed, c.buf[:0])
	if err != nil {
		return err
	}
	if filtered {
		got, tmin, tmax = scan.Rows, scan.First, scan.Last
	}
	c.i = 0
	c.left = false
	if limited && got >= n {
		if p.sel.Desc && tmin > c.lo {
			c.hi, c.left = tmin-1, true
		} else if !p.sel.Desc && tmax < c.hi {
			c.lo, c.left = tmax+1, true
		}
		c.next = min(2*n, maxChunkRows)
	}
	return nil
}

// chunkRows appends the output rows of a chunk of one series to buf: the
// rows in the query's range that satisfy pred and hold a selected field.
// It also returns how many rows the chunk held, matching or not, and their
// smallest and largest times. It stops with the context's error when the
// query is cancelled.
func (ex *executor) chunkRows(r *rows, pred *cond, fixed []model.Value, buf []rawRow) ([]rawRow, int, int64, int64, error) {
	p := ex.p
	lo, hi := p.rng.lo, p.rng.hi
	n := len(fixed)
	base := 1 + len(p.sel.GroupTags)
	got := 0
	var tmin, tmax int64
	for r.next() {
		if err := ex.tick(); err != nil {
			return buf, got, tmin, tmax, err
		}
		t := r.t
		if got == 0 {
			tmin = t
		}
		got++
		tmax = t
		if t < lo || t > hi || (pred != nil && !pred.eval(r)) {
			continue
		}
		holds := false
		for i := range p.items {
			if c := p.items[i].col; c >= 0 && r.idx[c] >= 0 {
				holds = true
				break
			}
		}
		if !holds {
			continue
		}
		row := ex.alloc(n)
		copy(row, fixed)
		row[0] = model.Int(t)
		for i := range p.items {
			if c := p.items[i].col; c >= 0 {
				if j := r.idx[c]; j >= 0 {
					row[base+i] = r.cols[c].Value(j)
				} else {
					row[base+i] = model.Null
				}
			}
		}
		buf = append(buf, rawRow{t: t, vals: row})
	}
	return buf, got, tmin, tmax, nil
}

// cursorHeap orders cursors by their current row: (time, series rank)
// ascending, or both descending for ORDER BY time DESC.
type cursorHeap struct {
	cs   []*cursor
	desc bool
}

func (h *cursorHeap) less(a, b int) bool {
	ra, rb := h.cs[a].cur(), h.cs[b].cur()
	if ra.t != rb.t {
		return (ra.t < rb.t) != h.desc
	}
	return (h.cs[a].m.rank < h.cs[b].m.rank) != h.desc
}

func (h *cursorHeap) init() {
	for i := len(h.cs)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

// fix restores the order after the first cursor advanced.
func (h *cursorHeap) fix() { h.down(0) }

// pop removes the first cursor.
func (h *cursorHeap) pop() {
	last := len(h.cs) - 1
	h.cs[0] = h.cs[last]
	h.cs = h.cs[:last]
	h.down(0)
}

func (h *cursorHeap) down(i int) {
	n := len(h.cs)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			return
		}
		h.cs[i], h.cs[j] = h.cs[j], h.cs[i]
		i = j
	}
}
