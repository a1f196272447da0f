package encoding

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestClassOf checks that classes partition the uint64 range in order:
// each class's values are contiguous, and the next class starts right
// after the last value of the previous one.
func TestClassOf(t *testing.T) {
	next := uint64(0)
	for c := range numClasses {
		base, extra := classBase(c)
		if base != next {
			t.Fatalf("class %d starts at %d, want %d", c, base, next)
		}
		top := base + (uint64(1)<<extra - 1)
		for _, x := range []uint64{base, base + (top-base)/2, top} {
			if got, e := classOf(x); got != c || e != extra {
				t.Fatalf("classOf(%d) = %d, %d; want %d, %d", x, got, e, c, extra)
			}
		}
		next = top + 1
	}
	if next != 0 {
		t.Fatalf("classes end at %d, want the whole range", next)
	}
}

// TestClassStreams checks that walks with steps too varied for a
// 16-value alphabet are class-coded close to their entropy, and round
// trip.
func TestClassStreams(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, sigma := range []float64{5, 20, 200} {
		vs := randomWalk(r, 1000, sigma)
		enc := AppendInts(nil, vs)
		got, err := DecodeInts(nil, enc)
		if err != nil {
			t.Fatal(err)
		}
		for i := range vs {
			if got[i] != vs[i] {
				t.Fatalf("sigma %v: value %d: got %d, want %d", sigma, i, got[i], vs[i])
			}
		}
		ip := planInts(vs)
		if ip.p.kind != packClass {
			t.Errorf("sigma %v: stream packing %d, want %d", sigma, ip.p.kind, packClass)
			continue
		}
		if n := len(appendPlanned(nil, ip.us, ip.p)); n != ip.p.size {
			t.Errorf("sigma %v: planned %d bytes, wrote %d", sigma, ip.p.size, n)
		}
		// Entropy of a normal step of variance σ² + 1/6 (two roundings)
		// discretised to integers.
		h := math.Log2(math.Sqrt((sigma*sigma + 1.0/6) * 2 * math.Pi * math.E))
		bits := float64(8*len(enc)) / float64(len(vs))
		t.Logf("sigma %v: %.2f bits per value, entropy %.2f", sigma, bits, h)
		if bits > h+0.3 {
			t.Errorf("sigma %v: %.2f bits per value, more than 0.3 above the entropy %.2f", sigma, bits, h)
		}
	}
}

// TestClassRejects checks that corrupt class streams fail cleanly.
func TestClassRejects(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	us := make([]uint64, 300)
	for i := range us {
		us[i] = zigzag(int64(math.Round(r.NormFloat64() * 30)))
	}
	lo := us[0]
	for _, u := range us {
		lo = min(lo, u)
	}
	var freq [numClasses]uint32
	for _, u := range us {
		c, _ := classOf(u - lo)
		freq[c]++
	}
	cc, ok := planClasses(freq[:], lo)
	if !ok {
		t.Fatal("no class code for a rounded normal sample")
	}
	good := appendClasses(nil, us, &cc)
	if len(good) != cc.size() {
		t.Fatalf("planned %d bytes, wrote %d", cc.size(), len(good))
	}
	at := uvarintLen(cc.min) // first class byte; the count follows
	checkStreamRejects(t, good, len(us), readClasses, map[string]func(b []byte){
		"one class":          func(b []byte) { b[at+1] = 1 },
		"classes past range": func(b []byte) { b[at] = numClasses - 1 },
		"incomplete code":    func(b []byte) { b[at+2] = b[at+2]&0x0f | 0xf0 },
		"over-full code":     func(b []byte) { b[at+2] = b[at+2]&0x0f | 0x10 },
		"bad padding": func(b []byte) {
			if cc.n%2 == 0 {
				b[at+1]-- // an odd count leaves the last nibble as padding
			}
			b[at+2+(int(b[at+1])-1)/2] |= 1
		},
	})
}

// TestClassBounds checks that the bounds planStream prunes class codes
// with never exceed the size of the class code planClasses builds: a
// bound too high would skip a smaller encoding and change what is
// written.
func TestClassBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i := range 3000 {
		n := 2 + r.IntN(2000)
		var us []uint64
		switch i % 4 {
		case 0: // skewed: mostly one value
			for range n {
				u := uint64(0)
				if r.IntN(10) == 0 {
					u = r.Uint64N(1 << r.IntN(20))
				}
				us = append(us, u)
			}
		case 1: // dyadic frequencies, where Huffman meets the entropy
			for j := range n {
				us = append(us, uint64(bits.TrailingZeros(uint(j+1))))
			}
		default: // rounded normal steps, zigzagged
			s := math.Pow(2, r.Float64()*12)
			for range n {
				v := int64(math.Round(r.NormFloat64() * s))
				us = append(us, zigzag(v))
			}
		}
		lo := slices.Min(us)
		var freq [numClasses]uint32
		top := 0
		for _, u := range us {
			c, _ := classOf(u - lo)
			freq[c]++
			top = max(top, c)
		}
		cc, ok := planClasses(freq[:top+1], lo)
		if !ok {
			continue
		}
		size := 1 + cc.size()
		if b := classBound(freq[:top+1], lo); b > size {
			t.Fatalf("case %d: entropy bound %d above the class code's %d bytes", i, b, size)
		}
		if b := classMinSize(freq[:top+1], lo); b > size {
			t.Fatalf("case %d: one-bit bound %d above the class code's %d bytes", i, b, size)
		}
	}
}
