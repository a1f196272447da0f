package storage

import (
	"context"
	"io/fs"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
)

// TestExtremeTimesFileNames writes points at both ends of the int64 range
// and checks that every file is named for its own partition, that rollup
// partition names parse back to the partition they were written for, and
// that the data reads back whole after a restart. Before the fix the raw
// file of a 1677 point was named for 2262 (the partition start wrapped).
func TestExtremeTimesFileNames(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openTest(t, dir)
	// Two days at each end, so that the 1M and 1y rows are stored (one
	// day's would be elided: rollup_build.go).
	day := int64(24 * time.Hour)
	times := []int64{math.MinInt64, math.MinInt64 + int64(time.Hour), math.MinInt64 + day,
		math.MaxInt64 - day, math.MaxInt64 - int64(time.Hour), math.MaxInt64}
	var pts []model.Point
	for i, ts := range times {
		pts = append(pts, pt("x", "d", ts, iv("v", int64(i))))
	}
	if err := db.Write(ctx, pts); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var raw, rolls []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".col") {
			return err
		}
		if strings.Contains(filepath.Base(filepath.Dir(path)), "rollup_") {
			rolls = append(rolls, path)
		} else {
			raw = append(raw, filepath.Base(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var rawParts []string
	for _, name := range raw {
		rawParts = append(rawParts, partitionName(name))
	}
	slices.Sort(rawParts)
	if want := []string{"16770921T000000Z", "16770922T000000Z", "22620410T000000Z", "22620411T000000Z"}; !slices.Equal(rawParts, want) {
		t.Errorf("raw file partitions: got %v, want %v", rawParts, want)
	}
	// Each rollup file: named for the true start of its partition, and the
	// name parses back to the partition key the level uses.
	wantRoll := map[string]string{
		"rollup_1h/16770921T000000Z": "", "rollup_1h/22620411T000000Z": "",
		"rollup_1h/16770922T000000Z": "", "rollup_1h/22620410T000000Z": "",
		"rollup_1d/16770901T000000Z": "", "rollup_1d/22620401T000000Z": "",
		"rollup_1M/16770101T000000Z": "", "rollup_1M/22620101T000000Z": "",
		"rollup_1y/all": "",
	}
	for _, path := range rolls {
		key := filepath.Base(filepath.Dir(path)) + "/" + partitionName(path)
		if _, ok := wantRoll[key]; !ok {
			t.Errorf("unexpected rollup file %s", key)
			continue
		}
		delete(wantRoll, key)
		l, part, ok := parseRollupPath(path)
		if !ok {
			t.Errorf("%s: does not parse", key)
			continue
		}
		at := int64(math.MaxInt64)
		switch {
		case strings.HasSuffix(key, "/16770922T000000Z"):
			at = math.MinInt64 + day
		case strings.HasSuffix(key, "/22620410T000000Z"):
			at = math.MaxInt64 - day
		case strings.Contains(key, "/1677") || l == model.Level1y:
			at = math.MinInt64
		}
		want := partOf(l, at)
		if part != want || (l != model.Level1y && partName(l, part) != partitionName(path)) {
			t.Errorf("%s: parses to level %s partition %d (named %s), want %d", key, l, part, partName(l, part), want)
		}
	}
	for key := range wantRoll {
		t.Errorf("missing rollup file %s", key)
	}
	check := func(stage string) {
		t.Helper()
		got := readAll(t, db, "x", model.Tags{{Key: "device_id", Value: "d"}}, "v")["v"]
		for i, ts := range times {
			if v, ok := got[ts]; !ok || v.Int() != int64(i) {
				t.Errorf("%s: point at %d: got %v, %v, want %d", stage, ts, v, ok, i)
			}
		}
		if len(got) != len(times) {
			t.Errorf("%s: got %d points, want %d", stage, len(got), len(times))
		}
		for _, l := range []model.Level{model.Level1h, model.Level1d, model.Level1M, model.Level1y} {
			for _, end := range []int64{math.MinInt64, math.MaxInt64} {
				lo := l.Floor(end)
				hi := l.End(lo)
				parts, err := db.ReadParts(ctx, "x", model.Tags{{Key: "device_id", Value: "d"}}, "v", lo, hi,
					func(a, b int64) bool { return l.Floor(a) == l.Floor(b) }, l)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, p := range parts {
					if p.Summary != nil {
						n += p.Summary.Count
					} else {
						n += p.Values.Len()
					}
				}
				want := 3 // 1M and 1y buckets hold the three points at an end
				switch l {
				case model.Level1h:
					want = 1 // an hour apart: the next bucket
				case model.Level1d:
					want = 2 // a day apart: the next bucket
				}
				if n != want {
					t.Errorf("%s: level %s bucket [%d, %d]: %d points, want %d", stage, l, lo, hi, n, want)
				}
			}
		}
	}
	check("flushed")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir)
	defer db.Close()
	check("reopened")
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	check("compacted")
}

// TestDeleteWholeRangeRollupCost deletes over the whole int64 range a series
// whose points lie at both ends of it. The rollup pass that follows listed
// every hour between the data's ends (5.1 million) before recomputing them;
// it must cost the hours that hold data.
func TestDeleteWholeRangeRollupCost(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, t.TempDir())
	defer db.Close()
	dev := model.Tags{{Key: "device_id", Value: "d"}}
	pts := []model.Point{
		pt("x", "d", math.MinInt64, iv("v", 1)), pt("x", "d", 0, iv("v", 2)), pt("x", "d", math.MaxInt64, iv("v", 3)),
		pt("x", "e", 0, iv("v", 4)),
	}
	if err := db.Write(ctx, pts); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := db.Delete(ctx, "x", []model.Tags{dev}, 1, math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("delete and rollup allocated %d bytes, want under 8 MiB", grew)
	}
	got := readAll(t, db, "x", dev, "v")["v"]
	if len(got) != 2 || got[math.MinInt64].Int() != 1 || got[0].Int() != 2 {
		t.Errorf("after the delete: got %v, want the points at MinInt64 and 0", got)
	}
	for _, end := range []int64{math.MinInt64, 0, math.MaxInt64} {
		l := model.Level1d
		parts, err := db.ReadParts(ctx, "x", dev, "v", l.Floor(end), l.End(l.Floor(end)),
			func(a, b int64) bool { return l.Floor(a) == l.Floor(b) }, l)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range parts {
			if p.Summary != nil {
				n += p.Summary.Count
			} else {
				n += p.Values.Len()
			}
		}
		if want := map[int64]int{math.MinInt64: 1, 0: 1, math.MaxInt64: 0}[end]; n != want {
			t.Errorf("1d bucket of %d after the delete: %d points, want %d", end, n, want)
		}
	}
}

// TestRollupRowAtMinimumWithDirtyGap reads a range from math.MinInt64 at
// the 1h level, where the first row starts at math.MinInt64 and a later
// bucket is dirty: the gap before that first row (r.start-1) wrapped to
// math.MaxInt64 and the whole range was read again from finer levels.
func TestRollupRowAtMinimumWithDirtyGap(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, t.TempDir())
	defer db.Close()
	dev := model.Tags{{Key: "device_id", Value: "d"}}
	if err := db.Write(ctx, []model.Point{
		pt("x", "d", math.MinInt64, iv("v", 1)), pt("x", "d", 0, iv("v", 2)),
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A late point, in memory: its hour is dirty until the next flush.
	if err := db.Write(ctx, []model.Point{pt("x", "d", int64(time.Hour), iv("v", 3))}); err != nil {
		t.Fatal(err)
	}
	for _, l := range []model.Level{model.Level1h, model.Level1d, model.Level1M, model.Level1y} {
		parts, err := db.ReadParts(ctx, "x", dev, "v", math.MinInt64, math.MaxInt64,
			func(a, b int64) bool { return l.Floor(a) == l.Floor(b) }, l)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range parts {
			if p.Summary != nil {
				n += p.Summary.Count
			} else {
				n += p.Values.Len()
			}
		}
		if n != 3 {
			t.Errorf("level %s: %d points over the whole range, want 3", l, n)
		}
	}
}

// TestQuarantineExtremePartitions damages the raw and 1h rollup files of the
// partitions at both ends of the int64 range and checks the ranges the
// quarantine reports: a 1677 name parsed with time.UnixNano wrapped to 2262.
func TestQuarantineExtremePartitions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openTest(t, dir)
	if err := db.Write(ctx, []model.Point{
		pt("x", "d", math.MinInt64, iv("v", 1)), pt("x", "d", math.MaxInt64, iv("v", 2)),
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var damaged []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".col") {
			return err
		}
		if dd := filepath.Base(filepath.Dir(path)); strings.HasPrefix(dd, "group_") || dd == "rollup_1h" {
			damaged = append(damaged, path)
			truncateTo(t, path, -2)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(damaged) != 4 {
		t.Fatalf("damaged %v, want the raw and 1h files of both ends", damaged)
	}
	db = openTest(t, dir)
	defer db.Close()
	want := map[string][2]int64{
		"16770921T000000Z":    {math.MinInt64, time.Date(1677, 9, 22, 0, 0, 0, 0, time.UTC).UnixNano() - 1},
		"22620411T000000Z":    {time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC).UnixNano(), math.MaxInt64},
		"1h/16770921T000000Z": {math.MinInt64, time.Date(1677, 9, 22, 0, 0, 0, 0, time.UTC).UnixNano() - 1},
	}
	want["1h/22620411T000000Z"] = want["22620411T000000Z"]
	q := db.Quarantined()
	if len(q) != 4 {
		t.Fatalf("Quarantined: got %+v, want 4 files", q)
	}
	for _, f := range q {
		key := partitionName(strings.TrimSuffix(f.Path, filepath.Ext(f.Path)) + ".col")
		if strings.Contains(f.Path, "rollup_1h") {
			key = "1h/" + key
		}
		w, ok := want[key]
		if !ok || f.From != w[0] || f.To != w[1] {
			t.Errorf("quarantined %s: range [%d, %d], want %v", f.Path, f.From, f.To, w)
		}
	}
}
