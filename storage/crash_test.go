package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/wal"
)

// memColFiles lists the colstore files below dir in fs.
func memColFiles(t *testing.T, fs vfs.FS, dir string) []string {
	t.Helper()
	var out []string
	var walk func(d string)
	walk = func(d string) {
		entries, err := fs.ReadDir(d)
		if err != nil {
			t.Fatalf("ReadDir(%s): %v", d, err)
		}
		for _, e := range entries {
			p := filepath.Join(d, e.Name())
			if e.IsDir() {
				walk(p)
			} else if strings.HasSuffix(p, ".col") {
				out = append(out, strings.TrimPrefix(p, dir))
			}
		}
	}
	walk(dir)
	slices.Sort(out)
	return out
}

// TestFlushDirectoriesSurviveCrash checks item 7 of issue 11: the
// directories a flush creates (a collection's, group_NNNN, rollup_*) and the
// data directory itself are durable before the WAL is truncated. The DB runs
// on a MemFS; after a flush, CrashClone keeps only what was synced, as a
// power loss would, and every acknowledged point and every file must be
// there.
func TestFlushDirectoriesSurviveCrash(t *testing.T) {
	tests := []struct {
		name string
		// prepare runs on the filesystem before the DB opens dir.
		prepare func(t *testing.T, fs *vfs.MemFS, dir string)
	}{
		{"new data directory", func(*testing.T, *vfs.MemFS, string) {}},
		{"existing data directory, new collection directories", func(t *testing.T, fs *vfs.MemFS, dir string) {
			if err := vfs.MkdirAllSync(fs, dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{"group directories left unsynced by a process that died", func(t *testing.T, fs *vfs.MemFS, dir string) {
			if err := vfs.MkdirAllSync(fs, dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for g := range 4 {
				if err := fs.MkdirAll(filepath.Join(dir, collectionsDir, collDirName("c"), fmt.Sprintf("group_%04d", g), "rollup_1h"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	const devices, perDevice = 8, 50
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir() // the LOCK file is taken on the real filesystem
			fs := vfs.NewCrashableMem()
			tt.prepare(t, fs, dir)
			db := openFS(t, dir, fs, Options{})
			for d := range devices {
				writeN(t, db, fmt.Sprintf("d%d", d), 0, perDevice)
			}
			if err := db.Write(context.Background(), []model.Point{pt("other", "d0", 7, iv("n", 1))}); err != nil {
				t.Fatal(err)
			}
			if err := db.Flush(context.Background()); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			want := memColFiles(t, fs, dir)
			if !slices.ContainsFunc(want, func(p string) bool { return strings.Contains(p, "rollup_") }) {
				t.Fatalf("no rollup file after the flush: %v", want)
			}

			crashed := fs.CrashClone()
			crash(t, db)
			db = openFS(t, dir, crashed, Options{})
			defer db.Close()
			if got := memColFiles(t, crashed, dir); !slices.Equal(got, want) {
				t.Errorf("files after the crash:\ngot  %v\nwant %v", got, want)
			}
			for d := range devices {
				dev := model.Tags{{Key: "device_id", Value: fmt.Sprintf("d%d", d)}}
				if got := len(readAll(t, db, "c", dev, "n")["n"]); got != perDevice {
					t.Errorf("device d%d after the crash: %d points, want %d", d, got, perDevice)
				}
			}
			if got := len(readAll(t, db, "other", model.Tags{{Key: "device_id", Value: "d0"}}, "n")["n"]); got != 1 {
				t.Errorf("collection other after the crash: %d points, want 1", got)
			}
		})
	}
}

// TestTornWriteBatchIsCut checks that a crash in the middle of writing a
// large batch, whose torn record is full of real point data, is a torn tail
// (the node starts with the batches before it), not corruption: the scan
// for intact records after damage must not mistake payload bytes for one.
func TestTornWriteBatchIsCut(t *testing.T) {
	const batches, perBatch = 3, 40_000
	dir := t.TempDir()
	db := openFS(t, dir, nil, Options{Sync: wal.SyncNever})
	r := rand.New(rand.NewPCG(1, 2))
	for b := range batches {
		pts := make([]model.Point, 0, perBatch)
		for i := range perBatch {
			pts = append(pts, pt("c", fmt.Sprintf("dev%03d", i%100), int64(b*perBatch+i)*1e9,
				fv("v", r.NormFloat64()*20+50), iv("n", int64(r.IntN(1000)))))
		}
		if err := db.Write(context.Background(), pts); err != nil {
			t.Fatal(err)
		}
	}
	crash(t, db)
	segs, err := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments: %v, %v", segs, err)
	}
	last := segs[len(segs)-1]
	fi, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	// The batches have the same shape, so the same size: cut the last one
	// in its middle.
	rec := (fi.Size() - 8) / batches
	if err := os.Truncate(last, fi.Size()-rec/2); err != nil {
		t.Fatal(err)
	}
	db = openFS(t, dir, nil, Options{})
	defer db.Close()
	total := 0
	for d := range 100 {
		dev := model.Tags{{Key: "device_id", Value: fmt.Sprintf("dev%03d", d)}}
		total += len(readAll(t, db, "c", dev, "v")["v"])
	}
	if total != (batches-1)*perBatch {
		t.Errorf("after the torn batch: %d points, want %d", total, (batches-1)*perBatch)
	}
}
