package encoding

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
)

// Restart points. A long integer body (more than 2 × restartEvery
// residuals, as in the large blocks of compacted files) whose stream is
// bit-coded (packBits, packVarbit, packHuff or packClass) or rANS-coded
// (packANS, whose points carry the decoder's state) records, every
// restartEvery residuals, where the residual's code starts and the
// transform's running values there, so that a reader wanting values from
// the middle of the block (a query window that starts inside it) decodes
// from the restart point before them instead of from the block's start.
// The transform byte (or tag) carries restartFlag; the body is the plain
// body with, after g,
//
//	uvarint 2R + s (R residuals between restart points, ≥ 1; s 0 for a
//	        bit-coded stream, 1 for a packANS stream)
//	J = ⌈m / R⌉ − 1 entries, for j = 1 … J (m residuals):
//	  s = 0:   uvarint b_j − b_(j−1)   bit offset, in the stream's codes, of residual j·R (b_0 = 0)
//	  s = 1:   uvarint b_j − b_(j−1)   renormalisation bytes the decoder has read before residual j·R,
//	           uvarint x_j             and its state then (ans.go)
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

// seekPoint is where readStreamAt enters a stream of total values: at
// value index, skip bits into a bit-coded stream's codes, or skip bytes
// into a packANS stream's renormalisation bytes in state state.
type seekPoint struct {
	skip         uint64
	state        uint32
	index, total int
}

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
	stateful := ip.p.kind == packANS
	if m <= 2*restartEvery || !seekable(ip.p.kind) && !stateful {
		return
	}
	R := restartEvery
	var marks []ansMark
	if stateful {
		e := ansPool.Get().(*ansEncoder)
		e.every = R
		ip.p.ans.encode(e, ip.us)
		marks = slices.Clone(e.marks)
		e.every, e.marks = 0, e.marks[:0]
		ansPool.Put(e)
	}
	t := make([]byte, 0, 8*(m/R+1))
	s := uint64(0)
	if stateful {
		s = 1
	}
	t = binary.AppendUvarint(t, 2*uint64(R)+s)
	var off, prevOff uint64
	prevRow := restartRow(ip.trans, 0, R)
	for i, u := range ip.us {
		if i > 0 && i%R == 0 {
			j := i / R
			row := restartRow(ip.trans, j, R)
			if stateful {
				mk := marks[j-1]
				t = binary.AppendUvarint(t, uint64(mk.read)-prevOff)
				t = binary.AppendUvarint(t, uint64(mk.x))
				off = uint64(mk.read)
			} else {
				t = binary.AppendUvarint(t, off-prevOff)
			}
			switch ip.trans {
			case transDelta:
				t = binary.AppendVarint(t, vs[row]-vs[prevRow])
			case transDoD:
				t = binary.AppendVarint(t, vs[row]-vs[prevRow])
				t = binary.AppendVarint(t, (vs[row]-vs[row-1])-(vs[prevRow]-vs[prevRow-1]))
			}
			prevOff, prevRow = off, row
		}
		if !stateful {
			off += valueBits(&ip.p, u)
		}
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
	state    uint32 // a packANS stream's decoder state (s = 1)
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
	R, stateful := rs/2, rs&1 != 0
	if R == 0 || R > uint64(m) {
		r.fail(corrupt("restart interval %d for %d residuals", R, m))
		return restartPoint{}
	}
	// The stream follows the table: its kind must match the table's form.
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
		if stateful {
			x := r.uvarint("restart state")
			if x < ansLow || x > math.MaxUint32 {
				r.fail(corrupt("restart state %#x", x))
				return restartPoint{}
			}
			cur.state = uint32(x)
		}
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
	if r.off >= len(r.src) {
		r.fail(corrupt("missing stream kind"))
		return restartPoint{}
	}
	if kind := int(r.src[r.off]); stateful != (kind == packANS) || !stateful && !seekable(kind) {
		r.fail(corrupt("restart table of form %d before a stream of kind %d", rs&1, kind))
		return restartPoint{}
	}
	return best
}
