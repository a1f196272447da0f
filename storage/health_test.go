package storage

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
	"github.com/soltixdb/soltix/storage/wal"
)

// batch returns n points of device dev from time from on, one value each.
func batch(dev string, from, n int64) []model.Point {
	pts := make([]model.Point, 0, n)
	for ts := from; ts < from+n; ts++ {
		pts = append(pts, pt("c", dev, ts, iv("n", ts)))
	}
	return pts
}

// waitStalls waits until at least n writes have stalled.
func waitStalls(db *DB, n uint64) {
	for db.Health().WriteStalls < n {
		runtime.Gosched()
	}
}

// TestBackpressureWhenFlushesFail checks item 6 of issue 11 in the engine:
// while flushes fail (disk full), memory stops at twice max_memory_points:
// writes over it wait, honouring their context, and are then refused with
// ErrBackpressure; Health reports the failure; once the disk is healthy a
// flush recovers, a waiting write goes through, and every acknowledged
// point is there after a restart.
func TestBackpressureWhenFlushesFail(t *testing.T) {
	const max, per = 1000, 100
	dir := t.TempDir()
	fs := errorfs.New(vfs.Default)
	opts := Options{MaxMemoryPoints: max, WriteStallTimeout: 20 * time.Millisecond, CompactFiles: -1}
	db := openFS(t, dir, fs, opts)
	ctx := context.Background()
	acked := int64(0)
	write := func() error {
		err := db.Write(ctx, batch("d1", acked, per))
		if err == nil {
			acked += per
		}
		return err
	}
	for range 15 {
		if err := write(); err != nil {
			t.Fatalf("write under the bound: %v", err)
		}
	}

	fs.Inject(errorfs.Rule{Op: errorfs.OpWrite, Path: "*.col.tmp", Err: syscall.ENOSPC, Short: true})
	if err := db.Flush(ctx); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Flush on a full disk: %v, want ENOSPC", err)
	}
	h := db.Health()
	if h.ConsecutiveFlushFailures != 1 || h.FlushFailures != 1 || !errors.Is(h.LastFlushError, syscall.ENOSPC) || h.LastFlushErrorTime.IsZero() {
		t.Errorf("Health after a failed flush: %+v, want 1 failure with ENOSPC", h)
	}
	if h.MemoryPoints != 1500 || h.MemoryLimit != 2*max {
		t.Errorf("Health memory: %d of %d, want 1500 of %d", h.MemoryPoints, h.MemoryLimit, 2*max)
	}
	if err := h.Unwritable(); err != nil {
		t.Errorf("Unwritable under the bound: %v, want nil", err)
	}

	// Memory fills to the bound; the next write waits and is refused.
	var err error
	for range 100 {
		if err = write(); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrBackpressure) || !strings.Contains(err.Error(), "storage.max_memory_points") || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("write over the bound: %v, want ErrBackpressure naming storage.max_memory_points and the flush error", err)
	}
	h = db.Health()
	if acked != 2*max || h.MemoryPoints != 2*max {
		t.Errorf("memory after the refusal: %d values, %d acknowledged; want %d", h.MemoryPoints, acked, 2*max)
	}
	if h.WriteStalls != 1 || h.WritesRefused != 1 {
		t.Errorf("stalls %d, refused %d; want 1 and 1", h.WriteStalls, h.WritesRefused)
	}
	if err := h.Unwritable(); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Errorf("Unwritable over the bound: %v, want the flush error", err)
	}

	// A waiting write honours its context.
	db.opts.WriteStallTimeout = time.Hour
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- db.Write(cctx, batch("d1", 1<<40, per)) }()
	waitStalls(db, 2)
	cancel()
	if err := <-done; !errors.Is(err, ErrBackpressure) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiting write: %v, want ErrBackpressure wrapping context.Canceled", err)
	}

	// A waiting write goes through once a flush frees memory.
	go func() { done <- db.Write(ctx, batch("d1", acked, per)) }()
	waitStalls(db, 3)
	fs.Clear()
	if err := db.Flush(ctx); err != nil {
		t.Fatalf("Flush on a healthy disk: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("waiting write after the flush recovered: %v", err)
	}
	acked += per
	h = db.Health()
	if h.ConsecutiveFlushFailures != 0 || h.LastFlushTime.IsZero() || h.Unwritable() != nil || h.MemoryLimit != 4*max {
		t.Errorf("Health after recovery: %+v, want no consecutive failure, a flush time, writable, limit %d", h, 4*max)
	}
	if h.FlushFailures != 1 || h.WritesRefused != 2 {
		t.Errorf("counters after recovery: %d flush failures, %d refused; want 1 and 2", h.FlushFailures, h.WritesRefused)
	}
	if err := write(); err != nil {
		t.Fatalf("write after recovery: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openFS(t, dir, vfs.Default, opts)
	defer db.Close()
	got := readAll(t, db, "c", model.Tags{{Key: "device_id", Value: "d1"}}, "n")["n"]
	if int64(len(got)) != acked {
		t.Fatalf("after restart: %d points, want the %d acknowledged", len(got), acked)
	}
	for ts := range acked {
		if v, ok := got[ts]; !ok || v != model.Int(ts) {
			t.Fatalf("after restart: point %d = %v, %v; want %d", ts, v, ok, ts)
		}
	}
}

// blockingFS makes the first Create of a colstore file wait until release
// is closed and then fail with EIO, so that a test can write while a flush
// is under way.
type blockingFS struct {
	vfs.FS
	once             sync.Once
	entered, release chan struct{}
}

func (b *blockingFS) Create(name string) (vfs.File, error) {
	if strings.HasSuffix(name, ".col.tmp") {
		b.once.Do(func() { close(b.entered) })
		<-b.release
		return nil, &os.PathError{Op: "create", Path: name, Err: syscall.EIO}
	}
	return b.FS.Create(name)
}

// TestMemoryAccountingAfterFailedFlush checks that a failed flush gives
// back to memory exactly what it took: the points written while it ran
// were counted twice before, so the bound tripped early.
func TestMemoryAccountingAfterFailedFlush(t *testing.T) {
	dir := t.TempDir()
	fs := &blockingFS{FS: vfs.Default, entered: make(chan struct{}), release: make(chan struct{})}
	db := openFS(t, dir, fs, Options{})
	defer db.Close()
	ctx := context.Background()
	if err := db.Write(ctx, batch("d1", 0, 100)); err != nil {
		t.Fatal(err)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- db.Flush(ctx) }()
	<-fs.entered
	if err := db.Write(ctx, batch("d1", 1000, 10)); err != nil {
		t.Fatal(err)
	}
	if h := db.Health(); h.MemoryPoints != 110 {
		t.Errorf("during the flush: %d values in memory, want 110", h.MemoryPoints)
	}
	close(fs.release)
	if err := <-flushed; !errors.Is(err, syscall.EIO) {
		t.Fatalf("Flush: %v, want EIO", err)
	}
	if h := db.Health(); h.MemoryPoints != 110 || db.memPoints != 110 {
		t.Errorf("after the failed flush: %d values in memory (%d active), want 110", h.MemoryPoints, db.memPoints)
	}
}

// TestWALFailureIsReported checks that a failed WAL shows in Health: every
// write is refused with ErrUnavailable and Unwritable says why.
func TestWALFailureIsReported(t *testing.T) {
	dir := t.TempDir()
	fs := errorfs.New(vfs.Default)
	db := openFS(t, dir, fs, Options{})
	defer db.Close()
	ctx := context.Background()
	if err := db.Write(ctx, batch("d1", 0, 10)); err != nil {
		t.Fatal(err)
	}
	if h := db.Health(); h.WALError != nil || h.Unwritable() != nil {
		t.Fatalf("healthy Health: %+v", h)
	}
	fs.Inject(errorfs.Rule{Op: errorfs.OpSync, Path: "*.wal", Err: syscall.EIO})
	for i := range 2 {
		if err := db.Write(ctx, batch("d1", 10, 10)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("write %d with a failed WAL: %v, want ErrUnavailable", i, err)
		}
	}
	h := db.Health()
	if !errors.Is(h.WALError, wal.ErrFailed) || !errors.Is(h.WALError, syscall.EIO) || h.WALErrors != 2 {
		t.Errorf("Health with a failed WAL: %+v, want a WAL error wrapping ErrFailed and EIO, 2 WAL errors", h)
	}
	if err := h.Unwritable(); err == nil || !strings.Contains(err.Error(), "wal failed") {
		t.Errorf("Unwritable: %v, want the WAL failure", err)
	}
}
