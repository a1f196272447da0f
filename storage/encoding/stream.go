package encoding

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// A stream is a sequence of m unsigned integers whose count the enclosing
// encoding knows. It starts with a packing kind byte:
//
//	packConst  uvarint v                               all values are v
//	packBits   uvarint min, byte w, bits               each value-min in w bits
//	packDict   byte k, k uvarint (sorted, delta), words base-k digits, d per 64-bit word
//	packVarbit uvarint min, byte c, c widths, bits     prefix-coded classes
//	packSparse uvarint base, uvarint nz, gaps, values  values ≠ base and their positions
//	packHuff   byte k, k uvarint, lengths, codes      canonical Huffman code (huff.go)
//	packClass  uvarint min, classes, lengths, codes   Huffman-coded magnitude classes (classes.go)
//	packANS    byte head, values, frequencies, state   rANS code, colfile version 6 (ans.go)
//
// The packer computes the exact size of every candidate and emits the
// smallest one.
const (
	packConst  = 0
	packBits   = 1
	packDict   = 2
	packVarbit = 3
	packSparse = 4
	packHuff   = 5
	packClass  = 6
	packANS    = 7

	maxDict = 16
	minANS  = 64
)

// dictDigits[k] is the number of base-k digits that fit in a 64-bit word.
var dictDigits = func() (d [maxDict + 1]int) {
	for k := 2; k <= maxDict; k++ {
		p := uint64(1)
		for {
			hi, lo := bits.Mul64(p, uint64(k))
			if hi != 0 {
				break
			}
			p = lo
			d[k]++
		}
	}
	return d
}()

// pow returns k**e, which must fit in 64 bits.
func pow(k uint64, e int) uint64 {
	p := uint64(1)
	for ; e > 0; e-- {
		p *= k
	}
	return p
}

// plan is a chosen packing with its exact encoded size.
type plan struct {
	kind int
	size int

	min  uint64 // packBits, packVarbit
	w    uint   // packBits
	nw   int    // packVarbit: number of classes
	ws   [3]uint
	dict [maxDict]uint64 // packDict, sorted
	k    int
	base uint64 // packSparse, packConst
	nz   int
	huff *huffCode  // packHuff
	cls  *classCode // packClass
	ans  *ansCode   // packANS
}

// planStream chooses the packing for us. Sparse packing is considered only
// when allowSparse is set (its sub-streams are planned without it).
func planStream(us []uint64, allowSparse bool) plan {
	m := len(us)
	if m == 0 {
		return plan{kind: packConst, size: 2}
	}
	lo, hi := us[0], us[0]
	for _, u := range us[1:] {
		lo = min(lo, u)
		hi = max(hi, u)
	}
	if lo == hi {
		return plan{kind: packConst, size: 1 + uvarintLen(lo), base: lo}
	}
	w := uint(bits.Len64(hi - lo))
	best := plan{kind: packBits, min: lo, w: w,
		size: 1 + uvarintLen(lo) + 1 + int(bitsBytes(uint64(m)*uint64(w)))}

	// Small alphabets: base-k digits. The counts of the distinct values
	// come with them (for the Huffman code and the majority below).
	var p plan
	var cnt [maxDict]uint64
	ok := true
	li := -1 // index in p.dict of the previous value
	for _, u := range us {
		if li >= 0 && p.dict[li] == u {
			cnt[li]++
			continue
		}
		if i := slices.Index(p.dict[:p.k], u); i >= 0 {
			li = i
			cnt[i]++
			continue
		}
		if p.k == maxDict {
			ok = false
			break
		}
		p.dict[p.k], cnt[p.k] = u, 1
		li = p.k
		p.k++
	}
	if ok && p.k >= 2 {
		sortDict(p.dict[:p.k], cnt[:p.k])
		size := 2
		prev := uint64(0)
		for _, u := range p.dict[:p.k] {
			size += uvarintLen(u - prev)
			prev = u
		}
		size += int(bitsBytes(dictBits(m, p.k)))
		if size < best.size {
			p.kind, p.size = packDict, size
			best = p
		}
		// Skewed small alphabets: a Huffman code.
		if m >= 16 {
			tryHuff(&best, p.dict[:p.k], cnt[:p.k])
			// A rANS code spends fractions of bits: encoded in scratch
			// when its lower bound beats the best. Below minANS values
			// its 4-byte state leaves it little to win, and trying it
			// cost a flush of many short series (sketches, rollup rows)
			// a fifth of its CPU.
			if m >= minANS {
				tryANS(&best, us, p.dict[:p.k], cnt[:p.k])
			}
		}
	}

	// Magnitude classes (classes.go), and from them the histogram of bit
	// lengths: classes 0-7 have lengths 0, 1, 2, 2, 3, 3, 3, 3, and four
	// classes share each longer length.
	// Classes grow with the value, so hi-lo has the highest one and the
	// loops below stop there (0, of lo itself, is always the lowest).
	var freqBuf [numClasses]uint32
	topClass, _ := classOf(hi - lo)
	freq := freqBuf[:topClass+1]
	for _, u := range us {
		c, _ := classOf(u - lo)
		freq[c]++
	}
	var hist [65]int
	for c, f := range freq {
		if f > 0 {
			b, _ := classBase(c)
			hist[bits.Len64(b)] += int(f)
		}
	}

	// Prefix-coded classes by bit length.
	if v, ok := planVarbit(&hist, m, w); ok {
		v.min = lo
		v.size += uvarintLen(lo)
		if v.size < best.size {
			best = v
		}
	}

	// Many distinct values with skewed magnitudes: a class code, when it
	// saves at least a thirty-second (it decodes a little slower than the
	// packings above).
	if m >= minClassVals {
		target := best.size - best.size/32
		if classMinSize(freq, lo) < target && classBound(freq, lo) < target {
			tryClasses(&best, freq, lo, target)
		}
	}

	// A sparse stream takes its kind byte, base, count of other values and
	// two sub-streams of at least two bytes each: skip it when that alone
	// reaches the best size (nz ≥ 1 takes a byte too).
	if allowSparse && m >= 8 && 1+uvarintLen(lo)+1+2+2 < best.size {
		var base uint64
		var n int
		if ok {
			// The majority, if any, from the counts of the small alphabet.
			for i, c := range cnt[:p.k] {
				if int(c) > n {
					base, n = p.dict[i], int(c)
				}
			}
		} else if sparseClass(freq, m) {
			base, n, _ = majority(us)
		}
		if s, ok := planSparse(us, base, n); ok && s.size < best.size {
			best = s
		}
	}
	return best
}

// tryHuff makes best a Huffman code for the values dict with counts cnt
// when that is smaller. The code is built on the stack and only one that
// wins goes to the heap (and planStream's frame stays small).
func tryHuff(best *plan, dict, cnt []uint64) {
	h, ok := planHuffFreq(dict, cnt)
	if !ok {
		return
	}
	if size := 1 + h.size(); size < best.size {
		hp := new(huffCode)
		*hp = h
		*best = plan{kind: packHuff, size: size, huff: hp}
	}
}

// tryClasses makes best a class code for the class frequencies freq of
// values from lo up when that is smaller than target.
func tryClasses(best *plan, freq []uint32, lo uint64, target int) {
	cc, ok := planClasses(freq, lo)
	if !ok {
		return
	}
	if size := 1 + cc.size(); size < target {
		cp := new(classCode)
		*cp = cc
		*best = plan{kind: packClass, size: size, cls: cp}
	}
}

// dictBits is the bit length of m base-k digits packed d per word.
func dictBits(m, k int) uint64 {
	d := dictDigits[k]
	nb := uint64(m/d) * 64
	if r := m % d; r > 0 {
		nb += uint64(bits.Len64(pow(uint64(k), r) - 1))
	}
	return nb
}

// planVarbit picks two or three classes of widths from the histogram of bit
// lengths: class 0 is coded '0', class 1 '10' (or '1' with two classes),
// class 2 '11'. Widths are limited to the lengths present.
func planVarbit(hist *[65]int, m int, maxw uint) (plan, bool) {
	var lensBuf [65]uint
	lens := lensBuf[:0]
	var cum [65]int // cum[i] = count with length ≤ lens[i]
	c := 0
	for l := 0; l <= int(maxw); l++ {
		if hist[l] > 0 {
			c += hist[l]
			cum[len(lens)] = c
			lens = append(lens, uint(l))
		}
	}
	if len(lens) < 2 {
		return plan{}, false
	}
	top := len(lens) - 1
	bestBits := uint64(1<<63 - 1)
	var best plan
	for a := 0; a < top; a++ {
		na := uint64(cum[a])
		// Two classes: '0'+wa, '1'+wmax.
		b2 := na*uint64(1+lens[a]) + uint64(m-cum[a])*uint64(1+lens[top])
		if b2 < bestBits {
			bestBits = b2
			best = plan{kind: packVarbit, nw: 2, ws: [3]uint{lens[a], lens[top]}}
		}
		for b := a + 1; b < top; b++ {
			nb := uint64(cum[b] - cum[a])
			b3 := na*uint64(1+lens[a]) + nb*uint64(2+lens[b]) + uint64(m-cum[b])*uint64(2+lens[top])
			if b3 < bestBits {
				bestBits = b3
				best = plan{kind: packVarbit, nw: 3, ws: [3]uint{lens[a], lens[b], lens[top]}}
			}
		}
	}
	best.size = 1 + 1 + best.nw + int(bitsBytes(bestBits))
	return best, true
}

// majority returns the value held by more than half of us, if any.
func majority(us []uint64) (uint64, int, bool) {
	var cand uint64
	c := 0
	for _, u := range us {
		switch {
		case c == 0:
			cand, c = u, 1
		case u == cand:
			c++
		default:
			c--
		}
	}
	n := 0
	for _, u := range us {
		if u == cand {
			n++
		}
	}
	return cand, n, n*2 > len(us)
}

// sparseParts splits us into the gaps between values ≠ base (gap = distance
// to the previous such position minus one) and those values.
func sparseParts(us []uint64, base uint64, nz int) (gaps, vals []uint64) {
	return sparsePartsInto(us, base, make([]uint64, 0, nz), make([]uint64, 0, nz))
}

// sparsePartsInto is sparseParts appending to gaps and vals.
func sparsePartsInto(us []uint64, base uint64, gaps, vals []uint64) ([]uint64, []uint64) {
	last := -1
	for i, u := range us {
		if u != base {
			gaps = append(gaps, uint64(i-last-1))
			vals = append(vals, u)
			last = i
		}
	}
	return gaps, vals
}

// planSparse plans a sparse stream around base, the value n of the m
// values of us hold, when it is the majority and at most a quarter of the
// values differ from it.
func planSparse(us []uint64, base uint64, n int) (plan, bool) {
	nz := len(us) - n
	if n*2 <= len(us) || nz*4 > len(us) {
		return plan{}, false
	}
	var buf [2 * 64]uint64
	var gaps, vals []uint64
	if 2*nz <= len(buf) {
		gaps, vals = sparsePartsInto(us, base, buf[:0:nz], buf[nz:nz:2*nz])
	} else {
		gaps, vals = sparseParts(us, base, nz)
	}
	size := 1 + uvarintLen(base) + uvarintLen(uint64(nz)) +
		planStream(gaps, false).size + planStream(vals, false).size
	return plan{kind: packSparse, size: size, base: base, nz: nz}, true
}

// appendStream encodes us with the best packing.
func appendStream(dst []byte, us []uint64, allowSparse bool) []byte {
	return appendPlanned(dst, us, planStream(us, allowSparse))
}

func appendPlanned(dst []byte, us []uint64, p plan) []byte {
	dst = append(dst, byte(p.kind))
	switch p.kind {
	case packConst:
		dst = binary.AppendUvarint(dst, p.base)
	case packBits:
		dst = binary.AppendUvarint(dst, p.min)
		dst = append(dst, byte(p.w))
		bw := bitWriter{buf: dst}
		for _, u := range us {
			bw.write(u-p.min, p.w)
		}
		dst = bw.finish()
	case packDict:
		dst = append(dst, byte(p.k))
		prev := uint64(0)
		for _, u := range p.dict[:p.k] {
			dst = binary.AppendUvarint(dst, u-prev)
			prev = u
		}
		dict := p.dict[:p.k]
		k := uint64(p.k)
		d := dictDigits[p.k]
		bw := bitWriter{buf: dst}
		for len(us) > 0 {
			g := min(d, len(us))
			var word uint64
			for i := g - 1; i >= 0; i-- {
				idx, _ := slices.BinarySearch(dict, us[i])
				word = word*k + uint64(idx)
			}
			if g == d {
				bw.write(word, 64)
			} else {
				bw.write(word, uint(bits.Len64(pow(k, g)-1)))
			}
			us = us[g:]
		}
		dst = bw.finish()
	case packVarbit:
		dst = binary.AppendUvarint(dst, p.min)
		dst = append(dst, byte(p.nw))
		for _, w := range p.ws[:p.nw] {
			dst = append(dst, byte(w))
		}
		bw := bitWriter{buf: dst}
		w0, w1, w2 := p.ws[0], p.ws[1], p.ws[2]
		if p.nw == 2 {
			for _, u := range us {
				x := u - p.min
				if bits.Len64(x) <= int(w0) {
					bw.write(x, 1+w0) // leading 0
				} else {
					bw.write(1, 1)
					bw.write(x, w1)
				}
			}
		} else {
			for _, u := range us {
				x := u - p.min
				switch l := bits.Len64(x); {
				case l <= int(w0):
					bw.write(x, 1+w0)
				case l <= int(w1):
					bw.write(2, 2)
					bw.write(x, w1)
				default:
					bw.write(3, 2)
					bw.write(x, w2)
				}
			}
		}
		dst = bw.finish()
	case packHuff:
		dst = appendHuff(dst, us, p.huff)
	case packClass:
		dst = appendClasses(dst, us, p.cls)
	case packANS:
		dst = appendANS(dst, us, p.ans)
	case packSparse:
		dst = binary.AppendUvarint(dst, p.base)
		dst = binary.AppendUvarint(dst, uint64(p.nz))
		gaps, vals := sparseParts(us, p.base, p.nz)
		dst = appendStream(dst, gaps, false)
		dst = appendStream(dst, vals, false)
	}
	return dst
}

// readStream decodes a stream of len(out) values into out.
func readStream(r *reader, out []uint64, allowSparse bool) {
	readStreamAt(r, out, allowSparse, seekPoint{})
}

// readStreamAt is readStream from a restart point (restart.go) of a
// stream of at.total values: it decodes len(out) values from value
// at.index on, entering a bit-coded stream (packBits, packVarbit,
// packHuff, packClass) at.skip bits into its codes and a packANS stream
// as at says. With at.index 0 it is readStream.
func readStreamAt(r *reader, out []uint64, allowSparse bool, at seekPoint) {
	kind := r.byte1("stream kind")
	if r.err != nil {
		return
	}
	skip := at.skip
	if at.index > 0 {
		if kind == packANS {
			readANSAt(r, out, at.total, at)
			return
		}
		if !seekable(int(kind)) {
			r.fail(corrupt("restart point in a stream of kind %d", kind))
			return
		}
	}
	m := len(out)
	switch kind {
	case packConst:
		v := r.uvarint("const value")
		for i := range out {
			out[i] = v
		}
	case packBits:
		lo := r.uvarint("bits min")
		w := uint(r.byte1("bits width"))
		if r.err != nil {
			return
		}
		if w > 64 {
			r.fail(corrupt("bit width %d", w))
			return
		}
		nb := bitsBytes(skip + uint64(m)*uint64(w))
		br := newBitReader(r.bytes(nb, "packed bits"))
		if r.err != nil {
			return
		}
		br.skipBits(skip)
		for i := range out {
			out[i] = br.read(w) + lo
		}
	case packDict:
		k := int(r.byte1("dict size"))
		if r.err != nil {
			return
		}
		if k < 2 || k > maxDict {
			r.fail(corrupt("dict size %d", k))
			return
		}
		var dict [maxDict]uint64
		prev := uint64(0)
		for i := range k {
			prev += r.uvarint("dict value")
			dict[i] = prev
		}
		if r.err != nil {
			return
		}
		br := newBitReader(r.bytes(bitsBytes(dictBits(m, k)), "dict digits"))
		if r.err != nil {
			return
		}
		d := dictDigits[k]
		uk := uint64(k)
		for i := 0; i < m; i += d {
			g := min(d, m-i)
			var word uint64
			if g == d {
				word = br.read(64)
			} else {
				word = br.read(uint(bits.Len64(pow(uk, g) - 1)))
			}
			for j := range g {
				idx := word % uk
				word /= uk
				out[i+j] = dict[idx]
			}
			if word != 0 {
				r.fail(corrupt("dict word out of range"))
				return
			}
		}
	case packVarbit:
		lo := r.uvarint("varbit min")
		nw := int(r.byte1("varbit classes"))
		if r.err != nil {
			return
		}
		if nw != 2 && nw != 3 {
			r.fail(corrupt("varbit classes %d", nw))
			return
		}
		var ws [3]uint
		for i := range nw {
			ws[i] = uint(r.byte1("varbit width"))
			if ws[i] > 64 || i > 0 && ws[i] < ws[i-1] {
				r.fail(corrupt("varbit widths %v", slices.Clone(ws[:i+1]))) // a copy: ws stays on the stack
				return
			}
		}
		if r.err != nil {
			return
		}
		// The bit stream runs to the end of what the stream needs; its
		// length is unknown up front, so read from the rest and account
		// for the bytes used afterwards.
		br := newBitReader(r.rest())
		br.skipBits(skip)
		if nw == 2 {
			for i := range out {
				if !br.readBit() {
					out[i] = br.read(ws[0]) + lo
				} else {
					out[i] = br.read(ws[1]) + lo
				}
			}
		} else {
			for i := range out {
				switch {
				case !br.readBit():
					out[i] = br.read(ws[0]) + lo
				case !br.readBit():
					out[i] = br.read(ws[1]) + lo
				default:
					out[i] = br.read(ws[2]) + lo
				}
			}
		}
		if br.overrun {
			r.fail(corrupt("truncated varbit stream"))
			return
		}
		r.off += br.consumed()
	case packSparse:
		if !allowSparse {
			r.fail(corrupt("nested sparse stream"))
			return
		}
		base := r.uvarint("sparse base")
		nz := r.uvarint("sparse count")
		if r.err != nil {
			return
		}
		if nz > uint64(m) {
			r.fail(corrupt("sparse count %d exceeds %d", nz, m))
			return
		}
		tmp := make([]uint64, 2*nz)
		gaps, vals := tmp[:nz], tmp[nz:]
		readStream(r, gaps, false)
		readStream(r, vals, false)
		if r.err != nil {
			return
		}
		for i := range out {
			out[i] = base
		}
		pos := uint64(0)
		for j, g := range gaps {
			if g >= uint64(m)-pos {
				r.fail(corrupt("sparse position out of range"))
				return
			}
			pos += g
			out[pos] = vals[j]
			pos++
		}
	case packHuff:
		readHuff(r, out, skip)
	case packClass:
		readClasses(r, out, skip)
	case packANS:
		readANS(r, out, len(out))
	default:
		r.fail(corrupt("stream kind %d", kind))
	}
}

// sortDict sorts the distinct values dict, carrying their counts along
// (insertion sort: at most maxDict of them).
func sortDict(dict, cnt []uint64) {
	for i := 1; i < len(dict); i++ {
		for j := i; j > 0 && dict[j] < dict[j-1]; j-- {
			dict[j], dict[j-1] = dict[j-1], dict[j]
			cnt[j], cnt[j-1] = cnt[j-1], cnt[j]
		}
	}
}

// sparseClass reports whether one of the class frequencies freq of m
// values is large enough for a sparse stream: its base's class holds at
// least the base's count, which must leave at most a quarter of the
// values to the others. When it reports false, no value qualifies and
// the majority need not be searched.
func sparseClass(freq []uint32, m int) bool {
	for _, f := range freq {
		if (m-int(f))*4 <= m {
			return true
		}
	}
	return false
}
