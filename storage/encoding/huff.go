package encoding

import (
	"encoding/binary"
	"slices"
)

// Huffman packing (packHuff): for a stream of at most maxHuff distinct
// values with a skewed distribution, such as the rounded steps of a random
// walk, a canonical prefix code spends about the entropy per value where
// base-k digits spend log2(k) bits:
//
//	byte k (2 to maxHuff), k uvarint values (sorted, as deltas like packDict),
//	⌈k/2⌉ bytes of code lengths (4 bits each, high nibble first, 1 to
//	maxHuffLen; a pad nibble is 0), then the codes, most significant bit
//	first.
//
// or (colfile version 5) the dense table
//
//	byte 0x80 | s (s from 2 to maxHuff), ⌈s/2⌉ bytes of code lengths of the
//	values 0 to s − 1 (4 bits each as above; 0 for a value that does not
//	occur, at least two that do), then the codes,
//
// which the writer takes when it is smaller: the zigzagged steps of a walk
// are the small values 0, 1, 2, … with perhaps a few missing, which a
// list spends a byte each on (about 9 bytes of 15 for a block of TSBS cpu
// readings).
//
// Codes are canonical: ordered by (length, value), each code is the
// previous one plus one, shifted left when the length grows. The lengths
// must form a complete code (Kraft sum exactly 1).
const (
	maxHuff    = maxDict
	maxHuffLen = 15
)

// huffCode is a planned code: the values sorted, their code lengths, and
// the exact bit length of the coded stream.
type huffCode struct {
	k    int
	syms [maxHuff]uint64
	lens [maxHuff]uint8
	bits uint64
}

// planHuff builds a Huffman code for us, whose distinct values are the
// sorted dict (2 to maxHuff of them). It reports false when a code would
// need lengths above maxHuffLen.
func planHuff(us []uint64, dict []uint64) (huffCode, bool) {
	var h huffCode
	k := len(dict)
	if k < 2 || k > maxHuff {
		return h, false
	}
	var f [maxHuff]uint64
	last, li := dict[0], 0
	for _, u := range us {
		if u != last {
			li, _ = slices.BinarySearch(dict, u)
			last = u
		}
		f[li]++
	}
	return planHuffFreq(dict, f[:k])
}

// planHuffFreq is planHuff from the counts of the values dict: f[i] of
// dict[i].
func planHuffFreq(dict, f []uint64) (huffCode, bool) {
	var h huffCode
	k := len(dict)
	if k < 2 || k > maxHuff {
		return h, false
	}
	copy(h.syms[:], dict)
	h.k = k
	huffLengths(f, h.lens[:k], maxHuffLen)
	for i := range k {
		h.bits += f[i] * uint64(h.lens[i])
	}
	return h, true
}

// huffDense marks the dense table in a Huffman packing's first byte.
const huffDense = 0x80

// tableSize is the size of the code's table: the listed values and their
// lengths, or the dense table when that is smaller (dense true).
func (h *huffCode) tableSize() (size int, dense bool) {
	size = 1 + (h.k+1)/2
	prev := uint64(0)
	for _, u := range h.syms[:h.k] {
		size += uvarintLen(u - prev)
		prev = u
	}
	// The largest value below maxHuff, not the span: 2^64 − 1 + 1 wraps.
	if last := h.syms[h.k-1]; last < maxHuff && 1+int(last+2)/2 < size {
		return 1 + int(last+2)/2, true
	}
	return size, false
}

// size is the encoded size of the packing after its kind byte.
func (h *huffCode) size() int {
	t, _ := h.tableSize()
	return t + int(bitsBytes(h.bits))
}

func appendHuff(dst []byte, us []uint64, h *huffCode) []byte {
	if _, dense := h.tableSize(); dense {
		span := int(h.syms[h.k-1]) + 1
		var lens [maxHuff]uint8
		for i, u := range h.syms[:h.k] {
			lens[u] = h.lens[i]
		}
		dst = append(dst, huffDense|byte(span))
		dst = appendNibbles(dst, lens[:span])
	} else {
		dst = append(dst, byte(h.k))
		prev := uint64(0)
		for _, u := range h.syms[:h.k] {
			dst = binary.AppendUvarint(dst, u-prev)
			prev = u
		}
		dst = appendNibbles(dst, h.lens[:h.k])
	}
	var codes [maxHuff]uint64
	canonicalCodes(h.lens[:h.k], codes[:h.k])
	bw := bitWriter{buf: dst}
	syms := h.syms[:h.k]
	for _, u := range us {
		i, _ := slices.BinarySearch(syms, u)
		bw.write(codes[i], uint(h.lens[i]))
	}
	return bw.finish()
}

// readHuff decodes a packHuff stream (after its kind byte) into out,
// starting skip bits into its codes (readStreamAt).
func readHuff(r *reader, out []uint64, skip uint64) {
	head := r.byte1("huffman size")
	if r.err != nil {
		return
	}
	k := int(head &^ huffDense)
	if k < 2 || k > maxHuff {
		r.fail(corrupt("huffman size %d", k))
		return
	}
	var syms [maxHuff]uint64
	var lens [maxHuff]uint8
	if head&huffDense != 0 {
		// Lengths of the values 0 to k − 1; 0 for those absent.
		var all [maxHuff]uint8
		if !readNibbles(r, all[:k], "huffman lengths") {
			return
		}
		n := 0
		for v, l := range all[:k] {
			if l != 0 {
				syms[n], lens[n] = uint64(v), l
				n++
			}
		}
		if n < 2 {
			r.fail(corrupt("dense huffman table of %d values", n))
			return
		}
		k = n
	} else {
		if !readIncreasing(r, syms[:k], "huffman") {
			return
		}
		if !readNibbles(r, lens[:k], "huffman lengths") {
			return
		}
		for _, l := range lens[:k] {
			if l == 0 {
				r.fail(corrupt("huffman length 0"))
				return
			}
		}
	}
	var d canonDecoder
	if err := d.init(lens[:k]); err != nil {
		r.fail(err)
		return
	}
	br := newBitReader(r.rest())
	br.skipBits(skip)
	for i := range out {
		s, ok := d.next(&br)
		if !ok {
			r.fail(corrupt("bad huffman code"))
			return
		}
		out[i] = syms[s]
	}
	if br.overrun {
		r.fail(corrupt("truncated huffman stream"))
		return
	}
	r.off += br.consumed()
}

// readIncreasing reads the len(dst) strictly increasing values a code's
// listed table holds as uvarint deltas (the first from 0, the others at
// least 1), as packHuff and packANS list them.
func readIncreasing(r *reader, dst []uint64, what string) bool {
	prev := uint64(0)
	for i := range dst {
		d := r.uvarint(what + " value")
		if r.err != nil {
			return false
		}
		if i > 0 && d == 0 {
			r.fail(corrupt("%s values not increasing", what))
			return false
		}
		prev += d
		dst[i] = prev
	}
	return true
}
