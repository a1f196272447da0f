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
	copy(h.syms[:], dict)
	h.k = k
	var f [maxHuff]uint64
	last, li := dict[0], 0
	for _, u := range us {
		if u != last {
			li, _ = slices.BinarySearch(dict, u)
			last = u
		}
		f[li]++
	}
	// Huffman's algorithm over k leaves; nodes k.. are internal.
	var weight [2 * maxHuff]uint64
	var parent [2 * maxHuff]int
	var live [2 * maxHuff]bool
	copy(weight[:], f[:k])
	for i := range k {
		live[i] = true
	}
	n := k
	for range k - 1 {
		a, b := -1, -1
		for i := range n {
			if !live[i] {
				continue
			}
			switch {
			case a < 0 || weight[i] < weight[a]:
				a, b = i, a
			case b < 0 || weight[i] < weight[b]:
				b = i
			}
		}
		live[a], live[b] = false, false
		weight[n], live[n] = weight[a]+weight[b], true
		parent[a], parent[b] = n, n
		n++
	}
	root := n - 1
	for i := range k {
		d := 0
		for j := i; j != root; j = parent[j] {
			d++
		}
		if d > maxHuffLen {
			return h, false
		}
		h.lens[i] = uint8(d)
		h.bits += f[i] * uint64(d)
	}
	return h, true
}

// size is the encoded size of the packing after its kind byte.
func (h *huffCode) size() int {
	s := 1 + (h.k+1)/2
	prev := uint64(0)
	for _, u := range h.syms[:h.k] {
		s += uvarintLen(u - prev)
		prev = u
	}
	return s + int(bitsBytes(h.bits))
}

// canonical returns the code of each symbol (by sorted-value index).
func canonical(k int, lens *[maxHuff]uint8) (codes [maxHuff]uint64) {
	order := make([]int, k)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return int(lens[a]) - int(lens[b]) })
	code, prevLen := uint64(0), uint8(0)
	for n, i := range order {
		if n > 0 {
			code++
		}
		code <<= lens[i] - prevLen
		prevLen = lens[i]
		codes[i] = code
	}
	return codes
}

func appendHuff(dst []byte, us []uint64, h *huffCode) []byte {
	dst = append(dst, byte(h.k))
	prev := uint64(0)
	for _, u := range h.syms[:h.k] {
		dst = binary.AppendUvarint(dst, u-prev)
		prev = u
	}
	for i := 0; i < h.k; i += 2 {
		b := h.lens[i] << 4
		if i+1 < h.k {
			b |= h.lens[i+1]
		}
		dst = append(dst, b)
	}
	codes := canonical(h.k, &h.lens)
	bw := bitWriter{buf: dst}
	syms := h.syms[:h.k]
	for _, u := range us {
		i, _ := slices.BinarySearch(syms, u)
		bw.write(codes[i], uint(h.lens[i]))
	}
	return bw.finish()
}

// readHuff decodes a packHuff stream (after its kind byte) into out.
func readHuff(r *reader, out []uint64) {
	k := int(r.byte1("huffman size"))
	if r.err != nil {
		return
	}
	if k < 2 || k > maxHuff {
		r.fail(corrupt("huffman size %d", k))
		return
	}
	var syms [maxHuff]uint64
	prev := uint64(0)
	for i := range k {
		d := r.uvarint("huffman value")
		if i > 0 && d == 0 {
			r.fail(corrupt("huffman values not increasing"))
			return
		}
		prev += d
		syms[i] = prev
	}
	var lens [maxHuff]uint8
	lb := r.bytes(uint64(k+1)/2, "huffman lengths")
	if r.err != nil {
		return
	}
	for i := range k {
		l := lb[i/2] >> 4
		if i%2 == 1 {
			l = lb[i/2] & 15
		}
		lens[i] = l
	}
	if k%2 == 1 && lb[k/2]&15 != 0 {
		r.fail(corrupt("huffman length padding"))
		return
	}
	// Canonical tables: per length, the symbols in code order, the first
	// code and how many there are. The code must be complete.
	var count [maxHuffLen + 1]int
	kraft := uint64(0)
	for i := range k {
		if lens[i] == 0 {
			r.fail(corrupt("huffman length 0"))
			return
		}
		count[lens[i]]++
		kraft += 1 << (maxHuffLen - lens[i])
	}
	if kraft != 1<<maxHuffLen {
		r.fail(corrupt("huffman code lengths are not a complete code"))
		return
	}
	var first [maxHuffLen + 2]uint64
	var offset [maxHuffLen + 2]int
	code, off := uint64(0), 0
	for l := 1; l <= maxHuffLen; l++ {
		first[l], offset[l] = code, off
		code = (code + uint64(count[l])) << 1
		off += count[l]
	}
	ordered := make([]uint64, 0, k)
	for l := uint8(1); l <= maxHuffLen; l++ {
		for i := range k {
			if lens[i] == l {
				ordered = append(ordered, syms[i])
			}
		}
	}
	// Codes of up to 8 bits decode with one table lookup on the next 8
	// bits: entry = symbol index << 4 | code length (0: longer code).
	var table [256]uint16
	{
		for l := 1; l <= 8; l++ {
			code := first[l]
			for j := range count[l] {
				c := (code + uint64(j)) << (8 - l)
				for x := range uint64(1) << (8 - l) {
					table[c+x] = uint16(offset[l]+j)<<4 | uint16(l)
				}
			}
		}
	}
	br := newBitReader(r.rest())
	for i := range out {
		if top, ok := br.peek8(); ok {
			if e := table[top]; e != 0 {
				out[i] = ordered[e>>4]
				br.skip(uint(e & 15))
				continue
			}
		}
		c := uint64(0)
		for l := 1; ; l++ {
			if l > maxHuffLen {
				r.fail(corrupt("bad huffman code"))
				return
			}
			c <<= 1
			if br.readBit() {
				c |= 1
			}
			if c-first[l] < uint64(count[l]) {
				out[i] = ordered[offset[l]+int(c-first[l])]
				break
			}
		}
	}
	if br.overrun {
		r.fail(corrupt("truncated huffman stream"))
		return
	}
	r.off += br.consumed()
}
