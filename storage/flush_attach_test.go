package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/colfile"
)

// attachState is what attaching files leaves in the DB: every series'
// tags and files (by name and position), and every collection's fields.
func attachState(t *testing.T, db *DB) map[string]string {
	t.Helper()
	db.mu.RLock()
	defer db.mu.RUnlock()
	out := make(map[string]string)
	for name, c := range db.colls {
		out["fields "+name] = fmt.Sprint(c.fields)
		for key, s := range c.series {
			var files []string
			for _, fs := range s.files {
				if got := fs.f.r.Key(fs.idx); got != key {
					t.Errorf("series %q: position %d of %s is %q", key, fs.idx, fs.f.path, got)
				}
				files = append(files, fmt.Sprintf("%s#%d", filepath.Base(fs.f.path), fs.idx))
			}
			slices.Sort(files)
			out[key] = fmt.Sprint(s.tags, files)
		}
	}
	return out
}

// TestFlushAttachMatchesOpen checks that the files a flush and a
// compaction attach from what they wrote (attachWritten, no index
// decoded) leave the series, their files and the fields as Open leaves
// them reading the same files, and the same values: series in one
// partition and spanning several, tags the series key escapes, fields of
// several kinds.
func TestFlushAttachMatchesOpen(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, dir)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	day := (24 * time.Hour).Nanoseconds()
	var tags []model.Tags
	for d := range 40 {
		tags = append(tags, model.Tags{{Key: "device_id", Value: fmt.Sprintf("d%d,=\\%d", d, d)}, {Key: "site", Value: fmt.Sprint(d % 3)}})
	}
	for round := range 4 {
		var batch []model.Point
		for d, tg := range tags {
			// A third of the devices write across three days, the rest
			// within one.
			n := 1 + rng.IntN(30)
			for range n {
				ts := int64(round)*day + rng.Int64N(day/2)
				if d%3 == 0 {
					ts = rng.Int64N(3 * day)
				}
				fs := []model.Field{fv("f", rng.Float64())}
				if rng.IntN(2) == 0 {
					fs = append(fs, iv(fmt.Sprintf("i%d", d%4), rng.Int64N(100)))
				}
				batch = append(batch, model.Point{Collection: fmt.Sprintf("c%d", d%2), Tags: tg, Time: ts, Fields: fs})
			}
		}
		if err := db.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if round == 2 {
			if err := db.Compact(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := attachState(t, db)
	values := make(map[string]any)
	for d, tg := range tags {
		values[fmt.Sprint(d)] = readAll(t, db, fmt.Sprintf("c%d", d%2), tg, "f", "i0", "i1", "i2", "i3")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir)
	defer db.Close()
	if after := attachState(t, db); !reflect.DeepEqual(before, after) {
		for k, v := range before {
			if after[k] != v {
				t.Errorf("%s: after the flushes %s, after Open %s", k, v, after[k])
			}
		}
		t.Fatalf("%d entries after the flushes, %d after Open", len(before), len(after))
	}
	for d, tg := range tags {
		got := readAll(t, db, fmt.Sprintf("c%d", d%2), tg, "f", "i0", "i1", "i2", "i3")
		if !reflect.DeepEqual(got, values[fmt.Sprint(d)]) {
			t.Fatalf("device %d reads differently after Open", d)
		}
	}
}

// TestAttachWrittenUnknownSeries checks that attaching a written file
// with a series the DB does not hold (deleted while the file was being
// written) creates it from the file's index, with its tags, as
// attachFile does, and registers the file's fields.
func TestAttachWrittenUnknownSeries(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, dir)
	defer db.Close()
	ctx := context.Background()
	if err := db.Write(ctx, []model.Point{pt("c", "known", 10, fv("v", 1))}); err != nil {
		t.Fatal(err)
	}
	known := model.Tags{{Key: "device_id", Value: "known"}}
	gone := model.Tags{{Key: "device_id", Value: "gone"}, {Key: "x", Value: "a,b"}}
	data := []colfile.SeriesData{
		{Tags: known, Key: model.SeriesKey("c", known), Columns: []model.Column{{Name: "v", Kind: model.KindFloat, Times: []int64{20}, Floats: []float64{2}}}},
		{Tags: gone, Columns: []model.Column{{Name: "w", Kind: model.KindInt, Times: []int64{20}, Ints: []int64{3}}}},
	}
	path := filepath.Join(dir, "attach-test.col")
	r, err := colfile.WriteOpen(path, "c", 0, db.seq.Add(1), data, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &dataFile{path: path, r: r, meta: r.Meta()}
	db.mu.Lock()
	db.attachWritten(f, []fieldKind{{"v", model.KindFloat}, {"w", model.KindInt}})
	c := db.colls["c"]
	s := c.series[model.SeriesKey("c", gone)]
	fields := fmt.Sprint(c.fields)
	db.mu.Unlock()
	if s == nil || !s.tags.Equal(gone) || len(s.files) != 1 || s.files[0].f != f || r.Key(s.files[0].idx) != s.key {
		t.Fatalf("the unknown series was not attached: %+v", s)
	}
	if want := fmt.Sprint(map[string]model.Kind{"v": model.KindFloat, "w": model.KindInt}); fields != want {
		t.Fatalf("fields %s, want %s", fields, want)
	}
	if got := readAll(t, db, "c", gone, "w"); got["w"][20] != model.Int(3) {
		t.Fatalf("read %v", got)
	}
}

// TestConcatDisjoint checks concatDisjoint against mergeColumns on random
// columns of every kind: the same column when they follow one another,
// and a refusal when they overlap, come out of order, differ in kind or
// are fewer than two non-empty.
func TestConcatDisjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	kinds := []model.Kind{model.KindFloat, model.KindInt, model.KindUint, model.KindBool, model.KindString}
	for range 2000 {
		kind := kinds[rng.IntN(len(kinds))]
		var cols []model.Column
		next := rng.Int64N(100) - 50
		disjoint, nonEmpty := true, 0
		for range rng.IntN(5) {
			c := model.Column{Name: "x", Kind: kind}
			if rng.IntN(8) == 0 {
				next -= rng.Int64N(20) // may overlap the previous column
				disjoint = false
			}
			for range rng.IntN(6) {
				next += 1 + rng.Int64N(3)
				c.Times = append(c.Times, next)
				switch kind {
				case model.KindFloat:
					c.Floats = append(c.Floats, rng.Float64())
				case model.KindInt:
					c.Ints = append(c.Ints, rng.Int64())
				case model.KindUint:
					c.Uints = append(c.Uints, rng.Uint64())
				case model.KindBool:
					c.Bools = append(c.Bools, rng.IntN(2) == 0)
				case model.KindString:
					c.Strings = append(c.Strings, fmt.Sprint(rng.IntN(100)))
				}
			}
			if c.Len() > 0 {
				nonEmpty++
			}
			cols = append(cols, c)
		}
		got, ok := concatDisjoint("f", kind, cols)
		want := mergeColumns("f", kind, cols)
		if !ok {
			if disjoint && nonEmpty >= 2 {
				t.Fatalf("refused columns that follow one another: %+v", cols)
			}
			continue
		}
		if nonEmpty < 2 {
			t.Fatalf("took %d non-empty columns", nonEmpty)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("concatDisjoint %+v, mergeColumns %+v", got, want)
		}
	}
	mixed := []model.Column{
		{Name: "x", Kind: model.KindInt, Times: []int64{1}, Ints: []int64{1}},
		{Name: "x", Kind: model.KindFloat, Times: []int64{2}, Floats: []float64{2}},
	}
	if _, ok := concatDisjoint("x", model.KindInt, mixed); ok {
		t.Fatal("took columns of two kinds")
	}
}
