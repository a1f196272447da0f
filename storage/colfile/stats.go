package colfile

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/soltixdb/soltix/model"
)

// blockStats computes the index entry of a valid, non-empty block, with
// the statistics documented on BlockInfo.
func blockStats(c *model.Column) BlockInfo {
	n := len(c.Times)
	b := BlockInfo{
		Count: n, MinTime: c.Times[0], MaxTime: c.Times[n-1], Stats: true,
		First: c.Value(0), Last: c.Value(n - 1),
	}
	switch c.Kind {
	case model.KindFloat:
		lo, hi := model.FloatRange(c.Floats)
		var sum float64
		for _, v := range c.Floats {
			sum += v
		}
		b.Min, b.Max, b.SumFloat = model.Float(lo), model.Float(hi), sum
	case model.KindInt:
		lo, hi := c.Ints[0], c.Ints[0]
		var sum int64
		for _, v := range c.Ints {
			sum += v
			lo, hi = min(lo, v), max(hi, v)
		}
		b.Min, b.Max, b.SumInt = model.Int(lo), model.Int(hi), sum
	case model.KindUint:
		lo, hi := c.Uints[0], c.Uints[0]
		var sum uint64
		for _, v := range c.Uints {
			sum += v
			lo, hi = min(lo, v), max(hi, v)
		}
		b.Min, b.Max, b.SumUint = model.Uint(lo), model.Uint(hi), sum
	}
	return b
}

// sameBlockInfo reports whether two block entries are identical, comparing
// floats bit for bit.
func sameBlockInfo(a, b *BlockInfo) bool {
	return a.Count == b.Count && a.MinTime == b.MinTime && a.MaxTime == b.MaxTime &&
		a.Stats == b.Stats && a.First.Equal(b.First) && a.Last.Equal(b.Last) &&
		a.Min.Equal(b.Min) && a.Max.Equal(b.Max) &&
		math.Float64bits(a.SumFloat) == math.Float64bits(b.SumFloat) &&
		a.SumInt == b.SumInt && a.SumUint == b.SumUint
}

// appendStats appends the kind-specific statistics of b to an index, in
// the plain form (8-byte floats).
func appendStats(dst []byte, kind model.Kind, b *BlockInfo) []byte {
	switch kind {
	case model.KindFloat:
		for _, f := range [...]float64{b.First.Float(), b.Last.Float(), b.Min.Float(), b.Max.Float(), b.SumFloat} {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
		}
	case model.KindInt:
		for _, v := range [...]int64{b.First.Int(), b.Last.Int(), b.Min.Int(), b.Max.Int(), b.SumInt} {
			dst = binary.AppendVarint(dst, v)
		}
	case model.KindUint:
		for _, v := range [...]uint64{b.First.Uint(), b.Last.Uint(), b.Min.Uint(), b.Max.Uint(), b.SumUint} {
			dst = binary.AppendUvarint(dst, v)
		}
	case model.KindBool:
		var flags byte
		if b.First.Bool() {
			flags |= 1
		}
		if b.Last.Bool() {
			flags |= 2
		}
		dst = append(dst, flags)
	case model.KindString:
		dst = appendString(dst, b.First.Str())
		dst = appendString(dst, b.Last.Str())
	}
	return dst
}

// Compact float statistics, the form of every block entry of a float
// column whose kind byte has kindCompactFloats. Sensor readings are short
// decimals (45.12345), so the statistics are stored as decimal mantissas
// with one scale per entry. An entry starts with a head byte:
//
//	0xff      plain: first, last, min, max, sum as f64, as appendStats
//	otherwise scale s = head & 0x1f (at most maxStatsScale) and
//	          bits 0x20, 0x40, 0x80: first, last, sum stored as f64
//	min       varint m, with min = float64(m) / 10^s and |m| < 2^53
//	max       uvarint M − m, with max = float64(M) / 10^s and M < 2^53
//	first     uvarint f − m ≤ M − m, first = float64(f) / 10^s; or f64
//	last      the same; or f64
//	sum       varint S − count·m (wrapping, 64 bits) and varint
//	          bits(sum) − bits(float64(S) / 10^s) (wrapping); or f64
//
// A value is written in decimal form only when decoding gives back its
// bits exactly (so −0, NaN and ±Inf are f64), and the sum only when that
// takes fewer than 8 bytes. The sum of decimals is rarely a decimal
// itself, but it lies within a few units in the last place of the
// nearest one, so the correction is a byte or two.
const (
	compactPlain    = 0xff
	compactScale    = 0x1f
	compactFirstF64 = 0x20
	compactLastF64  = 0x40
	compactSumF64   = 0x80
	// maxStatsScale is the largest scale: 10^22 is the largest power of
	// ten a float64 holds exactly.
	maxStatsScale = 22
	// maxMantissa bounds |mantissa|, so that float64(m) is exact.
	maxMantissa = 1<<53 - 1
)

// statsPow10[s] is 10^s, exactly.
var statsPow10 = func() (p [maxStatsScale + 1]float64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// mantissaAt returns m with float64(m)/10^s bit-identical to v, if there
// is one with |m| ≤ maxMantissa.
func mantissaAt(v float64, s int) (int64, bool) {
	f := math.Round(v * statsPow10[s])
	if !(math.Abs(f) <= maxMantissa) {
		return 0, false
	}
	m := int64(f)
	return m, math.Float64bits(float64(m)/statsPow10[s]) == math.Float64bits(v)
}

// appendCompactFloats appends the statistics of a float block b in the
// compact form.
func appendCompactFloats(dst []byte, b *BlockInfo) []byte {
	lo, hi := b.Min.Float(), b.Max.Float()
	s, mlo, mhi := 0, int64(0), int64(0)
	for ; s <= maxStatsScale; s++ {
		var okLo, okHi bool
		mlo, okLo = mantissaAt(lo, s)
		mhi, okHi = mantissaAt(hi, s)
		if okLo && okHi {
			break
		}
	}
	if s > maxStatsScale || mhi < mlo {
		dst = append(dst, compactPlain)
		return appendStats(dst, model.KindFloat, b)
	}
	head := len(dst)
	dst = append(dst, byte(s))
	dst = binary.AppendVarint(dst, mlo)
	dst = binary.AppendUvarint(dst, uint64(mhi-mlo))
	for i, v := range [2]float64{b.First.Float(), b.Last.Float()} {
		if m, ok := mantissaAt(v, s); ok && mlo <= m && m <= mhi {
			dst = binary.AppendUvarint(dst, uint64(m-mlo))
		} else {
			dst[head] |= compactFirstF64 << i
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
		}
	}
	if f := math.Round(b.SumFloat * statsPow10[s]); math.Abs(f) < 1<<62 {
		sum := int64(f)
		var buf [2 * binary.MaxVarintLen64]byte
		enc := binary.AppendVarint(buf[:0], sum-int64(b.Count)*mlo)
		enc = binary.AppendVarint(enc, int64(math.Float64bits(b.SumFloat)-math.Float64bits(float64(sum)/statsPow10[s])))
		if len(enc) < 8 {
			return append(dst, enc...)
		}
	}
	dst[head] |= compactSumF64
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(b.SumFloat))
}

// stats reads into b the kind-specific statistics of a block of count
// values, written by appendStats or, for compact, appendCompactFloats. It
// leaves a structural problem in d.err and returns an error for values
// that decode but are impossible (min above max, bool padding bits, a
// mantissa out of range).
func (d *decoder) stats(kind model.Kind, b *BlockInfo, count uint64, compact bool) error {
	b.Stats = true
	switch kind {
	case model.KindFloat:
		if compact {
			return d.compactFloats(b, count)
		}
		var v [5]float64
		for i := range v {
			v[i] = math.Float64frombits(d.uint64())
		}
		b.First, b.Last, b.Min, b.Max, b.SumFloat = model.Float(v[0]), model.Float(v[1]), model.Float(v[2]), model.Float(v[3]), v[4]
		if v[2] > v[3] {
			return fmt.Errorf("float min %v above max %v", v[2], v[3])
		}
	case model.KindInt:
		var v [5]int64
		for i := range v {
			v[i] = d.varint()
		}
		b.First, b.Last, b.Min, b.Max, b.SumInt = model.Int(v[0]), model.Int(v[1]), model.Int(v[2]), model.Int(v[3]), v[4]
		if !(v[2] <= min(v[0], v[1]) && max(v[0], v[1]) <= v[3]) {
			return fmt.Errorf("int first %d or last %d outside [min %d, max %d]", v[0], v[1], v[2], v[3])
		}
	case model.KindUint:
		var v [5]uint64
		for i := range v {
			v[i] = d.uvarint()
		}
		b.First, b.Last, b.Min, b.Max, b.SumUint = model.Uint(v[0]), model.Uint(v[1]), model.Uint(v[2]), model.Uint(v[3]), v[4]
		if !(v[2] <= min(v[0], v[1]) && max(v[0], v[1]) <= v[3]) {
			return fmt.Errorf("uint first %d or last %d outside [min %d, max %d]", v[0], v[1], v[2], v[3])
		}
	case model.KindBool:
		flags := d.byte()
		b.First, b.Last = model.Bool(flags&1 != 0), model.Bool(flags&2 != 0)
		if flags > 3 {
			return fmt.Errorf("bool flags %#x", flags)
		}
	case model.KindString:
		b.First, b.Last = model.String(d.string()), model.String(d.string())
	}
	return nil
}

// compactFloats reads the statistics written by appendCompactFloats.
func (d *decoder) compactFloats(b *BlockInfo, count uint64) error {
	head := d.byte()
	if head == compactPlain {
		return d.stats(model.KindFloat, b, count, false)
	}
	s := int(head & compactScale) // 0 if d.err is set
	if s > maxStatsScale {
		return fmt.Errorf("compact float statistics: scale %d above %d", s, maxStatsScale)
	}
	p := statsPow10[s]
	mlo := d.varint()
	span := d.uvarint()
	if d.err != nil {
		return nil
	}
	if mlo < -maxMantissa || mlo > maxMantissa || span > uint64(maxMantissa-mlo) {
		return fmt.Errorf("compact float statistics: min mantissa %d and span %d leave [-2^53, 2^53]", mlo, span)
	}
	mhi := mlo + int64(span)
	b.Min, b.Max = model.Float(float64(mlo)/p), model.Float(float64(mhi)/p)
	var v [2]float64
	for i := range v {
		if head&(compactFirstF64<<i) != 0 {
			v[i] = math.Float64frombits(d.uint64())
			continue
		}
		delta := d.uvarint()
		if d.err == nil && delta > span {
			return fmt.Errorf("compact float statistics: %s is %d above min, max only %d", [2]string{"first", "last"}[i], delta, span)
		}
		v[i] = float64(mlo+int64(delta)) / p
	}
	b.First, b.Last = model.Float(v[0]), model.Float(v[1])
	if head&compactSumF64 != 0 {
		b.SumFloat = math.Float64frombits(d.uint64())
		return nil
	}
	sum := d.varint() + int64(count)*mlo
	b.SumFloat = math.Float64frombits(math.Float64bits(float64(sum)/p) + uint64(d.varint()))
	return nil
}
