package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/soltixdb/soltix/internal/sketch"
	"github.com/soltixdb/soltix/model"
)

// MsgEnc builds a message payload. Integers are varints, strings and byte
// slices carry a uvarint length, floats are 8 bytes little endian.
type MsgEnc struct{ B []byte }

// Byte appends one byte.
func (e *MsgEnc) Byte(b byte) { e.B = append(e.B, b) }

// Bool appends a bool as one byte.
func (e *MsgEnc) Bool(b bool) {
	if b {
		e.Byte(1)
	} else {
		e.Byte(0)
	}
}

// Uvarint appends an unsigned varint.
func (e *MsgEnc) Uvarint(v uint64) { e.B = binary.AppendUvarint(e.B, v) }

// Varint appends a signed (zigzag) varint.
func (e *MsgEnc) Varint(v int64) { e.B = binary.AppendVarint(e.B, v) }

// Float appends a float64.
func (e *MsgEnc) Float(f float64) { e.B = binary.LittleEndian.AppendUint64(e.B, math.Float64bits(f)) }

// String appends a length-prefixed string.
func (e *MsgEnc) String(s string) {
	e.Uvarint(uint64(len(s)))
	e.B = append(e.B, s...)
}

// Strings appends a count and the strings.
func (e *MsgEnc) Strings(ss []string) {
	e.Uvarint(uint64(len(ss)))
	for _, s := range ss {
		e.String(s)
	}
}

// Tags appends a tag set.
func (e *MsgEnc) Tags(ts model.Tags) {
	e.Uvarint(uint64(len(ts)))
	for _, t := range ts {
		e.String(t.Key)
		e.String(t.Value)
	}
}

// Value appends a kind and a value.
func (e *MsgEnc) Value(v model.Value) {
	e.Byte(byte(v.Kind))
	switch v.Kind {
	case model.KindFloat:
		e.Float(v.Float())
	case model.KindInt:
		e.Varint(v.Int())
	case model.KindUint:
		e.Uvarint(v.Uint())
	case model.KindBool:
		e.Bool(v.Bool())
	case model.KindString:
		e.String(v.Str())
	}
}

// Column appends a column: name, kind, count, the times as a first varint
// and uvarint deltas (times strictly increase), then the values.
func (e *MsgEnc) Column(c *model.Column) {
	e.String(c.Name)
	e.Byte(byte(c.Kind))
	e.Uvarint(uint64(c.Len()))
	e.times(c.Times)
	e.values(c)
}

// Columns appends the columns of one read (their names are left out: the
// reader knows them): a count, then, when every column holds the same
// times (fields written in the same points, the usual case), a 1, the
// times once and each column's kind and values; otherwise a 0 and each
// column's kind, count, times and values.
func (e *MsgEnc) Columns(cols []model.Column) {
	e.Uvarint(uint64(len(cols)))
	shared := len(cols) > 1
	for i := 1; i < len(cols) && shared; i++ {
		shared = slices.Equal(cols[i].Times, cols[0].Times)
	}
	if shared {
		e.Byte(1)
		e.Uvarint(uint64(len(cols[0].Times)))
		e.times(cols[0].Times)
		for i := range cols {
			e.Byte(byte(cols[i].Kind))
			e.values(&cols[i])
		}
		return
	}
	e.Byte(0)
	for i := range cols {
		e.Byte(byte(cols[i].Kind))
		e.Uvarint(uint64(cols[i].Len()))
		e.times(cols[i].Times)
		e.values(&cols[i])
	}
}

// times appends times, the first as a varint and the others as the
// uvarint of their difference from the one before.
func (e *MsgEnc) times(ts []int64) {
	// The loops append to a local slice and store e.B once (a store per
	// value into the encoder costs a write barrier while the collector
	// runs).
	b := e.B
	prev := int64(0)
	for i, t := range ts {
		if i == 0 {
			b = binary.AppendVarint(b, t)
		} else {
			b = binary.AppendUvarint(b, uint64(t-prev))
		}
		prev = t
	}
	e.B = b
}

// values appends the values of a column.
func (e *MsgEnc) values(c *model.Column) {
	n := c.Len()
	b := e.B
	switch c.Kind {
	case model.KindFloat:
		for _, f := range c.Floats[:n] {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
		}
	case model.KindInt:
		for _, v := range c.Ints[:n] {
			b = binary.AppendVarint(b, v)
		}
	case model.KindUint:
		for _, v := range c.Uints[:n] {
			b = binary.AppendUvarint(b, v)
		}
	}
	e.B = b
	switch c.Kind {
	case model.KindBool:
		for _, v := range c.Bools[:n] {
			e.Bool(v)
		}
	case model.KindString:
		for _, v := range c.Strings[:n] {
			e.String(v)
		}
	}
}

// Summary appends a summary.
func (e *MsgEnc) Summary(s *model.Summary) {
	e.Uvarint(uint64(s.Count))
	e.Varint(s.MinTime)
	e.Varint(s.MaxTime)
	e.Value(s.First)
	e.Value(s.Last)
	e.Value(s.Min)
	e.Value(s.Max)
	e.Float(s.SumFloat)
	e.Varint(s.SumInt)
	e.Uvarint(s.SumUint)
	e.Float(s.M2)
	e.Bool(s.HasM2)
}

// Part appends a part: 0 and a column, 1, its level and a summary, 2,
// its points, its blocks and a summary for a Reduced one (level raw,
// never with a sketch: the planner reduces no column that needs one), or
// 3, its level, a summary and the summary's quantile sketch
// (sketch.Sketch.Append) for a rollup row that has one. A router older
// than tag 3 rejects it as malformed: upgrade routers before storage
// nodes.
func (e *MsgEnc) Part(p *model.Part) {
	if p.Summary == nil {
		e.Byte(0)
		e.Column(&p.Values)
		return
	}
	if p.Reduced {
		e.Byte(2)
		e.Uvarint(uint64(p.Points))
		e.Uvarint(uint64(p.Blocks))
		e.Summary(p.Summary)
		return
	}
	if p.Summary.Sketch != nil {
		e.Byte(3)
		e.Byte(byte(p.Level))
		e.Summary(p.Summary)
		e.B = p.Summary.Sketch.Append(e.B)
		return
	}
	e.Byte(1)
	e.Byte(byte(p.Level))
	e.Summary(p.Summary)
}

// MsgDec reads a payload built by MsgEnc. The first error sticks: later
// reads return zero values, and Err reports it.
type MsgDec struct {
	B   []byte
	err error
}

// Err returns the first decoding error, wrapping ErrMalformed.
func (d *MsgDec) Err() error { return d.err }

func (d *MsgDec) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("bad %s: %w", what, ErrMalformed)
	}
	d.B = nil
}

// Done reports an error when bytes are left over.
func (d *MsgDec) Done() error {
	if d.err == nil && len(d.B) > 0 {
		d.fail("message: trailing bytes")
	}
	return d.err
}

// Byte reads one byte.
func (d *MsgDec) Byte() byte {
	if len(d.B) < 1 {
		d.fail("byte")
		return 0
	}
	b := d.B[0]
	d.B = d.B[1:]
	return b
}

// Bool reads a bool.
func (d *MsgDec) Bool() bool {
	switch d.Byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bool")
	return false
}

// uvarint is binary.Uvarint with the one-byte case first, inlined.
func uvarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	return binary.Uvarint(b)
}

// Uvarint reads an unsigned varint.
func (d *MsgDec) Uvarint() uint64 {
	v, n := binary.Uvarint(d.B)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Varint reads a signed varint.
func (d *MsgDec) Varint() int64 {
	v, n := binary.Varint(d.B)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Count reads a count of items each taking at least min bytes, refusing
// one the rest of the payload cannot hold (so that a corrupt count cannot
// make the reader allocate much).
func (d *MsgDec) Count(min int) int {
	n := d.Uvarint()
	if min < 1 {
		min = 1
	}
	if n > uint64(len(d.B)/min) {
		d.fail("count")
		return 0
	}
	return int(n)
}

// Float reads a float64.
func (d *MsgDec) Float() float64 {
	if len(d.B) < 8 {
		d.fail("float")
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(d.B))
	d.B = d.B[8:]
	return f
}

// String reads a length-prefixed string.
func (d *MsgDec) String() string {
	n := d.Uvarint()
	if n > uint64(len(d.B)) {
		d.fail("string")
		return ""
	}
	s := string(d.B[:n])
	d.B = d.B[n:]
	return s
}

// Strings reads a count and the strings.
func (d *MsgDec) Strings() []string {
	n := d.Count(1)
	out := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.String())
	}
	return out
}

// Tags reads a tag set.
func (d *MsgDec) Tags() model.Tags {
	n := d.Count(2)
	ts := make(model.Tags, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		ts = append(ts, model.Tag{Key: d.String(), Value: d.String()})
	}
	return ts
}

func (d *MsgDec) kind() model.Kind {
	k := model.Kind(d.Byte())
	if k > model.KindString {
		d.fail("kind")
		return model.KindNull
	}
	return k
}

// Value reads a kind and a value.
func (d *MsgDec) Value() model.Value {
	switch d.kind() {
	case model.KindFloat:
		return model.Float(d.Float())
	case model.KindInt:
		return model.Int(d.Varint())
	case model.KindUint:
		return model.Uint(d.Uvarint())
	case model.KindBool:
		return model.Bool(d.Bool())
	case model.KindString:
		return model.String(d.String())
	}
	return model.Null
}

// Column reads a column, checking that its times strictly increase.
func (d *MsgDec) Column() model.Column {
	c := model.Column{Name: d.String(), Kind: d.kind()}
	n := d.Count(1)
	if d.err != nil {
		return model.Column{}
	}
	if n > 0 && c.Kind == model.KindNull {
		d.fail("column kind")
		return model.Column{}
	}
	c.Times = d.times(n)
	d.values(&c, n)
	if d.err != nil {
		return model.Column{}
	}
	return c
}

// Columns reads what MsgEnc.Columns wrote, checking that times strictly
// increase, with names empty. Columns that held the same times share one
// slice of them (clipped: appending to one copies it).
func (d *MsgDec) Columns() []model.Column {
	nc := d.Count(1) // a kind at least each
	shared := d.Bool()
	if d.err != nil {
		return nil
	}
	cols := make([]model.Column, nc)
	var ts []int64
	if shared {
		n := d.Count(1)
		if d.err != nil {
			return nil
		}
		ts = d.times(n)
	}
	for i := range cols {
		c := &cols[i]
		c.Kind = d.kind()
		if !shared {
			ts = d.times(d.Count(1))
		}
		if d.err != nil {
			return nil
		}
		if len(ts) > 0 && c.Kind == model.KindNull {
			d.fail("column kind")
			return nil
		}
		c.Times = ts
		d.values(c, len(ts))
	}
	if d.err != nil {
		return nil
	}
	return cols
}

// times reads n times (see MsgEnc.times), checking that they strictly
// increase.
func (d *MsgDec) times(n int) []int64 {
	if d.err != nil {
		return nil
	}
	// The loops below read from a local slice and store d.B once: a
	// store per value into the decoder (a pointer field) is slow, and
	// costs a write barrier while the collector runs.
	ts := make([]int64, n)
	b := d.B
	for i := range ts {
		if i == 0 {
			t, k := binary.Varint(b)
			if k <= 0 {
				d.fail("varint")
				return nil
			}
			ts[0], b = t, b[k:]
			continue
		}
		delta, k := uvarint(b)
		if k <= 0 {
			d.fail("uvarint")
			return nil
		}
		b = b[k:]
		// The delta may exceed MaxInt64 (times at both ends of int64's
		// range): add it in the order-preserving unsigned mapping.
		prev := uint64(ts[i-1]) ^ 1<<63
		if delta == 0 || delta > math.MaxUint64-prev {
			d.fail("column times")
			return nil
		}
		ts[i] = int64((prev + delta) ^ 1<<63)
	}
	d.B = b
	return ts
}

// values reads n values of c's kind into c.
func (d *MsgDec) values(c *model.Column, n int) {
	if d.err != nil {
		return
	}
	b := d.B
	switch c.Kind {
	case model.KindFloat:
		if len(d.B) < 8*n {
			d.fail("column values")
			return
		}
		c.Floats = make([]float64, n)
		for i := range c.Floats {
			c.Floats[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		d.B = b[8*n:]
	case model.KindInt:
		c.Ints = make([]int64, n)
		for i := range c.Ints {
			u, k := uvarint(b)
			if k <= 0 {
				d.fail("varint")
				return
			}
			// Zigzag, as binary.Varint decodes it.
			c.Ints[i], b = int64(u>>1)^-int64(u&1), b[k:]
		}
		d.B = b
	case model.KindUint:
		c.Uints = make([]uint64, n)
		for i := range c.Uints {
			u, k := uvarint(b)
			if k <= 0 {
				d.fail("uvarint")
				return
			}
			c.Uints[i], b = u, b[k:]
		}
		d.B = b
	case model.KindBool:
		c.Bools = make([]bool, n)
		for i := range c.Bools {
			c.Bools[i] = d.Bool()
		}
	case model.KindString:
		c.Strings = make([]string, n)
		for i := range c.Strings {
			c.Strings[i] = d.String()
		}
	}
}

// Summary reads a summary.
func (d *MsgDec) Summary() model.Summary {
	var s model.Summary
	cnt := d.Uvarint()
	if cnt > math.MaxInt32 {
		d.fail("summary count")
	}
	s.Count = int(cnt)
	s.MinTime, s.MaxTime = d.Varint(), d.Varint()
	s.First, s.Last, s.Min, s.Max = d.Value(), d.Value(), d.Value(), d.Value()
	s.SumFloat, s.SumInt, s.SumUint = d.Float(), d.Varint(), d.Uvarint()
	s.M2, s.HasM2 = d.Float(), d.Bool()
	if d.err == nil && s.MinTime > s.MaxTime {
		d.fail("summary times")
	}
	return s
}

// Part reads a part.
func (d *MsgDec) Part() model.Part {
	switch tag := d.Byte(); tag {
	case 0:
		return model.Part{Values: d.Column()}
	case 1, 3:
		l := model.Level(d.Byte())
		if l > model.Level1y {
			d.fail("part level")
		}
		s := d.Summary()
		if tag == 3 && d.err == nil {
			sk, rest, err := sketch.Decode(d.B)
			if err != nil || sk.Count() != uint64(s.Count) || l == model.LevelRaw {
				d.fail("part sketch")
				return model.Part{}
			}
			s.Sketch, d.B = sk, rest
		}
		return model.Part{Summary: &s, Level: l}
	case 2:
		pts, blocks := d.Uvarint(), d.Uvarint()
		s := d.Summary()
		if pts > math.MaxInt32 || blocks > math.MaxInt32 || pts+blocks == 0 || pts+blocks > uint64(s.Count) {
			d.fail("reduced part")
			return model.Part{}
		}
		return model.Part{Summary: &s, Reduced: true, Points: int(pts), Blocks: int(blocks)}
	}
	d.fail("part")
	return model.Part{}
}
