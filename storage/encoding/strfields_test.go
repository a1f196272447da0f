package encoding

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// varints returns the string of the minimal uvarints of vs.
func varints(vs ...uint64) string {
	var b []byte
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return string(b)
}

// hourRows are strings shaped like rollup rows of a day of hours: a head,
// a count, time offsets and drifting values.
func hourRows(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]string, n)
	first := int64(50)
	for i := range out {
		last := first + int64(r.IntN(41)) - 20
		out[i] = varints(0x95|360<<7, 0, 10, zigzag(first), zigzag(last-first), uint64(r.IntN(20)), uint64(r.IntN(20)),
			uint64(18000+r.IntN(5000)), uint64(r.Uint32()>>8))
		first = last + int64(r.IntN(3)) - 1
	}
	return out
}

func TestStringFields(t *testing.T) {
	tests := []struct {
		name   string
		vs     []string
		fields bool // the fields scheme must be chosen
	}{
		{"hour rows", hourRows(24, 1), true},
		{"many hour rows", hourRows(1000, 2), true},
		{"ragged", []string{varints(1, 2, 3), varints(1, 2), varints(1, 2, 3, 4, 5), varints(1, 2, 3, 4), varints(1, 2, 3)}, true},
		{"empty strings among rows", []string{varints(7, 300), "", varints(7, 301), varints(7, 302), ""}, false},
		{"extremes", []string{varints(math.MaxUint64, 0, 1<<63), varints(math.MaxUint64, 1, 1<<63), varints(math.MaxUint64-1, 0, 1<<63)}, false},
		{"non-minimal varint", []string{"\x80\x00", "\x80\x00", "\x80\x00"}, false},
		{"truncated varint", []string{"\x80", "\x81", "\x80"}, false},
		{"overlong varint", []string{strings.Repeat("\xff", 10) + "\x01", "a", "b"}, false},
		{"text", []string{"host_1", "host_2", "host_3", "host_4"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roundTrip(t, tt.name, tt.vs, AppendStringsFields, DecodeStrings, eqStrings)
			b := AppendStringsFields(nil, tt.vs)
			if tt.fields && b[0] != tagStringFields {
				t.Errorf("tag %#x, want the fields scheme", b[0])
			}
		})
	}
	// The rows of an hour shrink: plain bytes against the fields scheme.
	vs := hourRows(24, 3)
	plain := 0
	for _, s := range vs {
		plain += len(s) + 1
	}
	if got := len(AppendStringsFields(nil, vs)); got*3 > plain*2 {
		t.Errorf("24 hour rows: %d bytes, plain %d; want at most two thirds", got, plain)
	}
}

// TestStringFieldsRandom round-trips random sequences of uvarints: every
// string a few values of random magnitudes, the counts varying.
func TestStringFieldsRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for iter := range 300 {
		n := 1 + r.IntN(200)
		vs := make([]string, n)
		k := r.IntN(12)
		for i := range vs {
			ki := k
			if iter%3 == 0 {
				ki = r.IntN(12)
			}
			xs := make([]uint64, ki)
			for j := range xs {
				xs[j] = r.Uint64() >> r.IntN(64)
			}
			vs[i] = varints(xs...)
		}
		roundTrip(t, "random", vs, AppendStringsFields, DecodeStrings, eqStrings)
	}
}

func TestStringFieldsCorrupt(t *testing.T) {
	good := AppendStringsFields(nil, hourRows(24, 4))
	if good[0] != tagStringFields {
		t.Fatalf("tag %#x", good[0])
	}
	for i := 1; i < len(good); i++ {
		if _, err := DecodeStrings(nil, good[:i]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d bytes: %v, want corrupt", i, err)
		}
	}
	inputs := [][]byte{
		{tagStringFields, 2, 3, 0},                                          // counts transform 3
		{tagStringFields, 1, 0, 1, packConst, 2, 0x04, 1, packConst, 10},    // transform bits set past K = 1
		{tagStringFields, 1, 0, 1, packConst, 2, 0x03, 1, packConst, 10},    // field transform 3
		{tagStringFields, 2, 0, 1, packConst, 0x80, 0x80, 0x04},             // 65,536 fields per string × 2
		{tagStringFields, 1, 0, 1, packConst, 2, 0x00, 1, packConst, 10, 0}, // trailing byte
	}
	for _, in := range inputs {
		if _, err := DecodeStrings(nil, in); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decode %x: %v, want corrupt", in, err)
		}
	}
	// The minimal valid block: one string of one field, 5 (zigzag 10 in
	// the raw integer body).
	if got, err := DecodeStrings(nil, []byte{tagStringFields, 1, 0, 1, packConst, 2, 0x00, 1, packConst, 10}); err != nil || len(got) != 1 || got[0] != "\x05" {
		t.Errorf("minimal block: %q, %v", got, err)
	}
}

// BenchmarkDecodeHourRows decodes a day of hour rows (24 rollup-like
// strings) stored in the fields scheme and in the plain one:
//
//	go test -run '^$' -bench DecodeHourRows ./storage/encoding
func BenchmarkDecodeHourRows(b *testing.B) {
	vs := hourRows(24, 9)
	fields := AppendStringsFields(nil, vs)
	lens := make([]uint64, len(vs))
	for i, s := range vs {
		lens[i] = uint64(len(s))
	}
	plain := appendPlanned([]byte{tagStringPlain, byte(len(vs))}, lens, planStream(lens, true))
	for _, s := range vs {
		plain = append(plain, s...)
	}
	for _, c := range []struct {
		name string
		b    []byte
	}{{"fields", fields}, {"plain", plain}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportMetric(float64(len(c.b)), "bytes")
			var out []string
			for range b.N {
				var err error
				if out, err = DecodeStrings(out[:0], c.b); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
