package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
)

// testClock is a clock for Options.Now that tests move.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// TestRollupOpenDayOwesSketch: while a day is being written (the clock
// inside it), the passes write its 1d and 1M rows without a sketch and
// collections.json records the day as owed one; once the day has closed,
// the next pass (with no new data, and after a restart) gives those rows
// the sketch of the day's raw values and clears the debt. Without the
// restart, rollupsPending asks the flusher for that pass.
func TestRollupOpenDayOwesSketch(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := "same process"
		if restart {
			name = "after a restart"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
			clock := &testClock{t: day.Add(12 * time.Hour)}
			db := openFS(t, dir, vfs.Default, Options{Now: clock.now})
			const dev = "d1"
			tags := model.Tags{{Key: "device_id", Value: dev}}
			d0 := day.UnixNano()
			counts := map[model.Level]int{model.Level1d: 720, model.Level1M: 721}
			rng := rand.New(rand.NewPCG(1, 2))
			// A point five days before (a closed day, sketched at once),
			// so that the month's 1M row is not the day's (elided), then
			// three flushes of four hours each, a value a minute.
			for f := range 3 {
				var pts []model.Point
				if f == 0 {
					pts = append(pts, pt("c", dev, d0-5*int64(24*time.Hour), iv("n", 7), fv("f", 0.5)))
				}
				for m := f * 240; m < (f+1)*240; m++ {
					pts = append(pts, pt("c", dev, d0+int64(m)*int64(time.Minute), iv("n", rng.Int64N(1000)-500), fv("f", rng.NormFloat64())))
				}
				if err := db.Write(ctx, pts); err != nil {
					t.Fatal(err)
				}
				if err := db.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			rowSketch := func(db *DB, field string, l model.Level) *model.Summary {
				t.Helper()
				lo, hi := l.Floor(d0), l.End(l.Floor(d0))
				parts, err := db.ReadParts(ctx, "c", tags, field, lo, hi, func(int64, int64) bool { return true }, l)
				if err != nil {
					t.Fatal(err)
				}
				if len(parts) != 1 || parts[0].Summary == nil || parts[0].Level != l {
					t.Fatalf("%s %s: %d parts, want one rollup row", field, l, len(parts))
				}
				return parts[0].Summary
			}
			owedInFile := func() map[string][]int64 {
				t.Helper()
				b, err := os.ReadFile(db.settingsPath())
				if err != nil {
					t.Fatal(err)
				}
				var f settingsFile
				if err := json.Unmarshal(b, &f); err != nil {
					t.Fatal(err)
				}
				return f["c"].Owed
			}
			g := db.GroupOf("c", tags)
			for _, f := range []string{"n", "f"} {
				for _, l := range []model.Level{model.Level1d, model.Level1M} {
					if s := rowSketch(db, f, l); s.Sketch != nil || s.Count != counts[l] {
						t.Errorf("open day: %s %s row: count %d, sketch %v; want %d values and no sketch yet", f, l, s.Count, s.Sketch != nil, counts[l])
					}
				}
			}
			if got := owedInFile(); len(got) != 1 || len(got[itoa(g)]) != 1 || got[itoa(g)][0] != d0 {
				t.Fatalf("collections.json owes %v, want group %d owing day %d", got, g, d0)
			}
			db.mu.RLock()
			pending := db.rollupsPending()
			db.mu.RUnlock()
			if pending {
				t.Error("rollupsPending while the day is still open")
			}

			closed := day.Add(24*time.Hour + openDayGrace + time.Minute)
			if restart {
				// Closed while the day is open (Close flushes): the
				// debt is read back from collections.json.
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				clock.set(closed)
				db = openFS(t, dir, vfs.Default, Options{Now: clock.now})
			} else {
				clock.set(closed)
			}
			db.mu.RLock()
			pending = db.rollupsPending()
			db.mu.RUnlock()
			if !pending {
				t.Error("no rollup work pending for a closed day owed its sketch")
			}
			if err := db.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"n", "f"} {
				for _, l := range []model.Level{model.Level1d, model.Level1M} {
					cols, err := db.Read(ctx, "c", tags, []string{f}, l.Floor(d0), l.End(l.Floor(d0)))
					if err != nil {
						t.Fatal(err)
					}
					want := model.SketchOf(&cols[0])
					if s := rowSketch(db, f, l); s.Sketch == nil || !s.Sketch.Equal(want) || s.Count != counts[l] {
						t.Errorf("closed day: %s %s row: count %d, sketch %v; want the sketch of its %d raw values", f, l, s.Count, s.Sketch, counts[l])
					}
				}
			}
			if got := owedInFile(); len(got) != 0 {
				t.Errorf("collections.json still owes %v after the pass", got)
			}
			db.mu.RLock()
			pending = db.rollupsPending()
			db.mu.RUnlock()
			if pending {
				t.Error("rollupsPending after the owed sketch was written")
			}
			db.Close()
		})
	}
}

// TestRollupOffForgetsOwed: turning a collection's rollups off drops the
// sketches it owes, so that no pass is asked for them.
func TestRollupOffForgetsOwed(t *testing.T) {
	ctx := context.Background()
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	clock := &testClock{t: day.Add(12 * time.Hour)}
	db := openFS(t, t.TempDir(), vfs.Default, Options{Now: clock.now})
	defer db.Close()
	if err := db.Write(ctx, []model.Point{pt("c", "d1", day.Add(time.Hour).UnixNano(), iv("n", 1))}); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	db.mu.RLock()
	owed := db.rollState["c"] != nil && len(db.rollState["c"].owed) == 1
	db.mu.RUnlock()
	if !owed {
		t.Fatal("the open day is not owed its sketch")
	}
	if err := db.SetSettings(ctx, "c", CollectionSettings{NoRollups: true}); err != nil {
		t.Fatal(err)
	}
	clock.set(day.Add(48 * time.Hour))
	db.mu.RLock()
	defer db.mu.RUnlock()
	if st := db.rollState["c"]; st != nil && len(st.owed) > 0 {
		t.Errorf("rollups off, the collection still owes %v", st.owed)
	}
	if db.rollupsPending() {
		t.Error("rollupsPending with rollups off")
	}
}

// TestOwedRead: collections.json's sketches_owed is read back by group,
// each day from its start, and a group that is not a number refuses the
// directory with a message naming the file.
func TestOwedRead(t *testing.T) {
	d0 := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, c := range []struct {
		owed string
		want []int64 // group 3's days; nil when Open must fail
	}{
		{fmt.Sprintf(`{"3": [%d, %d, %d]}`, d0+int64(5*time.Hour), d0, d0-int64(24*time.Hour)), []int64{d0 - int64(24*time.Hour), d0}},
		{`{"three": [0]}`, nil},
		{`{"-1": [0]}`, nil},
	} {
		dir := t.TempDir()
		js := fmt.Sprintf(`{"c": {"rollups": true, "sketches_owed": %s}}`, c.owed)
		if err := os.WriteFile(filepath.Join(dir, "collections.json"), []byte(js), 0o644); err != nil {
			t.Fatal(err)
		}
		db, err := Open(dir, &Options{Logger: quiet, FlushInterval: -1, NumGroups: 4})
		if c.want == nil {
			if err == nil || !strings.Contains(err.Error(), "collections.json") || !strings.Contains(err.Error(), "unknown group") {
				t.Errorf("owed %s: Open = %v, want an error naming collections.json and the group", c.owed, err)
			}
			if db != nil {
				db.Close()
			}
			continue
		}
		if err != nil {
			t.Fatalf("owed %s: %v", c.owed, err)
		}
		db.mu.RLock()
		var got []int64
		if st := db.rollState["c"]; st != nil {
			got = st.owed[3]
		}
		db.mu.RUnlock()
		if !slices.Equal(got, c.want) {
			t.Errorf("owed %s: read %v, want %v", c.owed, got, c.want)
		}
		db.Close()
	}
}

// TestDayOpen pins down which days wait for their sketch.
func TestDayOpen(t *testing.T) {
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	d0 := day.UnixNano()
	for _, c := range []struct {
		now  time.Time
		open bool
	}{
		{day.Add(-openDayAhead - time.Second), false}, // too far ahead: sketched as it comes
		{day.Add(-openDayAhead + time.Second), true},
		{day, true},
		{day.Add(23 * time.Hour), true},
		{day.Add(24*time.Hour + openDayGrace - time.Second), true},
		{day.Add(24*time.Hour + openDayGrace), false},
		{day.AddDate(1, 0, 0), false},
	} {
		if got := dayOpen(d0, c.now); got != c.open {
			t.Errorf("dayOpen(%s) at %s = %v, want %v", day.Format(time.DateOnly), c.now.Format(time.RFC3339), got, c.open)
		}
	}
	// The extremes of the range do not overflow.
	if dayOpen(model.Level1d.Floor(1<<63-1), day) {
		t.Error("the last day of the range is open in 2026")
	}
	if dayOpen(model.Level1d.Floor(-1<<63), day) {
		t.Error("the first day of the range is open in 2026")
	}
}
