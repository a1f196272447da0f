package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/colfile"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
	"github.com/soltixdb/soltix/storage/wal"
)

func openFS(t testing.TB, dir string, fs vfs.FS, o Options) *DB {
	t.Helper()
	o.Logger, o.FlushInterval, o.FS = quiet, -1, fs
	if o.NumGroups == 0 {
		o.NumGroups = 4
	}
	db, err := Open(dir, &o)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return db
}

func writeN(t *testing.T, db *DB, dev string, from, n int64) {
	t.Helper()
	var pts []model.Point
	for ts := from; ts < from+n; ts++ {
		pts = append(pts, pt("c", dev, ts, iv("n", ts*3)))
	}
	if err := db.Write(context.Background(), pts); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// crash closes the WAL and files without flushing, as a kill would.
func crash(t *testing.T, db *DB) {
	t.Helper()
	db.mu.Lock()
	db.closed = true
	db.mu.Unlock()
	close(db.stop)
	<-db.done
	db.wal.Close()
	db.closeFiles()
	db.lock.unlock() // the kernel does this when a process dies
}

func TestFsyncErrorDuringFlushKeepsData(t *testing.T) {
	dir := t.TempDir()
	fs := errorfs.New(vfs.Default)
	db := openFS(t, dir, fs, Options{})
	writeN(t, db, "d1", 0, 100)
	fs.Inject(errorfs.Rule{Op: errorfs.OpSync, Path: "*.col.tmp", Err: syscall.EIO})
	if err := db.Flush(context.Background()); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Flush with failing fsync = %v, want EIO", err)
	}
	if files := colFiles(t, dir); len(files) != 0 {
		t.Errorf("files after a failed flush: %v, want none", files)
	}
	writeN(t, db, "d1", 100, 10)
	dev := model.Tags{{Key: "device_id", Value: "d1"}}
	if got := len(readAll(t, db, "c", dev, "n")["n"]); got != 110 {
		t.Fatalf("after the failed flush: %d values, want 110", got)
	}
	// The WAL still holds everything: a crash now loses nothing.
	crash(t, db)
	fs.Clear()
	db = openFS(t, dir, fs, Options{})
	if got := len(readAll(t, db, "c", dev, "n")["n"]); got != 110 {
		t.Fatalf("after a crash following the failed flush: %d values, want 110", got)
	}
	if err := db.Flush(context.Background()); err != nil {
		t.Fatalf("Flush after clearing the fault: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openFS(t, dir, vfs.Default, Options{})
	defer db.Close()
	if got := len(readAll(t, db, "c", dev, "n")["n"]); got != 110 {
		t.Fatalf("after flush and restart: %d values, want 110", got)
	}
}

func TestWALFsyncErrorIsNotAcknowledged(t *testing.T) {
	dir := t.TempDir()
	fs := errorfs.New(vfs.Default)
	db := openFS(t, dir, fs, Options{Sync: wal.SyncAlways})
	writeN(t, db, "d1", 0, 10)
	fs.Inject(errorfs.Rule{Op: errorfs.OpSync, Path: "*.wal", Err: syscall.EIO})
	err := db.Write(context.Background(), []model.Point{pt("c", "d1", 50, iv("n", 1))})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Write with failing WAL fsync = %v, want ErrUnavailable", err)
	}
	dev := model.Tags{{Key: "device_id", Value: "d1"}}
	if _, ok := readAll(t, db, "c", dev, "n")["n"][50]; ok {
		t.Error("the unacknowledged point is visible")
	}
	if err := db.Write(context.Background(), []model.Point{pt("c", "d1", 51, iv("n", 1))}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Write after the WAL failed = %v, want ErrUnavailable", err)
	}
	crash(t, db)
	fs.Clear()
	db = openFS(t, dir, fs, Options{})
	defer db.Close()
	if got := len(readAll(t, db, "c", dev, "n")["n"]); got < 10 {
		t.Errorf("after restart: %d values, want the 10 acknowledged ones", got)
	}
}

func TestDiskFullDuringCompactionKeepsOldFiles(t *testing.T) {
	dir := t.TempDir()
	fs := errorfs.New(vfs.Default)
	db := openFS(t, dir, fs, Options{})
	defer db.Close()
	for i := range int64(3) {
		writeN(t, db, "d1", i*50, 60) // overlapping ranges
		if err := db.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, db)
	files := colFiles(t, dir)
	sort.Strings(files)
	fs.Inject(errorfs.Rule{Op: errorfs.OpWrite, Path: "*.col.tmp", AfterBytes: 64, Short: true, Err: syscall.ENOSPC})
	if err := db.Compact(context.Background()); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Compact on a full disk = %v, want ENOSPC", err)
	}
	after := colFiles(t, dir)
	sort.Strings(after)
	if !reflect.DeepEqual(after, files) {
		t.Errorf("files after a failed compaction: %v, want the old ones %v", after, files)
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*.tmp")); len(tmps) != 0 {
		t.Errorf("left-over tmp files: %v", tmps)
	}
	if got := snapshot(t, db); !reflect.DeepEqual(got, before) {
		t.Fatalf("answers changed after a failed compaction")
	}
	fs.Clear()
	if err := db.Compact(context.Background()); err != nil {
		t.Fatalf("Compact after space came back: %v", err)
	}
	if got := snapshot(t, db); !reflect.DeepEqual(got, before) {
		t.Fatalf("answers changed after compaction")
	}
}

// TestCorruptBlockFailsTheQuery flips a byte of a data block on disk: a
// read that needs the block fails with an error naming the file, and
// never returns wrong numbers; a read that does not need it still works.
func TestCorruptBlockFailsTheQuery(t *testing.T) {
	dir := t.TempDir()
	db := openFS(t, dir, vfs.Default, Options{NumGroups: 1})
	writeN(t, db, "d1", 0, 100)
	writeN(t, db, "d2", 0, 100)
	if err := db.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	files := colFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("files %v, want one", files)
	}
	r, err := colfile.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	// The first block of the first series (d1): flip a byte inside it.
	si := r.SeriesAt(0)
	if si.Tags.Get("device_id") != "d1" {
		t.Fatalf("first series is %v", si.Tags)
	}
	r.Close()
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	b[colfile.HeaderSize+3] ^= 0x10
	if err := os.WriteFile(files[0], b, 0o644); err != nil {
		t.Fatal(err)
	}

	db = openFS(t, dir, vfs.Default, Options{NumGroups: 1})
	defer db.Close()
	_, err = db.Read(context.Background(), "c", model.Tags{{Key: "device_id", Value: "d1"}}, []string{"n"}, 0, 1000)
	if !errors.Is(err, colfile.ErrCorrupt) || !strings.Contains(err.Error(), filepath.Base(files[0])) {
		t.Fatalf("Read of a corrupt block = %v, want ErrCorrupt naming %s", err, files[0])
	}
	cols, err := db.Read(context.Background(), "c", model.Tags{{Key: "device_id", Value: "d2"}}, []string{"n"}, 0, 1000)
	if err != nil || cols[0].Len() != 100 {
		t.Fatalf("Read of an intact series: %v, %v", cols, err)
	}
	for i, ts := range cols[0].Times {
		if cols[0].Ints[i] != ts*3 {
			t.Fatalf("d2 at %d = %d, want %d", ts, cols[0].Ints[i], ts*3)
		}
	}
}

// TestCorruptWALRecordInTheMiddleStopsStartUp damages a record of a WAL
// segment that is followed by others: start-up fails with the segment and
// offset instead of silently skipping acknowledged writes.
func TestCorruptWALRecordInTheMiddleStopsStartUp(t *testing.T) {
	dir := t.TempDir()
	db := openFS(t, dir, vfs.Default, Options{WALSegmentSize: 256})
	for i := range int64(20) {
		writeN(t, db, fmt.Sprint("d", i), 0, 5)
	}
	crash(t, db)
	segs, _ := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	sort.Strings(segs)
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	b, err := os.ReadFile(segs[1])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(segs[1], b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, &Options{Logger: quiet, FlushInterval: -1, NumGroups: 4})
	var ce *wal.CorruptionError
	if !errors.As(err, &ce) {
		t.Fatalf("Open with a corrupt WAL record = %v, want *wal.CorruptionError", err)
	}
	if !strings.Contains(err.Error(), "segment") {
		t.Errorf("error %q does not name the segment", err)
	}
}
