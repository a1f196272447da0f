package encoding

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
)

// Class-coded packing (packClass): values too varied for a 16-symbol
// alphabet, such as the steps of a random walk whose standard deviation
// is tens of units, still have a skewed distribution of magnitudes. Each
// value x = u - min falls in a class: x < 8 is its own class; a larger x
// with bit length l (4 to 64) falls in class 8 + 4(l-4) + t, where t is
// the two bits after its leading one, and carries its remaining l-3 low
// bits verbatim. A canonical Huffman code over the classes then spends
// close to the entropy of the values (within a few hundredths of a bit
// for a discretised normal distribution), where bit-packing spends the
// width of the largest and the width-class prefix code sits in between.
//
//	uvarint min, byte lo, byte n (2 to numClasses-lo), ⌈n/2⌉ bytes of
//	code lengths of classes lo to lo+n-1 (4 bits each, high nibble first,
//	0 for an unused class; a pad nibble is 0), then per value the code of
//	its class followed by its low bits, most significant bit first.
//
// The lengths must form a complete code (Kraft sum exactly 1).
const (
	numClasses   = 8 + 4*61 // classes 0-7, then 4 per bit length 4..64
	minClassVals = 32       // shorter streams are not worth a code table
)

// classOf returns the class of x and the number of low bits it carries.
func classOf(x uint64) (int, uint) {
	if x < 8 {
		return int(x), 0
	}
	l := bits.Len64(x)
	return 8 + 4*(l-4) + int(x>>(l-3)&3), uint(l - 3)
}

// classBase returns the smallest value of class c and the number of low
// bits its values carry.
func classBase(c int) (uint64, uint) {
	if c < 8 {
		return uint64(c), 0
	}
	l := (c-8)/4 + 4
	return uint64(4|(c-8)&3) << (l - 3), uint(l - 3)
}

// classCode is a planned class code.
type classCode struct {
	min   uint64
	lo, n int // classes lo to lo+n-1 are described
	lens  [numClasses]uint8
	bits  uint64 // exact length of the coded values
}

// classBound is a lower bound on the size of a class-coded stream (kind
// byte included) whose values have the class frequencies freq: the
// entropy of the classes plus their low bits.
func classBound(freq []uint32, lo uint64) int {
	m, first, last := 0, -1, -1
	for c, f := range freq {
		if f > 0 {
			m += int(f)
			if first < 0 {
				first = c
			}
			last = c
		}
	}
	// bits = Σ f·(extra − log2(f/m)) = Σ f·extra + m·log2 m − Σ f·log2 f,
	// with log2 f from a table; a millionth of a bit less keeps rounding
	// from lifting it above the exact bound (it only decides whether
	// planClasses is tried).
	var lowBits uint64
	flf := 0.0
	for c := first; c <= last; c++ {
		if f := freq[c]; f > 0 {
			_, extra := classBase(c)
			lowBits += uint64(f) * uint64(extra)
			flf += float64(f) * log2Of(f)
		}
	}
	bits := float64(lowBits) + float64(m)*log2Of(uint32(m)) - flf - 1e-6
	return 1 + uvarintLen(lo) + 2 + (last-first+2)/2 + int(max(bits, 0)/8)
}

// log2Table holds log2 of the counts up to 4095.
var log2Table = func() (t [4096]float64) {
	for i := 1; i < len(t); i++ {
		t[i] = math.Log2(float64(i))
	}
	return t
}()

func log2Of(f uint32) float64 {
	if f < uint32(len(log2Table)) {
		return log2Table[f]
	}
	return math.Log2(float64(f))
}

// classMinSize is a lower bound on the size of a class-coded stream like
// classBound's, without logarithms: with two classes or more every code
// takes at least a bit, so each value takes its low bits plus one. Where
// values are skewed it is the tighter of the two.
func classMinSize(freq []uint32, lo uint64) int {
	first, last := -1, -1
	bits := uint64(0)
	for c, f := range freq {
		if f > 0 {
			if first < 0 {
				first = c
			}
			last = c
			_, extra := classBase(c)
			bits += uint64(f) * uint64(extra+1)
		}
	}
	return 1 + uvarintLen(lo) + 2 + (last-first+2)/2 + int(bits/8)
}

// planClasses plans a class code for values whose smallest is lo and
// whose class frequencies are freq (classes 0 to len(freq)-1, at most
// numClasses). It reports false when fewer than two classes occur.
func planClasses(freq []uint32, lo uint64) (classCode, bool) {
	var cc classCode
	first, last := -1, -1
	for c, f := range freq {
		if f > 0 {
			if first < 0 {
				first = c
			}
			last = c
		}
	}
	if first == last {
		return cc, false
	}
	cc.min, cc.lo, cc.n = lo, first, last-first+1
	var w [numClasses]uint64
	for c := first; c <= last; c++ {
		w[c] = uint64(freq[c])
	}
	huffLengths(w[first:last+1], cc.lens[first:last+1], maxHuffLen)
	for c := first; c <= last; c++ {
		if freq[c] > 0 {
			_, extra := classBase(c)
			cc.bits += uint64(freq[c]) * (uint64(cc.lens[c]) + uint64(extra))
		}
	}
	return cc, true
}

// size is the encoded size of the packing after its kind byte.
func (cc *classCode) size() int {
	return uvarintLen(cc.min) + 2 + (cc.n+1)/2 + int(bitsBytes(cc.bits))
}

func appendClasses(dst []byte, us []uint64, cc *classCode) []byte {
	dst = binary.AppendUvarint(dst, cc.min)
	dst = append(dst, byte(cc.lo), byte(cc.n))
	lens := cc.lens[cc.lo : cc.lo+cc.n]
	dst = appendNibbles(dst, lens)
	var codes [numClasses]uint64
	canonicalCodes(lens, codes[cc.lo:cc.lo+cc.n])
	bw := bitWriter{buf: dst}
	for _, u := range us {
		x := u - cc.min
		c, extra := classOf(x)
		l := uint(cc.lens[c])
		if l+extra <= 64 {
			bw.write(codes[c]<<extra|x&(1<<extra-1), l+extra)
		} else {
			bw.write(codes[c], l)
			bw.write(x, extra)
		}
	}
	return bw.finish()
}

// readClasses decodes a packClass stream (after its kind byte) into out,
// starting skip bits into its codes (readStreamAt).
func readClasses(r *reader, out []uint64, skip uint64) {
	lo := r.uvarint("class min")
	first := int(r.byte1("first class"))
	n := int(r.byte1("class count"))
	if r.err != nil {
		return
	}
	if n < 2 || first+n > numClasses {
		r.fail(corrupt("classes %d to %d", first, first+n-1))
		return
	}
	var lens [numClasses]uint8
	if !readNibbles(r, lens[:n], "class code lengths") {
		return
	}
	var d canonDecoder
	if err := d.init(lens[:n]); err != nil {
		r.fail(err)
		return
	}
	var base [numClasses]uint64
	var extra [numClasses]uint8
	for i := range n {
		b, e := classBase(first + i)
		base[i], extra[i] = b, uint8(e)
	}
	br := newBitReader(r.rest())
	br.skipBits(skip)
	for i := range out {
		c, ok := d.next(&br)
		if !ok {
			r.fail(corrupt("bad class code"))
			return
		}
		out[i] = base[c] + br.read(uint(extra[c])) + lo
	}
	if br.overrun {
		r.fail(corrupt("truncated class stream"))
		return
	}
	r.off += br.consumed()
}

// appendNibbles appends lens (each below 16) two per byte, high nibble
// first, padding with a zero nibble.
func appendNibbles(dst []byte, lens []uint8) []byte {
	for i := 0; i < len(lens); i += 2 {
		b := lens[i] << 4
		if i+1 < len(lens) {
			b |= lens[i+1]
		}
		dst = append(dst, b)
	}
	return dst
}

// readNibbles reads len(lens) nibbles written by appendNibbles and checks
// the padding.
func readNibbles(r *reader, lens []uint8, what string) bool {
	k := len(lens)
	lb := r.bytes(uint64(k+1)/2, what)
	if r.err != nil {
		return false
	}
	for i := range k {
		if i%2 == 0 {
			lens[i] = lb[i/2] >> 4
		} else {
			lens[i] = lb[i/2] & 15
		}
	}
	if k%2 == 1 && lb[k/2]&15 != 0 {
		r.fail(corrupt("%s: padding nibble is not zero", what))
		return false
	}
	return true
}

// huffLengths sets lens[i] to the length of symbol i's code in a Huffman
// code for the frequencies freq (0 for a symbol of frequency 0), with no
// code longer than maxLen. At least two frequencies must be non-zero, and
// there must be at most numClasses symbols.
func huffLengths(freq []uint64, lens []uint8, maxLen int) {
	// Scratch on the stack, sized for the common small alphabets (Huffman
	// packing's at most maxHuff symbols, a few classes) so that clearing
	// it does not cost more than the code.
	if len(freq) <= 2*maxHuff {
		var symBuf [2 * maxHuff]int
		var wBuf [2 * maxHuff]uint64
		var nodeBuf [4 * maxHuff]huffNode
		var depth [4 * maxHuff]int
		huffLengthsIn(freq, lens, maxLen, symBuf[:0], wBuf[:len(freq)], nodeBuf[:0], depth[:])
		return
	}
	var symBuf [numClasses]int
	var wBuf [numClasses]uint64
	var nodeBuf [2 * numClasses]huffNode
	var depth [2 * numClasses]int
	huffLengthsIn(freq, lens, maxLen, symBuf[:0], wBuf[:len(freq)], nodeBuf[:0], depth[:])
}

type huffNode struct {
	w      uint64
	parent int
}

// huffLengthsIn is huffLengths with its scratch: syms and nodeBuf empty
// with room for len(freq) and 2·len(freq) entries, w and depth of those
// lengths.
func huffLengthsIn(freq []uint64, lens []uint8, maxLen int, syms []int, w []uint64, nodeBuf []huffNode, depth []int) {
	for i, f := range freq {
		lens[i] = 0
		if f > 0 {
			syms = append(syms, i)
		}
	}
	copy(w, freq)
	for {
		// Two-queue construction: leaves sorted by weight, then the
		// internal nodes, which are created in order of weight.
		slices.SortFunc(syms, func(a, b int) int {
			if w[a] != w[b] {
				if w[a] < w[b] {
					return -1
				}
				return 1
			}
			return a - b
		})
		nodes := nodeBuf[:0]
		for _, s := range syms {
			nodes = append(nodes, huffNode{w: w[s], parent: -1})
		}
		leaf, inner := 0, len(syms)
		take := func() int {
			if leaf < len(syms) && (inner >= len(nodes) || nodes[leaf].w <= nodes[inner].w) {
				leaf++
				return leaf - 1
			}
			inner++
			return inner - 1
		}
		for range len(syms) - 1 {
			a, b := take(), take()
			nodes = append(nodes, huffNode{w: nodes[a].w + nodes[b].w, parent: -1})
			nodes[a].parent, nodes[b].parent = len(nodes)-1, len(nodes)-1
		}
		// Depths, from the root down (parents come after children).
		depth[len(nodes)-1] = 0
		deepest := 0
		for i := len(nodes) - 2; i >= 0; i-- {
			depth[i] = depth[nodes[i].parent] + 1
			if i < len(syms) {
				deepest = max(deepest, depth[i])
			}
		}
		if deepest <= maxLen {
			for i, s := range syms {
				lens[s] = uint8(depth[i])
			}
			return
		}
		// Too deep: flatten the distribution and build again.
		for _, s := range syms {
			w[s] = w[s]/2 + 1
		}
	}
}

// canonicalCodes sets codes[i] to the canonical code of symbol i for the
// code lengths lens (0: unused): codes are assigned in order of (length,
// symbol), each the previous plus one, shifted left when the length grows.
func canonicalCodes(lens []uint8, codes []uint64) {
	order := make([]int, 0, len(lens))
	for i, l := range lens {
		if l > 0 {
			order = append(order, i)
		}
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
}

// canonDecoder decodes a canonical prefix code over at most numClasses
// symbols. Codes of up to 8 bits decode with one lookup of the next 8
// bits; longer ones bit by bit.
type canonDecoder struct {
	count  [maxHuffLen + 1]int
	first  [maxHuffLen + 1]uint64 // first code of each length
	offset [maxHuffLen + 1]int    // index in order of that code's symbol
	order  [numClasses]uint8      // symbols in code order
	table  [256]uint16            // symbol<<4 | length; 0: longer code
}

// init builds the decoder for the code lengths lens (0: unused symbol),
// which must form a complete code.
func (d *canonDecoder) init(lens []uint8) error {
	kraft, used := uint64(0), 0
	for _, l := range lens {
		if l > maxHuffLen {
			return corrupt("code length %d", l)
		}
		if l > 0 {
			d.count[l]++
			kraft += 1 << (maxHuffLen - l)
			used++
		}
	}
	if used < 2 || kraft != 1<<maxHuffLen {
		return corrupt("code lengths are not a complete prefix code")
	}
	code, off := uint64(0), 0
	for l := 1; l <= maxHuffLen; l++ {
		d.first[l], d.offset[l] = code, off
		code = (code + uint64(d.count[l])) << 1
		off += d.count[l]
	}
	next := d.offset
	for s, l := range lens {
		if l > 0 {
			d.order[next[l]] = uint8(s)
			next[l]++
		}
	}
	for l := 1; l <= 8; l++ {
		for j := range d.count[l] {
			c := (d.first[l] + uint64(j)) << (8 - l)
			e := uint16(d.order[d.offset[l]+j])<<4 | uint16(l)
			for x := range uint64(1) << (8 - l) {
				d.table[c+x] = e
			}
		}
	}
	return nil
}

// next decodes one symbol from br. It reports false, and sets br.overrun,
// when the stream ends before a whole code.
func (d *canonDecoder) next(br *bitReader) (int, bool) {
	if br.n < maxHuffLen {
		br.refill()
	}
	if br.n >= 8 {
		if e := d.table[br.acc>>56]; e != 0 {
			br.skip(uint(e & 15))
			return int(e >> 4), true
		}
	}
	// A longer code, or the end of the stream: compare the next bits with
	// the first code of each length.
	for l := 1; l <= maxHuffLen && uint(l) <= br.n; l++ {
		if c := br.acc >> (64 - l); c-d.first[l] < uint64(d.count[l]) {
			br.skip(uint(l))
			return int(d.order[d.offset[l]+int(c-d.first[l])]), true
		}
	}
	br.overrun = true
	return 0, false
}
