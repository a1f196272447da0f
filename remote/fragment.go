package remote

// Aggregate fragments: a node runs an aggregate SELECT over the series of
// the session's groups and answers the state of each aggregate per GROUP BY
// tag combination and bucket (planner.FragmentSource, planner.Fragment).
//
//	msgAggregate → msgAggregated (or msgError)
//
// msgAggregated starts with a byte: 1 and the fragment, or 0 and a reason
// when the node will not answer with a fragment (too large); the router's
// plan then reads the series itself in the same session.
//
// msgAggregate carries the statement as text (query.Statement.String,
// which parses back to the same statement), the fields and kinds the
// router's plan sees, now(), the raw-only switch, the points limit and the
// points the request spent before. The router asks every node of the query
// at once and merges the fragments in its plan.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/remote/wire"
	"github.com/soltixdb/soltix/storage"
)

// Message types and the error code of fragments.
const (
	msgAggregate  = 'A'
	msgAggregated = 'a'
)

// maxFragment bounds a fragment's encoding: past it the node answers
// fallback, and the router reads the series instead (bounded by the
// query's byte limit as any read).
const maxFragment = 32 << 20

func encodeFragmentRequest(r *planner.FragmentRequest) []byte {
	var e wire.MsgEnc
	e.String((&query.Statement{Select: r.Select}).String())
	e.Uvarint(uint64(len(r.Fields)))
	for _, name := range slices.Sorted(maps.Keys(r.Fields)) {
		e.String(name)
		e.Byte(byte(r.Fields[name]))
	}
	e.Varint(r.Now)
	e.Bool(r.RawOnly)
	e.Varint(r.MaxPoints)
	e.Varint(r.Spent)
	return e.B
}

func decodeFragmentRequest(b []byte) (*planner.FragmentRequest, error) {
	d := wire.MsgDec{B: b}
	text := d.String()
	n := d.Count(2)
	fields := make(map[string]model.Kind, n)
	for i := 0; i < n; i++ {
		name := d.String()
		k := model.Kind(d.Byte())
		if !k.Numeric() && k != model.KindBool && k != model.KindString {
			return nil, fmt.Errorf("aggregate: field %q of kind %d: %w", name, k, wire.ErrMalformed)
		}
		fields[name] = k
	}
	r := &planner.FragmentRequest{Fields: fields, Now: d.Varint(), RawOnly: d.Bool(), MaxPoints: d.Varint(), Spent: d.Varint()}
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("aggregate: %w", err)
	}
	if r.MaxPoints <= 0 || r.Spent < 0 || r.Spent > r.MaxPoints {
		return nil, fmt.Errorf("aggregate: %d points spent of %d: %w", r.Spent, r.MaxPoints, wire.ErrMalformed)
	}
	stmt, err := query.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("aggregate: %v: %w", err, wire.ErrMalformed)
	}
	if stmt.Select == nil {
		return nil, fmt.Errorf("aggregate: not a SELECT: %w", wire.ErrMalformed)
	}
	r.Select = stmt.Select
	return r, nil
}

// State flags: which of a state's fields follow (zero otherwise).
const (
	stateSeen = 1 << iota
	stateKind
	stateN
	stateI
	stateI2
	stateU
	stateU2
	stateEdge // T, V and the index of Key in the fragment's key table
	stateUnsafe
)

func encodeFragment(f *planner.Fragment) []byte {
	var e wire.MsgEnc
	e.Byte(1)
	e.Bool(f.Matched)
	e.Varint(f.MinT)
	e.Varint(f.MaxT)
	for _, l := range f.Levels {
		e.Varint(l.Rows)
		e.Varint(l.Points)
		e.Varint(l.Blocks)
	}
	e.Bool(f.RollupRead)
	e.Bool(f.RawRead)
	e.Varint(int64(f.Approx))
	e.Varint(f.Points)
	// The series keys first and follows, once each: every first and last
	// of a series' bucket names the same one.
	idx := map[string]uint64{}
	var keys []string
	for _, g := range f.Groups {
		for _, b := range g.Buckets {
			for i := range b.States {
				if k := b.States[i].Key; k != "" {
					if _, ok := idx[k]; !ok {
						idx[k] = uint64(len(keys))
						keys = append(keys, k)
					}
				}
			}
		}
	}
	e.Strings(keys)
	e.Uvarint(uint64(len(f.Groups)))
	for _, g := range f.Groups {
		e.Strings(g.Vals)
		e.Uvarint(uint64(len(g.Buckets)))
		for _, b := range g.Buckets {
			e.Varint(b.Lo)
			e.Varint(b.Hi)
			e.Uvarint(uint64(len(b.States)))
			for i := range b.States {
				encodeState(&e, &b.States[i], idx)
			}
		}
	}
	return e.B
}

func encodeState(e *wire.MsgEnc, s *planner.AggState, keys map[string]uint64) {
	var flags uint64
	for _, f := range []struct {
		set  bool
		flag uint64
	}{{s.Seen, stateSeen}, {s.Kind != model.KindNull, stateKind}, {s.N != 0, stateN}, {s.I != 0, stateI}, {s.I2 != 0, stateI2},
		{s.U != 0, stateU}, {s.U2 != 0, stateU2}, {s.T != 0 || s.V.Kind != model.KindNull || s.Key != "", stateEdge},
		{s.Unsafe, stateUnsafe}} {
		if f.set {
			flags |= f.flag
		}
	}
	e.Uvarint(flags)
	if flags&stateKind != 0 {
		e.Byte(byte(s.Kind))
	}
	if flags&stateN != 0 {
		e.Varint(s.N)
	}
	if flags&stateI != 0 {
		e.Varint(s.I)
	}
	if flags&stateI2 != 0 {
		e.Varint(s.I2)
	}
	if flags&stateU != 0 {
		e.Uvarint(s.U)
	}
	if flags&stateU2 != 0 {
		e.Uvarint(s.U2)
	}
	if flags&stateEdge != 0 {
		e.Varint(s.T)
		e.Value(s.V)
		if s.Key == "" {
			e.Uvarint(0)
		} else {
			e.Uvarint(keys[s.Key] + 1)
		}
	}
}

// decodeFragment decodes msgAggregated; a nil fragment with a nil error
// is the node declining.
func decodeFragment(b []byte) (*planner.Fragment, error) {
	d := wire.MsgDec{B: b}
	if d.Byte() == 0 {
		_ = d.String()
		return nil, d.Done()
	}
	f := &planner.Fragment{Matched: d.Bool(), MinT: d.Varint(), MaxT: d.Varint()}
	for l := range f.Levels {
		f.Levels[l].Rows, f.Levels[l].Points, f.Levels[l].Blocks = d.Varint(), d.Varint(), d.Varint()
	}
	f.RollupRead, f.RawRead = d.Bool(), d.Bool()
	f.Approx = int(d.Varint())
	f.Points = d.Varint()
	keys := d.Strings()
	ng := d.Count(2)
	f.Groups = make([]planner.FragmentGroup, 0, ng)
	for gi := 0; gi < ng && d.Err() == nil; gi++ {
		g := planner.FragmentGroup{Vals: d.Strings()}
		nb := d.Count(3)
		g.Buckets = make([]planner.FragmentBucket, 0, nb)
		for bi := 0; bi < nb && d.Err() == nil; bi++ {
			fb := planner.FragmentBucket{Lo: d.Varint(), Hi: d.Varint()}
			fb.States = make([]planner.AggState, d.Count(1))
			for i := range fb.States {
				if err := decodeState(&d, &fb.States[i], keys); err != nil {
					return nil, err
				}
			}
			g.Buckets = append(g.Buckets, fb)
		}
		f.Groups = append(f.Groups, g)
	}
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("fragment: %w", err)
	}
	return f, nil
}

func decodeState(d *wire.MsgDec, s *planner.AggState, keys []string) error {
	flags := d.Uvarint()
	if flags >= stateUnsafe<<1 {
		return fmt.Errorf("fragment: state flags %#x: %w", flags, wire.ErrMalformed)
	}
	s.Seen, s.Unsafe = flags&stateSeen != 0, flags&stateUnsafe != 0
	if flags&stateKind != 0 {
		s.Kind = model.Kind(d.Byte())
	}
	if flags&stateN != 0 {
		s.N = d.Varint()
	}
	if flags&stateI != 0 {
		s.I = d.Varint()
	}
	if flags&stateI2 != 0 {
		s.I2 = d.Varint()
	}
	if flags&stateU != 0 {
		s.U = d.Uvarint()
	}
	if flags&stateU2 != 0 {
		s.U2 = d.Uvarint()
	}
	if flags&stateEdge != 0 {
		s.T = d.Varint()
		s.V = d.Value()
		if k := d.Uvarint(); k > 0 {
			if k > uint64(len(keys)) {
				return fmt.Errorf("fragment: series key %d of %d: %w", k, len(keys), wire.ErrMalformed)
			}
			s.Key = keys[k-1]
		}
	}
	return nil
}

// aggregate answers msgAggregate: the fragment of the session's groups.
func (ss *nodeSession) aggregate(payload []byte) error {
	req, err := decodeFragmentRequest(payload)
	if err != nil {
		return err
	}
	if req.Select.From != ss.open.Collection {
		return fmt.Errorf("aggregate: collection %q in a session of %q: %w", req.Select.From, ss.open.Collection, wire.ErrMalformed)
	}
	// The session's own bound holds here too.
	if lim := ss.open.MaxPoints; lim > 0 {
		req.MaxPoints = min(req.MaxPoints, lim)
		req.Spent = min(req.Spent, req.MaxPoints)
	}
	src := &groupSource{DB: ss.n.db, ss: ss}
	f, err := planner.ExecuteFragment(ss.ctx, src, req)
	if err != nil {
		return err
	}
	b := encodeFragment(f)
	if len(b) > maxFragment {
		var e wire.MsgEnc
		e.Byte(0)
		e.String(fmt.Sprintf("fragment of %d bytes", len(b)))
		return ss.send(msgAggregated, e.B)
	}
	ss.n.metrics.aggregates.Add(1)
	return ss.send(msgAggregated, b)
}

// groupSource is the node's data restricted to the series of the
// session's groups.
type groupSource struct {
	*storage.DB
	ss *nodeSession
}

// Series implements planner.Source over the session's groups only.
func (s *groupSource) Series(collection string, match func(model.Tags) bool) []model.Tags {
	return s.DB.Series(collection, func(t model.Tags) bool {
		return s.ss.inGroup[s.ss.n.groupOf(collection, t)] && (match == nil || match(t))
	})
}

// SeriesIndex implements planner.IndexedSource over the session's groups
// only: the DB's postings, with the series outside them left out.
func (s *groupSource) SeriesIndex(collection string) model.SeriesIndex {
	ix := s.DB.SeriesIndex(collection)
	return groupIndex{SeriesIndex: ix, s: s, coll: collection}
}

// groupIndex is a series index whose Series keeps the session's groups'.
type groupIndex struct {
	model.SeriesIndex
	s    *groupSource
	coll string
}

// Series implements model.SeriesIndex.
func (g groupIndex) Series(ids []int32, complement bool) ([]int32, []model.Tags) {
	outIDs, outTags := g.SeriesIndex.Series(ids, complement)
	n := 0
	for i, t := range outTags {
		if g.s.ss.inGroup[g.s.ss.n.groupOf(g.coll, t)] {
			outIDs[n], outTags[n] = outIDs[i], t
			n++
		}
	}
	return outIDs[:n], outTags[:n]
}

// AggregateFragments implements planner.FragmentSource: every node of the
// query runs it over its groups, at the same time.
func (s *scoped) AggregateFragments(ctx context.Context, req *planner.FragmentRequest) ([]*planner.Fragment, error) {
	payload := encodeFragmentRequest(req)
	frags := make([]*planner.Fragment, len(s.sessions))
	errs := make([]error, len(s.sessions))
	var wg sync.WaitGroup
	for i, se := range s.sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ans, err := se.request(ctx, msgAggregate, payload, msgAggregated)
			if err == nil {
				frags[i], err = decodeFragment(ans)
			}
			if err == nil && frags[i] != nil {
				se.ctr.aggregates.Add(1)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if slices.Contains(frags, nil) {
		return nil, planner.ErrNoFragments
	}
	return frags, nil
}
