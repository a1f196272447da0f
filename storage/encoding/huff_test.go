package encoding

import (
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomWalk returns n integers whose steps are rounded normal draws with
// standard deviation sigma: a skewed alphabet of steps.
func randomWalk(r *rand.Rand, n int, sigma float64) []int64 {
	out := make([]int64, n)
	v := 50.0
	for i := range out {
		v += r.NormFloat64() * sigma
		out[i] = int64(math.Round(v))
	}
	return out
}

// skewedFarApart returns n values from a five-value alphabet whose values
// lie far apart, in skewed proportions: exact symbols beat classes there.
func skewedFarApart(r *rand.Rand, n int) []int64 {
	alphabet := []int64{0, 1000, 50_000, 777_777, 1 << 40}
	out := make([]int64, n)
	for i := range out {
		k := 0
		for k < len(alphabet)-1 && r.IntN(3) == 0 {
			k++
		}
		out[i] = alphabet[k]
	}
	return out
}

func TestHuffmanStreams(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		vs   []int64
		want int // stream kind
	}{
		// Since colfile version 6 a rANS code beats Huffman's.
		{"skewed values far apart", skewedFarApart(r, 1000), packANS},
		// With the dense table (values 0, 1, 2, …: a nibble each) a code
		// pays for itself on 20 steps; a listed table did not (nor does
		// rANS, whose state takes four bytes).
		{"walk of 20", randomWalk(r, 20, 1), packHuff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := AppendInts(nil, tc.vs)
			got, err := DecodeInts(nil, enc)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.vs {
				if got[i] != tc.vs[i] {
					t.Fatalf("value %d: got %d, want %d", i, got[i], tc.vs[i])
				}
			}
			ip := planInts(tc.vs)
			if ip.p.kind != tc.want {
				t.Errorf("stream packing %d, want %d", ip.p.kind, tc.want)
			}
			{
				// The planned size is exact.
				if n := len(appendPlanned(nil, ip.us, ip.p)); n != ip.p.size {
					t.Errorf("planned %d bytes, wrote %d", ip.p.size, n)
				}
			}
			t.Logf("%d values in %d bytes (%.2f bits each)", len(tc.vs), len(enc), float64(8*len(enc))/float64(len(tc.vs)))
		})
	}
}

// TestHuffmanRejects checks that corrupt Huffman streams fail cleanly.
func TestHuffmanRejects(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	us := make([]uint64, 200)
	for i := range us {
		us[i] = zigzag(int64(math.Round(r.NormFloat64())))
	}
	dict := slices.Sorted(maps.Keys(func() map[uint64]bool {
		m := map[uint64]bool{}
		for _, u := range us {
			m[u] = true
		}
		return m
	}()))
	// Dense: the zigzagged values 0 to s − 1, the table a nibble each.
	h, ok := planHuff(us, dict)
	if !ok {
		t.Fatal("no huffman code for a rounded normal sample")
	}
	dense := appendHuff(nil, us, &h)
	if dense[0]&huffDense == 0 {
		t.Fatalf("table head %#x, want the dense table", dense[0])
	}
	span := int(dense[0] &^ huffDense)
	checkStreamRejects(t, dense, len(us), readHuff, map[string]func(b []byte){
		"dense size 1":         func(b []byte) { b[0] = huffDense | 1 },
		"dense size too large": func(b []byte) { b[0] = huffDense | (maxHuff + 1) },
		"dense incomplete":     func(b []byte) { b[1] = b[1]&0x0f | 0xf0 },
		"dense one value": func(b []byte) {
			for i := 1; i <= (span+1)/2; i++ {
				b[i] = 0
			}
			b[1] = 0x10
		},
	})
	// Listed: the same values shifted past what a dense table holds.
	for i := range us {
		us[i] += 20
	}
	for i := range dict {
		dict[i] += 20
	}
	if h, ok = planHuff(us, dict); !ok {
		t.Fatal("no huffman code for the shifted sample")
	}
	good := appendHuff(nil, us, &h)
	if good[0]&huffDense != 0 {
		t.Fatalf("table head %#x, want a listed table", good[0])
	}
	lensAt := 1
	for i := range h.k {
		lensAt += uvarintLen(h.syms[i] - func() uint64 {
			if i == 0 {
				return 0
			}
			return h.syms[i-1]
		}())
	}
	checkStreamRejects(t, good, len(us), readHuff, map[string]func(b []byte){
		"size 1":         func(b []byte) { b[0] = 1 },
		"size too large": func(b []byte) { b[0] = maxHuff + 1 },
		"incomplete code": func(b []byte) {
			b[lensAt] = b[lensAt]&0x0f | 0xf0 // first length 15
		},
		"zero length": func(b []byte) { b[lensAt] &= 0x0f },
	})
}

// checkStreamRejects checks that read decodes good (a packing's data after
// its kind byte, n values) exactly, and fails with a corruption error
// after each mutation and on every truncation.
func checkStreamRejects(t *testing.T, good []byte, n int, read func(*reader, []uint64, uint64), mutations map[string]func(b []byte)) {
	t.Helper()
	decode := func(b []byte) error {
		rd := &reader{src: b}
		read(rd, make([]uint64, n), 0)
		if rd.err == nil && rd.off != len(b) {
			return errors.New("trailing bytes")
		}
		return rd.err
	}
	if err := decode(good); err != nil {
		t.Fatalf("good stream: %v", err)
	}
	for name, mutate := range mutations {
		b := append([]byte(nil), good...)
		mutate(b)
		if err := decode(b); err == nil || !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want a corruption error", name, err)
		}
	}
	for cut := 1; cut < len(good); cut++ {
		if err := decode(good[:cut]); err == nil {
			t.Errorf("a stream cut to %d of %d bytes decoded", cut, len(good))
		}
	}
}

// BenchmarkWalkInts encodes and decodes blocks of a random walk with unit
// normal steps, whose step stream is Huffman-coded.
//
//	go test -run '^$' -bench WalkInts ./storage/encoding
func BenchmarkWalkInts(b *testing.B) {
	vs := randomWalk(rand.New(rand.NewPCG(7, 8)), 1000, 1)
	enc := AppendInts(nil, vs)
	b.Run("encode", func(b *testing.B) {
		var buf []byte
		for range b.N {
			buf = AppendInts(buf[:0], vs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(vs)), "ns/value")
	})
	b.Run("decode", func(b *testing.B) {
		out := make([]int64, 0, len(vs))
		for range b.N {
			var err error
			if out, err = DecodeInts(out[:0], enc); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(vs)), "ns/value")
	})
	b.ReportMetric(float64(len(enc))/float64(len(vs)), "bytes/value")
}
