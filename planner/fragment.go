package planner

// Aggregating where the data is.
//
// A source spread over nodes (a cluster router) can have each node run an
// aggregate SELECT's reads and aggregation over the series it holds and
// send back only the state of every aggregate per GROUP BY tag combination
// and bucket: a Fragment. The plan merges the fragments into its own
// aggregators and answers from them as it would from its own reads (FILL,
// ORDER BY, LIMIT and the rest stay on the router). What travels is then
// proportional to the answer, not to the points read.
//
// The plan asks for fragments only when merging them gives, bit for bit,
// the answer and the statistics of reading every series in one place
// (fragmentable): every aggregate is count, first or last (any kind), min,
// max or spread of a numeric field, or sum or avg of an integer or
// unsigned field. Integers compare and add the same in any order (sums
// wrap the same way; avg of integers sums exactly, see agg.go). first and
// last break time ties by series key, which a fragment carries with the
// value it kept. min and max of floats order -0 below +0 (floatBelow) but
// stop at a NaN that comes first, which depends on the order the series
// are read in: a node marks such a state Unsafe, and the plan then reads
// the series itself (line protocol and JSON cannot write a NaN). Sums and
// averages of floats are left out: float addition rounds differently in
// another order. stddev and percentile are left out too.
// A query that is not fragmentable, or that a source declines
// (ErrNoFragments), is read series by series as before.

import (
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// FragmentSource is implemented by sources whose data lies on several
// nodes that can each run an aggregate SELECT over what they hold
// (ExecuteFragment) and return its Fragment.
type FragmentSource interface {
	// AggregateFragments returns one fragment per node holding data of
	// req's collection, or an error wrapping ErrNoFragments when the plan
	// should read the series itself instead.
	AggregateFragments(ctx context.Context, req *FragmentRequest) ([]*Fragment, error)
}

// ErrNoFragments is returned (wrapped) by a FragmentSource that does not
// answer a request with fragments; the plan then reads as usual.
var ErrNoFragments = errors.New("planner: no fragments")

// FragmentRequest is what a node needs to run an aggregate SELECT over its
// data as the plan would.
type FragmentRequest struct {
	Select *query.Select
	// Fields are the collection's fields and kinds as the plan sees them
	// (every node's together).
	Fields  map[string]model.Kind
	Now     int64 // now(), in nanoseconds
	RawOnly bool
	// MaxPoints is the plan's limit on points read; Spent the points its
	// request (Options.Budget) read before this statement.
	MaxPoints, Spent int64
}

// Fragment is what one node's run of a FragmentRequest aggregated.
type Fragment struct {
	Groups []FragmentGroup
	// Matched is set when a row matched; MinT and MaxT are then the
	// earliest and latest matching times.
	Matched    bool
	MinT, MaxT int64
	// Levels counts what was read at each level (Level unset), as Stats.
	Levels              [model.Level1y + 1]LevelStats
	RollupRead, RawRead bool
	Approx              int
	Points              int64 // read, Spent excluded
}

// FragmentGroup is one GROUP BY tag combination of a fragment.
type FragmentGroup struct {
	Vals    []string
	Buckets []FragmentBucket
}

// FragmentBucket is one bucket of a group: the state of each of the
// query's aggregates, in SELECT order.
type FragmentBucket struct {
	Lo, Hi int64
	States []AggState
}

// AggState is the state of one aggregator. Which fields are meaningful
// depends on the aggregate: count N; sum Kind and I or U (wrapped); avg N
// and the exact sum as I (high, signed) and U (low) words; min, max and
// spread Seen, Kind and I, I2 (or U, U2) as minimum and maximum; first and
// last Seen, T, V and Key, the series key of the value kept.
type AggState struct {
	Seen  bool
	Kind  model.Kind
	N     int64
	I, I2 int64
	U, U2 uint64
	T     int64
	V     model.Value
	Key   string
	// Unsafe marks a state that does not merge exactly (a float minimum
	// or maximum that is a zero or a NaN): the plan then reads the series
	// itself.
	Unsafe bool
}

// fragmentable reports whether the plan may merge fragments instead of
// reading its series (see the comment at the top of this file).
func (p *plan) fragmentable() bool {
	if !p.agg || len(p.items) == 0 {
		return false
	}
	for i := range p.items {
		it := &p.items[i]
		switch it.fn {
		case "count", "first", "last":
		case "min", "max", "spread":
			if k := p.fields[p.read[it.col]]; !k.Numeric() {
				return false
			}
		case "sum", "avg":
			if k := p.fields[p.read[it.col]]; k != model.KindInt && k != model.KindUint {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// ExecuteFragment runs req over src, the data one node holds, and returns
// what it aggregated. It fails for a request that is not fragmentable.
func ExecuteFragment(ctx context.Context, src Source, req *FragmentRequest) (*Fragment, error) {
	var fsrc Source = &fragmentSource{Source: src, fields: req.Fields}
	if ss, ok := src.(SummarySource); ok {
		fsrc = &fragmentSummarySource{fragmentSource{Source: src, fields: req.Fields}, ss}
	}
	opts := Options{Now: time.Unix(0, req.Now).UTC(), RawOnly: req.RawOnly, MaxPoints: req.MaxPoints}
	p, err := newPlan(fsrc, req.Select, opts)
	if err != nil {
		return nil, err
	}
	if !p.fragmentable() {
		return nil, errors.New("planner: query cannot be run as a fragment")
	}
	ex, err := aggregateFragment(ctx, p, req.Spent)
	if err != nil {
		return nil, err
	}
	f := &Fragment{}
	f.Matched, f.MinT, f.MaxT = ex.matched, ex.minT, ex.maxT
	f.Levels, f.RollupRead, f.RawRead, f.Approx = ex.levels, ex.rollupRead, ex.rawRead, ex.approx
	f.Points = ex.points - req.Spent
	keys := make(map[int]string)
	keyOf := func(rank int) string {
		k, ok := keys[rank]
		if !ok {
			k = model.SeriesKey(p.coll, p.series[rank])
			keys[rank] = k
		}
		return k
	}
	f.Groups = make([]FragmentGroup, 0, len(ex.groups))
	for _, g := range ex.groups {
		fg := FragmentGroup{Vals: g.vals, Buckets: make([]FragmentBucket, 0, len(g.order))}
		for _, b := range g.order {
			fb := FragmentBucket{Lo: b.lo, Hi: b.hi, States: make([]AggState, len(b.aggs))}
			for i, a := range b.aggs {
				fb.States[i] = a.(fragmentAgg).state(keyOf)
			}
			fg.Buckets = append(fg.Buckets, fb)
		}
		f.Groups = append(f.Groups, fg)
	}
	return f, nil
}

// minSeriesPerWorker is the fewest series a goroutine of
// aggregateFragment aggregates: below it one goroutine does all.
const minSeriesPerWorker = 8

// aggregateFragment aggregates the plan's series for a fragment. On a node
// the router waits meanwhile, so the series are split into contiguous
// ranges of ranks aggregated on up to GOMAXPROCS goroutines (at most 4),
// whose states are then merged in rank order: exactly what one goroutine
// reading every series in turn holds, since each range's states merge as
// fragments do. A range whose float min or max is stuck at a leading NaN
// (Unsafe) cannot be merged after another: the series are then read again
// by one goroutine.
func aggregateFragment(ctx context.Context, p *plan, spent int64) (*executor, error) {
	serial := func() (*executor, error) {
		ex := &executor{p: p, groups: map[string]*group{}, ctx: ctx, points: spent}
		if p.rng.empty {
			return ex, nil
		}
		return ex, ex.aggregateSeries(ctx)
	}
	n := min(fragmentWorkers(), 4, len(p.series)/minSeriesPerWorker)
	if n < 2 || p.rng.empty {
		return serial()
	}
	exs := make([]*executor, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range n {
		lo, hi := w*len(p.series)/n, (w+1)*len(p.series)/n
		exs[w] = &executor{p: p, groups: map[string]*group{}, ctx: ctx, points: spent}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = exs[w].aggregateRanks(ctx, lo, hi)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	for _, ex := range exs[1:] {
		if ex.unsafe() {
			return serial()
		}
	}
	ex := exs[0]
	for _, o := range exs[1:] {
		if err := ex.absorb(o, spent); err != nil {
			return nil, err
		}
	}
	return ex, nil
}

// unsafe reports whether a state of the executor is Unsafe: a float
// range stuck at a leading NaN.
func (ex *executor) unsafe() bool {
	for _, g := range ex.groups {
		for _, b := range g.order {
			for _, a := range b.aggs {
				var r *numRange
				switch a := a.(type) {
				case *extremeAgg:
					r = &a.r
				case *spreadAgg:
					r = &a.r
				}
				if r != nil && r.stuck() {
					return true
				}
			}
		}
	}
	return false
}

// absorb merges the states and counts of o, which aggregated series of
// later ranks of the same plan, into ex.
func (ex *executor) absorb(o *executor, spent int64) error {
	for k, og := range o.groups {
		g := ex.groups[k]
		if g == nil {
			ex.groups[k] = og
			continue
		}
		for _, ob := range og.order {
			b := g.find(ob.lo)
			if b == nil {
				g.add(ob)
				continue
			}
			for i, a := range ob.aggs {
				st := a.(fragmentAgg).state(rankKey)
				b.aggs[i].(fragmentAgg).merge(&st, rankOfKey)
			}
		}
	}
	for l := range o.levels {
		ex.levels[l].Rows += o.levels[l].Rows
		ex.levels[l].Points += o.levels[l].Points
		ex.levels[l].Blocks += o.levels[l].Blocks
	}
	ex.rollupRead = ex.rollupRead || o.rollupRead
	ex.rawRead = ex.rawRead || o.rawRead
	ex.approx += o.approx
	ex.sketched = ex.sketched || o.sketched
	if o.matched {
		ex.note(o.minT)
		ex.note(o.maxT)
	}
	return ex.spend(o.points - spent)
}

// fragmentWorkers is how many goroutines may aggregate a fragment (a
// variable for tests on machines with fewer cores).
var fragmentWorkers = func() int { return runtime.GOMAXPROCS(0) }

// rankKey and rankOfKey stand a rank for a series key between executors
// of one plan.
func rankKey(rank int) string { return strconv.Itoa(rank) }

func rankOfKey(key string) int {
	r, _ := strconv.Atoi(key)
	return r
}

// fragmentSource is a node's source with the fields the plan sees: a node
// that lacks a field still answers a query naming it (with no values).
type fragmentSource struct {
	Source
	fields map[string]model.Kind
}

func (s *fragmentSource) Fields(string) (map[string]model.Kind, bool) { return s.fields, true }

// SeriesIndex passes the node's postings index through (IndexedSource),
// nil when the node's source has none.
func (s *fragmentSource) SeriesIndex(collection string) model.SeriesIndex {
	if is, ok := s.Source.(IndexedSource); ok {
		return is.SeriesIndex(collection)
	}
	return nil
}

func (s *fragmentSource) CheckRange(collection string, min, max int64) error {
	return checkRange(s.Source, collection, min, max)
}

// fragmentSummarySource is a fragmentSource over a SummarySource.
type fragmentSummarySource struct {
	fragmentSource
	ss SummarySource
}

func (s *fragmentSummarySource) ReadParts(ctx context.Context, collection string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool, level model.Level) ([]Part, error) {
	return s.ss.ReadParts(ctx, collection, tags, field, min, max, whole, level)
}

func (s *fragmentSummarySource) ReadPartsWithoutSketches(ctx context.Context, collection string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool, level model.Level) ([]Part, error) {
	return readParts(ctx, s.ss, collection, tags, field, min, max, whole, level, false)
}

func (s *fragmentSummarySource) Rollups(collection string) (bool, int64) {
	return s.ss.Rollups(collection)
}

// mergeFragments asks the source for fragments and merges them into the
// executor, as if it had read every series. ok is false when the source
// declined; the plan then reads its series.
func (ex *executor) mergeFragments(ctx context.Context, fs FragmentSource) (ok bool, err error) {
	p := ex.p
	req := &FragmentRequest{Select: p.sel, Fields: p.fields, Now: p.opts.Now.UnixNano(), RawOnly: p.opts.RawOnly,
		MaxPoints: p.opts.maxPoints(), Spent: ex.points}
	frags, err := fs.AggregateFragments(ctx, req)
	if errors.Is(err, ErrNoFragments) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	if anyUnsafe(frags) {
		return false, nil
	}
	var keys []string // the plan's series keys, made on the first first or last
	ranks := map[string]int{}
	rankOf := func(key string) int {
		if r, ok := ranks[key]; ok {
			return r
		}
		if keys == nil {
			keys = make([]string, len(p.series))
			for i, t := range p.series {
				keys[i] = model.SeriesKey(p.coll, t)
			}
		}
		r := rankIn(keys, key)
		ranks[key] = r
		return r
	}
	for _, f := range frags {
		if err := ex.spend(f.Points); err != nil {
			return true, err
		}
		for l := range f.Levels {
			ex.levels[l].Rows += f.Levels[l].Rows
			ex.levels[l].Points += f.Levels[l].Points
			ex.levels[l].Blocks += f.Levels[l].Blocks
		}
		ex.rollupRead = ex.rollupRead || f.RollupRead
		ex.rawRead = ex.rawRead || f.RawRead
		ex.approx += f.Approx
		if f.Matched {
			ex.note(f.MinT)
			ex.note(f.MaxT)
		}
		for gi := range f.Groups {
			fg := &f.Groups[gi]
			g := ex.groupOf(fg.Vals)
			for bi := range fg.Buckets {
				fb := &fg.Buckets[bi]
				if len(fb.States) != len(p.items) {
					return true, errors.New("planner: fragment has the wrong number of aggregates")
				}
				b := ex.bucket(g, fb.Lo)
				for i := range fb.States {
					b.aggs[i].(fragmentAgg).merge(&fb.States[i], rankOf)
				}
			}
		}
	}
	return true, nil
}

// anyUnsafe reports whether a state of the fragments does not merge
// exactly.
func anyUnsafe(frags []*Fragment) bool {
	for _, f := range frags {
		for gi := range f.Groups {
			for bi := range f.Groups[gi].Buckets {
				for _, st := range f.Groups[gi].Buckets[bi].States {
					if st.Unsafe {
						return true
					}
				}
			}
		}
	}
	return false
}

// rankIn returns a rank for a series key in keys, the plan's series in
// order: odd for a series of the plan, even between them.
func rankIn(keys []string, key string) int {
	i, found := slices.BinarySearchFunc(keys, key, strings.Compare)
	if found {
		return 2*i + 1
	}
	return 2 * i
}

// groupOf returns the group of these GROUP BY tag values.
func (ex *executor) groupOf(vals []string) *group {
	var kb strings.Builder
	for _, v := range vals {
		kb.WriteString(itoa(len(v)))
		kb.WriteByte(':')
		kb.WriteString(v)
	}
	key := kb.String()
	g := ex.groups[key]
	if g == nil {
		g = &group{vals: vals}
		ex.groups[key] = g
	}
	return g
}

// fragmentAgg is implemented by the aggregators a fragment carries.
type fragmentAgg interface {
	// state returns the aggregator's state; keyOf gives the series key
	// of a rank.
	state(keyOf func(rank int) string) AggState
	// merge adds a state from another node; rankOf gives a rank for a
	// series key, in the plan's series order.
	merge(s *AggState, rankOf func(key string) int)
}

var (
	_ fragmentAgg = (*countAgg)(nil)
	_ fragmentAgg = (*sumAgg)(nil)
	_ fragmentAgg = (*avgAgg)(nil)
	_ fragmentAgg = (*extremeAgg)(nil)
	_ fragmentAgg = (*spreadAgg)(nil)
	_ fragmentAgg = (*edgeAgg)(nil)
)

func (a *countAgg) state(func(int) string) AggState       { return AggState{N: a.n} }
func (a *countAgg) merge(s *AggState, _ func(string) int) { a.n += s.N }

func (a *sumAgg) state(func(int) string) AggState { return AggState{Kind: a.kind, I: a.i, U: a.u} }
func (a *sumAgg) merge(s *AggState, _ func(string) int) {
	if s.Kind == model.KindNull {
		return
	}
	a.kind = s.Kind
	a.i += s.I
	a.u += s.U
}

// state carries the exact total of an integer avg as its high word (I)
// and low word (U).
func (a *avgAgg) state(func(int) string) AggState {
	return AggState{N: a.n, I: int64(a.isum.hi), U: a.isum.lo}
}

// merge adds another node's exact total and count (fragmentable allows
// avg of integers only).
func (a *avgAgg) merge(s *AggState, _ func(string) int) {
	if s.N == 0 {
		return
	}
	a.ints = true
	a.isum.add(int128{hi: uint64(s.I), lo: s.U})
	a.n += s.N
}

// state returns the range; for floats the minimum and maximum travel as
// their bits in I and I2, and a range stuck at a NaN (its first value) is
// Unsafe: whether a NaN comes first depends on the order of the series.
func (r *numRange) state() AggState {
	if r.kind == model.KindFloat {
		return AggState{Seen: r.seen, Kind: r.kind, I: int64(math.Float64bits(r.minF)), I2: int64(math.Float64bits(r.maxF)), Unsafe: r.stuck()}
	}
	return AggState{Seen: r.seen, Kind: r.kind, I: r.minI, I2: r.maxI, U: r.minU, U2: r.maxU}
}

// stuck reports whether a float range is stuck at a leading NaN, which
// makes it depend on the order of the series.
func (r *numRange) stuck() bool {
	return r.seen && r.kind == model.KindFloat && (math.IsNaN(r.minF) || math.IsNaN(r.maxF))
}

// merge merges the range of another node (not Unsafe).
func (r *numRange) merge(s *AggState) {
	if !s.Seen {
		return
	}
	first := !r.seen
	r.seen, r.kind = true, s.Kind
	if s.Kind == model.KindFloat {
		if lo := math.Float64frombits(uint64(s.I)); first || floatBelow(lo, r.minF) {
			r.minF = lo
		}
		if hi := math.Float64frombits(uint64(s.I2)); first || floatBelow(r.maxF, hi) {
			r.maxF = hi
		}
		return
	}
	if first || s.I < r.minI {
		r.minI = s.I
	}
	if first || s.I2 > r.maxI {
		r.maxI = s.I2
	}
	if first || s.U < r.minU {
		r.minU = s.U
	}
	if first || s.U2 > r.maxU {
		r.maxU = s.U2
	}
}

func (a *extremeAgg) state(func(int) string) AggState       { return a.r.state() }
func (a *extremeAgg) merge(s *AggState, _ func(string) int) { a.r.merge(s) }
func (a *spreadAgg) state(func(int) string) AggState        { return a.r.state() }
func (a *spreadAgg) merge(s *AggState, _ func(string) int)  { a.r.merge(s) }

func (a *edgeAgg) state(keyOf func(int) string) AggState {
	if !a.seen {
		return AggState{}
	}
	return AggState{Seen: true, T: a.t, V: a.v, Key: keyOf(a.rank)}
}

func (a *edgeAgg) merge(s *AggState, rankOf func(string) int) {
	if s.Seen {
		a.offer(s.T, rankOf(s.Key), s.V)
	}
}
