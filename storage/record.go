package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/soltixdb/soltix/model"
)

// The payload of one WAL record is a write batch or a delete; its first
// byte says which (and is the record's version):
//
//	kind     u8        1 = write batch, 2 = delete
//
// A write batch:
//
//	kind     u8 (1)
//	seq      uvarint   batch sequence number; a higher seq wins a tie on time
//	npoints  uvarint
//	points   npoints × point
//
//	point:   collection str | ntags uvarint | ntags × (key str, value str) |
//	         time varint (zigzag) | nfields uvarint | nfields × (key str, kind u8, value)
//	str:     uvarint length | bytes
//	value:   float: 8 bytes little-endian IEEE 754 bits; integer: zigzag varint;
//	         unsigned: uvarint; boolean: u8 (0 or 1); string: str
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
// docs/format-wal.md documents the framing around it.
const (
	recordVersion = 1 // a write batch
	recordDelete  = 2
)

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

// appendBatch encodes a batch of points with its sequence number.
func appendBatch(dst []byte, seq uint64, points []model.Point) []byte {
	dst = append(dst, recordVersion)
	dst = binary.AppendUvarint(dst, seq)
	dst = binary.AppendUvarint(dst, uint64(len(points)))
	for i := range points {
		p := &points[i]
		dst = appendStr(dst, p.Collection)
		dst = binary.AppendUvarint(dst, uint64(len(p.Tags)))
		for _, t := range p.Tags {
			dst = appendStr(dst, t.Key)
			dst = appendStr(dst, t.Value)
		}
		dst = binary.AppendVarint(dst, p.Time)
		dst = binary.AppendUvarint(dst, uint64(len(p.Fields)))
		for _, f := range p.Fields {
			dst = appendStr(dst, f.Key)
			dst = append(dst, byte(f.Value.Kind))
			switch f.Value.Kind {
			case model.KindFloat:
				dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f.Value.Float()))
			case model.KindInt:
				dst = binary.AppendVarint(dst, f.Value.Int())
			case model.KindUint:
				dst = binary.AppendUvarint(dst, f.Value.Uint())
			case model.KindBool:
				b := byte(0)
				if f.Value.Bool() {
					b = 1
				}
				dst = append(dst, b)
			case model.KindString:
				dst = appendStr(dst, f.Value.Str())
			}
		}
	}
	return dst
}

// batchSize returns an upper bound of the bytes appendBatch writes for
// points, so the record is built in one allocation.
func batchSize(points []model.Point) int {
	n := 1 + 2*binary.MaxVarintLen64
	for i := range points {
		p := &points[i]
		n += binary.MaxVarintLen64 + len(p.Collection) + 2*binary.MaxVarintLen64
		for _, t := range p.Tags {
			n += 2*binary.MaxVarintLen64 + len(t.Key) + len(t.Value)
		}
		for _, f := range p.Fields {
			n += 2*binary.MaxVarintLen64 + 1 + len(f.Key) + len(f.Value.Str())
		}
	}
	return n
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decodeBatch decodes a payload written by appendBatch. It never panics and
// never allocates more than a small multiple of len(buf).
func decodeBatch(buf []byte) (seq uint64, points []model.Point, err error) {
	d := decoder{buf: buf}
	if v := d.byte(); v != recordVersion {
		return 0, nil, fmt.Errorf("%w: version %d, want %d", errRecord, v, recordVersion)
	}
	seq = d.uvarint()
	n := d.count(4) // a point takes at least 4 bytes
	points = make([]model.Point, 0, n)
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
		nf := d.count(3)
		p.Fields = make([]model.Field, nf)
		for j := range p.Fields {
			key := d.str()
			var v model.Value
			switch k := model.Kind(d.byte()); k {
			case model.KindFloat:
				v = model.Float(math.Float64frombits(d.uint64()))
			case model.KindInt:
				v = model.Int(d.varint())
			case model.KindUint:
				v = model.Uint(d.uvarint())
			case model.KindBool:
				v = model.Bool(d.byte() != 0)
			case model.KindString:
				v = model.String(d.str())
			default:
				d.fail(fmt.Sprintf("unknown field kind %d", k))
			}
			p.Fields[j] = model.Field{Key: key, Value: v}
		}
		points = append(points, p)
	}
	if d.err == nil && d.off != len(buf) {
		d.fail(fmt.Sprintf("%d trailing bytes", len(buf)-d.off))
	}
	if d.err != nil {
		return 0, nil, d.err
	}
	return seq, points, nil
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
