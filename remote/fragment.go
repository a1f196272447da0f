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
	for _, name := range slices.Sorted(mapKeys(r.Fields)) {
		e.String(name)
		e.Byte(byte(r.Fields[name]))
	}
	e.Varint(r.Now)
	e.Bool(r.RawOnly)
	e.Varint(r.MaxPoints)
	e.Varint(r.Spent)
	return e.B
}

func mapKeys(m map[string]model.Kind) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
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

// State flags.
const (
	stateSeen = 1 << iota
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
	e.Uvarint(uint64(len(f.Groups)))
	for _, g := range f.Groups {
		e.Strings(g.Vals)
		e.Uvarint(uint64(len(g.Buckets)))
		for _, b := range g.Buckets {
			e.Varint(b.Lo)
			e.Varint(b.Hi)
			e.Uvarint(uint64(len(b.States)))
			for i := range b.States {
				encodeState(&e, &b.States[i])
			}
		}
	}
	return e.B
}

func encodeState(e *wire.MsgEnc, s *planner.AggState) {
	var flags byte
	if s.Seen {
		flags |= stateSeen
	}
	e.Byte(flags)
	e.Byte(byte(s.Kind))
	e.Varint(s.N)
	e.Varint(s.I)
	e.Varint(s.I2)
	e.Uvarint(s.U)
	e.Uvarint(s.U2)
	e.Varint(s.T)
	e.Value(s.V)
	e.String(s.Key)
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
	ng := d.Count(2)
	f.Groups = make([]planner.FragmentGroup, 0, ng)
	for gi := 0; gi < ng && d.Err() == nil; gi++ {
		g := planner.FragmentGroup{Vals: d.Strings()}
		nb := d.Count(3)
		g.Buckets = make([]planner.FragmentBucket, 0, nb)
		for bi := 0; bi < nb && d.Err() == nil; bi++ {
			fb := planner.FragmentBucket{Lo: d.Varint(), Hi: d.Varint()}
			fb.States = make([]planner.AggState, d.Count(10))
			for i := range fb.States {
				s := &fb.States[i]
				flags := d.Byte()
				s.Seen = flags&stateSeen != 0
				s.Kind = model.Kind(d.Byte())
				s.N, s.I, s.I2 = d.Varint(), d.Varint(), d.Varint()
				s.U, s.U2 = d.Uvarint(), d.Uvarint()
				s.T = d.Varint()
				s.V = d.Value()
				s.Key = d.String()
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

// aggregate answers msgAggregate: the fragment of the session's groups.
func (ss *nodeSession) aggregate(payload []byte) error {
	req, err := decodeFragmentRequest(payload)
	if err != nil {
		return err
	}
	if req.Select.From != ss.open.Collection {
		return fmt.Errorf("aggregate: collection %q in a session of %q: %w", req.Select.From, ss.open.Collection, wire.ErrMalformed)
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
