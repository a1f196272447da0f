package encoding

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"
	"unsafe"
)

// The fields scheme (tagStringFields) stores strings that are sequences of
// minimal uvarints column by column: field j of every string that has one
// goes into one integer body, which the planner codes like an integer
// column (delta transforms, gcd, bit-packing, Huffman codes). Rollup rows
// (storage, docs/format.md "Rollup files") are such strings: a head byte,
// counts, time offsets and values as varints, nearly the same from one
// hour to the next, so field by field they take a few bits where the
// plain scheme spends whole bytes.
//
//	uvarint n (in the head), byte t₀, integer body (transform t₀) of the n
//	field counts k_i, ⌈K/4⌉ bytes holding the transforms t_1…t_K of the
//	columns (2 bits each, least significant first, unused bits 0), then
//	for each j < K the integer body (transform t_{j+1}) of the field j of
//	every string with k_i > j, in string order
//
// where K is the largest k_i. Every decoded field must be a value a
// uvarint holds; the strings are the fields' minimal uvarints, one after
// the other. Σ k_i is at most maxFields.

// maxFields bounds the fields of one block of the fields scheme, which
// bounds what a decoder allocates for it.
const maxFields = MaxBlockLen

// fieldsPerString is the most fields per string, on average, for which
// the encoder tries the fields scheme: it plans one integer column per
// field position, and strings of many fields (long text, rollup rows with
// quantile sketches) seldom line up field by field.
const fieldsPerString = 16

// splitFields parses every string of vs as minimal uvarints and returns
// the field counts and the fields, column by column (column j holds field
// j of each string that has one), or false when some string is not such a
// sequence or the strings hold too many fields.
func splitFields(vs []string) (counts []uint64, cols [][]int64, ok bool) {
	limit := min(maxFields, fieldsPerString*len(vs))
	counts = make([]uint64, len(vs))
	total := 0
	for i, s := range vs {
		k := 0
		for off := 0; off < len(s); k++ {
			v, w := uvarintString(s[off:])
			if w <= 0 || w != uvarintLen(v) {
				return nil, nil, false
			}
			if total++; total > limit {
				return nil, nil, false
			}
			if k == len(cols) {
				cols = append(cols, nil)
			}
			cols[k] = append(cols[k], int64(v))
			off += w
		}
		counts[i] = uint64(k)
	}
	return counts, cols, true
}

// uvarintString is binary.Uvarint of a string.
func uvarintString(s string) (uint64, int) {
	var x uint64
	var sh uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		b := s[i]
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, -1
			}
			return x | uint64(b)<<sh, i + 1
		}
		x |= uint64(b&0x7f) << sh
		sh += 7
	}
	return 0, 0
}

// fieldsPlan is the planned fields encoding of a block of strings.
type fieldsPlan struct {
	counts intPlan
	cols   []intPlan
	sc     []*intScratch
	size   int // bytes after the head
}

// planFields plans the fields scheme for vs, or returns false when it does
// not apply. The caller releases the plan's scratch with release.
func planFields(vs []string) (*fieldsPlan, bool) {
	counts, cols, ok := splitFields(vs)
	if !ok {
		return nil, false
	}
	fp := &fieldsPlan{sc: make([]*intScratch, len(cols)+1)}
	for i := range fp.sc {
		fp.sc[i] = scratchPool.Get().(*intScratch)
	}
	fp.counts = planIntsIn(asInt64s(counts), fp.sc[0])
	fp.size = 1 + fp.counts.size + (len(cols)+3)/4
	fp.cols = make([]intPlan, len(cols))
	for j, c := range cols {
		fp.cols[j] = planIntsIn(c, fp.sc[j+1])
		fp.size += fp.cols[j].size
	}
	return fp, true
}

func (fp *fieldsPlan) release() {
	for _, sc := range fp.sc {
		putScratch(sc)
	}
}

// appendFields appends the body of the fields scheme as planned.
func appendFields(dst []byte, fp *fieldsPlan) []byte {
	dst = append(dst, byte(fp.counts.trans))
	dst = appendIntBody(dst, &fp.counts)
	for j := 0; j < len(fp.cols); j += 4 {
		var b byte
		for i := j; i < min(j+4, len(fp.cols)); i++ {
			b |= byte(fp.cols[i].trans) << (2 * (i - j))
		}
		dst = append(dst, b)
	}
	for j := range fp.cols {
		dst = appendIntBody(dst, &fp.cols[j])
	}
	return dst
}

// fieldsScratch holds what readFields needs only while it decodes: the
// field counts, the fields and the columns' sizes and starts.
type fieldsScratch struct {
	u   []uint64
	idx []int
}

var fieldsPool = sync.Pool{New: func() any { return new(fieldsScratch) }}

// readFields decodes the body of n strings of the fields scheme and
// appends them to dst; on error it returns dst unchanged. The strings
// share one allocation of exactly their bytes; everything else comes from
// a pool.
func readFields(r *reader, n int, dst []string) []string {
	t0 := r.byte1("counts transform")
	if r.err != nil {
		return dst
	}
	if t0 > transDoD {
		r.fail(corrupt("counts transform %d", t0))
		return dst
	}
	sc := fieldsPool.Get().(*fieldsScratch)
	defer func() {
		if cap(sc.u) <= 2*maxFields && cap(sc.idx) <= 2*maxFields {
			fieldsPool.Put(sc)
		}
	}()
	if cap(sc.u) < n {
		sc.u = make([]uint64, n, max(n, 2*cap(sc.u)))
	}
	counts := sc.u[:n]
	readIntBody(r, counts, int(t0))
	if r.err != nil {
		return dst
	}
	total, kmax := uint64(0), uint64(0)
	for _, k := range counts {
		if k > maxFields-total {
			r.fail(corrupt("more than %d fields", maxFields))
			return dst
		}
		total += k
		kmax = max(kmax, k)
	}
	K := int(kmax)
	trans := r.bytes(uint64(K+3)/4, "field transforms")
	if r.err != nil {
		return dst
	}
	if K%4 != 0 && trans[K/4]>>(2*(K%4)) != 0 {
		r.fail(corrupt("unused field transform bits set"))
		return dst
	}
	// Column j holds the strings with more than j fields: sizes[j] of
	// them, from starts[j] in fields.
	if cap(sc.idx) < 2*K {
		sc.idx = make([]int, 2*K)
	}
	idx := sc.idx[:2*K]
	clear(idx)
	sizes, starts := idx[:K], idx[K:]
	rect := uint64(n)*kmax == total
	if rect {
		for j := range sizes {
			sizes[j] = n
		}
	} else {
		for _, k := range counts {
			for j := range int(k) {
				sizes[j]++
			}
		}
	}
	need := n + int(total)
	if cap(sc.u) < need {
		u := make([]uint64, need, max(need, 2*cap(sc.u)))
		copy(u, counts)
		sc.u = u
		counts = u[:n]
	}
	fields := sc.u[n:need]
	off := 0
	for j := range K {
		t := trans[j/4] >> (2 * (j % 4)) & 3
		if t > transDoD {
			r.fail(corrupt("field transform %d", t))
			return dst
		}
		starts[j] = off
		readIntBody(r, fields[off:off+sizes[j]], int(t))
		if r.err != nil {
			return dst
		}
		off += sizes[j]
	}
	if total == 0 {
		return append(dst, make([]string, n)...)
	}
	// One allocation of exactly the strings' bytes holds every string; it
	// is never written again.
	size := 0
	for _, v := range fields {
		size += (bits.Len64(v|1) + 6) / 7 // uvarintLen(v)
	}
	buf := make([]byte, size)
	dst = slices.Grow(dst, n)
	p := 0
	if rect {
		// Every string has K fields: field j of string i is at j·n + i.
		for i := range n {
			prev := p
			for j := i; j < len(fields); j += n {
				p = putUvarint(buf, p, fields[j])
			}
			dst = append(dst, unsafe.String(&buf[prev], p-prev))
		}
		return dst
	}
	for _, k := range counts {
		prev := p
		for j := range int(k) {
			p = putUvarint(buf, p, fields[starts[j]])
			starts[j]++
		}
		if p == prev {
			dst = append(dst, "")
		} else {
			dst = append(dst, unsafe.String(&buf[prev], p-prev))
		}
	}
	return dst
}

// putUvarint writes v's uvarint into buf at p, which has room for it, and
// returns the offset after it.
func putUvarint(buf []byte, p int, v uint64) int {
	for v >= 0x80 {
		buf[p] = byte(v) | 0x80
		v >>= 7
		p++
	}
	buf[p] = byte(v)
	return p + 1
}
