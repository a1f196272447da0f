package storage

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
)

// TestStats checks the monitoring snapshot through a write, two flushes
// and a compaction: memory points, the WAL on disk, files per level, and
// the flush and compaction histograms.
func TestStats(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{Logger: quiet, FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	write := func(round int) {
		var pts []model.Point
		for i := range 50 {
			pts = append(pts, model.Point{
				Collection: "c",
				Tags:       model.Tags{{Key: "device_id", Value: fmt.Sprint("d", i%5)}},
				Time:       base + int64(round*50+i)*int64(time.Minute),
				Fields:     []model.Field{{Key: "n", Value: model.Float(float64(i))}, {Key: "m", Value: model.Float(1)}},
			})
		}
		if err := db.Write(ctx, pts); err != nil {
			t.Fatal(err)
		}
	}

	st := db.Stats()
	if st.MemoryPoints != 0 || st.Series != 0 || st.Files[model.LevelRaw] != 0 || st.Flushes.Count != 0 || !st.LastFlush.IsZero() {
		t.Fatalf("empty DB stats %+v", st)
	}
	write(0)
	st = db.Stats()
	if st.MemoryPoints != 100 || st.Series != 5 {
		t.Errorf("after writing 100 values of 5 series: memory points %d, series %d", st.MemoryPoints, st.Series)
	}
	if st.WALError != nil || st.WALSegments < 1 || st.WALBytes < 100*8 {
		t.Errorf("after a write: WAL %d segments, %d bytes, %v", st.WALSegments, st.WALBytes, st.WALError)
	}

	before := time.Now()
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	write(1)
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st = db.Stats()
	if st.MemoryPoints != 0 {
		t.Errorf("after flush: memory points %d", st.MemoryPoints)
	}
	if st.Files[model.LevelRaw] < 2 || st.Files[model.Level1h] < 1 {
		t.Errorf("after two flushes: files %v, want raw >= 2 and 1h >= 1", st.Files)
	}
	if st.Flushes.Count != 2 || st.Flushes.Sum <= 0 || st.Flushes.Counts[len(DurationBuckets)-1] > st.Flushes.Count {
		t.Errorf("flush histogram %+v, want 2 flushes", st.Flushes)
	}
	if st.LastFlush.Before(before) {
		t.Errorf("last flush %v, before the flushes started (%v)", st.LastFlush, before)
	}
	if st.WALBytes >= 100*8 {
		t.Errorf("after flush the WAL still holds %d bytes", st.WALBytes)
	}

	rawBefore := st.Files[model.LevelRaw]
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	st = db.Stats()
	if st.Compactions.Count < 1 || len(st.Compactions.Counts) != len(DurationBuckets) {
		t.Errorf("compaction histogram %+v, want at least one", st.Compactions)
	}
	if st.Files[model.LevelRaw] >= rawBefore {
		t.Errorf("compaction left %d raw files of %d", st.Files[model.LevelRaw], rawBefore)
	}
	// The snapshot shares nothing with the DB.
	st.Flushes.Counts[0] = 1 << 60
	if db.Stats().Flushes.Counts[0] == 1<<60 {
		t.Error("Stats shares its histogram with the DB")
	}
}
