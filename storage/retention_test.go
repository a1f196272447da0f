package storage

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage/wal"
)

// clock is a settable time source for retention tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func runQuery(t *testing.T, db *DB, now time.Time, q string, rawOnly bool) *planner.Result {
	t.Helper()
	stmt, err := query.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	res, err := planner.ExecuteWith(context.Background(), db, stmt, planner.Options{Now: now, RawOnly: rawOnly})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return res
}

// TestRetention loads 30 days of one point a minute under a 7-day raw
// retention and a 12-day 1h retention, advancing the clock day by day as
// a live feed would, and checks that raw data goes after its period while
// the rollups keep answering exactly, across a restart.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clk := &clock{t: day0}
	opts := &Options{FlushInterval: -1, NumGroups: 2, Logger: quiet, Sync: wal.SyncNever, Now: clk.now}
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	var settings CollectionSettings
	settings.Retention[model.LevelRaw] = 7 * 24 * time.Hour
	settings.Retention[model.Level1h] = 12 * 24 * time.Hour
	if err := db.SetSettings(ctx, "c", settings); err != nil {
		t.Fatal(err)
	}
	tags := model.Tags{{Key: "device_id", Value: "d1"}}
	const days = 30
	// want[d] is the count and sum of day d.
	type daySum struct {
		n   int64
		sum float64
	}
	want := make([]daySum, days)
	for d := range days {
		start := day0.Add(time.Duration(d) * 24 * time.Hour)
		clk.t = start.Add(23*time.Hour + 59*time.Minute)
		var pts []model.Point
		for m := range 24 * 60 {
			v := float64(d*10000 + m)
			pts = append(pts, model.Point{Collection: "c", Tags: tags, Time: start.Add(time.Duration(m) * time.Minute).UnixNano(),
				Fields: []model.Field{{Key: "v", Value: model.Float(v)}}})
			want[d].n++
			want[d].sum += v
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
	now := clk.t

	// A write older than the raw retention is refused, naming it.
	err = db.Write(ctx, []model.Point{{Collection: "c", Tags: tags, Time: now.Add(-8 * 24 * time.Hour).UnixNano(),
		Fields: []model.Field{{Key: "v", Value: model.Float(1)}}}})
	var re *RetentionError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "7d") {
		t.Fatalf("old write: got %v, want a RetentionError naming 7d", err)
	}

	check := func(phase string) {
		t.Helper()
		// Raw data before the horizon is gone.
		cols, err := db.Read(ctx, "c", tags, []string{"v"}, math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		// now is the last minute of day 29: the partition holding now-7d is day 22.
		rawFrom := day0.Add((days - 8) * 24 * time.Hour).UnixNano()
		if cols[0].Len() == 0 || cols[0].Times[0] < rawFrom || cols[0].Len() > 8*24*60 {
			t.Fatalf("%s: raw data holds %d points from %d, want at most 8 days from %d", phase, cols[0].Len(), cols[0].Times[0], rawFrom)
		}
		// Every day is still answered exactly, from the 1d level.
		res := runQuery(t, db, now, "SELECT count(v), sum(v) FROM c WHERE time >= '2026-03-01T00:00:00Z' GROUP BY 1d", false)
		if len(res.Rows) != days {
			t.Fatalf("%s: %d daily rows, want %d", phase, len(res.Rows), days)
		}
		for d, row := range res.Rows {
			if row[1].Int() != want[d].n || row[2].Float() != want[d].sum {
				t.Errorf("%s: day %d: count %v sum %v, want %d %v", phase, d, row[1], row[2], want[d].n, want[d].sum)
			}
		}
		if res.Stats == nil || len(res.Stats.Notes) == 0 || !strings.Contains(strings.Join(res.Stats.Notes, " "), "expired") {
			t.Errorf("%s: stats %+v do not say raw data expired", phase, res.Stats)
		}
		// Hours: kept for 12 days, so the first days have no hourly rows
		// while the last 12 do.
		res = runQuery(t, db, now, "SELECT count(v) FROM c WHERE time >= '2026-03-01T00:00:00Z' GROUP BY 1h FILL(none)", false)
		if n := len(res.Rows); n < 12*24 || n > 13*24 {
			t.Errorf("%s: %d hourly rows, want about 12 days' worth", phase, n)
		}
		// Recent raw data answers at minute resolution, the same as raw.
		q := "SELECT avg(v) FROM c WHERE time >= '2026-03-28T10:00:00Z' AND time < '2026-03-28T12:00:00Z' GROUP BY 1m"
		if got, raw := runQuery(t, db, now, q, false), runQuery(t, db, now, q, true); len(got.Rows) != 120 || sameResult(got, raw) != nil {
			t.Errorf("%s: recent minutes: %d rows (%v)", phase, len(got.Rows), sameResult(got, raw))
		}
	}
	check("live")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	check("restarted")
}

// TestRollupsToggle turns a collection's rollups off and on: off removes
// the rollup files and answers from raw data; on rebuilds them at the next
// flush.
func TestRollupsToggle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(dir, &Options{FlushInterval: -1, NumGroups: 1, Logger: quiet, Sync: wal.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	tags := model.Tags{{Key: "device_id", Value: "d"}}
	var pts []model.Point
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3000 {
		pts = append(pts, model.Point{Collection: "c", Tags: tags, Time: base.Add(time.Duration(i) * time.Hour).UnixNano(),
			Fields: []model.Field{{Key: "v", Value: model.Float(float64(i))}}})
	}
	if err := db.Write(ctx, pts); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	q := "SELECT max(v), count(v) FROM c"
	now := time.Now()
	if res := runQuery(t, db, now, q, false); !usedRollups(res) || res.Rows[0][2].Int() != 3000 {
		t.Fatalf("rollups on: rows %v stats %+v, want rollup rows and count 3000", res.Rows, res.Stats)
	}
	if err := db.SetSettings(ctx, "c", CollectionSettings{NoRollups: true}); err != nil {
		t.Fatal(err)
	}
	if n := len(rollupFiles(t, dir)); n != 0 {
		t.Fatalf("rollups off: %d rollup files left", n)
	}
	if res := runQuery(t, db, now, q, false); usedRollups(res) || res.Rows[0][2].Int() != 3000 {
		t.Fatalf("rollups off: rows %v stats %+v", res.Rows, res.Stats)
	}
	if err := db.SetSettings(ctx, "c", CollectionSettings{}); err != nil {
		t.Fatal(err)
	}
	if res := runQuery(t, db, now, q, false); usedRollups(res) || res.Rows[0][2].Int() != 3000 {
		t.Fatalf("rollups on, not rebuilt yet: rows %v stats %+v, want raw answers", res.Rows, res.Stats)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if res := runQuery(t, db, now, q, false); !usedRollups(res) || res.Rows[0][2].Int() != 3000 {
		t.Fatalf("rollups rebuilt: rows %v stats %+v", res.Rows, res.Stats)
	}
	// The setting survives a restart.
	if err := db.SetSettings(ctx, "c", CollectionSettings{NoRollups: true}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = Open(dir, &Options{FlushInterval: -1, NumGroups: 1, Logger: quiet, Sync: wal.SyncNever}); err != nil {
		t.Fatal(err)
	}
	if s := db.CollectionSettings("c"); !s.NoRollups {
		t.Fatalf("settings after restart: %+v", s)
	}
}

func rollupFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if _, _, ok := parseRollupPath(p); err == nil && ok && filepath.Ext(p) == ".col" {
			out = append(out, p)
		}
		return nil
	})
	return out
}
