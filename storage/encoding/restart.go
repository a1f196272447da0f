package encoding

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// Restart points. A long integer body (more than 2 × restartEvery
// residuals, as in the large blocks of compacted files) whose stream is
// bit-coded (packBits, packVarbit, packHuff or packClass) records, every
// restartEvery residuals, where the residual's code starts and the
// transform's running values there, so that a reader wanting values from
// the middle of the block (a query window that starts inside it) decodes
// from the restart point before them instead of from the block's start.
// The transform byte (or tag) carries restartFlag; the body is the plain
// body with, after g,
//
//	uvarint 2R + s (R residuals between restart points, ≥ 1; s 0, as
//	        below, for the bit-coded streams this package writes them for)
//	J = ⌈m / R⌉ − 1 entries, for j = 1 … J (m residuals):
//	  uvarint  b_j − b_(j−1)   bit offset, in the stream's codes, of residual j·R (b_0 = 0)
//	  delta:   varint v[jR] − v[(j−1)R]
//	  dod:     varint v[jR+1] − v[(j−1)R+1], varint d[jR+1] − d[(j−1)R+1]
//	           (d[i] = v[i] − v[i−1]; row jR+1 is the row before residual jR)
//	  raw:     nothing
//
// followed by the stream. A restart point costs about three bytes per
// restartEvery values. Decoding the whole body checks the running values
// of every restart point against the decoded values; the bit offsets are
// only followed.
const (
	restartFlag  = 4
	restartEvery = 1024
)

// seekable reports whether a stream of packing kind can be entered at a
// bit offset of its codes.
func seekable(kind int) bool {
	switch kind {
	case packBits, packVarbit, packHuff, packClass:
		return true
	}
	return false
}

// restartRow is the row whose value (and for dod, whose step) restart
// point j of a body of transform trans records: the row before residual
// j·R.
func restartRow(trans, j, R int) int {
	switch trans {
	case transDelta:
		return j * R
	case transDoD:
		return j*R + 1
	}
	return j * R // raw: residual jR is row jR
}

// valueBits is the number of bits the bit-coded plan p spends on u.
func valueBits(p *plan, u uint64) uint64 {
	switch p.kind {
	case packBits:
		return uint64(p.w)
	case packVarbit:
		l := uint(bits.Len64(u - p.min))
		switch {
		case l <= p.ws[0]:
			return uint64(1 + p.ws[0])
		case p.nw == 2:
			return uint64(1 + p.ws[1])
		case l <= p.ws[1]:
			return uint64(2 + p.ws[1])
		default:
			return uint64(2 + p.ws[2])
		}
	case packHuff:
		i, _ := slices.BinarySearch(p.huff.syms[:p.huff.k], u)
		return uint64(p.huff.lens[i])
	case packClass:
		c, extra := classOf(u - p.cls.min)
		return uint64(p.cls.lens[c]) + uint64(extra)
	}
	return 0
}

// planRestarts adds restart points to ip, planned for vs, when its
// stream is long and bit-coded: the table goes into ip.restarts and its
// size into ip.size.
func planRestarts(ip *intPlan, vs []int64) {
	m := len(ip.us)
	if m <= 2*restartEvery || !seekable(ip.p.kind) {
		return
	}
	R := restartEvery
	t := make([]byte, 0, 4*(m/R+1))
	t = binary.AppendUvarint(t, 2*uint64(R))
	var off, prevOff uint64
	prevRow := restartRow(ip.trans, 0, R)
	for i, u := range ip.us {
		if i > 0 && i%R == 0 {
			j := i / R
			row := restartRow(ip.trans, j, R)
			t = binary.AppendUvarint(t, off-prevOff)
			switch ip.trans {
			case transDelta:
				t = binary.AppendVarint(t, vs[row]-vs[prevRow])
			case transDoD:
				t = binary.AppendVarint(t, vs[row]-vs[prevRow])
				t = binary.AppendVarint(t, (vs[row]-vs[row-1])-(vs[prevRow]-vs[prevRow-1]))
			}
			prevOff, prevRow = off, row
		}
		off += valueBits(&ip.p, u)
	}
	ip.restarts = t
	ip.size += len(t)
}

// restartPoint is where to enter a body: residual index res, from the
// row row whose value (and step) are v (and d), skip bits into the codes.
type restartPoint struct {
	res, row int
	v, d     int64
	skip     uint64
}

// readRestarts reads a body's restart table (after g) for m residuals of
// transform trans whose first rows hold head, and returns the last
// restart point at or before row from (the start when from is 0) and, in
// all, every point's row and values when all is not nil (for checking a
// whole decode).
func readRestarts(r *reader, m, trans int, head [2]int64, from int, all *[]restartPoint) restartPoint {
	rs := r.uvarint("restart interval")
	if r.err != nil {
		return restartPoint{}
	}
	R := rs / 2
	if rs&1 != 0 || R == 0 || R > uint64(m) {
		r.fail(corrupt("restart interval %d (form %d) for %d residuals", R, rs&1, m))
		return restartPoint{}
	}
	J := (m+int(R)-1)/int(R) - 1
	cur := restartPoint{row: restartRow(trans, 0, int(R))}
	switch trans {
	case transDelta:
		cur.v = head[0]
	case transDoD:
		cur.v, cur.d = head[0]+head[1], head[1]
	}
	best := cur
	for j := 1; j <= J; j++ {
		cur.skip += r.uvarint("restart offset")
		cur.res = j * int(R)
		cur.row = restartRow(trans, j, int(R))
		switch trans {
		case transDelta:
			cur.v += r.varint("restart value")
		case transDoD:
			cur.v += r.varint("restart value")
			cur.d += r.varint("restart step")
		}
		if r.err != nil {
			return restartPoint{}
		}
		if cur.row <= from {
			best = cur
		}
		if all != nil {
			*all = append(*all, cur)
		}
	}
	return best
}
