package encoding

import (
	"encoding/binary"
	"slices"
)

// Timestamps use the integer transforms (tags tagTimesDelta and
// tagTimesDoD, bodies as in ints.go) or the grid scheme, tagTimesGrid,
// which models the block as a regular grid b + k·s with per-point slot
// increments and small residuals:
//
//	varint t[0]; if n ≥ 2:
//	uvarint s, varint c, uvarint g,
//	stream of zigzag(k[i]-k[i-1]-1)   (n-1 values)
//	stream of zigzag(r[i]/g)          (n-1 values)
//
// with b = t[0]+c, k[0] = 0 and t[i] = b + k[i]·s + r[i] for i ≥ 1.
// A regular series costs a handful of bytes per block; missing points are
// sparse non-zero slot increments; jittered points are sparse residuals.

// AppendTimes appends the encoding of ts to dst and returns the result.
// Timestamps are expected to be strictly increasing (that is what the
// schemes are tuned for), but any sequence round-trips exactly.
func AppendTimes(dst []byte, ts []int64) []byte {
	if len(ts) > MaxBlockLen {
		return appendChunked(dst, ts, AppendTimes)
	}
	if len(ts) == 0 {
		return append(dst, tagTimesDelta, 0)
	}
	ip := planInts(ts)
	if ip.trans == transRaw {
		// Raw values are never better for times than deltas, but delta
		// is the scheme times use; re-plan it.
		rs := make([]int64, len(ts))
		ip = planTrans(ts, transDelta, rs, make([]uint64, len(ts)))
	}
	// A constant residual stream (regular data) cannot be beaten by much.
	if ip.p.kind == packConst {
		dst = append(dst, tagTimesDelta+byte(ip.trans-transDelta))
		dst = binary.AppendUvarint(dst, uint64(len(ts)))
		return appendIntBody(dst, &ip)
	}
	gp, ok := planGrid(ts)
	if ok && gp.size < ip.size {
		dst = append(dst, tagTimesGrid)
		dst = binary.AppendUvarint(dst, uint64(len(ts)))
		return appendGrid(dst, &gp)
	}
	dst = append(dst, tagTimesDelta+byte(ip.trans-transDelta))
	dst = binary.AppendUvarint(dst, uint64(len(ts)))
	return appendIntBody(dst, &ip)
}

type gridPlan struct {
	t0     int64
	s      int64
	c      int64
	g      uint64
	ks, rs []uint64
	kp, rp plan
	size   int
}

// roundDiv returns x/s rounded to the nearest integer (s > 0).
func roundDiv(x, s int64) int64 {
	q, r := x/s, x%s
	if r < 0 {
		q--
		r += s
	}
	if r >= s-r {
		q++
	}
	return q
}

func median(xs []int64) int64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// planGrid tries the median step and a rounded ("nice") step.
func planGrid(ts []int64) (gridPlan, bool) {
	n := len(ts)
	if n < 3 {
		return gridPlan{}, false
	}
	tmp := make([]int64, n-1)
	for i := 1; i < n; i++ {
		tmp[i-1] = ts[i] - ts[i-1]
	}
	m := median(tmp)
	if m <= 0 || m > 1<<62 {
		return gridPlan{}, false
	}
	steps := []int64{m}
	for q := int64(1e18); q >= 10; q /= 10 {
		r := roundDiv(m, q) * q
		if r > 0 && absU(r-m)*100 <= uint64(m) {
			if r != m {
				steps = append(steps, r)
			}
			break
		}
	}
	var best gridPlan
	ok := false
	for _, s := range steps {
		gp := gridWith(ts, s, tmp)
		if !ok || gp.size < best.size {
			best, ok = gp, true
		}
	}
	return best, ok
}

// gridWith plans the grid of step s; tmp is scratch of len(ts)-1.
func gridWith(ts []int64, s int64, tmp []int64) gridPlan {
	n := len(ts)
	gp := gridPlan{t0: ts[0], s: s}
	// Centre the grid on the median residual so that exact points cost 0.
	for i := 1; i < n; i++ {
		x := ts[i] - ts[0]
		tmp[i-1] = x - roundDiv(x, s)*s
	}
	gp.c = median(tmp)
	b := ts[0] + gp.c
	ks := make([]uint64, n-1)
	rs := tmp
	var prev int64
	for i := 1; i < n; i++ {
		x := ts[i] - b
		k := roundDiv(x, s)
		ks[i-1] = zigzag(k - prev - 1)
		rs[i-1] = x - k*s
		prev = k
	}
	gp.g = residualGCD(rs)
	us := make([]uint64, n-1)
	g := int64(gp.g)
	for i, r := range rs {
		us[i] = zigzag(r / g)
	}
	gp.ks, gp.rs = ks, us
	gp.kp = planStream(ks, true)
	gp.rp = planStream(us, true)
	gp.size = 1 + uvarintLen(uint64(n)) + uvarintLen(zigzag(gp.t0)) + uvarintLen(uint64(s)) +
		uvarintLen(zigzag(gp.c)) + uvarintLen(gp.g) + gp.kp.size + gp.rp.size
	return gp
}

func appendGrid(dst []byte, gp *gridPlan) []byte {
	dst = binary.AppendVarint(dst, gp.t0)
	dst = binary.AppendUvarint(dst, uint64(gp.s))
	dst = binary.AppendVarint(dst, gp.c)
	dst = binary.AppendUvarint(dst, gp.g)
	dst = appendPlanned(dst, gp.ks, gp.kp)
	return appendPlanned(dst, gp.rs, gp.rp)
}

// DecodeTimes appends the timestamps encoded in src to dst. On error it
// returns dst unchanged and an error wrapping ErrCorrupt.
func DecodeTimes(dst []int64, src []byte) ([]int64, error) {
	if len(src) == 0 {
		return dst, corrupt("empty block")
	}
	tag := src[0]
	switch tag {
	case tagChunked:
		return decodeChunked(dst, src[1:], DecodeTimes)
	case tagTimesDelta, tagTimesDoD, tagTimesGrid:
	default:
		return dst, corrupt("tag %#x is not a timestamp scheme", tag)
	}
	r := reader{src: src, off: 1}
	n := r.count("count")
	if r.err != nil {
		return dst, r.err
	}
	start := len(dst)
	dst = grow(dst, n)
	out := dst[start:]
	if tag == tagTimesGrid {
		readGrid(&r, out)
	} else {
		readIntBody(&r, out, transDelta+int(tag-tagTimesDelta))
	}
	if err := r.done(); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

func readGrid(r *reader, out []int64) {
	n := len(out)
	if n == 0 {
		return
	}
	t0 := r.varint("first time")
	out[0] = t0
	if n == 1 {
		return
	}
	s := int64(r.uvarint("grid step"))
	c := r.varint("grid offset")
	g := r.uvarint("grid gcd")
	if r.err != nil {
		return
	}
	if g == 0 || g > 1<<62 {
		r.fail(corrupt("grid gcd %d", g))
		return
	}
	ks := make([]uint64, n-1)
	readStream(r, ks, true)
	rs := asUint64s(out[1:])
	readStream(r, rs, true)
	if r.err != nil {
		return
	}
	b := t0 + c
	var k int64
	gi := int64(g)
	for i := 1; i < n; i++ {
		k += unzigzag(ks[i-1]) + 1
		out[i] = b + k*s + unzigzag(rs[i-1])*gi
	}
}
