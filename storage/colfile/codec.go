package colfile

import (
	"fmt"

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

// appendValues appends the encoded values of c to dst.
func appendValues(dst []byte, c *model.Column) []byte {
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
