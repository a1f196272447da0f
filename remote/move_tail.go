// The tail log of a group being moved away: the writes its old primary
// accepted after the move began, in the order it applied them, and their
// encoding on the wire (GET /internal/v1/groups/{g}/tail).

package remote

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/remote/wire"
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
// (varint), field count, and each field's key and value as
// wire.AppendValue writes them (kind byte, then a float as 8 little-endian
// bytes, an int as a varint, a uint as a uvarint, a bool as one byte, a
// string length-prefixed). Kind 1 is a delete: collection, min and max
// (varints), the number of series and each series' tag count, keys and
// values. Strings are a uvarint length and the bytes; wire.MsgDec decodes
// the payload.

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
		dst = wire.AppendString(dst, d.Collection)
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
		dst = wire.AppendString(dst, p.Collection)
		dst = appendTailTags(dst, p.Tags)
		dst = binary.AppendVarint(dst, p.Time)
		dst = binary.AppendUvarint(dst, uint64(len(p.Fields)))
		for _, f := range p.Fields {
			dst = wire.AppendString(dst, f.Key)
			dst = wire.AppendValue(dst, f.Value)
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
		dst = wire.AppendString(dst, t.Key)
		dst = wire.AppendString(dst, t.Value)
	}
	return dst
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
	d := wire.MsgDec{B: payload}
	e.Seq = d.Uvarint()
	switch k := d.Byte(); k {
	case tailWriteKind:
		e.Points = tailPoints(&d)
	case tailDeleteKind:
		del := &tailDelete{Collection: d.String(), Min: d.Varint(), Max: d.Varint()}
		del.Series = make([]model.Tags, d.Count(1))
		for i := range del.Series {
			del.Series[i] = tailTags(&d)
		}
		e.Delete = del
	default:
		if d.Err() == nil {
			return tailEntry{}, nil, fmt.Errorf("decode tail record: bad batch kind %d", k)
		}
	}
	if err := d.Done(); err != nil {
		return tailEntry{}, nil, fmt.Errorf("decode tail record: %w", err)
	}
	return e, rest, nil
}

// tailTags decodes a tag set (nil for none, as the writes had it).
func tailTags(d *wire.MsgDec) model.Tags {
	if tags := d.Tags(); len(tags) > 0 {
		return tags
	}
	return nil
}

// tailPoints decodes a write batch's points.
func tailPoints(d *wire.MsgDec) []model.Point {
	n := d.Count(4) // a point is at least four bytes
	points := make([]model.Point, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		var p model.Point
		p.Collection = d.String()
		p.Tags = tailTags(d)
		p.Time = d.Varint()
		p.Fields = make([]model.Field, d.Count(2))
		for j := range p.Fields {
			p.Fields[j] = model.Field{Key: d.String(), Value: d.Value()}
		}
		points = append(points, p)
	}
	return points
}
