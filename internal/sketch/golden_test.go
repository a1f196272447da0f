package sketch

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAppendCompactGolden pins the bytes AppendCompact writes for the test
// data sets, the benchmark's sketches and random sketches of a few to
// thousands of values: making the encoder faster must not change them
// (rollup files written before and after stay byte-identical). The hash
// was taken before the fast paths of December 2026, and again with
// colfile version 5's dense Huffman tables (storage/encoding/huff.go),
// and with version 6's rANS packing (storage/encoding/ans.go).
func TestAppendCompactGolden(t *testing.T) {
	var sks []*Sketch
	for _, ds := range dataSets() {
		sk := &Sketch{}
		for _, v := range ds.vs {
			sk.Add(v)
		}
		sks = append(sks, sk)
	}
	for _, bs := range benchSketches() {
		sks = append(sks, bs.sk)
	}
	for seed := range uint64(500) {
		r := rand.New(rand.NewPCG(seed, 21))
		sk := &Sketch{}
		n := 1 + r.IntN([]int{5, 20, 200, 3000, 9000}[seed%5])
		scale := math.Pow(10, float64(r.IntN(6)))
		v := r.Float64() * scale
		for range n {
			switch seed % 4 {
			case 0: // integers of a clamped walk
				v = math.Min(scale, math.Max(0, v+r.NormFloat64()))
				sk.Add(math.Round(v))
			case 1: // noisy floats
				sk.Add(v + r.NormFloat64()*scale/50)
			case 2: // few distinct values, zeros and negatives
				sk.Add(float64(r.IntN(7)-2) * scale)
			default: // spread over decades
				sk.Add(math.Pow(10, r.Float64()*4) * scale)
			}
		}
		sks = append(sks, sk)
	}
	h := sha256.New()
	var b []byte
	versions := map[byte]int{}
	for _, sk := range sks {
		if want, got := len(sk.Append(nil)), 1+uvarintLen(sk.zero)+sk.pos.size()+sk.neg.size(); got != want {
			t.Fatalf("version 1 counted as %d bytes, written in %d", got, want)
		}
		b = sk.AppendCompact(b[:0])
		versions[b[0]]++
		h.Write(b)
		got, rest, err := Decode(b)
		if err != nil || len(rest) != 0 || !got.Equal(sk) {
			t.Fatalf("round trip: %v, %d bytes left", err, len(rest))
		}
	}
	if versions[encV1] == 0 || versions[encV2] == 0 {
		t.Errorf("versions written: %v, want both", versions)
	}
	// Changed with colfile version 6: the rANS packing (storage/encoding/ans.go), tried only for streams of at least 64 values.
	const want = "bd4405adeb66e0637abf70e391139417c3634e0da65833aaabec5d7bd4b6f4fd"
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("AppendCompact output hash %s, want %s", got, want)
	}
}
