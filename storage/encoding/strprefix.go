package encoding

import (
	"encoding/binary"
	"slices"
	"strings"
	"unsafe"
)

// The prefix scheme (tagStringPrefix) stores a prefix P that many of the
// block's strings begin with once, then the strings without it:
//
//	uvarint n (in the head), uvarint h = 2·|P| + a, the |P| bytes of P,
//	when a = 0 a stream of n marks (1 when string i begins with P, else
//	0), then the plain scheme's body for the remainders: a stream of their
//	n lengths and their bytes. The remainder of a marked string is what
//	follows P; that of an unmarked one is the whole string.
//
// a = 1 says that every string begins with P and no marks follow. Rollup
// rows (storage, docs/format.md "Rollup files") are such strings: a head
// byte, the bucket's count and its first and last time offsets, the same
// in every full bucket of a block, begin each row. A decoder rejects
// |P| = 0 or |P| > maxStringPrefix, a mark above 1, marks that are all 0
// or all 1 (the compact form says the latter), and remainders that do
// not hold exactly the block's bytes.

// maxStringPrefix bounds |P|. A decoder writes P once per marked string,
// so it bounds what a small block may decode to: MaxBlockLen strings of
// maxStringPrefix bytes, 4 MiB.
const maxStringPrefix = 64

// prefixCandidates is how many strings of a block, spread over it, the
// encoder tries as the source of P.
const prefixCandidates = 5

// prefixPlan is the planned prefix encoding of a block of strings.
type prefixPlan struct {
	p     string
	marks []uint64 // nil when every string begins with p
	mp    plan     // marks' stream
	lens  []uint64 // remainders' lengths
	lp    plan
	size  int // bytes after the head
}

// planPrefix plans the prefix scheme for vs (at least two strings) and
// returns false when no prefix saves a byte over the plain scheme's
// bytes, or when a lower bound of its size is not below limit (which
// never changes what is written). lens holds the strings' lengths, total
// their sum.
func planPrefix(vs []string, lens []uint64, total, limit int) (*prefixPlan, bool) {
	n := len(vs)
	if n < 2 {
		return nil, false
	}
	// For each candidate string c, the rows that share its first L bytes
	// save L bytes each; P costs its L bytes and its length, and the
	// marks, when not every row has P, about a bit per row or a few bytes
	// per unmarked row, whichever is smaller. Estimate the gain of every
	// L, keep the best, then compute the exact size.
	var hist [maxStringPrefix + 1]int
	bestGain, bestC, bestL, bestHave := 0, -1, 0, 0
	tried := make([]string, 0, prefixCandidates)
	for k := range prefixCandidates {
		ci := k * (n - 1) / (prefixCandidates - 1)
		c := vs[ci]
		c = c[:min(len(c), maxStringPrefix)]
		if c == "" || slices.Contains(tried, c) {
			continue
		}
		tried = append(tried, c)
		clear(hist[:len(c)+1])
		for _, s := range vs {
			hist[commonPrefixLen(c, s)]++
		}
		have := 0 // strings sharing at least L bytes with c
		for L := len(c); L >= 1; L-- {
			have += hist[L]
			gain := L*have - L - uvarintLen(uint64(2*L))
			if have < n {
				gain -= min(3+(n+7)/8, 4+(n-have)*2)
			}
			if gain > bestGain {
				bestGain, bestC, bestL, bestHave = gain, ci, L, have
			}
		}
	}
	if bestC < 0 {
		return nil, false
	}
	// A lower bound: the remainders' bytes of the best estimate, P, its
	// length and two streams of at least 2 bytes (a kind byte and a
	// uvarint) for the lengths and, unless every string has P, the marks.
	lb := total - bestL*bestHave + bestL + uvarintLen(uint64(2*bestL)) + 2
	if bestHave < n {
		lb += 2
	}
	if lb >= limit {
		return nil, false
	}
	return planPrefixOf(vs, lens, vs[bestC][:bestL]), true
}

// planPrefixOf plans the prefix scheme for vs with the prefix p, which
// at least one string begins with.
func planPrefixOf(vs []string, lens []uint64, p string) *prefixPlan {
	n := len(vs)
	pp := &prefixPlan{p: p, lens: make([]uint64, n)}
	marks := make([]uint64, n)
	all := true
	total := 0
	for i, s := range vs {
		pp.lens[i] = lens[i]
		if strings.HasPrefix(s, p) {
			marks[i] = 1
			pp.lens[i] -= uint64(len(p))
		} else {
			all = false
		}
		total += int(pp.lens[i])
	}
	pp.size = uvarintLen(uint64(2*len(p))) + len(p)
	if !all {
		pp.marks = marks
		pp.mp = planStream(marks, true)
		pp.size += pp.mp.size
	}
	pp.lp = planStream(pp.lens, true)
	pp.size += pp.lp.size + total
	return pp
}

// commonPrefixLen returns the length of the longest common prefix of a
// and b.
func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// appendPrefix appends the body of the prefix scheme as planned.
func appendPrefix(dst []byte, vs []string, pp *prefixPlan) []byte {
	h := uint64(2 * len(pp.p))
	if pp.marks == nil {
		h |= 1
	}
	dst = binary.AppendUvarint(dst, h)
	dst = append(dst, pp.p...)
	if pp.marks != nil {
		dst = appendPlanned(dst, pp.marks, pp.mp)
	}
	dst = appendPlanned(dst, pp.lens, pp.lp)
	for i, s := range vs {
		dst = append(dst, s[len(s)-int(pp.lens[i]):]...)
	}
	return dst
}

// readPrefix decodes the body of n strings of the prefix scheme and
// appends them to dst; on error it returns dst unchanged. The strings
// share one allocation of exactly their bytes; the marks and lengths come
// from a pool.
func readPrefix(r *reader, n int, dst []string) []string {
	h := r.uvarint("prefix length")
	if r.err != nil {
		return dst
	}
	plen, all := h>>1, h&1 == 1
	if plen == 0 || plen > maxStringPrefix {
		r.fail(corrupt("prefix of %d bytes", plen))
		return dst
	}
	p := r.bytes(plen, "prefix")
	if r.err != nil {
		return dst
	}
	sc := fieldsPool.Get().(*fieldsScratch)
	defer func() {
		if cap(sc.u) <= 2*maxFields {
			fieldsPool.Put(sc)
		}
	}()
	if cap(sc.u) < 2*n {
		sc.u = make([]uint64, 2*n)
	}
	marks, lens := sc.u[:n], sc.u[n:2*n]
	marked := n
	if !all {
		from := r.off
		readStream(r, marks, true)
		if r.err != nil {
			return dst
		}
		if r.src[from] == packBits && !bitsPaddingClear(r.src[from:r.off], n) {
			r.fail(corrupt("unused prefix mark bits set"))
			return dst
		}
		marked = 0
		for _, m := range marks {
			if m > 1 {
				r.fail(corrupt("prefix mark %d", m))
				return dst
			}
			marked += int(m)
		}
		if marked == 0 || marked == n {
			r.fail(corrupt("%d of %d strings marked", marked, n))
			return dst
		}
	}
	total := readLengths(r, lens)
	if r.err != nil {
		return dst
	}
	rest := r.bytes(total, "string bytes")
	// One allocation of exactly the strings' bytes holds every string; it
	// is never written again.
	buf := make([]byte, int(total)+marked*int(plen)) // at least |P| > 0 bytes
	dst = slices.Grow(dst, n)
	w, off := 0, 0
	for i, l := range lens {
		start := w
		if all || marks[i] == 1 {
			w += copy(buf[w:], p)
		}
		w += copy(buf[w:], rest[off:off+int(l)])
		off += int(l)
		if w == start {
			dst = append(dst, "")
		} else {
			dst = append(dst, unsafe.String(&buf[start], w-start))
		}
	}
	return dst
}

// bitsPaddingClear reports whether the bits after the m values of a
// packBits stream (s, kind byte first), up to its last byte, are 0.
func bitsPaddingClear(s []byte, m int) bool {
	r := reader{src: s, off: 1}
	r.uvarint("bits min")
	w := int(r.byte1("bits width"))
	if r.err != nil {
		return false
	}
	used := m * w % 8
	return used == 0 || s[len(s)-1]<<used == 0
}
