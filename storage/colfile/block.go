package colfile

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/golang/snappy"
	"github.com/soltixdb/soltix/model"
)

// A version 2 block is stored as
//
//	flag    byte: blockRaw or blockSnappy
//	payload the block body (codec.go), snappy-compressed when flag is
//	        blockSnappy
//	crc     u32 crc32c of flag and payload
//
// The writer compresses a body only when snappy makes it smaller.
const (
	blockRaw    = 0
	blockSnappy = 1
)

// kindNoStats is set in a version 2 column's kind byte when its block
// entries carry no statistics (WriteOptions.NoStats).
const kindNoStats = 0x80

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

// blockEncoder turns blocks into their stored bytes, reusing its buffers
// from one block to the next. The zero value is ready to use.
type blockEncoder struct {
	times []byte
	body  []byte
	out   []byte
}

// encode returns the stored bytes (flag and payload, without the CRC) of a
// valid, non-empty block. When sharedTimes is true the body holds the values
// only: the index says which other block holds the times; a non-nil subset
// is the bitmap of which of those times the block has, written before the
// values. The result is valid until the next call.
func (e *blockEncoder) encode(c *model.Column, sharedTimes bool, subset []byte) []byte {
	// body[0] is reserved for the flag, so a raw block needs no copy.
	body := append(e.body[:0], blockRaw)
	body = append(body, subset...)
	if !sharedTimes {
		e.times = appendTimes(e.times[:0], c.Times)
		body = binary.AppendUvarint(body, uint64(len(e.times)))
		body = append(body, e.times...)
	}
	body = appendValues(body, c)
	e.body = body

	if need := 1 + snappy.MaxEncodedLen(len(body)-1); cap(e.out) < need {
		e.out = make([]byte, need)
	}
	e.out = e.out[:cap(e.out)]
	snapped := snappy.Encode(e.out[1:], body[1:])
	if len(snapped) < len(body)-1 {
		e.out[0] = blockSnappy
		return e.out[:1+len(snapped)]
	}
	return body
}

// blockBody checks the flag of a version 2 block's stored bytes and
// returns its body, decompressed if need be.
func blockBody(stored []byte) ([]byte, error) {
	if len(stored) == 0 {
		return nil, errors.New("empty block")
	}
	switch stored[0] {
	case blockRaw:
		return stored[1:], nil
	case blockSnappy:
		return unsnappy(stored[1:])
	}
	return nil, fmt.Errorf("unknown block flag %d", stored[0])
}

// checkCount reports an error for a block count outside [1, MaxBlockSize].
func checkCount(count int) error {
	if count <= 0 || count > MaxBlockSize {
		return fmt.Errorf("count %d outside [1, %d]", count, MaxBlockSize)
	}
	return nil
}

// decodeBodyTimes decodes the times at the start of a block body that
// holds its own times, appends them to dst and returns the rest of the
// body (the values). The times must be count strictly increasing values.
func decodeBodyTimes(dst []int64, body []byte, count int) ([]int64, []byte, error) {
	d := decoder{b: body}
	rawTimes := d.bytes(d.uvarint())
	if d.err != nil {
		return dst, nil, fmt.Errorf("times length: %w", d.err)
	}
	out, err := decodeTimes(dst, rawTimes, count)
	if err != nil {
		return dst, nil, err
	}
	ts := out[len(dst):]
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			return dst, nil, fmt.Errorf("times not strictly increasing at index %d (%d after %d)", i, ts[i], ts[i-1])
		}
	}
	return out, body[d.off:], nil
}

// decodeBlock decodes a version 2 block's stored bytes, whose CRC has been
// checked, which holds its own times and which the index says hold count
// values of col.Kind, and appends the block's times and values to col. On
// error col may hold part of the block. Decoding allocates at most in
// proportion to count (which must not exceed MaxBlockSize) and
// len(stored).
func decodeBlock(col *model.Column, stored []byte, count int) error {
	if err := checkCount(count); err != nil {
		return err
	}
	body, err := blockBody(stored)
	if err != nil {
		return err
	}
	var values []byte
	if col.Times, values, err = decodeBodyTimes(col.Times, body, count); err != nil {
		return err
	}
	return decodeValues(col, values, count)
}

// decodeBlockTimes decodes only the times of a version 2 block that holds
// its own times (stored as for decodeBlock) and appends them to dst. It is
// how a block whose times are shared gets them.
func decodeBlockTimes(dst []int64, stored []byte, count int) ([]int64, error) {
	if err := checkCount(count); err != nil {
		return dst, err
	}
	body, err := blockBody(stored)
	if err != nil {
		return dst, err
	}
	dst, _, err = decodeBodyTimes(dst, body, count)
	return dst, err
}

// decodeSharedBlock decodes a version 2 block whose times are shared with
// another block: its stored bytes hold count values of col.Kind and no
// times. It appends the values to col; the caller appends the times.
func decodeSharedBlock(col *model.Column, stored []byte, count int) error {
	if err := checkCount(count); err != nil {
		return err
	}
	body, err := blockBody(stored)
	if err != nil {
		return err
	}
	return decodeValues(col, body, count)
}

// subsetBitmap returns the bitmap of which of all (sorted) the times ts
// (sorted, each in all) are: bit i, in byte i/8 at bit i%8, for all[i].
func subsetBitmap(dst []byte, all, ts []int64) []byte {
	dst = append(dst[:0], make([]byte, (len(all)+7)/8)...)
	j := 0
	for i, t := range all {
		if j < len(ts) && ts[j] == t {
			dst[i/8] |= 1 << (i % 8)
			j++
		}
	}
	return dst
}

// decodeSubsetBlock decodes a version 2 block that holds count of the
// times all of another block: its body is the bitmap of which (see
// subsetBitmap) and then count values. It appends the times and values to
// col.
func decodeSubsetBlock(col *model.Column, stored []byte, count int, all []int64) error {
	if err := checkCount(count); err != nil {
		return err
	}
	body, err := blockBody(stored)
	if err != nil {
		return err
	}
	n := (len(all) + 7) / 8
	if len(body) < n {
		return fmt.Errorf("subset bitmap of %d bytes, block holds %d", n, len(body))
	}
	bitmap := body[:n]
	if r := len(all) % 8; r != 0 && bitmap[n-1]>>r != 0 {
		return errors.New("subset bitmap has bits past the times it selects from")
	}
	start := len(col.Times)
	for i, t := range all {
		if bitmap[i/8]&(1<<(i%8)) != 0 {
			col.Times = append(col.Times, t)
		}
	}
	if got := len(col.Times) - start; got != count {
		col.Times = col.Times[:start]
		return fmt.Errorf("subset bitmap selects %d times, index says %d", got, count)
	}
	return decodeValues(col, body[n:], count)
}
