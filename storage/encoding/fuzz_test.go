package encoding

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// checkDecode is the body of the decoder fuzzers: decoding arbitrary bytes
// must not panic, must fail with ErrCorrupt or succeed, and a successful
// result must survive re-encoding.
func checkDecode[T any](t *testing.T, data []byte,
	enc func([]byte, []T) []byte, dec func([]T, []byte) ([]T, error), eq func(a, b []T) bool) {
	vs, err := dec(nil, data)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decode %x: error %v does not wrap ErrCorrupt", data, err)
		}
		if len(vs) != 0 {
			t.Fatalf("decode %x: got %d values with error %v", data, len(vs), err)
		}
		return
	}
	b := enc(nil, vs)
	again, err := dec(nil, b)
	if err != nil {
		t.Fatalf("decode %x: re-encoded as %x, which fails: %v", data, b, err)
	}
	if !eq(again, vs) {
		t.Fatalf("decode %x: re-encoded as %x, which decodes differently", data, b)
	}
}

// seeds adds encodings of a few typical blocks to a decoder fuzzer.
func seeds(f *testing.F, blocks ...[]byte) {
	for _, b := range blocks {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{tagChunked, 3, 4, tagIntRaw, 3, 1, packConst, 0})
}

func FuzzDecodeTimes(f *testing.F) {
	seeds(f,
		AppendTimes(nil, seq(100, func(i int) int64 { return t0 + int64(i)*1e10 })),
		AppendTimes(nil, seq(100, func(i int) int64 { return t0 + int64(i+i/9)*1e10 + int64(i%7)*1e6 })),
		AppendTimes(nil, []int64{math.MinInt64, 0, math.MaxInt64}),
		AppendTimes(nil, seq(100, func(i int) int64 { return int64(i * i) })))
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data, AppendTimes, DecodeTimes, eqInts) })
}

func FuzzDecodeInts(f *testing.F) {
	for _, c := range intCases() {
		if len(c.vs) < 1000 {
			f.Add(AppendInts(nil, c.vs))
		}
	}
	seeds(f, AppendInts(nil, cpuSet(1, 300)[0].ints))
	f.Add(AppendInts(nil, randomWalk(rand.New(rand.NewPCG(5, 6)), 200, 1)))  // an entropy-coded stream
	f.Add(AppendInts(nil, randomWalk(rand.New(rand.NewPCG(5, 6)), 200, 40))) // a class-coded stream
	f.Add(AppendInts(nil, skewedFarApart(rand.New(rand.NewPCG(5, 6)), 200))) // a rANS stream, listed
	f.Add(AppendInts(nil, randomWalk(rand.New(rand.NewPCG(5, 7)), 1000, 1))) // a rANS stream, dense
	f.Add(AppendInts(nil, randomWalk(rand.New(rand.NewPCG(5, 8)), 30, 1)))   // a Huffman stream
	f.Add(AppendInts(nil, randomWalk(rand.New(rand.NewPCG(5, 6)), 2200, 1))) // restart points
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data, AppendInts, DecodeInts, eqInts) })
}

// FuzzDecodeIntsRange: a range decode of arbitrary bytes must not panic,
// must fail with ErrCorrupt or return exactly to − from values, and on a
// valid block equals the whole decode's values there. Restart tables are
// followed, not checked against the codes (a block's CRC guards them), so
// equality is checked only for blocks this package wrote.
func FuzzDecodeIntsRange(f *testing.F) {
	walk := AppendInts(nil, randomWalk(rand.New(rand.NewPCG(5, 6)), 3000, 1))
	f.Add(walk, uint16(1500), uint16(2500))
	f.Add(AppendInts(nil, randomWalk(rand.New(rand.NewPCG(5, 6)), 2500, 40)), uint16(1100), uint16(2400))
	f.Add([]byte{tagIntDelta | restartFlag, 3, 0, 1, 1, 0, 0}, uint16(1), uint16(2))
	f.Fuzz(func(t *testing.T, data []byte, from, to uint16) {
		a, b := int(min(from, to)), int(max(from, to))
		got, err := DecodeIntsRange(nil, data, a, b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("range [%d, %d) of %x: error %v does not wrap ErrCorrupt", a, b, data, err)
			}
			return
		}
		if len(got) != b-a {
			t.Fatalf("range [%d, %d) of %x: %d values", a, b, data, len(got))
		}
		all, err := DecodeInts(nil, data)
		if err != nil {
			return
		}
		if again := AppendInts(nil, all); b <= len(all) {
			if r, err := DecodeIntsRange(nil, again, a, b); err != nil || !slices.Equal(r, all[a:b]) {
				t.Fatalf("range [%d, %d) of the re-encoded block: %v", a, b, err)
			}
		}
	})
}

func FuzzDecodeUints(f *testing.F) {
	seeds(f, AppendUints(nil, []uint64{math.MaxUint64, 0, 5, 5, 5, 5, 5, 5, 5, 5, 5, 6}),
		AppendUints(nil, []uint64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}))
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data, AppendUints, DecodeUints, eqUints) })
}

func FuzzDecodeFloats(f *testing.F) {
	iot := iotSet(1, 200)
	seeds(f, AppendFloats(nil, iot[0].floats), AppendFloats(nil, iot[4].floats),
		AppendFloats(nil, []float64{math.Pi, math.E, math.NaN(), math.Inf(-1), math.Copysign(0, -1)}),
		AppendFloats(nil, []float64{1, 1, 1}), AppendFloats(nil, []float64{1e300, -1e-300}))
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data, AppendFloats, DecodeFloats, eqFloats) })
}

func FuzzDecodeBools(f *testing.F) {
	seeds(f, AppendBools(nil, []bool{true, false, true}),
		AppendBools(nil, append(make([]bool, 200), true, true, true)))
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data, AppendBools, DecodeBools, eqBools) })
}

func FuzzDecodeStrings(f *testing.F) {
	seeds(f, AppendStrings(nil, []string{"a", "bb", "", "日本"}),
		AppendStrings(nil, []string{"ok", "ok", "ok", "err", "ok", "ok"}),
		AppendStringsFields(nil, hourRows(24, 5)),
		AppendStrings(nil, hourRows(24, 5)),        // the prefix scheme, compact
		AppendStrings(nil, partialHourRows(24, 5)), // the prefix scheme with marks
		[]byte{tagStringPrefix, 2, 2, 'a', packBits, 0, 1, 0x40, packBits, 0, 1, 0x40, 'y'})
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data, AppendStrings, DecodeStrings, eqStrings) })
}

// Round-trip fuzzers: arbitrary bytes read as values.

func bytesToInts(data []byte) []int64 {
	vs := make([]int64, 0, len(data)/8+1)
	for len(data) > 0 {
		var b [8]byte
		n := copy(b[:], data)
		data = data[n:]
		vs = append(vs, int64(binary.LittleEndian.Uint64(b[:])))
	}
	return vs
}

// bytesToSmallInts reads one byte per value as a signed step of a walk, so
// the compact schemes get exercised too.
func bytesToWalk(data []byte, scale int64) []int64 {
	vs := make([]int64, len(data))
	var v int64
	for i, b := range data {
		v += int64(int8(b)) * scale
		vs[i] = v
	}
	return vs
}

func checkRoundTrip[T any](t *testing.T, vs []T, enc func([]byte, []T) []byte,
	dec func([]T, []byte) ([]T, error), eq func(a, b []T) bool) {
	b := enc(nil, vs)
	got, err := dec(nil, b)
	if err != nil {
		t.Fatalf("decode of %d values (tag %#x): %v", len(vs), b[0], err)
	}
	if !eq(got, vs) {
		t.Fatalf("round trip of %d values (tag %#x) differs", len(vs), b[0])
	}
}

func FuzzIntsRoundTrip(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, false)
	f.Add([]byte{0, 1, 255, 0, 1, 1, 0, 255}, true)
	f.Fuzz(func(t *testing.T, data []byte, walk bool) {
		vs := bytesToInts(data)
		if walk {
			vs = bytesToWalk(data, 1000)
		}
		checkRoundTrip(t, vs, AppendInts, DecodeInts, eqInts)
		us := make([]uint64, len(vs))
		for i, v := range vs {
			us[i] = uint64(v)
		}
		checkRoundTrip(t, us, AppendUints, DecodeUints, eqUints)
	})
}

func FuzzTimesRoundTrip(f *testing.F) {
	f.Add([]byte{10, 10, 10, 11, 10, 9, 10, 10}, true)
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, false)
	f.Fuzz(func(t *testing.T, data []byte, increasing bool) {
		var ts []int64
		if increasing {
			// Steps of 10 s ± byte-sized jitter in ms.
			ts = make([]int64, len(data))
			v := t0
			for i, b := range data {
				v += 1e10 + int64(int8(b))*1e6
				if b == 0 {
					v += 1e10 // a missing point
				}
				ts[i] = v
			}
		} else {
			ts = bytesToInts(data)
		}
		checkRoundTrip(t, ts, AppendTimes, DecodeTimes, eqInts)
	})
}

func FuzzFloatsRoundTrip(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 1, 2, 3}, 0)
	f.Add([]byte{1, 2, 3, 4, 200, 100}, 2)
	f.Fuzz(func(t *testing.T, data []byte, decimals int) {
		var vs []float64
		if decimals >= 0 && decimals <= 15 {
			// Decimal readings: a walk of integers over 10^decimals.
			for _, m := range bytesToWalk(data, 7) {
				vs = append(vs, float64(m)/math.Pow10(decimals))
			}
		} else {
			for _, v := range bytesToInts(data) {
				vs = append(vs, math.Float64frombits(uint64(v)))
			}
		}
		checkRoundTrip(t, vs, AppendFloats, DecodeFloats, eqFloats)
	})
}

func FuzzBoolsRoundTrip(f *testing.F) {
	f.Add([]byte{0, 0xff, 0x0f}, false)
	f.Add([]byte{0, 0, 0, 3, 200}, true)
	f.Fuzz(func(t *testing.T, data []byte, runs bool) {
		var vs []bool
		if runs {
			// Each byte is a run length.
			v := false
			for _, b := range data {
				for range int(b) + 1 {
					vs = append(vs, v)
				}
				v = !v
			}
		} else {
			for _, b := range data {
				for i := range 8 {
					vs = append(vs, b>>i&1 == 1)
				}
			}
		}
		checkRoundTrip(t, vs, AppendBools, DecodeBools, eqBools)
	})
}

func FuzzStringsRoundTrip(f *testing.F) {
	f.Add("a,b,,ok,ok,ok,日本語", ",")
	f.Add("xxxxxxxx", "")
	f.Add("row/1,row/2,,row/3,row/,ro,row/4,row/5", ",") // shared prefixes
	f.Fuzz(func(t *testing.T, s, sep string) {
		var vs []string
		if sep == "" {
			vs = []string{s}
		} else {
			vs = strings.Split(s, sep)
		}
		checkRoundTrip(t, vs, AppendStrings, DecodeStrings, eqStrings)
		// Repeat to exercise the dictionary.
		vs = slices.Repeat(vs, 5)
		checkRoundTrip(t, vs, AppendStrings, DecodeStrings, eqStrings)
	})
}

// FuzzStringFieldsRoundTrip reads arbitrary bytes as strings of uvarints
// (cut at every sep byte), as rollup rows are, so the fields scheme is
// tried on them.
func FuzzStringFieldsRoundTrip(f *testing.F) {
	f.Add([]byte{0x95, 0xe8, 0x02, 0, 10, 0x14, 0x03, 0x95, 0xe8, 0x02, 0, 10, 0x16, 0x05}, byte(0x03))
	f.Add([]byte{1, 2, 3, 0xff, 1, 2, 4, 0xff, 1, 3}, byte(0xff))
	// Empty strings among rows, multi-byte fields, a rectangular block of
	// multi-byte fields, one field each: readFields' ragged, rectangular
	// and empty paths.
	f.Add([]byte{0xfe, 7, 0xac, 0x02, 0xfe, 0xfe, 7, 0xad, 0x02, 0xfe}, byte(0xfe))
	f.Add([]byte{0x80, 0x01, 0x7f, 0xff, 0x7f, 0xff, 0x80, 0x01, 0x80, 0x80, 0x01, 0xff, 0x81, 0x01, 0x01, 0x80, 0x01}, byte(0xff))
	f.Add([]byte{1, 0, 2, 0, 3, 0, 4}, byte(0))
	f.Fuzz(func(t *testing.T, b []byte, sep byte) {
		vs := strings.Split(string(b), string([]byte{sep}))
		checkRoundTrip(t, vs, AppendStringsFields, DecodeStrings, eqStrings)
	})
}
