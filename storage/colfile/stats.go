package colfile

import (
	"encoding/binary"
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

// appendStats appends the kind-specific statistics of b to an index.
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

// stats reads the kind-specific statistics written by appendStats into b.
// It leaves a structural problem in d.err and returns false for values that
// decode but are impossible (min above max, bool padding bits).
func (d *decoder) stats(kind model.Kind, b *BlockInfo) bool {
	b.Stats = true
	switch kind {
	case model.KindFloat:
		var v [5]float64
		for i := range v {
			v[i] = math.Float64frombits(d.uint64())
		}
		b.First, b.Last, b.Min, b.Max, b.SumFloat = model.Float(v[0]), model.Float(v[1]), model.Float(v[2]), model.Float(v[3]), v[4]
		return !(v[2] > v[3])
	case model.KindInt:
		var v [5]int64
		for i := range v {
			v[i] = d.varint()
		}
		b.First, b.Last, b.Min, b.Max, b.SumInt = model.Int(v[0]), model.Int(v[1]), model.Int(v[2]), model.Int(v[3]), v[4]
		return v[2] <= min(v[0], v[1]) && max(v[0], v[1]) <= v[3]
	case model.KindUint:
		var v [5]uint64
		for i := range v {
			v[i] = d.uvarint()
		}
		b.First, b.Last, b.Min, b.Max, b.SumUint = model.Uint(v[0]), model.Uint(v[1]), model.Uint(v[2]), model.Uint(v[3]), v[4]
		return v[2] <= min(v[0], v[1]) && max(v[0], v[1]) <= v[3]
	case model.KindBool:
		flags := d.byte()
		b.First, b.Last = model.Bool(flags&1 != 0), model.Bool(flags&2 != 0)
		return flags <= 3
	case model.KindString:
		b.First, b.Last = model.String(d.string()), model.String(d.string())
	}
	return true
}
