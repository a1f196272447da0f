package colfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/soltixdb/soltix/model"
)

// A block body (before snappy compression) is
//
//	kind  byte
//	count uvarint
//	times count × zigzag varint delta (t[i] - t[i-1], with t[-1] = 0; wrapping)
//	values, by kind:
//	  float  count × 8-byte little-endian IEEE 754 bits
//	  int    count × zigzag varint delta (v[i] - v[i-1], with v[-1] = 0; wrapping)
//	  uint   count × uvarint
//	  bool   ceil(count/8) bytes, value i is bit i%8 (LSB first) of byte i/8;
//	         unused high bits of the last byte are zero
//	  string count × (uvarint length, bytes)
//
// and must be consumed exactly.

// validKind reports whether k may be stored in a colfile.
func validKind(k model.Kind) bool { return k >= model.KindFloat && k <= model.KindString }

// checkColumn reports why c cannot be written, or nil.
func checkColumn(c *model.Column) error {
	if !validKind(c.Kind) {
		return fmt.Errorf("column %q: invalid kind %s", c.Name, c.Kind)
	}
	n := len(c.Times)
	if n == 0 {
		return fmt.Errorf("column %q: no values", c.Name)
	}
	var m int
	switch c.Kind {
	case model.KindFloat:
		m = len(c.Floats)
	case model.KindInt:
		m = len(c.Ints)
	case model.KindUint:
		m = len(c.Uints)
	case model.KindBool:
		m = len(c.Bools)
	case model.KindString:
		m = len(c.Strings)
	}
	if m != n {
		return fmt.Errorf("column %q: %d times but %d %s values", c.Name, n, m, c.Kind)
	}
	for i := 1; i < n; i++ {
		if c.Times[i] <= c.Times[i-1] {
			return fmt.Errorf("column %q: times not strictly increasing at index %d (%d after %d)", c.Name, i, c.Times[i], c.Times[i-1])
		}
	}
	return nil
}

// appendBlockBody appends the uncompressed body of a valid column to dst.
func appendBlockBody(dst []byte, c *model.Column) []byte {
	dst = append(dst, byte(c.Kind))
	dst = binary.AppendUvarint(dst, uint64(len(c.Times)))
	var prev int64
	for _, t := range c.Times {
		dst = binary.AppendVarint(dst, t-prev)
		prev = t
	}
	switch c.Kind {
	case model.KindFloat:
		for _, f := range c.Floats {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
		}
	case model.KindInt:
		prev = 0
		for _, v := range c.Ints {
			dst = binary.AppendVarint(dst, v-prev)
			prev = v
		}
	case model.KindUint:
		for _, v := range c.Uints {
			dst = binary.AppendUvarint(dst, v)
		}
	case model.KindBool:
		var cur byte
		for i, v := range c.Bools {
			if v {
				cur |= 1 << (i % 8)
			}
			if i%8 == 7 {
				dst = append(dst, cur)
				cur = 0
			}
		}
		if len(c.Bools)%8 != 0 {
			dst = append(dst, cur)
		}
	case model.KindString:
		for _, s := range c.Strings {
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = append(dst, s...)
		}
	}
	return dst
}

// decodeBlockBody decodes an uncompressed block body that the index says
// holds count values of the given kind. It never allocates more than a small
// multiple of len(body), and it checks that the body is consumed exactly and
// that the times are strictly increasing.
func decodeBlockBody(body []byte, kind model.Kind, count int) (model.Column, error) {
	col := model.Column{Kind: kind}
	d := decoder{b: body}
	if k := model.Kind(d.byte()); d.err == nil && k != kind {
		return col, fmt.Errorf("block kind %s, index says %s", k, kind)
	}
	n := d.uvarint()
	if d.err != nil {
		return col, d.err
	}
	if n != uint64(count) {
		return col, fmt.Errorf("block count %d, index says %d", n, count)
	}
	// Every value takes at least one byte for its time and, except bools,
	// one byte for itself, so a count above the body length is a lie that
	// must not drive an allocation.
	if count <= 0 || uint64(count) > uint64(len(body)) {
		return col, fmt.Errorf("block count %d impossible for %d-byte body", count, len(body))
	}
	col.Times = make([]int64, count)
	var prev int64
	for i := range col.Times {
		t := prev + d.varint()
		if i > 0 && t <= prev {
			if d.err == nil {
				d.err = fmt.Errorf("times not strictly increasing at index %d", i)
			}
			break
		}
		col.Times[i] = t
		prev = t
	}
	if d.err != nil {
		return col, d.err
	}
	switch kind {
	case model.KindFloat:
		raw := d.bytes(8 * uint64(count))
		if d.err != nil {
			return col, d.err
		}
		col.Floats = make([]float64, count)
		for i := range col.Floats {
			col.Floats[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case model.KindInt:
		col.Ints = make([]int64, count)
		prev = 0
		for i := range col.Ints {
			prev += d.varint()
			col.Ints[i] = prev
		}
	case model.KindUint:
		col.Uints = make([]uint64, count)
		for i := range col.Uints {
			col.Uints[i] = d.uvarint()
		}
	case model.KindBool:
		raw := d.bytes((uint64(count) + 7) / 8)
		if d.err != nil {
			return col, d.err
		}
		if count%8 != 0 && raw[len(raw)-1]>>(count%8) != 0 {
			return col, errors.New("bool bitmap padding bits set")
		}
		col.Bools = make([]bool, count)
		for i := range col.Bools {
			col.Bools[i] = raw[i/8]&(1<<(i%8)) != 0
		}
	case model.KindString:
		// One allocation for all string bytes; the values are substrings.
		all := string(d.b[d.off:])
		base := d.off
		col.Strings = make([]string, count)
		for i := range col.Strings {
			l := d.uvarint()
			start := d.off
			d.bytes(l)
			if d.err != nil {
				break
			}
			col.Strings[i] = all[start-base : d.off-base]
		}
	default:
		return col, fmt.Errorf("invalid kind %s", kind)
	}
	if d.err != nil {
		return col, d.err
	}
	if d.off != len(d.b) {
		return col, fmt.Errorf("%d trailing bytes after block values", len(d.b)-d.off)
	}
	return col, nil
}

// decoder reads the primitive encodings of the format from a byte slice.
// After the first failure it records the error and returns zero values.
type decoder struct {
	b   []byte
	off int
	err error
}

var errShort = errors.New("unexpected end of data")

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail(errShort)
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		if n == 0 {
			d.fail(errShort)
		} else {
			d.fail(errors.New("varint overflows 64 bits"))
		}
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		if n == 0 {
			d.fail(errShort)
		} else {
			d.fail(errors.New("varint overflows 64 bits"))
		}
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) uint32() uint32 {
	b := d.bytes(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

// bytes returns the next n bytes, without copying. It checks n against the
// remaining length before anything else, so a corrupt n never allocates.
func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail(errShort)
		return nil
	}
	b := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return b
}

// string reads a uvarint length and that many bytes as a string.
func (d *decoder) string() string {
	return string(d.bytes(d.uvarint()))
}
