package encoding

import (
	"encoding/binary"
	"sync"
)

// Integer transforms. The residuals of a transform are divided by their
// greatest common divisor g and zigzag-encoded into one stream:
//
//	raw    uvarint g, stream of zigzag(v[i]/g)                         (n values)
//	delta  varint v[0], uvarint g, stream of zigzag((v[i]-v[i-1])/g)  (n-1 values)
//	dod    varint v[0], varint v[1]-v[0], uvarint g,
//	       stream of zigzag((d[i]-d[i-1])/g), d[i] = v[i]-v[i-1]      (n-2 values)
//
// The head values and g are omitted when there are no residuals; an empty
// sequence has an empty body. All arithmetic wraps, so every int64
// sequence round-trips exactly.
const (
	transRaw   = 0
	transDelta = 1
	transDoD   = 2
)

// intPlan is a chosen transform with its residual stream.
type intPlan struct {
	trans int
	head  [2]int64
	g     uint64
	us    []uint64
	p     plan
	size  int
	// restarts is the restart table (restart.go), if the body has one.
	restarts []byte
}

// transByte is the body's transform as its tag or transform byte holds
// it: with restartFlag when the body has restart points.
func (ip *intPlan) transByte() byte {
	if ip.restarts != nil {
		return byte(ip.trans | restartFlag)
	}
	return byte(ip.trans)
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func absU(v int64) uint64 {
	if v < 0 {
		return -uint64(v)
	}
	return uint64(v)
}

// residualGCD returns the gcd of the residuals' magnitudes, or 1 when it
// would not help (all zero, or 2^63 which has no positive int64 form).
func residualGCD(rs []int64) uint64 {
	var g uint64
	for _, r := range rs {
		if r == 0 {
			continue
		}
		g = gcd(absU(r), g)
		if g == 1 {
			return 1
		}
	}
	if g == 0 || g > 1<<62 {
		return 1
	}
	return g
}

// planTrans computes the residuals of vs under trans into rs/us (scratch of
// len(vs)) and plans their stream.
func planTrans(vs []int64, trans int, rs []int64, us []uint64) intPlan {
	n := len(vs)
	ip := intPlan{trans: trans, g: 1}
	nh := 0
	switch trans {
	case transRaw:
		rs = append(rs[:0], vs...)
	case transDelta:
		nh = 1
		ip.head[0] = vs[0]
		rs = rs[:0]
		for i := 1; i < n; i++ {
			rs = append(rs, vs[i]-vs[i-1])
		}
	case transDoD:
		nh = 2
		ip.head[0] = vs[0]
		ip.head[1] = vs[1] - vs[0]
		rs = rs[:0]
		for i := 2; i < n; i++ {
			rs = append(rs, (vs[i]-vs[i-1])-(vs[i-1]-vs[i-2]))
		}
	}
	for i := range nh {
		ip.size += uvarintLen(zigzag(ip.head[i]))
	}
	if len(rs) == 0 {
		return ip
	}
	ip.g = residualGCD(rs)
	us = us[:len(rs)]
	if ip.g == 1 {
		for i, r := range rs {
			us[i] = zigzag(r)
		}
	} else {
		g := int64(ip.g)
		for i, r := range rs {
			us[i] = zigzag(r / g)
		}
	}
	ip.us = us
	ip.p = planStream(us, true)
	ip.size += uvarintLen(ip.g) + ip.p.size
	return ip
}

// intScratch is planInts' working memory: the residuals and two residual
// streams (the best plan's and the one being tried). AppendInts and
// AppendUints reuse it through scratchPool, since for the short sequences
// of rollup rows and sketches allocating it costs as much as planning.
type intScratch struct {
	rs []int64
	us [2][]uint64
}

var scratchPool = sync.Pool{New: func() any { return new(intScratch) }}

// maxPooled is the largest scratch (in values) returned to the pool.
const maxPooled = 1 << 13

// planInts tries the transforms that apply and keeps the smallest.
func planInts(vs []int64) intPlan {
	return planIntsIn(vs, new(intScratch))
}

// planIntsIn is planInts with scratch sc; the plan's stream lives in sc
// until it is appended.
func planIntsIn(vs []int64, sc *intScratch) intPlan {
	n := len(vs)
	if n == 0 {
		return intPlan{trans: transRaw}
	}
	if cap(sc.rs) < n {
		sc.rs = make([]int64, n)
		sc.us[0], sc.us[1] = nil, nil
	}
	rs := sc.rs[:n]
	bufs := &sc.us
	if cap(bufs[0]) < n {
		bufs[0] = make([]uint64, n)
	}
	best := planTrans(vs, transRaw, rs, bufs[0][:n])
	spare := 1
	for _, t := range []int{transDelta, transDoD} {
		if t == transDoD && n < 2 {
			break
		}
		if cap(bufs[spare]) < n {
			bufs[spare] = make([]uint64, n)
		}
		ip := planTrans(vs, t, rs, bufs[spare][:n])
		if ip.size < best.size {
			best = ip
			spare ^= 1
		}
	}
	return best
}

func appendIntBody(dst []byte, ip *intPlan) []byte {
	nh := ip.trans // transRaw has no head, delta one, dod two
	for i := range nh {
		dst = binary.AppendVarint(dst, ip.head[i])
	}
	if len(ip.us) == 0 {
		return dst
	}
	dst = binary.AppendUvarint(dst, ip.g)
	dst = append(dst, ip.restarts...)
	return appendPlanned(dst, ip.us, ip.p)
}

// readIntBody decodes n values of the given transform into out (len n).
func readIntBody[T ~int64 | ~uint64](r *reader, out []T, trans int) {
	readIntBodyPrefix(r, out, len(out), trans)
}

// readIntBodyPrefix decodes the first len(out) of n values (len(out) ≤ n)
// of the given transform into out, reading no further into the stream than
// they need (prefix.go).
func readIntBodyPrefix[T ~int64 | ~uint64](r *reader, out []T, n int, trans int) {
	readIntBodyFrom(r, out, n, trans, 0)
}

// readIntBodyFrom decodes the values before row len(out) (≤ n) of a body
// of n values, from a row at or before from (≤ len(out)): the start (row
// 0) or, for a body with restart points (restart.go), the last point at
// or before from. It returns that row, whose value it puts in out[0], the
// next row's in out[1] and so on.
func readIntBodyFrom[T ~int64 | ~uint64](r *reader, out []T, n int, trans int, from int) int {
	restarts := trans&restartFlag != 0
	trans &^= restartFlag
	k := len(out)
	if k == 0 {
		return 0
	}
	nh := min(trans, n)
	var head [2]int64
	for i := range nh {
		head[i] = r.varint("head value")
	}
	if k <= nh {
		out[0] = T(head[0])
		if k == 2 {
			out[1] = T(head[0] + head[1])
		}
		return 0
	}
	g := r.uvarint("gcd")
	if r.err != nil {
		return 0
	}
	if g == 0 || g > 1<<62 {
		r.fail(corrupt("gcd %d", g))
		return 0
	}
	m := n - nh // residuals
	var at restartPoint
	var check []restartPoint
	if restarts {
		if n <= nh {
			r.fail(corrupt("restart points in a body of %d values", n))
			return 0
		}
		var all *[]restartPoint
		if from == 0 && k == n {
			all = &check // a whole decode checks every point
		}
		at = readRestarts(r, m, trans, head, from, all)
		if r.err != nil {
			return 0
		}
	}
	if at.res == 0 {
		readIntResiduals(r, out, n, m, trans, head, g)
		if r.err == nil && len(check) > 0 {
			checkRestarts(r, out, check, trans)
		}
		return 0
	}
	// From restart point at: out[0] is its row, out[1:] the rows after it
	// up to row k (exclusive), made by residuals at.res on (raw: out[0]
	// too).
	rows := k - at.row
	first := 1
	if trans == transRaw {
		first = 0
	}
	rest := out[first:rows]
	readStreamAt(r, asUint64s(rest), true, seekPoint{skip: at.skip, state: at.state, index: at.res, total: m})
	if r.err != nil {
		return 0
	}
	integrate(out[:rows], trans, at.v, at.d, g)
	return at.row
}

// readIntResiduals decodes the first len(out) of n values from the
// body's stream of m residuals (after g and any restart table).
func readIntResiduals[T ~int64 | ~uint64](r *reader, out []T, n, m, trans int, head [2]int64, g uint64) {
	k := len(out)
	nh := n - m
	rest := out[nh:]
	if k == n {
		readStreamT(r, rest, true)
	} else {
		readStreamPrefix(r, asUint64s(rest), m)
	}
	if r.err != nil {
		return
	}
	if trans == transDoD {
		out[0] = T(head[0])
		integrate(out[1:], transDoD, head[0]+head[1], head[1], g)
		return
	}
	integrate(out, trans, head[0], 0, g)
}

// integrate turns the residuals of a transform into values: out[0] is
// the value v (for dod with the step d to it) of the row before the
// residuals in out[1:], which become the rows after it; for raw, every
// element of out is a residual.
func integrate[T ~int64 | ~uint64](out []T, trans int, v, d int64, g uint64) {
	gi := int64(g)
	switch trans {
	case transRaw:
		for i, u := range out {
			out[i] = T(unzigzag(uint64(u)) * gi)
		}
	case transDelta:
		out[0] = T(v)
		for i := 1; i < len(out); i++ {
			v += unzigzag(uint64(out[i])) * gi
			out[i] = T(v)
		}
	case transDoD:
		out[0] = T(v)
		for i := 1; i < len(out); i++ {
			d += unzigzag(uint64(out[i])) * gi
			v += d
			out[i] = T(v)
		}
	}
}

// checkRestarts checks the running values of the restart points of a
// body of transform trans against the whole decoded body out.
func checkRestarts[T ~int64 | ~uint64](r *reader, out []T, points []restartPoint, trans int) {
	if trans == transRaw {
		return
	}
	for _, p := range points {
		if p.row >= len(out) || int64(out[p.row]) != p.v ||
			trans == transDoD && int64(out[p.row])-int64(out[p.row-1]) != p.d {
			r.fail(corrupt("restart point at row %d does not match the values", p.row))
			return
		}
	}
}

// readStream's generic form: decode into int64 or uint64 storage.
func readStreamT[T ~int64 | ~uint64](r *reader, out []T, allowSparse bool) {
	readStream(r, asUint64s(out), allowSparse)
}

// AppendInts appends the encoding of vs to dst and returns the result.
func AppendInts(dst []byte, vs []int64) []byte {
	if len(vs) > MaxBlockLen {
		return appendChunked(dst, vs, AppendInts)
	}
	sc := scratchPool.Get().(*intScratch)
	ip := planIntsIn(vs, sc)
	planRestarts(&ip, vs)
	dst = append(dst, tagIntRaw+ip.transByte())
	dst = binary.AppendUvarint(dst, uint64(len(vs)))
	dst = appendIntBody(dst, &ip)
	putScratch(sc)
	return dst
}

func putScratch(sc *intScratch) {
	if cap(sc.rs) <= maxPooled {
		scratchPool.Put(sc)
	}
}

// DecodeInts appends the values encoded in src to dst. On error it returns
// dst unchanged and an error wrapping ErrCorrupt.
func DecodeInts(dst []int64, src []byte) ([]int64, error) {
	return decodeInts(dst, src, tagIntRaw, -1)
}

// AppendUints appends the encoding of vs to dst and returns the result.
// Values are coded as their int64 bit patterns with the integer schemes.
func AppendUints(dst []byte, vs []uint64) []byte {
	if len(vs) > MaxBlockLen {
		return appendChunked(dst, vs, AppendUints)
	}
	sc := scratchPool.Get().(*intScratch)
	ip := planIntsIn(asInt64s(vs), sc)
	planRestarts(&ip, asInt64s(vs))
	dst = append(dst, tagUintRaw+ip.transByte())
	dst = binary.AppendUvarint(dst, uint64(len(vs)))
	dst = appendIntBody(dst, &ip)
	putScratch(sc)
	return dst
}

// DecodeUints appends the values encoded in src to dst. On error it returns
// dst unchanged and an error wrapping ErrCorrupt.
func DecodeUints(dst []uint64, src []byte) ([]uint64, error) {
	return decodeInts(dst, src, tagUintRaw, -1)
}

// decodeInts decodes all the values of src (k < 0), or the first k.
func decodeInts[T ~int64 | ~uint64](dst []T, src []byte, base byte, k int) ([]T, error) {
	if len(src) == 0 {
		return dst, corrupt("empty block")
	}
	if src[0] == tagChunked {
		return chunkedPrefix(dst, src, k, func(d []T, s []byte) ([]T, error) {
			return decodeInts(d, s, base, -1)
		})
	}
	tag := src[0]
	if tag < base || tag > base+(transDoD|restartFlag) || tag-base == transDoD+1 {
		return dst, corrupt("tag %#x is not an integer scheme", tag)
	}
	r := reader{src: src, off: 1}
	n := r.count("count")
	if r.err != nil {
		return dst, r.err
	}
	all := k < 0
	if all {
		k = n
	} else if k > n {
		return dst, corrupt("%d values, %d wanted", n, k)
	}
	start := len(dst)
	dst = grow(dst, k)
	readIntBodyPrefix(&r, dst[start:], n, int(tag-base))
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

// grow extends s by n elements (contents unspecified). When it must
// reallocate it at least doubles the capacity, so a caller that appends
// block after block to one slice copies each value a bounded number of
// times, not once per block.
func grow[T any](s []T, n int) []T {
	if cap(s)-len(s) < n {
		ns := make([]T, len(s), max(len(s)+n, 2*cap(s)))
		copy(ns, s)
		s = ns
	}
	return s[:len(s)+n]
}
