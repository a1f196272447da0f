package encoding

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// Float schemes:
//
//	tagFloatConst    8 bytes (little-endian bits of the single value)
//	tagFloatDecimal  byte e (int8), byte transform, integer body of m
//	                 (ints.go); v[i] = float64(m[i]) · 10^e, computed as
//	                 float64(m)/10^-e for e < 0 and float64(m)*10^e otherwise
//	tagFloatGorilla  Gorilla XOR bit stream (see appendGorilla)
//	tagFloatRaw      n × 8 bytes, little-endian bits
//
// The decimal scheme is taken only when every value survives the round trip
// bit for bit; the encoder checks each one.

const (
	minDecExp = -15
	maxDecExp = 18
)

var pow10 = func() (p [23]float64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// decimalValue returns float64(m)·10^e as the decoder computes it.
func decimalValue(m int64, e int) float64 {
	if e < 0 {
		return float64(m) / pow10[-e]
	}
	return float64(m) * pow10[e]
}

// mantissa returns m with decimalValue(m, e) bit-identical to v, if there
// is one with |m| < 2^53.
func mantissa(v float64, e int) (int64, bool) {
	var f float64
	if e < 0 {
		f = math.Round(v * pow10[-e])
	} else {
		f = math.Round(v / pow10[e])
	}
	if !(math.Abs(f) < 1<<53) {
		return 0, false
	}
	m := int64(f)
	return m, math.Float64bits(decimalValue(m, e)) == math.Float64bits(v)
}

// decimals finds the exponent e and mantissas ms (len(vs)) for the decimal
// scheme, or reports that the block has no exact decimal form. It prefers
// the largest e, so the mantissas are as small as possible: first among
// e ≥ 0 (integers, stripping trailing zeros), then among e < 0.
func decimals(vs []float64, ms []int64) (int, bool) {
	e := maxDecExp
	for _, v := range vs {
		for e >= 0 {
			if _, ok := mantissa(v, e); ok {
				break
			}
			e--
		}
		if e < 0 {
			break
		}
	}
	if e < 0 {
		e = -1
		for _, v := range vs {
			for {
				if _, ok := mantissa(v, e); ok {
					break
				}
				e--
				if e < minDecExp {
					return 0, false
				}
			}
		}
	}
	for i, v := range vs {
		m, ok := mantissa(v, e)
		if !ok {
			return 0, false
		}
		ms[i] = m
	}
	return e, true
}

// AppendFloats appends the encoding of vs to dst and returns the result.
// The round trip is bit-exact for every float64, including NaN payloads,
// -0 and infinities.
func AppendFloats(dst []byte, vs []float64) []byte {
	if len(vs) > MaxBlockLen {
		return appendChunked(dst, vs, AppendFloats)
	}
	n := len(vs)
	head := func(dst []byte, tag byte) []byte {
		dst = append(dst, tag)
		return binary.AppendUvarint(dst, uint64(n))
	}
	if n == 0 {
		return head(dst, tagFloatRaw)
	}
	first := math.Float64bits(vs[0])
	same := true
	for _, v := range vs[1:] {
		if math.Float64bits(v) != first {
			same = false
			break
		}
	}
	if same {
		return binary.LittleEndian.AppendUint64(head(dst, tagFloatConst), first)
	}
	start := len(dst)
	hdr := 1 + uvarintLen(uint64(n))
	rawSize := hdr + 8*n
	decSize := -1
	ms := make([]int64, n)
	if e, ok := decimals(vs, ms); ok {
		ip := planInts(ms)
		planRestarts(&ip, ms)
		dst = head(dst, tagFloatDecimal)
		dst = append(dst, byte(int8(e)), ip.transByte())
		dst = appendIntBody(dst, &ip)
		decSize = len(dst) - start
		// Decimal at ≤ 1 byte per value is not worth a Gorilla attempt.
		if decSize <= hdr+n {
			return dst
		}
	}
	g := appendGorilla(head(nil, tagFloatGorilla), vs)
	if decSize >= 0 && decSize <= len(g) && decSize <= rawSize {
		return dst
	}
	dst = dst[:start]
	if len(g) <= rawSize {
		return append(dst, g...)
	}
	dst = head(dst, tagFloatRaw)
	for _, v := range vs {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
	}
	return dst
}

// appendGorilla writes the XOR scheme of Pelkonen et al. (VLDB 2015): the
// first value in 64 bits, then per value the XOR x with its predecessor:
// '0' if x == 0; '10' and the meaningful bits if they fit the previous
// window; else '11', 6 bits of leading zeros, 6 bits of (length-1) and the
// length meaningful bits. The encoder opens a new window when that is
// cheaper than reusing the old one.
func appendGorilla(dst []byte, vs []float64) []byte {
	bw := bitWriter{buf: dst}
	prev := math.Float64bits(vs[0])
	bw.write(prev, 64)
	lead, trail := uint(65), uint(0) // no window yet
	for _, v := range vs[1:] {
		cur := math.Float64bits(v)
		x := cur ^ prev
		prev = cur
		if x == 0 {
			bw.write(0, 1)
			continue
		}
		l, t := uint(bits.LeadingZeros64(x)), uint(bits.TrailingZeros64(x))
		sig := 64 - l - t
		if lead <= l && trail <= t && 64-lead-trail <= sig+12 {
			bw.write(2, 2)
			bw.write(x>>trail, 64-lead-trail)
			continue
		}
		lead, trail = l, t
		bw.write(3, 2)
		bw.write(uint64(l), 6)
		bw.write(uint64(sig-1), 6)
		bw.write(x>>t, sig)
	}
	return bw.finish()
}

func readGorilla(r *reader, out []float64) {
	br := newBitReader(r.rest())
	prev := br.read(64)
	out[0] = math.Float64frombits(prev)
	lead, trail := uint(65), uint(0)
	for i := 1; i < len(out); i++ {
		if br.readBit() {
			if !br.readBit() {
				if lead > 64 {
					r.fail(corrupt("gorilla window reused before set"))
					return
				}
				prev ^= br.read(64-lead-trail) << trail
			} else {
				l := uint(br.read(6))
				sig := uint(br.read(6)) + 1
				if l+sig > 64 {
					r.fail(corrupt("gorilla window %d+%d exceeds 64 bits", l, sig))
					return
				}
				lead, trail = l, 64-l-sig
				prev ^= br.read(sig) << trail
			}
		}
		out[i] = math.Float64frombits(prev)
		if br.overrun {
			break
		}
	}
	if br.overrun {
		r.fail(corrupt("truncated gorilla stream"))
		return
	}
	r.off += br.consumed()
}

// DecodeFloats appends the values encoded in src to dst. On error it
// returns dst unchanged and an error wrapping ErrCorrupt.
func DecodeFloats(dst []float64, src []byte) ([]float64, error) {
	return decodeFloats(dst, src, -1)
}

// decodeFloats is DecodeFloats of all the values (k < 0), or of the first
// k (DecodeFloatsPrefix).
func decodeFloats(dst []float64, src []byte, k int) ([]float64, error) {
	if len(src) == 0 {
		return dst, corrupt("empty block")
	}
	tag := src[0]
	switch tag {
	case tagChunked:
		return chunkedPrefix(dst, src, k, DecodeFloats)
	case tagFloatConst, tagFloatDecimal, tagFloatGorilla, tagFloatRaw:
	default:
		return dst, corrupt("tag %#x is not a float scheme", tag)
	}
	r := reader{src: src, off: 1}
	n := r.count("count")
	if r.err != nil {
		return dst, r.err
	}
	if tag == tagFloatRaw && uint64(n)*8 > uint64(len(r.rest())) {
		return dst, corrupt("truncated raw floats")
	}
	all := k < 0
	if all {
		k = n
	} else if k > n {
		return dst, corrupt("%d values, %d wanted", n, k)
	}
	start := len(dst)
	dst = grow(dst, k)
	out := dst[start:]
	switch {
	case k == 0:
	case tag == tagFloatConst:
		b := r.bytes(8, "const value")
		if r.err == nil {
			v := math.Float64frombits(binary.LittleEndian.Uint64(b))
			for i := range out {
				out[i] = v
			}
		}
	case tag == tagFloatRaw:
		b := r.bytes(uint64(n)*8, "raw values")
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
	case tag == tagFloatDecimal:
		e := int(int8(r.byte1("exponent")))
		trans := int(r.byte1("transform"))
		if r.err != nil {
			break
		}
		if e < minDecExp || e > maxDecExp || trans&^restartFlag > transDoD {
			r.fail(corrupt("decimal exponent %d transform %d", e, trans))
			break
		}
		ms := asInt64s(asUint64s(asFloatBits(out)))
		readIntBodyPrefix(&r, ms, n, trans)
		if r.err == nil {
			for i, m := range ms {
				out[i] = decimalValue(m, e)
			}
		}
	case tag == tagFloatGorilla:
		readGorilla(&r, out)
	}
	if !all {
		// The rest of the stream is not read: only errors in what was.
		if r.err != nil {
			return dst[:start], r.err
		}
		return dst, nil
	}
	if err := r.done(); err != nil {
		return dst[:start], err
	}
	return dst, nil
}
