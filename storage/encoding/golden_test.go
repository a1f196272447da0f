package encoding

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"sync"
	"testing"
)

// goldenInputs returns integer sequences of the shapes the planner meets:
// the random distributions of TestRandomRoundTrip, random walks, and the
// bin counts of quantile sketches (runs of zeros between small and large
// counts, spans of a few to a few hundred bins).
func goldenInputs() [][]int64 {
	var out [][]int64
	for seed := range uint64(400) {
		r := rand.New(rand.NewPCG(seed, 11))
		out = append(out, randInts(r, randLen(r), dist(seed%uint64(numDists))))
	}
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 12))
		out = append(out, randomWalk(r, 1+r.IntN(600), []float64{0.3, 1, 5, 40}[seed%4]))
	}
	for seed := range uint64(600) {
		r := rand.New(rand.NewPCG(seed, 13))
		n := 1 + r.IntN([]int{4, 20, 64, 300, 1200}[seed%5])
		zeros := r.Float64()
		top := []int64{1, 2, 3, 10, 100, 5000, 1 << 40}[r.IntN(7)]
		vs := make([]int64, n)
		for i := range vs {
			if i == 0 || i == n-1 || r.Float64() >= zeros {
				vs[i] = 1 + r.Int64N(top)
			}
		}
		out = append(out, vs)
	}
	return out
}

// TestPlannerGolden pins the bytes every integer-planned encoder writes for
// goldenInputs: a change to how the planner searches (a fast path) must
// not change what it chooses. The hash was taken before the fast paths of
// December 2026; update it only with a deliberate, versioned format change
// (as with colfile version 5's dense Huffman tables, huff.go, and version
// 6's rANS packing, ans.go, and restart points in long integer bodies,
// restart.go: the inputs of more than 2,049 values).
func TestPlannerGolden(t *testing.T) {
	h := sha256.New()
	var b []byte
	var kinds [packANS + 1]int
	for _, vs := range goldenInputs() {
		ip := planInts(vs)
		kinds[ip.p.kind]++
		us := make([]uint64, len(vs))
		for i, v := range vs {
			us[i] = uint64(v)
		}
		b = AppendInts(b[:0], vs)
		h.Write(b)
		b = AppendUints(b[:0], us)
		h.Write(b)
		b = AppendTimes(b[:0], vs)
		h.Write(b)
		fs := make([]float64, len(vs))
		for i, v := range vs {
			fs[i] = float64(v%1_000_000) / 100
		}
		b = AppendFloats(b[:0], fs)
		h.Write(b)
		if got, err := DecodeUints(nil, AppendUints(nil, us)); err != nil || len(got) != len(us) {
			t.Fatalf("round trip of %d values: %v", len(us), err)
		}
	}
	for k, n := range kinds {
		if n == 0 {
			t.Errorf("no input is planned as stream kind %d", k)
		}
	}
	t.Logf("stream kinds chosen: %v", kinds)
	const want = "582221accd024a19c74fa3da94f04217d6ca6281d8bc47fac619b9ed65293afd"
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("planner output hash %s, want %s", got, want)
	}
}

// TestConcurrentEncode encodes from several goroutines at once, as
// flushes do: the pooled planner scratch must not be shared (run it
// under -race).
func TestConcurrentEncode(t *testing.T) {
	inputs := goldenInputs()
	want := make([][]byte, len(inputs))
	for i, vs := range inputs {
		want[i] = AppendInts(nil, vs)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var b []byte
			for k := range inputs {
				i := (k*7 + g*131) % len(inputs)
				b = AppendInts(b[:0], inputs[i])
				if !bytes.Equal(b, want[i]) {
					t.Errorf("goroutine %d, input %d: encoding differs", g, i)
					return
				}
			}
		})
	}
	wg.Wait()
}
