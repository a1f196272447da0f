package storage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
)

// TestMemoryFlushDefersRollups: a flush made because memory is full, less
// than rollupEvery after the last rollup pass, writes the data's files and
// leaves the pass to a later flush, keeping the buckets' marks and the WAL
// segments that made them; reads stay exact meanwhile. The first such
// flush after rollupEvery runs the pass and drops the segments, and so
// does Flush at any time.
func TestMemoryFlushDefersRollups(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openFS(t, dir, vfs.Default, Options{})
	defer db.Close()
	tags := model.Tags{{Key: "device_id", Value: "d1"}}
	g := db.GroupOf("c", tags)
	h0 := time.Date(2016, 1, 1, 5, 0, 0, 0, time.UTC).UnixNano()
	hour := int64(time.Hour)
	write := func(h int64) {
		t.Helper()
		var pts []model.Point
		for m := range int64(60) {
			pts = append(pts, pt("c", "d1", h0+h*hour+m*int64(time.Minute), iv("n", m)))
		}
		if err := db.Write(ctx, pts); err != nil {
			t.Fatal(err)
		}
	}
	segments := func() int {
		t.Helper()
		es, err := os.ReadDir(filepath.Join(dir, "wal"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range es {
			if strings.HasSuffix(e.Name(), ".wal") {
				n++
			}
		}
		return n
	}
	state := func() (files, dirty int) {
		db.mu.RLock()
		defer db.mu.RUnlock()
		r := db.groups[g].rollups[db.colls["c"]]
		if r == nil {
			return 0, 0
		}
		return len(r.files[model.Level1h]), len(r.dirty[model.Level1h].keys)
	}
	countHour := func(h int64) int {
		t.Helper()
		parts, err := db.ReadParts(ctx, "c", tags, "n", h0+h*hour, h0+(h+1)*hour-1, func(int64, int64) bool { return true }, model.Level1h)
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
		return n
	}

	write(0)
	if err := db.flush(ctx, true); err != nil {
		t.Fatal(err)
	}
	if files, dirty := state(); files != 0 || dirty != 1 {
		t.Fatalf("after a memory flush: %d 1h files, %d dirty hours; want the pass left for later (0, 1)", files, dirty)
	}
	if n := segments(); n < 2 {
		t.Errorf("after a memory flush: %d WAL segments, want the one that marked the hour kept too", n)
	}
	if n := countHour(0); n != 60 {
		t.Errorf("hour 0 reads %d values before its pass, want 60", n)
	}

	write(1)
	db.flushMu.Lock()
	db.rolledAt = time.Now().Add(-maxRollupDefer)
	db.flushMu.Unlock()
	if err := db.flush(ctx, true); err != nil {
		t.Fatal(err)
	}
	if files, dirty := state(); files != 1 || dirty != 0 {
		t.Fatalf("a memory flush rollupEvery after the last pass: %d 1h files, %d dirty hours; want the pass run (1, 0)", files, dirty)
	}
	if n := segments(); n != 1 {
		t.Errorf("after the pass: %d WAL segments, want 1", n)
	}
	for h := range int64(2) {
		if n := countHour(h); n != 60 {
			t.Errorf("hour %d reads %d values, want 60", h, n)
		}
	}

	write(2)
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, dirty := state(); dirty != 0 {
		t.Errorf("Flush left %d dirty hours, want its pass run", dirty)
	}
	if n := countHour(2); n != 60 {
		t.Errorf("hour 2 reads %d values, want 60", n)
	}
}
