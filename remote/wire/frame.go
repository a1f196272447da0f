package wire

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"math"
	"slices"
	"sync"

	"github.com/soltixdb/soltix/model"
)

// A write request's body is a sequence of frames, one per group. A frame
// is a 24-byte header, a payload and the CRC-32C of header and payload:
//
//	magic "SXWF" | version 1 | 3 zero bytes | group uint32 | epoch uint64 |
//	payload length uint32                  (integers little endian)
//	payload
//	crc32c uint32
//
// The payload holds the frame's points with their series and field keys
// written once each:
//
//	uvarint series count, each: string collection, uvarint tag count,
//	    each tag: string key, string value
//	uvarint field key count, each: string key
//	uvarint point count, each: uvarint series index, varint time minus
//	    the previous point's time (wrapping; the first is from 0),
//	    uvarint field count (at least 1), each: uvarint key index, value
//
// Strings are a uvarint length and bytes; a value is AppendValue's kind
// byte and encoding (null is refused in frames).
const (
	frameMagic = "SXWF"
	// FrameVersion is the frame format's version.
	FrameVersion = 1
	// FrameHeaderLen is the length of a frame's header.
	FrameHeaderLen = 24
	// FrameOverhead is a frame's bytes besides its payload.
	FrameOverhead = FrameHeaderLen + 4
)

// Default limits of a decoded request body (see Limits).
const (
	DefaultMaxFrameBytes = 64 << 20
	DefaultMaxPoints     = 8 << 20
	DefaultMaxStringLen  = 16 << 20
)

// Limits bound what Decode accepts. Zero fields take the defaults above.
type Limits struct {
	// MaxFrameBytes bounds one frame's payload.
	MaxFrameBytes int
	// MaxPoints bounds the points of all frames together.
	MaxPoints int
	// MaxStringLen bounds every string (names, keys, tag and string values).
	MaxStringLen int
}

func (l Limits) withDefaults() Limits {
	if l.MaxFrameBytes <= 0 {
		l.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if l.MaxPoints <= 0 {
		l.MaxPoints = DefaultMaxPoints
	}
	if l.MaxStringLen <= 0 {
		l.MaxStringLen = DefaultMaxStringLen
	}
	return l
}

// Frame is one decoded frame: a group's points and the epoch the sender
// saw the group at.
type Frame struct {
	Group  uint32
	Epoch  uint64
	Points []model.Point
}

// Batch is a decoded request body.
type Batch struct {
	Frames []Frame
	// Points holds every frame's points in order; each Frame.Points is a
	// sub-slice of it.
	Points []model.Point
	arena  fieldArena
}

// Limits on the memory a Batch keeps for reuse (see Release).
const (
	keepPoints = 1 << 16
	keepChunks = 64
)

// reset empties the batch, keeping its memory.
func (b *Batch) reset() {
	clear(b.Frames)
	b.Frames = b.Frames[:0]
	clear(b.Points)
	b.Points = b.Points[:0]
	b.arena.reset()
}

// Release empties the batch for reuse by DecodeInto and drops memory
// beyond what a typical request needs. The points it held must no longer
// be used.
func (b *Batch) Release() {
	b.reset()
	if cap(b.Points) > keepPoints {
		b.Points = nil
	}
	if len(b.arena.chunks) > keepChunks {
		b.arena.chunks = b.arena.chunks[:keepChunks]
	}
}

// fieldArena hands out the fields of decoded points from reused chunks.
type fieldArena struct {
	chunks [][]model.Field // every chunk allocated, at full length
	next   int             // the chunk alloc takes from when cur is full
	cur    []model.Field   // the rest of the chunk in use
}

func (a *fieldArena) reset() {
	for _, c := range a.chunks[:a.next] {
		clear(c)
	}
	a.next, a.cur = 0, nil
}

// alloc returns n fields (n at most model.MaxFieldsPerPoint).
func (a *fieldArena) alloc(n int) []model.Field {
	if len(a.cur) < n {
		if a.next == len(a.chunks) {
			a.chunks = append(a.chunks, make([]model.Field, max(fieldChunk, n)))
		} else if len(a.chunks[a.next]) < n {
			a.chunks[a.next] = make([]model.Field, max(fieldChunk, n))
		}
		a.cur = a.chunks[a.next]
		a.next++
	}
	f := a.cur[:n:n]
	a.cur = a.cur[n:]
	return f
}

var hashSeed = maphash.MakeSeed()

// seriesHash hashes a series' identity without allocating.
func seriesHash(collection string, tags model.Tags) uint64 {
	var h maphash.Hash
	h.SetSeed(hashSeed)
	h.WriteString(collection)
	for _, t := range tags {
		h.WriteByte(0)
		h.WriteString(t.Key)
		h.WriteByte(0)
		h.WriteString(t.Value)
	}
	return h.Sum64()
}

// encoder is AppendFrame's reusable state.
type encoder struct {
	series   []seriesRef
	byHash   map[uint64]int // a series hash's first series
	sameHash []int          // sameHash[j]: the next series with j's hash, or -1
	keys     []string
	keyIndex map[string]int
	prevIdx  []int  // the previous point's field key indexes
	points   []byte // the points section, written before the tables
}

type seriesRef struct {
	coll string
	tags model.Tags
}

var encoders = sync.Pool{New: func() any {
	return &encoder{byHash: make(map[uint64]int), keyIndex: make(map[string]int)}
}}

func (e *encoder) reset() {
	clear(e.series)
	e.series = e.series[:0]
	clear(e.byHash)
	e.sameHash = e.sameHash[:0]
	clear(e.keys)
	e.keys = e.keys[:0]
	clear(e.keyIndex)
	e.prevIdx = e.prevIdx[:0]
	e.points = e.points[:0]
}

// AppendFrame appends a frame holding points for group at epoch. It fails
// on a point without fields, a null field value or a payload of more than
// 4 GiB, appending nothing.
func AppendFrame(dst []byte, group uint32, epoch uint64, points []model.Point) ([]byte, error) {
	e := encoders.Get().(*encoder)
	defer func() {
		if cap(e.points) <= 16<<20 {
			e.reset()
			encoders.Put(e)
		}
	}()
	e.reset()
	// One pass over the points writes the points section and collects the
	// tables, which go first in the payload.
	var (
		lastTags   *model.Tag
		lastColl   string
		lastIndex  = -1
		prev       int64
		prevFields []model.Field
		b          = e.points
	)
	for i := range points {
		p := &points[i]
		if len(p.Fields) == 0 {
			return dst, fmt.Errorf("point %d has no field", i)
		}
		// Points of one series often share their tags' backing array.
		idx := lastIndex
		if len(p.Tags) == 0 || &p.Tags[0] != lastTags || p.Collection != lastColl || len(e.series[idx].tags) != len(p.Tags) {
			idx = e.seriesIndex(p.Collection, p.Tags)
			lastColl, lastIndex, lastTags = p.Collection, idx, nil
			if len(p.Tags) > 0 {
				lastTags = &p.Tags[0]
			}
		}
		b = binary.AppendUvarint(b, uint64(idx))
		b = binary.AppendVarint(b, p.Time-prev)
		prev = p.Time
		b = binary.AppendUvarint(b, uint64(len(p.Fields)))
		// Points of one series usually name the same fields in the same
		// order: the previous point's keys are tried first.
		for j, f := range p.Fields {
			if f.Value.Kind == model.KindNull || f.Value.Kind > model.KindString {
				return dst, fmt.Errorf("point %d: field %q has no value", i, f.Key)
			}
			var k int
			if j < len(prevFields) && prevFields[j].Key == f.Key {
				k = e.prevIdx[j]
			} else {
				k = e.keyOf(f.Key)
				if j < len(e.prevIdx) {
					e.prevIdx[j] = k
				} else {
					e.prevIdx = append(e.prevIdx, k)
				}
			}
			b = binary.AppendUvarint(b, uint64(k))
			b = AppendValue(b, f.Value)
		}
		// prevIdx[:len(p.Fields)] now holds this point's key indexes.
		prevFields = p.Fields
		e.prevIdx = e.prevIdx[:len(p.Fields)]
	}
	e.points = b

	start := len(dst)
	est := FrameOverhead + 16 + len(b)
	for _, s := range e.series {
		est += len(s.coll) + 2
		for _, t := range s.tags {
			est += len(t.Key) + len(t.Value) + 4
		}
	}
	for _, k := range e.keys {
		est += len(k) + 2
	}
	dst = slices.Grow(dst, est)
	dst = append(dst, frameMagic...)
	dst = append(dst, FrameVersion, 0, 0, 0)
	dst = binary.LittleEndian.AppendUint32(dst, group)
	dst = binary.LittleEndian.AppendUint64(dst, epoch)
	dst = append(dst, 0, 0, 0, 0) // payload length, set below
	payload := len(dst)
	dst = binary.AppendUvarint(dst, uint64(len(e.series)))
	for _, s := range e.series {
		dst = AppendString(dst, s.coll)
		dst = binary.AppendUvarint(dst, uint64(len(s.tags)))
		for _, t := range s.tags {
			dst = AppendString(dst, t.Key)
			dst = AppendString(dst, t.Value)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.keys)))
	for _, k := range e.keys {
		dst = AppendString(dst, k)
	}
	dst = binary.AppendUvarint(dst, uint64(len(points)))
	dst = append(dst, b...)
	n := len(dst) - payload
	if n > math.MaxUint32 {
		return dst[:start], fmt.Errorf("frame payload of %d bytes exceeds 4 GiB", n)
	}
	binary.LittleEndian.PutUint32(dst[start+20:], uint32(n))
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], crcTable)), nil
}

// seriesIndex returns the series' index in the table, adding it.
func (e *encoder) seriesIndex(coll string, tags model.Tags) int {
	h := seriesHash(coll, tags)
	first, ok := e.byHash[h]
	if ok {
		for j := first; j >= 0; j = e.sameHash[j] {
			if e.series[j].coll == coll && e.series[j].tags.Equal(tags) {
				return j
			}
		}
	}
	idx := len(e.series)
	e.series = append(e.series, seriesRef{coll, tags})
	if ok {
		e.sameHash = append(e.sameHash, first) // chain in front
	} else {
		e.sameHash = append(e.sameHash, -1)
	}
	e.byHash[h] = idx
	return idx
}

// keyOf returns a field key's index in the table, adding it.
func (e *encoder) keyOf(key string) int {
	k, ok := e.keyIndex[key]
	if !ok {
		k = len(e.keys)
		e.keyIndex[key] = k
		e.keys = append(e.keys, key)
	}
	return k
}

// Decode decodes a request body: zero or more frames, each checked whole
// (checksum, limits, no trailing bytes) before the next. Strings of the
// result do not alias b.
func Decode(b []byte, lim Limits) (*Batch, error) {
	var out Batch
	if err := DecodeInto(&out, b, lim); err != nil {
		return nil, err
	}
	return &out, nil
}

// DecodeInto is Decode into dst, reusing the memory of its points and
// fields (not of their tags and strings, which the decoded points may
// hand on). On error dst holds no frames.
func DecodeInto(dst *Batch, b []byte, lim Limits) error {
	lim = lim.withDefaults()
	dst.reset()
	out := dst
	var (
		bounds []int // each frame's end in out.Points
		in     = make(interner)
	)
	fail := func(err error) error {
		dst.reset()
		return err
	}
	for off, i := 0, 0; off < len(b); i++ {
		if len(b)-off < FrameHeaderLen {
			return fail(fmt.Errorf("frame %d at byte %d: header of %d bytes: %w", i, off, len(b)-off, ErrTruncated))
		}
		h := b[off : off+FrameHeaderLen]
		if string(h[:4]) != frameMagic {
			return fail(fmt.Errorf("frame %d at byte %d: bad magic %q: %w", i, off, h[:4], ErrMalformed))
		}
		if h[4] != FrameVersion {
			return fail(fmt.Errorf("frame %d at byte %d: unknown version %d: %w", i, off, h[4], ErrMalformed))
		}
		if h[5]|h[6]|h[7] != 0 {
			return fail(fmt.Errorf("frame %d at byte %d: reserved bytes are not zero: %w", i, off, ErrMalformed))
		}
		f := Frame{Group: binary.LittleEndian.Uint32(h[8:]), Epoch: binary.LittleEndian.Uint64(h[12:])}
		n := binary.LittleEndian.Uint32(h[20:])
		if uint64(n) > uint64(lim.MaxFrameBytes) {
			return fail(fmt.Errorf("frame %d at byte %d: payload of %d bytes, more than %d: %w", i, off, n, lim.MaxFrameBytes, ErrLimit))
		}
		end := off + FrameHeaderLen + int(n)
		if len(b)-off-FrameHeaderLen < int(n)+4 {
			return fail(fmt.Errorf("frame %d at byte %d: payload of %d bytes and checksum, %d bytes left: %w", i, off, n, len(b)-off-FrameHeaderLen, ErrTruncated))
		}
		if got, want := crc32.Checksum(b[off:end], crcTable), binary.LittleEndian.Uint32(b[end:]); got != want {
			return fail(fmt.Errorf("frame %d at byte %d: %w", i, off, ErrChecksum))
		}
		r := NewReader(b[off+FrameHeaderLen:end], off+FrameHeaderLen, lim.MaxStringLen)
		var err error
		out.Points, err = decodePoints(r, in, &out.arena, out.Points, lim.MaxPoints)
		if err != nil {
			return fail(fmt.Errorf("frame %d (group %d): %w", i, f.Group, err))
		}
		out.Frames = append(out.Frames, f)
		bounds = append(bounds, len(out.Points))
		off = end + 4
	}
	from := 0
	for i, to := range bounds {
		out.Frames[i].Points = out.Points[from:to:to]
		from = to
	}
	return nil
}

// fieldChunk is how many fields decodePoints allocates at once.
const fieldChunk = 4096

// decodePoints appends a payload's points to dst, refusing more than max
// points in dst.
func decodePoints(r *Reader, in interner, arena *fieldArena, dst []model.Point, maxPoints int) ([]model.Point, error) {
	type seriesRef struct {
		coll string
		tags model.Tags
	}
	// A series takes at least 2 bytes, a key 1, a point 4 (series, time,
	// field count, and a field of at least key and kind).
	series := make([]seriesRef, r.Count("series", 2, math.MaxInt32))
	var prevTags model.Tags
	for i := range series {
		series[i].coll = in.intern(r.Bytes())
		nt := r.Count("tags", 2, model.MaxTagsPerPoint)
		if nt > 0 {
			tags := make(model.Tags, nt)
			for j := range tags {
				tags[j].Key = in.intern(r.Bytes())
				// A tag value is often the previous series' (a site, a
				// region); device names are not worth a map.
				v := r.Bytes()
				if j < len(prevTags) && prevTags[j].Key == tags[j].Key && prevTags[j].Value == string(v) {
					tags[j].Value = prevTags[j].Value
				} else {
					tags[j].Value = string(v)
				}
			}
			series[i].tags = tags
			prevTags = tags
		}
	}
	keys := make([]string, r.Count("field keys", 1, math.MaxInt32))
	for i := range keys {
		keys[i] = in.intern(r.Bytes())
	}
	np := r.Count("points", 4, maxPoints-len(dst))
	if r.Err() != nil {
		return dst, r.Err()
	}
	dst = growPoints(dst, np)
	var prev int64
	for range np {
		si := r.Uvarint()
		if r.Err() == nil && si >= uint64(len(series)) {
			r.Fail(fmt.Errorf("series index %d of %d series: %w", si, len(series), ErrMalformed))
		}
		prev += r.Varint()
		nf := r.Count("fields", 2, model.MaxFieldsPerPoint)
		if r.Err() == nil && nf == 0 {
			r.Fail(fmt.Errorf("a point without fields: %w", ErrMalformed))
		}
		if r.Err() != nil {
			return dst, r.Err()
		}
		fields := arena.alloc(nf)
		for j := range nf {
			ki := r.Uvarint()
			if r.Err() == nil && ki >= uint64(len(keys)) {
				r.Fail(fmt.Errorf("field key index %d of %d keys: %w", ki, len(keys), ErrMalformed))
			}
			v := r.Value()
			if r.Err() == nil && v.Kind == model.KindNull {
				r.Fail(fmt.Errorf("a field without a value: %w", ErrMalformed))
			}
			if r.Err() != nil {
				return dst, r.Err()
			}
			fields[j] = model.Field{Key: keys[ki], Value: v}
		}
		s := &series[si]
		dst = append(dst, model.Point{Collection: s.coll, Tags: s.tags, Fields: fields, Time: prev})
	}
	return dst, r.Done()
}

// interner shares the strings of a body's names and keys (a collection or
// a tag key appears in many series).
type interner map[string]string

func (in interner) intern(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	in[s] = s
	return s
}

// growPoints makes room for n more points.
func growPoints(dst []model.Point, n int) []model.Point {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	grown := make([]model.Point, len(dst), max(len(dst)+n, 2*cap(dst)))
	copy(grown, dst)
	return grown
}
