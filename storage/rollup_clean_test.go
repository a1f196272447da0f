package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
	"github.com/soltixdb/soltix/storage/wal"
)

// cleanDB is a DB on a settable clock that can be crashed and reopened,
// for the tests of the rule that a clean bucket agrees with the data kept.
type cleanDB struct {
	t    *testing.T
	dir  string
	clk  *clock
	opts *Options
	db   *DB
}

func newCleanDB(t *testing.T, now time.Time) *cleanDB {
	t.Helper()
	c := &cleanDB{t: t, dir: t.TempDir(), clk: &clock{t: now}}
	c.opts = &Options{FlushInterval: -1, NumGroups: 1, Logger: quiet, Sync: wal.SyncNever, Now: c.clk.now}
	c.open()
	t.Cleanup(func() {
		if c.db != nil {
			c.db.Close()
		}
	})
	return c
}

func (c *cleanDB) open() {
	c.t.Helper()
	db, err := Open(c.dir, c.opts)
	if err != nil {
		c.t.Fatalf("Open: %v", err)
	}
	c.db = db
}

// crash abandons the DB as a SIGKILL would and opens the directory again.
func (c *cleanDB) crash() {
	c.t.Helper()
	crash(c.t, c.db)
	c.db = nil
	c.open()
}

func (c *cleanDB) must(err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
}

// hourly writes n points an hour apart from start for device dev, value i.
func (c *cleanDB) hourly(dev string, start time.Time, n int) {
	c.t.Helper()
	var pts []model.Point
	for i := range n {
		pts = append(pts, pt("c", dev, start.Add(time.Duration(i)*time.Hour).UnixNano(), iv("v", int64(i+1))))
	}
	c.must(c.db.Write(context.Background(), pts))
}

func (c *cleanDB) flush() { c.t.Helper(); c.must(c.db.Flush(context.Background())) }

func (c *cleanDB) settings(s CollectionSettings) {
	c.t.Helper()
	c.must(c.db.SetSettings(context.Background(), "c", s))
}

func (c *cleanDB) del(dev string, lo, hi time.Time) {
	c.t.Helper()
	c.must(c.db.Delete(context.Background(), "c", []model.Tags{{{Key: "device_id", Value: dev}}}, lo.UnixNano(), hi.UnixNano()))
}

// rows runs q with rollups (or raw data only) and renders its rows.
func (c *cleanDB) rows(q string, rawOnly bool) string {
	c.t.Helper()
	res := runQuery(c.t, c.db, c.clk.t, q, rawOnly)
	return fmt.Sprint(res.Rows)
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// TestRollupsOnSurvivesCrash turns rollups on over data written with them
// off and crashes before any flush: the "not built yet" state must come
// back with the setting, so aggregates still match raw data after the
// restart and after later flushes. Before the fix count(v) returned no
// rows while levels=raw returned 48.
func TestRollupsOnSurvivesCrash(t *testing.T) {
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const q = "SELECT count(v), sum(v) FROM c WHERE time >= '2026-03-01T00:00:00Z' AND time < '2026-03-04T00:00:00Z'"
	const qd = "SELECT count(v) FROM c WHERE time >= '2026-03-01T00:00:00Z' AND time < '2026-03-04T00:00:00Z' GROUP BY 1d"
	cases := []struct {
		name string
		// between runs after rollups are turned on, before the crash.
		between func(c *cleanDB)
		// after runs after the restart, before the check.
		after func(c *cleanDB)
	}{
		{"crash at once, flush", func(*cleanDB) {}, (*cleanDB).flush},
		{"crash at once, no flush", func(*cleanDB) {}, func(*cleanDB) {}},
		{"late write, crash, flush", func(c *cleanDB) { c.hourly("d2", day0.Add(5*time.Hour), 3) }, (*cleanDB).flush},
		{"crash twice", func(*cleanDB) {}, func(c *cleanDB) { c.crash(); c.flush() }},
		{"flush, crash", (*cleanDB).flush, func(*cleanDB) {}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCleanDB(t, day0.Add(days(3)))
			c.settings(CollectionSettings{NoRollups: true})
			c.hourly("d1", day0, 48)
			c.flush()
			c.settings(CollectionSettings{})
			tc.between(c)
			c.crash()
			tc.after(c)
			for _, q := range []string{q, qd} {
				got, raw := c.rows(q, false), c.rows(q, true)
				if got != raw {
					t.Fatalf("%s:\ngot  %s\nraw  %s", q, got, raw)
				}
			}
			c.flush()
			if b, err := os.ReadFile(filepath.Join(c.dir, "collections.json")); err != nil || strings.Contains(string(b), "pending") {
				t.Fatalf("collections.json after the rebuild: %s (%v), want nothing pending", b, err)
			}
			c.crash()
			for _, q := range []string{q, qd} {
				if got, raw := c.rows(q, false), c.rows(q, true); got != raw {
					t.Fatalf("after a flush and another crash: %s:\ngot  %s\nraw  %s", q, got, raw)
				}
			}
		})
	}
}

// TestRollupFromRawPastFinerRetention keeps raw data longer than the 1h
// level: data older than the 1h retention must still reach 1d, 1M and 1y,
// from raw data, for first writes, late writes and deletes. Before the fix
// count(v) over the month and GROUP BY 1d returned nothing while raw had 24
// points.
func TestRollupFromRawPastFinerRetention(t *testing.T) {
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := day0.Add(days(50))
	old := now.Add(-days(45)).Truncate(24 * time.Hour) // 2026-01-06
	queries := []string{
		"SELECT count(v), sum(v), max(v) FROM c WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-02-01T00:00:00Z'",
		"SELECT count(v), sum(v) FROM c WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-02-01T00:00:00Z' GROUP BY 1d",
		"SELECT count(v) FROM c WHERE time >= '2026-01-01T00:00:00Z' AND time < '2027-01-01T00:00:00Z' GROUP BY 1M",
		"SELECT count(v), min(v) FROM c",
		"SELECT count(v), max(v) FROM c WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-02-01T00:00:00Z' GROUP BY 1h FILL(none)",
	}
	var s CollectionSettings
	s.Retention[model.LevelRaw] = days(60)
	s.Retention[model.Level1h] = days(7)
	cases := []struct {
		name string
		step func(c *cleanDB)
	}{
		{"first write", func(*cleanDB) {}},
		{"late write", func(c *cleanDB) { c.hourly("d1", old.Add(days(1)), 5); c.flush() }},
		{"late write, crash", func(c *cleanDB) { c.hourly("d1", old.Add(days(2)), 5); c.crash(); c.flush() }},
		{"overwrite", func(c *cleanDB) { c.hourly("d1", old, 2); c.flush() }},
		{"delete", func(c *cleanDB) { c.del("d1", old.Add(3*time.Hour), old.Add(10*time.Hour)); c.flush() }},
		{"delete, crash", func(c *cleanDB) { c.del("d1", old, old.Add(5*time.Hour)); c.crash(); c.flush() }},
		// Keeping the 1h level longer claims hours it dropped: they are
		// rebuilt from raw data, even after a crash.
		{"1h kept longer, crash", func(c *cleanDB) {
			longer := s
			longer.Retention[model.Level1h] = 0
			c.settings(longer)
			c.crash()
			c.flush()
		}},
		{"rollups off and on", func(c *cleanDB) {
			c.settings(CollectionSettings{NoRollups: true, Retention: s.Retention})
			c.settings(s)
			c.flush()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCleanDB(t, now)
			c.settings(s)
			c.hourly("d1", old, 24)
			c.flush()
			tc.step(c)
			for _, q := range queries {
				got, raw := c.rows(q, false), c.rows(q, true)
				if got != raw {
					t.Errorf("%s:\ngot  %s\nraw  %s", q, got, raw)
				}
			}
		})
	}
}

// TestDeleteAfterRawExpiredStaysDeleted deletes data that only rollups
// still hold: the affected buckets' rows of the deleted series go (a
// summary cannot subtract points it no longer has), at every level, and
// the data never comes back. Before the fix the deleted rows counted as
// clean again after the next flush.
func TestDeleteAfterRawExpiredStaysDeleted(t *testing.T) {
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const qAll = "SELECT count(v) FROM c WHERE device_id = 'd1'"
	const qDay = "SELECT count(v) FROM c WHERE device_id = 'd1' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-03T00:00:00Z' GROUP BY 1d"
	const qHour = "SELECT count(v) FROM c WHERE device_id = 'd1' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-03T00:00:00Z' GROUP BY 1h FILL(none)"
	const qOther = "SELECT count(v) FROM c WHERE device_id = 'd2'"
	var keep1h, keep1d CollectionSettings
	keep1h.Retention[model.LevelRaw] = days(7)
	keep1d.Retention[model.LevelRaw] = days(7)
	keep1d.Retention[model.Level1h] = days(3)
	cases := []struct {
		name     string
		s        CollectionSettings
		lo, hi   time.Time
		crash    bool
		all, day string // want
		hours    int    // hourly rows left (1h kept only)
	}{
		{"whole series, 1h kept", keep1h, day0.Add(-days(1)), day0.Add(days(3)), false, "[]", "[]", 0},
		{"whole series, 1h kept, crash", keep1h, day0.Add(-days(1)), day0.Add(days(3)), true, "[]", "[]", 0},
		{"whole hours", keep1h, day0.Add(3 * time.Hour), day0.Add(6*time.Hour - 1), false, "[[0 45]]",
			fmt.Sprintf("[[%d 21] [%d 24]]", day0.UnixNano(), day0.Add(days(1)).UnixNano()), 45},
		// Part of an hour: that hour's row goes whole.
		{"part of an hour", keep1h, day0.Add(3*time.Hour + 10*time.Minute), day0.Add(3*time.Hour + 20*time.Minute), false, "[[0 47]]",
			fmt.Sprintf("[[%d 23] [%d 24]]", day0.UnixNano(), day0.Add(days(1)).UnixNano()), 47},
		{"whole day, 1d only", keep1d, day0, day0.Add(days(1) - 1), false, "[[0 24]]",
			fmt.Sprintf("[[%d 0] [%d 24]]", day0.UnixNano(), day0.Add(days(1)).UnixNano()), -1},
		// Part of a day that only the 1d level holds: that day goes whole.
		{"part of a day, 1d only", keep1d, day0.Add(3 * time.Hour), day0.Add(4 * time.Hour), false, "[[0 24]]",
			fmt.Sprintf("[[%d 0] [%d 24]]", day0.UnixNano(), day0.Add(days(1)).UnixNano()), -1},
		{"part of a day, 1d only, crash", keep1d, day0.Add(3 * time.Hour), day0.Add(4 * time.Hour), true, "[[0 24]]",
			fmt.Sprintf("[[%d 0] [%d 24]]", day0.UnixNano(), day0.Add(days(1)).UnixNano()), -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCleanDB(t, day0.Add(days(1)))
			c.settings(tc.s)
			c.hourly("d1", day0, 48)
			c.hourly("d2", day0, 48)
			c.flush()
			c.clk.t = day0.Add(days(20))
			c.must(c.db.EnforceRetention(context.Background()))
			if got := c.rows(qAll, true); got != "[]" {
				t.Fatalf("raw data left after retention: %s", got)
			}
			c.del("d1", tc.lo, tc.hi)
			if tc.crash {
				c.crash()
			}
			for round := range 3 {
				if got := c.rows(qAll, false); got != tc.all {
					t.Errorf("round %d: %s: got %s, want %s", round, qAll, got, tc.all)
				}
				if got := c.rows(qDay, false); got != tc.day {
					t.Errorf("round %d: %s: got %s, want %s", round, qDay, got, tc.day)
				}
				if tc.hours >= 0 {
					res := runQuery(t, c.db, c.clk.t, qHour, false)
					if len(res.Rows) != tc.hours {
						t.Errorf("round %d: %s: %d rows, want %d", round, qHour, len(res.Rows), tc.hours)
					}
				}
				if got := c.rows(qOther, false); got != "[[0 48]]" {
					t.Errorf("round %d: other series: got %s, want [[0 48]]", round, got)
				}
				// Another write and flush must not bring the rows back.
				c.hourly("d3", day0.Add(days(19)), 1)
				c.flush()
				if round == 1 {
					c.crash()
				}
			}
		})
	}
}

// TestRollupsOffCrashLeavesNoStaleRows crashes after rollups were turned
// off but before their files were removed. Rollup rows left behind must
// not count as clean when rollups are turned on again after the data
// changed: here the series was deleted and its raw data then expired.
// Before the fix the old rows came back (count 48).
func TestRollupsOffCrashLeavesNoStaleRows(t *testing.T) {
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fs := errorfs.New(vfs.Default)
	c := &cleanDB{t: t, dir: t.TempDir(), clk: &clock{t: day0.Add(days(2))}}
	c.opts = &Options{FlushInterval: -1, NumGroups: 2, Logger: quiet, Sync: wal.SyncNever, Now: c.clk.now, FS: fs}
	c.open()
	t.Cleanup(func() { c.db.Close() })
	var s CollectionSettings
	s.Retention[model.LevelRaw] = days(7)
	c.settings(s)
	c.hourly("d1", day0, 48)
	c.hourly("d2", day0, 48)
	c.flush()
	fs.Inject(errorfs.Rule{Op: errorfs.OpRemove, Path: "*.col", Err: syscall.EIO})
	off := s
	off.NoRollups = true
	if err := c.db.SetSettings(context.Background(), "c", off); err == nil {
		t.Fatal("SetSettings with failing removes: no error")
	}
	c.crash()
	fs.Clear()
	c.del("d1", day0, day0.Add(days(2)))
	c.clk.t = day0.Add(days(20))
	c.must(c.db.EnforceRetention(context.Background()))
	c.settings(s)
	c.flush()
	for _, q := range []string{"SELECT count(v) FROM c WHERE device_id = 'd1'", "SELECT count(v) FROM c"} {
		if got := c.rows(q, false); got != "[]" {
			t.Errorf("%s: got %s, want [] (deleted, then expired while rollups were off)", q, got)
		}
	}
}

// TestDeleteSpanSiblings covers what a delete over time only rollups hold
// must leave alone: the rows of series it did not delete (also before the
// next flush), and, when the WAL replays a delete that a flush carried
// over, the points written after the delete. Before the fix the other
// series of the group lost the deleted day until the flush ("other" got
// 24 of 48), and the replayed delete dropped the newer points ("newer" got
// []).
func TestDeleteSpanSiblings(t *testing.T) {
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var s CollectionSettings
	s.Retention[model.LevelRaw] = days(7)
	const (
		q1 = "SELECT count(v) FROM c WHERE device_id = 'd1'"
		q2 = "SELECT count(v) FROM c WHERE device_id = 'd2'"
	)
	t.Run("other", func(t *testing.T) {
		c := newCleanDB(t, day0.Add(days(1)))
		c.settings(s)
		c.hourly("d1", day0, 48)
		c.hourly("d2", day0, 48)
		c.flush()
		c.clk.t = day0.Add(days(20))
		c.must(c.db.EnforceRetention(context.Background()))
		c.del("d1", day0, day0.Add(days(1)-1))
		for _, step := range []string{"before the flush", "after a crash", "after the flush"} {
			if got := c.rows(q2, false); got != "[[0 48]]" {
				t.Errorf("%s: %s: got %s, want [[0 48]]", step, q2, got)
			}
			if got := c.rows(q1, false); got != "[[0 24]]" {
				t.Errorf("%s: %s: got %s, want [[0 24]]", step, q1, got)
			}
			switch step {
			case "before the flush":
				c.crash()
			case "after a crash":
				c.flush()
			}
		}
	})
	t.Run("newer", func(t *testing.T) {
		c := newCleanDB(t, day0.Add(days(1)))
		c.settings(s)
		c.hourly("d1", day0, 24)
		c.flush()
		c.del("d1", day0, day0.Add(days(1)-1))
		c.hourly("d1", day0, 5) // after the delete: kept
		c.flush()
		// Raw data expires; until retention runs, the delete still
		// covers raw files, so every flush carries it over in the WAL.
		c.clk.t = day0.Add(days(20))
		c.flush()
		c.crash()
		c.flush()
		c.must(c.db.EnforceRetention(context.Background()))
		for _, step := range []string{"replayed", "restarted"} {
			if got := c.rows(q1, false); got != "[[0 5]]" {
				t.Errorf("%s: %s: got %s, want [[0 5]]", step, q1, got)
			}
			c.crash()
			c.flush()
		}
	})
}

// TestRetentionLongerClaimsOnlyWhatItHolds makes a level's retention
// longer after its older data expired: the level must not claim the time
// it has no data for (read as "no data", or rebuilt into the coarser
// levels as empty), and raw data must not take writes into hours whose
// rollup rows it no longer backs (the rebuild from raw would replace the
// rows with the new points alone). Before the fix the late write was
// accepted ("raw longer"), and without the claims the rebuild that a
// longer 1h retention starts emptied the 1d rows ("1h longer": [] instead
// of 48 points).
func TestRetentionLongerClaimsOnlyWhatItHolds(t *testing.T) {
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const (
		qAll  = "SELECT count(v), sum(v) FROM c"
		qDays = "SELECT count(v) FROM c WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-03T00:00:00Z' GROUP BY 1d"
	)
	wantDays := fmt.Sprintf("[[%d 24] [%d 24]]", day0.UnixNano(), day0.Add(days(1)).UnixNano())
	var s CollectionSettings
	s.Retention[model.LevelRaw] = days(7)
	s.Retention[model.Level1h] = days(3)
	cases := []struct {
		name   string
		longer func(CollectionSettings) CollectionSettings
	}{
		{"1h longer", func(s CollectionSettings) CollectionSettings { s.Retention[model.Level1h] = 0; return s }},
		{"1h to 400d", func(s CollectionSettings) CollectionSettings {
			s.Retention[model.Level1h] = days(400)
			return s
		}},
		{"raw longer", func(s CollectionSettings) CollectionSettings { s.Retention[model.LevelRaw] = days(60); return s }},
		{"raw forever", func(s CollectionSettings) CollectionSettings { s.Retention[model.LevelRaw] = 0; return s }},
		{"everything forever", func(CollectionSettings) CollectionSettings { return CollectionSettings{} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCleanDB(t, day0.Add(days(2)))
			c.settings(s)
			c.hourly("d1", day0, 48)
			c.flush()
			c.clk.t = day0.Add(days(20))
			c.must(c.db.EnforceRetention(context.Background()))
			c.settings(tc.longer(s))
			c.crash()
			c.flush()
			check := func(phase string, all string) {
				t.Helper()
				if got := c.rows(qAll, false); got != all {
					t.Errorf("%s: %s: got %s, want %s", phase, qAll, got, all)
				}
				if got := c.rows(qDays, false); got != wantDays {
					t.Errorf("%s: %s: got %s, want %s", phase, qDays, got, wantDays)
				}
			}
			check("after the change", "[[0 48 1176]]")
			// A late write into the expired stretch is refused, also
			// after a restart.
			for round := range 2 {
				err := c.db.Write(context.Background(), []model.Point{pt("c", "d1", day0.Add(90*time.Minute).UnixNano(), iv("v", 100))})
				var re *RetentionError
				if !errors.As(err, &re) {
					t.Fatalf("round %d: late write into expired raw time: %v, want a RetentionError", round, err)
				}
				c.crash()
			}
			// A delete there still works on what the rollups hold.
			c.del("d1", day0.Add(days(1)), day0.Add(days(2)-1))
			c.flush()
			if got, want := c.rows(qAll, false), "[[0 24 300]]"; got != want {
				t.Errorf("after a delete: %s: got %s, want %s", qAll, got, want)
			}
		})
	}
}

// TestWriteOvertakenByHorizonIsRolledUp writes a point inside the raw
// retention and lets the horizon pass it before any flush (the clock moves
// on, or the retention is made shorter): the rollups must still get it
// before retention drops its raw copy, whatever runs first and across a
// crash. Before the fix the rollup pass treated the hour as expired and
// the point was lost (count [] instead of 1).
func TestWriteOvertakenByHorizonIsRolledUp(t *testing.T) {
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var s CollectionSettings
	s.Retention[model.LevelRaw] = days(7)
	enforce := func(c *cleanDB) { c.must(c.db.EnforceRetention(context.Background())) }
	cases := []struct {
		name  string
		after func(c *cleanDB) // after the horizon passed the point
	}{
		{"flush, then retention", func(c *cleanDB) { c.flush(); enforce(c) }},
		{"retention first", func(c *cleanDB) { enforce(c); c.flush() }},
		{"crash, retention", func(c *cleanDB) { c.crash(); enforce(c); c.flush() }},
		{"crash, flush, retention", func(c *cleanDB) { c.crash(); c.flush(); enforce(c) }},
		{"shorter retention", func(c *cleanDB) {
			c.clk.t = day0.Add(days(6))
			shorter := s
			shorter.Retention[model.LevelRaw] = days(2)
			c.settings(shorter)
			c.flush()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCleanDB(t, day0.Add(days(2)))
			c.settings(s)
			c.hourly("d0", day0.Add(days(1)), 24) // some flushed data
			c.flush()
			c.hourly("d1", day0.Add(time.Hour), 1)
			c.clk.t = day0.Add(days(20))
			tc.after(c)
			enforce(c)
			if got := c.rows("SELECT count(v) FROM c WHERE device_id = 'd1'", false); got != "[[0 1]]" {
				t.Errorf("got %s, want [[0 1]]", got)
			}
		})
	}
}

// TestRollupsOffOnAfterLongerRetention turns rollups off and on again after
// raw retention was made longer over expired data: with rollups off nothing
// refuses writes into the longer stretch, and once they are on again the
// rebuild must take those points from raw data (no rollup row is left to
// protect there). Found by TestRollupCleanInvariantRandom (seed 311);
// before the fix GROUP BY 1d over that day was [] while levels=raw had 1
// point.
func TestRollupsOffOnAfterLongerRetention(t *testing.T) {
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var s CollectionSettings
	s.Retention[model.LevelRaw] = days(7)
	c := newCleanDB(t, day0.Add(days(2)))
	c.settings(s)
	c.hourly("d1", day0, 48)
	c.flush()
	c.clk.t = day0.Add(days(20))
	c.must(c.db.EnforceRetention(context.Background()))
	longer := s
	longer.Retention[model.LevelRaw] = days(60)
	c.settings(longer)
	off := longer
	off.NoRollups = true
	c.settings(off)
	c.hourly("d2", day0.Add(days(10)), 1)
	c.settings(longer)
	c.flush()
	for _, q := range []string{
		"SELECT count(v) FROM c WHERE device_id = 'd2'",
		"SELECT count(v) FROM c WHERE time >= '2026-01-11T00:00:00Z' AND time < '2026-01-12T00:00:00Z' GROUP BY 1d",
	} {
		if got, raw := c.rows(q, false), c.rows(q, true); got != raw || got == "[]" {
			t.Errorf("%s: got %s, raw %s", q, got, raw)
		}
	}
}
