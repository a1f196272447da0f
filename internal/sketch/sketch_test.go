package sketch

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/soltixdb/soltix/storage/encoding"
)

// nearestRank is the reference: the 0-based index of the nearest-rank
// percentile p of n sorted values (ceil(p/100 × n), at least 1).
func nearestRank(p float64, n int) int {
	r := int(math.Ceil(p * float64(n) / 100))
	return min(max(r, 1), n) - 1
}

func dataSets() []struct {
	name string
	vs   []float64
} {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func(n int, f func() float64) []float64 {
		vs := make([]float64, n)
		for i := range vs {
			vs[i] = f()
		}
		return vs
	}
	return []struct {
		name string
		vs   []float64
	}{
		{"uniform", gen(10000, func() float64 { return r.Float64() * 100 })},
		{"exponential", gen(10000, func() float64 { return r.ExpFloat64() * 5 })},
		{"bimodal", gen(10000, func() float64 {
			if r.IntN(2) == 0 {
				return 10 + r.NormFloat64()
			}
			return 1000 + 50*r.NormFloat64()
		})},
		{"negative", gen(5000, func() float64 { return -1 - r.Float64()*1e6 })},
		{"constant", gen(1000, func() float64 { return 42.5 })},
		{"mixed signs and zeros", gen(9000, func() float64 {
			switch r.IntN(3) {
			case 0:
				return 0
			case 1:
				return -r.ExpFloat64()
			}
			return r.ExpFloat64() * 1e3
		})},
		{"sixteen decades", gen(3000, func() float64 { return math.Pow(10, r.Float64()*16-8) })},
		{"integers", gen(5000, func() float64 { return float64(r.IntN(200)) })},
		{"single", []float64{-3.25}},
	}
}

var ranks = []float64{0, 0.1, 1, 5, 25, 50, 75, 90, 95, 99, 99.9, 100}

// checkBound checks every rank of sk against the sorted values.
func checkBound(t *testing.T, name string, sk *Sketch, sorted []float64) {
	t.Helper()
	for _, p := range ranks {
		want := sorted[nearestRank(p, len(sorted))]
		got := sk.Quantile(uint64(nearestRank(p, len(sorted))))
		if err := math.Abs(got - want); err > Alpha*math.Abs(want)*(1+1e-9) {
			t.Errorf("%s: percentile %v: got %v, want %v (relative error %.4g > %v)", name, p, got, want, err/math.Abs(want), Alpha)
		}
	}
}

func TestAccuracy(t *testing.T) {
	for _, ds := range dataSets() {
		t.Run(ds.name, func(t *testing.T) {
			var sk Sketch
			for _, v := range ds.vs {
				if !sk.Add(v) {
					t.Fatalf("Add(%v) = false", v)
				}
			}
			if sk.Count() != uint64(len(ds.vs)) {
				t.Fatalf("Count() = %d, want %d", sk.Count(), len(ds.vs))
			}
			sorted := slices.Clone(ds.vs)
			slices.Sort(sorted)
			checkBound(t, ds.name, &sk, sorted)
		})
	}
}

func TestMergeEqualsUnion(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, ds := range dataSets() {
		t.Run(ds.name, func(t *testing.T) {
			var all Sketch
			for _, v := range ds.vs {
				all.Add(v)
			}
			for _, parts := range []int{1, 2, 7, 64} {
				sks := make([]Sketch, parts)
				for _, v := range ds.vs {
					sks[r.IntN(parts)].Add(v)
				}
				// Merge in a random order, through a tree of merges.
				r.Shuffle(parts, func(i, j int) { sks[i], sks[j] = sks[j], sks[i] })
				for len(sks) > 1 {
					var next []Sketch
					for i := 0; i < len(sks); i += 2 {
						m := sks[i].Clone()
						if i+1 < len(sks) {
							m.Merge(&sks[i+1])
						}
						next = append(next, *m)
					}
					sks = next
				}
				if !sks[0].Equal(&all) {
					t.Errorf("%d parts: merged sketch differs from the sketch of the union", parts)
				}
			}
		})
	}
}

func TestCollapse(t *testing.T) {
	// Values over 40 decades: the lowest collapse, the upper ones keep
	// the bound, and the span stays at most MaxBins.
	var sk Sketch
	var vs []float64
	for e := -20; e <= 20; e++ {
		for k := 1; k <= 9; k++ {
			v := float64(k) * math.Pow(10, float64(e))
			vs = append(vs, v)
			sk.Add(v)
		}
	}
	if n := len(sk.pos.counts); n > MaxBins {
		t.Fatalf("positive store spans %d bins, want at most %d", n, MaxBins)
	}
	slices.Sort(vs)
	floor := vs[len(vs)-1] / math.Pow(gamma, MaxBins-1)
	for r, want := range vs {
		got := sk.Quantile(uint64(r))
		if want <= floor {
			if got < want {
				t.Errorf("rank %d: collapsed value %v estimated as %v, below it", r, want, got)
			}
			continue
		}
		if math.Abs(got-want) > Alpha*want*(1+1e-9) {
			t.Errorf("rank %d: got %v, want %v within %v", r, got, want, Alpha)
		}
	}
}

func TestAddRefusesNonFinite(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		var sk Sketch
		if sk.Add(v) || sk.Count() != 0 {
			t.Errorf("Add(%v): counted, want refused", v)
		}
	}
	var sk Sketch
	sk.Add(math.Copysign(0, -1))
	sk.Add(math.MaxFloat64)
	sk.Add(-math.SmallestNonzeroFloat64)
	if got := sk.Quantile(0); got >= 0 {
		t.Errorf("smallest of {-0, max, -tiny}: got %v, want negative", got)
	}
	if got := sk.Quantile(2); math.IsInf(got, 0) || got < math.MaxFloat64*(1-Alpha) {
		t.Errorf("largest of {-0, max, -tiny}: got %v, want about %v", got, math.MaxFloat64)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, ds := range dataSets() {
		var sk Sketch
		for _, v := range ds.vs {
			sk.Add(v)
		}
		b := sk.Append([]byte{0xaa})
		c := sk.AppendCompact([]byte{0xaa})
		dense := append([]byte{0xaa, encV2}, binary.AppendUvarint(nil, sk.zero)...)
		dense = sk.neg.appendDense(sk.pos.appendDense(dense))
		for _, enc := range [][]byte{b, c, dense} {
			got, rest, err := Decode(append(enc[1:], 0x55))
			if err != nil {
				t.Fatalf("%s: Decode(version %d): %v", ds.name, enc[1], err)
			}
			if len(rest) != 1 || rest[0] != 0x55 {
				t.Errorf("%s: Decode(version %d) left %x, want 55", ds.name, enc[1], rest)
			}
			if !got.Equal(&sk) {
				t.Errorf("%s: decoded sketch (version %d) differs", ds.name, enc[1])
			}
		}
		if len(c) > len(b) || len(c) > len(dense) {
			t.Errorf("%s: AppendCompact took %d bytes, versions 1 and 2 %d and %d", ds.name, len(c)-1, len(b)-1, len(dense)-1)
		}
		t.Logf("%s: %d values, %d bytes (version 1 %d, version 2 %d)", ds.name, len(ds.vs), len(c)-1, len(b)-1, len(dense)-1)
		checkLazy(t, ds.name, b[1:], &sk)
	}
	var empty Sketch
	got, _, err := Decode(empty.Append(nil))
	if err != nil || got.Count() != 0 || !got.Equal(&empty) {
		t.Errorf("empty: got %+v, %v", got, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"bad version", []byte{3, 0, 0, 0}},
		{"dense: truncated", []byte{2, 0, 1}},
		{"dense: span too wide", []byte{2, 0, 0x81, 0x20, 0, 0}},
		{"dense: counts past the end", []byte{2, 0, 1, 0, 9, 0}},
		{"dense: zero first count", append([]byte{2, 0, 2, 0}, lenPrefixed(encoding.AppendUints(nil, []uint64{0, 3}))...)},
		{"dense: zero last count", append([]byte{2, 0, 2, 0}, lenPrefixed(encoding.AppendUints(nil, []uint64{3, 0}))...)},
		{"dense: fewer counts than the span", append([]byte{2, 0, 3, 0}, lenPrefixed(encoding.AppendUints(nil, []uint64{3, 1}))...)},
		{"dense: index out of range", append(append([]byte{2, 0, 2}, appendVarint(maxIndex)...), lenPrefixed(encoding.AppendUints(nil, []uint64{3, 1}))...)},
		{"truncated", []byte{1, 0, 1}},
		{"zero count", []byte{1, 0, 1, 0, 0, 0}},
		{"zero count after the first", []byte{1, 0, 2, 0, 1, 0, 0}},
		{"index out of range", append([]byte{1, 0, 1}, append(appendVarint(maxIndex+1), 1, 0)...)},
		{"span too wide", []byte{1, 0, 2, 0, 1, 0x0f, 0xf8, 0x1f, 0}},        // step 8 + 4088
		{"step escape too wide", []byte{1, 0, 2, 0, 1, 0x0f, 0x80, 0x20, 0}}, // 8 + 4096
		{"too many bins", []byte{1, 0, 0x81, 0x20}},
		{"count overflow", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 1, 0, 1, 0}},
	} {
		if _, _, err := Decode(tc.b); err == nil {
			t.Errorf("%s: Decode(%x) accepted it", tc.name, tc.b)
		}
		if _, _, err := DecodeLazy(tc.b); err == nil {
			t.Errorf("%s: DecodeLazy(%x) accepted it", tc.name, tc.b)
		}
	}
}

// checkLazy checks that DecodeLazy of b (sk's encoding) answers every
// method as sk does, whichever method first needs the bins, and that its
// clones share nothing writable with it.
func checkLazy(t *testing.T, name string, b []byte, sk *Sketch) {
	t.Helper()
	lazy := func() *Sketch {
		l, rest, err := DecodeLazy(append(b[:len(b):len(b)], 0x55))
		if err != nil || len(rest) != 1 || rest[0] != 0x55 {
			t.Fatalf("%s: DecodeLazy: %v, left %x, want 55", name, err, rest)
		}
		if l.Count() != sk.Count() {
			t.Fatalf("%s: DecodeLazy count %d, want %d", name, l.Count(), sk.Count())
		}
		return l
	}
	if l := lazy(); !l.Equal(sk) {
		t.Errorf("%s: lazy sketch differs", name)
	}
	if got := lazy().Append(nil); !slices.Equal(got, b) {
		t.Errorf("%s: lazy Append = %x, want %x", name, got, b)
	}
	for _, r := range []uint64{0, sk.Count() / 2, sk.Count() - 1} {
		if got, want := lazy().Quantile(r), sk.Quantile(r); got != want {
			t.Errorf("%s: lazy Quantile(%d) = %v, want %v", name, r, got, want)
		}
	}
	// A clone of a lazy sketch, merged into, leaves the original as it was.
	l := lazy()
	c := l.Clone()
	c.Merge(sk)
	c.Add(1)
	if !l.Equal(sk) {
		t.Errorf("%s: merging into a clone changed the lazy original", name)
	}
	want := sk.Clone()
	want.Merge(sk)
	want.Add(1)
	if !c.Equal(want) {
		t.Errorf("%s: clone of a lazy sketch merged differs", name)
	}
	m := sk.Clone()
	m.Merge(lazy())
	want = sk.Clone()
	want.Merge(sk)
	if !m.Equal(want) {
		t.Errorf("%s: merging a lazy sketch differs", name)
	}
}

func appendVarint(i int64) []byte { return binary.AppendVarint(nil, i) }

func lenPrefixed(b []byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(b))), b...) }

func FuzzDecode(f *testing.F) {
	for _, ds := range dataSets() {
		var sk Sketch
		for _, v := range ds.vs[:min(len(ds.vs), 50)] {
			sk.Add(v)
		}
		f.Add(sk.Append(nil))
		f.Add(sk.AppendCompact(nil))
	}
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		sk, rest, err := Decode(b)
		lz, lrest, lerr := DecodeLazy(b)
		if (err == nil) != (lerr == nil) {
			t.Fatalf("Decode: %v, DecodeLazy: %v", err, lerr)
		}
		if err != nil {
			return
		}
		if len(lrest) != len(rest) || lz.Count() != sk.Count() || !lz.Equal(sk) {
			t.Fatalf("DecodeLazy of %x differs from Decode", b[:len(b)-len(rest)])
		}
		if len(sk.pos.counts) > MaxBins || len(sk.neg.counts) > MaxBins {
			t.Fatalf("decoded store spans more than %d bins", MaxBins)
		}
		for _, enc := range [][]byte{sk.Append(nil), sk.AppendCompact(nil)} {
			again, rest2, err := Decode(enc)
			if err != nil || len(rest2) != 0 || !again.Equal(sk) {
				t.Fatalf("re-encoding %x: %v", b[:len(b)-len(rest)], err)
			}
		}
		if sk.Count() > 0 {
			_ = sk.Quantile(sk.Count() - 1)
		}
	})
}
