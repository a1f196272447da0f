package encoding

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// floatBits compares floats bit for bit.
func floatBits(vs []float64) []uint64 {
	out := make([]uint64, len(vs))
	for i, v := range vs {
		out[i] = math.Float64bits(v)
	}
	return out
}

// roundTrip encodes vs after a prefix, decodes into a non-empty dst, and
// checks the prefix bytes, the prefix values and the result.
func roundTrip[T any](t *testing.T, name string, vs []T,
	enc func([]byte, []T) []byte, dec func([]T, []byte) ([]T, error),
	eq func(a, b []T) bool) int {
	t.Helper()
	prefix := []byte("pre")
	b := enc(append([]byte(nil), prefix...), vs)
	if string(b[:3]) != "pre" {
		t.Fatalf("%s: encoder clobbered dst prefix", name)
	}
	var zero T
	got, err := dec([]T{zero}, b[3:])
	if err != nil {
		t.Fatalf("%s: decode %d values (%d bytes, tag %#x): %v", name, len(vs), len(b)-3, b[3], err)
	}
	if len(got) != len(vs)+1 || !eq(got[1:], vs) {
		n := min(len(vs), 8)
		t.Fatalf("%s: round trip of %d values (tag %#x): got %d values %v..., want %v...",
			name, len(vs), b[3], len(got)-1, got[1:min(len(got), n+1)], vs[:n])
	}
	// Every strict prefix of the encoding must fail cleanly, not panic.
	for cut := 0; cut < len(b)-3; cut += 1 + (len(b)-3)/64 {
		if _, err := dec(nil, b[3:3+cut]); err == nil {
			// A shorter block may be valid by coincidence only when it
			// decodes to different values; that is acceptable.
			continue
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: truncated decode error %v does not wrap ErrCorrupt", name, err)
		}
	}
	return len(b) - 3
}

func eqInts(a, b []int64) bool     { return slices.Equal(a, b) }
func eqUints(a, b []uint64) bool   { return slices.Equal(a, b) }
func eqBools(a, b []bool) bool     { return slices.Equal(a, b) }
func eqStrings(a, b []string) bool { return slices.Equal(a, b) }
func eqFloats(a, b []float64) bool { return slices.Equal(floatBits(a), floatBits(b)) }

func seq(n int, f func(i int) int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func TestTimesRoundTrip(t *testing.T) {
	const sec = int64(1e9)
	t0 := int64(1_451_606_400) * sec
	tests := []struct {
		name string
		ts   []int64
	}{
		{"empty", nil},
		{"one", []int64{t0}},
		{"two", []int64{t0, t0 + 10*sec}},
		{"regular", seq(1000, func(i int) int64 { return t0 + int64(i)*10*sec })},
		{"missing", seq(1000, func(i int) int64 { return t0 + int64(i+i/37)*10*sec })},
		{"jitter", seq(1000, func(i int) int64 { return t0 + int64(i)*10*sec + int64(i*7919%101-50)*1e6 })},
		{"extremes", []int64{math.MinInt64, -1, 0, 1, math.MaxInt64}},
		{"wrap", []int64{math.MaxInt64, math.MinInt64, math.MaxInt64, math.MinInt64}},
		{"decreasing", []int64{5, 4, 3, -100, math.MinInt64}},
		{"min-start", seq(100, func(i int) int64 { return math.MinInt64 + int64(i)*3 })},
		{"max-end", seq(100, func(i int) int64 { return math.MaxInt64 - int64(99-i)*1e15 })},
		{"chunked", seq(MaxBlockLen*2+5, func(i int) int64 { return t0 + int64(i)*sec + int64(i%3) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := roundTrip(t, tt.name, tt.ts, AppendTimes, DecodeTimes, eqInts)
			t.Logf("%d values: %d bytes", len(tt.ts), size)
		})
	}
}

func TestTimesRegularIsTiny(t *testing.T) {
	ts := seq(1000, func(i int) int64 { return 1e18 + int64(i)*1e10 })
	if b := AppendTimes(nil, ts); len(b) > 24 {
		t.Errorf("regular 10 s block: got %d bytes, want ≤ 24", len(b))
	}
}

func intCases() []struct {
	name string
	vs   []int64
} {
	return []struct {
		name string
		vs   []int64
	}{
		{"empty", nil},
		{"one", []int64{42}},
		{"one-min", []int64{math.MinInt64}},
		{"two", []int64{-1, 1}},
		{"three", []int64{math.MaxInt64, 0, math.MinInt64}},
		{"const", seq(500, func(int) int64 { return -7 })},
		{"extremes", []int64{math.MinInt64, math.MaxInt64, math.MinInt64, 0, math.MaxInt64, -1}},
		{"wrap-deltas", seq(64, func(i int) int64 { return int64(uint64(i) * 0x9e3779b97f4a7c15) })},
		{"ramp", seq(1000, func(i int) int64 { return int64(i) * 1000 })},
		{"walk", seq(1000, func(i int) int64 { return int64(i*i%7) - 3 })},
		{"gcd-min", seq(10, func(i int) int64 {
			if i%2 == 0 {
				return math.MinInt64
			}
			return 0
		})},
		{"sparse", seq(1000, func(i int) int64 {
			if i%97 == 0 {
				return int64(i) * 12345
			}
			return 5
		})},
		{"chunked", seq(MaxBlockLen+1, func(i int) int64 { return int64(i % 1000) })},
	}
}

func TestIntsRoundTrip(t *testing.T) {
	for _, tt := range intCases() {
		t.Run(tt.name, func(t *testing.T) {
			roundTrip(t, tt.name, tt.vs, AppendInts, DecodeInts, eqInts)
		})
	}
}

func TestUintsRoundTrip(t *testing.T) {
	for _, tt := range intCases() {
		t.Run(tt.name, func(t *testing.T) {
			us := make([]uint64, len(tt.vs))
			for i, v := range tt.vs {
				us[i] = uint64(v)
			}
			roundTrip(t, tt.name, us, AppendUints, DecodeUints, eqUints)
		})
	}
	roundTrip(t, "max", []uint64{math.MaxUint64, 0, math.MaxUint64 - 1, 1 << 63}, AppendUints, DecodeUints, eqUints)
}

func TestFloatsRoundTrip(t *testing.T) {
	nanPayload := math.Float64frombits(0x7ff0_0000_dead_beef)
	negNaN := math.Float64frombits(0xfff8_0000_0000_0001)
	denorm := math.Float64frombits(1)
	tests := []struct {
		name string
		vs   []float64
		tag  byte // expected scheme, 0 = any
	}{
		{"empty", nil, 0},
		{"one", []float64{1.5}, tagFloatConst},
		{"const-nan", []float64{nanPayload, nanPayload, nanPayload}, tagFloatConst},
		{"specials", []float64{math.NaN(), nanPayload, negNaN, math.Copysign(0, -1), 0, math.Inf(1), math.Inf(-1),
			denorm, -denorm, math.SmallestNonzeroFloat64, math.MaxFloat64, -math.MaxFloat64}, 0},
		{"neg-zero-in-decimals", []float64{1.5, math.Copysign(0, -1), 2.25}, 0},
		{"decimals", []float64{23.45, 23.46, 23.44, -0.01, 100, 1e-12}, tagFloatDecimal},
		{"ints", []float64{0, 1, 2, 3, -5, 1e15}, tagFloatDecimal},
		{"big-exp", []float64{1e18, 2e18, 3e18, 5e18}, tagFloatDecimal},
		{"huge", []float64{1e300, 1e301, -1e302, 1e-300}, 0},
		{"not-decimal", []float64{math.Pi, math.E, math.Sqrt2, math.Ln2}, 0},
		{"denormals", []float64{denorm, 2 * denorm, 3 * denorm, math.Float64frombits(0x000f_ffff_ffff_ffff)}, 0},
		{"ramp", func() []float64 {
			vs := make([]float64, 1000)
			for i := range vs {
				vs[i] = float64(i) * 0.1
			}
			return vs
		}(), 0},
		{"chunked", make([]float64, MaxBlockLen+3), tagChunked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roundTrip(t, tt.name, tt.vs, AppendFloats, DecodeFloats, eqFloats)
			if b := AppendFloats(nil, tt.vs); tt.tag != 0 && b[0] != tt.tag {
				t.Errorf("scheme of %v: got %#x, want %#x", tt.vs[:min(len(tt.vs), 4)], b[0], tt.tag)
			}
		})
	}
}

func TestBoolsRoundTrip(t *testing.T) {
	mk := func(n int, f func(i int) bool) []bool {
		out := make([]bool, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	tests := []struct {
		name string
		vs   []bool
	}{
		{"empty", nil},
		{"one-true", []bool{true}},
		{"one-false", []bool{false}},
		{"alternating", mk(1001, func(i int) bool { return i%2 == 0 })},
		{"runs", mk(5000, func(i int) bool { return i/700%2 == 1 })},
		{"all-true", mk(3000, func(int) bool { return true })},
		{"nine", mk(9, func(i int) bool { return i == 8 })},
		{"chunked", mk(MaxBlockLen*3, func(i int) bool { return i%5 == 0 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roundTrip(t, tt.name, tt.vs, AppendBools, DecodeBools, eqBools)
		})
	}
}

func TestStringsRoundTrip(t *testing.T) {
	huge := strings.Repeat("x€", 1<<19)
	tests := []struct {
		name string
		vs   []string
	}{
		{"empty", nil},
		{"one", []string{"a"}},
		{"one-empty", []string{""}},
		{"empties", []string{"", "", "", ""}},
		{"unicode", []string{"日本語", "😀", "\x00\xff", "ünïcödé", "日本語"}},
		{"huge", []string{huge, "", huge[:1000]}},
		{"dict", func() []string {
			out := make([]string, 1000)
			for i := range out {
				out[i] = []string{"ok", "warn", "error"}[i*i%3]
			}
			return out
		}()},
		{"distinct", func() []string {
			out := make([]string, 500)
			for i := range out {
				out[i] = fmt.Sprint("host_", i)
			}
			return out
		}()},
		{"chunked", make([]string, MaxBlockLen+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roundTrip(t, tt.name, tt.vs, AppendStrings, DecodeStrings, eqStrings)
		})
	}
}

// Distributions for the property tests.
type dist int

const (
	distConst dist = iota
	distWalk
	distRandom
	distSparse
	distSmall
	numDists
)

func randInts(r *rand.Rand, n int, d dist) []int64 {
	vs := make([]int64, n)
	c := r.Int64()
	switch d {
	case distConst:
		for i := range vs {
			vs[i] = c
		}
	case distWalk:
		step := int64(1) << r.IntN(40)
		for i := range vs {
			c += r.Int64N(2*step+1) - step
			vs[i] = c
		}
	case distRandom:
		shift := r.IntN(64)
		for i := range vs {
			vs[i] = int64(r.Uint64()) >> shift
		}
	case distSparse:
		for i := range vs {
			if r.IntN(20) == 0 {
				vs[i] = r.Int64()
			} else {
				vs[i] = c
			}
		}
	case distSmall:
		k := 1 + r.IntN(20)
		for i := range vs {
			vs[i] = r.Int64N(int64(k)) * 1000
		}
	}
	return vs
}

func randFloats(r *rand.Rand, n int, d dist) []float64 {
	vs := make([]float64, n)
	switch r.IntN(4) {
	case 0: // arbitrary bit patterns
		for i, v := range randInts(r, n, d) {
			vs[i] = math.Float64frombits(uint64(v))
		}
	case 1: // decimals
		e := r.IntN(8)
		for i, v := range randInts(r, n, d) {
			vs[i] = float64(v%1e9) / math.Pow10(e)
		}
	default: // random walk of floats
		x := r.NormFloat64() * 100
		for i := range vs {
			if d != distConst {
				x += r.NormFloat64()
			}
			vs[i] = x
		}
	}
	return vs
}

func randLen(r *rand.Rand) int {
	switch r.IntN(4) {
	case 0:
		return r.IntN(4)
	case 1:
		return r.IntN(100)
	default:
		return r.IntN(5000)
	}
}

func TestRandomRoundTrip(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		n := randLen(r)
		d := dist(seed % uint64(numDists))
		name := fmt.Sprintf("seed %d dist %d n %d", seed, d, n)

		vs := randInts(r, n, d)
		roundTrip(t, name, vs, AppendInts, DecodeInts, eqInts)
		us := make([]uint64, n)
		for i, v := range vs {
			us[i] = uint64(v)
		}
		roundTrip(t, name, us, AppendUints, DecodeUints, eqUints)

		ts := randInts(r, n, d)
		slices.Sort(ts)
		ts = slices.Compact(ts)
		roundTrip(t, name, ts, AppendTimes, DecodeTimes, eqInts)
		roundTrip(t, name+" unsorted", vs, AppendTimes, DecodeTimes, eqInts)

		roundTrip(t, name, randFloats(r, n, d), AppendFloats, DecodeFloats, eqFloats)

		bs := make([]bool, n)
		p := r.Float64()
		for i := range bs {
			if d == distWalk && i > 0 {
				bs[i] = bs[i-1] != (r.Float64() < p/10)
			} else {
				bs[i] = r.Float64() < p
			}
		}
		roundTrip(t, name, bs, AppendBools, DecodeBools, eqBools)

		ss := make([]string, n)
		for i, v := range vs {
			if d == distRandom {
				ss[i] = fmt.Sprint(v)
			} else {
				ss[i] = strings.Repeat("ab", int(uint64(v)%7))
			}
		}
		roundTrip(t, name, ss, AppendStrings, DecodeStrings, eqStrings)
	}
}

func TestDecodeErrors(t *testing.T) {
	inputs := [][]byte{
		nil,
		{0xff},
		{tagIntRaw},
		{tagIntRaw, 0xff, 0xff, 0xff, 0xff, 0x0f},              // count too large
		{tagIntDelta, 2, 0, 0, 9},                              // bad stream kind
		{tagIntRaw, 1, 1, packBits, 0, 65},                     // width > 64
		{tagIntRaw, 1, 1, packConst, 1, 0},                     // trailing byte
		{tagFloatGorilla, 3, 1, 2},                             // truncated
		{tagBoolRuns, 4, 0, 1, packConst, 9},                   // run too long
		{tagStringDict, 2, 1, packConst, 1, 'a', packConst, 3}, // bad index
		{tagChunked, 5, 2, tagChunked, 0},                      // nested container
	}
	for _, in := range inputs {
		for _, dec := range []func([]byte) error{
			func(b []byte) error { _, err := DecodeInts(nil, b); return err },
			func(b []byte) error { _, err := DecodeUints(nil, b); return err },
			func(b []byte) error { _, err := DecodeTimes(nil, b); return err },
			func(b []byte) error { _, err := DecodeFloats(nil, b); return err },
			func(b []byte) error { _, err := DecodeBools(nil, b); return err },
			func(b []byte) error { _, err := DecodeStrings(nil, b); return err },
		} {
			if err := dec(in); err == nil || !errors.Is(err, ErrCorrupt) {
				t.Errorf("decode %x: got error %v, want one wrapping ErrCorrupt", in, err)
			}
		}
	}
}

// TestDecodeAppendGrowsGeometrically decodes many blocks of a constant into
// one slice without room reserved in advance. Each block decodes to
// thousands of values from a few bytes; before grow doubled the capacity,
// every block reallocated and copied all values before it.
func TestDecodeAppendGrowsGeometrically(t *testing.T) {
	const blocks, per = 500, 4000
	vs := make([]float64, per)
	for i := range vs {
		vs[i] = 21.5
	}
	enc := AppendFloats(nil, vs)
	var out []float64
	allocs := testing.AllocsPerRun(1, func() {
		out = out[:0:0]
		for range blocks {
			var err error
			if out, err = DecodeFloats(out, enc); err != nil {
				t.Fatal(err)
			}
		}
	})
	if len(out) != blocks*per {
		t.Fatalf("decoded %d values, want %d", len(out), blocks*per)
	}
	if allocs > 2*20 {
		t.Errorf("%d blocks appended with %v allocations, want O(log n)", blocks, allocs)
	}
}
