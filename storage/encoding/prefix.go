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
