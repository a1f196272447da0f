package remote

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/remote/wire"
)

// scoped is the source one SELECT runs against on a router: the catalog
// the nodes of its groups sent when their sessions opened, and the data
// they send for its ReadSet.
//
// Bounds: the data of a series is held from its arrival until the plan
// moves to a later batch (an aggregate query reads one series at a time, a
// raw select the series of one GROUP BY combination), and everything held
// at once is bounded by the query's byte limit (Options.MaxBytes): going
// over is a *planner.LimitError (422). Each node's answer is read only as
// the plan needs it, so HTTP/2 flow control holds the node back meanwhile.
type scoped struct {
	c        *Client
	ctx      context.Context
	opts     planner.Options
	coll     string
	sessions []*session
	cat      *catalog
	// checkLo and checkHi is the range the catalogs' CheckRange is of.
	checkLo, checkHi int64
	missing          []int // groups left out (partial answers)
	// where is the condition the sessions were opened with for filtering
	// rows on the nodes (nil: none; scoped_filter.go).
	where query.Expr

	mu      sync.Mutex
	rs      *planner.ReadSet
	items   map[string]*fetchItem // by series key, after Prepare
	order   []*fetchItem          // in plan order
	owner   map[string]*session   // by series key
	batch   int                   // the lowest batch still held
	held    atomic.Int64          // bytes of data held (sessions answer at once for fragments)
	maxHeld int64
}

func (c *Client) scope(ctx context.Context, stmt *query.Statement, opts planner.Options, prune bool) (*scoped, error) {
	sel := stmt.Select
	shard, n := c.topo.ShardTag(), c.topo.NumGroups()
	var groups []int
	var devices []string
	pruned := false
	if prune {
		groups, devices, pruned = statementGroups(stmt, shard, n)
	}
	if !pruned {
		groups = groupsUpTo(n)
	}
	lo, hi, empty := planner.TimeBounds(sel.Where, opts.Now)
	if empty {
		lo, hi = 0, -1
	}
	maxPoints := opts.MaxPoints
	if maxPoints <= 0 {
		maxPoints = planner.DefaultMaxPoints
	}
	open := openMsg{Collection: sel.From, Flags: openSeries, Lo: lo, Hi: hi, MaxPoints: maxPoints, Devices: devices, anyCopy: opts.AnyReplica}
	if open.anyCopy {
		open.rotate = int(c.rotate.Add(1) % (1 << 30))
	}
	where := whereText(sel, opts, &open)
	// A SELECT * of some groups needs the schema of the others' nodes
	// whatever the sessions answer (needsSchema): their catalog calls go
	// out at the same time as the sessions instead of after them.
	var early chan schemaAnswer
	if len(groups) < n && hasStar(sel) {
		early = make(chan schemaAnswer, 1)
		go func() { early <- c.schemaOf(ctx, groups, sel.From, lo, hi) }()
		defer func() {
			if early != nil {
				<-early // catalog calls close themselves; this only waits
			}
		}()
	}
	ss, missing, reasons, err := c.openAll(ctx, groups, open, false)
	if err != nil {
		return nil, err
	}
	s := &scoped{c: c, ctx: ctx, opts: opts, coll: sel.From, sessions: ss, checkLo: lo, checkHi: hi, where: where,
		maxHeld: opts.MaxBytes, items: map[string]*fetchItem{}, owner: map[string]*session{}}
	if s.maxHeld <= 0 {
		s.maxHeld = planner.DefaultMaxBytes
	}
	s.cat, err = mergeCatalogs(ss, true)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("collection %q: %w", sel.From, err)
	}
	if _, isField := s.cat.fields[shard]; isField && pruned {
		// The shard tag's name is a field here: the WHERE condition on
		// it is about the field, and every group can hold matches.
		s.close()
		return c.scope(ctx, stmt, opts, false)
	}
	if err := s.allowMissing(missing, reasons); err != nil {
		s.close()
		return nil, err
	}
	if len(groups) < n && s.needsSchema(sel) {
		var a schemaAnswer
		if early != nil {
			a, early = <-early, nil
		} else {
			a = c.schemaOf(ctx, groups, sel.From, lo, hi)
		}
		if err := s.addSchema(a); err != nil {
			s.close()
			return nil, err
		}
	}
	for i, key := range s.cat.keys {
		s.owner[key] = s.cat.owner[i]
	}
	for _, se := range ss {
		se.onBytes = s.account
	}
	return s, nil
}

// allowMissing fails unless the query accepts a partial answer, which
// then leaves the groups out and records them.
func (s *scoped) allowMissing(missing []int, reasons []string) error {
	if len(missing) == 0 {
		return nil
	}
	err := &UnavailableError{Groups: missing, Reason: strings.Join(reasons, "; ")}
	p := s.opts.Partial
	if p == nil {
		return err
	}
	p.Add(missing, err.Error())
	s.missing = missing
	return nil
}

// needsSchema reports whether the statement's answer depends on fields or
// tag keys the contacted nodes might not have (SELECT *, or a name they do
// not know, or a collection they do not hold): the catalog of the other
// nodes is needed then so that the answer matches a single node's.
func (s *scoped) needsSchema(sel *query.Select) bool {
	c := s.cat
	if !c.exists {
		return true
	}
	known := func(name string) bool {
		_, ok := c.fields[name]
		return ok || slices.Contains(c.tagKeys, name) || name == "time"
	}
	for _, it := range sel.Items {
		if it.Star || !known(it.Field) {
			return true
		}
	}
	unknown := false
	var walk func(e query.Expr)
	walk = func(e query.Expr) {
		switch x := e.(type) {
		case *query.Binary:
			walk(x.LHS)
			walk(x.RHS)
		case *query.Compare:
			unknown = unknown || !known(x.Name)
		case *query.In:
			unknown = unknown || !known(x.Name)
		case *query.Between:
			unknown = unknown || !known(x.Name)
		}
	}
	walk(sel.Where)
	for _, g := range sel.GroupTags {
		unknown = unknown || !known(g)
	}
	return unknown
}

// hasStar says whether a select has a SELECT * item.
func hasStar(sel *query.Select) bool {
	for _, it := range sel.Items {
		if it.Star {
			return true
		}
	}
	return false
}

// schemaAnswer is what the catalog calls of schemaOf answered.
type schemaAnswer struct {
	none     bool // no group was left to ask
	sessions []*session
	missing  []int
	reasons  []string
	err      error
}

// schemaOf makes the catalog calls (without series) of the groups not in
// asked, for the fields and tag keys of their nodes.
func (c *Client) schemaOf(ctx context.Context, asked []int, coll string, lo, hi int64) schemaAnswer {
	var rest []int
	for g := 0; g < c.topo.NumGroups(); g++ {
		if !slices.Contains(asked, g) {
			rest = append(rest, g)
		}
	}
	if len(rest) == 0 {
		return schemaAnswer{none: true}
	}
	open := openMsg{Collection: coll, Lo: lo, Hi: hi}
	var a schemaAnswer
	a.sessions, a.missing, a.reasons, a.err = c.openAll(ctx, rest, open, true)
	return a
}

// addSchema adds the fields and tag keys of the catalog calls of
// schemaOf to the scope's catalog.
func (s *scoped) addSchema(a schemaAnswer) error {
	if a.none || a.err != nil {
		return a.err
	}
	if err := s.allowMissing(a.missing, a.reasons); err != nil {
		return err
	}
	return s.cat.add(a.sessions, s.coll, false)
}

func (s *scoped) close() {
	closeAll(s.sessions)
	s.mu.Lock()
	s.items, s.order = nil, nil
	s.mu.Unlock()
}

// account counts bytes arriving from a node against the byte limit.
func (s *scoped) account(n int64) error {
	if s.held.Add(n) > s.maxHeld {
		return &planner.LimitError{Msg: fmt.Sprintf("query holds more than %d bytes of data from storage nodes at once", s.maxHeld), Setting: planner.SettingMaxBytes}
	}
	return nil
}

// Collections implements planner.Source.
func (s *scoped) Collections() []string { return s.c.Collections() }

// Fields implements planner.Source from the sessions' catalogs.
func (s *scoped) Fields(collection string) (map[string]model.Kind, bool) {
	if collection != s.coll {
		return s.c.Fields(collection)
	}
	if !s.cat.exists {
		return nil, false
	}
	return s.cat.fields, true
}

// TagKeys implements planner.Source.
func (s *scoped) TagKeys(collection string) []string {
	if collection != s.coll {
		return s.c.TagKeys(collection)
	}
	return s.cat.tagKeys
}

// TagValues implements planner.Source (the series of the scope only).
func (s *scoped) TagValues(collection, key string) []string {
	if collection != s.coll {
		return s.c.TagValues(collection, key)
	}
	return s.cat.tagValues(key)
}

// Series implements planner.Source: the series of the scope's groups.
func (s *scoped) Series(collection string, match func(model.Tags) bool) []model.Tags {
	if collection != s.coll {
		return s.c.Series(collection, match)
	}
	return s.cat.match(match)
}

// Rollups implements planner.SummarySource.
func (s *scoped) Rollups(collection string) (bool, int64) {
	if collection != s.coll || !s.cat.exists {
		return false, math.MinInt64
	}
	return s.cat.rollups, s.cat.rawFrom
}

// CheckRange implements planner.RangeChecker: from the catalogs when the
// range is the one they were checked over (or inside it and fine there),
// else by asking each node in its session.
func (s *scoped) CheckRange(collection string, min, max int64) error {
	if collection != s.coll {
		return s.c.CheckRange(collection, min, max)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inside := s.checkLo <= min && max <= s.checkHi
	exact := s.checkLo == min && max == s.checkHi
	var bad *session
	for _, se := range s.sessions {
		if se.cat.CheckErr != "" {
			bad = se
			break
		}
	}
	switch {
	case exact && bad != nil:
		return checkError(bad)
	case inside && bad == nil:
		return nil
	}
	for _, se := range s.sessions {
		var e wire.MsgEnc
		e.Varint(min)
		e.Varint(max)
		ans, err := se.request(s.ctx, msgCheck, e.B, msgChecked)
		if err != nil {
			return err
		}
		d := wire.MsgDec{B: ans}
		if msg := d.String(); msg != "" {
			return fmt.Errorf("node %s: %s", se.node, msg)
		}
	}
	return nil
}

// Explain implements planner.Source: each node reports on its series, in
// its session; the plans are added up.
func (s *scoped) Explain(collection string, series []model.Tags, min, max int64, level model.Level) model.ReadPlan {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rp model.ReadPlan
	by := map[*session][]model.Tags{}
	for _, t := range series {
		if se := s.owner[model.SeriesKey("", t)]; se != nil {
			by[se] = append(by[se], t)
		}
	}
	groups := map[int]bool{}
	for _, se := range s.sessions {
		if len(by[se]) == 0 {
			continue
		}
		m := explainMsg{Series: by[se], Lo: min, Hi: max, Level: level}
		ans, err := se.request(s.ctx, msgExplain, m.encode(), msgExplained)
		if err != nil {
			continue // EXPLAIN cannot fail here; the node is absent from it
		}
		p, err := decodeReadPlan(ans)
		if err != nil {
			continue
		}
		for _, g := range p.Groups {
			groups[g] = true
		}
		rp.Files += p.Files
		rp.MemoryPoints += p.MemoryPoints
		rp.Rows += p.Rows
		rp.Dirty += p.Dirty
		rp.Nodes = append(rp.Nodes, se.node)
	}
	for g := range groups {
		rp.Groups = append(rp.Groups, g)
	}
	slices.Sort(rp.Groups)
	return rp
}

// Prepare implements planner.Preparer: each node is sent its part of the
// read set in one message, and starts answering.
func (s *scoped) Prepare(ctx context.Context, rs *planner.ReadSet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rs.Collection != s.coll {
		return fmt.Errorf("remote: prepare of collection %q in a scope of %q", rs.Collection, s.coll)
	}
	s.rs = rs
	filter := s.pushFilter(rs)
	per := map[*session][]*fetchItem{}
	for _, sr := range rs.Series {
		if filter == nil {
			sr.Chunk = 0 // read whole: ReadFiltered filters nothing
		}
		key := model.SeriesKey("", sr.Tags)
		se := s.owner[key]
		if se == nil {
			continue // not in the scope's groups: reads of it fail loudly
		}
		it := &fetchItem{sr: sr}
		per[se] = append(per[se], it)
		s.items[key] = it
		s.order = append(s.order, it)
	}
	for _, se := range s.sessions {
		if items := per[se]; len(items) > 0 {
			if err := se.fetch(ctx, rs.Whole, rs.Desc, rs.Reduce, rs.Sketch, filter, items); err != nil {
				return err
			}
		}
	}
	return nil
}

// item returns the prepared data of a series (nil when there is none or
// it was released), as far as it has arrived, releasing the series of
// earlier batches. The caller holds mu.
func (s *scoped) item(tags model.Tags) (*fetchItem, *session, error) {
	key := model.SeriesKey("", tags)
	se := s.owner[key]
	if se == nil {
		return nil, nil, fmt.Errorf("remote: read of series %q, which is not in the groups of this query's scope", model.SeriesKey(s.coll, tags))
	}
	it := s.items[key]
	if it == nil {
		return nil, se, nil
	}
	if it.sr.Batch > s.batch {
		for _, o := range s.order {
			if o.sr.Batch < it.sr.Batch && !o.released {
				s.held.Add(-o.bytes)
				o.vals, o.parts, o.chunks, o.released, o.bytes = nil, nil, nil, true, 0
			}
		}
		s.batch = it.sr.Batch
	}
	if it.released {
		return nil, se, nil
	}
	return it, se, nil
}

// serve answers a read from an item: try says whether what has arrived
// decides the answer. It reads more of the node's answer until it does or
// the item is complete, and then asks the node for the read itself in the
// session (a read that was not prepared).
func (s *scoped) serve(ctx context.Context, tags model.Tags, try func(it *fetchItem) bool, ask planner.SeriesRead, desc bool) error {
	it, se, err := s.item(tags)
	if err != nil {
		return err
	}
	for it != nil {
		if try(it) {
			return nil
		}
		if it.done || it.released {
			break
		}
		if err := se.step(ctx); err != nil {
			return err
		}
	}
	ask.Tags = tags
	if it, err = s.fetchNow(ctx, se, ask, desc); err != nil {
		return err
	}
	if !try(it) {
		return fmt.Errorf("remote: node %s did not answer a read of series %q", se.node, model.SeriesKey(s.coll, tags))
	}
	return nil
}

// fetchNow reads something that was not prepared, in the series' session.
func (s *scoped) fetchNow(ctx context.Context, se *session, sr planner.SeriesRead, desc bool) (*fetchItem, error) {
	se.ctr.unprepared.Add(1)
	it := &fetchItem{sr: sr}
	whole := planner.WholeSpec{Lo: 0, Hi: -1} // accepts nothing: values only
	if s.rs != nil {
		whole = s.rs.Whole
	}
	if err := se.fetch(ctx, whole, desc, nil, nil, nil, []*fetchItem{it}); err != nil {
		return nil, err
	}
	if err := se.await(ctx, it); err != nil {
		return nil, err
	}
	if err := se.drain(ctx); err != nil {
		return nil, err
	}
	return it, nil
}

// valuesFor returns the values of field over [min, max] from an item, and
// false when what arrived does not cover them.
func (it *fetchItem) valuesFor(field string, min, max int64) (model.Column, bool) {
	if it == nil || it.released {
		return model.Column{}, false
	}
	for j, v := range it.sr.Values {
		if c := it.cov[j]; v.Field == field && c.ok && c.lo <= min && max <= c.hi {
			col := it.vals[j].Range(min, max)
			col.Name = field
			return col, true
		}
	}
	return model.Column{}, false
}

// Read implements planner.Source.
func (s *scoped) Read(ctx context.Context, collection string, tags model.Tags, fields []string, min, max int64) ([]model.Column, error) {
	if collection != s.coll {
		return nil, errUnscoped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cols := make([]model.Column, len(fields))
	try := func(it *fetchItem) bool {
		for i, f := range fields {
			var ok bool
			if cols[i], ok = it.valuesFor(f, min, max); !ok {
				return false
			}
		}
		return true
	}
	ask := planner.SeriesRead{}
	for _, f := range fields {
		ask.Values = append(ask.Values, planner.FieldSpan{Field: f, Lo: min, Hi: max})
	}
	if err := s.serve(ctx, tags, try, ask, false); err != nil {
		return nil, err
	}
	return s.kinds(cols), nil
}

// kinds gives empty columns the collection's kind of their field.
func (s *scoped) kinds(cols []model.Column) []model.Column {
	for i := range cols {
		if cols[i].Len() == 0 {
			cols[i].Kind = s.cat.fields[cols[i].Name]
		}
	}
	return cols
}

// ReadLimit implements planner.LimitSource. The plan reads a series'
// chunks in order, so what lies before min (after max with desc) is not
// read again and is dropped.
func (s *scoped) ReadLimit(ctx context.Context, collection string, tags model.Tags, fields []string, min, max int64, n int, desc bool) ([]model.Column, error) {
	if collection != s.coll {
		return nil, errUnscoped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readLimit(ctx, tags, fields, min, max, n, desc)
}

// readLimit is ReadLimit; the caller holds mu.
func (s *scoped) readLimit(ctx context.Context, tags model.Tags, fields []string, min, max int64, n int, desc bool) ([]model.Column, error) {
	var cols []model.Column
	try := func(it *fetchItem) bool {
		s.trim(it, fields, min, max, desc)
		var ok bool
		cols, ok = it.limited(fields, min, max, n, desc)
		return ok
	}
	ask := planner.SeriesRead{Rows: n}
	for _, f := range fields {
		ask.Values = append(ask.Values, planner.FieldSpan{Field: f, Lo: min, Hi: max})
	}
	if err := s.serve(ctx, tags, try, ask, desc); err != nil {
		return nil, err
	}
	return s.kinds(cols), nil
}

// trim drops the values of fields before min (after max with desc) from
// the spans of an item read in chunks.
func (s *scoped) trim(it *fetchItem, fields []string, min, max int64, desc bool) {
	if it.sr.Rows > 0 {
		return
	}
	for j, v := range it.sr.Values {
		c := &it.cov[j]
		if !slices.Contains(fields, v.Field) || !c.ok || (!desc && c.lo >= min) || (desc && c.hi <= max) {
			continue
		}
		col := &it.vals[j]
		before := col.Len()
		if desc {
			*col = col.Range(math.MinInt64, max)
			c.hi = max
		} else {
			*col = col.Range(min, math.MaxInt64)
			c.lo = min
		}
		if removed := int64(before - col.Len()); removed > 0 && it.points > 0 {
			b := it.bytes * removed / it.points
			it.bytes, it.points = it.bytes-b, it.points-removed
			s.held.Add(-b)
		}
	}
}

// limited answers ReadLimit from an item when what arrived decides the
// answer: the first (last with desc) n rows in [from, to].
func (it *fetchItem) limited(fields []string, from, to int64, n int, desc bool) ([]model.Column, bool) {
	if it == nil || it.released {
		return nil, false
	}
	// The part of [from, to] every field covers from the end the rows are
	// taken from.
	lo, hi := from, to
	for _, f := range fields {
		found := false
		for j, v := range it.sr.Values {
			c := it.cov[j]
			if v.Field != f || !c.ok || c.lo > hi || c.hi < lo {
				continue
			}
			if (!desc && c.lo <= from) || (desc && c.hi >= to) {
				lo, hi = max(lo, c.lo), min(hi, c.hi)
				found = true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	cols := make([]model.Column, len(fields))
	for i, f := range fields {
		c, ok := it.valuesFor(f, lo, hi)
		if !ok {
			return nil, false
		}
		cols[i] = c
	}
	times := rowTimes(cols)
	if len(times) < n {
		if (!desc && hi == to) || (desc && lo == from) {
			return cols, true
		}
		return nil, false
	}
	if desc {
		lo = times[len(times)-n]
	} else {
		hi = times[n-1]
	}
	for i := range cols {
		cols[i] = cols[i].Range(lo, hi)
		cols[i].Name = fields[i]
	}
	return cols, true
}

// ReadParts implements planner.SummarySource: the parts prepared for
// exactly this call, or values.
func (s *scoped) ReadParts(ctx context.Context, collection string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool, level model.Level) ([]model.Part, error) {
	if collection != s.coll {
		return nil, errUnscoped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	want := planner.PartSpan{Field: field, Lo: min, Hi: max, Level: level}
	var parts []model.Part
	try := func(it *fetchItem) bool {
		if k := slices.Index(it.sr.Parts, want); k >= 0 && it.done {
			parts = it.parts[k]
			return true
		}
		if c, ok := it.valuesFor(field, min, max); ok {
			parts = nil
			if c.Len() > 0 {
				parts = []model.Part{{Values: c}}
			}
			return true
		}
		return false
	}
	ask := planner.SeriesRead{Parts: []planner.PartSpan{want}}
	if s.rs == nil {
		ask = planner.SeriesRead{Values: []planner.FieldSpan{{Field: field, Lo: min, Hi: max}}}
	}
	if err := s.serve(ctx, tags, try, ask, false); err != nil {
		return nil, err
	}
	return parts, nil
}
