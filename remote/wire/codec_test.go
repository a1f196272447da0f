package wire

import (
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"testing"

	"github.com/soltixdb/soltix/model"
)

func sampleParts() []model.Part {
	s := model.Summary{Count: 3, MinTime: -5, MaxTime: 9, First: model.Float(1.5), Last: model.Float(-2),
		Min: model.Float(math.Copysign(0, -1)), Max: model.Float(7), SumFloat: 6.5, M2: 3.25, HasM2: true}
	sk := s
	sk.Sketch = model.SketchOf(&model.Column{Kind: model.KindFloat, Times: []int64{-5, 0, 9}, Floats: []float64{1.5, 7, -2}})
	return []model.Part{
		{Values: model.Column{Name: "f", Kind: model.KindFloat, Times: []int64{math.MinInt64, -1, 0, math.MaxInt64}, Floats: []float64{1, math.NaN(), math.Inf(-1), 2}}},
		{Values: model.Column{Name: "i", Kind: model.KindInt, Times: []int64{1, 2}, Ints: []int64{math.MinInt64, math.MaxInt64}}},
		// Times a whole int64 range apart: a delta over MaxInt64.
		{Values: model.Column{Name: "w", Kind: model.KindInt, Times: []int64{math.MinInt64, math.MaxInt64}, Ints: []int64{1, 2}}},
		{Values: model.Column{Name: "x", Kind: model.KindInt, Times: []int64{-2, math.MaxInt64}, Ints: []int64{1, 2}}},
		{Values: model.Column{Name: "u", Kind: model.KindUint, Times: []int64{3}, Uints: []uint64{math.MaxUint64}}},
		{Values: model.Column{Name: "b", Kind: model.KindBool, Times: []int64{3, 4}, Bools: []bool{true, false}}},
		{Values: model.Column{Name: "s", Kind: model.KindString, Times: []int64{3, 4}, Strings: []string{"", "héllo"}}},
		{Summary: &s, Level: model.Level1d},
		{Summary: &s, Reduced: true, Points: 2, Blocks: 1},
		{Summary: &sk, Level: model.Level1h}, // with a quantile sketch: tag 3
	}
}

func TestRoundTrip(t *testing.T) {
	var e MsgEnc
	parts := sampleParts()
	tags := model.Tags{{Key: "a", Value: "1"}, {Key: "b", Value: ""}}
	e.Tags(tags)
	e.Strings([]string{"x", ""})
	for i := range parts {
		e.Part(&parts[i])
	}
	buf := bytes.NewBuffer(AppendMessage(AppendMessage(nil, 'D', e.B), 'E', nil))
	r := NewMessageReader(buf, 1<<20)
	typ, payload, err := r.Next()
	if err != nil || typ != 'D' {
		t.Fatalf("Next: %c %v", typ, err)
	}
	d := MsgDec{B: payload}
	if got := d.Tags(); !got.Equal(tags) {
		t.Fatalf("tags %v", got)
	}
	if got := d.Strings(); !reflect.DeepEqual(got, []string{"x", ""}) {
		t.Fatalf("strings %q", got)
	}
	for i := range parts {
		got := d.Part()
		// NaN != NaN: compare the encodings.
		var a, b MsgEnc
		a.Part(&got)
		b.Part(&parts[i])
		if !bytes.Equal(a.B, b.B) || got.Values.Len() != parts[i].Values.Len() {
			t.Fatalf("part %d: got %+v, want %+v", i, got, parts[i])
		}
	}
	if err := d.Done(); err != nil {
		t.Fatal(err)
	}
	if typ, payload, err = r.Next(); err != nil || typ != 'E' || len(payload) != 0 {
		t.Fatalf("second message: %c %q %v", typ, payload, err)
	}
	if _, _, err = r.Next(); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
}

func TestCodecErrors(t *testing.T) {
	// A count the payload cannot hold is refused before allocating.
	d := MsgDec{B: []byte{0xff, 0xff, 0xff, 0xff, 0x0f}}
	if d.Strings(); !errors.Is(d.Err(), ErrMalformed) {
		t.Fatalf("huge count: %v", d.Err())
	}
	// Times must increase.
	var e MsgEnc
	e.String("c")
	e.Byte(byte(model.KindInt))
	e.Uvarint(2)
	e.Varint(5)
	e.Uvarint(0)
	e.Varint(1)
	e.Varint(2)
	d = MsgDec{B: e.B}
	if d.Column(); !errors.Is(d.Err(), ErrMalformed) {
		t.Fatalf("repeated time: %v", d.Err())
	}
}

// FuzzCodec feeds arbitrary bytes to the part decoder: it must return
// errors, never panic or allocate without bound, and what decodes must
// encode stably.
func FuzzCodec(f *testing.F) {
	var e MsgEnc
	for _, p := range sampleParts() {
		e.Part(&p)
	}
	f.Add(e.B)
	f.Add([]byte{0, 1, 'c', 2, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, payload []byte) {
		{
			d := MsgDec{B: payload}
			for len(d.B) > 0 && d.Err() == nil {
				start := d.B
				p := d.Part()
				if d.Err() != nil {
					break
				}
				var re MsgEnc
				re.Part(&p)
				if used := len(start) - len(d.B); !bytes.Equal(re.B, start[:used]) {
					// Varints have one canonical encoding when written by
					// binary.AppendUvarint; non-canonical input may decode
					// to the same value, so only check decoding again.
					d2 := MsgDec{B: re.B}
					p2 := d2.Part()
					var re2 MsgEnc
					re2.Part(&p2)
					if d2.Err() != nil || !bytes.Equal(re2.B, re.B) {
						t.Fatalf("part does not re-encode stably: %v", d2.Err())
					}
				}
			}
		}
	})
}

func TestColumnsRoundTrip(t *testing.T) {
	ts := []int64{math.MinInt64, 10, 20, math.MaxInt64}
	tests := []struct {
		name   string
		cols   []model.Column
		shared bool
	}{
		{"none", []model.Column{}, false},
		{"one", []model.Column{{Kind: model.KindInt, Times: []int64{1, 2}, Ints: []int64{-1, 1}}}, false},
		{"same times", []model.Column{
			{Kind: model.KindFloat, Times: ts, Floats: []float64{1, 2, 3, 4}},
			{Kind: model.KindInt, Times: ts, Ints: []int64{1, 2, 3, math.MinInt64}},
			{Kind: model.KindUint, Times: ts, Uints: []uint64{1, 2, 3, math.MaxUint64}},
			{Kind: model.KindBool, Times: ts, Bools: []bool{true, false, true, false}},
			{Kind: model.KindString, Times: ts, Strings: []string{"", "a", "é", "b"}}}, true},
		{"same, empty", []model.Column{{Kind: model.KindInt, Times: []int64{}, Ints: []int64{}}, {Kind: model.KindFloat, Times: []int64{}, Floats: []float64{}}}, true},
		{"different times", []model.Column{
			{Kind: model.KindInt, Times: []int64{1, 2}, Ints: []int64{5, 6}},
			{Kind: model.KindInt, Times: []int64{2}, Ints: []int64{7}},
			{Kind: model.KindNull, Times: []int64{}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e MsgEnc
			e.Columns(tt.cols)
			if shared := len(e.B) > 1 && e.B[1] == 1; shared != tt.shared {
				t.Fatalf("shared %v, want %v", shared, tt.shared)
			}
			d := MsgDec{B: e.B}
			got := d.Columns()
			if err := d.Done(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.cols) {
				t.Fatalf("got %+v, want %+v", got, tt.cols)
			}
			if tt.shared && len(got) > 1 && len(got[0].Times) > 0 {
				if &got[0].Times[0] != &got[1].Times[0] || cap(got[0].Times) != len(got[0].Times) {
					t.Fatal("shared times are not one clipped slice")
				}
			}
			// Every shorter payload is refused.
			for n := range len(e.B) {
				d := MsgDec{B: e.B[:n]}
				if d.Columns(); d.Done() == nil {
					t.Fatalf("%d of %d bytes decoded", n, len(e.B))
				}
			}
		})
	}
}

func TestColumnsErrors(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
	}{
		{"huge count", []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 1}},
		{"bad shared flag", []byte{1, 2, byte(model.KindInt), 0}},
		{"shared, repeated time", []byte{2, 1, 2, 10, 0, byte(model.KindInt), 1, 1, byte(model.KindInt), 1, 1}},
		{"values of no kind", []byte{2, 1, 1, 10, byte(model.KindNull), byte(model.KindNull)}},
		{"kind out of range", []byte{1, 0, 99, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := MsgDec{B: tt.b}
			if d.Columns(); !errors.Is(d.Done(), ErrMalformed) {
				t.Fatalf("decoded: %v", d.Err())
			}
		})
	}
}

// FuzzColumns feeds arbitrary bytes to the columns decoder: errors, never
// a panic, and what decodes encodes stably.
func FuzzColumns(f *testing.F) {
	ts := []int64{1, 5}
	for _, cols := range [][]model.Column{
		{{Kind: model.KindInt, Times: ts, Ints: []int64{1, 2}}, {Kind: model.KindFloat, Times: ts, Floats: []float64{1, 2}}},
		{{Kind: model.KindString, Times: ts, Strings: []string{"a", "b"}}, {Kind: model.KindBool, Times: ts[:1], Bools: []bool{true}}},
	} {
		var e MsgEnc
		e.Columns(cols)
		f.Add(e.B)
	}
	f.Add([]byte{2, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, payload []byte) {
		d := MsgDec{B: payload}
		cols := d.Columns()
		if d.Err() != nil {
			return
		}
		var e MsgEnc
		e.Columns(cols)
		d2 := MsgDec{B: e.B}
		cols2 := d2.Columns()
		// NaN != NaN: compare the encodings.
		var e2 MsgEnc
		e2.Columns(cols2)
		if err := d2.Done(); err != nil || len(cols2) != len(cols) || !bytes.Equal(e2.B, e.B) {
			t.Fatalf("columns do not round-trip: %v", err)
		}
	})
}

// TestPartSketch: a rollup part's sketch crosses the wire; one whose
// count is not the summary's, or at level raw, is rejected.
func TestPartSketch(t *testing.T) {
	c := model.Column{Kind: model.KindInt, Times: []int64{1, 2, 3}, Ints: []int64{5, -7, 900}}
	s := model.Summarize(&c)
	s.Sketch = model.SketchOf(&c)
	var e MsgEnc
	e.Part(&model.Part{Summary: &s, Level: model.Level1M})
	d := MsgDec{B: e.B}
	got := d.Part()
	if err := d.Done(); err != nil || got.Summary == nil || got.Summary.Sketch == nil || !got.Summary.Sketch.Equal(s.Sketch) {
		t.Fatalf("got %+v, %v; want the sketch back", got.Summary, err)
	}
	for _, tc := range []struct {
		name string
		mod  func(*model.Part)
	}{
		{"count", func(p *model.Part) { p.Summary.Count = 4 }},
		{"raw level", func(p *model.Part) { p.Level = model.LevelRaw }},
	} {
		bad := s
		p := model.Part{Summary: &bad, Level: model.Level1M}
		tc.mod(&p)
		var e MsgEnc
		e.Part(&p)
		d := MsgDec{B: e.B}
		d.Part()
		if d.Done() == nil {
			t.Errorf("%s: a bad sketch part decoded", tc.name)
		}
	}
}
