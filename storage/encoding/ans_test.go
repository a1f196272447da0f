package encoding

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// ansStream plans and writes a rANS stream (after its kind byte) for us,
// as the planner would, and returns it with its planned size.
func ansStream(t *testing.T, us []uint64) ([]byte, int) {
	t.Helper()
	dict := slices.Compact(slices.Sorted(slices.Values(us)))
	cnt := make([]uint64, len(dict))
	for _, u := range us {
		i, _ := slices.BinarySearch(dict, u)
		cnt[i]++
	}
	best := plan{size: math.MaxInt}
	tryANS(&best, us, dict, cnt)
	if best.kind != packANS {
		t.Fatalf("no rans code for %d values of %d symbols", len(us), len(dict))
	}
	return appendANS(nil, us, best.ans), best.size - 1
}

// ansSample returns m values drawn from the weights w, plus base.
func ansSample(r *rand.Rand, m int, w []float64, base uint64) []uint64 {
	tot := 0.0
	for _, x := range w {
		tot += x
	}
	us := make([]uint64, m)
	for i := range us {
		x := r.Float64() * tot
		j := 0
		for j < len(w)-1 && x >= w[j] {
			x -= w[j]
			j++
		}
		us[i] = base + uint64(j)
	}
	// Every symbol at least once.
	for j := range w {
		us[j%m] = base + uint64(j)
	}
	return us
}

func TestANSRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 1))
	normal := []float64{38, 24, 24, 6, 6, 0.6, 0.6, 0.03, 0.03}
	widths := map[uint]int{} // tables of each code width
	sixteen := make([]float64, 16)
	for i := range sixteen {
		sixteen[i] = float64(1 + i*i)
	}
	for _, tc := range []struct {
		name string
		w    []float64
		base uint64
	}{
		{"skewed", normal, 0},
		{"uniform", []float64{1, 1, 1, 1, 1}, 0},
		{"two symbols", []float64{9, 1}, 0},
		{"one rare symbol", []float64{1000, 1000, 1}, 0},
		{"sixteen symbols", sixteen, 0},
		{"listed far from zero", normal, 1 << 50},
		{"listed near zero", []float64{5, 3, 1}, 20},
	} {
		for _, m := range []int{16, 100, 1000, 4096, 65536} {
			if m < len(tc.w) {
				continue
			}
			us := ansSample(r, m, tc.w, tc.base)
			b, size := ansStream(t, us)
			if len(b) != size {
				t.Errorf("%s, %d values: planned %d bytes, wrote %d", tc.name, m, size, len(b))
			}
			widths[ansForms[b[0]>>4&7].w]++
			if dense := b[0]&ansDense != 0; dense != (tc.base == 0) {
				t.Errorf("%s, %d values: head %#x, dense %v", tc.name, m, b[0], dense)
			}
			got := make([]uint64, m)
			rd := reader{src: b}
			readANS(&rd, got, m)
			if err := rd.done(); err != nil {
				t.Fatalf("%s, %d values: %v", tc.name, m, err)
			}
			if !slices.Equal(got, us) {
				t.Fatalf("%s, %d values: decodes differently", tc.name, m)
			}
			// Within a few bytes of the entropy: table, state, rounding.
			h := 0.0
			cnt := map[uint64]float64{}
			for _, u := range us {
				cnt[u]++
			}
			for _, c := range cnt {
				h -= c * math.Log2(c/float64(m))
			}
			t.Logf("%s, %d values: %d bytes, entropy %.0f bytes (%.3f bits/value over)", tc.name, m, len(b), h/8,
				(float64(8*len(b))-h)/float64(m))
			if m == 65536 && float64(8*len(b)) > h*1.01+8*24 {
				t.Errorf("%s, %d values: %d bytes, entropy %.0f", tc.name, m, len(b), h/8)
			}
		}
	}
	if widths[4] == 0 || widths[5] == 0 {
		t.Errorf("tables by code width %v: want both", widths)
	}
}

// TestANSPrefix checks that a prefix decode of a rANS stream equals the
// whole decode's prefix for every length.
func TestANSPrefix(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 2))
	for _, sigma := range []float64{1, 1, 1} {
		vs := randomWalk(r, 800, sigma)
		b := AppendInts(nil, vs)
		if ip := planInts(vs); ip.p.kind != packANS {
			t.Fatalf("walk of sigma %g: stream kind %d, want rans", sigma, ip.p.kind)
		}
		for k := range len(vs) + 1 {
			got, err := DecodeIntsPrefix(nil, b, k)
			if err != nil || !slices.Equal(got, vs[:k]) {
				t.Fatalf("walk of sigma %g: prefix %d: %v, decodes differently", sigma, k, err)
			}
		}
	}
}

// TestANSRejects checks that corrupt rANS streams fail cleanly.
func TestANSRejects(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 3))
	read := func(rd *reader, out []uint64, _ uint64) { readANS(rd, out, len(out)) }
	us := ansSample(r, 500, []float64{38, 24, 24, 6, 0.6}, 0)
	dense, _ := ansStream(t, us)
	n := int(dense[0]&15) + 1
	w := ansForms[dense[0]>>4&7].w
	rest := uint8(1)<<w - 1
	codesAt, stateAt := 1, 1+(int(w)*n+7)/8
	// setCode sets the i-th 5-bit frequency code.
	setCode := func(b []byte, at, i int, c uint8) {
		bw := bitWriter{}
		br := newBitReader(b[at:stateAt])
		for j := range n {
			v := br.read(w)
			if j == i {
				v = uint64(c)
			}
			bw.write(v, w)
		}
		copy(b[at:], bw.finish())
	}
	mutations := map[string]func(b []byte){
		"one value": func(b []byte) { b[0] &^= 15 },
		"sum over": func(b []byte) {
			for i := 1; i <= 4; i++ {
				setCode(b, codesAt, i, rest-1)
			}
		},
		"no rest":     func(b []byte) { setCode(b, codesAt, 0, 1); setCode(b, codesAt, 1, 1); setCode(b, codesAt, 2, 1) },
		"two rests":   func(b []byte) { setCode(b, codesAt, 0, rest); setCode(b, codesAt, 1, rest) },
		"state low":   func(b []byte) { b[stateAt], b[stateAt+1] = 0, 0 },
		"state":       func(b []byte) { b[stateAt+3] ^= 1 },
		"renorm byte": func(b []byte) { b[stateAt+4] ^= 0x40 },
	}
	if int(w)*n%8 == 0 {
		t.Fatalf("a table of %d codes of %d bits: no padding to test", n, w)
	}
	{
		mutations["padding"] = func(b []byte) { b[stateAt-1] |= 1 }
	}
	checkStreamRejects(t, dense, len(us), read, mutations)
	// Listed: the values shifted past what a dense table holds.
	for i := range us {
		us[i] += 20
	}
	listed, _ := ansStream(t, us)
	if listed[0]&ansDense != 0 {
		t.Fatalf("head %#x, want a listed table", listed[0])
	}
	codesAt = 1 + 1 + n - 1 // uvarint 20, then deltas of 1
	w = ansForms[listed[0]>>4&7].w
	stateAt = codesAt + (int(w)*n+7)/8
	checkStreamRejects(t, listed, len(us), read, map[string]func(b []byte){
		"frequency 0":    func(b []byte) { setCode(b, codesAt, 2, 0) },
		"not increasing": func(b []byte) { b[2] = 0 },
		"sum over": func(b []byte) {
			for i := 1; i <= 4; i++ {
				setCode(b, codesAt, i, rest-1)
			}
		},
	})
}

// TestPlannerPicksANS fails if the planner stops choosing rANS for a
// random walk with unit normal steps, where it is smaller than the
// Huffman code, or if its planned size is not what it writes.
func TestPlannerPicksANS(t *testing.T) {
	for seed := range uint64(5) {
		vs := randomWalk(rand.New(rand.NewPCG(seed, 9)), 1000, 1)
		ip := planInts(vs)
		dict := slices.Compact(slices.Sorted(slices.Values(ip.us)))
		cnt := make([]uint64, len(dict))
		for _, u := range ip.us {
			i, _ := slices.BinarySearch(dict, u)
			cnt[i]++
		}
		h, _ := planHuffFreq(dict, cnt)
		huff := 1 + h.size()
		if ip.p.kind != packANS || ip.p.size >= huff {
			t.Errorf("walk %d: stream kind %d of %d bytes, huffman %d bytes: want rans, smaller", seed, ip.p.kind, ip.p.size, huff)
		}
		if n := len(appendPlanned(nil, ip.us, ip.p)); n != ip.p.size {
			t.Errorf("walk %d: planned %d bytes, wrote %d", seed, ip.p.size, n)
		}
		t.Logf("walk %d: rans %d bytes, huffman %d", seed, ip.p.size, huff)
	}
}

// BenchmarkANSPrefix decodes the first k values of a 1,000-value rANS
// block, as a query's edge reads a block up to its range's end.
//
//	go test -run '^$' -bench ANSPrefix -count 6 ./storage/encoding
func BenchmarkANSPrefix(b *testing.B) {
	vs := randomWalk(rand.New(rand.NewPCG(3, 9)), 1000, 1)
	if ip := planInts(vs); ip.p.kind != packANS {
		b.Fatalf("stream kind %d, want rans", ip.p.kind)
	}
	enc := AppendInts(nil, vs)
	for _, k := range []int{100, 300, 1000} {
		b.Run(fmt.Sprint("k=", k), func(b *testing.B) {
			out := make([]int64, 0, len(vs))
			for b.Loop() {
				var err error
				if out, err = DecodeIntsPrefix(out[:0], enc, k); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*k), "ns/value")
		})
	}
}
