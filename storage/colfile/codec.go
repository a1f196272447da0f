package colfile

import (
	"fmt"
	"math"
	"sort"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/encoding"
)

// This file is the only one that calls the codecs of package
// storage/encoding. A version 2 block body is
//
//	times length uvarint
//	times        encoding.AppendTimes of the block's timestamps
//	values       encoding.Append<Kind> of the block's values, to the end
//
// or, for a block whose times are shared with the same block of an earlier
// column of the series (the index says which), the values alone, after a
// selection when the block holds only some of those times (block.go). The
// kind and the count come from the index. A sparse selection lists its
// positions as gaps coded by encoding.AppendUints.

// appendValues appends the encoded values of c to dst; strings may take
// the fields scheme when fields is set (WriteOptions.StringFields).
func appendValues(dst []byte, c *model.Column, fields bool) []byte {
	switch c.Kind {
	case model.KindFloat:
		return encoding.AppendFloats(dst, c.Floats)
	case model.KindInt:
		return encoding.AppendInts(dst, c.Ints)
	case model.KindUint:
		return encoding.AppendUints(dst, c.Uints)
	case model.KindBool:
		return encoding.AppendBools(dst, c.Bools)
	case model.KindString:
		if fields {
			return encoding.AppendStringsFields(dst, c.Strings)
		}
		return encoding.AppendStrings(dst, c.Strings)
	}
	panic(fmt.Sprintf("colfile: encode %s column", c.Kind)) // checkColumn ran before
}

// decodeTimes appends the count timestamps encoded in src to dst.
func decodeTimes(dst []int64, src []byte, count int) ([]int64, error) {
	out, err := encoding.DecodeTimes(dst, src)
	if err != nil {
		return dst, fmt.Errorf("times: %w", err)
	}
	if n := len(out) - len(dst); n != count {
		return dst, fmt.Errorf("%d times, index says %d", n, count)
	}
	return out, nil
}

// decodeValues appends the count values of the given kind encoded in src to
// the matching slice of col.
func decodeValues(col *model.Column, src []byte, count int) error {
	var n int
	var err error
	switch col.Kind {
	case model.KindFloat:
		before := len(col.Floats)
		col.Floats, err = encoding.DecodeFloats(col.Floats, src)
		n = len(col.Floats) - before
	case model.KindInt:
		before := len(col.Ints)
		col.Ints, err = encoding.DecodeInts(col.Ints, src)
		n = len(col.Ints) - before
	case model.KindUint:
		before := len(col.Uints)
		col.Uints, err = encoding.DecodeUints(col.Uints, src)
		n = len(col.Uints) - before
	case model.KindBool:
		before := len(col.Bools)
		col.Bools, err = encoding.DecodeBools(col.Bools, src)
		n = len(col.Bools) - before
	case model.KindString:
		before := len(col.Strings)
		col.Strings, err = encoding.DecodeStrings(col.Strings, src)
		n = len(col.Strings) - before
	default:
		return fmt.Errorf("invalid kind %s", col.Kind)
	}
	if err != nil {
		return fmt.Errorf("%s values: %w", col.Kind, err)
	}
	if n != count {
		return fmt.Errorf("%d %s values, index says %d", n, col.Kind, count)
	}
	return nil
}

// decodeValuesUpTo is decodeValues for a block whose count times the
// caller has appended to col.Times: it decodes only the values whose times
// are at most upTo — the first ones, so numbers stop decoding there
// (encoding.Decode*Prefix) — and leaves col.Times longer than the values
// when it cuts. upTo = math.MaxInt64 decodes them all, checked as
// decodeValues does.
func decodeValuesUpTo(col *model.Column, src []byte, count int, upTo int64) error {
	ts := col.Times[len(col.Times)-min(count, len(col.Times)):]
	if upTo == math.MaxInt64 || len(ts) != count {
		return decodeValues(col, src, count)
	}
	_, _, err := decodeValuesIn(col, src, ts, math.MinInt64, upTo)
	return err
}

// decodeValuesIn appends to col the values of a block, src, whose times
// are ts (one per value): those whose times lie in [from, upTo], which
// are the values [skip, cut) of the block. Numbers decode no further than
// cut (encoding.Decode*Prefix) and, from a restart point at or before
// skip (encoding.Decode*Range), not from the block's start; booleans and
// strings decode whole (skip is then 0). The whole block (skip 0, cut
// len(ts)) is checked as decodeValues does.
func decodeValuesIn(col *model.Column, src []byte, ts []int64, from, upTo int64) (skip, cut int, err error) {
	count := len(ts)
	cut = count
	if upTo < ts[count-1] {
		cut = sort.Search(count, func(i int) bool { return ts[i] > upTo })
	}
	if from > ts[0] && col.Kind != model.KindBool && col.Kind != model.KindString {
		skip = min(cut, sort.Search(count, func(i int) bool { return ts[i] >= from }))
	}
	if skip == 0 && cut == count {
		return 0, count, decodeValues(col, src, count)
	}
	switch col.Kind {
	case model.KindFloat:
		col.Floats, err = encoding.DecodeFloatsRange(col.Floats, src, skip, cut)
	case model.KindInt:
		col.Ints, err = encoding.DecodeIntsRange(col.Ints, src, skip, cut)
	case model.KindUint:
		col.Uints, err = encoding.DecodeUintsRange(col.Uints, src, skip, cut)
	default:
		// Booleans and strings decode whole, then are cut.
		n := valuesLen(col)
		if err := decodeValues(col, src, count); err != nil {
			return 0, 0, err
		}
		truncValues(col, n+cut)
		return 0, cut, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("%s values: %w", col.Kind, err)
	}
	return skip, cut, nil
}

// valuesLen returns how many values col's slice of its kind holds.
func valuesLen(col *model.Column) int {
	switch col.Kind {
	case model.KindFloat:
		return len(col.Floats)
	case model.KindInt:
		return len(col.Ints)
	case model.KindUint:
		return len(col.Uints)
	case model.KindBool:
		return len(col.Bools)
	case model.KindString:
		return len(col.Strings)
	}
	return len(col.Times)
}

// truncValues cuts col's values (not its times) to n.
func truncValues(col *model.Column, n int) {
	switch col.Kind {
	case model.KindFloat:
		col.Floats = col.Floats[:n]
	case model.KindInt:
		col.Ints = col.Ints[:n]
	case model.KindUint:
		col.Uints = col.Uints[:n]
	case model.KindBool:
		col.Bools = col.Bools[:n]
	case model.KindString:
		clear(col.Strings[n:])
		col.Strings = col.Strings[:n]
	}
}

// appendTimes appends the encoded timestamps ts to dst.
func appendTimes(dst []byte, ts []int64) []byte { return encoding.AppendTimes(dst, ts) }

// appendGaps appends the encoded gaps of a sparse subset selection to dst.
func appendGaps(dst []byte, gaps []uint64) []byte { return encoding.AppendUints(dst, gaps) }

// decodeGaps decodes the gaps of a sparse subset selection, which must be
// count values.
func decodeGaps(src []byte, count int) ([]uint64, error) {
	gaps, err := encoding.DecodeUints(make([]uint64, 0, count), src)
	if err != nil {
		return nil, fmt.Errorf("sparse selection: %w", err)
	}
	if len(gaps) != count {
		return nil, fmt.Errorf("sparse selection lists %d positions, the counts in the index need %d", len(gaps), count)
	}
	return gaps, nil
}
