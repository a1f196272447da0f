package storage

import (
	"context"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
)

// TestRollupRowSketch: a row with a sketch is version 4 and decodes to
// the same sketch; a row without one stays version 3; a sketch whose
// count is not the row's is rejected.
func TestRollupRowSketch(t *testing.T) {
	start := int64(1_700_000_000_000_000_000)
	c := model.Column{Kind: model.KindFloat}
	for i := range 100 {
		c.Append(start+int64(i)*1e9, model.Float(float64(i%17)-3.5))
	}
	s := model.Summarize(&c)
	s.Sketch = model.SketchOf(&c)
	b := appendRow(nil, model.Level1h, c.Kind, start, &s, decSum{})
	if b[0]&15 != rowV4 {
		t.Fatalf("row with a sketch written as version %d, want %d", b[0]&15, rowV4)
	}
	got, _, err := decodeRow(b, model.Level1h, c.Kind, start)
	if err != nil || got.Sketch == nil || !got.Sketch.Equal(s.Sketch) {
		t.Fatalf("decoded %+v, %v; want the sketch back", got.Sketch, err)
	}
	noSk := s
	noSk.Sketch = nil
	b3 := appendRow(nil, model.Level1h, c.Kind, start, &noSk, decSum{})
	if b3[0]&15 != rowV3 {
		t.Errorf("row without a sketch written as version %d, want %d", b3[0]&15, rowV3)
	}
	if got, _, err := decodeRow(b3, model.Level1h, c.Kind, start); err != nil || got.Sketch != nil {
		t.Errorf("version 3 row: got sketch %v, %v; want none", got.Sketch, err)
	}
	// Without the sketch: the same summary, the sketch's bytes unread, for
	// both versions; a version 4 row cut anywhere before the end of its
	// sketch's first byte is still rejected.
	want := got
	want.Sketch = nil
	for _, row := range [][]byte{b, b3} {
		wo, _, err := decodeRowWithoutSketch(row, model.Level1h, c.Kind, start)
		if err != nil || !reflect.DeepEqual(wo, want) {
			t.Errorf("version %d row without its sketch: got %+v, %v; want %+v", row[0]&15, wo, err, want)
		}
	}
	if !slices.Equal(b[1:len(b3)], b3[1:]) {
		t.Fatalf("version 4 row %x does not start as its version 3 row %x", b, b3)
	}
	for cut := range len(b3) + 1 {
		if _, _, err := decodeRowWithoutSketch(b[:cut], model.Level1h, c.Kind, start); err == nil {
			t.Errorf("version 4 row cut to %d of %d bytes (its sketch starts at %d) decoded", cut, len(b), len(b3))
		}
	}
	// The sketch of other values: count 99, not 100.
	other := c.Range(start, start+98e9)
	bad := s
	bad.Sketch = model.SketchOf(&other)
	if _, _, err := decodeRow(appendRow(nil, model.Level1h, c.Kind, start, &bad, decSum{}), model.Level1h, c.Kind, start); err == nil {
		t.Error("row whose sketch counts 99 of 100 values decoded")
	}
	// NaN or Inf: no sketch.
	for _, v := range []float64{math.NaN(), math.Inf(1)} {
		nc := model.Column{Kind: model.KindFloat, Times: []int64{1, 2}, Floats: []float64{1, v}}
		if model.SketchOf(&nc) != nil {
			t.Errorf("SketchOf(1, %v) is not nil", v)
		}
	}
}

// TestRollupSketchBytes measures the bytes a sketch adds to a row, for
// docs/format.md: an hour of 10 s readings of a few kinds of signal.
func TestRollupSketchBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	start := int64(1_700_000_000_000_000_000)
	for _, tc := range []struct {
		name string
		kind model.Kind
		f    func(i int) float64
		max  int // bytes the sketch may add
	}{
		{"temperature, 2 decimals, drifting", model.KindFloat, func(i int) float64 { return math.Round((21+float64(i)/360+r.Float64()/4)*100) / 100 }, 20},
		{"cpu percent, uniform 0-100", model.KindInt, func(int) float64 { return float64(r.IntN(101)) }, 120},
		{"latency ms, exponential", model.KindFloat, func(int) float64 { return math.Round(r.ExpFloat64()*2000) / 100 }, 250},
		{"constant", model.KindInt, func(int) float64 { return 7 }, 8},
	} {
		c := model.Column{Kind: tc.kind}
		for i := range 360 {
			tm := start + int64(i)*10e9
			if tc.kind == model.KindInt {
				c.Append(tm, model.Int(int64(tc.f(i))))
			} else {
				c.Append(tm, model.Float(tc.f(i)))
			}
		}
		s := model.Summarize(&c)
		var dec decSum
		if c.Kind == model.KindFloat {
			dec = decimalSum(c.Floats)
			dec.exact(&s)
		}
		without := len(appendRow(nil, model.Level1h, c.Kind, start, &s, dec))
		s.Sketch = model.SketchOf(&c)
		with := len(appendRow(nil, model.Level1h, c.Kind, start, &s, dec))
		t.Logf("%s: row %d bytes, with sketch %d (+%d)", tc.name, without, with, with-without)
		if with-without > tc.max {
			t.Errorf("%s: the sketch adds %d bytes, want at most %d", tc.name, with-without, tc.max)
		}
	}
}

// TestRollupSketchSurvives: the sketch of a 1d or 1M rollup row equals
// the sketch of the raw values of its bucket (merging finer rows gives
// exactly the sketch of their union), and 1h rows have none, after a
// flush, a late write into one hour, a compaction, a restart and a move
// of the group to another node.
func TestRollupSketchSurvives(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openFS(t, dir, vfs.Default, Options{})
	devs := groupDevices(t, db, 1)
	const g = 1
	dev := model.Tags{{Key: "device_id", Value: devs[g][0]}}
	writeDays(t, db, devs[g], 3, -100) // n from -100: negative, zero and positive
	check := func(step string, db *DB) {
		t.Helper()
		for _, f := range []string{"n", "f"} {
			for _, l := range []model.Level{model.Level1h, model.Level1d, model.Level1M} {
				lo := l.Floor(groupT0 + int64(2*time.Hour))
				hi := l.End(lo)
				parts, err := db.ReadParts(ctx, "c", dev, f, lo, hi, func(int64, int64) bool { return true }, l)
				if err != nil {
					t.Fatalf("%s: ReadParts %s %s: %v", step, f, l, err)
				}
				if len(parts) != 1 || parts[0].Summary == nil || parts[0].Level != l {
					t.Fatalf("%s: %s %s: %d parts, want one rollup row", step, f, l, len(parts))
				}
				cols, err := db.Read(ctx, "c", dev, []string{f}, lo, hi)
				if err != nil {
					t.Fatal(err)
				}
				// Without sketches: the same parts, no sketch.
				wo, err := db.ReadPartsWithoutSketches(ctx, "c", dev, f, lo, hi, func(int64, int64) bool { return true }, l)
				if err != nil || len(wo) != 1 || wo[0].Summary == nil || wo[0].Summary.Sketch != nil || wo[0].Level != l {
					t.Fatalf("%s: ReadPartsWithoutSketches %s %s: %v, %v; want one rollup row without a sketch", step, f, l, wo, err)
				}
				sum := *parts[0].Summary
				sum.Sketch = nil
				if !reflect.DeepEqual(*wo[0].Summary, sum) {
					t.Errorf("%s: %s %s: without sketches %+v, want %+v", step, f, l, *wo[0].Summary, sum)
				}
				want := model.SketchOf(&cols[0])
				got := parts[0].Summary.Sketch
				if l == model.Level1h {
					if got != nil {
						t.Errorf("%s: %s 1h row at %d has a sketch, want none", step, f, lo)
					}
					continue
				}
				if got == nil || !got.Equal(want) {
					t.Errorf("%s: %s %s row at %d: sketch %v, want the sketch of its %d raw values", step, f, l, lo, got, cols[0].Len())
				}
			}
		}
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check("flushed", db)
	late := model.Point{Collection: "c", Time: groupT0 + int64(2*time.Hour+7*time.Minute),
		Tags: dev, Fields: []model.Field{{Key: "n", Value: model.Int(123456)}, {Key: "f", Value: model.Float(-0.5)}}}
	if err := db.Write(ctx, []model.Point{late}); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check("late write", db)
	writeDays(t, db, devs[g], 1, -100) // the same points again: a second file per partition
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	check("compacted", db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openFS(t, dir, vfs.Default, Options{})
	check("restarted", db)
	dst := openFS(t, t.TempDir(), vfs.Default, Options{})
	moveGroup(t, db, dst, g)
	if err := dst.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check("moved", dst)
	db.Close()
	dst.Close()
}

// TestRollupSketchDiskBytes measures the bytes sketches add to the rollup
// files of TSBS-like cpu data (hosts with 10 integer fields uniform over
// 0–99 every 10 s for a day: docs/format.md quotes it), on disk after the
// colfile's compression, per raw value.
func TestRollupSketchDiskBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a day of data twice")
	}
	const hosts, fields, step = 10, 10, 10 * time.Second
	measure := func(sketches bool) (raw, rollup int64, byLevel map[string]int64, values int) {
		byLevel = map[string]int64{}
		defer func(old bool) { buildSketches = old }(buildSketches)
		buildSketches = sketches
		ctx := context.Background()
		dir := t.TempDir()
		db := openFS(t, dir, vfs.Default, Options{})
		r := rand.New(rand.NewPCG(1, 2))
		start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		var batch []model.Point
		for ts := start; ts.Before(start.Add(24 * time.Hour)); ts = ts.Add(step) {
			for h := range hosts {
				fs := make([]model.Field, fields)
				for f := range fs {
					fs[f] = model.Field{Key: fmt.Sprint("usage_", f), Value: model.Int(r.Int64N(100))}
				}
				batch = append(batch, model.Point{Collection: "cpu", Time: ts.UnixNano(),
					Tags: model.Tags{{Key: "hostname", Value: fmt.Sprint("host_", h)}}, Fields: fs})
			}
			if len(batch) >= 10000 {
				if err := db.Write(ctx, batch); err != nil {
					t.Fatal(err)
				}
				values += len(batch) * fields
				batch = batch[:0]
			}
		}
		if err := db.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		values += len(batch) * fields
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || filepath.Ext(p) != ".col" {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if d := filepath.Base(filepath.Dir(p)); strings.HasPrefix(d, "rollup_") {
				rollup += info.Size()
				byLevel[d] += info.Size()
			} else {
				raw += info.Size()
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return raw, rollup, byLevel, values
	}
	raw, without, lw, n := measure(false)
	_, with, lsk, _ := measure(true)
	per := func(b int64) float64 { return float64(b) / float64(n) }
	t.Logf("%d values: raw files %d bytes (%.3f B/value); rollup files %d bytes without sketches (%.3f B/value), %d with (%.3f B/value): sketches add %.3f B/value",
		n, raw, per(raw), without, per(without), with, per(with), per(with-without))
	for _, l := range []string{"rollup_1h", "rollup_1d", "rollup_1M", "rollup_1y"} {
		t.Logf("  %s: %d bytes without sketches, %d with (+%.3f B/value)", l, lw[l], lsk[l], per(lsk[l]-lw[l]))
	}
	if with <= without || lsk["rollup_1d"] <= lw["rollup_1d"] {
		t.Errorf("rollup files with sketches %d bytes, without %d: sketches not written?", with, without)
	}
	if lsk["rollup_1h"] != lw["rollup_1h"] {
		t.Errorf("1h rollup files: %d bytes with sketches, %d without; 1h rows carry none", lsk["rollup_1h"], lw["rollup_1h"])
	}
	if d := per(with - without); d > 0.1 {
		t.Errorf("sketches add %.3f B/value, want at most 0.1", d)
	}
}
