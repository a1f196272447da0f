package storage

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/wal"
)

// TestDefaultRetention: with Options.DefaultSettings keeping raw data 2
// days, a collection without settings of its own loses its older data as
// the clock moves on and refuses old writes, while one with settings of
// its own (keep everything) keeps all. Restarted with the zero default,
// the first keeps what it still has and takes old writes again; the
// second is untouched.
func TestDefaultRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clk := &clock{t: day0}
	var def CollectionSettings
	def.Retention[model.LevelRaw] = 2 * 24 * time.Hour
	opts := &Options{FlushInterval: -1, NumGroups: 2, Logger: quiet, Sync: wal.SyncNever, Now: clk.now, DefaultSettings: def}
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	// "own" keeps everything: the zero settings, which are not the default.
	if err := db.SetSettings(ctx, "own", CollectionSettings{}); err != nil {
		t.Fatal(err)
	}
	if got := db.Settings(); len(got) != 1 || got["own"] != (CollectionSettings{}) {
		t.Fatalf("own settings: %+v, want own only", got)
	}
	if got := db.CollectionSettings("dflt"); got != def {
		t.Fatalf("settings of a collection without its own: %+v, want the default", got)
	}
	tags := model.Tags{{Key: "device_id", Value: "d1"}}
	const days = 6
	for d := range days {
		start := day0.Add(time.Duration(d) * 24 * time.Hour)
		clk.t = start.Add(23 * time.Hour)
		var pts []model.Point
		for h := range 24 {
			for _, c := range []string{"dflt", "own"} {
				pts = append(pts, model.Point{Collection: c, Tags: tags, Time: start.Add(time.Duration(h) * time.Hour).UnixNano(),
					Fields: []model.Field{{Key: "v", Value: model.Float(float64(d*24 + h))}}})
			}
		}
		if err := db.Write(ctx, pts); err != nil {
			t.Fatalf("day %d: %v", d, err)
		}
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.EnforceRetention(ctx); err != nil {
			t.Fatal(err)
		}
	}
	count := func(coll string) (int, int64) {
		t.Helper()
		cols, err := db.Read(ctx, coll, tags, []string{"v"}, math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		if cols[0].Len() == 0 {
			return 0, 0
		}
		return cols[0].Len(), cols[0].Times[0]
	}
	// now is day 5, 23:00: now-2d is in day 3, whose partition is kept.
	keptFrom := day0.Add(3 * 24 * time.Hour).UnixNano()
	if n, first := count("dflt"); n != 3*24 || first != keptFrom {
		t.Fatalf("default retention: %d points from %d, want %d from %d", n, first, 3*24, keptFrom)
	}
	if n, _ := count("own"); n != days*24 {
		t.Fatalf("own settings: %d points, want %d", n, days*24)
	}
	old := []model.Point{{Collection: "dflt", Tags: tags, Time: day0.UnixNano(), Fields: []model.Field{{Key: "v", Value: model.Float(-1)}}}}
	var re *RetentionError
	if err := db.Write(ctx, old); !errors.As(err, &re) || re.Retention != 2*24*time.Hour {
		t.Fatalf("old write under the default retention: %v, want a RetentionError of 2d", err)
	}

	// Restarted without a default: everything is kept from then on.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	opts.DefaultSettings = CollectionSettings{}
	if db, err = Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	if got := db.CollectionSettings("dflt"); got != (CollectionSettings{}) {
		t.Fatalf("after the default went: %+v", got)
	}
	if got := db.Settings(); len(got) != 1 || got["own"] != (CollectionSettings{}) {
		t.Fatalf("own settings after restart: %+v", got)
	}
	clk.t = clk.t.Add(10 * 24 * time.Hour)
	if err := db.EnforceRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if n, first := count("dflt"); n != 3*24 || first != keptFrom {
		t.Fatalf("without a default: %d points from %d, want what was kept", n, first)
	}
	if n, _ := count("own"); n != days*24 {
		t.Fatalf("own settings without a default: %d points, want %d", n, days*24)
	}
}

// TestDefaultNoRollups: with rollups off by default, a collection without
// settings of its own writes no rollup file and answers from raw data,
// exactly; a collection turning them on for itself has them. Restarted
// with rollups on by default, the first's rollups are rebuilt at the next
// flush; restarted with them off again, its rollup files are removed.
func TestDefaultNoRollups(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := &Options{FlushInterval: -1, NumGroups: 1, Logger: quiet, Sync: wal.SyncNever, DefaultSettings: CollectionSettings{NoRollups: true}}
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	tags := model.Tags{{Key: "device_id", Value: "d"}}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(coll string) {
		var pts []model.Point
		for i := range 2000 {
			pts = append(pts, model.Point{Collection: coll, Tags: tags, Time: base.Add(time.Duration(i) * time.Hour).UnixNano(),
				Fields: []model.Field{{Key: "v", Value: model.Float(float64(i))}}})
		}
		if err := db.Write(ctx, pts); err != nil {
			t.Fatal(err)
		}
	}
	write("c")
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(rollupFiles(t, dir)); n != 0 {
		t.Fatalf("rollups off by default: %d rollup files", n)
	}
	now := time.Now()
	q := "SELECT count(v), sum(v) FROM c GROUP BY 1d"
	check := func(phase string, wantRollups bool) {
		t.Helper()
		got, raw := runQuery(t, db, now, q, false), runQuery(t, db, now, q, true)
		if usedRollups(got) != wantRollups || len(got.Rows) == 0 || sameResult(got, raw) != nil {
			t.Fatalf("%s: %d rows, rollups used %v (want %v), same as raw: %v", phase, len(got.Rows), usedRollups(got), wantRollups, sameResult(got, raw))
		}
	}
	check("off by default", false)

	// A collection's own setting turns them on for it alone.
	if err := db.SetSettings(ctx, "on", CollectionSettings{}); err != nil {
		t.Fatal(err)
	}
	write("on")
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	files := rollupFiles(t, dir)
	if len(files) == 0 {
		t.Fatal("a collection with rollups on has no rollup files")
	}
	db.mu.RLock()
	for _, g := range db.collRollups(db.colls["c"]) {
		for l := range g.files {
			if len(g.files[l]) != 0 {
				t.Errorf("collection c holds rollup files of level %d", l)
			}
		}
	}
	db.mu.RUnlock()

	// Rollups on by default: c's are rebuilt.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	opts.DefaultSettings = CollectionSettings{}
	if db, err = Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(rollupFiles(t, dir)); n <= len(files) {
		t.Fatalf("rollups on by default: %d rollup files, want more than the %d of collection on alone", n, len(files))
	}
	check("on by default", true)

	// Off again: c's rollup files go at once, on's stay.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	opts.DefaultSettings = CollectionSettings{NoRollups: true}
	if db, err = Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	if n := len(rollupFiles(t, dir)); n != len(files) {
		t.Fatalf("rollups off by default again: %d rollup files, want the %d of collection on", n, len(files))
	}
	check("off again", false)
	if got := db.CollectionSettings("on"); got.NoRollups {
		t.Fatalf("collection on: %+v", got)
	}
}
