package remote

// The messages of a query session (POST /internal/v1/query, and the same
// exchange cut short at POST /internal/v1/catalog). The router's request
// body and the node's response body are each a sequence of wire messages
// (remote/wire: length, type, payload, CRC-32C). The router writes
// msgOpen; the node answers msgCatalog (or an HTTP error status: 409 with
// code stale_epoch when it does not hold a group at the epoch given). Then,
// until the router ends its body, the router writes one request at a time
// and reads its whole answer before the next:
//
//	msgFetch   → msgValues / msgParts … msgSeriesEnd per series …, msgFetchEnd
//	msgExplain → msgExplained
//	msgCheck   → msgChecked
//
// and any answer may instead be msgError (code, message, groups), after
// which the node ends the session.

import (
	"fmt"
	"maps"
	"slices"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/remote/wire"
)

// Message types.
const (
	msgOpen      = 'O'
	msgCatalog   = 'C'
	msgFetch     = 'F'
	msgValues    = 'V'
	msgParts     = 'P'
	msgSeriesEnd = 'S'
	msgFetchEnd  = 'E'
	msgExplain   = 'X'
	msgExplained = 'x'
	msgCheck     = 'K'
	msgChecked   = 'k'
	msgError     = '!'
)

// Error codes of msgError.
const (
	codeLimit = "limit"
	codeError = "error"
)

// Flags of msgOpen: what the catalog answer holds.
const (
	openSeries      = 1 << iota // the tag sets of the series in the groups
	openCollections             // every collection's name
	// openReplica lets the node serve the groups it is a caught-up
	// replica of (at the epochs given) as well as those it is primary of.
	openReplica
)

// groupEpoch is a group and the epoch the router saw it at.
type groupEpoch struct {
	Group int
	Epoch uint64
}

// openMsg starts a session.
type openMsg struct {
	Collection string
	Flags      uint64
	Groups     []groupEpoch
	// Lo and Hi are the range CheckRange is asked over (the query's,
	// when known).
	Lo, Hi int64
	// MaxPoints bounds the points the node sends in the session.
	MaxPoints int64
	// Devices, when not empty, restricts the series of the catalog to
	// those whose shard tag has one of these values (the WHERE clause
	// requires it).
	Devices []string
	// Known is the digest of the series list the router holds from an
	// earlier catalog of the same request (0: none); when the node's list
	// has that digest it leaves the series out.
	Known uint64
	// Where is the WHERE clause of a raw select as text (query.ExprString)
	// and Now the query's now() in nanoseconds, for filtering its rows on
	// the node (filter_proto.go); they travel last, only when Where is set.
	Where string
	Now   int64

	// anyCopy, on the router only (never encoded), lets openAll read any
	// copy of a group rather than its primary (planner.Options.AnyReplica),
	// choosing among them by rotate: one value for all the calls of a
	// query, so that its catalog and its data come from the same copies,
	// and successive queries go to other copies.
	anyCopy bool
	rotate  int
}

func (m *openMsg) encode() []byte {
	var e wire.MsgEnc
	e.String(m.Collection)
	e.Uvarint(m.Flags)
	e.Uvarint(uint64(len(m.Groups)))
	for _, g := range m.Groups {
		e.Uvarint(uint64(g.Group))
		e.Uvarint(g.Epoch)
	}
	e.Varint(m.Lo)
	e.Varint(m.Hi)
	e.Varint(m.MaxPoints)
	e.Strings(m.Devices)
	e.Uvarint(m.Known)
	if m.Where != "" {
		e.String(m.Where)
		e.Varint(m.Now)
	}
	return e.B
}

func (m *openMsg) decode(b []byte) error {
	d := wire.MsgDec{B: b}
	m.Collection = d.String()
	m.Flags = d.Uvarint()
	n := d.Count(2)
	m.Groups = make([]groupEpoch, 0, n)
	for i := 0; i < n; i++ {
		g := d.Uvarint()
		if g > 1<<31 {
			return fmt.Errorf("open: group %d: %w", g, wire.ErrMalformed)
		}
		m.Groups = append(m.Groups, groupEpoch{Group: int(g), Epoch: d.Uvarint()})
	}
	m.Lo, m.Hi, m.MaxPoints = d.Varint(), d.Varint(), d.Varint()
	m.Devices = d.Strings()
	m.Known = d.Uvarint()
	if d.Err() == nil && len(d.B) > 0 {
		m.Where, m.Now = d.String(), d.Varint()
		if len(m.Where) > maxWhereBytes {
			return fmt.Errorf("open: condition of %d bytes, more than %d: %w", len(m.Where), maxWhereBytes, wire.ErrMalformed)
		}
	}
	return d.Done()
}

// catalogMsg is a node's catalog of a collection, restricted to the groups
// of the session where it can be (series; fields and tag keys are the
// node's).
type catalogMsg struct {
	Exists   bool
	Fields   map[string]model.Kind
	TagKeys  []string
	Rollups  bool
	RawFrom  int64
	CheckErr string // CheckRange over the open message's range; "" when fine
	Series   []model.Tags
	// Digest is that of the series list (see seriesDigest); Same says the
	// list was left out, having the digest the router sent as Known.
	Digest      uint64
	Same        bool
	Collections []string
}

func (m *catalogMsg) encode() []byte {
	var e wire.MsgEnc
	e.Bool(m.Exists)
	e.Uvarint(uint64(len(m.Fields)))
	for _, k := range sortedKinds(m.Fields) {
		e.String(k)
		e.Byte(byte(m.Fields[k]))
	}
	e.Strings(m.TagKeys)
	e.Bool(m.Rollups)
	e.Varint(m.RawFrom)
	e.String(m.CheckErr)
	e.Uvarint(uint64(len(m.Series)))
	for _, t := range m.Series {
		e.Tags(t)
	}
	e.Uvarint(m.Digest)
	e.Bool(m.Same)
	e.Strings(m.Collections)
	return e.B
}

func (m *catalogMsg) decode(b []byte) error {
	d := wire.MsgDec{B: b}
	m.Exists = d.Bool()
	n := d.Count(2)
	m.Fields = make(map[string]model.Kind, n)
	for i := 0; i < n; i++ {
		name := d.String()
		k := model.Kind(d.Byte())
		if k == model.KindNull || k > model.KindString {
			return fmt.Errorf("catalog: field %q kind %d: %w", name, k, wire.ErrMalformed)
		}
		m.Fields[name] = k
	}
	m.TagKeys = d.Strings()
	m.Rollups = d.Bool()
	m.RawFrom = d.Varint()
	m.CheckErr = d.String()
	n = d.Count(1)
	m.Series = make([]model.Tags, 0, n)
	for i := 0; i < n; i++ {
		m.Series = append(m.Series, d.Tags())
	}
	m.Digest = d.Uvarint()
	m.Same = d.Bool()
	m.Collections = d.Strings()
	return d.Done()
}

// fetchMsg asks for the data of some series: planner.SeriesRead items.
type fetchMsg struct {
	Whole planner.WholeSpec
	Desc  bool
	Items []planner.SeriesRead
	// Reduce is planner.ReadSet.Reduce; it travels after the items, and
	// only when not empty or Filter is set (a message without it asks for
	// no reduction).
	Reduce map[string]planner.Reduce
	// Sketch is planner.ReadSet.Sketch: it travels as bit 0x80 of the
	// level byte of each part span of such a field (a node that gets no
	// such bit leaves rollup rows' quantile sketches out).
	Sketch map[string]bool
	// Filter is planner.ReadSet.Filter without its Where and Now (those
	// of the open message), and the items' Chunk; it travels after
	// Reduce, only when set (filter_proto.go).
	Filter *planner.Filter
}

func (m *fetchMsg) encode() []byte {
	var e wire.MsgEnc
	w := m.Whole
	e.Byte(w.Kind)
	e.Varint(w.Width)
	e.Varint(w.Origin)
	e.Varint(w.Months)
	e.Varint(w.Lo)
	e.Varint(w.Hi)
	if w.Kind == 3 { // zoned buckets (planner/zone.go)
		e.String(w.Zone)
		e.Varint(w.Wall)
	}
	e.Bool(m.Desc)
	e.Uvarint(uint64(len(m.Items)))
	for i := range m.Items {
		it := &m.Items[i]
		e.Tags(it.Tags)
		e.Uvarint(uint64(it.Batch))
		e.Uvarint(uint64(it.Rows))
		e.Uvarint(uint64(len(it.Values)))
		for _, v := range it.Values {
			e.String(v.Field)
			e.Varint(v.Lo)
			e.Varint(v.Hi)
		}
		e.Uvarint(uint64(len(it.Parts)))
		for _, p := range it.Parts {
			e.String(p.Field)
			e.Varint(p.Lo)
			e.Varint(p.Hi)
			lb := byte(p.Level)
			if m.Sketch[p.Field] {
				lb |= 0x80
			}
			e.Byte(lb)
		}
	}
	if len(m.Reduce) > 0 || m.Filter != nil {
		fields := slices.Sorted(maps.Keys(m.Reduce))
		e.Uvarint(uint64(len(fields)))
		for _, f := range fields {
			e.String(f)
			e.Byte(byte(m.Reduce[f]))
		}
	}
	if m.Filter != nil {
		encodeFilter(&e, m.Filter, m.Items)
	}
	return e.B
}

func (m *fetchMsg) decode(b []byte) error {
	d := wire.MsgDec{B: b}
	m.Whole = planner.WholeSpec{Kind: d.Byte(), Width: d.Varint(), Origin: d.Varint(), Months: d.Varint(), Lo: d.Varint(), Hi: d.Varint()}
	if m.Whole.Kind == 3 { // zoned buckets (planner/zone.go)
		m.Whole.Zone, m.Whole.Wall = d.String(), d.Varint()
	}
	m.Desc = d.Bool()
	n := d.Count(3)
	m.Items = make([]planner.SeriesRead, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		it := planner.SeriesRead{Tags: d.Tags()}
		batch := d.Uvarint()
		rows := d.Uvarint()
		if batch > 1<<31 {
			return fmt.Errorf("fetch: batch %d: %w", batch, wire.ErrMalformed)
		}
		it.Batch = int(batch)
		if rows > 1<<31 {
			return fmt.Errorf("fetch: rows %d: %w", rows, wire.ErrMalformed)
		}
		it.Rows = int(rows)
		nv := d.Count(3)
		for j := 0; j < nv; j++ {
			it.Values = append(it.Values, planner.FieldSpan{Field: d.String(), Lo: d.Varint(), Hi: d.Varint()})
		}
		np := d.Count(4)
		for j := 0; j < np; j++ {
			p := planner.PartSpan{Field: d.String(), Lo: d.Varint(), Hi: d.Varint()}
			lb := d.Byte()
			if lb&0x80 != 0 {
				if m.Sketch == nil {
					m.Sketch = map[string]bool{}
				}
				m.Sketch[p.Field] = true
			}
			p.Level = model.Level(lb &^ 0x80)
			if p.Level > model.Level1y {
				return fmt.Errorf("fetch: level %d: %w", p.Level, wire.ErrMalformed)
			}
			it.Parts = append(it.Parts, p)
		}
		m.Items = append(m.Items, it)
	}
	if d.Err() == nil && len(d.B) > 0 {
		n := d.Count(2)
		m.Reduce = make(map[string]planner.Reduce, n)
		for j := 0; j < n && d.Err() == nil; j++ {
			f, r := d.String(), planner.Reduce(d.Byte())
			if !r.Valid() {
				return fmt.Errorf("fetch: reduce %d: %w", r, wire.ErrMalformed)
			}
			m.Reduce[f] = r
		}
	}
	if d.Err() == nil && len(d.B) > 0 {
		f, err := decodeFilter(&d, m.Items)
		if err != nil {
			return err
		}
		m.Filter = f
	}
	return d.Done()
}

// explainMsg asks for storage's ReadPlan of some series.
type explainMsg struct {
	Series []model.Tags
	Lo, Hi int64
	Level  model.Level
}

func (m *explainMsg) encode() []byte {
	var e wire.MsgEnc
	e.Uvarint(uint64(len(m.Series)))
	for _, t := range m.Series {
		e.Tags(t)
	}
	e.Varint(m.Lo)
	e.Varint(m.Hi)
	e.Byte(byte(m.Level))
	return e.B
}

func (m *explainMsg) decode(b []byte) error {
	d := wire.MsgDec{B: b}
	n := d.Count(1)
	for i := 0; i < n && d.Err() == nil; i++ {
		m.Series = append(m.Series, d.Tags())
	}
	m.Lo, m.Hi, m.Level = d.Varint(), d.Varint(), model.Level(d.Byte())
	if m.Level > model.Level1y {
		return fmt.Errorf("explain: level %d: %w", m.Level, wire.ErrMalformed)
	}
	return d.Done()
}

func encodeReadPlan(rp *model.ReadPlan) []byte {
	var e wire.MsgEnc
	e.Uvarint(uint64(len(rp.Groups)))
	for _, g := range rp.Groups {
		e.Uvarint(uint64(g))
	}
	e.Uvarint(uint64(rp.Files))
	e.Uvarint(uint64(rp.MemoryPoints))
	e.Uvarint(uint64(rp.Rows))
	e.Uvarint(uint64(rp.Dirty))
	return e.B
}

func decodeReadPlan(b []byte) (model.ReadPlan, error) {
	d := wire.MsgDec{B: b}
	var rp model.ReadPlan
	n := d.Count(1)
	for i := 0; i < n; i++ {
		rp.Groups = append(rp.Groups, int(d.Uvarint()&(1<<31-1)))
	}
	rp.Files, rp.MemoryPoints = int(d.Uvarint()&(1<<62-1)), int(d.Uvarint()&(1<<62-1))
	rp.Rows, rp.Dirty = int(d.Uvarint()&(1<<62-1)), int(d.Uvarint()&(1<<62-1))
	return rp, d.Done()
}

// errorMsg is a node's error inside a session.
type errorMsg struct {
	Code, Msg string
}

func (m *errorMsg) encode() []byte {
	var e wire.MsgEnc
	e.String(m.Code)
	e.String(m.Msg)
	return e.B
}

func (m *errorMsg) decode(b []byte) error {
	d := wire.MsgDec{B: b}
	m.Code, m.Msg = d.String(), d.String()
	return d.Done()
}

func sortedKinds(m map[string]model.Kind) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}

// seriesDigest is a digest of a series list: FNV-1a (64 bit) over its tag
// keys and values with separators, never 0.
func seriesDigest(series []model.Tags) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime
		}
		h ^= 0xff
		h *= prime
	}
	for _, t := range series {
		for _, tg := range t {
			add(tg.Key)
			add(tg.Value)
		}
		h ^= 0xfe
		h *= prime
	}
	if h == 0 {
		h = 1
	}
	return h
}
