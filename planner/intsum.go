package planner

import (
	"math"
	"math/bits"
)

// int128 is an exact sum of integers: a two's complement 128-bit integer
// hi:lo. avg of an integer or unsigned field adds its values (and the sums
// of summaries that cannot have wrapped) into one, so that its total, and
// the average, do not depend on the order or the grouping of the
// additions. A bucket holds at most math.MaxInt64 values: a total of int64
// values then has a magnitude below 2^126 and a total of uint64 values is
// below 2^127, so both fit without overflow (unsigned values are added
// zero-extended, signed ones sign-extended).
type int128 struct{ hi, lo uint64 }

// addInt adds v.
func (a *int128) addInt(v int64) {
	var c uint64
	a.lo, c = bits.Add64(a.lo, uint64(v), 0)
	a.hi += uint64(v>>63) + c
}

// addUint adds v.
func (a *int128) addUint(v uint64) {
	var c uint64
	a.lo, c = bits.Add64(a.lo, v, 0)
	a.hi += c
}

// add adds b.
func (a *int128) add(b int128) {
	var c uint64
	a.lo, c = bits.Add64(a.lo, b.lo, 0)
	a.hi += b.hi + c
}

// addInts adds vs, in locals so the loop stays in registers.
func (a *int128) addInts(vs []int64) {
	hi, lo := a.hi, a.lo
	for _, v := range vs {
		var c uint64
		lo, c = bits.Add64(lo, uint64(v), 0)
		hi += uint64(v>>63) + c
	}
	a.hi, a.lo = hi, lo
}

// addUints adds vs.
func (a *int128) addUints(vs []uint64) {
	hi, lo := a.hi, a.lo
	for _, v := range vs {
		var c uint64
		lo, c = bits.Add64(lo, v, 0)
		hi += c
	}
	a.hi, a.lo = hi, lo
}

// float returns the sum as the nearest float64 (ties to even), as
// converting the exact integer would.
func (a int128) float() float64 {
	if int64(a.hi) < 0 {
		lo, b := bits.Sub64(0, a.lo, 0)
		hi, _ := bits.Sub64(0, a.hi, b)
		return -uint128Float(hi, lo)
	}
	return uint128Float(a.hi, a.lo)
}

// uint128Float returns hi:lo as the nearest float64 (ties to even). Past 64
// bits it keeps the top 64 bits, with the lowest one set when any bit below
// them is (a sticky bit: those bits lie far below the 53 kept, so the
// conversion of the 64 bits rounds as the whole number would), and scales
// the result by the bits dropped, which is exact.
func uint128Float(hi, lo uint64) float64 {
	if hi == 0 {
		return float64(lo) // Go rounds this conversion to nearest even
	}
	s := uint(bits.Len64(hi)) // 1..64: the bits dropped from lo
	m := hi<<(64-s) | lo>>s
	if lo<<(64-s) != 0 {
		m |= 1
	}
	return math.Ldexp(float64(m), int(s))
}
