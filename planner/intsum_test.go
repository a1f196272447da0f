package planner

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// bigOf returns a as a big.Int.
func bigOf(a int128) *big.Int {
	x := new(big.Int).SetUint64(a.hi)
	x.Lsh(x, 64)
	x.Or(x, new(big.Int).SetUint64(a.lo))
	if int64(a.hi) < 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), 128))
	}
	return x
}

// bigFloat64 returns x rounded to the nearest float64, ties to even.
func bigFloat64(x *big.Int) float64 {
	f, _ := new(big.Float).SetInt(x).Float64()
	return f
}

// checkSum adds ints and uints into an int128 one at a time and as runs,
// and compares the total and its conversion with math/big's.
func checkSum(t *testing.T, name string, ints []int64, uints []uint64) {
	t.Helper()
	want := new(big.Int)
	var one, run int128
	for _, v := range ints {
		want.Add(want, big.NewInt(v))
		one.addInt(v)
	}
	for _, v := range uints {
		want.Add(want, new(big.Int).SetUint64(v))
		one.addUint(v)
	}
	run.addInts(ints)
	run.addUints(uints)
	if one != run {
		t.Fatalf("%s: one at a time %x:%x, as runs %x:%x", name, one.hi, one.lo, run.hi, run.lo)
	}
	if got := bigOf(one); got.Cmp(want) != 0 {
		t.Fatalf("%s: total %v, want %v", name, got, want)
	}
	if got, w := one.float(), bigFloat64(want); math.Float64bits(got) != math.Float64bits(w) {
		t.Fatalf("%s: float %v (%x), want %v (%x) for %v", name, got, math.Float64bits(got), w, math.Float64bits(w), want)
	}
}

func TestInt128Sum(t *testing.T) {
	const (
		maxI = math.MaxInt64
		minI = math.MinInt64
		maxU = math.MaxUint64
	)
	tests := []struct {
		name  string
		ints  []int64
		uints []uint64
	}{
		{name: "empty"},
		{name: "small", ints: []int64{1, 2, 3, -4}},
		{name: "sign changes", ints: []int64{maxI, minI, 1, -1, -5, maxI, minI}},
		{name: "below -2^63", ints: []int64{minI, minI, minI, -1}},
		{name: "above 2^63", ints: []int64{maxI, maxI, maxI, 3}},
		{name: "back to zero", ints: []int64{maxI, maxI, maxI, minI, minI, minI, 3}},
		{name: "near -2^64", ints: []int64{minI, minI, 1}},
		{name: "past 2^64", uints: []uint64{maxU, maxU, maxU, 7}},
		{name: "exactly 2^64", uints: []uint64{maxU, 1}},
		{name: "many near 2^64", uints: []uint64{maxU, maxU, maxU, maxU, maxU, maxU, maxU, maxU, maxU, maxU, maxU}},
		{name: "mixed", ints: []int64{minI, -1}, uints: []uint64{maxU}},
		// Ties in the conversion: 2^53 + 1 lies halfway between two
		// float64s and goes to the even one (2^53); 2^53 + 3 to 2^53 + 4.
		{name: "tie at 2^53, down", ints: []int64{1 << 53, 1}},
		{name: "tie at 2^53, up", ints: []int64{1 << 53, 3}},
		{name: "negative tie at 2^53", ints: []int64{-(1 << 53), -1}},
		{name: "negative tie at 2^53, up", ints: []int64{-(1 << 53), -3}},
		// Past 2^64 the step is 2^12: 2^64 + 2^11 is a tie (to 2^64),
		// 2^64 + 2^11 + 1 is not (up), 2^64 + 3 × 2^11 is (to 2^64 + 2^13).
		{name: "tie past 2^64, down", uints: []uint64{maxU, 1 << 11, 1}},
		{name: "sticky bit past 2^64", uints: []uint64{maxU, 1 << 11, 2}},
		{name: "tie past 2^64, up", uints: []uint64{maxU, 3 << 11, 1}},
		{name: "negative sticky past 2^64", ints: []int64{minI, minI, -(1 << 11), -1}},
		{name: "negative tie past 2^64", ints: []int64{minI, minI, -(1 << 11)}},
		// Below 2^64 but past 2^63: uint64 to float64 rounding.
		{name: "tie below 2^64", uints: []uint64{1<<63 + 1<<10}},
		{name: "sticky below 2^64", uints: []uint64{1<<63 + 1<<10 + 1}},
	}
	for _, tc := range tests {
		checkSum(t, tc.name, tc.ints, tc.uints)
	}
	// The conversion of totals below 2^127 against math/big: a 53-bit
	// significand shifted by k, plus exactly half a step (a tie), half a
	// step and more (sticky bits), or random bits below the step.
	rng := rand.New(rand.NewPCG(1, 2))
	mask := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 64), big.NewInt(1))
	for range 20000 {
		k := uint(rng.IntN(74))
		x := new(big.Int).SetUint64(1<<52 | rng.Uint64()>>12)
		x.Lsh(x, k)
		if k > 0 {
			half := new(big.Int).Lsh(big.NewInt(1), k-1)
			below := new(big.Int).SetUint64(rng.Uint64())
			below.Mod(below, half)
			switch rng.IntN(4) {
			case 0:
				x.Add(x, half)
			case 1:
				x.Add(x, half)
				x.Add(x, below.Or(below, big.NewInt(1)))
			case 2:
				x.Add(x, below)
			}
		}
		for _, neg := range []bool{false, true} {
			v := new(big.Int).Set(x)
			if neg {
				v.Neg(v)
			}
			// Two's complement in 128 bits.
			u := new(big.Int).Set(v)
			if neg {
				u.Add(u, new(big.Int).Lsh(big.NewInt(1), 128))
			}
			a := int128{hi: new(big.Int).Rsh(u, 64).Uint64(), lo: new(big.Int).And(u, mask).Uint64()}
			if bigOf(a).Cmp(v) != 0 {
				t.Fatalf("test bug: %v is not %x:%x", v, a.hi, a.lo)
			}
			if got, w := a.float(), bigFloat64(v); math.Float64bits(got) != math.Float64bits(w) {
				t.Fatalf("%v: float %v, want %v", v, got, w)
			}
		}
	}
}

// TestInt128Order: the same values in any order and any grouping (runs,
// single additions, partial totals added) give the same total.
func TestInt128Order(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		n := 1 + rng.IntN(200)
		vs := make([]int64, n)
		for i := range vs {
			vs[i] = int64(rng.Uint64()) >> rng.IntN(64)
		}
		var want int128
		want.addInts(vs)
		for range 5 {
			rng.Shuffle(n, func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
			var got int128
			for i := 0; i < n; {
				j := i + 1 + rng.IntN(n-i)
				if rng.IntN(2) == 0 {
					got.addInts(vs[i:j])
				} else {
					for _, v := range vs[i:j] {
						got.addInt(v)
					}
				}
				i = j
			}
			if got != want {
				t.Fatalf("%x:%x, want %x:%x", got.hi, got.lo, want.hi, want.lo)
			}
			// Partial totals added together (as fragments merge).
			var parts int128
			for i := 0; i < n; {
				j := i + 1 + rng.IntN(n-i)
				var p int128
				p.addInts(vs[i:j])
				parts.add(p)
				i = j
			}
			if parts != want {
				t.Fatalf("partial totals %x:%x, want %x:%x", parts.hi, parts.lo, want.hi, want.lo)
			}
		}
		checkSum(t, "random", vs, nil)
	}
}

// FuzzInt128 adds the values of the input, read as int64 and uint64
// alternately, and compares with math/big.
func FuzzInt128(f *testing.F) {
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0x80, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ints []int64
		var uints []uint64
		for i := 0; i+8 <= len(b); i += 8 {
			var v uint64
			for j := range 8 {
				v |= uint64(b[i+j]) << (8 * j)
			}
			if (i/8)%2 == 0 {
				ints = append(ints, int64(v))
			} else {
				uints = append(uints, v)
			}
		}
		checkSum(t, "fuzz", ints, uints)
	})
}

// intAvgData makes collection x: three series with an int i of magnitude
// up to 2^52 and an unsigned u up to 2^58 about every minute for five
// hours, so that a block of 16 values sums past 2^53 without wrapping
// (the old rule, n × max <= 2^53, refused such blocks) and an hour's total
// of u passes 2^64 (a series' 300 values of u may wrap: read as values).
func intAvgData() *memSource {
	rng := rand.New(rand.NewPCG(5, 6))
	m := newMemSource()
	m.create("x", map[string]model.Kind{"i": model.KindInt, "u": model.KindUint})
	for _, host := range []string{"a", "b", "c"} {
		for k := range int64(300) {
			t := t0 + k*min_ + rng.Int64N(min_)
			i := int64(rng.Uint64()>>11) - 1<<52
			if rng.IntN(3) == 0 {
				i |= 1 // odd values: totals off the float64 grid
			}
			m.write("x", "host="+host, t, "i", i, "u", rng.Uint64()>>6)
		}
	}
	return m
}

// TestIntAvgSplits: avg of integers over values and over summaries of
// blocks of any size, in any grouping of buckets and series, gives the
// same bits, past 2^53 and past 2^64; they equal the exact average from
// math/big; and adding float64(v) one at a time (the old definition) gives
// another number, so the test tells them apart.
func TestIntAvgSplits(t *testing.T) {
	queries := []string{
		"SELECT avg(i), avg(u), count(i) FROM x GROUP BY 1h",
		"SELECT avg(i), avg(u) FROM x GROUP BY 7m",
		"SELECT avg(i), avg(u) FROM x",
		"SELECT avg(i), mean(u), max(u) FROM x GROUP BY host",
		"SELECT avg(u), avg(i), min(i) FROM x WHERE time >= '2025-01-01T00:30:00Z' GROUP BY 90m, host FILL(none)",
	}
	for _, q := range queries {
		want, err := execute(intAvgData(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var blocks int64
		for _, n := range []int{1, 2, 3, 5, 7, 16, 64, 300} {
			src := newSummarySource(intAvgData(), n)
			got, err := execute(src, q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if msg := diffResults(got, want, 0); msg != "" {
				t.Errorf("%s (blocks of %d): %s", q, n, msg)
			}
			used := int64(0)
			for _, l := range got.Stats.Levels {
				used += l.Blocks
			}
			if n == 16 && !strings.Contains(q, "7m") && used == 0 {
				t.Errorf("%s (blocks of %d): no summary used", q, n)
			}
			blocks += used
		}
		if blocks == 0 {
			t.Errorf("%s: no summary used", q)
		}
	}
	// The hourly averages against math/big, and against float64 totals.
	got, err := execute(intAvgData(), queries[0])
	if err != nil {
		t.Fatal(err)
	}
	type acc struct {
		sum  [2]*big.Int
		fsum [2]float64
		n    int64
	}
	hours := map[int64]*acc{}
	m := intAvgData()
	for _, s := range m.colls["x"].series { // in the order the planner reads them
		ci, cu := s.cols["i"], s.cols["u"]
		for k := range ci.Len() {
			h := t0 + (ci.Times[k]-t0)/hour*hour
			a := hours[h]
			if a == nil {
				a = &acc{sum: [2]*big.Int{new(big.Int), new(big.Int)}}
				hours[h] = a
			}
			a.sum[0].Add(a.sum[0], big.NewInt(ci.Ints[k]))
			a.sum[1].Add(a.sum[1], new(big.Int).SetUint64(cu.Uints[k]))
			a.fsum[0] += float64(ci.Ints[k])
			a.fsum[1] += float64(cu.Uints[k])
			a.n++
		}
	}
	if len(got.Rows) != len(hours) {
		t.Fatalf("%d rows, want %d", len(got.Rows), len(hours))
	}
	differs, past64 := 0, 0
	for _, row := range got.Rows {
		a := hours[row[0].Int()]
		if a == nil || row[3].Int() != a.n {
			t.Fatalf("row %v: not an hour of the data", row)
		}
		for j := range 2 {
			w := bigFloat64(a.sum[j]) / float64(a.n)
			if g := row[1+j].Float(); math.Float64bits(g) != math.Float64bits(w) {
				t.Errorf("hour %v %s: %v, want %v", row[0], got.Columns[1+j], g, w)
			}
			if a.fsum[j]/float64(a.n) != w {
				differs++
			}
		}
		if a.sum[1].BitLen() > 64 {
			past64++
		}
	}
	if differs == 0 || past64 == 0 {
		t.Fatalf("%d averages differ from float64 totals, %d hourly totals pass 2^64: the data does not test exactness", differs, past64)
	}
}
