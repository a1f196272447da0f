// Package wire is the binary encoding between a cluster's router and its
// storage nodes: write frames (a group's points, with the epoch the router
// saw; frame.go), checksummed length-prefixed messages for streamed answers
// (message.go), and the primitives both are built of (this file): varints,
// length-prefixed strings, typed values, and a bounded Reader over a
// payload. Every decoder here is bounded by limits its caller gives,
// refuses truncated, corrupt or trailing bytes with an error naming the
// byte offset, never panics, and allocates in proportion to its input.
// docs/cluster.md describes the byte layout.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/soltixdb/soltix/model"
)

var (
	// ErrTruncated is wrapped by errors for input that ends inside a
	// frame, message or value.
	ErrTruncated = errors.New("truncated")
	// ErrChecksum is wrapped by errors for a frame or message whose
	// CRC-32C does not match its bytes.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrLimit is wrapped by errors for input over a decoding limit.
	ErrLimit = errors.New("over limit")
	// ErrMalformed is wrapped by every other decoding error.
	ErrMalformed = errors.New("malformed")
)

// crcTable is CRC-32C (Castagnoli), as the WAL uses.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// AppendString appends s as a uvarint length and its bytes.
func AppendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// AppendValue appends v as its kind (one byte) and its value: a float as 8
// bytes little endian, an int as a zigzag varint, a uint as a uvarint, a
// bool as one byte 0 or 1, a string as AppendString, null as nothing.
func AppendValue(dst []byte, v model.Value) []byte {
	dst = append(dst, byte(v.Kind))
	switch v.Kind {
	case model.KindFloat:
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Float()))
	case model.KindInt:
		dst = binary.AppendVarint(dst, v.Int())
	case model.KindUint:
		dst = binary.AppendUvarint(dst, v.Uint())
	case model.KindBool:
		if v.Bool() {
			dst = append(dst, 1)
		} else {
			dst = append(dst, 0)
		}
	case model.KindString:
		dst = AppendString(dst, v.Str())
	}
	return dst
}

// Reader decodes a payload from its start. The first error sticks: every
// later call returns a zero value, and Err reports the error with the
// offset it happened at. A Reader never reads past its payload.
type Reader struct {
	b         []byte
	off       int
	base      int // offset of b in the whole input, for messages
	maxString int
	err       error
}

// NewReader returns a Reader over b refusing strings longer than maxString
// bytes. base is b's offset in the input, added to the offsets errors name.
func NewReader(b []byte, base, maxString int) *Reader {
	return &Reader{b: b, base: base, maxString: maxString}
}

// Err returns the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Len returns the bytes not read yet.
func (r *Reader) Len() int { return len(r.b) - r.off }

// Fail records err (when no error is recorded yet) at the current offset,
// for checks the caller makes on decoded values.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = fmt.Errorf("byte %d: %w", r.base+r.off, err)
	}
}

func (r *Reader) truncated(what string) {
	r.Fail(fmt.Errorf("%s: %w", what, ErrTruncated))
	r.off = len(r.b)
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.truncated("byte")
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	switch {
	case n == 0:
		r.truncated("varint")
		return 0
	case n < 0:
		r.Fail(fmt.Errorf("varint overflows 64 bits: %w", ErrMalformed))
		return 0
	}
	r.off += n
	return v
}

// Varint reads a zigzag signed varint.
func (r *Reader) Varint() int64 {
	u := r.Uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// Uint64 reads 8 bytes little endian.
func (r *Reader) Uint64() uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.b)-r.off < 8 {
		r.truncated("uint64")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

// Float64 reads a float64 as 8 bytes little endian.
func (r *Reader) Float64() float64 { return math.Float64frombits(r.Uint64()) }

// Count reads a uvarint count of items that take at least minBytes each
// (at least 1) and at most max of them: a count the rest of the payload
// cannot hold is refused, so that callers may allocate for it.
func (r *Reader) Count(what string, minBytes, max int) int {
	v := r.Uvarint()
	if r.err != nil {
		return 0
	}
	if minBytes < 1 {
		minBytes = 1
	}
	if v > uint64(max) {
		r.Fail(fmt.Errorf("%d %s, more than %d: %w", v, what, max, ErrLimit))
		return 0
	}
	if v > uint64(r.Len()/minBytes) {
		r.truncated(fmt.Sprintf("%d %s", v, what))
		return 0
	}
	return int(v)
}

// Bytes reads a uvarint length and that many bytes, which alias the
// payload.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(r.maxString) {
		r.Fail(fmt.Errorf("string of %d bytes, more than %d: %w", n, r.maxString, ErrLimit))
		return nil
	}
	if n > uint64(r.Len()) {
		r.truncated(fmt.Sprintf("string of %d bytes", n))
		return nil
	}
	b := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return b
}

// String reads what AppendString wrote.
func (r *Reader) String() string { return string(r.Bytes()) }

// Value reads what AppendValue wrote.
func (r *Reader) Value() model.Value {
	k := model.Kind(r.Byte())
	if r.err != nil {
		return model.Value{}
	}
	switch k {
	case model.KindNull:
		return model.Value{}
	case model.KindFloat:
		return model.Float(r.Float64())
	case model.KindInt:
		return model.Int(r.Varint())
	case model.KindUint:
		return model.Uint(r.Uvarint())
	case model.KindBool:
		switch r.Byte() {
		case 0:
			return model.Bool(false)
		case 1:
			return model.Bool(true)
		}
		r.Fail(fmt.Errorf("bool is not 0 or 1: %w", ErrMalformed))
	case model.KindString:
		return model.String(r.String())
	default:
		r.Fail(fmt.Errorf("unknown kind %d: %w", k, ErrMalformed))
	}
	return model.Value{}
}

// Done checks that the whole payload was read.
func (r *Reader) Done() error {
	if r.err == nil && r.off != len(r.b) {
		r.Fail(fmt.Errorf("%d trailing bytes: %w", len(r.b)-r.off, ErrMalformed))
	}
	return r.err
}
