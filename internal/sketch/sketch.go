// Package sketch is a mergeable quantile sketch with a relative error
// bound, after the idea of DDSketch (Masson, Rim and Lee, "DDSketch: A Fast
// and Fully-Mergeable Quantile Sketch with Relative-Error Guarantees",
// VLDB 2019), written here from the paper's description.
//
// A positive value x falls in bin i = ⌈log_γ x⌉ with γ = (1+α)/(1−α), the
// bin holding (γ^(i−1), γ^i]; the bin's representative 2γ^i/(γ+1) is within
// a relative error α of every value in it. Negative values go to a second
// set of bins by magnitude, zeros (±0) to a counter of their own. A
// quantile walks the bins in value order to the bin holding the wanted rank
// and returns its representative: for values of one sign within the range
// a store keeps (below), the answer x̂ for the exact nearest-rank value x
// satisfies |x̂ − x| ≤ α|x|, with α = Alpha = 1%.
//
// Bounded size: each sign's bins span at most MaxBins consecutive indices
// below its largest one. A value whose bin lies further down is counted in
// the lowest bin kept (the collapsing rule): the bound then holds only for
// values with magnitude above the largest magnitude of that sign divided
// by γ^(MaxBins−1) ≈ 3·10^35. Collapsing depends only on the largest
// index, so merging sketches gives exactly the sketch of the union of their
// values, whatever the order and grouping of the merges.
//
// NaN and ±Inf have no bin: Add refuses them, and callers that meet them
// keep the values instead (storage stores no sketch for such a bucket).
//
// A Sketch is not safe for concurrent use, not even for reading: one from
// DecodeLazy decodes its bins on first need.
package sketch

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/soltixdb/soltix/storage/encoding"
)

// Alpha is the relative accuracy: a quantile is within Alpha × |exact|.
const Alpha = 0.01

// MaxBins is the most consecutive bin indices a store (one per sign)
// spans; lower ones collapse into its lowest bin. 4096 bins span a ratio
// of γ^4095 ≈ 3·10^35: every int64 and uint64 magnitude from 1 up fits.
const MaxBins = 4096

var (
	gamma    = (1 + Alpha) / (1 - Alpha)
	lnGamma  = math.Log(gamma)
	repScale = 2 / (gamma + 1)
)

// Indices of finite non-zero magnitudes lie in [minIndex, maxIndex]
// (log_γ of 5e-324 is about −37,230, of 1.8e308 about 35,480).
const (
	minIndex = -38000
	maxIndex = 36000
)

// store is the bins of one sign: counts[k] for index off+k.
type store struct {
	off    int
	counts []uint64
}

// Sketch is the quantile sketch of a multiset of finite float64 values.
// The zero value is an empty sketch.
type Sketch struct {
	n        uint64 // every value counted
	zero     uint64
	pos, neg store
	// enc, when not nil, holds the positive and negative stores as Append
	// wrote them, checked by DecodeLazy but not decoded yet: load decodes
	// them on first need. It is never written to, so clones share it.
	enc []byte
}

// load decodes the stores DecodeLazy kept encoded.
func (s *Sketch) load() {
	if s.enc == nil {
		return
	}
	b := fill(s.enc, &s.pos)
	fill(b, &s.neg)
	s.enc = nil
}

// index returns the bin of a finite magnitude m > 0.
func index(m float64) int {
	i := int(math.Ceil(math.Log(m) / lnGamma))
	return min(max(i, minIndex), maxIndex)
}

// value returns the representative of bin i.
func value(i int) float64 {
	return math.Min(math.Exp(float64(i)*lnGamma)*repScale, math.MaxFloat64)
}

// add counts c values in bin i.
func (st *store) add(i int, c uint64) {
	switch {
	case len(st.counts) == 0:
		st.off, st.counts = i, append(st.counts[:0], c)
		return
	case i < st.off:
		top := st.off + len(st.counts) - 1
		if top-i+1 > MaxBins {
			// Below the span kept: the lowest bin takes it, after
			// widening the span down to the limit.
			i = top - MaxBins + 1
			if i >= st.off {
				st.counts[i-st.off] += c
				return
			}
		}
		grow := st.off - i
		st.counts = append(make([]uint64, grow, grow+len(st.counts)), st.counts...)
		st.off = i
	case i >= st.off+len(st.counts):
		for st.off+len(st.counts) <= i {
			st.counts = append(st.counts, 0)
		}
		st.collapse()
	}
	st.counts[i-st.off] += c
}

// collapse folds the bins below the MaxBins highest indices into the
// lowest one kept.
func (st *store) collapse() {
	extra := len(st.counts) - MaxBins
	if extra <= 0 {
		return
	}
	var c uint64
	for _, v := range st.counts[:extra] {
		c += v
	}
	st.counts = append(st.counts[:0], st.counts[extra:]...)
	st.off += extra
	st.counts[0] += c
}

// Add counts v; it reports false, counting nothing, for NaN and ±Inf.
func (s *Sketch) Add(v float64) bool {
	s.load()
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return false
	case v > 0:
		s.pos.add(index(v), 1)
	case v < 0:
		s.neg.add(index(-v), 1)
	default:
		s.zero++
	}
	s.n++
	return true
}

// smallInts is how many magnitudes AddInts looks up instead of computing
// their bin (integer readings, percentages, counts mostly fall below).
const smallInts = 1 << 10

// smallIndex[m] is index(m) for the magnitudes 1 to smallInts-1: the
// same function, so a value's bin does not depend on how it was added.
var smallIndex = func() (t [smallInts]int32) {
	for m := 1; m < smallInts; m++ {
		t[m] = int32(index(float64(m)))
	}
	return t
}()

// AddInts counts the integers vs, as Add(float64(v)) for each would:
// the bins of small magnitudes are looked up rather than computed (a
// logarithm each), and a run of equal values is counted at once.
func (s *Sketch) AddInts(vs []int64) {
	s.load()
	for k := 0; k < len(vs); {
		v := vs[k]
		e := k + 1
		for e < len(vs) && vs[e] == v {
			e++
		}
		c := uint64(e - k)
		switch {
		case v > 0 && v < smallInts:
			s.pos.add(int(smallIndex[v]), c)
		case v < 0 && v > -smallInts:
			s.neg.add(int(smallIndex[-v]), c)
		case v > 0:
			s.pos.add(index(float64(v)), c)
		case v < 0:
			s.neg.add(index(-float64(v)), c)
		default:
			s.zero += c
		}
		s.n += c
		k = e
	}
}

// AddUints is AddInts for unsigned integers.
func (s *Sketch) AddUints(vs []uint64) {
	s.load()
	for k := 0; k < len(vs); {
		v := vs[k]
		e := k + 1
		for e < len(vs) && vs[e] == v {
			e++
		}
		c := uint64(e - k)
		switch {
		case v == 0:
			s.zero += c
		case v < smallInts:
			s.pos.add(int(smallIndex[v]), c)
		default:
			s.pos.add(index(float64(v)), c)
		}
		s.n += c
		k = e
	}
}

// Count returns the number of values counted.
func (s *Sketch) Count() uint64 { return s.n }

// Merge adds the values of o into s.
func (s *Sketch) Merge(o *Sketch) {
	s.load()
	o.load()
	s.n += o.n
	s.zero += o.zero
	s.pos.merge(&o.pos)
	s.neg.merge(&o.neg)
}

func (st *store) merge(o *store) {
	if len(o.counts) == 0 {
		return
	}
	// The highest first, so that the span settles before lower bins.
	for k := len(o.counts) - 1; k >= 0; k-- {
		if c := o.counts[k]; c != 0 {
			st.add(o.off+k, c)
		}
	}
}

// Clone returns a copy of s that shares nothing with it but, while
// neither has decoded them, the encoded bins of DecodeLazy (read only).
func (s *Sketch) Clone() *Sketch {
	c := *s
	if s.enc != nil {
		return &c
	}
	c.pos.counts = append([]uint64(nil), s.pos.counts...)
	c.neg.counts = append([]uint64(nil), s.neg.counts...)
	return &c
}

// Equal reports whether s and o hold the same counts.
func (s *Sketch) Equal(o *Sketch) bool {
	s.load()
	o.load()
	return s.n == o.n && s.zero == o.zero && s.pos.equal(&o.pos) && s.neg.equal(&o.neg)
}

func (st *store) equal(o *store) bool {
	a, b := st.trim(), o.trim()
	if len(a.counts) != len(b.counts) {
		return false
	}
	if len(a.counts) > 0 && a.off != b.off {
		return false
	}
	for k := range a.counts {
		if a.counts[k] != b.counts[k] {
			return false
		}
	}
	return true
}

// trim returns st without empty bins at either end.
func (st *store) trim() store {
	c := st.counts
	off := st.off
	for len(c) > 0 && c[0] == 0 {
		c, off = c[1:], off+1
	}
	for len(c) > 0 && c[len(c)-1] == 0 {
		c = c[:len(c)-1]
	}
	return store{off: off, counts: c}
}

// Quantile returns the estimate of the value of 0-based rank r in the
// sorted values (r < Count()); 0 for an empty sketch.
func (s *Sketch) Quantile(r uint64) float64 {
	if s.n == 0 {
		return 0
	}
	s.load()
	r = min(r, s.n-1)
	// Negative values, most negative (highest index) first.
	var seen uint64
	for k := len(s.neg.counts) - 1; k >= 0; k-- {
		if seen += s.neg.counts[k]; seen > r {
			return -value(s.neg.off + k)
		}
	}
	if seen += s.zero; seen > r {
		return 0
	}
	for k, c := range s.pos.counts {
		if seen += c; seen > r {
			return value(s.pos.off + k)
		}
	}
	return value(s.pos.off + len(s.pos.counts) - 1)
}

// Encoding version bytes: Append writes encV1, AppendCompact the smaller
// of encV1 and encV2.
const (
	encV1 = 1
	encV2 = 2
)

// AppendCompact appends the shorter of two encodings of s to dst: Append's
// (version 1), or version 2:
//
//	byte 2 (version), uvarint zero count, positive store, negative store
//	store: uvarint span n, the number of consecutive indices from the
//	lowest non-empty bin to the highest (0: no bins); when n > 0 the
//	varint index of the lowest, then the uvarint length and the bytes of
//	encoding.AppendUints of the n counts, empty bins included (the first
//	and the last are not 0).
//
// Version 2 hands the counts to the column codec (storage/encoding), which
// bit-packs or Huffman-codes them: a day of readings puts tens to hundreds
// of values in each of a few hundred bins, 2 bytes each in version 1 and
// about one in version 2, while a sketch of few bins stays version 1.
// Decode reads both.
func (s *Sketch) AppendCompact(dst []byte) []byte {
	s.load()
	// Version 1's size is counted, not written: most sketches of a day
	// take version 2, which is then written once, in place.
	v1 := 1 + uvarintLen(s.zero) + s.pos.size() + s.neg.size()
	start := len(dst)
	dst = append(dst, encV2)
	dst = binary.AppendUvarint(dst, s.zero)
	dst = s.pos.appendDense(dst)
	dst = s.neg.appendDense(dst)
	if len(dst)-start < v1 {
		return dst
	}
	return s.Append(dst[:start])
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// size is the length of what append writes.
func (st *store) size() int {
	k, n := 0, 0
	prev, first := 0, true
	for j, c := range st.counts {
		if c == 0 {
			continue
		}
		k++
		i := st.off + j
		if first {
			n += uvarintLen(zigzag64(int64(i))) + uvarintLen(c)
			first = false
		} else {
			g := uint64(min(i-prev-1, 7))
			n += uvarintLen(c<<3 | g)
			if g == 7 {
				n += uvarintLen(uint64(i - prev - 8))
			}
		}
		prev = i
	}
	return uvarintLen(uint64(k)) + n
}

func zigzag64(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func (st *store) appendDense(dst []byte) []byte {
	t := st.trim()
	dst = binary.AppendUvarint(dst, uint64(len(t.counts)))
	if len(t.counts) == 0 {
		return dst
	}
	dst = binary.AppendVarint(dst, int64(t.off))
	// The counts' encoding goes to the end of dst and moves up by the
	// length of its size, which then goes in front of it.
	p := len(dst)
	dst = encoding.AppendUints(dst, t.counts)
	var size [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(size[:], uint64(len(dst)-p))
	dst = append(dst, size[:h]...)
	copy(dst[p+h:], dst[p:len(dst)-h])
	copy(dst[p:], size[:h])
	return dst
}

// Append appends the encoding of s to dst:
//
//	byte 1 (version), uvarint zero count, positive store, negative store
//	store: uvarint number of non-empty bins k; when k > 0 the varint index
//	of the lowest and its uvarint count, then for each next non-empty bin
//	the uvarint count << 3 | g, where g = min(step − 1, 7) and step is the
//	distance from the previous index (≥ 1), followed by the uvarint
//	step − 8 when g is 7.
//
// A bin of fewer than 16 values at most 7 indices above the previous one
// costs one byte. The total count is the sum of the counts, not stored.
// Bin counts must stay below 2^61 (no sketch of rollups comes near).
func (s *Sketch) Append(dst []byte) []byte {
	s.load()
	dst = append(dst, encV1)
	dst = binary.AppendUvarint(dst, s.zero)
	dst = s.pos.append(dst)
	return s.neg.append(dst)
}

func (st *store) append(dst []byte) []byte {
	k := 0
	for _, c := range st.counts {
		if c != 0 {
			k++
		}
	}
	dst = binary.AppendUvarint(dst, uint64(k))
	prev, first := 0, true
	for j, c := range st.counts {
		if c == 0 {
			continue
		}
		i := st.off + j
		if first {
			dst = binary.AppendVarint(dst, int64(i))
			dst = binary.AppendUvarint(dst, c)
			first = false
		} else {
			g := uint64(min(i-prev-1, 7))
			dst = binary.AppendUvarint(dst, c<<3|g)
			if g == 7 {
				dst = binary.AppendUvarint(dst, uint64(i-prev-8))
			}
		}
		prev = i
	}
	return dst
}

// ErrCorrupt is returned by Decode for bytes Append cannot have written.
var ErrCorrupt = errors.New("malformed quantile sketch")

// Decode reads a sketch written by Append from the start of b and returns
// it and the bytes after it. It checks every bound Append keeps (indices in
// range, a store's span at most MaxBins, counts non-zero, the total
// without overflow), so memory stays proportional to MaxBins whatever b is.
// The sketch shares nothing with b.
func Decode(b []byte) (*Sketch, []byte, error) {
	s, rest, err := DecodeLazy(b)
	if err != nil {
		return nil, b, err
	}
	s.load()
	return s, rest, nil
}

// DecodeLazy is Decode that checks the bins but leaves them encoded until
// a method needs them (Count does not): the sketch keeps a reference to
// b, which must not change while the sketch lives. It costs no allocation
// but the Sketch, for readers that may never look at the bins (a rollup
// row's sketch when no percentile asks).
func DecodeLazy(b []byte) (*Sketch, []byte, error) {
	if len(b) > 0 && b[0] == encV2 {
		// AppendCompact's dense stores are few bytes and decoded at once.
		return decodeDense(b)
	}
	if len(b) == 0 || b[0] != encV1 {
		return nil, b, ErrCorrupt
	}
	d := decoder{b: b[1:]}
	s := &Sketch{}
	s.zero = d.uvarint()
	if d.err {
		return nil, b, ErrCorrupt
	}
	stores := d.b
	total := s.zero
	for range 2 {
		t, ok := d.scan()
		if !ok {
			return nil, b, ErrCorrupt
		}
		var c bool
		if total, c = addC(total, t); c {
			return nil, b, ErrCorrupt
		}
	}
	s.n = total
	s.enc = stores[:len(stores)-len(d.b)]
	return s, d.b, nil
}

func addC(a, b uint64) (uint64, bool) {
	s := a + b
	return s, s < a
}

type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

// scan checks the encoding of a store and returns its total count,
// allocating nothing; fill then decodes it.
func (d *decoder) scan() (uint64, bool) {
	k := d.uvarint()
	if d.err || k > MaxBins {
		return 0, false
	}
	if k == 0 {
		return 0, true
	}
	i0 := d.varint()
	if d.err || i0 < minIndex || i0 > maxIndex {
		return 0, false
	}
	i := int(i0)
	var total uint64
	for j := uint64(0); j < k; j++ {
		var c uint64
		if j == 0 {
			c = d.uvarint()
		} else {
			var v uint64
			if len(d.b) > 0 && d.b[0] < 0x80 { // most bins: one byte
				v, d.b = uint64(d.b[0]), d.b[1:]
			} else {
				v = d.uvarint()
			}
			c = v >> 3
			step := v&7 + 1
			if step == 8 {
				s := d.uvarint()
				if s >= MaxBins {
					return 0, false
				}
				step += s
			}
			i += int(step)
		}
		if d.err || c == 0 || i > maxIndex || i-int(i0) >= MaxBins {
			return 0, false
		}
		var ovf bool
		if total, ovf = addC(total, c); ovf {
			return 0, false
		}
	}
	return total, true
}

// fill decodes into st a store at the start of b that scan accepted and
// returns the bytes after it.
func fill(b []byte, st *store) []byte {
	d := decoder{b: b}
	k := d.uvarint()
	if k == 0 {
		*st = store{}
		return d.b
	}
	i0 := int(d.varint())
	// The span, from a first pass over the steps.
	span := decoder{b: d.b}
	i := i0
	span.uvarint()
	for j := uint64(1); j < k; j++ {
		v := span.uvarint()
		step := int(v&7) + 1
		if step == 8 {
			step += int(span.uvarint())
		}
		i += step
	}
	st.off, st.counts = i0, make([]uint64, i-i0+1)
	i = i0
	st.counts[0] = d.uvarint()
	for j := uint64(1); j < k; j++ {
		v := d.uvarint()
		step := int(v&7) + 1
		if step == 8 {
			step += int(d.uvarint())
		}
		i += step
		st.counts[i-i0] = v >> 3
	}
	return d.b
}

// decodeDense reads a version 2 sketch (AppendCompact's dense stores)
// and decodes its bins at once.
func decodeDense(b []byte) (*Sketch, []byte, error) {
	d := decoder{b: b[1:]}
	s := &Sketch{}
	s.zero = d.uvarint()
	total := s.zero
	for _, st := range []*store{&s.pos, &s.neg} {
		t, ok := d.denseStore(st)
		if !ok {
			return nil, b, ErrCorrupt
		}
		var c bool
		if total, c = addC(total, t); c {
			return nil, b, ErrCorrupt
		}
	}
	if d.err {
		return nil, b, ErrCorrupt
	}
	s.n = total
	return s, d.b, nil
}

// denseStore reads a version 2 store into st and returns its total count.
func (d *decoder) denseStore(st *store) (uint64, bool) {
	n := d.uvarint()
	if d.err || n > MaxBins {
		return 0, false
	}
	if n == 0 {
		return 0, true
	}
	i0 := d.varint()
	size := d.uvarint()
	if d.err || i0 < minIndex || i0+int64(n)-1 > maxIndex || size > uint64(len(d.b)) {
		return 0, false
	}
	counts, err := encoding.DecodeUints(make([]uint64, 0, n), d.b[:size])
	d.b = d.b[size:]
	if err != nil || uint64(len(counts)) != n || counts[0] == 0 || counts[n-1] == 0 {
		return 0, false
	}
	var total uint64
	for _, c := range counts {
		var ovf bool
		if total, ovf = addC(total, c); ovf {
			return 0, false
		}
	}
	st.off, st.counts = int(i0), counts
	return total, true
}
