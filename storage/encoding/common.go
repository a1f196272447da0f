package encoding

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorrupt is wrapped by every error a decoder returns.
var ErrCorrupt = errors.New("corrupt encoded block")

// MaxBlockLen is the largest number of values one block encoding holds.
// Longer inputs are split by the encoders into a chunked container of
// blocks of at most MaxBlockLen values each. The bound also limits what a
// decoder allocates for a count read from untrusted bytes.
const MaxBlockLen = 1 << 16

// Scheme tags: the first byte of every encoding.
const (
	tagChunked = 0x01 // container of blocks, any type

	tagTimesDelta = 0x10
	tagTimesDoD   = 0x11
	tagTimesGrid  = 0x12

	tagIntRaw   = 0x20
	tagIntDelta = 0x21
	tagIntDoD   = 0x22

	tagUintRaw   = 0x28
	tagUintDelta = 0x29
	tagUintDoD   = 0x2a

	tagFloatConst   = 0x30
	tagFloatDecimal = 0x31
	tagFloatGorilla = 0x32
	tagFloatRaw     = 0x33

	tagBoolBitmap = 0x40
	tagBoolRuns   = 0x41

	tagStringPlain = 0x50
	tagStringDict  = 0x51
	// tagStringFields (0x52) appears in colfile version 5 and later.
	tagStringFields = 0x52
	// tagStringPrefix (0x53) appears in colfile version 6 and later.
	tagStringPrefix = 0x53
)

func corrupt(format string, args ...any) error {
	return fmt.Errorf("encoding: "+format+": %w", append(args, ErrCorrupt)...)
}

// reader walks an encoded block; the first error sticks.
type reader struct {
	src []byte
	off int
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) byte1(what string) byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.src) {
		r.fail(corrupt("truncated %s", what))
		return 0
	}
	b := r.src[r.off]
	r.off++
	return b
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.src[r.off:])
	if n <= 0 {
		r.fail(corrupt("bad uvarint %s", what))
		return 0
	}
	r.off += n
	return v
}

func (r *reader) varint(what string) int64 {
	u := r.uvarint(what)
	return int64(u>>1) ^ -int64(u&1)
}

// count reads a value count and checks it against MaxBlockLen.
func (r *reader) count(what string) int {
	v := r.uvarint(what)
	if v > MaxBlockLen {
		r.fail(corrupt("%s %d exceeds %d", what, v, MaxBlockLen))
		return 0
	}
	return int(v)
}

func (r *reader) bytes(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.src)-r.off) {
		r.fail(corrupt("truncated %s", what))
		return nil
	}
	b := r.src[r.off : r.off+int(n)]
	r.off += int(n)
	return b
}

func (r *reader) rest() []byte { return r.src[r.off:] }

// done reports the sticky error, or an error if bytes remain.
func (r *reader) done() error {
	if r.err == nil && r.off != len(r.src) {
		r.err = corrupt("%d trailing bytes", len(r.src)-r.off)
	}
	return r.err
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// appendChunked encodes vs, longer than MaxBlockLen, as a container:
// tagChunked, uvarint total count, then per chunk a uvarint byte length and
// a complete block encoding of at most MaxBlockLen values.
func appendChunked[T any](dst []byte, vs []T, enc func([]byte, []T) []byte) []byte {
	dst = append(dst, tagChunked)
	dst = binary.AppendUvarint(dst, uint64(len(vs)))
	var scratch []byte
	for len(vs) > 0 {
		k := min(len(vs), MaxBlockLen)
		scratch = enc(scratch[:0], vs[:k])
		dst = binary.AppendUvarint(dst, uint64(len(scratch)))
		dst = append(dst, scratch...)
		vs = vs[k:]
	}
	return dst
}

// decodeChunked decodes a container written by appendChunked; src starts
// after the tag. dec decodes one block and must reject nested containers.
func decodeChunked[T any](dst []T, src []byte, dec func([]T, []byte) ([]T, error)) ([]T, error) {
	r := reader{src: src}
	total := r.uvarint("chunked count")
	if r.err != nil {
		return dst, r.err
	}
	// Each chunk takes at least two bytes (length and tag) and holds at
	// most MaxBlockLen values.
	if total > uint64(len(src))/2*MaxBlockLen {
		return dst, corrupt("chunked count %d too large for %d bytes", total, len(src))
	}
	start := len(dst)
	for uint64(len(dst)-start) < total {
		n := r.uvarint("chunk length")
		b := r.bytes(n, "chunk")
		if r.err != nil {
			return dst[:start], r.err
		}
		if len(b) > 0 && b[0] == tagChunked {
			return dst[:start], corrupt("nested chunked container")
		}
		var err error
		if dst, err = dec(dst, b); err != nil {
			return dst[:start], err
		}
	}
	if uint64(len(dst)-start) != total {
		return dst[:start], corrupt("chunks hold %d values, header says %d", len(dst)-start, total)
	}
	if err := r.done(); err != nil {
		return dst[:start], err
	}
	return dst, nil
}
