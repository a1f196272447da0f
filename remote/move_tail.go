// The tail log of a group being moved away: the writes its old primary
// accepted after the move began, in the order it applied them, and their
// encoding on the wire (GET /internal/v1/groups/{g}/tail).

package remote

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"sync"

	"github.com/soltixdb/soltix/model"
)

// ErrTailOverflow is what a move fails with when the writes its group
// received during the copy outgrew MoveOptions.TailMaxBytes before the new
// node took them.
var ErrTailOverflow = errors.New("move tail over its byte bound")

// tailLog holds one moving group's accepted writes as encoded batches,
// numbered from 0. The puller acknowledges a prefix by asking for the
// batches from a later number; acknowledged batches are dropped. Its bytes
// are bounded: an append past the bound marks the log overflowed, and every
// later read fails with ErrTailOverflow (the move is retried later).
type tailLog struct {
	mu       sync.Mutex
	first    uint64   // number of batches[0]
	batches  [][]byte // encoded tail records (appendTailRecord)
	bytes    int64
	max      int64
	overflow bool
}

func newTailLog(max int64) *tailLog { return &tailLog{max: max} }

// appendWrite records one applied batch of points. The caller serialises
// appends in the order the node applied them.
func (t *tailLog) appendWrite(points []model.Point) {
	t.append(tailEntry{Points: points})
}

// appendDelete records one applied delete.
func (t *tailLog) appendDelete(collection string, series []model.Tags, min, max int64) {
	t.append(tailEntry{Delete: &tailDelete{Collection: collection, Series: series, Min: min, Max: max}})
}

func (t *tailLog) append(e tailEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.overflow {
		return
	}
	e.Seq = t.first + uint64(len(t.batches))
	rec := appendTailRecord(nil, e)
	if t.bytes+int64(len(rec)) > t.max {
		t.overflow = true
		t.batches, t.bytes = nil, 0
		return
	}
	t.batches = append(t.batches, rec)
	t.bytes += int64(len(rec))
}

// read drops the batches before from (the puller has applied them) and
// returns the encoded batches from there, at most maxBytes of them (at least
// one when there is one), the number after the last one returned, and the
// number after the last one held.
func (t *tailLog) read(from uint64, maxBytes int) (out []byte, next, end uint64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.overflow {
		return nil, 0, 0, ErrTailOverflow
	}
	end = t.first + uint64(len(t.batches))
	if from < t.first || from > end {
		return nil, 0, 0, fmt.Errorf("tail from %d outside [%d, %d]", from, t.first, end)
	}
	drop := int(from - t.first)
	for _, b := range t.batches[:drop] {
		t.bytes -= int64(len(b))
	}
	clear(t.batches[:drop])
	t.batches = t.batches[drop:]
	t.first = from
	next = from
	for _, b := range t.batches {
		if len(out) > 0 && len(out)+len(b) > maxBytes {
			break
		}
		out = append(out, b...)
		next++
	}
	return out, next, end, nil
}

// tailEntry is one batch of a tail: the points of a write, or a delete.
type tailEntry struct {
	Seq    uint64
	Points []model.Point
	Delete *tailDelete
}

// tailDelete is a delete of a collection's series in [Min, Max].
type tailDelete struct {
	Collection string
	Series     []model.Tags
	Min, Max   int64
}

// The tail encoding: a sequence of records, each
//
//	u32 length of the payload | u32 CRC-32C of the payload | payload
//
// (little endian), the payload being the batch number (uvarint), a kind
// byte and the batch. Kind 0 is a write: the number of points (uvarint)
// and each point: collection, tag count, tag keys and values, time
// (varint), field count, and each field's key, kind byte and value (float
// and uint as 8 little-endian bytes, int as a varint, bool as one byte,
// string length-prefixed). Kind 1 is a delete: collection, min and max
// (varints), the number of series and each series' tag count, keys and
// values. Strings are a uvarint length and the bytes.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxTailRecord bounds one record's payload when decoding.
const maxTailRecord = 256 << 20

// Kinds of tail batches.
const (
	tailWriteKind  = 0
	tailDeleteKind = 1
)

func appendTailRecord(dst []byte, e tailEntry) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	dst = binary.AppendUvarint(dst, e.Seq)
	if d := e.Delete; d != nil {
		dst = append(dst, tailDeleteKind)
		dst = appendTailStr(dst, d.Collection)
		dst = binary.AppendVarint(dst, d.Min)
		dst = binary.AppendVarint(dst, d.Max)
		dst = binary.AppendUvarint(dst, uint64(len(d.Series)))
		for _, tags := range d.Series {
			dst = appendTailTags(dst, tags)
		}
		return finishTailRecord(dst, start)
	}
	dst = append(dst, tailWriteKind)
	points := e.Points
	dst = binary.AppendUvarint(dst, uint64(len(points)))
	for i := range points {
		p := &points[i]
		dst = appendTailStr(dst, p.Collection)
		dst = appendTailTags(dst, p.Tags)
		dst = binary.AppendVarint(dst, p.Time)
		dst = binary.AppendUvarint(dst, uint64(len(p.Fields)))
		for _, f := range p.Fields {
			dst = appendTailStr(dst, f.Key)
			dst = append(dst, byte(f.Value.Kind))
			switch f.Value.Kind {
			case model.KindFloat:
				dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f.Value.Float()))
			case model.KindInt:
				dst = binary.AppendVarint(dst, f.Value.Int())
			case model.KindUint:
				dst = binary.LittleEndian.AppendUint64(dst, f.Value.Uint())
			case model.KindBool:
				b := byte(0)
				if f.Value.Bool() {
					b = 1
				}
				dst = append(dst, b)
			case model.KindString:
				dst = appendTailStr(dst, f.Value.Str())
			}
		}
	}
	return finishTailRecord(dst, start)
}

// finishTailRecord fills in the header of the record begun at start.
func finishTailRecord(dst []byte, start int) []byte {
	payload := dst[start+8:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, castagnoli))
	return dst
}

func appendTailTags(dst []byte, tags model.Tags) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(tags)))
	for _, t := range tags {
		dst = appendTailStr(dst, t.Key)
		dst = appendTailStr(dst, t.Value)
	}
	return dst
}

func appendTailStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// splitTailRecord takes the first record off b: its payload and the rest.
func splitTailRecord(b []byte) (payload, rest []byte, err error) {
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("tail record header of %d bytes", len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	if n > maxTailRecord || uint64(n) > uint64(len(b)-8) {
		return nil, nil, fmt.Errorf("tail record of %d bytes with %d left", n, len(b)-8)
	}
	payload = b[8 : 8+n]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, nil, errors.New("tail record checksum mismatch")
	}
	return payload, b[8+n:], nil
}

// decodeTailRecord decodes the first record of b and returns the rest of b.
func decodeTailRecord(b []byte) (e tailEntry, rest []byte, err error) {
	payload, rest, err := splitTailRecord(b)
	if err != nil {
		return e, nil, err
	}
	d := tailDecoder{b: payload}
	e.Seq = d.uvarint()
	switch k := d.byte(); k {
	case tailWriteKind:
		e.Points = d.points()
	case tailDeleteKind:
		del := &tailDelete{Collection: d.str(), Min: d.varint(), Max: d.varint()}
		del.Series = make([]model.Tags, d.count(1))
		for i := range del.Series {
			del.Series[i] = d.tags()
		}
		e.Delete = del
	default:
		d.fail(fmt.Sprintf("batch kind %d", k))
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d bytes after the batch", len(d.b)))
	}
	if d.err != nil {
		return tailEntry{}, nil, fmt.Errorf("decode tail record: %w", d.err)
	}
	return e, rest, nil
}

// tags decodes a tag count and the tags (nil for none).
func (d *tailDecoder) tags() model.Tags {
	nt := d.count(2)
	if nt == 0 {
		return nil
	}
	tags := make(model.Tags, nt)
	for j := range tags {
		tags[j] = model.Tag{Key: d.str(), Value: d.str()}
	}
	return tags
}

// points decodes a write batch's points.
func (d *tailDecoder) points() []model.Point {
	n := d.count(4) // a point is at least four bytes
	points := make([]model.Point, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		var p model.Point
		p.Collection = d.str()
		p.Tags = d.tags()
		p.Time = d.varint()
		p.Fields = make([]model.Field, d.count(2))
		for j := range p.Fields {
			f := &p.Fields[j]
			f.Key = d.str()
			switch k := model.Kind(d.byte()); k {
			case model.KindNull:
				f.Value = model.Null
			case model.KindFloat:
				f.Value = model.Float(math.Float64frombits(d.u64()))
			case model.KindInt:
				f.Value = model.Int(d.varint())
			case model.KindUint:
				f.Value = model.Uint(d.u64())
			case model.KindBool:
				switch d.byte() {
				case 0:
					f.Value = model.Bool(false)
				case 1:
					f.Value = model.Bool(true)
				default:
					d.fail("bool byte")
				}
			case model.KindString:
				f.Value = model.String(d.str())
			default:
				d.fail(fmt.Sprintf("field kind %d", k))
			}
		}
		points = append(points, p)
	}
	return points
}

// tailDecoder reads a record's payload; the first failure sticks.
type tailDecoder struct {
	b   []byte
	err error
}

func (d *tailDecoder) fail(what string) {
	if d.err == nil {
		d.err = errors.New("bad " + what)
	}
	d.b = nil
}

func (d *tailDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *tailDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count of items of at least min bytes each and refuses one
// the rest of the payload cannot hold.
func (d *tailDecoder) count(min int) int {
	v := d.uvarint()
	if v > uint64(len(d.b)/min) {
		d.fail("count")
		return 0
	}
	return int(v)
}

func (d *tailDecoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("byte")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *tailDecoder) u64() uint64 {
	if len(d.b) < 8 {
		d.fail("fixed64")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *tailDecoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string length")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
