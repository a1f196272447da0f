package encoding

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// checkPrefixes checks that every prefix decode of the encoding b of vs
// (the first k values, for k from 0 to len(vs) and a few past it) is the
// first k values, and that the encoded stream kinds it read included kind
// (a stream kind the case means to cover; -1: any).
func checkPrefixes[T any](t *testing.T, name string, vs []T, b []byte,
	dec func([]T, []byte, int) ([]T, error), eq func(a, b []T) bool) {
	t.Helper()
	ks := []int{0, 1, 2, 3, len(vs) / 2, len(vs) - 1, len(vs)}
	if len(vs) <= 80 {
		ks = ks[:0]
		for k := range len(vs) + 1 {
			ks = append(ks, k)
		}
	}
	for _, k := range ks {
		if k < 0 || k > len(vs) {
			continue
		}
		pre := []T{}
		if len(vs) > 0 {
			pre = append(pre, vs[0]) // decoding appends after what dst holds
		}
		got, err := dec(pre, b, k)
		if err != nil {
			t.Fatalf("%s: prefix %d of %d: %v", name, k, len(vs), err)
		}
		if len(got) != len(pre)+k || !eq(got[len(pre):], vs[:k]) || (len(pre) > 0 && !eq(got[:1], vs[:1])) {
			t.Fatalf("%s: prefix %d of %d decodes differently", name, k, len(vs))
		}
	}
	if _, err := dec(nil, b, len(vs)+1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%s: prefix %d of %d: got %v, want ErrCorrupt", name, len(vs)+1, len(vs), err)
	}
}

// TestPrefixDecode checks the prefix decoders against the whole decode on
// the fixed cases of the round-trip tests and on random blocks of every
// distribution (which between them use every stream kind).
func TestPrefixDecode(t *testing.T) {
	for _, c := range intCases() {
		checkPrefixes(t, "ints "+c.name, c.vs, AppendInts(nil, c.vs), DecodeIntsPrefix, eqInts)
		us := make([]uint64, len(c.vs))
		for i, v := range c.vs {
			us[i] = uint64(v)
		}
		checkPrefixes(t, "uints "+c.name, us, AppendUints(nil, us), DecodeUintsPrefix, eqUints)
	}
	kinds := map[byte]bool{}
	for seed := range uint64(400) {
		r := rand.New(rand.NewPCG(seed, 11))
		n := randLen(r)
		d := dist(seed % uint64(numDists))
		name := fmt.Sprintf("seed %d dist %d n %d", seed, d, n)
		vs := randInts(r, n, d)
		b := AppendInts(nil, vs)
		if len(b) > 0 && b[0] != tagChunked {
			if k, ok := streamKind(b); ok {
				kinds[k] = true
			}
		}
		checkPrefixes(t, "ints "+name, vs, b, DecodeIntsPrefix, eqInts)
		fs := randFloats(r, n, d)
		checkPrefixes(t, "floats "+name, fs, AppendFloats(nil, fs), DecodeFloatsPrefix, eqFloats)
	}
	for _, k := range []byte{packConst, packBits, packDict, packVarbit, packSparse, packHuff, packClass} {
		if !kinds[k] {
			t.Errorf("no random block used stream kind %d", k)
		}
	}
}

// streamKind returns the kind byte of the residual stream of an integer
// block made by AppendInts, when it has one.
func streamKind(b []byte) (byte, bool) {
	r := reader{src: b, off: 1}
	n := r.count("count")
	trans := int(b[0] - tagIntRaw)
	if r.err != nil || n <= trans {
		return 0, false
	}
	for range trans {
		r.varint("head")
	}
	r.uvarint("gcd")
	if r.err != nil || r.off >= len(b) {
		return 0, false
	}
	return b[r.off], true
}

// FuzzDecodePrefix checks the prefix decoders on arbitrary bytes: no
// panic, errors wrap ErrCorrupt, and when the whole block decodes, every
// prefix of it decodes to the same first values.
func FuzzDecodePrefix(f *testing.F) {
	for _, c := range intCases() {
		if len(c.vs) < 1000 {
			f.Add(AppendInts(nil, c.vs), uint16(len(c.vs)/2))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for d := range numDists {
		f.Add(AppendInts(nil, randInts(r, 300, d)), uint16(100))
		f.Add(AppendFloats(nil, randFloats(r, 300, d)), uint16(299))
	}
	f.Fuzz(func(t *testing.T, data []byte, k16 uint16) {
		k := int(k16)
		fuzzPrefix(t, data, k, DecodeInts, DecodeIntsPrefix, eqInts)
		fuzzPrefix(t, data, k, DecodeUints, DecodeUintsPrefix, eqUints)
		fuzzPrefix(t, data, k, DecodeFloats, DecodeFloatsPrefix, eqFloats)
	})
}

func fuzzPrefix[T any](t *testing.T, data []byte, k int,
	all func([]T, []byte) ([]T, error), pre func([]T, []byte, int) ([]T, error), eq func(a, b []T) bool) {
	got, err := pre(nil, data, k)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("prefix %d of %x: error %v does not wrap ErrCorrupt", k, data, err)
		}
		if len(got) != 0 {
			t.Fatalf("prefix %d of %x: %d values with error %v", k, data, len(got), err)
		}
	} else if len(got) != k {
		t.Fatalf("prefix %d of %x: %d values", k, data, len(got))
	}
	vs, err2 := all(nil, data)
	if err2 != nil {
		return
	}
	switch {
	case k <= len(vs) && err != nil:
		t.Fatalf("prefix %d of %x, which decodes to %d values: %v", k, data, len(vs), err)
	case k <= len(vs) && !eq(got, vs[:k]):
		t.Fatalf("prefix %d of %x decodes differently", k, data)
	case k > len(vs) && err == nil:
		t.Fatalf("prefix %d of %x, which decodes to %d values: no error", k, data, len(vs))
	}
}
