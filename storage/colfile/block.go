package colfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/golang/snappy"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/encoding"
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

// The flag byte of a version 3 index.
const (
	indexRaw    = 0
	indexSnappy = 1
)

// Bits of a version 2 column's kind byte above the kind itself.
const (
	// kindNoStats is set when the column's block entries carry no
	// statistics (WriteOptions.NoStats).
	kindNoStats = 0x80
	// kindCompactFloats is set on a float column whose block entries
	// carry their statistics in the compact form of appendCompactFloats.
	kindCompactFloats = 0x40
)

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
	fields bool // WriteOptions.StringFields
	times  []byte
	body   []byte
	out    []byte
	// Scratch space of subsetSelection.
	bitmap, sparse []byte
	gaps           []uint64
}

// encode returns the stored bytes (flag and payload, without the CRC) of a
// valid, non-empty block. When sharedTimes is true the body holds the values
// only: the index says which other block holds the times; a non-nil subset
// is the selection of which of those times the block has
// (subsetSelection), written before the values. The result is valid until
// the next call.
func (e *blockEncoder) encode(c *model.Column, sharedTimes bool, subset []byte) []byte {
	// body[0] is reserved for the flag, so a raw block needs no copy.
	body := append(e.body[:0], blockRaw)
	body = append(body, subset...)
	if !sharedTimes {
		e.times = appendTimes(e.times[:0], c.Times)
		body = binary.AppendUvarint(body, uint64(len(e.times)))
		body = append(body, e.times...)
	}
	body = appendValues(body, c, e.fields)
	return e.finish(body)
}

// encodeUnion returns the stored bytes of a union block (version 4): its
// body holds the times all, a superset of the block's own times c.Times,
// then the selection sel of c's times among them (subsetSelection), then
// the values. Other columns of the series select their times from all.
// The result is valid until the next call.
func (e *blockEncoder) encodeUnion(c *model.Column, all []int64, sel []byte) []byte {
	body := append(e.body[:0], blockRaw)
	e.times = appendTimes(e.times[:0], all)
	body = binary.AppendUvarint(body, uint64(len(e.times)))
	body = append(body, e.times...)
	body = append(body, sel...)
	body = appendValues(body, c, e.fields)
	return e.finish(body)
}

// finish compresses body (whose first byte is reserved for the flag) when
// snappy makes it smaller and returns the stored bytes.
func (e *blockEncoder) finish(body []byte) []byte {
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
	return decodeBlockUpTo(col, stored, count, math.MaxInt64)
}

// decodeBlockUpTo is decodeBlock that decodes only the values whose times
// are at most upTo (a prefix of the block: see decodeValuesUpTo). It
// appends all the block's times, so that the caller can check them.
func decodeBlockUpTo(col *model.Column, stored []byte, count int, upTo int64) error {
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
	return decodeValuesUpTo(col, values, count, upTo)
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

// unionTimes decodes the times at the start of a union block's body (the
// times its series' subset blocks select from; see encodeUnion) and
// returns them and the rest of the body. They must be at most MaxBlockSize
// strictly increasing values.
func unionTimes(dst []int64, body []byte) ([]int64, []byte, error) {
	d := decoder{b: body}
	rawTimes := d.bytes(d.uvarint())
	if d.err != nil {
		return dst, nil, fmt.Errorf("union times length: %w", d.err)
	}
	out, err := encoding.DecodeTimes(dst, rawTimes)
	if err != nil {
		return dst, nil, fmt.Errorf("union times: %w", err)
	}
	ts := out[len(dst):]
	if len(ts) == 0 || len(ts) > MaxBlockSize {
		return dst, nil, fmt.Errorf("%d union times outside [1, %d]", len(ts), MaxBlockSize)
	}
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			return dst, nil, fmt.Errorf("union times not strictly increasing at index %d (%d after %d)", i, ts[i], ts[i-1])
		}
	}
	return out, body[d.off:], nil
}

// decodeUnionBlockTimes decodes only the union times of a union block's
// stored bytes: how a subset block of another column gets the times it
// selects from.
func decodeUnionBlockTimes(stored []byte) ([]int64, error) {
	body, err := blockBody(stored)
	if err != nil {
		return nil, err
	}
	all, _, err := unionTimes(nil, body)
	return all, err
}

// decodeUnionBlock decodes a union block's stored bytes (encodeUnion),
// which the index says hold count values of col.Kind selected from its
// union times by a bitmap, or by a sparse list when sparse is set, and
// appends the block's times and values to col.
func decodeUnionBlock(col *model.Column, stored []byte, count int, sparse bool) error {
	_, err := decodeUnionBlockAll(col, stored, count, sparse, math.MaxInt64)
	return err
}

// decodeUnionBlockAll is decodeUnionBlock that also returns the union
// times, in a slice of their own, and decodes only the values whose times
// are at most upTo (as decodeBlockUpTo).
func decodeUnionBlockAll(col *model.Column, stored []byte, count int, sparse bool, upTo int64) ([]int64, error) {
	if err := checkCount(count); err != nil {
		return nil, err
	}
	body, err := blockBody(stored)
	if err != nil {
		return nil, err
	}
	all, rest, err := unionTimes(nil, body)
	if err != nil {
		return nil, err
	}
	if count > len(all) {
		return nil, fmt.Errorf("a subset of %d union times, index says %d", len(all), count)
	}
	start := len(col.Times)
	var values []byte
	if sparse {
		col.Times, values, err = selectSparse(col.Times, rest, count, all)
	} else {
		col.Times, values, err = selectBitmap(col.Times, rest, count, all)
	}
	if err != nil {
		col.Times = col.Times[:start]
		return nil, err
	}
	return all, decodeValuesUpTo(col, values, count, upTo)
}

// decodeSharedBlock decodes a version 2 block whose times are shared with
// another block: its stored bytes hold count values of col.Kind and no
// times. It appends the values to col; the caller appends the times.
func decodeSharedBlock(col *model.Column, stored []byte, count int) error {
	return decodeSharedBlockUpTo(col, stored, count, math.MaxInt64)
}

// decodeSharedBlockUpTo is decodeSharedBlock, once the caller has appended
// the block's count times, that decodes only the values whose times are
// at most upTo (as decodeBlockUpTo).
func decodeSharedBlockUpTo(col *model.Column, stored []byte, count int, upTo int64) error {
	if err := checkCount(count); err != nil {
		return err
	}
	body, err := blockBody(stored)
	if err != nil {
		return err
	}
	return decodeValuesUpTo(col, body, count, upTo)
}

// A block whose times are a subset of those of another block (the owner:
// the block at the same position in another column of the series, which
// stores its own times) starts its body with a selection saying which of
// the owner's n times it holds, in one of two forms the index tells apart:
//
//	bitmap  ⌈n/8⌉ bytes; bit i (byte i/8, bit i%8) set for the owner's
//	        time i
//	sparse  uvarint length, then that many bytes: encoding.AppendUints of
//	        the gaps between listed positions (see appendSparse)
//
// The writer takes the smaller.

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

// listsAbsent reports whether the sparse selection of count of n times
// lists the absent positions (n−count of them) rather than the present
// ones (count): it lists whichever are fewer, the absent ones on a tie.
func listsAbsent(count, n int) bool { return 2*count >= n }

// appendSparse appends the sparse selection of the times ts (sorted, each
// in all) among all (sorted). The listed positions p₀ < p₁ < … (see
// listsAbsent) are stored as the gaps p₀, p₁−p₀−1, p₂−p₁−1, …, so every
// list of gaps decodes to strictly increasing positions. An empty list
// (every time present) is the length 0 alone. gaps is scratch space; the
// function returns both buffers.
func appendSparse(dst []byte, gaps []uint64, all, ts []int64) ([]byte, []uint64) {
	absent := listsAbsent(len(ts), len(all))
	gaps = gaps[:0]
	next := 0 // the position after the last listed one
	j := 0
	for i, t := range all {
		present := j < len(ts) && ts[j] == t
		if present {
			j++
		}
		if present != absent {
			gaps = append(gaps, uint64(i-next))
			next = i + 1
		}
	}
	if len(gaps) == 0 {
		return append(dst, 0), gaps
	}
	start := len(dst)
	dst = append(dst, make([]byte, binary.MaxVarintLen64)...)
	dst = appendGaps(dst, gaps)
	// Move the encoding back over the room left for its length.
	enc := len(dst) - start - binary.MaxVarintLen64
	n := binary.PutUvarint(dst[start:], uint64(enc))
	copy(dst[start+n:], dst[start+binary.MaxVarintLen64:])
	return dst[:start+n+enc], gaps
}

// subsetSelection returns the body prefix of a block holding the times ts
// of all in the smaller form, and whether that is the sparse one; the
// bitmap wins a tie. The result is valid until the next call.
func (e *blockEncoder) subsetSelection(all, ts []int64) ([]byte, bool) {
	e.bitmap = subsetBitmap(e.bitmap, all, ts)
	e.sparse, e.gaps = appendSparse(e.sparse[:0], e.gaps, all, ts)
	if len(e.sparse) < len(e.bitmap) {
		return e.sparse, true
	}
	return e.bitmap, false
}

// decodeSubsetBlock decodes a version 2 block that holds count of the
// times all of another block: its body is the selection (bitmap, or
// sparse when sparse is set) and then count values. It appends the times
// and values to col.
func decodeSubsetBlock(col *model.Column, stored []byte, count int, all []int64, sparse bool) error {
	return decodeSubsetBlockUpTo(col, stored, count, all, sparse, math.MaxInt64)
}

// decodeSubsetBlockUpTo is decodeSubsetBlock that decodes only the values
// whose times are at most upTo (as decodeBlockUpTo).
func decodeSubsetBlockUpTo(col *model.Column, stored []byte, count int, all []int64, sparse bool, upTo int64) error {
	if err := checkCount(count); err != nil {
		return err
	}
	if count > len(all) {
		return fmt.Errorf("a subset of %d times, index says %d", len(all), count)
	}
	body, err := blockBody(stored)
	if err != nil {
		return err
	}
	start := len(col.Times)
	var values []byte
	if sparse {
		col.Times, values, err = selectSparse(col.Times, body, count, all)
	} else {
		col.Times, values, err = selectBitmap(col.Times, body, count, all)
	}
	if err != nil {
		col.Times = col.Times[:start]
		return err
	}
	return decodeValuesUpTo(col, values, count, upTo)
}

// selectBitmap appends the times of all that the bitmap at the start of
// body selects, which must be count, to dst, and returns the rest of the
// body.
func selectBitmap(dst []int64, body []byte, count int, all []int64) ([]int64, []byte, error) {
	n := (len(all) + 7) / 8
	if len(body) < n {
		return dst, nil, fmt.Errorf("subset bitmap of %d bytes, block holds %d", n, len(body))
	}
	bitmap := body[:n]
	if r := len(all) % 8; r != 0 && bitmap[n-1]>>r != 0 {
		return dst, nil, errors.New("subset bitmap has bits past the times it selects from")
	}
	start := len(dst)
	for i, t := range all {
		if bitmap[i/8]&(1<<(i%8)) != 0 {
			dst = append(dst, t)
		}
	}
	if got := len(dst) - start; got != count {
		return dst[:start], nil, fmt.Errorf("subset bitmap selects %d times, index says %d", got, count)
	}
	return dst, body[n:], nil
}

// selectSparse appends the count times of all that the sparse selection at
// the start of body selects (see appendSparse) to dst, and returns the rest
// of the body. Every listed position must lie within all.
func selectSparse(dst []int64, body []byte, count int, all []int64) ([]int64, []byte, error) {
	d := decoder{b: body}
	sel := d.bytes(d.uvarint())
	if d.err != nil {
		return dst, nil, fmt.Errorf("sparse selection length: %w", d.err)
	}
	n := len(all)
	absent := listsAbsent(count, n)
	listed := count
	if absent {
		listed = n - count
	}
	var gaps []uint64
	if listed == 0 {
		if len(sel) != 0 {
			return dst, nil, fmt.Errorf("sparse selection of %d bytes lists no position", len(sel))
		}
	} else {
		var err error
		if gaps, err = decodeGaps(sel, listed); err != nil {
			return dst, nil, err
		}
	}
	next := 0 // the position after the last listed one
	for k, g := range gaps {
		if g >= uint64(n-next) {
			return dst, nil, fmt.Errorf("sparse selection: gap %d of entry %d after position %d goes past the %d times it selects from", g, k, next, n)
		}
		p := next + int(g)
		if absent {
			dst = append(dst, all[next:p]...)
		} else {
			dst = append(dst, all[p])
		}
		next = p + 1
	}
	if absent {
		dst = append(dst, all[next:]...)
	}
	return dst, body[d.off:], nil
}
