package encoding

import "encoding/binary"

// String schemes:
//
//	tagStringPlain  stream of lengths (n values), the concatenated bytes
//	tagStringDict   uvarint k, stream of entry lengths (k values), the
//	                concatenated entries, stream of entry indexes (n values)
//	tagStringFields strings of uvarints, field by field (strfields.go)
//	tagStringPrefix a prefix many strings share, once, and the strings
//	                without it (strprefix.go)
//
// Decoded strings share one allocation per block.

// AppendStrings appends the encoding of vs to dst and returns the result:
// the plain, the dictionary or the prefix scheme, whichever is smallest.
func AppendStrings(dst []byte, vs []string) []byte {
	return appendStrings(dst, vs, false)
}

// AppendStringsFields is AppendStrings that also tries the fields scheme
// (strfields.go), for strings of uvarints such as rollup rows. Its blocks
// are smaller for those and slower to decode (BenchmarkDecodeHourRows).
func AppendStringsFields(dst []byte, vs []string) []byte {
	return appendStrings(dst, vs, true)
}

func appendStrings(dst []byte, vs []string, fields bool) []byte {
	if len(vs) > MaxBlockLen {
		return appendChunked(dst, vs, func(dst []byte, vs []string) []byte { return appendStrings(dst, vs, fields) })
	}
	n := len(vs)
	head := func(dst []byte, tag byte) []byte {
		dst = append(dst, tag)
		return binary.AppendUvarint(dst, uint64(n))
	}
	if n == 0 {
		return head(dst, tagStringPlain)
	}
	var fp *fieldsPlan
	if fields && n >= 2 {
		if p, ok := planFields(vs); ok {
			fp = p
			defer fp.release()
		}
	}
	lens := make([]uint64, n)
	total := 0
	for i, s := range vs {
		lens[i] = uint64(len(s))
		total += len(s)
	}
	plainPlan := planStream(lens, true)
	plainSize := plainPlan.size + total
	if fp != nil && fp.size < plainSize {
		plainSize = fp.size
	} else {
		fp = nil
	}
	// Dictionary, abandoned once distinct values pass half the block.
	ids := make(map[string]int)
	var entries []string
	idx := make([]uint64, n)
	dictBytes := 0
	for i, s := range vs {
		id, ok := ids[s]
		if !ok {
			if len(entries) >= n/2 {
				entries = nil
				break
			}
			id = len(entries)
			ids[s] = id
			entries = append(entries, s)
			dictBytes += len(s)
		}
		idx[i] = uint64(id)
	}
	var elens []uint64
	var lp, ip plan
	limit := plainSize // what the prefix scheme must beat
	if entries != nil {
		elens = make([]uint64, len(entries))
		for i, s := range entries {
			elens[i] = uint64(len(s))
		}
		lp, ip = planStream(elens, true), planStream(idx, true)
		if size := uvarintLen(uint64(len(entries))) + lp.size + dictBytes + ip.size; size < plainSize {
			limit = size + 1 // the prefix scheme wins a tie with the dictionary
		} else {
			entries = nil
		}
	}
	if pp, ok := planPrefix(vs, lens, total, limit); ok && pp.size < limit {
		return appendPrefix(head(dst, tagStringPrefix), vs, pp)
	}
	if entries != nil {
		dst = head(dst, tagStringDict)
		dst = binary.AppendUvarint(dst, uint64(len(entries)))
		dst = appendPlanned(dst, elens, lp)
		for _, s := range entries {
			dst = append(dst, s...)
		}
		return appendPlanned(dst, idx, ip)
	}
	if fp != nil {
		return appendFields(head(dst, tagStringFields), fp)
	}
	dst = head(dst, tagStringPlain)
	dst = appendPlanned(dst, lens, plainPlan)
	for _, s := range vs {
		dst = append(dst, s...)
	}
	return dst
}

// readStrings reads k lengths and their bytes and returns the strings.
func readStrings(r *reader, k int) []string {
	lens := make([]uint64, k)
	total := readLengths(r, lens)
	if r.err != nil {
		return nil
	}
	all := string(r.bytes(total, "string bytes"))
	out := make([]string, k)
	off := uint64(0)
	for i, l := range lens {
		out[i] = all[off : off+l]
		off += l
	}
	return out
}

// DecodeStrings appends the values encoded in src to dst. On error it
// returns dst unchanged and an error wrapping ErrCorrupt.
func DecodeStrings(dst []string, src []byte) ([]string, error) {
	if len(src) == 0 {
		return dst, corrupt("empty block")
	}
	tag := src[0]
	switch tag {
	case tagChunked:
		return decodeChunked(dst, src[1:], DecodeStrings)
	case tagStringPlain, tagStringDict, tagStringFields, tagStringPrefix:
	default:
		return dst, corrupt("tag %#x is not a string scheme", tag)
	}
	r := reader{src: src, off: 1}
	n := r.count("count")
	if r.err != nil {
		return dst, r.err
	}
	start := len(dst)
	if n == 0 {
		return dst, r.done()
	}
	if tag == tagStringFields {
		if dst = readFields(&r, n, dst); r.err != nil {
			return dst[:start], r.err
		}
	} else if tag == tagStringPrefix {
		if dst = readPrefix(&r, n, dst); r.err != nil {
			return dst[:start], r.err
		}
	} else if tag == tagStringPlain {
		ss := readStrings(&r, n)
		if r.err != nil {
			return dst, r.err
		}
		dst = append(dst, ss...)
	} else {
		k := r.uvarint("dict size")
		if r.err != nil {
			return dst, r.err
		}
		if k == 0 || k > uint64(n) {
			return dst, corrupt("dict size %d for %d values", k, n)
		}
		entries := readStrings(&r, int(k))
		if r.err != nil {
			return dst, r.err
		}
		idx := make([]uint64, n)
		readStream(&r, idx, true)
		if r.err != nil {
			return dst, r.err
		}
		dst = grow(dst, n)
		out := dst[start:]
		for i, id := range idx {
			if id >= k {
				return dst[:start], corrupt("dict index %d of %d", id, k)
			}
			out[i] = entries[id]
		}
	}
	if err := r.done(); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// readLengths reads the stream of len(lens) string lengths into lens and
// returns their total, which must fit in what is left of the block (so a
// caller allocates no more than the block holds).
func readLengths(r *reader, lens []uint64) uint64 {
	readStream(r, lens, true)
	if r.err != nil {
		return 0
	}
	total := uint64(0)
	avail := uint64(len(r.rest()))
	for _, l := range lens {
		if l > avail-total {
			r.fail(corrupt("string lengths exceed the block"))
			return 0
		}
		total += l
	}
	return total
}
