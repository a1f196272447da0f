package planner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// Result is the answer to one statement. Rows hold model.Values, one per
// column; the column at TimeColumn holds times as model.Int nanoseconds since
// the Unix epoch, and TimeColumn is -1 when the result has no time column
// (SHOW, EXPLAIN). Null cells are model.Null.
type Result struct {
	Columns    []string
	TimeColumn int
	Rows       [][]model.Value
	// Stats tells how a SELECT was answered (nil for other statements and
	// for EXPLAIN, unless a note applies to the plan).
	Stats *Stats
}

// Stats tells how a SELECT was answered: what it read at each level, and
// notes about the answer (such as raw data that has expired).
type Stats struct {
	Levels []LevelStats // the levels used, from raw to 1y
	Notes  []string
	// Cold counts what the query read from the cold tier (object
	// storage); nil when it read nothing there.
	Cold *model.ColdReadStats
}

// LevelStats counts what a query used at one level.
type LevelStats struct {
	Level string // raw, 1h, 1d, 1M or 1y
	// Rows counts the rollup rows used (rollup levels only).
	Rows int64
	// Points counts the raw values decoded (raw level only): values read
	// whole and values of the parts of blocks whose statistics could not
	// be used.
	Points int64
	// Blocks counts the colstore block statistics used instead of decoding
	// the block (raw level only).
	Blocks int64
}

// Options tune how a statement runs.
type Options struct {
	// Now is the value of now(), read once per query by the caller.
	Now time.Time
	// RawOnly makes a SELECT read raw data only, never rollup rows (colstore
	// block statistics, which are raw data, are still used). It is the
	// levels=raw switch of the HTTP API, for checking or comparing answers.
	RawOnly bool
	// MaxRows limits the rows a SELECT returns, and the buckets a GROUP BY
	// interval query with FILL builds; 0 means DefaultMaxRows.
	MaxRows int64
	// MaxPoints limits the points a SELECT reads: raw values decoded, and
	// block statistics and rollup rows used in their place; 0 means
	// DefaultMaxPoints.
	MaxPoints int64
	// MaxBytes limits the bytes of the rows a SELECT (or SHOW) returns, as
	// counted by rowBytes while they are produced; 0 means DefaultMaxBytes.
	MaxBytes int64
	// Partial, when set, lets a source spread over several nodes (a
	// cluster router) answer without the groups of data it cannot reach,
	// recording them in it; without it such a query fails.
	Partial *Partial
	// Budget, when set, is shared by the statements of one request (the
	// targets of a Grafana panel): MaxRows, MaxPoints and MaxBytes then
	// bound their rows, points and bytes together rather than each
	// statement's.
	Budget *Budget
	// AnyReplica lets a source spread over several nodes read any copy
	// of a group, a replica as well as its primary (consistency=any): a
	// replica may lag its primary by the writes it has not applied yet.
	// Without it a cluster reads primaries, and replicas only while a
	// group's primary is down or cannot be reached.
	AnyReplica bool
}

// Budget counts the rows (and their bytes) returned and the points read by the statements
// of one request so far. ExecuteStream adds each statement's to it, also
// when the statement fails. The statements must run one at a time.
type Budget struct {
	Rows, Points, Bytes int64
}

// Error is a query that is well-formed but cannot be answered: an aggregate
// of a kind it does not apply to, an unknown field, aggregates mixed with
// plain items, a bad time literal, a regular expression against a number and
// the like. The HTTP layer answers it with 400. (A query over a resource
// limit is a *LimitError instead.)
type Error struct {
	Pos query.Pos // where in the query text, or the zero Pos when unknown
	Msg string
}

// Error formats the error as "line:col: msg", or just msg when the position
// is unknown.
func (e *Error) Error() string {
	if e.Pos.Line > 0 {
		return e.Pos.String() + ": " + e.Msg
	}
	return e.Msg
}

func errorf(pos query.Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Execute runs one statement against src. now is the value of now(), read
// once per query by the caller.
//
// A DELETE statement needs src to implement Deleter; see deleteStatement.
//
// Errors: a wrapped ErrNotFound for an unknown collection; *Error for a query
// that is well-formed but wrong; *LimitError for one that would return more
// rows or read more points than Options allow (see limits.go);
// ErrDeleteUnsupported (wrapped) for a DELETE against a source that cannot
// delete; ctx's error when ctx ends; any other error from src unchanged.
func Execute(ctx context.Context, src Source, stmt *query.Statement, now time.Time) (*Result, error) {
	return ExecuteWith(ctx, src, stmt, Options{Now: now})
}

// ExecuteWith is Execute with options. It builds the whole answer in
// memory; ExecuteStream hands it over row by row.
func ExecuteWith(ctx context.Context, src Source, stmt *query.Statement, opts Options) (*Result, error) {
	var rs resultSink
	st, err := ExecuteStream(ctx, src, stmt, opts, &rs)
	if err != nil {
		return nil, err
	}
	rs.res.Stats = st
	return &rs.res, nil
}

// executeOther runs a statement other than SELECT (and EXPLAIN of anything
// but a SELECT, which is an error).
func executeOther(ctx context.Context, src Source, stmt *query.Statement, opts Options) (*Result, error) {
	switch {
	case stmt == nil:
		return nil, errorf(query.Pos{}, "empty statement")
	case stmt.Show != nil:
		if stmt.Explain {
			return nil, errorf(query.Pos{}, "EXPLAIN applies to SELECT statements only")
		}
		return show(src, stmt.Show, opts.maxRows())
	case stmt.Delete != nil:
		if stmt.Explain {
			return nil, errorf(query.Pos{}, "EXPLAIN applies to SELECT statements only")
		}
		return deleteStatement(ctx, src, stmt.Delete, opts.Now)
	}
	return nil, errorf(query.Pos{}, "empty statement")
}

func notFound(collection string) error {
	return fmt.Errorf("collection %q %w", collection, ErrNotFound)
}

// show answers the SHOW statements; a list of more than maxRows rows is a
// LimitError before it is all built (SHOW SERIES of a million series).
func show(src Source, s *query.Show, maxRows int64) (*Result, error) {
	str := func(ss ...string) []model.Value {
		row := make([]model.Value, len(ss))
		for i, v := range ss {
			row[i] = model.String(v)
		}
		return row
	}
	res := &Result{TimeColumn: -1, Rows: [][]model.Value{}}
	if s.Kind == query.ShowCollections {
		res.Columns = []string{"name"}
		names := slices.Clone(src.Collections())
		slices.Sort(names)
		for _, n := range names {
			res.Rows = append(res.Rows, str(n))
		}
		return res, nil
	}
	if s.From == "" && (s.Kind == query.ShowTagKeys || s.Kind == query.ShowFields) {
		return showAll(src, s, maxRows)
	}
	fields, ok := src.Fields(s.From)
	if !ok {
		return nil, notFound(s.From)
	}
	switch s.Kind {
	case query.ShowTagKeys:
		res.Columns = []string{"tag_key"}
		keys := slices.Clone(src.TagKeys(s.From))
		slices.Sort(keys)
		for _, k := range keys {
			res.Rows = append(res.Rows, str(k))
		}
	case query.ShowTagValues:
		res.Columns = []string{"key", "value"}
		vals := slices.Clone(src.TagValues(s.From, s.Key))
		slices.Sort(vals)
		for _, v := range vals {
			res.Rows = append(res.Rows, str(s.Key, v))
		}
	case query.ShowFields:
		res.Columns = []string{"field_key", "field_type"}
		for _, k := range sortedKeys(fields) {
			res.Rows = append(res.Rows, str(k, fields[k].String()))
		}
	case query.ShowSeries:
		res.Columns = []string{"key"}
		n := int64(0)
		series := src.Series(s.From, func(model.Tags) bool { n++; return n <= maxRows })
		if n > maxRows {
			return nil, rowsError(maxRows)
		}
		keys := make([]string, 0, len(series))
		for _, tags := range series {
			keys = append(keys, model.SeriesKey(s.From, tags))
		}
		slices.Sort(keys)
		for _, k := range keys {
			res.Rows = append(res.Rows, str(k))
		}
	default:
		return nil, errorf(query.Pos{}, "unknown SHOW statement")
	}
	return res, nil
}

// showAll answers SHOW TAG KEYS and SHOW FIELDS without FROM: the rows of
// every collection, each led by its name.
func showAll(src Source, s *query.Show, maxRows int64) (*Result, error) {
	res := &Result{TimeColumn: -1, Rows: [][]model.Value{}}
	if s.Kind == query.ShowTagKeys {
		res.Columns = []string{"collection", "tag_key"}
	} else {
		res.Columns = []string{"collection", "field_key", "field_type"}
	}
	names := slices.Clone(src.Collections())
	slices.Sort(names)
	for _, c := range names {
		one := *s
		one.From = c
		r, err := show(src, &one, maxRows)
		if errors.Is(err, ErrNotFound) {
			continue // dropped since it was listed
		}
		if err != nil {
			return nil, err
		}
		for _, row := range r.Rows {
			res.Rows = append(res.Rows, append([]model.Value{model.String(c)}, row...))
		}
		if int64(len(res.Rows)) > maxRows {
			return nil, rowsError(maxRows)
		}
	}
	return res, nil
}

func sortedKeys(m map[string]model.Kind) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// outItem is one output column of a SELECT after * has been expanded.
type outItem struct {
	name  string
	fn    string // aggregate function, "" for a plain item
	field string // field or tag name
	isTag bool   // a plain item naming a tag
	kind  model.Kind
	arg   float64 // percentile rank
	col   int     // index of the field in plan.read, -1 for tags
}

// plan is a validated SELECT: resolved names, the compiled WHERE clause, the
// time range and the series to read.
type plan struct {
	src    Source
	sel    *query.Select
	coll   string
	fields map[string]model.Kind
	agg    bool
	items  []outItem
	read   []string // fields to read, in column order
	aggCol []bool   // per read column: an aggregate reads it
	where  *cond    // nil when there is no WHERE clause
	rng    interval // [tmin, tmax] outside which no row can match
	series []model.Tags
	// tagTrue[rank] is set when the tags of series[rank] alone make the
	// WHERE clause true (nil when the clause names no tag), and ids[rank]
	// is the series' id for fold (nil unless selected by sets).
	tagTrue []bool
	ids     []int32
	bk      bucketer
	// colItems lists, per read column, the items that aggregate it.
	colItems [][]int
	// parts is src as a SummarySource when some aggregated columns can be
	// answered from summaries (sumCol), nil otherwise; see summary.go.
	parts  SummarySource
	sumCol []bool
	// Per read column, for deciding whether a summary is exact: minMax is
	// set when a min or max item reads it, intAvg when an avg of an integer
	// or unsigned field does, needM2 when a stddev item does.
	minMax, intAvg, needM2 []bool
	opts                   Options
	// needSketch is set per read column when a percentile item reads it
	// (sketch.go).
	needSketch []bool
	// rollups and rawFrom are what SummarySource.Rollups said (false and
	// math.MinInt64 for other sources).
	rollups bool
	rawFrom int64
	// top is the coarsest level the query reads (see segments.go), and
	// segs the segments of the range in time order: one raw segment unless
	// summarised columns can use rollups.
	top  model.Level
	segs []segment
}

func newPlan(src Source, sel *query.Select, opts Options) (*plan, error) {
	now := opts.Now
	fields, ok := src.Fields(sel.From)
	if !ok {
		if err := checkRange(src, sel.From, math.MinInt64, math.MaxInt64); err != nil {
			return nil, err
		}
		return nil, notFound(sel.From)
	}
	p := &plan{src: src, sel: sel, coll: sel.From, fields: fields, opts: opts, rawFrom: math.MinInt64}
	if ss, ok := src.(SummarySource); ok {
		p.rollups, p.rawFrom = ss.Rollups(sel.From)
	}
	if err := p.resolveItems(); err != nil {
		return nil, err
	}
	for i, g := range sel.GroupTags {
		if _, isField := fields[g]; isField || g == "time" {
			var pos query.Pos
			if i < len(sel.GroupTagPos) {
				pos = sel.GroupTagPos[i]
			}
			return nil, errorf(pos, "cannot GROUP BY %q: it is not a tag", g)
		}
	}
	if sel.GroupBy != nil {
		if !p.agg {
			return nil, errorf(sel.GroupByPos, "GROUP BY an interval needs an aggregate in the SELECT list")
		}
		bk, err := bucketerFor(sel)
		if err != nil {
			var pe *Error
			if errors.As(err, &pe) && pe.Pos.Line == 0 {
				pe.Pos = sel.GroupByPos
			}
			return nil, err
		}
		p.bk = bk
	}
	w, err := compileWhere(sel.Where, fields, now)
	if err != nil {
		return nil, err
	}
	p.where = w
	p.rng = w.bounds()
	p.chooseColumns()
	if !p.rng.empty {
		if p.bk.kind == bucketZoned {
			p.segs = p.bk.z.segments(p.rng.lo, p.rng.hi, p.top)
		} else {
			p.segs = planSegments(p.rng.lo, p.rng.hi, p.top)
			if why := offsetWhy(sel, &p.bk, p.top); why != "" {
				for i := range p.segs {
					p.segs[i].why = why
				}
			}
		}
	}

	if !p.rng.empty {
		if err := checkRange(src, p.coll, p.rng.lo, p.rng.hi); err != nil {
			return nil, err
		}
		// Series are selected by sets (see tagsets.go), then sorted by
		// series key with their tagTrue flags alongside (an indexed
		// source's come sorted).
		series, ids, tagTrue, sorted := selectFrom(src, p.coll, w)
		if sorted {
			p.series, p.ids, p.tagTrue = series, ids, tagTrue
			return p, nil
		}
		keys := make([]string, len(series))
		order := make([]int, len(series))
		for i, t := range series {
			keys[i], order[i] = model.SeriesKey(p.coll, t), i
		}
		slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
		p.series = make([]model.Tags, len(order))
		for i, o := range order {
			p.series[i] = series[o]
		}
		if tagTrue != nil {
			p.tagTrue = make([]bool, len(order))
			for i, o := range order {
				p.tagTrue[i] = tagTrue[o]
			}
		}
		if ids != nil {
			p.ids = make([]int32, len(order))
			for i, o := range order {
				p.ids[i] = ids[o]
			}
		}
	}
	return p, nil
}

// foldFor returns the predicate rows of the series of this rank must pass:
// nil when the series' tags alone make the WHERE clause true, condFalse
// when they make it false, otherwise the clause folded for the series.
func (p *plan) foldFor(rank int, tags model.Tags) *cond {
	if p.where == nil || (p.tagTrue != nil && p.tagTrue[rank]) {
		return condTrue
	}
	id := int32(-1)
	if p.ids != nil {
		id = p.ids[rank]
	}
	return p.where.fold(tags, p.rng, id)
}

func (p *plan) resolveItems() error {
	sel := p.sel
	if len(sel.Items) == 0 {
		return errorf(sel.FromPos, "SELECT needs at least one item")
	}
	var firstAgg, firstPlain *query.Item
	for i := range sel.Items {
		it := &sel.Items[i]
		switch {
		case it.Star:
			if firstPlain == nil {
				firstPlain = it
			}
			for _, k := range sortedStrings(p.src.TagKeys(p.coll)) {
				p.items = append(p.items, outItem{name: k, field: k, isTag: true, col: -1})
			}
			for _, k := range sortedKeys(p.fields) {
				p.items = append(p.items, outItem{name: k, field: k, kind: p.fields[k], col: -1})
			}
		case it.Func != "":
			if firstAgg == nil {
				firstAgg = it
			}
			kind, ok := p.fields[it.Field]
			if !ok {
				return errorf(it.Pos, "unknown field %q in %s", it.Field, it.Name())
			}
			if err := checkAggregate(it, kind); err != nil {
				return err
			}
			p.items = append(p.items, outItem{name: it.Name(), fn: it.Func, field: it.Field, kind: kind, arg: it.Arg, col: -1})
		default:
			if firstPlain == nil {
				firstPlain = it
			}
			if kind, ok := p.fields[it.Field]; ok {
				p.items = append(p.items, outItem{name: it.Name(), field: it.Field, kind: kind, col: -1})
			} else if slices.Contains(p.src.TagKeys(p.coll), it.Field) {
				p.items = append(p.items, outItem{name: it.Name(), field: it.Field, isTag: true, col: -1})
			} else {
				return errorf(it.Pos, "unknown field or tag %q", it.Field)
			}
		}
	}
	if firstAgg != nil && firstPlain != nil {
		return errorf(firstPlain.Pos, "cannot mix aggregates and plain fields or tags in one SELECT")
	}
	p.agg = firstAgg != nil
	return nil
}

func sortedStrings(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

func checkAggregate(it *query.Item, kind model.Kind) error {
	switch it.Func {
	case "count", "first", "last", "mode":
		return nil
	case "sum", "avg", "min", "max", "spread", "stddev", "median":
	case "percentile":
		if !(it.Arg >= 0 && it.Arg <= 100) {
			return errorf(it.Pos, "percentile rank %v is outside [0, 100]", it.Arg)
		}
	default:
		return errorf(it.Pos, "unknown aggregate function %q", it.Func)
	}
	if !kind.Numeric() {
		return errorf(it.Pos, "%s does not apply to %s field %q", it.Func, kind, it.Field)
	}
	return nil
}

// chooseColumns decides which fields to read and gives every field item and
// field condition its column index.
//
// Both aggregates and raw selects read only the fields they name and those
// WHERE mentions: for an aggregate query only rows that hold an aggregated
// field count (for the range of the query, the groups that exist and the
// buckets that hold rows), which is also what per-field rollups can answer.
func (p *plan) chooseColumns() {
	idx := map[string]int{}
	add := func(f string) int {
		if i, ok := idx[f]; ok {
			return i
		}
		idx[f] = len(p.read)
		p.read = append(p.read, f)
		return idx[f]
	}
	for i := range p.items {
		if !p.items[i].isTag {
			p.items[i].col = add(p.items[i].field)
		}
	}
	p.where.fieldNames(func(f string) { add(f) })
	p.aggCol = make([]bool, len(p.read))
	p.colItems = make([][]int, len(p.read))
	if p.agg {
		for i := range p.items {
			c := p.items[i].col
			p.aggCol[c] = true
			p.colItems[c] = append(p.colItems[c], i)
		}
		p.chooseSummaries()
	}
	p.where.setColumns(idx)
}

// explain answers EXPLAIN: one row per segment of the query's range, with
// what storage reports for reading it at the segment's level.
func (p *plan) explain() *Result {
	res := &Result{
		Columns:    []string{"segment_start", "segment_end", "level", "groups", "series", "files", "rows", "dirty_buckets", "memory_points"},
		TimeColumn: -1,
		Rows:       [][]model.Value{},
	}
	if p.sketchPlanned() {
		res.Stats = &Stats{Levels: []LevelStats{}, Notes: []string{explainSketchNote}}
	}
	bound := func(t int64, open string) model.Value {
		if t == math.MinInt64 || t == math.MaxInt64 {
			return model.String(open)
		}
		return model.String(time.Unix(0, t).UTC().Format(time.RFC3339Nano))
	}
	var nodes []string // per segment, when the source names nodes
	var cold []int64   // per segment, when the source has cold files
	for _, seg := range p.segs {
		rp := p.src.Explain(p.coll, p.series, seg.lo, seg.hi, seg.level)
		if rp.ColdFiles > 0 && cold == nil {
			cold = make([]int64, len(res.Rows), len(p.segs))
		}
		if cold != nil {
			cold = append(cold, int64(rp.ColdFiles))
		}
		if len(rp.Nodes) > 0 && nodes == nil {
			nodes = make([]string, len(res.Rows), len(p.segs))
		}
		if nodes != nil {
			nodes = append(nodes, strings.Join(rp.Nodes, ","))
		}
		groups := make([]string, len(rp.Groups))
		for i, g := range rp.Groups {
			groups[i] = strconv.Itoa(g)
		}
		res.Rows = append(res.Rows, []model.Value{
			bound(seg.lo, "-inf"), bound(seg.hi, "+inf"), model.String(seg.level.String()),
			model.String(strings.Join(groups, ",")), model.Int(int64(len(p.series))),
			model.Int(int64(rp.Files)), model.Int(int64(rp.Rows)), model.Int(int64(rp.Dirty)),
			model.Int(int64(rp.MemoryPoints)),
		})
	}
	if cold != nil {
		// How many of the files are in the cold tier.
		res.Columns = append(res.Columns, "cold_files")
		for i := range res.Rows {
			res.Rows[i] = append(res.Rows[i], model.Int(cold[i]))
		}
	}
	if nodes != nil {
		// A cluster router: which storage nodes each segment reads.
		res.Columns = append(res.Columns, "nodes")
		for i := range res.Rows {
			res.Rows[i] = append(res.Rows[i], model.String(nodes[i]))
		}
	}
	if p.sel.GroupOffset != nil || p.sel.TZ != "" {
		// Why the offset or the zone let the plan read these levels.
		res.Columns = append(res.Columns, "why")
		for i := range res.Rows {
			res.Rows[i] = append(res.Rows[i], model.String(p.segs[i].why))
		}
	}
	return res
}

// interval is an inclusive range of nanosecond times; the zero interval is
// empty only when empty is set.
type interval struct {
	lo, hi int64
	empty  bool
}

var fullRange = interval{lo: math.MinInt64, hi: math.MaxInt64}

func (a interval) intersect(b interval) interval {
	if a.empty || b.empty {
		return interval{empty: true}
	}
	r := interval{lo: max(a.lo, b.lo), hi: min(a.hi, b.hi)}
	if r.lo > r.hi {
		return interval{empty: true}
	}
	return r
}

func (a interval) hull(b interval) interval {
	switch {
	case a.empty:
		return b
	case b.empty:
		return a
	}
	return interval{lo: min(a.lo, b.lo), hi: max(a.hi, b.hi)}
}

func (a interval) contains(b interval) bool {
	return b.empty || (!a.empty && a.lo <= b.lo && b.hi <= a.hi)
}
