package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
)

// rollRowCount counts the rows of level l's files of collection c.
func rollRowCount(t *testing.T, db *DB, l model.Level) int {
	t.Helper()
	db.mu.RLock()
	var files []*rollFile
	for _, g := range db.collRollups(db.colls["c"]) {
		files = append(files, g.files[l]...)
	}
	db.mu.RUnlock()
	n := 0
	for _, f := range files {
		rows, err := readAllRows(f.r, l)
		if err != nil {
			t.Fatal(err)
		}
		for _, sr := range rows {
			for _, fr := range sr.fields {
				n += len(fr.rows)
			}
		}
	}
	return n
}

// TestRollupElisionAnswersLikeRaw: 1M and 1y rows whose data lies in one
// day are not stored (rollup_build.go, "Elision"), and every aggregate
// still answers what raw data does: random sparse histories over three
// years (most months and some years hold one day of a device), late
// writes into other days of such months and years (which store their
// rows again), overwrites, deletes and crashes.
func TestRollupElisionAnswersLikeRaw(t *testing.T) {
	y0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	span := y0.AddDate(3, 0, 0).Sub(y0)
	devs := []string{"d0", "d1", "d2"}
	queries := []string{
		"SELECT count(v), sum(v), min(v), max(v), first(v), last(v) FROM c WHERE time >= '2024-01-01T00:00:00Z' AND time < '2027-01-01T00:00:00Z' GROUP BY device_id",
		"SELECT count(v), sum(v), min(v), max(v) FROM c WHERE time >= '2024-01-01T00:00:00Z' AND time < '2027-01-01T00:00:00Z' GROUP BY 1M, device_id FILL(none)",
		"SELECT count(v), sum(v), first(v), last(v) FROM c WHERE time >= '2024-01-01T00:00:00Z' AND time < '2027-01-01T00:00:00Z' GROUP BY 1d, device_id FILL(none)",
		"SELECT count(v), max(v) FROM c WHERE time >= '2024-03-01T00:00:00Z' AND time < '2026-11-01T00:00:00Z' GROUP BY 1M FILL(none)",
		"SELECT count(v), sum(v), min(v) FROM c WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z'",
		"SELECT count(v), sum(v) FROM c WHERE device_id = 'd1' AND time >= '2024-01-01T00:00:00Z' AND time < '2027-01-01T00:00:00Z'",
	}
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, seed*31))
			c := newCleanDB(t, y0.AddDate(3, 1, 0))
			for i, d := range devs {
				c.must(c.db.Write(context.Background(), []model.Point{pt("c", d, y0.AddDate(0, i, i).UnixNano(), iv("v", 1))}))
			}
			elided, stored := false, false
			var history []string
			for round := range 12 {
				var pts []model.Point
				switch op := rng.IntN(10); {
				case op < 6: // a few points, each alone in its day
					for range 1 + rng.IntN(6) {
						at := y0.Add(time.Duration(rng.Int64N(int64(span))))
						pts = append(pts, pt("c", devs[rng.IntN(len(devs))], at.UnixNano(), iv("v", rng.Int64N(100))))
					}
					history = append(history, fmt.Sprintf("write %d", len(pts)))
				case op < 8: // a late point a day or two after an earlier one
					at := y0.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(24 * time.Hour)
					dev := devs[rng.IntN(len(devs))]
					pts = append(pts, pt("c", dev, at.UnixNano(), iv("v", 7)))
					c.must(c.db.Write(context.Background(), pts))
					c.flush()
					pts = []model.Point{pt("c", dev, at.Add(days(1+rng.IntN(2))).UnixNano(), iv("v", 9))}
					history = append(history, "late "+dev+" "+fmtT(at.UnixNano()))
				case op < 9:
					dev := devs[rng.IntN(len(devs))]
					lo := y0.Add(time.Duration(rng.Int64N(int64(span))))
					c.del(dev, lo, lo.Add(days(20)))
					history = append(history, "delete "+dev+" "+fmtT(lo.UnixNano()))
				default:
					c.crash()
					history = append(history, "crash")
				}
				if len(pts) > 0 {
					c.must(c.db.Write(context.Background(), pts))
				}
				c.flush()
				for _, q := range queries {
					if got, want := c.rows(q, false), c.rows(q, true); got != want {
						t.Fatalf("round %d: %s\nrollups %s\nraw     %s\nhistory %v", round, q, got, want, history)
					}
				}
				d, m := rollRowCount(t, c.db, model.Level1d), rollRowCount(t, c.db, model.Level1M)
				elided = elided || m < d && m < rollRowCount(t, c.db, model.Level1h)
				stored = stored || m > 0
			}
			if !elided || !stored {
				t.Errorf("elided %v, stored %v: want 1M rows both left out and stored; history %v", elided, stored, history)
			}
		})
	}
}

// TestRollupElisionRestoredBeforeRetention: a retention set on the 1d
// level stores the elided 1M and 1y rows again before the 1d files go, so
// the months only rollups hold afterwards keep their data; a crash and a
// reopen do not change that.
func TestRollupElisionRestoredBeforeRetention(t *testing.T) {
	y0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newCleanDB(t, y0.AddDate(2, 0, 0))
	var pts []model.Point
	// One day a month for d0; d1 writes two days in March 2024.
	for m := range 20 {
		pts = append(pts, pt("c", "d0", y0.AddDate(0, m, 3+m%20).UnixNano(), iv("v", int64(m+1))))
	}
	pts = append(pts, pt("c", "d1", y0.AddDate(0, 2, 4).UnixNano(), iv("v", 50)),
		pt("c", "d1", y0.AddDate(0, 2, 9).UnixNano(), iv("v", 60)))
	c.must(c.db.Write(context.Background(), pts))
	c.flush()
	q := "SELECT count(v), sum(v), min(v), max(v) FROM c WHERE time >= '2024-01-01T00:00:00Z' AND time < '2025-06-01T00:00:00Z' GROUP BY 1M, device_id FILL(none)"
	qYear := "SELECT count(v), sum(v) FROM c WHERE time >= '2024-01-01T00:00:00Z' AND time < '2025-01-01T00:00:00Z' GROUP BY device_id"
	want, wantYear := c.rows(q, true), c.rows(qYear, true)
	if got := c.rows(q, false); got != want {
		t.Fatalf("before: rollups %s, raw %s", got, want)
	}
	if n := rollRowCount(t, c.db, model.Level1M); n != 1 {
		t.Fatalf("%d 1M rows before the retention, want 1 (d1's March)", n)
	}
	var s CollectionSettings
	s.Retention[model.LevelRaw] = days(30)
	s.Retention[model.Level1h] = days(30)
	s.Retention[model.Level1d] = days(60)
	c.settings(s)
	if n := rollRowCount(t, c.db, model.Level1M); n != 21 {
		t.Fatalf("%d 1M rows after the retention, want 21", n)
	}
	if n := rollRowCount(t, c.db, model.Level1d); n >= 22 {
		t.Fatalf("%d 1d rows after the retention: it dropped none", n)
	}
	for _, step := range []string{"settings", "crash"} {
		if step == "crash" {
			c.crash()
			c.flush()
		}
		if got := c.rows(q, false); got != want {
			t.Fatalf("after %s: rollups %s, want %s", step, got, want)
		}
		if got := c.rows(qYear, false); got != wantYear {
			t.Fatalf("after %s: the year from rollups %s, want %s", step, got, wantYear)
		}
	}
}

// TestDataDirFormatElide: a directory takes format 6 before its first
// rollup pass (versions without elision would read elided buckets as
// empty), keeps it across restarts, and stays at its format while
// rollups are off.
func TestDataDirFormatElide(t *testing.T) {
	for _, rollups := range []bool{true, false} {
		t.Run(fmt.Sprint("rollups=", rollups), func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			dir := t.TempDir()
			o := Options{}
			want := formatElide
			if !rollups {
				o, want = noRollups(), formatLayout2
			}
			db := openFS(t, dir, fs, o)
			c := &cleanDB{t: t, db: db}
			c.hourly("d", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), 5)
			if got := dirFormat(t, fs, dir); got != formatLayout2 {
				t.Fatalf("format %d before the first flush, want %d", got, formatLayout2)
			}
			c.flush()
			if got := dirFormat(t, fs, dir); got != want {
				t.Fatalf("format %d after a flush with rollups, want %d", got, want)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openFS(t, dir, fs, o)
			defer db.Close()
			if err := db.saveDirMeta(); err != nil {
				t.Fatal(err)
			}
			if got := dirFormat(t, fs, dir); got != want {
				t.Fatalf("format %d after a restart, want %d", got, want)
			}
			res := runQuery(t, db, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
				"SELECT count(v) FROM c WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z'", false)
			if !strings.HasSuffix(fmt.Sprint(res.Rows), " 5]]") && rollups {
				t.Fatalf("count over the year after a restart: %v, want 5", res.Rows)
			}
		})
	}
}

// TestRollupElisionLateWrite: one day of data leaves no 1M or 1y row; a
// late write into another day of the month stores the 1M row (and the 1y
// row) again, and one into another month of the year the 1y row only.
func TestRollupElisionLateWrite(t *testing.T) {
	c := newCleanDB(t, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	day := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	q := "SELECT count(v), sum(v), min(v), max(v) FROM c WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z' GROUP BY 1M FILL(none)"
	qYear := "SELECT count(v), sum(v), max(v) FROM c WHERE time >= '2020-01-01T00:00:00Z' AND time < '2030-01-01T00:00:00Z'"
	steps := []struct {
		name string
		at   time.Time
		m, y int // 1M and 1y rows afterwards
	}{
		{"one day", day, 0, 0},
		{"another month", day.AddDate(0, 2, 0), 0, 1},
		{"another day of March", day.AddDate(0, 0, 3), 1, 1},
	}
	for _, st := range steps {
		c.hourly("d", st.at, 5)
		c.flush()
		if m, y := rollRowCount(t, c.db, model.Level1M), rollRowCount(t, c.db, model.Level1y); m != st.m || y != st.y {
			t.Fatalf("after %s: %d 1M and %d 1y rows, want %d and %d", st.name, m, y, st.m, st.y)
		}
		for _, text := range []string{q, qYear} {
			if got, want := c.rows(text, false), c.rows(text, true); got != want {
				t.Fatalf("after %s: %s\nrollups %s\nraw     %s", st.name, text, got, want)
			}
			if res := runQuery(t, c.db, c.clk.t, text, false); !usedRollups(res) {
				t.Fatalf("after %s: %s read no rollup row (%+v)", st.name, text, res.Stats.Levels)
			}
		}
	}
}
