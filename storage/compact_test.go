package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// colFiles lists the raw colstore files below dir (not rollup files).
func colFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && filepath.Ext(p) == ".col" && !strings.HasPrefix(filepath.Base(filepath.Dir(p)), "rollup_") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// snapshot reads every series of collection c, field n.
func snapshot(t *testing.T, db *DB) map[string]map[int64]model.Value {
	t.Helper()
	out := map[string]map[int64]model.Value{}
	for _, tags := range db.Series("c", nil) {
		out[tags.Get("device_id")] = readAll(t, db, "c", tags, "n")["n"]
	}
	return out
}

// TestCompactRandomised writes overlapping and overwriting batches across
// several flushes and deletes, then compacts: the answer is unchanged, one
// file per unit remains, tombstones are spent, and all of it survives a
// restart.
func TestCompactRandomised(t *testing.T) {
	for seed := range uint64(5) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			dir := t.TempDir()
			db, err := Open(dir, &Options{Logger: quiet, FlushInterval: -1, NumGroups: 2, PartitionDuration: 100})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			want := map[string]map[int64]model.Value{}
			for round := range 6 {
				var pts []model.Point
				for range 40 {
					dev := fmt.Sprint("d", r.IntN(4))
					ts := r.Int64N(400) - 50
					v := model.Int(r.Int64N(1000))
					pts = append(pts, pt("c", dev, ts, model.Field{Key: "n", Value: v}))
				}
				if err := db.Write(ctx, pts); err != nil {
					t.Fatal(err)
				}
				for _, p := range pts {
					dev := p.Tags.Get("device_id")
					if want[dev] == nil {
						want[dev] = map[int64]model.Value{}
					}
					want[dev][p.Time] = p.Fields[0].Value
				}
				if round%2 == 1 {
					dev := fmt.Sprint("d", r.IntN(4))
					lo := r.Int64N(400) - 50
					hi := lo + r.Int64N(60)
					if err := db.Delete(ctx, "c", []model.Tags{{{Key: "device_id", Value: dev}}}, lo, hi); err != nil {
						t.Fatal(err)
					}
					for ts := range want[dev] {
						if ts >= lo && ts <= hi {
							delete(want[dev], ts)
						}
					}
				}
				if err := db.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for dev, m := range want {
				if len(m) == 0 {
					delete(want, dev)
				}
			}
			check := func(stage string) {
				t.Helper()
				got := snapshot(t, db)
				for dev, m := range got {
					if len(m) == 0 {
						delete(got, dev)
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: data differs\n got %v\nwant %v", stage, got, want)
				}
			}
			check("before compaction")
			before := len(colFiles(t, dir))
			if err := db.Compact(ctx); err != nil {
				t.Fatalf("Compact: %v", err)
			}
			check("after compaction")
			db.mu.RLock()
			units := db.units()
			tombs := len(db.tombs)
			db.mu.RUnlock()
			for k, files := range units {
				if len(files) != 1 {
					t.Errorf("unit %+v has %d files after compaction, want 1", k, len(files))
				}
			}
			if tombs != 0 {
				t.Errorf("%d tombstones left after compaction, want 0", tombs)
			}
			after := len(colFiles(t, dir))
			if after >= before || after != len(units) {
				t.Errorf("files on disk: %d before, %d after, %d units", before, after, len(units))
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err = Open(dir, &Options{Logger: quiet, FlushInterval: -1, NumGroups: 2, PartitionDuration: 100})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			check("after restart")
		})
	}
}

// TestCompactCrashLeavesOneSet simulates a crash between writing the
// compacted file and removing its inputs: the inputs are put back on disk.
// Open must ignore and remove them, so no value is doubled and none lost.
func TestCompactCrashLeavesOneSet(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, dir)
	ctx := context.Background()
	for round := range 3 {
		if err := db.Write(ctx, []model.Point{pt("c", "d1", 1, iv("n", int64(round))), pt("c", "d1", int64(10+round), iv("n", 1))}); err != nil {
			t.Fatal(err)
		}
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := snapshot(t, db)
	inputs := map[string][]byte{}
	for _, p := range colFiles(t, dir) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs[p] = b
	}
	if len(inputs) != 3 {
		t.Fatalf("%d files before compaction, want 3", len(inputs))
	}
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for p, b := range inputs {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db = openTest(t, dir)
	defer db.Close()
	if got := snapshot(t, db); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the simulated crash: got %v, want %v", got, want)
	}
	if files := colFiles(t, dir); len(files) != 1 {
		t.Errorf("files after reopening: %v, want only the compacted one", files)
	}
}

// TestCompactUnderLoad runs queries and writes while compacting (run with
// -race): readers keep their files until they are done with them.
func TestCompactUnderLoad(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, dir)
	defer db.Close()
	ctx := context.Background()
	for round := range 4 {
		var pts []model.Point
		for i := range 200 {
			pts = append(pts, pt("c", fmt.Sprint("d", i%3), int64(i*4+round), iv("n", int64(i))))
		}
		if err := db.Write(ctx, pts); err != nil {
			t.Fatal(err)
		}
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := snapshot(t, db)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, tags := range db.Series("c", nil) {
					cols, err := db.Read(ctx, "c", tags, []string{"n"}, 0, 1<<20)
					if err != nil {
						t.Errorf("Read during compaction: %v", err)
						return
					}
					if got := cols[0].Len(); got != len(want[tags.Get("device_id")]) {
						t.Errorf("Read during compaction: %d values, want %d", got, len(want[tags.Get("device_id")]))
						return
					}
				}
			}
		}()
	}
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if got := snapshot(t, db); !reflect.DeepEqual(got, want) {
		t.Fatalf("after compaction: got %v, want %v", got, want)
	}
}

// TestCompactionIncludesFilesFlushedMeanwhile: a flush that lands in a
// unit after compaction chose it must be part of the compaction, or the
// output (with a higher sequence number) would bring back the values the
// flush overwrote. Found by the crash test: compact() listed the units,
// an admin flush added an overwrite to one, and the unit's compaction then
// rewrote only the older files.
func TestCompactionIncludesFilesFlushedMeanwhile(t *testing.T) {
	ctx := context.Background()
	db, err := Open(t.TempDir(), &Options{Logger: quiet, FlushInterval: -1, NumGroups: 1, PartitionDuration: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tags := model.Tags{{Key: "device_id", Value: "d"}}
	write := func(v int64) {
		t.Helper()
		if err := db.Write(ctx, []model.Point{{Collection: "c", Tags: tags, Time: 10,
			Fields: []model.Field{{Key: "n", Value: model.Int(v)}}}}); err != nil {
			t.Fatal(err)
		}
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	write(1)
	write(2)
	db.mu.RLock()
	var keys []unitKey
	for k := range db.units() {
		keys = append(keys, k)
	}
	db.mu.RUnlock()
	if len(keys) != 1 {
		t.Fatalf("%d units, want 1", len(keys))
	}
	write(3) // lands in the unit after it was chosen
	if err := db.compactUnit(ctx, keys[0]); err != nil {
		t.Fatal(err)
	}
	cols, err := db.Read(ctx, "c", tags, []string{"n"}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if cols[0].Len() != 1 || cols[0].Ints[0] != 3 {
		t.Fatalf("after compaction: %v, want the last write, 3", cols[0].Ints)
	}
	if n := len(colFiles(t, db.dir)); n != 1 {
		t.Errorf("%d files after compaction, want 1", n)
	}
}
