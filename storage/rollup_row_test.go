package storage

import (
	"bytes"
	"encoding/hex"
	"math"
	"testing"

	"github.com/soltixdb/soltix/model"
)

func TestRollupRowRoundTrip(t *testing.T) {
	start := int64(1_700_000_000_000_000_000)
	cols := []model.Column{
		{Kind: model.KindFloat, Times: []int64{start + 5, start + 9, start + 70}, Floats: []float64{1.5, math.Copysign(0, -1), -3e300}},
		{Kind: model.KindInt, Times: []int64{start, start + 1}, Ints: []int64{math.MaxInt64, math.MinInt64}},
		{Kind: model.KindUint, Times: []int64{start + 3}, Uints: []uint64{math.MaxUint64}},
		{Kind: model.KindFloat, Times: []int64{start + 1, start + 2}, Floats: []float64{math.Copysign(0, -1), 45.12345}}, // -0 first and min
		{Kind: model.KindFloat, Times: []int64{start + 1, start + 2}, Floats: []float64{0.1, math.NaN()}},
		{Kind: model.KindInt, Times: []int64{start + 10e9, start + 3590e9}, Ints: []int64{4, 5}}, // whole seconds: unit 10^9
		{Kind: model.KindInt, Times: []int64{start + 2e6, start + 5e9}, Ints: []int64{4, 5}},     // unit 10^6
		{Kind: model.KindBool, Times: []int64{start + 1, start + 2}, Bools: []bool{true, false}},
		{Kind: model.KindString, Times: []int64{start + 1, start + 2}, Strings: []string{"", "a\x00\xffb"}},
		{Kind: model.KindFloat, Times: []int64{start + 1, start + 2, start + 3}, Floats: []float64{1.5, 1.55, -2}},               // max not at first's exponent
		{Kind: model.KindFloat, Times: []int64{start + 1, start + 2, start + 3}, Floats: []float64{-45.12345, -45.1, -45.12399}}, // relative mantissas
		{Kind: model.KindUint, Times: []int64{start + 1, start + 2, start + 3}, Uints: []uint64{5, math.MaxUint64, 0}},           // wrapping differences
		{Kind: model.KindInt, Times: []int64{start + 1, start + 2, start + 3}, Ints: []int64{math.MinInt64, math.MaxInt64, 0}},   // wrapping differences
	}
	for _, c := range cols {
		s := model.Summarize(&c)
		s.Sketch = model.SketchOf(&c)
		var dec decSum
		if c.Kind == model.KindFloat {
			dec = decimalSum(c.Floats)
			dec.exact(&s)
		}
		b := appendRow(nil, model.Level1h, c.Kind, start, &s, dec)
		got, gotDec, err := decodeRow(b, model.Level1h, c.Kind, start)
		if err != nil {
			t.Fatalf("%s: %v", c.Kind, err)
		}
		if !sameSummary(got, s) || gotDec != dec {
			t.Errorf("%s: got %+v %+v, want %+v %+v", c.Kind, got, gotDec, s, dec)
		}
		if c.Times[0]-start >= 1e6 && b[0]>>4 < 6 {
			t.Errorf("%s: offsets of whole milliseconds written with unit 10^%d", c.Kind, b[0]>>4)
		}
		for cut := range len(b) {
			if _, _, err := decodeRow(b[:cut], model.Level1h, c.Kind, start); err == nil {
				t.Errorf("%s: a row cut to %d of %d bytes decoded", c.Kind, cut, len(b))
			}
		}
	}
}

// TestRollupRowSizes checks that rows of sensor readings stay small: the
// last, min and max of a bucket cost the difference from its first value.
func TestRollupRowSizes(t *testing.T) {
	start := int64(1_700_000_000_000_000_000)
	c := model.Column{Kind: model.KindFloat}
	v := 45.12345
	for i := range 360 {
		v = math.Round((v+float64(i%7-3)*0.0002)*1e5) / 1e5
		c.Append(start+int64(i)*10e9+int64(i*37%1000)*1e6, model.Float(v))
	}
	s := model.Summarize(&c)
	dec := decimalSum(c.Floats)
	if !dec.ok {
		t.Fatal("5-decimal readings have no exact decimal sum")
	}
	b := appendRow(nil, model.Level1h, c.Kind, start, &s, dec)
	// Version 1, count 2, offsets 2+4, first 5, last, min and max 3 each,
	// sum 4 (the mantissas' difference from 360 times the first's), m2 as
	// the spread 3: 26. Version 1 rows spent 5 bytes on each of last, min
	// and max, 9 on the sum, 8 on m2 and a byte more on the unit: 43.
	if len(b) > 27 {
		t.Errorf("a row of an hour of 5-decimal readings takes %d bytes, want at most 27", len(b))
	}
	got, gotDec, err := decodeRow(b, model.Level1h, c.Kind, start)
	if err != nil || gotDec != dec || math.Abs(got.SumFloat-s.SumFloat) > 1e-9*math.Abs(s.SumFloat) ||
		math.Abs(got.M2-s.M2) > 1e-9*s.M2 {
		t.Errorf("decoded sum %v and M2 %v (%+v, %v), summed %v and %v", got.SumFloat, got.M2, gotDec, err, s.SumFloat, s.M2)
	}
}

// TestRollupRowV1 checks that rows of the first version still decode.
func TestRollupRowV1(t *testing.T) {
	// Version 1, unit 10^9, count 2, offsets 10 and 3580, first 4, last
	// 5, min 4, max 5, sum 9 (zigzag varints), m2 0.5.
	b := []byte{1, 9, 2, 10, 0xfc, 0x1b, 8, 10, 8, 10, 18, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f}
	want := model.Summary{Count: 2, MinTime: 10e9, MaxTime: 3590e9, First: model.Int(4), Last: model.Int(5),
		Min: model.Int(4), Max: model.Int(5), SumInt: 9, M2: 0.5, HasM2: true}
	got, _, err := decodeRow(b, model.Level1h, model.KindInt, 0)
	if err != nil || !sameSummary(got, want) {
		t.Errorf("version 1: got %+v, %v; want %+v", got, err, want)
	}
	// The same row in version 2: unit in the head byte, last, min and max
	// relative to first, the last time as the span from the first.
	b = []byte{0x92, 2, 10, 0xfc, 0x1b, 8, 2, 0, 2, 18, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f}
	got, _, err = decodeRow(b, model.Level1h, model.KindInt, 0)
	if err != nil || !sameSummary(got, want) {
		t.Errorf("version 2: got %+v, %v; want %+v", got, err, want)
	}
	// And as this version writes it: the last time 10 s before the end.
	b = appendRow(nil, model.Level1h, model.KindInt, 0, &want, decSum{})
	if want := []byte{0x93, 2, 10, 10, 8, 2, 0, 2, 18, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f}; !bytes.Equal(b, want) {
		t.Errorf("version 3: wrote %x, want %x", b, want)
	}
}

func sameSummary(a, b model.Summary) bool {
	return a.Count == b.Count && a.MinTime == b.MinTime && a.MaxTime == b.MaxTime &&
		a.First.Equal(b.First) && a.Last.Equal(b.Last) && a.Min.Equal(b.Min) && a.Max.Equal(b.Max) &&
		math.Float64bits(a.SumFloat) == math.Float64bits(b.SumFloat) && a.SumInt == b.SumInt &&
		a.SumUint == b.SumUint && math.Float64bits(a.M2) == math.Float64bits(b.M2) && a.HasM2 == b.HasM2 &&
		(a.Sketch == nil) == (b.Sketch == nil) && (a.Sketch == nil || a.Sketch.Equal(b.Sketch))
}

// FuzzRollupRow: decoding never panics, and what decodes re-encodes to
// the same bytes.
func FuzzRollupRow(f *testing.F) {
	c := model.Column{Kind: model.KindInt, Times: []int64{10, 20}, Ints: []int64{-4, 9}}
	s := model.Summarize(&c)
	f.Add(appendRow(nil, model.Level1h, model.KindInt, 0, &s, decSum{}), uint8(model.KindInt))
	f.Add([]byte{1, 1, 0, 0, 1}, uint8(model.KindBool))
	f.Add([]byte{1, 9, 2, 10, 0xfc, 0x1b, 8, 10, 8, 10, 18, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f}, uint8(model.KindInt)) // version 1
	fc := model.Column{Kind: model.KindFloat, Times: []int64{10, 20, 30}, Floats: []float64{45.12345, 45.1, 45.2}}
	fs := model.Summarize(&fc)
	f.Add(appendRow(nil, model.Level1h, model.KindFloat, 0, &fs, decimalSum(fc.Floats)), uint8(model.KindFloat))
	fs.Sketch = model.SketchOf(&fc)
	f.Add(appendRow(nil, model.Level1h, model.KindFloat, 0, &fs, decimalSum(fc.Floats)), uint8(model.KindFloat)) // version 4
	ic := model.Column{Kind: model.KindInt, Times: []int64{10, 20, 30}, Ints: []int64{-4, 9, 100}}
	is := model.Summarize(&ic)
	idec := intSum(ic.Ints)
	idec.exactM2(&is)
	f.Add(appendRow(nil, model.Level1h, model.KindInt, 0, &is, idec), uint8(model.KindInt)) // version 5
	is.Sketch = model.SketchOf(&ic)
	f.Add(appendRow(nil, model.Level1d, model.KindInt, 0, &is, idec), uint8(model.KindInt)+5) // version 8
	// Versions 5 and 6 (TestRollupRowV5), read as int and uint rows.
	old5, _ := hex.DecodeString("95e802000a60040004d0930280aa06")
	f.Add(old5, uint8(model.KindInt)-1)
	old6, _ := hex.DecodeString("060200fbbfe285e36803faff7f00faff7f838040898080fdff1f0100026e010ff70400")
	f.Add(old6, uint8(model.KindUint)-1)
	f.Fuzz(func(t *testing.T, b []byte, k uint8) {
		kind := model.Kind(k%5 + 1)
		level := model.Level(k/5%4) + model.Level1h
		s, dec, err := decodeRow(b, level, kind, 0)
		if err != nil {
			return
		}
		if again := appendRow(nil, level, kind, 0, &s, dec); !bytes.Equal(again, b) {
			// Varints may be written longer than needed; the decoded
			// summary must still survive a second round trip.
			s2, dec2, err := decodeRow(again, level, kind, 0)
			if err != nil || !sameSummary(s, s2) || dec != dec2 {
				t.Fatalf("%x decodes to %+v, re-encodes to %x (%v)", b, s, again, err)
			}
		}
	})
}

func TestDecimalSums(t *testing.T) {
	for _, tc := range []struct {
		vs   []float64
		want decSum
	}{
		{[]float64{1.5, 2.25, -0.125}, decSum{ok: true, e: 3, m: 3625, sqOK: true, sq: [2]uint64{0, 7328125}}},
		{[]float64{45.12345, 45.1}, decSum{ok: true, e: 5, m: 9022345, sqOK: true, sq: [2]uint64{0, 40701357399025}}},
		{[]float64{100, 200}, decSum{ok: true, e: 0, m: 300, sqOK: true, sq: [2]uint64{0, 50000}}},
		{[]float64{1.0 / 3}, decSum{}},                                                       // not a decimal of ≤ 9 places
		{[]float64{0.5, math.NaN()}, decSum{}},                                               // NaN
		{[]float64{math.Inf(1)}, decSum{}},                                                   // infinity
		{[]float64{4e15, 4e15, 4e15}, decSum{}},                                              // the sum passes 2^53
		{[]float64{math.Copysign(0, -1), 1}, decSum{}},                                       // -0 has no mantissa
		{[]float64{0.1, 0.2}, decSum{ok: true, e: 1, m: 3, sqOK: true, sq: [2]uint64{0, 5}}}, // exact 0.3, where 0.1+0.2 is not
	} {
		if got := decimalSum(tc.vs); got != tc.want {
			t.Errorf("decimalSum(%v) = %+v, want %+v", tc.vs, got, tc.want)
		}
	}
	// Merging the sums of two buckets gives the sum of their union, at
	// the larger exponent, squares included; and the spread gives M2.
	x, y := []float64{1.5, -2.5, 3}, []float64{0.125, 7.25}
	if got, want := decimalSum(x).plus(decimalSum(y)), decimalSum(append(x, y...)); got != want {
		t.Errorf("merged %+v, want %+v", got, want)
	}
	all := model.Column{Kind: model.KindFloat, Times: []int64{1, 2, 3, 4, 5}, Floats: append(x, y...)}
	sum := model.Summarize(&all)
	if sp, m2, ok := decimalSum(all.Floats).spread(5); !ok || math.Abs(m2-sum.M2) > 1e-12*sum.M2 || sp == 0 {
		t.Errorf("spread %d, M2 %v (%v), want M2 %v", sp, m2, ok, sum.M2)
	}
	// A spread read back gives the sums of squares only when it divides.
	d := decimalSum(all.Floats)
	sp, _, _ := d.spread(5)
	if got, ok := (decSum{ok: true, e: d.e, m: d.m}).withSpread(sp, 5); !ok || got != d {
		t.Errorf("withSpread(%d) = %+v, %v; want %+v", sp, got, ok, d)
	}
	if _, ok := (decSum{ok: true, e: d.e, m: d.m}).withSpread(sp+1, 5); ok {
		t.Errorf("withSpread accepted a spread of %d for 5 values", sp+1)
	}
	a, b := decSum{ok: true, e: 1, m: 15}, decSum{ok: true, e: 3, m: 7}
	if got := a.plus(b); got != (decSum{ok: true, e: 3, m: 1507}) {
		t.Errorf("1.5 + 0.007 = %+v", got)
	}
	if got := a.plus(decSum{}); got.ok {
		t.Errorf("a sum with an inexact bucket is exact: %+v", got)
	}
	if got := (decSum{ok: true, e: 0, m: 1 << 52}).plus(decSum{ok: true, e: 0, m: 1 << 52}); got.ok {
		t.Errorf("a sum past 2^53 is exact: %+v", got)
	}
}

// TestRollupRowIntSpread: a row of an integer field whose exact sums are
// known stores its statistics as distances and m2 as the reduced spread
// (version 7, or 8 with a sketch; rollup_row_int.go), decodes to the
// same summary and sums, and is smaller than with the f64; sums
// out of range, or an M2 that is not the exact one, keep the f64
// (version 3 or 4).
func TestRollupRowIntSpread(t *testing.T) {
	start := int64(1_700_000_000_000_000_000)
	walk := hourWalk(start)
	cases := []struct {
		name   string
		c      model.Column
		sketch bool
		want   byte
	}{
		{"walk", walk, false, rowV7},
		{"walk with sketch", walk, true, rowV8},
		{"negative", model.Column{Kind: model.KindInt, Times: []int64{start, start + 1, start + 2}, Ints: []int64{-7, 3, -1000}}, false, rowV7},
		{"extremes", model.Column{Kind: model.KindInt, Times: []int64{start, start + 1, start + 2}, Ints: []int64{-1 << 30, 1 << 30, 5}}, false, rowV7},
		{"spread too large", model.Column{Kind: model.KindInt, Times: []int64{start, start + 1, start + 2}, Ints: []int64{-1 << 40, 0, 1 << 40}}, false, rowV3},
		{"one value", model.Column{Kind: model.KindInt, Times: []int64{start}, Ints: []int64{42}}, true, rowV8},
		{"uint", model.Column{Kind: model.KindUint, Times: []int64{start, start + 5}, Uints: []uint64{3, 1 << 20}}, false, rowV7},
		{"int sum too large", model.Column{Kind: model.KindInt, Times: []int64{start, start + 1}, Ints: []int64{1 << 52, 1 << 52}}, false, rowV3},
		{"int value too large", model.Column{Kind: model.KindInt, Times: []int64{start}, Ints: []int64{math.MinInt64}}, false, rowV3},
		{"uint too large", model.Column{Kind: model.KindUint, Times: []int64{start}, Uints: []uint64{math.MaxUint64}}, false, rowV3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, dec := summarizeExact(&tc.c, tc.sketch)
			b := appendRow(nil, model.Level1h, tc.c.Kind, start, &s, dec)
			if b[0]&15 != tc.want {
				t.Fatalf("written as version %d, want %d", b[0]&15, tc.want)
			}
			got, gotDec, err := decodeRow(b, model.Level1h, tc.c.Kind, start)
			if err != nil || !sameSummary(got, s) {
				t.Fatalf("decoded %+v, %v; want %+v", got, err, s)
			}
			if tc.want >= rowV5 && gotDec != dec {
				t.Errorf("decoded sums %+v, want %+v", gotDec, dec)
			}
			for cut := range len(b) {
				if _, _, err := decodeRow(b[:cut], model.Level1h, tc.c.Kind, start); err == nil {
					t.Errorf("a row cut to %d of %d bytes decoded", cut, len(b))
				}
			}
			// The same summary with the f64 m2 (no exact sums).
			b3 := appendRow(nil, model.Level1h, tc.c.Kind, start, &s, decSum{})
			if tc.want >= rowV5 && tc.name == "walk" && len(b) > len(b3)-3 {
				t.Errorf("an hour of a random walk: %d bytes with the spread, %d with the f64", len(b), len(b3))
			}
			// A summary whose M2 is not the exact one keeps the f64.
			off := s
			off.M2 = math.Nextafter(s.M2, math.Inf(1))
			if b := appendRow(nil, model.Level1h, tc.c.Kind, start, &off, dec); b[0]&15 >= rowV5 {
				t.Errorf("an inexact M2 written as version %d", b[0]&15)
			}
		})
	}
	// A spread that the sum does not divide is rejected: a float kind
	// reads no version 5 row, and an impossible spread fails.
	s := model.Summarize(&walk)
	dec := intSum(walk.Ints)
	dec.exactM2(&s)
	b := appendRow(nil, model.Level1h, model.KindInt, start, &s, dec)
	if _, _, err := decodeRow(b, model.Level1h, model.KindFloat, start); err == nil {
		t.Error("a version 7 row decoded as a float row")
	}
}

// TestRollupRowV5 reads rows of versions 5 and 6 written before version 7
// (by c798da5's appendRow; hex below): the same summaries and sums as the
// version 7 and 8 rows of the same values, and no more bytes in those.
func TestRollupRowV5(t *testing.T) {
	start := int64(1_700_000_000_000_000_000)
	walk := hourWalk(start)
	u := model.Column{Kind: model.KindUint, Times: []int64{start, start + 5}, Uints: []uint64{3, 1 << 20}}
	for i, tc := range []struct {
		c      model.Column
		sketch bool
		old    string
	}{
		{walk, false, "95e802000a60040004d0930280aa06"},
		{walk, true, "96e802000a60040004d0930280aa0601000384039001c004800900"},
		{u, false, "050200fbbfe285e36803faff7f00faff7f838040898080fdff1f"},
		{u, true, "060200fbbfe285e36803faff7f00faff7f838040898080fdff1f0100026e010ff70400"},
	} {
		s, dec := summarizeExact(&tc.c, tc.sketch)
		old, _ := hex.DecodeString(tc.old)
		got, gotDec, err := decodeRow(old, model.Level1h, tc.c.Kind, start)
		if err != nil || !sameSummary(got, s) || gotDec != dec {
			t.Errorf("row %d (version %d): %+v %+v, %v; want %+v %+v", i, old[0]&15, got, gotDec, err, s, dec)
		}
		b := appendRow(nil, model.Level1h, tc.c.Kind, start, &s, dec)
		// The walk's hour: fewer bytes; two values: log₂ 2 is one bit.
		if b[0]&15 != old[0]&15+2 || len(b) > len(old) || tc.c.Kind == model.KindInt && len(b) >= len(old) {
			t.Errorf("row %d: version %d, %d bytes; version %d had %d", i, b[0]&15, len(b), old[0]&15, len(old))
		}
	}
}

// summarizeExact returns the summary of an integer column (with its
// sketch when asked) and its exact sum, as the rollup pass builds them.
func summarizeExact(c *model.Column, sketch bool) (model.Summary, decSum) {
	s := model.Summarize(c)
	if sketch {
		s.Sketch = model.SketchOf(c)
	}
	var dec decSum
	if c.Kind == model.KindInt {
		dec = intSum(c.Ints)
	} else {
		dec = uintSum(c.Uints)
	}
	dec.exactM2(&s)
	return s, dec
}

// hourWalk returns an hour of integers at 10 s from start, a bounded
// walk between 0 and 100 as TSBS cpu-only's fields are.
func hourWalk(start int64) model.Column {
	walk := model.Column{Kind: model.KindInt}
	v := int64(50)
	for i := range 360 {
		v = max(0, min(100, v+int64(i*7%5)-2))
		walk.Append(start+int64(i)*10e9, model.Int(v))
	}
	return walk
}
