package planner

// Transformations and selectors (query/fn.go): derivative, difference,
// rate, moving_average, cumulative_sum, elapsed, integral, top, bottom,
// distinct and sample. Their rows are not one per bucket, so the plan does
// not aggregate them: each such SELECT is rewritten into an inner SELECT
// that the planner answers as usual, through the same source (a cluster
// router included: the inner SELECT is scoped, planned, pushed down and
// limited like any other), and whose rows, which come grouped by the GROUP
// BY tags and in time order within a group, are consumed as they arrive:
//
//   - the nested form derivative(mean(v), 1s) ... GROUP BY 1m reads the
//     inner aggregate SELECT mean(v) ... GROUP BY 1m (rollups and all) and
//     transforms each group's buckets;
//   - without a GROUP BY interval, derivative(v) reads the raw select of v
//     with every tag key and transforms each series' points;
//   - integral, distinct, top, bottom and sample read the raw select too
//     and reduce the points of each group and bucket.
//
// Memory is the state of the current group: per series for the
// transformations (moving_average keeps its n values), per bucket for the
// rest (n candidates for top, bottom and sample, the values seen for
// distinct, counted against the row limit), plus a group's output rows.
// The raw inner select's rows are not limited (its points are, by
// MaxPoints); the rows returned are, by MaxRows and MaxBytes.

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// fnShape is what kind of rows a function gives.
type fnShape int

const (
	shapeRows     fnShape = iota + 1 // a row per input point or bucket (derivative, ...)
	shapeIntegral                    // one value per group and bucket
	shapeDistinct                    // the distinct values of each group and bucket
	shapePick                        // some points of each group and bucket, with their tags
	shapeSeries                      // downsample, anomalies, forecast (analytics.go)
)

func shapeOf(fn string) fnShape {
	switch fn {
	case "integral":
		return shapeIntegral
	case "distinct":
		return shapeDistinct
	case "top", "bottom", "sample":
		return shapePick
	case "downsample", "anomalies", "forecast":
		return shapeSeries
	}
	return shapeRows
}

// hasFunctions reports whether sel uses a transformation or a selector.
func hasFunctions(sel *query.Select) bool {
	for i := range sel.Items {
		if query.IsFunction(sel.Items[i].Func) {
			return true
		}
	}
	return false
}

// fnItem is one item of a fnQuery.
type fnItem struct {
	it   query.Item
	kind model.Kind // of the values the function sees
	unit int64      // the unit in nanoseconds, for functions taking one
	col  int        // the column of the inner result holding its values
}

// fnQuery is a SELECT of transformations or selectors and the inner SELECT
// it reads.
type fnQuery struct {
	sel    *query.Select
	shape  fnShape
	nested bool
	items  []fnItem
	tags   []string // tag keys the raw inner select returns after the GROUP BY tags
	inner  *query.Select
	bk     bucketer // with a GROUP BY interval (shapes other than rows)
	label  int64    // the time of the one bucket without a GROUP BY interval
	seed   string   // the query's text, which seeds sample
}

// newFnQuery checks sel and builds its inner SELECT. src must know sel.From.
func newFnQuery(src Source, sel *query.Select, fields map[string]model.Kind, opts Options) (*fnQuery, error) {
	q := &fnQuery{sel: sel, seed: sel.String()}
	tagKeys := src.TagKeys(sel.From)
	var first *query.Item
	for i := range sel.Items {
		it := &sel.Items[i]
		if it.Star || !query.IsFunction(it.Func) {
			return nil, errorf(it.Pos, "%s cannot be combined with other items; %s returns its own rows", sel.Items[firstFn(sel)].Name(), sel.Items[firstFn(sel)].Func)
		}
		sh := shapeOf(it.Func)
		if first == nil {
			first, q.shape, q.nested = it, sh, it.Inner != ""
		} else if sh != q.shape || sh == shapePick || sh == shapeDistinct || sh == shapeSeries {
			return nil, errorf(it.Pos, "%s cannot be combined with %s in one SELECT", it.Name(), first.Name())
		} else if (it.Inner != "") != q.nested {
			return nil, errorf(it.Pos, "%s and %s: transformations of aggregates and of points cannot be mixed", first.Name(), it.Name())
		}
		fi, err := checkFnItem(it, fields, tagKeys)
		if err != nil {
			return nil, err
		}
		q.items = append(q.items, fi)
	}
	switch {
	case q.nested && sel.GroupBy == nil:
		return nil, errorf(first.Pos, "%s transforms the buckets of %s: it needs GROUP BY an interval", first.Name(), first.Inner)
	case q.shape == shapeRows && !q.nested && sel.GroupBy != nil:
		return nil, errorf(first.Pos, "%s with GROUP BY an interval needs an aggregate inside, as in %s(mean(%s))", first.Name(), first.Func, first.Field)
	}
	if q.shape == shapeSeries {
		if err := q.checkAnalytics(); err != nil {
			return nil, err
		}
	} else if sel.GroupBy != nil && !q.nested {
		// The bucketer with the statement's offset and zone, as the
		// planner's own aggregates use.
		bk, err := bucketerFor(sel)
		if err != nil {
			var pe *Error
			if errors.As(err, &pe) && pe.Pos.Line == 0 {
				pe.Pos = sel.GroupByPos
			}
			return nil, err
		}
		q.bk = bk
	}
	w, err := compileWhere(sel.Where, fields, opts.Now)
	if err != nil {
		return nil, err
	}
	if rng := w.bounds(); !rng.empty && rng.lo != math.MinInt64 {
		q.label = rng.lo
	}
	q.buildInner(fields, tagKeys)
	return q, nil
}

func firstFn(sel *query.Select) int {
	for i := range sel.Items {
		if query.IsFunction(sel.Items[i].Func) {
			return i
		}
	}
	return 0
}

// checkFnItem checks the field (or tag) of a function and the kind of the
// values it sees.
func checkFnItem(it *query.Item, fields map[string]model.Kind, tagKeys []string) (fnItem, error) {
	fi := fnItem{it: *it}
	kind, isField := fields[it.Field]
	switch {
	case it.Func == "distinct" && !isField && slices.Contains(tagKeys, it.Field):
		fi.kind = model.KindString
		return fi, nil
	case !isField:
		return fi, errorf(it.Pos, "unknown field %q in %s", it.Field, it.Name())
	case it.Func == "integral" && it.Inner != "":
		return fi, errorf(it.Pos, "integral takes a field, not an aggregate: it integrates the points of each bucket")
	}
	fi.kind = kind
	if it.Inner != "" {
		inner := query.Item{Func: it.Inner, Field: it.Field, Arg: it.InnerArg, Pos: it.Pos}
		if err := checkAggregate(&inner, kind); err != nil {
			return fi, err
		}
		fi.kind = resultKind(it.Inner, kind)
	}
	if it.Func != "distinct" && it.Func != "sample" && !fi.kind.Numeric() {
		what := fi.kind.String() + " field " + strconv.Quote(it.Field)
		if it.Inner != "" {
			what = "the " + fi.kind.String() + " values of " + it.Inner + "(" + it.Field + ")"
		}
		return fi, errorf(it.Pos, "%s does not apply to %s", it.Func, what)
	}
	if it.Unit != nil {
		fi.unit = it.Unit.Nanos()
	} else if query.IsTransformation(it.Func) {
		fi.unit = query.DefaultUnit(it.Func).Nanos()
	}
	return fi, nil
}

// buildInner writes the inner SELECT and the columns the items read in it:
// time, the GROUP BY tags, then the inner aggregates or the fields read
// (and for raw reads the other tag keys, which tell the series apart).
func (q *fnQuery) buildInner(fields map[string]model.Kind, tagKeys []string) {
	sel := q.sel
	in := &query.Select{From: sel.From, FromPos: sel.FromPos, Where: sel.Where, GroupTags: sel.GroupTags, GroupTagPos: sel.GroupTagPos}
	base := 1 + len(sel.GroupTags)
	if q.nested {
		in.GroupBy, in.GroupByPos, in.Fill = sel.GroupBy, sel.GroupByPos, sel.Fill
		for i := range q.items {
			it := &q.items[i].it
			in.Items = append(in.Items, query.Item{Func: it.Inner, Field: it.Field, Arg: it.InnerArg, Pos: it.Pos})
			q.items[i].col = base + i
		}
		q.inner = in
		return
	}
	cols := map[string]int{}
	for i := range q.items {
		f := q.items[i].it.Field
		if _, ok := cols[f]; !ok {
			cols[f] = base + len(in.Items)
			in.Items = append(in.Items, query.Item{Field: f, Pos: q.items[i].it.Pos})
		}
		q.items[i].col = cols[f]
	}
	for _, k := range sortedStrings(tagKeys) {
		if _, ok := cols[k]; !ok && !slices.Contains(sel.GroupTags, k) {
			q.tags = append(q.tags, k)
			in.Items = append(in.Items, query.Item{Field: k})
		}
	}
	if q.shape == shapeDistinct && q.items[0].kind == model.KindString && len(fields) > 0 {
		if _, isField := fields[q.items[0].it.Field]; !isField {
			// distinct of a tag: the rows are the times at which any
			// field has a value.
			for _, f := range sortedKeys(fields) {
				in.Items = append(in.Items, query.Item{Field: f})
			}
		}
	}
	q.inner = in
}

// tagCol returns the inner column of tag key k (one of q.tags or an item's
// field).
func (q *fnQuery) tagCol(k string) int {
	base := 1 + len(q.sel.GroupTags)
	for i := range q.inner.Items {
		if q.inner.Items[i].Field == k && q.inner.Items[i].Func == "" {
			return base + i
		}
	}
	return -1
}

// columns returns the names of the answer's columns.
func (q *fnQuery) columns() []string {
	cols := append([]string{"time"}, q.sel.GroupTags...)
	for i := range q.items {
		cols = append(cols, q.items[i].it.Name())
	}
	if q.shape == shapeSeries {
		if c := analyticsColumn(q.items[0].it.Func); c != "" {
			cols = append(cols, c)
		}
	}
	if q.shape == shapePick || q.shape == shapeSeries {
		cols = append(cols, q.tags...)
	}
	return cols
}

// executeFunctions answers a statement whose SELECT uses transformations or
// selectors (see the comment at the top of this file).
func executeFunctions(ctx context.Context, src Source, stmt *query.Statement, opts Options, sink Sink) (*Stats, error) {
	sel := stmt.Select
	fields, ok := src.Fields(sel.From)
	if !ok {
		// The inner SELECT reports the unknown collection as any SELECT.
		return ExecuteStream(ctx, src, &query.Statement{Explain: stmt.Explain, Select: &query.Select{Items: []query.Item{{Star: true}}, From: sel.From, FromPos: sel.FromPos}}, opts, sink)
	}
	q, err := newFnQuery(src, sel, fields, opts)
	if err != nil {
		return nil, err
	}
	innerStmt := &query.Statement{Explain: stmt.Explain, Select: q.inner}
	if stmt.Explain {
		return ExecuteStream(ctx, src, innerStmt, opts, sink)
	}
	inOpts := opts
	if !q.nested {
		// The raw rows are consumed, not returned: their points are
		// limited, the rows returned are limited below.
		inOpts.MaxRows, inOpts.MaxBytes = math.MaxInt64, math.MaxInt64
	}
	var inBudget *Budget
	if b := opts.Budget; b != nil {
		inBudget = &Budget{Points: b.Points}
		if q.nested {
			inBudget.Rows, inBudget.Bytes = b.Rows, b.Bytes
		}
		inOpts.Budget = inBudget
	}
	em := newEmitter(ctx, sink, &opts)
	if b := opts.Budget; b != nil {
		em.rows, em.bytes = b.Rows, b.Bytes
		defer func() { b.Points, b.Rows, b.Bytes = inBudget.Points, em.rows, em.bytes }()
	}
	if err := sink.Columns(q.columns(), 0); err != nil {
		return nil, err
	}
	fs := newFnSink(q, em, &opts)
	st, err := ExecuteStream(ctx, src, innerStmt, inOpts, fs)
	if err != nil {
		return nil, err
	}
	if err := fs.flush(); err != nil {
		return nil, err
	}
	return st, nil
}

// fnSink consumes the inner SELECT's rows group by group.
type fnSink struct {
	q      *fnQuery
	em     *emitter
	opts   *Options
	ngroup int
	key    string        // the current group's key
	vals   []model.Value // the current group's tag values
	any    bool          // a group has started
	out    [][]model.Value
	series map[string][]transformer // shapeRows: per series, per item
	red    reducer                  // the other shapes
}

func newFnSink(q *fnQuery, em *emitter, opts *Options) *fnSink {
	return &fnSink{q: q, em: em, opts: opts, ngroup: len(q.sel.GroupTags)}
}

// Columns implements Sink.
func (s *fnSink) Columns([]string, int) error { return nil }

// Row implements Sink.
func (s *fnSink) Row(row []model.Value) error {
	if !s.any || !slices.EqualFunc(row[1:1+s.ngroup], s.vals, model.Value.Equal) {
		if err := s.flush(); err != nil {
			return err
		}
		var kb strings.Builder
		for _, v := range row[1 : 1+s.ngroup] {
			kb.WriteString(v.Str())
			kb.WriteByte(0)
		}
		s.any, s.key, s.vals = true, kb.String(), slices.Clone(row[1:1+s.ngroup])
		s.startGroup()
	}
	t := row[0].Int()
	if s.q.shape == shapeRows {
		return s.transform(t, row)
	}
	return s.red.add(s, t, row)
}

func (s *fnSink) startGroup() {
	s.out = s.out[:0]
	if s.q.shape == shapeRows {
		s.series = map[string][]transformer{}
		return
	}
	s.red = newReducer(s.q, s.key)
}

// seriesKey returns the key of the row's series within its group: the
// values of the other tag keys (none for the nested form).
func (s *fnSink) seriesKey(row []model.Value) string {
	if s.q.nested {
		return ""
	}
	var b strings.Builder
	for _, k := range s.q.tags {
		if c := s.q.tagCol(k); c >= 0 {
			b.WriteString(row[c].Str())
		}
		b.WriteByte(0)
	}
	return b.String()
}

// transform feeds one row to its series' transformers and keeps the row
// they give, if any.
func (s *fnSink) transform(t int64, row []model.Value) error {
	key := s.seriesKey(row)
	xs := s.series[key]
	if xs == nil {
		xs = make([]transformer, len(s.q.items))
		for i := range s.q.items {
			xs[i] = newTransformer(&s.q.items[i])
		}
		s.series[key] = xs
	}
	var outRow []model.Value
	for i := range s.q.items {
		v := row[s.q.items[i].col]
		if v.IsNull() {
			continue
		}
		r, ok := xs[i].next(t, v)
		if !ok {
			continue
		}
		if outRow == nil {
			outRow = s.prefix(t, len(s.q.items))
		}
		outRow[1+s.ngroup+i] = r
	}
	if outRow != nil {
		return s.keep(outRow)
	}
	return nil
}

// prefix returns a row holding t and the group's tags, with room for n
// more values (null).
func (s *fnSink) prefix(t int64, n int) []model.Value {
	row := make([]model.Value, 1+s.ngroup+n)
	row[0] = model.Int(t)
	copy(row[1:], s.vals)
	for i := 1 + s.ngroup; i < len(row); i++ {
		row[i] = model.Null
	}
	return row
}

// keep adds a row to the group's output, keeping no more than OFFSET and
// LIMIT can use (the last ones with ORDER BY time DESC) and failing when
// the group alone returns more rows than allowed.
func (s *fnSink) keep(row []model.Value) error {
	sel := s.q.sel
	if sel.Limit > 0 {
		need := int(min(sel.Offset+sel.Limit, math.MaxInt32))
		if !sel.Desc && len(s.out) >= need {
			return nil
		}
		s.out = append(s.out, row)
		if sel.Desc && len(s.out) >= 2*need {
			s.out = append(s.out[:0], s.out[len(s.out)-need:]...)
		}
		return nil
	}
	s.out = append(s.out, row)
	if int64(len(s.out))-sel.Offset > s.opts.maxRows() {
		return rowsError(s.opts.maxRows())
	}
	return nil
}

// flush emits the current group's rows.
func (s *fnSink) flush() error {
	if !s.any {
		return nil
	}
	if s.q.shape != shapeRows {
		if err := s.red.finish(s); err != nil {
			return err
		}
	}
	rows := s.out
	if s.q.sel.Desc {
		slices.Reverse(rows)
	}
	p := plan{sel: s.q.sel}
	for _, row := range p.page(rows) {
		if err := s.em.emit(row); err != nil {
			return err
		}
	}
	s.out = s.out[:0]
	s.any = false
	return nil
}

// sampleSeed seeds the reservoir of one group and bucket from the query's
// text: the same query over the same data samples the same points.
func sampleSeed(text, group string, bucket int64) (uint64, uint64) {
	h := fnv.New64a()
	h.Write([]byte(text))
	h.Write([]byte{0})
	h.Write([]byte(group))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(bucket, 10)))
	a := h.Sum64()
	h.Write([]byte("soltix sample"))
	return a, h.Sum64()
}
