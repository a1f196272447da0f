// The rollup row codec: how one bucket's model.Summary is stored in a rollup file's columns, and reading rows back.

package storage

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"

	"github.com/soltixdb/soltix/internal/sketch"
	"github.com/soltixdb/soltix/model"
)

// The low four bits of an encoded rollup row's first byte are its version
// (rowV1, or rowV2, rowV3 and rowV4 with the time unit in the high four
// bits). rowV4 is rowV3 followed by the quantile sketch of the values.
const (
	rowV1 = 1
	rowV2 = 2
	rowV3 = 3
	rowV4 = 4
	// rowV5 and rowV6 are rowV3 and rowV4 rows of an integer field (int
	// or uint) whose m2 is the uvarint spread n·Σv² − (Σv)² in place of
	// the f64: the exact sum of squares, in about half the bytes.
	rowV5 = 5
	rowV6 = 6
)

// hasSketch reports whether a row of version v ends with a sketch.
func hasSketch(v byte) bool { return v == rowV4 || v == rowV6 || v == rowV8 }

// intSum returns the exact sum and sum of squares of integer values as a
// decSum at exponent 0 (rows store the spread from it), or one that is
// not ok when the sum reaches 2^53 in magnitude or the squares 2^126.
func intSum(vs []int64) decSum {
	d := decSum{ok: true, sqOK: true}
	for _, v := range vs {
		if v >= 1<<53 || v <= -(1<<53) {
			return decSum{}
		}
		if d.m += v; d.m >= 1<<53 || d.m <= -(1<<53) {
			return decSum{}
		}
		a := uint64(max(v, -v))
		hi, lo := bits.Mul64(a, a)
		if d.sq, d.sqOK = addSq(d.sq, [2]uint64{hi, lo}); !d.sqOK {
			return decSum{}
		}
	}
	return d
}

// uintSum is intSum of unsigned values.
func uintSum(vs []uint64) decSum {
	d := decSum{ok: true, sqOK: true}
	for _, v := range vs {
		if v >= 1<<53 {
			return decSum{}
		}
		if d.m += int64(v); d.m >= 1<<53 {
			return decSum{}
		}
		hi, lo := bits.Mul64(v, v)
		if d.sq, d.sqOK = addSq(d.sq, [2]uint64{hi, lo}); !d.sqOK {
			return decSum{}
		}
	}
	return d
}

// exactM2 sets the M2 of the summary s of an integer field's bucket to
// what its exact sums d give, when they give it.
func (d decSum) exactM2(s *model.Summary) {
	if !d.ok || d.e != 0 {
		return
	}
	if _, m2, ok := d.spread(s.Count); ok {
		s.M2 = m2
	}
}

// rollRow is one bucket's summary.
type rollRow struct {
	start int64
	s     model.Summary
	dec   decSum // float fields: the exact decimal sum, when there is one
	seq   uint64 // the sequence number of the file read (rollSnap.rows)
}

// fieldRows are the rows of one field of one series, by bucket start.
type fieldRows struct {
	kind model.Kind
	rows []rollRow
}

// seriesRows are the rows of one series in one partition.
type seriesRows struct {
	tags   model.Tags
	fields map[string]*fieldRows
}

// pow10 holds the powers of ten a decimal float may be scaled by.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// rawFloat marks a float stored as its 8 bytes; relFloat (row version 2)
// a float stored as the difference of its mantissa from the first value's,
// at the first value's exponent.
const (
	rawFloat = 0xff
	relFloat = 0xfe
)

// floatDecimal returns e ≤ 9 and m with float64(m) / 10^e the value bit
// for bit (sensor readings written with a few decimals), if there are
// such, the smallest e.
func floatDecimal(f float64) (int, int64, bool) {
	for e, p := range pow10 {
		m := math.Round(f * p)
		if math.Abs(m) >= 1<<53 {
			break
		}
		// Compare what decoding gives: this also keeps -0 out.
		if math.Float64bits(float64(int64(m))/p) == math.Float64bits(f) {
			return e, int64(m), true
		}
	}
	return 0, 0, false
}

// firstDecimal is floatDecimal of a row's first value, worked out once per
// row for the values and the sum written relative to it.
type firstDecimal struct {
	e  int
	m  int64
	ok bool
}

func decimalOfFirst(first model.Value) firstDecimal {
	if first.Kind != model.KindFloat {
		return firstDecimal{}
	}
	e, m, ok := floatDecimal(first.Float())
	return firstDecimal{e, m, ok}
}

// sumBase returns count times the first value's mantissa at exponent e,
// which must not be below the first value's, when it fits in 62 bits: the
// base a decimal sum is written relative to.
func (fd firstDecimal) sumBase(first float64, count, e int) (int64, bool) {
	if !fd.ok || fd.e > e {
		return 0, false
	}
	m0, ok := mantissaAt(first, e)
	if !ok {
		return 0, false
	}
	if hi, lo := bits.Mul64(uint64(count), uint64(max(m0, -m0))); hi != 0 || lo >= 1<<62 {
		return 0, false
	}
	return int64(count) * m0, true
}

// appendFloat appends a float: a byte e ≤ 9 and the varint m when
// floatDecimal finds them, else rawFloat and the 8 bytes.
func appendFloat(dst []byte, f float64) []byte {
	if e, m, ok := floatDecimal(f); ok {
		dst = append(dst, byte(e))
		return binary.AppendVarint(dst, m)
	}
	dst = append(dst, rawFloat)
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
}

// decSum is the exact sum of a bucket's float values m_i / 10^e, each a
// decimal with e ≤ 9: ok, e and the sum m of the mantissas, which stays
// below 2^53 in magnitude so float64(m) / 10^e is the correctly rounded
// sum. Rows store it in place of the float sum, in fewer bytes. With sqOK,
// sq is the exact sum of the squared mantissas (a 128-bit integer, hi and
// lo), from which the row stores the values' spread exactly too.
type decSum struct {
	ok   bool
	e    int
	m    int64
	sqOK bool
	sq   [2]uint64
}

// mantissaAt returns m with float64(m) / 10^e bit for bit v, if there is
// one below 2^53 in magnitude. A value that has one at some e has one at
// every larger e ≤ 9 (both are v's correctly rounded quotient).
func mantissaAt(v float64, e int) (int64, bool) {
	p := pow10[e]
	m := math.Round(v * p)
	if !(math.Abs(m) < 1<<53) || math.Float64bits(float64(int64(m))/p) != math.Float64bits(v) {
		return 0, false
	}
	return int64(m), true
}

// addSq adds a and b, two 128-bit sums of squares, reporting false when
// the result reaches 2^126 (kept below so that scaling and merging
// cannot wrap).
func addSq(a, b [2]uint64) ([2]uint64, bool) {
	lo, c := bits.Add64(a[1], b[1], 0)
	hi, c := bits.Add64(a[0], b[0], c)
	return [2]uint64{hi, lo}, c == 0 && hi < 1<<62
}

// decimalSum returns the exact decimal sum of vs (non-empty), at the
// smallest exponent that holds every value.
func decimalSum(vs []float64) decSum {
	e, _, ok := floatDecimal(vs[0])
	if !ok {
		return decSum{}
	}
	for {
		d := decSum{ok: true, e: e, sqOK: true}
		grown := false
		for _, v := range vs {
			m, ok := mantissaAt(v, e)
			if !ok {
				e2, _, ok := floatDecimal(v)
				if !ok || e2 <= e {
					return decSum{}
				}
				e, grown = e2, true
				break
			}
			if d.m += m; d.m >= 1<<53 || d.m <= -(1<<53) {
				return decSum{}
			}
			if d.sqOK {
				a := uint64(max(m, -m))
				hi, lo := bits.Mul64(a, a)
				d.sq, d.sqOK = addSq(d.sq, [2]uint64{hi, lo})
			}
		}
		if !grown {
			if !d.sqOK {
				d.sq = [2]uint64{}
			}
			return d
		}
	}
}

// plus returns the decimal sum of two buckets, at the larger exponent,
// or one that is not ok when either is not or the sum leaves the range.
func (d decSum) plus(o decSum) decSum {
	if !d.ok || !o.ok {
		return decSum{}
	}
	if d.e < o.e {
		d, o = o, d
	}
	m, sq, sqOK := o.m, o.sq, o.sqOK && d.sqOK
	for range d.e - o.e {
		if m >= 1<<53 || m <= -(1<<53) {
			return decSum{}
		}
		m *= 10
		if sqOK {
			hi1, lo := bits.Mul64(sq[1], 100)
			hi2, hi := bits.Mul64(sq[0], 100)
			hi, c := bits.Add64(hi, hi1, 0)
			sq, sqOK = [2]uint64{hi, lo}, hi2 == 0 && c == 0 && hi < 1<<62
		}
	}
	if m += d.m; m >= 1<<53 || m <= -(1<<53) {
		return decSum{}
	}
	r := decSum{ok: true, e: d.e, m: m}
	if sqOK {
		r.sq, r.sqOK = addSq(sq, d.sq)
	}
	if !r.sqOK {
		r.sq = [2]uint64{}
	}
	return r
}

// exact sets the float sum and M2 of the summary s of d's bucket to what
// d gives exactly (what a row holding d decodes to), when it gives them.
func (d decSum) exact(s *model.Summary) {
	if !d.ok {
		return
	}
	s.SumFloat = d.value()
	if _, m2, ok := d.spread(s.Count); ok {
		s.M2 = m2
	}
}

// value is the sum as a float.
func (d decSum) value() float64 { return float64(d.m) / pow10[d.e] }

// spread returns n·Σm² − (Σm)², which is n² times the variance of the
// mantissas (n is the count), when it fits in 64 bits, and the M2 it gives
// (spreadM2).
func (d decSum) spread(n int) (uint64, float64, bool) {
	if !d.ok || !d.sqOK || n <= 0 {
		return 0, 0, false
	}
	// n·Σm² in three words (Σm² < 2^126, n < 2^63).
	h0, w0 := bits.Mul64(d.sq[1], uint64(n))
	h1, l1 := bits.Mul64(d.sq[0], uint64(n))
	w1, c := bits.Add64(l1, h0, 0)
	w2 := h1 + c
	// Minus (Σm)².
	a := uint64(max(d.m, -d.m))
	mh, ml := bits.Mul64(a, a)
	w0, bw := bits.Sub64(w0, ml, 0)
	w1, bw = bits.Sub64(w1, mh, bw)
	w2, bw = bits.Sub64(w2, 0, bw)
	if bw != 0 || w2 != 0 || w1 != 0 {
		return 0, 0, false
	}
	return w0, spreadM2(w0, n, d.e), true
}

// spreadM2 is the M2 of n values whose spread at exponent e is sp.
func spreadM2(sp uint64, n, e int) float64 {
	return float64(sp) / float64(n) / pow10[e] / pow10[e]
}

// withSpread sets the sum of squares of d from a spread read from a row:
// Σm² = (spread + (Σm)²) / n, which must divide exactly.
func (d decSum) withSpread(sp uint64, n int) (decSum, bool) {
	if !d.ok || n <= 0 {
		return d, false
	}
	a := uint64(max(d.m, -d.m))
	hi, lo := bits.Mul64(a, a)
	lo, c := bits.Add64(lo, sp, 0)
	hi += c // (Σm)² < 2^106: no carry out
	un := uint64(n)
	qh := hi / un
	ql, rem := bits.Div64(hi%un, lo, un)
	if rem != 0 || qh >= 1<<62 {
		return d, false
	}
	d.sq, d.sqOK = [2]uint64{qh, ql}, true
	return d, true
}

// The first byte of a decimal sum in a row is decSumTag (the row's m2
// follows as an f64) or spreadTag (it follows as the uvarint spread), plus
// the step from the first value's exponent to the sum's (0 to 9).
const (
	decSumTag = 0xf0
	spreadTag = 0xe0
)

// appendDecSum appends d, which must be ok, as the difference of its
// mantissa sum from count times the first value's mantissa at d's
// exponent, and tells with the tag whether the spread follows; it reports
// false (appending nothing) when the difference does not fit.
func appendDecSum(dst []byte, d decSum, count int, first float64, fd firstDecimal, spread bool) ([]byte, bool) {
	base, ok := fd.sumBase(first, count, d.e)
	if !ok {
		return dst, false
	}
	tag := byte(decSumTag)
	if spread {
		tag = spreadTag
	}
	dst = append(dst, tag+byte(d.e-fd.e))
	return binary.AppendVarint(dst, d.m-base), true
}

// appendRelative appends v (last, min or max of a row) relative to the
// row's first value: numbers as their difference from first (integers
// wrapping around), floats as relFloat and the difference of mantissas
// when v is a decimal at first's exponent, other values as appendValue.
func appendRelative(dst []byte, v, first model.Value, fd firstDecimal) []byte {
	switch v.Kind {
	case model.KindFloat:
		if fd.ok {
			e, m0 := fd.e, fd.m
			p := pow10[e]
			m := math.Round(v.Float() * p)
			if math.Abs(m) < 1<<53 && math.Float64bits(float64(int64(m))/p) == math.Float64bits(v.Float()) {
				dst = append(dst, relFloat)
				return binary.AppendVarint(dst, int64(m)-m0)
			}
		}
		return appendFloat(dst, v.Float())
	case model.KindInt:
		return binary.AppendVarint(dst, v.Int()-first.Int())
	case model.KindUint:
		return binary.AppendVarint(dst, int64(v.Uint()-first.Uint()))
	}
	return appendValue(dst, v)
}

// appendValue appends a value of kind k.
func appendValue(dst []byte, v model.Value) []byte {
	switch v.Kind {
	case model.KindFloat:
		return appendFloat(dst, v.Float())
	case model.KindInt:
		return binary.AppendVarint(dst, v.Int())
	case model.KindUint:
		return binary.AppendUvarint(dst, v.Uint())
	case model.KindBool:
		if v.Bool() {
			return append(dst, 1)
		}
		return append(dst, 0)
	case model.KindString:
		dst = binary.AppendUvarint(dst, uint64(len(v.Str())))
		return append(dst, v.Str()...)
	}
	return dst
}

// appendRow encodes the summary of the bucket of level l starting at
// start (row version 3):
//
//	byte 3 | u<<4 (u, 0 to 9, is the time unit 10^u ns), count uvarint,
//	(first time − start) / 10^u uvarint, (bucket end − last time) / 10^u
//	uvarint (the end is the next bucket's start, or 2^63 − 1), first
//	value, last value relative to first, and for numeric kinds min and
//	max relative to first, sum (a value of the field's kind, or for floats
//	a decimal sum) and m2 (f64, or the uvarint spread after a decimal sum).
//
// u is the largest power of ten that divides both time offsets, so data
// on whole seconds spends a few bytes on them instead of six or more, and
// data spread over the whole bucket spends little on either.
//
// Values: float as a byte e ≤ 9 and varint m for float64(m)/10^e, or byte
// 0xff and the f64 little-endian bits; varint (int), uvarint (uint), one
// byte 0/1 (bool), uvarint length and bytes (string). Relative values
// (appendRelative): a float as 0xfe and the varint difference of its
// mantissa from first's at first's exponent, when it has one there, else
// as a value; an int or uint as the varint difference from first (wrapping
// modulo 2^64); others as values. Decimal sums: appendDecSum.
//
// A row of a numeric field whose summary has a quantile sketch is
// version 4: the same, then the sketch (sketch.Sketch.Append), whose count
// must be the row's. Version 3 rows (no sketch: written before sketches,
// or of a bucket holding NaN or ±Inf) stay valid. Version 2
// rows (still read) hold (last time − first time) / 10^u in place of the
// end offset; version 1 rows start with bytes 1 and u and hold every
// value as a value, the sum as a value and m2 as an f64. An integer
// field's row with exact sums is version 7 or 8 (rollup_row_int.go) when
// its fields fit, else 5 or 6.
func appendRow(dst []byte, l model.Level, k model.Kind, start int64, s *model.Summary, dec decSum) []byte {
	off, tail := uint64(s.MinTime-start), uint64(l.Next(start)-s.MaxTime)
	u, scale := 0, uint64(1)
	for u < 9 && off%(scale*10) == 0 && tail%(scale*10) == 0 {
		u, scale = u+1, scale*10
	}
	v := byte(rowV3)
	if k.Numeric() && s.Sketch != nil {
		v = rowV4
	}
	head := len(dst)
	dst = append(dst, v|byte(u)<<4)
	dst = binary.AppendUvarint(dst, uint64(s.Count))
	dst = binary.AppendUvarint(dst, off/scale)
	dst = binary.AppendUvarint(dst, tail/scale)
	dst = appendValue(dst, s.First)
	fd := decimalOfFirst(s.First)
	dst = appendRelative(dst, s.Last, s.First, fd)
	if k == model.KindInt || k == model.KindUint {
		if sp, ok := intSpread(k, s, dec); ok {
			if b, ok := appendIntRow(dst, k, s, dec.m, sp); ok {
				b[head] += rowV7 - rowV3 // rowV3 → rowV7, rowV4 → rowV8
				if hasSketch(v) {
					b = s.Sketch.AppendCompact(b)
				}
				return b
			}
		}
	}
	if k.Numeric() {
		dst = appendRelative(dst, s.Min, s.First, fd)
		dst = appendRelative(dst, s.Max, s.First, fd)
		sp, haveSpread := uint64(0), false
		switch k {
		case model.KindFloat:
			ok := false
			if dec.ok {
				sp, _, haveSpread = dec.spread(s.Count)
				if dst, ok = appendDecSum(dst, dec, s.Count, s.First.Float(), fd, haveSpread); !ok {
					haveSpread = false
				}
			}
			if !ok {
				dst = appendValue(dst, model.Float(s.SumFloat))
			}
		case model.KindInt:
			dst = appendValue(dst, model.Int(s.SumInt))
			sp, haveSpread = intSpread(k, s, dec)
		case model.KindUint:
			dst = appendValue(dst, model.Uint(s.SumUint))
			sp, haveSpread = intSpread(k, s, dec)
		}
		if haveSpread && k != model.KindFloat {
			dst[head] += rowV5 - rowV3 // rowV3 → rowV5, rowV4 → rowV6
		}
		if haveSpread {
			dst = binary.AppendUvarint(dst, sp)
		} else {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.M2))
		}
		if hasSketch(v) {
			dst = s.Sketch.AppendCompact(dst)
		}
	}
	return dst
}

// rowReader decodes an encoded row.
type rowReader struct {
	b   []byte
	err bool
}

func (r *rowReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *rowReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *rowReader) value(k model.Kind) model.Value {
	switch k {
	case model.KindFloat:
		if len(r.b) < 1 {
			r.err = true
			return model.Null
		}
		e := r.b[0]
		r.b = r.b[1:]
		if e == rawFloat {
			if len(r.b) < 8 {
				r.err = true
				return model.Null
			}
			v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
			r.b = r.b[8:]
			return model.Float(v)
		}
		m := r.varint()
		if r.err || int(e) >= len(pow10) || m >= 1<<53 || m <= -(1<<53) {
			r.err = true
			return model.Null
		}
		return model.Float(float64(m) / pow10[e])
	case model.KindInt:
		return model.Int(r.varint())
	case model.KindUint:
		return model.Uint(r.uvarint())
	case model.KindBool:
		if len(r.b) < 1 || r.b[0] > 1 {
			r.err = true
			return model.Null
		}
		v := r.b[0] == 1
		r.b = r.b[1:]
		return model.Bool(v)
	case model.KindString:
		n := r.uvarint()
		if n > uint64(len(r.b)) {
			r.err = true
			return model.Null
		}
		v := string(r.b[:n])
		r.b = r.b[n:]
		return model.String(v)
	}
	r.err = true
	return model.Null
}

// relative reads a value of kind k written by appendRelative.
func (r *rowReader) relative(k model.Kind, first model.Value, fd firstDecimal) model.Value {
	switch k {
	case model.KindFloat:
		if len(r.b) < 1 || r.b[0] != relFloat {
			return r.value(k)
		}
		r.b = r.b[1:]
		d := r.varint()
		e, m0 := fd.e, fd.m
		if r.err || !fd.ok {
			r.err = true
			return model.Null
		}
		m := m0 + d
		if m >= 1<<53 || m <= -(1<<53) || (d > 0) != (m > m0) {
			r.err = true
			return model.Null
		}
		return model.Float(float64(m) / pow10[e])
	case model.KindInt:
		return model.Int(first.Int() + r.varint())
	case model.KindUint:
		return model.Uint(first.Uint() + uint64(r.varint()))
	}
	return r.value(k)
}

// decodeRow decodes a row of kind k of the bucket starting at start. A
// quantile sketch is checked but its bins stay encoded until used
// (sketch.DecodeLazy: most reads never ask a percentile), so the summary
// keeps a reference to b, which must not change afterwards.
func decodeRow(b []byte, l model.Level, k model.Kind, start int64) (model.Summary, decSum, error) {
	return decodeRowSketch(b, l, k, start, true)
}

// decodeRowWithoutSketch is decodeRow that leaves a version 4 row's
// sketch out, unread: it is the last thing in the row, so the rest of the
// row is checked as decodeRow does.
func decodeRowWithoutSketch(b []byte, l model.Level, k model.Kind, start int64) (model.Summary, decSum, error) {
	return decodeRowSketch(b, l, k, start, false)
}

func decodeRowSketch(b []byte, l model.Level, k model.Kind, start int64, sketches bool) (model.Summary, decSum, error) {
	var s model.Summary
	var dec decSum
	var u byte
	var r *rowReader
	switch {
	case len(b) > 0 && (b[0]&15 == rowV2 || b[0]&15 == rowV3 || b[0]&15 == rowV4 && k.Numeric() ||
		b[0]&15 >= rowV5 && b[0]&15 <= rowV8 && (k == model.KindInt || k == model.KindUint)):
		u, r = b[0]>>4, &rowReader{b: b[1:]}
	case len(b) > 0 && b[0] == rowV1:
		if len(b) < 2 {
			return s, dec, errors.New("malformed rollup row")
		}
		u, r = b[1], &rowReader{b: b[2:]}
	default:
		return s, dec, errors.New("rollup row of an unknown version")
	}
	if u > 9 {
		return s, dec, errors.New("malformed rollup row")
	}
	scale := uint64(1)
	for range u {
		scale *= 10
	}
	n := r.uvarint()
	fhi, ft := bits.Mul64(r.uvarint(), scale)
	shi, second := bits.Mul64(r.uvarint(), scale)
	if fhi != 0 || shi != 0 || ft > math.MaxInt64 || second > math.MaxInt64 {
		return s, dec, errors.New("malformed rollup row")
	}
	s.Count, s.MinTime = int(n), start+int64(ft)
	if b[0]&15 >= rowV3 {
		// second is the distance from the bucket's end.
		next := l.Next(start)
		if second > uint64(next-start) {
			return s, dec, errors.New("malformed rollup row")
		}
		s.MaxTime = next - int64(second)
	} else {
		s.MaxTime = s.MinTime + int64(second)
	}
	s.First = r.value(k)
	fd := decimalOfFirst(s.First)
	rel := func() model.Value { // last, min and max
		if b[0] == rowV1 {
			return r.value(k)
		}
		return r.relative(k, s.First, fd)
	}
	s.Last = rel()
	s.HasM2 = true
	if b[0]&15 >= rowV7 {
		dec = r.intStats(k, &s)
	} else if k.Numeric() {
		s.Min = rel()
		s.Max = rel()
		var sum model.Value
		haveSpread := false
		if k == model.KindFloat && b[0] != rowV1 && len(r.b) > 0 && r.b[0]&15 <= 9 && (r.b[0]&0xf0 == decSumTag || r.b[0]&0xf0 == spreadTag) {
			haveSpread = r.b[0]&0xf0 == spreadTag
			dec = r.decSum(s.Count, s.First.Float(), fd)
			sum = model.Float(dec.value())
		} else {
			sum = r.value(k)
		}
		s.SumFloat, s.SumInt, s.SumUint = sum.Float(), sum.Int(), sum.Uint()
		switch k {
		case model.KindFloat:
			s.SumInt, s.SumUint = 0, 0
		case model.KindInt:
			s.SumFloat, s.SumUint = 0, 0
		case model.KindUint:
			s.SumFloat, s.SumInt = 0, 0
		}
		switch {
		case b[0]&15 >= rowV5:
			// The exact sums: the sum read, the squares from the spread.
			sp := r.uvarint()
			m, ok := s.SumInt, true
			if k == model.KindUint {
				m, ok = int64(s.SumUint), s.SumUint < 1<<53
			}
			d := decSum{ok: true, m: m}
			if ok && m < 1<<53 && m > -(1<<53) {
				d, ok = d.withSpread(sp, s.Count)
			} else {
				ok = false
			}
			if !ok {
				r.err = true
			} else {
				dec, s.M2 = d, spreadM2(sp, s.Count, 0)
			}
		case haveSpread:
			sp := r.uvarint()
			var ok bool
			if dec, ok = dec.withSpread(sp, s.Count); !ok {
				r.err = true
			} else {
				s.M2 = spreadM2(sp, s.Count, dec.e)
			}
		case len(r.b) < 8:
			r.err = true
		default:
			s.M2 = math.Float64frombits(binary.LittleEndian.Uint64(r.b))
			r.b = r.b[8:]
		}
	}
	if k.Numeric() {
		switch {
		case !hasSketch(b[0]&15) || r.err:
		case !sketches:
			if len(r.b) == 0 {
				r.err = true // a version 4 row has a sketch
			}
			r.b = nil
		default:
			sk, rest, err := sketch.DecodeLazy(r.b)
			if err != nil || sk.Count() != n {
				return s, dec, errors.New("malformed rollup row: bad quantile sketch")
			}
			s.Sketch, r.b = sk, rest
		}
	}
	if r.err || len(r.b) != 0 || n == 0 || n > math.MaxInt32 || s.MaxTime < s.MinTime || s.MinTime < start || s.MaxTime > bucketEnd(l, start) {
		return s, dec, errors.New("malformed rollup row")
	}
	return s, dec, nil
}

// decSum reads a sum written by appendDecSum for a row of count values
// whose first is first.
func (r *rowReader) decSum(count int, first float64, fd firstDecimal) decSum {
	t := r.b[0] & 15
	r.b = r.b[1:]
	d := r.varint()
	e := fd.e + int(t)
	if r.err || !fd.ok || e > 9 {
		r.err = true
		return decSum{}
	}
	base, ok := fd.sumBase(first, count, e)
	if !ok {
		r.err = true
		return decSum{}
	}
	m := base + d
	if (d > 0 && m < base) || (d < 0 && m > base) || m >= 1<<53 || m <= -(1<<53) {
		r.err = true
		return decSum{}
	}
	return decSum{ok: true, e: e, m: m}
}
