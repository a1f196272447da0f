// Package encoding holds the column codecs of colstore format v2: it turns
// one block of a column (the timestamps, or the values of one type) into
// bytes and back.
//
// # Usage
//
// Encoders append to a caller's buffer and decoders append to a caller's
// slice, so buffers can be reused across blocks:
//
//	buf = encoding.AppendTimes(buf[:0], ts)
//	buf = encoding.AppendFloats(buf, vs) // after the times, if framed by the caller
//	ts, err = encoding.DecodeTimes(ts[:0], timesBytes)
//
// Encodings are self-describing (scheme tag and count inside) but not
// self-delimiting: the caller stores each encoding's length. Decoders
// reject trailing bytes. All functions are safe for concurrent use; none
// retains its arguments, except that decoded strings share one allocation
// per block (not src).
//
// # Robustness
//
// Decoders never panic on arbitrary input. Every error wraps ErrCorrupt.
// Counts read from src are bounded by MaxBlockLen (65,536 values per
// block), so a decoder allocates at most that many values per block of
// the container. Encoders split longer inputs into a chunked container.
//
// # Format
//
// Every encoding is
//
//	byte tag | uvarint n | body
//
// except the chunked container (tag 0x01: uvarint total n, then per chunk
// a uvarint byte length and a complete encoding of ≤ MaxBlockLen values).
// Tags:
//
//	0x10 times delta    integer body, delta transform
//	0x11 times dod      integer body, delta-of-delta transform
//	0x12 times grid     regular grid + sparse slot increments and residuals
//	0x20-0x22 ints      raw / delta / delta-of-delta integer body
//	0x24-0x26 ints      the same with restart points (restart.go)
//	0x28-0x2a uints     the same for uint64 (as int64 bit patterns)
//	0x2c-0x2e uints     the same with restart points
//	0x30 floats const   one 8-byte value
//	0x31 floats decimal v = m·10^e with integers m (integer body)
//	0x32 floats gorilla XOR with leading/trailing-zero windows
//	0x33 floats raw     8 bytes per value
//	0x40 bools bitmap   one bit per value
//	0x41 bools runs     first value and run lengths
//	0x50 strings plain  lengths and bytes
//	0x51 strings dict   distinct values and indexes
//	0x52 strings fields strings of uvarints, field by field (strfields.go)
//	0x53 strings prefix a prefix shared by many strings, once (strprefix.go)
//
// Integer bodies (ints.go) hold the head values of the transform, the gcd
// g of its residuals and one stream of zigzag(residual/g). A stream
// (stream.go) is one packing-kind byte and its data: constant, bit-packed
// with a frame of reference, base-k digits for alphabets of at most 16
// values (1.6 bits for three values), a canonical Huffman code for the same
// alphabets when their counts are skewed (huff.go: about 2.1 bits per step
// of a random walk with unit normal steps, against 3.2 for base-9 digits),
// a rANS code for the same alphabets with frequencies of 2^P (ans.go,
// colfile version 6: fractions of a bit where Huffman spends whole bits,
// 7 to 12 bytes less for 1,000 steps of that walk, table and state
// included),
// a prefix code of two or three width classes, a canonical Huffman code
// over magnitude classes whose low bits follow verbatim (classes.go: for
// steps too varied for 16 values, such as a walk with a standard deviation
// of 20 units, 6.6 bits per value against an entropy of 6.4 and 6.9 for
// the width classes), or sparse (positions and values that differ from the
// majority).
// Bit streams are most significant bit first. A long integer body whose
// stream is bit-coded records restart points (restart.go): where the code
// of every 1,024th residual starts and the transform's running values
// there, so that Decode*Range can start in the middle of a block.
//
// Each encoder tries the schemes that apply and keeps the smallest; the
// planner computes exact sizes without encoding, except for Gorilla and
// rANS (whose renormalisation bytes depend on the order of the values:
// it encodes into pooled scratch, only when the entropy of the counts
// less three bytes, plus table and state, beats the best so far, and
// ties keep the older packing). That bound is not proven (rANS's
// rounding can code a value in less than its ideal length), but planning
// without it writes the same bytes for the goldens below. It
// skips a candidate only on a lower bound of its size that cannot beat
// the best so far (a sparse stream's fixed bytes, a bit per class-coded
// value, the entropy of the classes, no magnitude class holding a
// possible sparse base), so pruning never changes what is written:
// TestPlannerGolden and internal/sketch's TestAppendCompactGolden pin the
// bytes. Short inputs, such as a sketch's few hundred bin counts, are
// planned without allocating (pooled scratch, small buffers on the stack).
package encoding
