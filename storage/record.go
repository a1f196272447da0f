package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/soltixdb/soltix/model"
)

// The payload of one WAL record is a write batch or a delete; its first
// byte says which (and is the record's version):
//
//	kind     u8        3 = write batch, 2 = delete, 1 = write batch (first
//	                   version, still read)
//
// A write batch names each string once, in a table, and each series once,
// in a table of heads; a point refers to its head and its field keys by
// index and stores its time as the difference from the previous point's:
//
//	kind     u8 (3)
//	seq      uvarint   batch sequence number; a higher seq wins a tie on time
//	nstrs    uvarint
//	strs     nstrs × str
//	nheads   uvarint
//	heads    nheads × (collection idx | ntags uvarint | ntags × (key idx, value idx))
//	npoints  uvarint
//	points   npoints × point
//
//	point:   head idx | time − previous time varint (zigzag; the first from 0,
//	         wrapping) | nfields uvarint | nfields × (key idx, kind u8, value)
//	idx:     uvarint index into strs (or heads)
//	str:     uvarint length | bytes
//	value:   float: 8 bytes little-endian IEEE 754 bits; integer: zigzag varint;
//	         unsigned: uvarint; boolean: u8 (0 or 1); string: str
//
// The first version of a write batch spelled every string in place:
//
//	kind 1 | seq uvarint | npoints uvarint | npoints × (collection str |
//	ntags uvarint | ntags × (key str, value str) | time varint (zigzag) |
//	nfields uvarint | nfields × (key str, kind u8, value))
//
// A delete (a tombstone): the listed series of the collection lose their
// points with times in [min, max] written by batches with a lower seq:
//
//	kind     u8 (2)
//	seq      uvarint
//	coll     str
//	min, max varint (zigzag)
//	nseries  uvarint
//	series   nseries × (ntags uvarint | ntags × (key str, value str))
//
// An applied record is a change a replica applied from its group's
// replication stream (applied.go): a write batch, a delete or nothing,
// together with the group's replication position once it is applied, so
// that the change and the position are in the WAL together or not at all:
//
//	kind     u8 (4)
//	group    uvarint   the group, below the DB's number of groups
//	applied  uvarint   the group's replication position after the change
//	seq      uvarint   the change's sequence number (orders it against
//	                   DropGroup, which resets the position)
//	inner    the rest of the record: nothing (the position alone, as
//	         SetApplied records it), a write batch (kind 3) or a delete
//	         (kind 2), whose own seq is the same
//
// docs/format-wal.md documents the framing around it.
const (
	recordBatchV1 = 1 // a write batch, first version
	recordDelete  = 2
	recordBatch   = 3 // a write batch with string and head tables
	recordApplied = 4 // a batch, delete or nothing, with a group's replication position
)

// position is a group's replication position: the sequence number, in
// the group's replication stream, of the last message applied.
type position struct {
	group   int
	applied uint64
}

// appendPositionHead appends the head of an applied record: kind, group,
// position and the change's sequence number. The inner record, if any,
// follows it.
func appendPositionHead(dst []byte, pos *position, seq uint64) []byte {
	dst = append(dst, recordApplied)
	dst = binary.AppendUvarint(dst, uint64(pos.group))
	dst = binary.AppendUvarint(dst, pos.applied)
	return binary.AppendUvarint(dst, seq)
}

// appliedRecord is a decoded applied record.
type appliedRecord struct {
	pos  position
	seq  uint64
	kind byte // of the inner record: 0 (none), recordBatch or recordDelete
	// points are the inner write batch's, tomb the inner delete.
	points []model.Point
	tomb   *tombstone
}

// maxRecordGroup bounds the group number an applied record may name
// before the DB compares it with its own number of groups.
const maxRecordGroup = 1 << 20

// decodeApplied decodes an applied record and its inner record. Like
// decodeBatch it never panics and allocates a small multiple of len(buf).
func decodeApplied(buf []byte) (appliedRecord, error) {
	d := decoder{buf: buf}
	if k := d.byte(); k != recordApplied {
		return appliedRecord{}, fmt.Errorf("%w: kind %d, want %d", errRecord, k, recordApplied)
	}
	g := d.uvarint()
	r := appliedRecord{pos: position{applied: d.uvarint()}, seq: d.uvarint()}
	if d.err == nil && g >= maxRecordGroup {
		d.fail(fmt.Sprintf("group %d", g))
	}
	if d.err != nil {
		return appliedRecord{}, d.err
	}
	r.pos.group = int(g)
	inner := buf[d.off:]
	var seq uint64
	var err error
	switch r.kind = recordKind(inner); r.kind {
	case 0:
		return r, nil
	case recordBatch:
		seq, r.points, err = decodeBatch(inner)
	case recordDelete:
		r.tomb, err = decodeDelete(inner)
		if err == nil {
			seq = r.tomb.seq
		}
	default:
		err = fmt.Errorf("%w: applied record holds kind %d, want %d or %d", errRecord, r.kind, recordBatch, recordDelete)
	}
	if err == nil && seq != r.seq {
		err = fmt.Errorf("%w: applied record of seq %d holds seq %d", errRecord, r.seq, seq)
	}
	if err != nil {
		return appliedRecord{}, err
	}
	return r, nil
}

// recordKind returns the kind byte of a WAL payload, 0 when it is empty.
func recordKind(buf []byte) byte {
	if len(buf) == 0 {
		return 0
	}
	return buf[0]
}

// appendDelete encodes a tombstone.
func appendDelete(dst []byte, t *tombstone) []byte {
	dst = append(dst, recordDelete)
	dst = binary.AppendUvarint(dst, t.seq)
	dst = appendStr(dst, t.coll)
	dst = binary.AppendVarint(dst, t.min)
	dst = binary.AppendVarint(dst, t.max)
	dst = binary.AppendUvarint(dst, uint64(len(t.series)))
	for _, tags := range t.series {
		dst = binary.AppendUvarint(dst, uint64(len(tags)))
		for _, tg := range tags {
			dst = appendStr(dst, tg.Key)
			dst = appendStr(dst, tg.Value)
		}
	}
	return dst
}

// decodeDelete decodes a payload written by appendDelete.
func decodeDelete(buf []byte) (*tombstone, error) {
	d := decoder{buf: buf}
	if k := d.byte(); k != recordDelete {
		return nil, fmt.Errorf("%w: kind %d, want %d", errRecord, k, recordDelete)
	}
	t := &tombstone{seq: d.uvarint(), coll: d.str(), min: d.varint(), max: d.varint()}
	n := d.count(1)
	t.series = make([]model.Tags, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		nt := d.count(2)
		var tags model.Tags
		if nt > 0 {
			tags = make(model.Tags, nt)
			for j := range tags {
				tags[j] = model.Tag{Key: d.str(), Value: d.str()}
			}
		}
		t.series = append(t.series, tags)
	}
	if d.err == nil && d.off != len(buf) {
		d.fail(fmt.Sprintf("%d trailing bytes", len(buf)-d.off))
	}
	if d.err != nil {
		return nil, d.err
	}
	t.index()
	return t, nil
}

// errRecord marks a WAL payload that does not decode.
var errRecord = errors.New("malformed batch record")

// batchEncoder builds write batch records, reusing its tables and buffers
// from one batch to the next. The zero value is ready to use.
type batchEncoder struct {
	strIdx  map[string]uint64
	strs    []byte // the string table's entries, encoded
	nstrs   uint64
	headIdx map[headKey]uint64
	heads   []byte
	nheads  uint64
	body    []byte
	keys    []string // field keys of the previous point
	keyIdx  []uint64 // and their indexes
	// The strings of the previous head, by position (the collection
	// first, then each tag's key and value), and their indexes:
	// consecutive heads (the points of different devices) usually share
	// most of them.
	headStrs   []string
	headStrIdx []uint64
}

// headKey identifies a point's collection and tags: points that share a
// Tags slice (as the line protocol parser hands out) share a head without
// comparing their tags.
type headKey struct {
	coll string
	tags *model.Tag
	n    int
}

func (e *batchEncoder) str(s string) uint64 {
	if i, ok := e.strIdx[s]; ok {
		return i
	}
	i := e.nstrs
	e.strIdx[s] = i
	e.nstrs++
	e.strs = appendStr(e.strs, s)
	return i
}

// head returns the index of p's head, adding it (and its strings) when
// it is new. Points with equal tags in different slices get separate
// heads, which decode to the same series.
func (e *batchEncoder) head(p *model.Point) uint64 {
	k := headKey{coll: p.Collection, n: len(p.Tags)}
	if len(p.Tags) > 0 {
		k.tags = &p.Tags[0]
	}
	if i, ok := e.headIdx[k]; ok {
		return i
	}
	i := e.nheads
	e.headIdx[k] = i
	e.nheads++
	e.heads = binary.AppendUvarint(e.heads, e.headStr(0, p.Collection))
	e.heads = binary.AppendUvarint(e.heads, uint64(len(p.Tags)))
	for j, t := range p.Tags {
		e.heads = binary.AppendUvarint(e.heads, e.headStr(1+2*j, t.Key))
		e.heads = binary.AppendUvarint(e.heads, e.headStr(2+2*j, t.Value))
	}
	return i
}

// headStr is str for the string at position j of a head, trying the
// previous head's string at that position first.
func (e *batchEncoder) headStr(j int, s string) uint64 {
	if j < len(e.headStrs) && e.headStrs[j] == s {
		return e.headStrIdx[j]
	}
	i := e.str(s)
	switch {
	case j < len(e.headStrs):
		e.headStrs[j], e.headStrIdx[j] = s, i
	case j == len(e.headStrs):
		e.headStrs, e.headStrIdx = append(e.headStrs, s), append(e.headStrIdx, i)
	}
	return i
}

// encode appends the record of a batch of points with its sequence number
// to dst.
func (e *batchEncoder) encode(dst []byte, seq uint64, points []model.Point) []byte {
	if e.strIdx == nil {
		e.strIdx = make(map[string]uint64)
		e.headIdx = make(map[headKey]uint64)
	}
	defer e.reset()
	body := e.body
	prev := int64(0)
	for i := range points {
		p := &points[i]
		body = binary.AppendUvarint(body, e.head(p))
		body = binary.AppendVarint(body, p.Time-prev)
		prev = p.Time
		body = binary.AppendUvarint(body, uint64(len(p.Fields)))
		for j, f := range p.Fields {
			// Consecutive points usually have the same field keys in the
			// same order (the same interned strings).
			var ki uint64
			if j < len(e.keys) && e.keys[j] == f.Key {
				ki = e.keyIdx[j]
			} else {
				ki = e.str(f.Key)
				if j < len(e.keys) {
					e.keys[j], e.keyIdx[j] = f.Key, ki
				} else {
					e.keys, e.keyIdx = append(e.keys, f.Key), append(e.keyIdx, ki)
				}
			}
			body = binary.AppendUvarint(body, ki)
			body = appendFieldValue(body, f.Value)
		}
	}
	e.body = body
	dst = slices.Grow(dst, 4*binary.MaxVarintLen64+len(e.strs)+len(e.heads)+len(body))
	dst = append(dst, recordBatch)
	dst = binary.AppendUvarint(dst, seq)
	dst = binary.AppendUvarint(dst, e.nstrs)
	dst = append(dst, e.strs...)
	dst = binary.AppendUvarint(dst, e.nheads)
	dst = append(dst, e.heads...)
	dst = binary.AppendUvarint(dst, uint64(len(points)))
	return append(dst, body...)
}

// reset empties the tables, keeping their space but no reference to the
// points encoded.
func (e *batchEncoder) reset() {
	clear(e.strIdx)
	clear(e.headIdx)
	clear(e.keys)
	clear(e.headStrs)
	e.strs, e.heads, e.body = e.strs[:0], e.heads[:0], e.body[:0]
	e.nstrs, e.nheads = 0, 0
	e.keys, e.keyIdx = e.keys[:0], e.keyIdx[:0]
	e.headStrs, e.headStrIdx = e.headStrs[:0], e.headStrIdx[:0]
}

// appendFieldValue appends a field's kind byte and value.
func appendFieldValue(dst []byte, v model.Value) []byte {
	dst = append(dst, byte(v.Kind))
	switch v.Kind {
	case model.KindFloat:
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Float()))
	case model.KindInt:
		dst = binary.AppendVarint(dst, v.Int())
	case model.KindUint:
		dst = binary.AppendUvarint(dst, v.Uint())
	case model.KindBool:
		b := byte(0)
		if v.Bool() {
			b = 1
		}
		dst = append(dst, b)
	case model.KindString:
		dst = appendStr(dst, v.Str())
	}
	return dst
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decodeBatch decodes a write batch payload of either version. It never
// panics and never allocates more than a small multiple of len(buf).
func decodeBatch(buf []byte) (seq uint64, points []model.Point, err error) {
	d := decoder{buf: buf}
	switch v := d.byte(); v {
	case recordBatch:
		seq, points = d.batch()
	case recordBatchV1:
		seq, points = d.batchV1()
	default:
		return 0, nil, fmt.Errorf("%w: kind %d, want a write batch (%d or %d)", errRecord, v, recordBatch, recordBatchV1)
	}
	if d.err == nil && d.off != len(buf) {
		d.fail(fmt.Sprintf("%d trailing bytes", len(buf)-d.off))
	}
	if d.err != nil {
		return 0, nil, d.err
	}
	return seq, points, nil
}

// batch decodes the body of a write batch after its kind byte.
func (d *decoder) batch() (uint64, []model.Point) {
	seq := d.uvarint()
	strs := make([]string, d.count(1))
	for i := range strs {
		strs[i] = d.str()
	}
	idx := func(what string) string {
		i := d.uvarint()
		if i >= uint64(len(strs)) {
			d.fail(fmt.Sprintf("%s index %d of %d strings", what, i, len(strs)))
			return ""
		}
		return strs[i]
	}
	type head struct {
		coll string
		tags model.Tags
	}
	heads := make([]head, d.count(2))
	for i := range heads {
		h := &heads[i]
		h.coll = idx("collection")
		if nt := d.count(2); nt > 0 {
			h.tags = make(model.Tags, nt)
			for j := range h.tags {
				h.tags[j] = model.Tag{Key: idx("tag key"), Value: idx("tag value")}
			}
		}
	}
	n := d.count(3) // a point takes at least 3 bytes
	points := make([]model.Point, 0, n)
	t := int64(0)
	for i := 0; i < n && d.err == nil; i++ {
		hi := d.uvarint()
		if hi >= uint64(len(heads)) {
			d.fail(fmt.Sprintf("head index %d of %d heads", hi, len(heads)))
			break
		}
		t += d.varint()
		p := model.Point{Collection: heads[hi].coll, Tags: heads[hi].tags, Time: t}
		p.Fields = make([]model.Field, d.count(2))
		for j := range p.Fields {
			p.Fields[j] = model.Field{Key: idx("field key"), Value: d.fieldValue()}
		}
		points = append(points, p)
	}
	return seq, points
}

// batchV1 decodes the body of a first-version write batch.
func (d *decoder) batchV1() (uint64, []model.Point) {
	seq := d.uvarint()
	n := d.count(4) // a point takes at least 4 bytes
	points := make([]model.Point, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		var p model.Point
		p.Collection = d.str()
		nt := d.count(2)
		if nt > 0 {
			p.Tags = make(model.Tags, nt)
			for j := range p.Tags {
				p.Tags[j] = model.Tag{Key: d.str(), Value: d.str()}
			}
		}
		p.Time = d.varint()
		p.Fields = make([]model.Field, d.count(3))
		for j := range p.Fields {
			key := d.str()
			p.Fields[j] = model.Field{Key: key, Value: d.fieldValue()}
		}
		points = append(points, p)
	}
	return seq, points
}

// fieldValue reads a field's kind byte and value.
func (d *decoder) fieldValue() model.Value {
	switch k := model.Kind(d.byte()); k {
	case model.KindFloat:
		return model.Float(math.Float64frombits(d.uint64()))
	case model.KindInt:
		return model.Int(d.varint())
	case model.KindUint:
		return model.Uint(d.uvarint())
	case model.KindBool:
		return model.Bool(d.byte() != 0)
	case model.KindString:
		return model.String(d.str())
	default:
		d.fail(fmt.Sprintf("unknown field kind %d", k))
		return model.Value{}
	}
}

// decoder reads the primitives of a record, remembering the first error.
type decoder struct {
	buf []byte
	off int
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", errRecord, what, d.off)
	}
	d.off = len(d.buf)
}

func (d *decoder) byte() byte {
	if d.off >= len(d.buf) {
		d.fail("short record")
		return 0
	}
	b := d.buf[d.off]
	d.off++
	return b
}

func (d *decoder) uint64() uint64 {
	if len(d.buf)-d.off < 8 {
		d.fail("short record")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.buf[d.off:])
	d.off += 8
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.buf[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

// count reads an element count and checks that the rest of the buffer can
// hold that many elements of at least min bytes each.
func (d *decoder) count(min int) int {
	v := d.uvarint()
	if v > uint64(len(d.buf)-d.off)/uint64(min) {
		d.fail(fmt.Sprintf("count %d exceeds record", v))
		return 0
	}
	return int(v)
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.buf)-d.off) {
		d.fail("string runs past record")
		return ""
	}
	s := string(d.buf[d.off : d.off+int(n)])
	d.off += int(n)
	return s
}
