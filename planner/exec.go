package planner

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/big"
	"slices"
	"sort"
	"strconv"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// rows iterates the rows of one series: it merges the series' columns by
// timestamp. After next returns true, t is the row's time and idx[c] the
// index of the row's value in column c, or -1 when the row lacks that field.
type rows struct {
	cols []model.Column
	pos  []int
	idx  []int
	t    int64
	// aligned is set when every column has the same times, as when all
	// fields are written together: rows are then simply positions.
	aligned bool
}

func (r *rows) reset(cols []model.Column) {
	r.cols = cols
	r.pos = slices.Grow(r.pos[:0], len(cols))[:len(cols)]
	r.idx = slices.Grow(r.idx[:0], len(cols))[:len(cols)]
	clear(r.pos)
	r.aligned = true
	for c := 1; c < len(cols) && r.aligned; c++ {
		r.aligned = slices.Equal(cols[c].Times, cols[0].Times)
	}
}

func (r *rows) next() bool {
	if r.aligned {
		if len(r.cols) == 0 {
			return false
		}
		p := r.pos[0]
		if p >= len(r.cols[0].Times) {
			return false
		}
		r.t, r.pos[0] = r.cols[0].Times[p], p+1
		for c := range r.idx {
			r.idx[c] = p
		}
		return true
	}
	found := false
	var t int64
	for c := range r.cols {
		if p := r.pos[c]; p < len(r.cols[c].Times) {
			if ct := r.cols[c].Times[p]; !found || ct < t {
				t, found = ct, true
			}
		}
	}
	if !found {
		return false
	}
	for c := range r.cols {
		if p := r.pos[c]; p < len(r.cols[c].Times) && r.cols[c].Times[p] == t {
			r.idx[c], r.pos[c] = p, p+1
		} else {
			r.idx[c] = -1
		}
	}
	r.t = t
	return true
}

// group is one GROUP BY tag combination of an aggregate query and its
// buckets.
type group struct {
	vals []string
	// order lists the buckets as they were made. Rows come in time order,
	// so buckets are mostly made in time order: while they are, order is
	// sorted and is searched; the first bucket made before another makes
	// the index byLo, used from then on.
	order []*bucketState
	byLo  map[int64]*bucketState // by bucket start; nil while order is sorted
	// last is the bucket found last: most lookups are of the same bucket
	// as the one before (see executor.bucket).
	last *bucketState
}

// find returns g's bucket starting at lo, or nil.
func (g *group) find(lo int64) *bucketState {
	if g.byLo != nil {
		return g.byLo[lo]
	}
	n := len(g.order)
	if n == 0 {
		return nil
	}
	if b := g.order[n-1]; b.lo <= lo {
		if b.lo == lo {
			return b
		}
		return nil
	}
	i, ok := slices.BinarySearchFunc(g.order, lo, func(b *bucketState, lo int64) int { return cmp.Compare(b.lo, lo) })
	if !ok {
		return nil
	}
	return g.order[i]
}

// add puts a new bucket in g.
func (g *group) add(b *bucketState) {
	if g.byLo == nil {
		if n := len(g.order); n == 0 || g.order[n-1].lo < b.lo {
			g.order = append(g.order, b)
			return
		}
		g.byLo = make(map[int64]*bucketState, 2*len(g.order))
		for _, o := range g.order {
			g.byLo[o.lo] = o
		}
	}
	g.byLo[b.lo] = b
	g.order = append(g.order, b)
}

// sorted returns g's buckets in time order.
func (g *group) sorted() []*bucketState {
	bs := g.order
	if g.byLo == nil {
		return bs
	}
	byStart := func(a, b *bucketState) int { return cmp.Compare(a.lo, b.lo) }
	if !slices.IsSortedFunc(bs, byStart) {
		slices.SortFunc(bs, byStart)
	}
	return bs
}

type bucketState struct {
	lo, hi int64
	aggs   []aggregator
}

// executor holds the state of one run of a plan.
type executor struct {
	p          *plan
	cold       *model.ColdReads // the run's cold reads, for Stats
	groups     map[string]*group
	minT, maxT int64 // earliest and latest matching row
	matched    bool
	slab       []model.Value
	slabRows   int // rows cut from slab so far (alloc)
	// Slabs the buckets' states and aggregators are cut from (bucket),
	// so that a GROUP BY time over hundreds of buckets does not allocate
	// each one.
	bucketSlab slab[bucketState]
	aggSlab    []aggregator
	aggSlabs   aggSlabs
	// For Stats: what was used per level (Level unset); whether a segment
	// before the raw data kept was read with rollups (rollupRead) or from
	// raw data only (rawRead); how many rollup rows were used although
	// not exact, their raw data being gone.
	levels              [model.Level1y + 1]LevelStats
	rollupRead, rawRead bool
	approx              int
	sketched            bool // a percentile used a rollup sketch
	// points counts the points read, for Options.MaxPoints.
	points int64
	// ctx is the query's context; rowTick counts the rows the WHERE
	// condition was evaluated on, so that ctx is checked every
	// rowCheckEvery rows rather than only between chunks.
	ctx     context.Context
	rowTick uint64
}

// rowCheckEvery is how many rows are evaluated between checks of the
// query's context inside one chunk (a power of two): a chunk of 64k rows
// under a costly condition must not run on long after a cancel or the
// query's deadline.
const rowCheckEvery = 1024

// tick counts one evaluated row and, every rowCheckEvery rows, returns the
// context's error.
func (ex *executor) tick() error {
	ex.rowTick++
	if ex.rowTick&(rowCheckEvery-1) != 0 {
		return nil
	}
	return ex.ctx.Err()
}

func (ex *executor) group(tags model.Tags) *group {
	vals, key := ex.p.groupVals(tags)
	g := ex.groups[key]
	if g == nil {
		g = &group{vals: vals}
		ex.groups[key] = g
	}
	return g
}

func (ex *executor) bucket(g *group, t int64) *bucketState {
	if b := g.last; b != nil && t >= b.lo && t <= b.hi {
		return b
	}
	lo, hi := ex.p.bk.span(t)
	b := g.find(lo)
	if b == nil {
		b = ex.bucketSlab.next()
		b.lo, b.hi = lo, hi
		n := len(ex.p.items)
		if len(ex.aggSlab) < n {
			ex.aggSlab = make([]aggregator, n*min(slabMax, max(4, ex.bucketSlab.made)))
		}
		b.aggs, ex.aggSlab = ex.aggSlab[:n:n], ex.aggSlab[n:]
		for i := range ex.p.items {
			b.aggs[i] = ex.aggSlabs.new(&ex.p.items[i])
		}
		g.add(b)
	}
	g.last = b
	return b
}

// slab hands out zeroed values of T from slices it allocates, growing
// them as more are asked for (up to slabMax at once), so that many small
// objects of one run cost a few allocations.
type slab[T any] struct {
	free []T
	made int // how many it has handed out
}

const slabMax = 256

func (s *slab[T]) next() *T {
	if len(s.free) == 0 {
		s.free = make([]T, min(slabMax, max(4, s.made)))
	}
	v := &s.free[0]
	s.free = s.free[1:]
	s.made++
	return v
}

// alloc returns room for a row of n values, cut from a slab that grows
// with the rows cut so far (up to 512 rows at once): a few rows cost
// little, many cost few allocations.
func (ex *executor) alloc(n int) []model.Value {
	if len(ex.slab) < n {
		ex.slab = make([]model.Value, n*min(512, max(16, ex.slabRows)))
	}
	ex.slabRows++
	row := ex.slab[:n:n]
	ex.slab = ex.slab[n:]
	return row
}

// reserveMax is the most values reserve allocates at once (1 MiB).
const reserveMax = 1 << 15

// reserve makes room in the slab for n values about to be cut from it by
// alloc, so that a known number of rows costs one allocation.
func (ex *executor) reserve(n int) {
	if len(ex.slab) < n && n <= reserveMax {
		ex.slab = make([]model.Value, n)
	}
}

func (ex *executor) note(t int64) {
	if !ex.matched {
		ex.minT, ex.maxT, ex.matched = t, t, true
		return
	}
	ex.minT = min(ex.minT, t)
	ex.maxT = max(ex.maxT, t)
}

func (p *plan) columns() []string {
	cols := []string{"time"}
	cols = append(cols, p.sel.GroupTags...)
	for _, it := range p.items {
		cols = append(cols, it.name)
	}
	return cols
}

func (p *plan) checkColumns(cols []model.Column) error {
	if len(cols) != len(p.read) {
		return fmt.Errorf("planner: source returned %d columns for %d fields", len(cols), len(p.read))
	}
	for i := range cols {
		if want := p.fields[p.read[i]]; cols[i].Len() > 0 && cols[i].Kind != want {
			return fmt.Errorf("planner: source returned field %q as %s, want %s", p.read[i], cols[i].Kind, want)
		}
	}
	return nil
}

// run executes a SELECT, handing its rows to sink.
func (p *plan) run(ctx context.Context, sink Sink) (*Stats, error) {
	// Storage counts the query's cold reads in the context's ColdReads
	// (and in the caller's, when it has one).
	cold := &model.ColdReads{Parent: model.ColdReadsFrom(ctx)}
	ctx = model.WithColdReads(ctx, cold)
	ex := &executor{p: p, groups: map[string]*group{}, ctx: ctx, cold: cold}
	em := newEmitter(ctx, sink, &p.opts)
	if b := p.opts.Budget; b != nil {
		ex.points, em.rows, em.bytes = b.Points, b.Rows, b.Bytes
		defer func() { b.Points, b.Rows, b.Bytes = ex.points, em.rows, em.bytes }()
	}
	if err := sink.Columns(p.columns(), 0); err != nil {
		return nil, err
	}
	if p.rng.empty {
		return ex.stats(), nil
	}
	if !p.agg {
		if err := p.prepare(ctx); err != nil {
			return nil, err
		}
		if err := ex.streamRaw(ctx, em); err != nil {
			return nil, err
		}
		return ex.stats(), nil
	}
	merged := false
	if fs, ok := p.src.(FragmentSource); ok && p.fragmentable() {
		var err error
		if merged, err = ex.mergeFragments(ctx, fs); err != nil {
			return nil, err
		}
	}
	if !merged {
		if err := p.prepare(ctx); err != nil {
			return nil, err
		}
		if err := ex.aggregateSeries(ctx); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	groups := make([]*group, 0, len(ex.groups))
	for _, g := range ex.groups {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b *group) int { return slices.Compare(a.vals, b.vals) })
	if err := ex.outputAggregates(ctx, em, groups); err != nil {
		return nil, err
	}
	return ex.stats(), nil
}

// aggregateSeries reads the plan's series one at a time into the
// executor's groups.
func (ex *executor) aggregateSeries(ctx context.Context) error {
	return ex.aggregateRanks(ctx, 0, len(ex.p.series))
}

// aggregateRanks is aggregateSeries for the series of ranks [lo, hi).
func (ex *executor) aggregateRanks(ctx context.Context, lo, hi int) error {
	p := ex.p
	var r rows
	// The series' predicates first: those left nil are read with
	// ReadParts, which goroutines may then do ahead (prefetch.go).
	preds := make([]*cond, hi-lo)
	for rank := lo; rank < hi; rank++ {
		pred := p.foldFor(rank, p.series[rank])
		if pred == condTrue {
			pred = nil
		}
		preds[rank-lo] = pred
	}
	pf := ex.startPrefetch(ctx, lo, preds)
	if pf != nil {
		defer pf.stop()
	}
	for rank := lo; rank < hi; rank++ {
		tags := p.series[rank]
		if err := ctx.Err(); err != nil {
			return err
		}
		pred := preds[rank-lo]
		if pred == condFalse {
			continue
		}
		if pred == nil && p.parts != nil {
			if err := ex.aggregateParts(ctx, tags, rank, pf); err != nil {
				return err
			}
			continue
		}
		err := ex.readEach(ctx, tags, p.read, p.rng.lo, p.rng.hi, true, func(cols []model.Column) error {
			if err := p.checkColumns(cols); err != nil {
				return err
			}
			r.reset(cols)
			return ex.aggregate(&r, pred, tags, rank)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// sortGroups sorts the groups of a raw select by their tag values.
func sortGroups(groups []*rawGroup) {
	slices.SortFunc(groups, func(a, b *rawGroup) int { return slices.Compare(a.vals, b.vals) })
}

func itoa(n int) string { return strconv.Itoa(n) }

// aggregate feeds the matching rows of one series to the aggregators.
func (ex *executor) aggregate(r *rows, pred *cond, tags model.Tags, rank int) error {
	p := ex.p
	lo, hi := p.rng.lo, p.rng.hi
	var g *group
	var cur *bucketState
	cols := r.cols
	items := p.items
	if pred == nil {
		ex.aggregateRuns(cols, tags, rank)
		return nil
	}
	for r.next() {
		if err := ex.tick(); err != nil {
			return err
		}
		t := r.t
		if t < lo || t > hi || (pred != nil && !pred.eval(r)) || !ex.holdsAggregated(r) {
			continue
		}
		if g == nil {
			g = ex.group(tags)
			ex.note(t)
		}
		if cur == nil || t < cur.lo || t > cur.hi {
			cur = ex.bucket(g, t)
		}
		for i := range items {
			c := items[i].col
			if j := r.idx[c]; j >= 0 {
				cur.aggs[i].add(&cols[c], j, t, rank)
			}
		}
		ex.maxT = max(ex.maxT, t)
	}
	return nil
}

// aggregateRuns is aggregate for a series with no condition left to
// evaluate: every row is a matching row, so each column is walked on its own
// and the values of one bucket are handed to the aggregators as a run. Every
// aggregated column is walked, as its rows make its buckets exist.
func (ex *executor) aggregateRuns(cols []model.Column, tags model.Tags, rank int) {
	sa := seriesAgg{ex: ex, tags: tags, rank: rank}
	for ci := range cols {
		if ex.p.aggCol[ci] { // the others are read for WHERE only
			sa.values(&cols[ci], ci)
		}
	}
}

// seriesAgg feeds the values (and summaries) of the aggregated columns of
// one series with no condition left to evaluate to the aggregators.
type seriesAgg struct {
	ex   *executor
	tags model.Tags
	rank int
	g    *group // made on the first matching row
}

func (sa *seriesAgg) group() *group {
	if sa.g == nil {
		sa.g = sa.ex.group(sa.tags)
	}
	return sa.g
}

// values feeds the values of c, aggregated column ci, whose times lie in the
// query's range to the aggregators of that column, one bucket's run at a
// time.
func (sa *seriesAgg) values(c *model.Column, ci int) {
	sa.valuesIn(c, ci, sa.ex.p.rng.lo, sa.ex.p.rng.hi)
}

// valuesIn is values for the values of c whose times lie in [lo, hi], a
// part of the query's range.
func (sa *seriesAgg) valuesIn(c *model.Column, ci int, lo, hi int64) {
	ex, p := sa.ex, sa.ex.p
	times := c.Times
	i, _ := slices.BinarySearch(times, lo)
	end := len(times)
	if hi < math.MaxInt64 {
		end, _ = slices.BinarySearch(times, hi+1)
	}
	if i >= end {
		return
	}
	g := sa.group()
	ex.note(times[i])
	ex.note(times[end-1])
	for i < end {
		b := ex.bucket(g, times[i])
		j := i + 1
		if j < end && times[j] <= b.hi {
			// The run ends at the first time past the bucket.
			j += sort.Search(end-j, func(k int) bool { return times[j+k] > b.hi })
		}
		for _, k := range p.colItems[ci] {
			if ra, ok := b.aggs[k].(runAdder); ok {
				ra.addRun(c, i, j, sa.rank)
				continue
			}
			for x := i; x < j; x++ {
				b.aggs[k].add(c, x, times[x], sa.rank)
			}
		}
		i = j
	}
}

// holdsAggregated reports whether the current row holds a field that an
// aggregate of the query reads.
func (ex *executor) holdsAggregated(r *rows) bool {
	for i := range ex.p.items {
		if r.idx[ex.p.items[i].col] >= 0 {
			return true
		}
	}
	return false
}

// paged returns how many of n rows of one group OFFSET and LIMIT keep.
func (p *plan) paged(n int64) int64 {
	n -= min(max(p.sel.Offset, 0), n)
	if lim := p.sel.Limit; lim > 0 {
		n = min(n, lim)
	}
	return n
}

// page applies OFFSET and LIMIT to the rows of one group.
func (p *plan) page(rows [][]model.Value) [][]model.Value {
	if off := p.sel.Offset; off > 0 {
		if off >= int64(len(rows)) {
			return nil
		}
		rows = rows[off:]
	}
	if lim := p.sel.Limit; lim > 0 && lim < int64(len(rows)) {
		rows = rows[:lim]
	}
	return rows
}

// filled is a bucket that held rows, with its results.
type filled struct {
	start int64
	vals  []model.Value
}

// outputAggregates emits the rows of an aggregate query, group by group.
// With FILL the number of buckets is checked against the row limit before
// any is built, and the context every few thousand buckets.
func (ex *executor) outputAggregates(ctx context.Context, em *emitter, groups []*group) error {
	p := ex.p
	send := func(rows [][]model.Value) error {
		rows = p.page(rows)
		em.grow(len(rows))
		for _, row := range rows {
			if err := em.emit(row); err != nil {
				return err
			}
		}
		return nil
	}
	// Rows are cut from the executor's slab (alloc): hundreds of buckets
	// make hundreds of rows.
	prefix := func(t int64, g *group) []model.Value {
		row := ex.alloc(1 + len(g.vals) + len(p.items))[:0]
		row = append(row, model.Int(t))
		for _, v := range g.vals {
			row = append(row, model.String(v))
		}
		return row
	}
	row := func(lo int64, g *group, b *bucketState) []model.Value {
		r := prefix(lo, g)
		for _, a := range b.aggs {
			r = append(r, a.result())
		}
		return r
	}
	if p.bk.kind == bucketNone {
		var label int64
		if p.rng.lo != math.MinInt64 {
			label = p.rng.lo
		}
		for _, g := range groups {
			var out [][]model.Value
			for _, b := range g.order {
				out = append(out, row(label, g, b))
			}
			if err := send(out); err != nil {
				return err
			}
		}
		return nil
	}
	if !ex.matched {
		return nil
	}
	start, end := p.rng.lo, p.rng.hi
	if start == math.MinInt64 {
		start = ex.minT
	}
	if end == math.MaxInt64 {
		end = ex.maxT
	}
	mode := p.sel.Fill.Mode
	if mode != query.FillNone {
		if n, lim := fillRows(&p.bk, start, end, len(groups)), p.opts.maxRows(); n > uint64(lim) {
			return &LimitError{
				Msg:     fmt.Sprintf("GROUP BY interval gives %s rows with FILL, more than the %d allowed; use a longer interval, a narrower time range or FILL(none)", countText(n), lim),
				Setting: SettingMaxRows,
			}
		}
	}
	if mode == query.FillNone {
		// Every row is known: refuse before sending any.
		var total int64
		for _, g := range groups {
			total = timex.AddSat(total, p.paged(int64(len(g.order))))
		}
		if lim := p.opts.maxRows(); total > lim {
			return rowsError(lim)
		}
	}
	first, _ := p.bk.span(start)
	last, _ := p.bk.span(end)
	perGroup := fillRows(&p.bk, start, end, 1) // rows of a group with FILL
	for _, g := range groups {
		bs := g.sorted()
		n := len(bs)
		if mode != query.FillNone {
			n = int(min(perGroup, uint64(p.opts.maxRows()))) // checked above
		}
		ex.reserve(n * (1 + len(g.vals) + len(p.items)))
		// query.max_rows may be set very high: rows past reserveMax are
		// appended as they come, not sized for up front.
		out := make([][]model.Value, 0, min(n, reserveMax))
		if mode == query.FillNone {
			for _, b := range bs {
				out = append(out, row(b.lo, g, b))
			}
		} else {
			// The rows of the buckets with data are made first; the
			// buckets' results are listed for the filled rows around
			// them only when there is one.
			rows := make([][]model.Value, len(bs))
			for i, b := range bs {
				rows[i] = row(b.lo, g, b)
			}
			var data []filled
			di, nb := 0, 0
			for b, ok := first, true; ok && b <= last; b, ok = p.bk.next(b) {
				if nb++; nb%4096 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				if di < len(bs) && bs[di].lo == b {
					out = append(out, rows[di])
					di++
					continue
				}
				if data == nil {
					data = make([]filled, len(bs))
					for i, b := range bs {
						data[i] = filled{start: b.lo, vals: rows[i][1+len(g.vals):]}
					}
				}
				var prev, next *filled
				if di > 0 {
					prev = &data[di-1]
				}
				if di < len(data) {
					next = &data[di]
				}
				r := prefix(b, g)
				for i := range p.items {
					r = append(r, p.fillValue(i, b, prev, next))
				}
				out = append(out, r)
			}
		}
		if p.sel.Desc {
			slices.Reverse(out)
		}
		if err := send(out); err != nil {
			return err
		}
	}
	return nil
}

// fillRows returns how many rows filling every bucket from the one
// holding start to the one holding end gives for n groups, saturating
// instead of wrapping (1ns buckets over the whole int64 range are 1<<64).
func fillRows(bk *bucketer, start, end int64, n int) uint64 {
	return timex.SatMul(bk.count(start, end), uint64(n))
}

// fillValue returns the value of item i in the empty bucket starting at t,
// between the buckets with rows prev and next (either may be nil).
func (p *plan) fillValue(i int, t int64, prev, next *filled) model.Value {
	it := &p.items[i]
	rk := resultKind(it.fn, it.kind)
	empty := model.Null
	if it.fn == "count" {
		empty = model.Int(0)
	}
	switch p.sel.Fill.Mode {
	case query.FillValue:
		return fillNumber(p.sel.Fill.Value, rk)
	case query.FillPrevious:
		if prev == nil {
			return empty
		}
		return prev.vals[i]
	case query.FillLinear:
		if prev == nil || next == nil {
			return empty
		}
		return interpolate(prev.vals[i], next.vals[i], prev.start, next.start, t)
	}
	return empty
}

// fillNumber converts the FILL(<number>) value for an item whose results
// have kind k: integral numbers stay integers for integer results.
func fillNumber(f float64, k model.Kind) model.Value {
	integral := f == math.Trunc(f) && !math.IsInf(f, 0)
	switch {
	case k == model.KindInt && integral && f >= -(1<<63) && f < 1<<63:
		return model.Int(int64(f))
	case k == model.KindUint && integral && f >= 0 && f < 1<<64:
		return model.Uint(uint64(f))
	}
	return model.Float(f)
}

// interpolate returns the value at t on the line from (t0, v0) to (t1, v1).
// Integer results are computed exactly and rounded towards zero; values
// that are null or not numeric give null.
func interpolate(v0, v1 model.Value, t0, t1, t int64) model.Value {
	if v0.Kind != v1.Kind || t1 <= t0 {
		return model.Null
	}
	switch v0.Kind {
	case model.KindFloat:
		a, b := v0.Float(), v1.Float()
		return model.Float(a + (b-a)*(float64(timex.Dist(t0, t))/float64(timex.Dist(t0, t1))))
	case model.KindInt, model.KindUint:
		var a, b big.Int
		if v0.Kind == model.KindInt {
			a.SetInt64(v0.Int())
			b.SetInt64(v1.Int())
		} else {
			a.SetUint64(v0.Uint())
			b.SetUint64(v1.Uint())
		}
		span := new(big.Int).Sub(big.NewInt(t1), big.NewInt(t0))
		dt := new(big.Int).Sub(big.NewInt(t), big.NewInt(t0))
		// a + (b-a)*dt/span, as (a*span + (b-a)*dt) / span, truncated.
		num := new(big.Int).Mul(&a, span)
		num.Add(num, new(big.Int).Mul(new(big.Int).Sub(&b, &a), dt))
		num.Quo(num, span)
		if v0.Kind == model.KindInt {
			return model.Int(num.Int64())
		}
		return model.Uint(num.Uint64())
	}
	return model.Null
}
