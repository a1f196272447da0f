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

// raggedHourRows is hourRows with every third row one field short.
func raggedHourRows(n int, seed uint64) []string {
	out := hourRows(n, seed)
	for i := 0; i < n; i += 3 {
		s := out[i]
		j := len(s) - 1
		for j > 0 && s[j-1] >= 0x80 {
			j--
		}
		out[i] = s[:j]
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
		{"ragged", []string{varints(1, 2, 3), varints(1, 2), varints(1, 2, 3, 4, 5), varints(1, 2, 3, 4), varints(1, 2, 3)}, false}, // the prefix scheme: all begin 1, 2
		{"ragged hour rows", raggedHourRows(24, 8), true},
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
// strings) stored in the fields scheme, the prefix scheme (of full hours,
// and with partial first and last hours: marks) and the plain one:
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
	}{{"fields", fields}, {"prefix", AppendStrings(nil, vs)}, {"prefix-partial", AppendStrings(nil, partialHourRows(24, 9))}, {"plain", plain}} {
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

// forceFields encodes vs in the fields scheme whether or not it is the
// smallest, so the decoder is tried on shapes the encoder would not pick.
func forceFields(t *testing.T, vs []string) []byte {
	t.Helper()
	fp, ok := planFields(vs)
	if !ok {
		t.Fatalf("%d strings are not strings of uvarints", len(vs))
	}
	defer fp.release()
	dst := binary.AppendUvarint([]byte{tagStringFields}, uint64(len(vs)))
	return appendFields(dst, fp)
}

// TestStringFieldsDecodePath decodes blocks of the fields scheme, one
// after the other so that the decoder's pooled scratch is reused between
// blocks of different shapes and sizes, and checks each against the same
// strings decoded from the plain scheme, appended after what dst held.
func TestStringFieldsDecodePath(t *testing.T) {
	big := make([]string, 0, 700)
	for i := range 700 {
		big = append(big, varints(uint64(i), uint64(i*i), 1<<uint(i%64), 5))
	}
	tests := []struct {
		name string
		vs   []string
	}{
		{"hour rows", hourRows(24, 5)},
		{"one field each", []string{varints(1), varints(2), varints(3)}},
		{"ragged", []string{varints(1, 2, 3), varints(1, 2), varints(1, 2, 3, 4, 5), varints(1, 2, 3, 4), varints(1, 2, 3)}},
		{"big rectangular", big},
		{"small after big", []string{varints(9, 9), varints(9, 10)}},
		{"empty strings among rows", []string{"", varints(7, 300), "", varints(7, 301), varints(7, 302), ""}},
		{"all empty", []string{"", "", ""}},
		{"multi-byte fields", []string{varints(math.MaxUint64, 0, 1<<63, 128), varints(127, 128, 16383, 16384), varints(1<<35, 1<<42, 1<<49, 1<<56)}},
		{"ragged big", append(hourRows(500, 6), varints(1), "", varints(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12))},
		{"hour rows again", hourRows(24, 7)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lens := make([]uint64, len(tt.vs))
			for i, s := range tt.vs {
				lens[i] = uint64(len(s))
			}
			plain := appendPlanned(binary.AppendUvarint([]byte{tagStringPlain}, uint64(len(tt.vs))), lens, planStream(lens, true))
			for _, s := range tt.vs {
				plain = append(plain, s...)
			}
			prefix := []string{"kept", ""}
			want, err := DecodeStrings(slices.Clone(prefix), plain)
			if err != nil {
				t.Fatalf("plain: %v", err)
			}
			got, err := DecodeStrings(slices.Clone(prefix), forceFields(t, tt.vs))
			if err != nil {
				t.Fatalf("fields: %v", err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("fields decode %q, plain %q", got, want)
			}
			// A corrupt block leaves dst as it was.
			bad := forceFields(t, tt.vs)
			if got, err := DecodeStrings(slices.Clone(prefix), bad[:len(bad)-1]); err == nil && len(tt.vs) > 0 && !slices.Equal(got, want) {
				t.Fatalf("truncated block decoded to %q without an error", got)
			} else if err != nil && !slices.Equal(got, prefix) {
				t.Fatalf("truncated block: dst %q after %v, want %q", got, err, prefix)
			}
		})
	}
}
