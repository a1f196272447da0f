package encoding

// Decoding a prefix. A reader that needs only the first k values of an
// encoded block (a query whose range ends inside the block) decodes those
// and stops: the streams that code one value after another (const, bits,
// varbit, huff, class, rans) are read as far as the k-th value; the others (dict,
// whose last word's width depends on the count, and sparse, whose positions
// span the whole block) are decoded whole and cut. The unread rest of the
// block is not checked, so a prefix decode reports damage only in what it
// read (callers check a block's CRC before decoding it).

// DecodeIntsPrefix appends the first k values encoded in src (which must
// hold at least k) to dst. On error it returns dst unchanged and an error
// wrapping ErrCorrupt.
func DecodeIntsPrefix(dst []int64, src []byte, k int) ([]int64, error) {
	return decodeInts(dst, src, tagIntRaw, max(k, 0))
}

// DecodeUintsPrefix is DecodeIntsPrefix for values encoded by AppendUints.
func DecodeUintsPrefix(dst []uint64, src []byte, k int) ([]uint64, error) {
	return decodeInts(dst, src, tagUintRaw, max(k, 0))
}

// DecodeFloatsPrefix is DecodeIntsPrefix for values encoded by
// AppendFloats.
func DecodeFloatsPrefix(dst []float64, src []byte, k int) ([]float64, error) {
	return decodeFloats(dst, src, max(k, 0))
}

// readStreamPrefix decodes the first len(out) values of a stream of m
// values (len(out) ≤ m) into out.
func readStreamPrefix(r *reader, out []uint64, m int) {
	if len(out) == m {
		readStream(r, out, true)
		return
	}
	if r.off >= len(r.src) {
		r.fail(corrupt("missing stream kind"))
		return
	}
	switch r.src[r.off] {
	case packConst, packBits, packVarbit, packHuff, packClass:
		// Each value is read after the ones before it: stop at len(out).
		readStream(r, out, true)
	case packANS:
		// Decoded forward like the above; its final state is not reached.
		r.off++
		readANS(r, out, m)
	default:
		all := make([]uint64, m)
		readStream(r, all, true)
		copy(out, all)
	}
}

// chunkedPrefix decodes a chunked block (src starts with tagChunked) with
// dec: all of it when k < 0, else all of it cut to its first k values
// (chunks are only written for more than MaxBlockLen values, which blocks
// of colfiles never hold).
func chunkedPrefix[T any](dst []T, src []byte, k int, dec func([]T, []byte) ([]T, error)) ([]T, error) {
	start := len(dst)
	out, err := decodeChunked(dst, src[1:], dec)
	if err != nil || k < 0 {
		return out, err
	}
	if len(out)-start < k {
		return dst[:start], corrupt("%d values, %d wanted", len(out)-start, k)
	}
	return out[:start+k], nil
}

// Decoding a range. A reader that needs the values [from, to) of a block
// (a query window that starts inside it, as well as ends) decodes up to to
// and drops the values before from; an integer body with restart points
// (restart.go) starts decoding at the last restart point at or before
// from instead of at the block's start.

// DecodeIntsRange appends the values [from, to) encoded in src (which
// must hold at least to values; 0 ≤ from ≤ to) to dst. On error it
// returns dst unchanged and an error wrapping ErrCorrupt. As for
// DecodeIntsPrefix, only what is read is checked.
func DecodeIntsRange(dst []int64, src []byte, from, to int) ([]int64, error) {
	return decodeIntsRange(dst, src, tagIntRaw, from, to)
}

// DecodeUintsRange is DecodeIntsRange for values encoded by AppendUints.
func DecodeUintsRange(dst []uint64, src []byte, from, to int) ([]uint64, error) {
	return decodeIntsRange(dst, src, tagUintRaw, from, to)
}

// DecodeFloatsRange is DecodeIntsRange for values encoded by
// AppendFloats (decimal blocks have restart points; the others decode
// from their start).
func DecodeFloatsRange(dst []float64, src []byte, from, to int) ([]float64, error) {
	if from < 0 || from > to {
		return dst, corrupt("range [%d, %d)", from, to)
	}
	if from > 0 && len(src) > 0 && src[0] == tagFloatDecimal {
		return decodeDecimalRange(dst, src, from, to)
	}
	start := len(dst)
	out, err := decodeFloats(dst, src, to)
	if err != nil {
		return dst, err
	}
	return cutFront(out, start, from), nil
}

// cutFront removes the k values after s[:start].
func cutFront[T any](s []T, start, k int) []T {
	if k == 0 {
		return s
	}
	n := copy(s[start:], s[start+k:])
	return s[:start+n]
}

func decodeIntsRange[T ~int64 | ~uint64](dst []T, src []byte, base byte, from, to int) ([]T, error) {
	if from < 0 || from > to {
		return dst, corrupt("range [%d, %d)", from, to)
	}
	start := len(dst)
	if from == 0 || len(src) == 0 || src[0] == tagChunked {
		out, err := decodeInts(dst, src, base, to)
		if err != nil {
			return dst, err
		}
		return cutFront(out, start, from), nil
	}
	tag := src[0]
	trans := int(tag - base)
	if tag < base || trans > transDoD|restartFlag || trans == transDoD+1 {
		return dst, corrupt("tag %#x is not an integer scheme", tag)
	}
	r := reader{src: src, off: 1}
	n := r.count("count")
	if r.err != nil {
		return dst, r.err
	}
	if to > n {
		return dst, corrupt("%d values, %d wanted", n, to)
	}
	if from == to {
		return dst, nil
	}
	dst = grow(dst, to)
	row := readIntBodyFrom(&r, dst[start:], n, trans, from)
	if r.err != nil {
		return dst[:start], r.err
	}
	// dst[start:] holds the rows row … to−1.
	k := copy(dst[start:], dst[start+from-row:start+to-row])
	return dst[:start+k], nil
}

// decodeDecimalRange is DecodeFloatsRange of a decimal block, from > 0.
func decodeDecimalRange(dst []float64, src []byte, from, to int) ([]float64, error) {
	r := reader{src: src, off: 1}
	n := r.count("count")
	e := int(int8(r.byte1("exponent")))
	trans := int(r.byte1("transform"))
	if r.err != nil {
		return dst, r.err
	}
	if e < minDecExp || e > maxDecExp || trans&^restartFlag > transDoD {
		return dst, corrupt("decimal exponent %d transform %d", e, trans)
	}
	if to > n {
		return dst, corrupt("%d values, %d wanted", n, to)
	}
	if from == to {
		return dst, nil
	}
	start := len(dst)
	dst = grow(dst, to)
	ms := asInt64s(asUint64s(asFloatBits(dst[start:])))
	row := readIntBodyFrom(&r, ms, n, trans, from)
	if r.err != nil {
		return dst[:start], r.err
	}
	out := dst[start:]
	for i := from - row; i < to-row; i++ {
		out[i-(from-row)] = decimalValue(ms[i], e)
	}
	return dst[:start+to-from], nil
}
