package colfile

import (
	"encoding/binary"
	"errors"
)

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

// failVarint records why binary.(U)varint returned n <= 0.
func (d *decoder) failVarint(n int) {
	if n == 0 {
		d.fail(errShort)
	} else {
		d.fail(errors.New("varint overflows 64 bits"))
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.failVarint(n)
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
		d.failVarint(n)
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

func (d *decoder) uint64() uint64 {
	b := d.bytes(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}
