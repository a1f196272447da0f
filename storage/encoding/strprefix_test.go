package encoding

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// partialHourRows is hourRows whose first and last rows are of partial
// hours (counts 120 and 200 instead of 360), as the first and last day of
// real data are: they do not share the others' prefix.
func partialHourRows(n int, seed uint64) []string {
	out := hourRows(n, seed)
	for i, c := range map[int]uint64{0: 120, n - 1: 200} {
		_, w := uvarintString(out[i])
		out[i] = varints(0x95|c<<7) + out[i][w:]
	}
	return out
}

// forcePrefix encodes vs in the prefix scheme whether or not it is the
// smallest, with the prefix p or, when p is empty, the planner's, and
// checks the plan's exact size against the bytes.
func forcePrefix(t *testing.T, vs []string, p string) []byte {
	t.Helper()
	lens := make([]uint64, len(vs))
	total := 0
	for i, s := range vs {
		lens[i] = uint64(len(s))
		total += len(s)
	}
	var pp *prefixPlan
	if p != "" {
		pp = planPrefixOf(vs, lens, p)
	} else if pp, _ = planPrefix(vs, lens, total, math.MaxInt); pp == nil {
		t.Fatalf("%d strings: no prefix planned", len(vs))
	}
	head := binary.AppendUvarint([]byte{tagStringPrefix}, uint64(len(vs)))
	b := appendPrefix(head, vs, pp)
	if got := len(b) - len(head); got != pp.size {
		t.Fatalf("prefix %q: %d bytes after the head, planned %d", pp.p, got, pp.size)
	}
	return b
}

func TestStringPrefix(t *testing.T) {
	rooms := make([]string, 30)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("building-7/floor-2/room-%d/temperature", i*37%101)
	}
	long := make([]string, 20)
	for i := range long {
		long[i] = strings.Repeat("x", 100) + fmt.Sprint(i)
	}
	many := make([]string, MaxBlockLen)
	for i := range many {
		many[i] = fmt.Sprintf("series-%05d", i)
	}
	r := rand.New(rand.NewPCG(1, 2))
	random := make([]string, 40)
	for i := range random {
		b := make([]byte, 4+r.IntN(8))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		random[i] = string(b)
	}
	tests := []struct {
		name    string
		vs      []string
		prefix  bool   // AppendStrings must choose the prefix scheme
		p       string // the prefix chosen, when prefix
		compact bool   // every string has P: no marks
	}{
		{"all share P", rooms, true, "building-7/floor-2/room-", true},
		{"hour rows", hourRows(24, 1), true, varints(0x95|360<<7, 0, 10), true},
		{"partial first and last hour", partialHourRows(24, 2), true, varints(0x95|360<<7, 0, 10), false},
		{"some do not", append(slices.Clone(rooms[:20]), "attic/door", "cellar/water", "roof/wind"), true, "building-7/floor-2/room-", false},
		{"empty strings among them", append([]string{"", ""}, append(slices.Clone(rooms[:10]), "")...), true, "building-7/floor-2/room-", false},
		{"P equal to a whole string", []string{"building-7/floor-2/", "building-7/floor-2/a", "building-7/floor-2/", "building-7/floor-2/bb", "building-7/floor-2/c"}, true, "building-7/floor-2/", true},
		{"longer than maxStringPrefix", long, true, strings.Repeat("x", maxStringPrefix), true},
		{"65,536 strings", many, true, "series-", true},
		{"none do", random, false, "", false},
		{"one string", []string{"building-7/floor-2/room-1"}, false, "", false},
		{"repeated values", slices.Repeat([]string{"building-7/a", "building-7/b"}, 20), false, "", false}, // the dictionary
		{"chunked", append(slices.Clone(many), "series-x"), false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := roundTrip(t, tt.name, tt.vs, AppendStrings, DecodeStrings, eqStrings)
			b := AppendStrings(nil, tt.vs)
			if got := b[0] == tagStringPrefix; got != tt.prefix {
				t.Fatalf("tag %#x, prefix scheme %v, want %v", b[0], got, tt.prefix)
			}
			if !tt.prefix {
				return
			}
			// The head, then h = 2|P| + compact, then P.
			r := reader{src: b, off: 1}
			r.count("count")
			h := r.uvarint("h")
			p := r.bytes(h>>1, "P")
			if string(p) != tt.p || (h&1 == 1) != tt.compact {
				t.Errorf("prefix %q, compact %v; want %q, %v", p, h&1 == 1, tt.p, tt.compact)
			}
			// Exact size: the plan's size is the bytes written.
			if forced := forcePrefix(t, tt.vs, ""); len(forced) != size || !slices.Equal(forced, b) {
				t.Errorf("forced prefix encoding %d bytes, AppendStrings %d", len(forced), size)
			}
		})
	}
}

// TestStringPrefixForced decodes the prefix scheme where the encoder would
// not choose it, after what dst held, reusing the decoder's scratch across
// blocks of different sizes.
func TestStringPrefixForced(t *testing.T) {
	for _, c := range []struct {
		p  string
		vs []string
	}{
		{"a", []string{"ab", "ac"}},
		{"a", []string{"a", "", "a", "b"}},
		{"xy", []string{"", "xy", "xy", "xyz", ""}},
		{"kk", slices.Repeat([]string{"kk1", "kk2", "j"}, 300)},
		{"zz", []string{"zz", "zz"}},
		{"q", []string{"q"}},
		{"日", []string{"日本", "日", "本"}},
	} {
		vs := c.vs
		kept := []string{"kept", ""}
		got, err := DecodeStrings(slices.Clone(kept), forcePrefix(t, vs, c.p))
		if err != nil || !slices.Equal(got, append(slices.Clone(kept), vs...)) {
			t.Errorf("decode %q: %q, %v", vs, got, err)
		}
	}
}

// TestStringPrefixRollupRows fails if rollup-like rows stop choosing the
// prefix scheme without the fields scheme, or stop saving: a day of hour
// rows, of full hours and with partial first and last hours.
func TestStringPrefixRollupRows(t *testing.T) {
	for seed := range uint64(20) {
		for _, vs := range [][]string{hourRows(24, seed), partialHourRows(24, seed), hourRows(1000, seed)} {
			b := AppendStrings(nil, vs)
			if b[0] != tagStringPrefix {
				t.Fatalf("seed %d, %d rows: tag %#x, want the prefix scheme", seed, len(vs), b[0])
			}
			plain := 0
			for _, s := range vs {
				plain += len(s) + 1
			}
			// Every full hour saves its five shared bytes.
			if saved := plain - len(b); saved < 4*len(vs)-4 {
				t.Errorf("seed %d, %d rows: %d bytes against %d plain, saved %d", seed, len(vs), len(b), plain, saved)
			}
		}
	}
}

func TestStringPrefixCorrupt(t *testing.T) {
	for _, vs := range [][]string{hourRows(24, 3), partialHourRows(24, 4)} {
		good := AppendStrings(nil, vs)
		if good[0] != tagStringPrefix {
			t.Fatalf("tag %#x", good[0])
		}
		for i := 1; i < len(good); i++ {
			if got, err := DecodeStrings(nil, good[:i]); !errors.Is(err, ErrCorrupt) || len(got) != 0 {
				t.Errorf("truncated to %d bytes: %d strings, %v; want corrupt", i, len(got), err)
			}
		}
		if _, err := DecodeStrings(nil, append(slices.Clone(good), 0)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("trailing byte: %v, want corrupt", err)
		}
	}
	inputs := []struct {
		name string
		b    []byte
	}{
		{"empty prefix", []byte{tagStringPrefix, 2, 1, packConst, 1, 'x', 'y'}},
		{"prefix longer than maxStringPrefix", append(append([]byte{tagStringPrefix, 2, 0x83, 0x01}, strings.Repeat("p", 65)...), packConst, 0)},
		{"prefix past the block", []byte{tagStringPrefix, 2, 9, 'a', 'b'}},
		{"mark 2", []byte{tagStringPrefix, 2, 2, 'a', packBits, 0, 2, 0x20, packConst, 1, 'x', 'y'}},
		{"no string marked", []byte{tagStringPrefix, 2, 2, 'a', packConst, 0, packConst, 1, 'x', 'y'}},
		{"every string marked without the compact form", []byte{tagStringPrefix, 2, 2, 'a', packConst, 1, packConst, 1, 'x', 'y'}},
		{"unused mark bits set", []byte{tagStringPrefix, 2, 2, 'a', packBits, 0, 1, 0x50, packConst, 1, 'x', 'y'}},
		{"marks truncated", []byte{tagStringPrefix, 2, 2, 'a', packBits, 0, 1}},
		{"lengths past the block", []byte{tagStringPrefix, 2, 3, 'a', packConst, 2, 'x', 'y', 'z'}},
		{"trailing byte", []byte{tagStringPrefix, 2, 3, 'a', packConst, 1, 'x', 'y', 0}},
		{"huge count", []byte{tagStringPrefix, 0x81, 0x80, 0x04, 3, 'a', packConst, 0}},
	}
	for _, in := range inputs {
		if got, err := DecodeStrings([]string{"kept"}, in.b); !errors.Is(err, ErrCorrupt) || !slices.Equal(got, []string{"kept"}) {
			t.Errorf("%s: decode %x: %q, %v; want corrupt and dst unchanged", in.name, in.b, got, err)
		}
	}
	// The minimal valid blocks: two strings "ax" and "ay" (compact), and
	// "ax" and "y" (marks 1, 0 as bits 10, padded with zeros).
	for _, c := range []struct {
		b    []byte
		want []string
	}{
		{[]byte{tagStringPrefix, 2, 3, 'a', packConst, 1, 'x', 'y'}, []string{"ax", "ay"}},
		{[]byte{tagStringPrefix, 2, 2, 'a', packBits, 0, 1, 0x80, packConst, 1, 'x', 'y'}, []string{"ax", "y"}},
		{[]byte{tagStringPrefix, 2, 2, 'a', packBits, 0, 1, 0x40, packBits, 0, 1, 0x40, 'y'}, []string{"", "ay"}},
	} {
		if got, err := DecodeStrings(nil, c.b); err != nil || !slices.Equal(got, c.want) {
			t.Errorf("decode %x: %q, %v; want %q", c.b, got, err, c.want)
		}
	}
}

// TestStringPrefixAllocs checks that a prefix block decodes into a
// reused dst with one allocation: the strings' bytes.
func TestStringPrefixAllocs(t *testing.T) {
	for _, vs := range [][]string{hourRows(24, 5), partialHourRows(24, 6)} {
		b := AppendStrings(nil, vs)
		out := make([]string, 0, len(vs))
		allocs := testing.AllocsPerRun(100, func() {
			var err error
			if out, err = DecodeStrings(out[:0], b); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 1 {
			t.Errorf("%d allocations per block, want 1", int(allocs))
		}
	}
}
