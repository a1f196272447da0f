package encoding

import (
	"encoding/binary"
	"math"
	"slices"
	"sync"
)

// rANS packing (packANS, colfile version 6): the small alphabets of
// packHuff coded with range asymmetric numeral systems, which spend a
// fraction of a bit where a prefix code spends whole bits: 1,000 steps
// of a random walk with unit normal steps take 7 to 12 bytes less than
// with Huffman's code (TestPlannerPicksANS), table and state included.
//
//	byte head: bit 7 dense, bits 4-6 the form q, bits 0-3 n−1 (n ≥ 2);
//	listed (bit 7 clear): n uvarint values (sorted, as deltas like
//	packDict), all coded;
//	⌈w·n/8⌉ bytes of w-bit frequency codes, most significant bit first,
//	pad bits 0: the codes of the listed values, or (dense) of the values
//	0 to n−1, 0 for a value that does not occur (at least two occur);
//	4 bytes of the initial decoder state x, big endian, x ≥ 2^16;
//	the renormalisation bytes, two at a time.
//
// The form q gives the precision P (frequencies sum to 2^P) and the code
// width w (ansForms): q 0 to 5 are P 5 to 10 with 5-bit codes, q 6 and 7
// P 8 and 9 with 4-bit codes. A frequency code c from 1 to 2^w − 2 is
// the frequency ansFreq(c) (1, 2, 3, 4, 6, 8, 12, 16, …: powers of two
// and three halves of them); 2^w − 1 marks the one value that takes the
// rest of 2^P. The frequencies must sum to 2^P: the rest must be at
// least 1, exactly one value takes it, and a listed value may not have
// code 0.
//
// Decoding: with the values' cumulative frequencies cum (in table
// order), the first m − j values are coded, j = min(m, ansDigits[k]) for
// the k values of the table. For each, s is the value whose slot range
// [cum_s, cum_s+f_s) holds x mod 2^P; x = f_s·⌊x/2^P⌋ + (x mod 2^P) −
// cum_s, and if x < 2^16, x = x·2^16 + the next two bytes (big endian;
// once is enough, as x ≥ 2^(16−P) before). Then x must be 2^16 + D with
// D < k^j: the encoder's initial state, whose base-k digits D are the
// table indexes of the last j values, the least significant first. The
// encoder runs backward, so the decoder runs forward and a prefix decode
// stops after the values it wants.
const (
	ansMaxP   = 10
	ansLow    = 1 << 16 // the state lies in [ansLow, 2^32)
	ansFlush  = 4       // bytes of the final state
	ansMaxSym = maxDict
)

// ansDigits[k] is the number of base-k digits below 2^16: the last
// values of a stream of k distinct values (as many, at most m) are not
// coded but held in the encoder's initial state 2^16 + D, whose low 16
// bits would otherwise carry nothing.
var ansDigits = func() (d [ansMaxSym + 1]int) {
	for k := 2; k <= ansMaxSym; k++ {
		for p := k; p <= 1<<16; p *= k {
			d[k]++
		}
	}
	return d
}()

// ansForms are the precisions and code widths of a head's bits 4-6:
// 5-bit codes for P from 5 to 10, or 4-bit codes for P 8 and 9 (narrow
// tables: a bit a value less, for the frequencies a lower P can hold).
var ansForms = [8]struct{ p, w uint }{{5, 5}, {6, 5}, {7, 5}, {8, 5}, {9, 5}, {10, 5}, {8, 4}, {9, 4}}

// ansFreq returns the frequency of code c (1 to 30).
func ansFreq(c uint8) uint32 {
	if c&1 == 0 {
		return 1 << (c / 2)
	}
	if c == 1 {
		return 1
	}
	return 3 << ((c - 3) / 2)
}

// ansCode is a planned rANS code: the values sorted, their frequency
// codes, P, and the table's form.
type ansCode struct {
	k     int
	syms  [ansMaxSym]uint64
	codes [ansMaxSym]uint8
	freq  [ansMaxSym]uint32
	p     uint
	q     uint // the form, ansForms[q]
	w     uint // bits per frequency code
	dense bool
	size  int // exact size after the kind byte
}

// ansBound is a bound, in bytes, below which the planner does not expect
// a packANS stream (kind byte included) of values with the counts cnt
// (the sorted dict's): the entropy of the counts less three bytes (the
// 16 bits of the initial state's digits, rounding), the narrow table and
// the state. It is not proven: rANS's rounding can code a value in less
// than its ideal length (by far less than a bit). Planning without it
// writes the same bytes for TestPlannerGolden's inputs, internal/sketch's
// and the TSBS block dump (TestBlockDumpBytes).
func ansBound(dict, cnt []uint64) int {
	m := uint64(0)
	flf := 0.0
	for _, c := range cnt {
		m += c
		flf += float64(c) * log2Of(uint32(c))
	}
	bits := float64(m)*log2Of(uint32(m)) - flf
	table, _ := ansTableSize(dict, 4)
	return 1 + table + ansFlush - 3 + int(max(bits, 0)/8)
}

// ansTableSize is the size of the head and table for the sorted dict
// with codes of w bits: listed, or dense when smaller.
func ansTableSize(dict []uint64, w uint) (int, bool) {
	k := len(dict)
	cw := int(w)
	size := 1 + (cw*k+7)/8
	prev := uint64(0)
	for _, u := range dict {
		size += uvarintLen(u - prev)
		prev = u
	}
	if last := dict[k-1]; last < ansMaxSym { // not last+1 ≤: 2^64 − 1 + 1 wraps
		if d := 1 + (cw*int(last+1)+7)/8; d < size {
			return d, true
		}
	}
	return size, false
}

// ansCost is the ideal coded size in bits of values with counts cnt under
// frequencies f of 2^p.
func ansCost(cnt []uint64, f []uint32, p uint) float64 {
	b := 0.0
	for i, c := range cnt {
		b += float64(c) * (float64(p) - log2Of(f[i]))
	}
	return b
}

// ansLevels quantises the counts cnt to frequency codes of 2^p: the
// largest count takes the rest, the others the nearest code, improved by
// single steps while that lowers the ideal size. It reports false when
// the others leave no rest.
func ansLevels(cnt []uint64, p, w uint, codes []uint8, f []uint32) (float64, bool) {
	rest := uint8(1)<<w - 1
	k := len(cnt)
	m := uint64(0)
	top := 0
	for i, c := range cnt {
		m += c
		if c > cnt[top] {
			top = i
		}
	}
	total := uint32(1) << p
	sum := uint32(0)
	for i, c := range cnt {
		if i == top {
			continue
		}
		t := float64(c) * float64(total) / float64(m)
		code := uint8(1)
		for code < rest-1 && float64(ansFreq(code))*float64(ansFreq(code+1)) <= t*t {
			code++
		}
		codes[i], f[i] = code, ansFreq(code)
		sum += f[i]
	}
	for sum >= total {
		// Too many: lower the largest code until a rest is left.
		j := -1
		for i := range k {
			if i != top && codes[i] > 1 && (j < 0 || f[i] > f[j]) {
				j = i
			}
		}
		if j < 0 {
			return 0, false
		}
		sum -= f[j]
		codes[j]--
		f[j] = ansFreq(codes[j])
		sum += f[j]
	}
	codes[top], f[top] = rest, total-sum
	cost := ansCost(cnt, f[:k], p)
	for range 4 {
		improved := false
		for i := range k {
			if i == top {
				continue
			}
			for _, d := range [2]int{-1, 1} {
				c := int(codes[i]) + d
				if c < 1 || c >= int(rest) {
					continue
				}
				nf := ansFreq(uint8(c))
				if sum-f[i]+nf >= total {
					continue
				}
				// Only f[i] and the rest change.
				nrest := total - (sum - f[i] + nf)
				delta := float64(cnt[i])*(log2Of(f[i])-log2Of(nf)) +
					float64(cnt[top])*(log2Of(f[top])-log2Of(nrest))
				if delta < -1e-9 {
					cost += delta
					sum = sum - f[i] + nf
					codes[i], f[i], f[top] = uint8(c), nf, nrest
					improved = true
				}
			}
		}
		if !improved {
			break
		}
	}
	return cost, true
}

// planANSFreq chooses P and the frequencies for the values dict with
// counts cnt by their ideal size, which it returns in bits with the
// table's; the exact size needs an encoding.
func planANSFreq(dict, cnt []uint64) (ansCode, float64, bool) {
	var a ansCode
	k := len(dict)
	if k < 2 || k > ansMaxSym {
		return a, 0, false
	}
	var codes [ansMaxSym]uint8
	var f [ansMaxSym]uint32
	best := math.Inf(1)
	for q, form := range ansForms {
		if 1<<form.p < 2*k {
			continue
		}
		cost, ok := ansLevels(cnt, form.p, form.w, codes[:k], f[:k])
		table, _ := ansTableSize(dict, form.w)
		cost += float64(8 * table)
		if ok && cost < best {
			best = cost
			a.p, a.q, a.w = form.p, uint(q), form.w
			a.codes, a.freq = codes, f
		}
	}
	if math.IsInf(best, 1) {
		return a, 0, false
	}
	a.k = k
	copy(a.syms[:], dict)
	return a, best, true
}

// ansPow returns k^j, at most 2^16.
func ansPow(k, j int) uint32 {
	p := uint32(1)
	for range j {
		p *= uint32(k)
	}
	return p
}

// ansEncoder holds the bytes an encoding emits backward and, when every
// is set, the decoder's state before every every-th value (restart.go).
type ansEncoder struct {
	out   []byte
	every int
	marks []ansMark
}

// ansMark is a restart point of a packANS stream: the decoder's state x
// before value i and how many renormalisation bytes it has read by then
// (read; while encoding, the bytes emitted so far instead).
type ansMark struct {
	x    uint32
	read int
}

var ansPool = sync.Pool{New: func() any { return new(ansEncoder) }}

// encode codes us backward and leaves the renormalisation bytes in e.out
// in the order emitted (the reverse of the decoder's); it returns the
// final state.
func (a *ansCode) encode(e *ansEncoder, us []uint64) uint32 {
	var cum [ansMaxSym]uint32
	c := uint32(0)
	for i := range a.k {
		cum[i] = c
		c += a.freq[i]
	}
	syms := a.syms[:a.k]
	e.out = e.out[:0]
	// The last j values are the digits of the initial state.
	j := min(ansDigits[a.k], len(us))
	d := uint32(0)
	for i := len(us) - 1; i >= len(us)-j; i-- {
		idx, _ := slices.BinarySearch(syms, us[i])
		d = d*uint32(a.k) + uint32(idx)
	}
	all := len(us)
	us = us[:len(us)-j]
	x := uint32(ansLow) + d
	p := a.p
	every := e.every
	e.marks = e.marks[:0]
	if every > 0 {
		// Points among the last j values: the decoder reaches them in
		// the final state, with every byte read.
		for i := (all - 1) / every * every; i >= len(us) && i > 0; i -= every {
			e.marks = append(e.marks, ansMark{x: x})
		}
	}
	// Values below ansMaxSym (a dense table's) find their index in a
	// table, others by binary search.
	var small [ansMaxSym]uint8
	for i, u := range syms {
		if u < ansMaxSym {
			small[u] = uint8(i)
		}
	}
	last, li := syms[0], 0
	for i := len(us) - 1; i >= 0; i-- {
		if u := us[i]; u != last {
			if u < ansMaxSym {
				li = int(small[u])
			} else {
				li, _ = slices.BinarySearch(syms, u)
			}
			last = u
		}
		f := a.freq[li&(ansMaxSym-1)]
		if uint64(x) >= uint64(ansLow>>p<<16)*uint64(f) {
			e.out = append(e.out, byte(x), byte(x>>8))
			x >>= 16
		}
		x = (x/f)<<p + x%f + cum[li&(ansMaxSym-1)]
		if every > 0 && i%every == 0 && i > 0 {
			e.marks = append(e.marks, ansMark{x: x, read: len(e.out)})
		}
	}
	if every > 0 {
		// In value order, with the bytes the decoder has read.
		slices.Reverse(e.marks)
		for i := range e.marks {
			e.marks[i].read = len(e.out) - e.marks[i].read
		}
	}
	return x
}

// tryANS makes best a rANS code for us, whose distinct values are the
// sorted dict with counts cnt, when that is smaller.
func tryANS(best *plan, us, dict, cnt []uint64) {
	if ansBound(dict, cnt) >= best.size {
		return
	}
	a, ideal, ok := planANSFreq(dict, cnt)
	if !ok {
		return
	}
	// Nor when the ideal size (table included) with the state, less the
	// 16 bits of its digits and a margin of two bytes, cannot beat it:
	// the coded values stay within a few bits of their ideal length.
	if 1+ansFlush+int((ideal-16)/8)-2 >= best.size {
		return
	}
	table, dense := ansTableSize(dict, a.w)
	a.dense = dense
	e := ansPool.Get().(*ansEncoder)
	a.encode(e, us)
	a.size = table + ansFlush + len(e.out)
	if cap(e.out) <= 4*MaxBlockLen {
		ansPool.Put(e)
	}
	if size := 1 + a.size; size < best.size {
		ap := new(ansCode)
		*ap = a
		*best = plan{kind: packANS, size: size, ans: ap}
	}
}

func appendANS(dst []byte, us []uint64, a *ansCode) []byte {
	var codes [ansMaxSym]uint8
	n := a.k
	head := byte(a.q) << 4
	if a.dense {
		n = int(a.syms[a.k-1]) + 1
		for i, u := range a.syms[:a.k] {
			codes[u] = a.codes[i]
		}
		dst = append(dst, ansDense|head|byte(n-1))
	} else {
		dst = append(dst, head|byte(n-1))
		prev := uint64(0)
		for _, u := range a.syms[:a.k] {
			dst = binary.AppendUvarint(dst, u-prev)
			prev = u
		}
		copy(codes[:], a.codes[:a.k])
	}
	bw := bitWriter{buf: dst}
	for _, c := range codes[:n] {
		bw.write(uint64(c), a.w)
	}
	dst = bw.finish()
	e := ansPool.Get().(*ansEncoder)
	x := a.encode(e, us)
	dst = binary.BigEndian.AppendUint32(dst, x)
	for i := len(e.out) - 1; i >= 0; i-- {
		dst = append(dst, e.out[i])
	}
	if cap(e.out) <= 4*MaxBlockLen {
		ansPool.Put(e)
	}
	return dst
}

// ansDense marks the dense table in a rANS packing's head byte.
const ansDense = 0x80

// readANS decodes the first len(out) of the m values of a packANS stream
// (after its kind byte) into out. A prefix stops after its values and
// checks the final state only if it reached it.
func readANS(r *reader, out []uint64, m int) {
	readANSAt(r, out, m, seekPoint{})
}

// readANSAt is readANS from restart point at (restart.go): out receives
// the values from at.index on, which the decoder reaches in state
// at.state after at.skip renormalisation bytes.
func readANSAt(r *reader, out []uint64, m int, at seekPoint) {
	head := r.byte1("rans head")
	if r.err != nil {
		return
	}
	n := int(head&15) + 1
	form := ansForms[head>>4&7]
	p, w := form.p, form.w
	restCode := uint8(1)<<w - 1
	var syms [ansMaxSym]uint64
	dense := head&ansDense != 0
	if !dense && !readIncreasing(r, syms[:n], "rans") {
		return
	}
	cb := r.bytes(uint64(int(w)*n+7)/8, "rans frequencies")
	if r.err != nil {
		return
	}
	br := newBitReader(cb)
	var freq [ansMaxSym]uint32
	total := uint32(1) << p
	k, rest, sum := 0, -1, uint32(0)
	for i := range n {
		c := uint8(br.read(w))
		switch {
		case c == 0:
			if !dense {
				r.fail(corrupt("rans frequency 0"))
				return
			}
			continue
		case c == restCode:
			if rest >= 0 {
				r.fail(corrupt("two rans rests"))
				return
			}
			rest = k
		default:
			freq[k] = ansFreq(c)
			sum += freq[k]
		}
		if dense {
			syms[k] = uint64(i)
		} else {
			syms[k] = syms[i]
		}
		k++
	}
	if br.read(uint(8*len(cb)-int(w)*n)) != 0 {
		r.fail(corrupt("rans frequencies: padding is not zero"))
		return
	}
	if k < 2 || rest < 0 || sum >= total {
		r.fail(corrupt("rans frequencies do not sum to 2^%d", p))
		return
	}
	freq[rest] = total - sum
	// The slot table: per slot the value index (bits 28-31), the slot
	// less the value's cumulative frequency (bits 16-27) and its
	// frequency (bits 0-15), so a value decodes with one lookup.
	var slot [1 << ansMaxP]uint32
	c := uint32(0)
	for i := range k {
		e := uint32(i)<<28 | freq[i]
		s := slot[c : c+freq[i]]
		for j := range s {
			s[j] = e + uint32(j)<<16
		}
		c += freq[i]
	}
	st := r.bytes(ansFlush, "rans state")
	if r.err != nil {
		return
	}
	x := binary.BigEndian.Uint32(st)
	if x < ansLow {
		r.fail(corrupt("rans state %#x", x))
		return
	}
	src := r.rest()
	pos := 0
	mask := (total - 1) & (1<<ansMaxP - 1)
	j := min(ansDigits[k], m)
	i0 := at.index
	if i0 > 0 {
		if at.skip > uint64(len(src)) || at.state < ansLow || i0 > m {
			r.fail(corrupt("rans restart point %d: %d bytes, state %#x", i0, at.skip, at.state))
			return
		}
		x, pos = at.state, int(at.skip)
	}
	coded := out[:max(0, min(len(out), m-j-i0))]
	for i := range coded {
		e := slot[x&mask]
		x = uint32(uint16(e))*(x>>p) + e>>16&0xfff
		coded[i] = syms[e>>28&(ansMaxSym-1)]
		if x < ansLow {
			// One step: x ≥ f·2^(16−P) ≥ 2^6.
			if pos+1 >= len(src) {
				r.fail(corrupt("truncated rans stream"))
				return
			}
			x = x<<16 | uint32(src[pos])<<8 | uint32(src[pos+1])
			pos += 2
		}
	}
	if i0+len(out) > m-j || i0+len(out) == m {
		// The final state, 2^16 + D: the digits of the last j values.
		d := x - ansLow
		if x < ansLow || d >= ansPow(k, j) {
			r.fail(corrupt("rans final state %#x", x))
			return
		}
		for i := m - j; i < i0+len(out); i++ {
			if i >= i0 {
				out[i-i0] = syms[d%uint32(k)&(ansMaxSym-1)]
			}
			d /= uint32(k)
		}
	}
	r.off += pos
}
