package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
)

// TestSwapOutUnderWritesCrash runs flushes whose swap walks more series
// than one hold of mu covers (swapOut) while writers add points to old and
// new series, then checks that the point counters come back to zero and
// that a crash at the end loses no acknowledged point.
func TestSwapOutUnderWritesCrash(t *testing.T) {
	const series = 3*swapChunk + 100
	dir := t.TempDir()
	fs := vfs.NewCrashableMem()
	db := openFS(t, dir, fs, Options{}) // fsync on
	ctx := context.Background()
	dev := func(i int) string { return fmt.Sprintf("d%05d", i) }
	// acked[device] holds the times written to it, value = time.
	var mu sync.Mutex
	acked := make(map[string][]int64)
	write := func(pts []model.Point) error {
		if err := db.Write(ctx, pts); err != nil {
			return err
		}
		mu.Lock()
		for _, p := range pts {
			acked[p.Tags[0].Value] = append(acked[p.Tags[0].Value], p.Time)
		}
		mu.Unlock()
		return nil
	}
	for lo := 0; lo < series; lo += 1000 {
		var pts []model.Point
		for i := lo; i < min(lo+1000, series); i++ {
			pts = append(pts, pt("c", dev(i), 0, iv("n", 0)))
		}
		if err := write(pts); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for b := range 40 {
				pts := make([]model.Point, 200)
				for i := range pts {
					// Times are unique per writer and batch; a few
					// devices are new.
					ts := int64(1 + w*100_000 + b*1000 + i)
					pts[i] = pt("c", dev(rng.IntN(series+series/10)), ts, iv("n", ts))
				}
				if err := write(pts); err != nil {
					t.Errorf("writer %d batch %d: %v", w, b, err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 4 {
			if err := db.Flush(ctx); err != nil {
				t.Errorf("Flush: %v", err)
			}
		}
	})
	wg.Wait()
	if t.Failed() {
		return
	}
	check := func(stage string, db *DB) {
		t.Helper()
		for d, times := range acked {
			got := readAll(t, db, "c", model.Tags{{Key: "device_id", Value: d}}, "n")["n"]
			if len(got) != len(times) {
				t.Fatalf("%s: device %s has %d values, want %d", stage, d, len(got), len(times))
			}
			for _, ts := range times {
				if v, ok := got[ts]; !ok || v.Int() != ts {
					t.Fatalf("%s: device %s at %d = %v, %v; want %d", stage, d, ts, v, ok, ts)
				}
			}
		}
	}
	check("live", db)
	crashed := fs.CrashClone()
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := db.Stats(); st.MemoryPoints != 0 {
		t.Errorf("after the last flush: %d points counted in memory, want 0", st.MemoryPoints)
	}
	crash(t, db)
	db = openFS(t, dir, crashed, Options{})
	defer db.Close()
	check("after a crash", db)
}
