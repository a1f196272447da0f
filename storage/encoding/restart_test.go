package encoding

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// restartInputs are long sequences whose streams are bit-coded, one per
// transform and packing the restart points apply to.
func restartInputs() map[string][]int64 {
	r := rand.New(rand.NewPCG(7, 8))
	in := map[string][]int64{}
	for _, n := range []int{2100, 4096, 8640, 65536} {
		walk := randomWalk(r, n, 1) // delta, rANS
		in["walk/"+itoa(n)] = walk
		wide := randomWalk(r, n, 40) // delta, classes
		in["wide/"+itoa(n)] = wide
		raw := make([]int64, n) // raw, bits
		for i := range raw {
			raw[i] = r.Int64N(1000)
		}
		in["raw/"+itoa(n)] = raw
		ts := make([]int64, n) // dod: a clock with jitter
		t := int64(1_451_606_400_000_000_000)
		for i := range ts {
			t += 10_000_000_000 + r.Int64N(2000) - 1000
			ts[i] = t
		}
		in["jitter/"+itoa(n)] = ts
		skew := make([]int64, n) // raw, varbit: mostly small, a few large
		for i := range skew {
			skew[i] = r.Int64N(4)
			if r.IntN(50) == 0 {
				skew[i] = r.Int64N(1 << 30)
			}
		}
		in["skew/"+itoa(n)] = skew
		dyadic := make([]int64, n) // raw, Huffman: 0, 1, 2, 3 with 1/2, 1/4, 1/8, 1/8
		for i := range dyadic {
			dyadic[i] = []int64{0, 0, 0, 0, 1, 1, 2, 3}[r.IntN(8)]
		}
		in["dyadic/"+itoa(n)] = dyadic
	}
	return in
}

func itoa(n int) string {
	b := []byte{}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// ranges returns the [from, to) pairs a test checks for n values: around
// the restart points and at random.
func ranges(r *rand.Rand, n int) [][2]int {
	var out [][2]int
	for _, f := range []int{0, 1, 2, restartEvery - 1, restartEvery, restartEvery + 1, restartEvery + 2, 2*restartEvery + 1, n - 2, n - 1, n} {
		if f < 0 || f > n {
			continue
		}
		out = append(out, [2]int{f, n}, [2]int{f, f}, [2]int{f, min(n, f+1)}, [2]int{f, min(n, f+restartEvery+3)})
	}
	for range 40 {
		a, b := r.IntN(n+1), r.IntN(n+1)
		out = append(out, [2]int{min(a, b), max(a, b)})
	}
	return out
}

func TestRestartRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	kinds := map[int]bool{} // the stream kinds behind restart tables
	defer func() {
		for _, k := range []int{packBits, packHuff, packClass, packANS} {
			if !kinds[k] {
				t.Errorf("no input's restart points are in a stream of kind %d (have %v)", k, kinds)
			}
		}
	}()
	for name, vs := range restartInputs() {
		t.Run(name, func(t *testing.T) {
			enc := AppendInts(nil, vs)
			if enc[0]&restartFlag == 0 {
				t.Fatalf("tag %#x: no restart points in %d values", enc[0], len(vs))
			}
			got, err := DecodeInts(nil, enc)
			if err != nil || !slices.Equal(got, vs) {
				t.Fatalf("whole decode: %v", err)
			}
			kinds[planInts(vs).p.kind] = true
			us := make([]uint64, len(vs))
			fs := make([]float64, len(vs))
			for i, v := range vs {
				us[i] = uint64(v)
				fs[i] = float64(v%1_000_000) / 100
			}
			uenc := AppendUints(nil, us)
			fenc := AppendFloats(nil, fs)
			for _, rg := range ranges(r, len(vs)) {
				from, to := rg[0], rg[1]
				pre := []int64{-5}
				got, err := DecodeIntsRange(pre, enc, from, to)
				if err != nil || !slices.Equal(got[1:], vs[from:to]) || got[0] != -5 {
					t.Fatalf("ints [%d, %d): %v", from, to, err)
				}
				ug, err := DecodeUintsRange(nil, uenc, from, to)
				if err != nil || !slices.Equal(ug, us[from:to]) {
					t.Fatalf("uints [%d, %d): %v", from, to, err)
				}
				fg, err := DecodeFloatsRange(nil, fenc, from, to)
				if err != nil || !slices.Equal(fg, fs[from:to]) {
					t.Fatalf("floats [%d, %d): %v", from, to, err)
				}
			}
		})
	}
}

// TestRestartsOnlyForLongStreams: blocks of the default size (1,000
// values) are written as before, with no restart table.
func TestRestartsOnlyForLongStreams(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 3, 1000, 2 * restartEvery, 2*restartEvery + 1} {
		enc := AppendInts(nil, randomWalk(r, n, 1))
		// A delta body of n values has n−1 residuals: restart points
		// start above 2·restartEvery residuals.
		if got, want := enc[0]&restartFlag != 0, n-1 > 2*restartEvery; got != want {
			t.Errorf("%d values: restart points %v, want %v", n, got, want)
		}
	}
}

// TestRestartRangeSkipsCodes: a range decode from past a restart point
// does not read the codes before it, so damage there does not reach it,
// while a whole decode reports it.
func TestRestartRangeSkipsCodes(t *testing.T) {
	vs := restartInputs()["walk/8640"]
	enc := AppendInts(nil, vs)
	// The codes are the tail of the block; the first restart point is
	// about a tenth of the way into them. Damage a byte just after the
	// codes begin (in the restart table's shadow: the last third of the
	// bytes before the first point's codes).
	r := reader{src: enc, off: 1}
	n := r.count("count")
	head := r.varint("head")
	g := r.uvarint("gcd")
	_ = head
	_ = g
	var all []restartPoint
	readRestarts(&r, n-1, transDelta, [2]int64{head}, 0, &all)
	if r.err != nil || len(all) == 0 {
		t.Fatalf("restart table: %v (%d points)", r.err, len(all))
	}
	codes := r.off + 2 // kind byte and dense table head at least
	bad := slices.Clone(enc)
	bad[codes+40] ^= 0xff
	if got, err := DecodeInts(nil, bad); err == nil && slices.Equal(got, vs) {
		t.Fatal("whole decode of damaged codes gave the right values")
	}
	from := all[0].row
	got, err := DecodeIntsRange(nil, bad, from, len(vs))
	if err != nil || !slices.Equal(got, vs[from:]) {
		t.Fatalf("range from the first restart point: %v", err)
	}
}

func TestRestartRejects(t *testing.T) {
	for _, name := range []string{"walk/4096", "wide/4096"} { // rANS (s = 1), classes (s = 0)
		vs := restartInputs()[name]
		enc := AppendInts(nil, vs)
		r := reader{src: enc, off: 1}
		r.count("count")
		r.varint("head")
		r.uvarint("gcd")
		table := r.off
		form := r.uvarint("interval") & 1
		entry := r.off
		// The first entry's value: after one uvarint (s = 0) or two.
		skipUvarint := func(b []byte, i int) int {
			for b[i]&0x80 != 0 {
				i++
			}
			return i + 1
		}
		cases := map[string]func(b []byte) []byte{
			"interval 0":   func(b []byte) []byte { b[table] = byte(form); return b },
			"form flipped": func(b []byte) []byte { b[table] ^= 1; return b },
			"restart value off by one": func(b []byte) []byte {
				i := skipUvarint(b, entry)
				if form == 1 {
					i = skipUvarint(b, i)
				}
				b[i] ^= 2
				return b
			},
			"truncated table": func(b []byte) []byte { return b[:entry+2] },
		}
		for what, mut := range cases {
			b := mut(slices.Clone(enc))
			if _, err := DecodeInts(nil, b); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s, %s: whole decode: %v", name, what, err)
			}
		}
		if _, err := DecodeIntsRange(nil, enc, 5, 4); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: from after to: %v", name, err)
		}
		if _, err := DecodeIntsRange(nil, enc, 0, len(vs)+1); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: past the end: %v", name, err)
		}
	}
}
