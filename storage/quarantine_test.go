package storage

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
)

const qDay = int64(24 * time.Hour)

// quarantineWorld writes collection c (devices d1, d2; one point a minute
// over days 0 and 1 of 2026-03) and collection other, flushed into files
// with rollups built, and closes the DB.
func quarantineWorld(t *testing.T) (dir string, day0 int64) {
	t.Helper()
	dir = t.TempDir()
	day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	db := openFS(t, dir, vfs.Default, Options{NumGroups: 1})
	var pts []model.Point
	for _, dev := range []string{"d1", "d2"} {
		for m := int64(0); m < 2*24*60; m++ {
			pts = append(pts, pt("c", dev, day0+m*int64(time.Minute), iv("n", m)))
		}
	}
	pts = append(pts, pt("other", "d1", day0, iv("n", 1)))
	if err := db.Write(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, day0
}

// dataFileOf returns the one colstore file of collection c whose path
// contains part (a partition name) and whose directory is level ("" for
// raw data).
func dataFileOf(t *testing.T, dir, level, part string) string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(dir, collectionsDir, collDirName("c")), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(filepath.Base(p), part) {
			l := ""
			if b := filepath.Base(filepath.Dir(p)); strings.HasPrefix(b, "rollup_") {
				l = b
			}
			if l == level {
				out = append(out, p)
			}
		}
		return nil
	})
	if len(out) != 1 {
		t.Fatalf("files of level %q and partition %q: %v, want one", level, part, out)
	}
	return out[0]
}

func queryErr(db *DB, q string, rawOnly bool) (*planner.Result, error) {
	stmt, err := query.Parse(q)
	if err != nil {
		return nil, err
	}
	return planner.ExecuteWith(context.Background(), db, stmt, planner.Options{Now: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), RawOnly: rawOnly})
}

// TestDamagedRawFileIsQuarantined damages the raw file of one partition in
// several ways: the node starts, moves the file to quarantine/, reports
// it, answers everything that does not need it, and fails every query that
// does with an error naming it, across restarts; deleting it from the
// quarantine ends that.
func TestDamagedRawFileIsQuarantined(t *testing.T) {
	damages := []struct {
		name   string
		damage func(t *testing.T, path string) // on disk, before Open
		fs     func(path string) vfs.FS        // or through the fault seam
	}{
		{name: "truncated to half", damage: func(t *testing.T, p string) { truncateTo(t, p, -2) }},
		{name: "truncated to 10 bytes", damage: func(t *testing.T, p string) { truncateTo(t, p, 10) }},
		{name: "last byte cut", damage: func(t *testing.T, p string) { truncateTo(t, p, -1) }},
		{name: "empty", damage: func(t *testing.T, p string) { truncateTo(t, p, 0) }},
		{name: "garbage", damage: func(t *testing.T, p string) {
			st, _ := os.Stat(p)
			if err := os.WriteFile(p, []byte(strings.Repeat("garbage!", int(st.Size()/8)+1)), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		// Not damaged bytes but the wrong kind of entry where the file
		// was: the data is just as missing, and must not read as "no
		// data" (it was silently skipped before).
		{name: "replaced by a directory", damage: func(t *testing.T, p string) { replaceWith(t, p, "dir") }},
		{name: "replaced by a named pipe", damage: func(t *testing.T, p string) { replaceWith(t, p, "fifo") }},
		{name: "replaced by a dangling symlink", damage: func(t *testing.T, p string) { replaceWith(t, p, "dangling") }},
		{name: "EIO reading it", fs: func(p string) vfs.FS {
			fs := errorfs.New(vfs.Default)
			fs.Inject(errorfs.Rule{Op: errorfs.OpRead, Path: filepath.Base(p), Err: syscall.EIO})
			return fs
		}},
		{name: "footer bit flipped on read", fs: func(p string) vfs.FS {
			st, _ := os.Stat(p)
			fs := errorfs.New(vfs.Default)
			fs.Inject(errorfs.Rule{Op: errorfs.OpRead, Path: filepath.Base(p), FlipBitAt: (st.Size() - 3) * 8})
			return fs
		}},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			dir, day0 := quarantineWorld(t)
			victim := dataFileOf(t, dir, "", "20260301T")
			rel, _ := filepath.Rel(dir, victim)
			fs := vfs.FS(vfs.Default)
			if d.damage != nil {
				d.damage(t, victim)
			} else {
				fs = d.fs(victim)
			}
			db, err := Open(dir, &Options{Logger: quiet, FlushInterval: -1, NumGroups: 1, FS: fs})
			if err != nil {
				t.Fatalf("Open with a damaged file: %v", err)
			}
			moved := filepath.Join(dir, quarantineDir, rel)
			if _, err := os.Lstat(moved); err != nil {
				t.Fatalf("damaged file not in quarantine: %v", err)
			}
			if _, err := os.Lstat(victim); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("damaged file still in place: %v", err)
			}
			checkQuarantined(t, db, day0, filepath.ToSlash(filepath.Join(quarantineDir, rel)), false)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			// Still quarantined after a restart, with healthy reads of the file now.
			db = openFS(t, dir, vfs.Default, Options{NumGroups: 1})
			checkQuarantined(t, db, day0, filepath.ToSlash(filepath.Join(quarantineDir, rel)), true)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			// The operator accepts the loss: day 0 answers from what is left,
			// the rollups agreeing with raw data.
			if err := os.Remove(moved); err != nil {
				t.Fatal(err)
			}
			db = openFS(t, dir, vfs.Default, Options{NumGroups: 1})
			defer db.Close()
			if q := db.Quarantined(); len(q) != 0 {
				t.Fatalf("Quarantined after removal: %+v", q)
			}
			for _, rawOnly := range []bool{true, false} {
				res, err := queryErr(db, "SELECT count(n) FROM c WHERE time >= '2026-03-01' AND time < '2026-03-03' GROUP BY 1d", rawOnly)
				if err != nil {
					t.Fatalf("query after removal: %v", err)
				}
				if got := rowsString(res); got != "[[2026-03-01T00:00:00Z 0] [2026-03-02T00:00:00Z 2880]]" {
					t.Errorf("rawOnly=%v: day counts after accepting the loss %v, want 0 and 2880", rawOnly, got)
				}
			}
		})
	}
}

// truncateTo cuts a file to n bytes; a negative n cuts it to its size
// divided by -n when n < -1, and removes the last byte when n == -1.
func truncateTo(t *testing.T, p string, n int64) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case n == -1:
		n = st.Size() - 1
	case n < -1:
		n = st.Size() / -n
	}
	if err := os.Truncate(p, n); err != nil {
		t.Fatal(err)
	}
}

// checkQuarantined checks what a DB with the day-0 raw file of c
// quarantined reports and answers.
func checkQuarantined(t *testing.T, db *DB, day0 int64, path string, again bool) {
	t.Helper()
	q := db.Quarantined()
	if len(q) != 1 || q[0].Path != path || q[0].Collection != "c" || q[0].Rebuilding ||
		q[0].From != day0 || q[0].To != day0+qDay-1 || q[0].Reason == "" {
		t.Fatalf("Quarantined = %+v, want %s of c over day 0", q, path)
	}
	if again && q[0].Reason != "found in quarantine" {
		t.Errorf("reason after a restart %q", q[0].Reason)
	}
	d1 := model.Tags{{Key: "device_id", Value: "d1"}}
	// Day 1 and collection other answer.
	cols, err := db.Read(context.Background(), "c", d1, []string{"n"}, day0+qDay, day0+2*qDay-1)
	if err != nil || cols[0].Len() != 24*60 {
		t.Fatalf("Read of day 1: %v, %v", cols, err)
	}
	if got := readAll(t, db, "other", d1, "n")["n"]; len(got) != 1 {
		t.Fatalf("collection other: %v", got)
	}
	// Everything that needs day 0 fails, naming the file: reads, parts at
	// every level, queries raw and from rollups, also over a device no
	// file left knows.
	var qe *QuarantineError
	if _, err := db.Read(context.Background(), "c", d1, []string{"n"}, day0, day0+qDay); !errors.As(err, &qe) || !strings.Contains(err.Error(), path) {
		t.Errorf("Read over day 0 = %v, want a *QuarantineError naming %s", err, path)
	}
	for _, desc := range []bool{false, true} {
		if _, err := db.ReadLimit(context.Background(), "c", d1, []string{"n"}, day0, day0+qDay, 1, desc); !errors.As(err, &qe) || !strings.Contains(err.Error(), path) {
			t.Errorf("ReadLimit (desc=%v) over day 0 = %v, want a *QuarantineError naming %s", desc, err, path)
		}
	}
	for l := model.LevelRaw; l <= model.Level1y; l++ {
		if _, err := db.ReadParts(context.Background(), "c", d1, "n", day0-qDay, day0+1, func(lo, hi int64) bool { return true }, l); !errors.As(err, &qe) {
			t.Errorf("ReadParts at level %v over day 0 = %v, want a *QuarantineError", l, err)
		}
	}
	for _, q := range []string{
		"SELECT count(n) FROM c",
		"SELECT n FROM c WHERE time >= '2026-03-01T12:00:00Z' AND time < '2026-03-01T13:00:00Z'",
		"SELECT count(n) FROM c WHERE time >= '2026-03-01' AND time < '2026-03-03' GROUP BY 1d",
		"SELECT count(n) FROM c WHERE device_id = 'gone'",
		"SELECT n FROM c ORDER BY time DESC LIMIT 1",
		"SELECT n FROM c WHERE time < '2026-03-02' ORDER BY time DESC LIMIT 1",
	} {
		for _, rawOnly := range []bool{true, false} {
			if _, err := queryErr(db, q, rawOnly); !errors.As(err, &qe) || !strings.Contains(err.Error(), "quarantined file") {
				t.Errorf("%s (rawOnly=%v) = %v, want a *QuarantineError", q, rawOnly, err)
			}
		}
	}
	if _, err := queryErr(db, "SELECT count(n) FROM c WHERE time >= '2026-03-02'", false); err != nil {
		t.Errorf("query over day 1 only: %v", err)
	}
}

// TestDamagedRollupFileIsRebuilt damages rollup files of each level:
// the node starts, answers exactly from raw data meanwhile, and the next
// flush rebuilds them and drops the quarantined copy; a crash before that
// flush leaves the rebuild to the next start.
func TestDamagedRollupFileIsRebuilt(t *testing.T) {
	for _, level := range []string{"rollup_1h", "rollup_1d", "rollup_1M", "rollup_1y"} {
		t.Run(level, func(t *testing.T) {
			dir, _ := quarantineWorld(t)
			part := "20260301T"
			switch level {
			case "rollup_1d":
				part = "20260301T"
			case "rollup_1M":
				part = "20260101T"
			case "rollup_1y":
				part = "all"
			}
			victim := dataFileOf(t, dir, level, part)
			truncateTo(t, victim, -2)
			rel, _ := filepath.Rel(dir, victim)

			want := "[[2026-03-01T00:00:00Z 2880] [2026-03-02T00:00:00Z 2880]]"
			check := func(db *DB, rebuilding bool) {
				t.Helper()
				q := db.Quarantined()
				if rebuilding && (len(q) != 1 || !q[0].Rebuilding || q[0].Path != filepath.ToSlash(filepath.Join(quarantineDir, rel))) {
					t.Fatalf("Quarantined = %+v, want %s rebuilding", q, rel)
				}
				if !rebuilding && len(q) != 0 {
					t.Fatalf("Quarantined after the rebuild = %+v", q)
				}
				for _, g := range []string{"1h", "1d", "1M", "1y"} {
					res, err := queryErr(db, "SELECT count(n) FROM c WHERE time >= '2026-03-01' AND time < '2026-03-03' GROUP BY "+g, false)
					if err != nil {
						t.Fatalf("GROUP BY %s: %v", g, err)
					}
					var sum int64
					for _, r := range res.Rows {
						sum += r[1].Int()
					}
					if sum != 2*2*24*60 {
						t.Errorf("GROUP BY %s (rebuilding=%v) counts %d, want %d", g, rebuilding, sum, 2*2*24*60)
					}
				}
				res, err := queryErr(db, "SELECT count(n) FROM c GROUP BY 1d", false)
				if err != nil || rowsString(res) != want {
					t.Errorf("per day = %v, %v, want %s", rowsString(res), err, want)
				}
			}
			// A crash before the rebuild: the next start marks again.
			db := openFS(t, dir, vfs.Default, Options{NumGroups: 1})
			check(db, true)
			crash(t, db)
			db = openFS(t, dir, vfs.Default, Options{NumGroups: 1})
			check(db, true)
			if err := db.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			check(db, false)
			dataFileOf(t, dir, level, part) // rebuilt
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openFS(t, dir, vfs.Default, Options{NumGroups: 1})
			defer db.Close()
			check(db, false)
			if left := dirFiles(t, filepath.Join(dir, quarantineDir)); len(left) != 0 {
				t.Errorf("quarantine after the rebuild holds %v", left)
			}
		})
	}
}

func rowsString(res *planner.Result) string {
	if res == nil {
		return "<nil>"
	}
	var b strings.Builder
	b.WriteString("[")
	for i, r := range res.Rows {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString("[")
		for j, v := range r {
			if j > 0 {
				b.WriteString(" ")
			}
			if j == res.TimeColumn {
				b.WriteString(time.Unix(0, v.Int()).UTC().Format(time.RFC3339))
			} else {
				b.WriteString(v.String())
			}
		}
		b.WriteString("]")
	}
	b.WriteString("]")
	return b.String()
}

func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// TestUnrebuildableRollupFileFailsItsRange: a quarantined rollup file whose
// partition reaches back before the raw data kept cannot be rebuilt and
// fails the reads over it; the other ranges answer.
func TestUnrebuildableRollupFileFailsItsRange(t *testing.T) {
	dir, day0 := quarantineWorld(t)
	// Raw data before day 1 is gone: the raw retention drops day 0.
	now := time.Unix(0, day0+qDay+qDay/2)
	opts := &Options{Logger: quiet, FlushInterval: -1, NumGroups: 1, Now: func() time.Time { return now }}
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	var s CollectionSettings
	s.Retention[model.LevelRaw] = 12 * time.Hour // raw keeps from day 1
	if err := db.SetSettings(context.Background(), "c", s); err != nil {
		t.Fatal(err)
	}
	if err := db.EnforceRetention(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	truncateTo(t, dataFileOf(t, dir, "rollup_1h", "20260301T"), 10)
	db, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := db.Quarantined()
	if len(q) != 1 || q[0].Rebuilding {
		t.Fatalf("Quarantined = %+v, want one that is not rebuilding", q)
	}
	d1 := model.Tags{{Key: "device_id", Value: "d1"}}
	var qe *QuarantineError
	if _, err := db.ReadParts(context.Background(), "c", d1, "n", day0, day0+qDay-1, func(lo, hi int64) bool { return true }, model.Level1h); !errors.As(err, &qe) {
		t.Fatalf("ReadParts over the lost day = %v, want a *QuarantineError", err)
	}
	if _, err := db.ReadParts(context.Background(), "c", d1, "n", day0+qDay, math.MaxInt64, func(lo, hi int64) bool { return true }, model.Level1h); err != nil {
		t.Fatalf("ReadParts over day 1: %v", err)
	}
	// A flush does not make it go away.
	if err := db.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if q := db.Quarantined(); len(q) != 1 {
		t.Fatalf("Quarantined after a flush = %+v", q)
	}
}

// TestQuarantineEndsWithRetention: a quarantined raw file whose partition
// retention has expired is deleted with the rest of that data, and queries
// over its range answer again (from the rollups that remain).
func TestQuarantineEndsWithRetention(t *testing.T) {
	dir, day0 := quarantineWorld(t)
	victim := dataFileOf(t, dir, "", "20260301T")
	truncateTo(t, victim, 10)
	now := time.Unix(0, day0+qDay+qDay/2)
	db, err := Open(dir, &Options{Logger: quiet, FlushInterval: -1, NumGroups: 1, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if q := db.Quarantined(); len(q) != 1 {
		t.Fatalf("Quarantined = %+v", q)
	}
	var s CollectionSettings
	s.Retention[model.LevelRaw] = 12 * time.Hour // raw keeps from day 1
	if err := db.SetSettings(context.Background(), "c", s); err != nil {
		t.Fatal(err)
	}
	if q := db.Quarantined(); len(q) != 0 {
		t.Fatalf("Quarantined after retention expired its range = %+v", q)
	}
	if left := dirFiles(t, filepath.Join(dir, quarantineDir)); len(left) != 0 {
		t.Errorf("quarantine holds %v", left)
	}
	if _, err := queryErr(db, "SELECT count(n) FROM c", false); err != nil {
		t.Errorf("query after the quarantine expired: %v", err)
	}
}
