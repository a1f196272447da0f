package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
)

// faultOptions returns test options that write through fs.
func faultOptions(logs *logBuffer, sync SyncMode, fs vfs.FS) *Options {
	o := testOptions(logs, sync)
	o.FS = fs
	return o
}

// framed returns the size of rec once framed in a segment.
func framed(rec string) int64 { return recordHeaderSize + int64(len(rec)) }

// segGlob returns an errorfs pattern matching segment n only.
func segGlob(n uint64) string { return segmentName(n) }

func TestFailure(t *testing.T) {
	tests := []struct {
		name string
		// rule is injected after Replay and the append of "good".
		rule errorfs.Rule
		// wantOnDisk says whether the failed record is replayed.
		wantOnDisk bool
	}{
		{"write EIO", errorfs.Rule{Op: errorfs.OpWrite, Path: "*.wal", Err: syscall.EIO}, false},
		// ENOSPC does not fail the WAL (nospace_test.go); other short
		// writes do.
		{"short write EIO", errorfs.Rule{Op: errorfs.OpWrite, Path: "*.wal", AfterBytes: 5, Short: true, Err: syscall.EIO}, false},
		{"short write after calls", errorfs.Rule{Op: errorfs.OpWrite, Path: "*.wal", After: 1, Short: true, Err: syscall.EIO}, false},
		{"fsync EIO", errorfs.Rule{Op: errorfs.OpSync, Path: "*.wal", Err: syscall.EIO}, true},
		{"fsync EIO after calls", errorfs.Rule{Op: errorfs.OpSync, Path: "*.wal", After: 1, Err: syscall.EIO}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fs := errorfs.New(vfs.Default)
			var logs logBuffer
			w, _, err := replayAll(t, dir, faultOptions(&logs, SyncAlways, fs))
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"good"}
			mustAppend(t, w, "good")
			fs.Inject(tt.rule)
			if tt.rule.After > 0 {
				mustAppend(t, w, "passes")
				want = append(want, "passes")
			}
			_, err = w.Append([]byte("doomed"))
			if !errors.Is(err, ErrFailed) || !errors.Is(err, tt.rule.Err) {
				t.Fatalf("Append with %s fault: got %v, want an error wrapping %v and %v", tt.name, err, ErrFailed, tt.rule.Err)
			}
			faulty := fs.Count(tt.rule.Op, "*.wal")
			if _, err := w.Append([]byte("later")); !errors.Is(err, ErrFailed) {
				t.Errorf("Append after %s fault: got %v, want an error wrapping %v", tt.name, err, ErrFailed)
			}
			if _, err := w.Rotate(); !errors.Is(err, ErrFailed) {
				t.Errorf("Rotate after %s fault: got %v, want an error wrapping %v", tt.name, err, ErrFailed)
			}
			if err := w.Close(); err != nil {
				t.Errorf("Close after %s fault: %v", tt.name, err)
			}
			if n := fs.Count(tt.rule.Op, "*.wal"); n != faulty {
				t.Errorf("%v calls after the %s fault: got %d, want 0 (no retry on the same file)", tt.rule.Op, tt.name, n-faulty)
			}
			if !strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("log: got %q, want an error", logs.String())
			}

			// Whatever reached the disk replays, with nothing to cut; the
			// WAL works again.
			logs = logBuffer{}
			w2, got, err := replayAll(t, dir, testOptions(&logs, SyncAlways))
			if err != nil {
				t.Fatalf("Replay after %s fault: %v", tt.name, err)
			}
			if tt.wantOnDisk {
				want = append(want, "doomed")
			}
			if !slices.Equal(records(got), want) {
				t.Errorf("Replay after %s fault: got %v, want %v", tt.name, records(got), want)
			}
			if log := logs.String(); log != "" {
				t.Errorf("log of Replay after %s fault: got %q, want nothing", tt.name, log)
			}
			mustAppend(t, w2, "after reopen")
		})
	}
}

// gateFS blocks the first file Sync after arm until release is closed, so
// that a test can queue Appends while the flusher is busy.
type gateFS struct {
	vfs.FS
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func newGateFS(inner vfs.FS) *gateFS {
	return &gateFS{FS: inner, entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gateFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := g.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &gateFile{File: f, g: g}, nil
}

type gateFile struct {
	vfs.File
	g *gateFS
}

func (f *gateFile) Sync() error {
	if f.g.armed.CompareAndSwap(true, false) {
		close(f.g.entered)
		<-f.g.release
	}
	return f.File.Sync()
}

// waitPending waits until n records are pending for the flusher.
func waitPending(w *WAL, n int) {
	for {
		w.mu.Lock()
		got := w.nrecs
		w.mu.Unlock()
		if got >= n {
			return
		}
		runtime.Gosched()
	}
}

// TestFailedBatchNotReplayed checks that when a write of a batch of several
// records stops part way (a disk-full short write), none of the batch's
// records replay, not even those written in full before the cut.
func TestFailedBatchNotReplayed(t *testing.T) {
	tests := []struct {
		name  string
		extra *errorfs.Rule // a further fault
		want  []string
		// wantWarn says whether Replay cuts a torn tail.
		wantWarn bool
	}{
		{"partial batch dropped", nil, []string{"good", "a"}, false},
		// Dropping the partial batch is best effort: if the truncation
		// fails, the records written in full replay and the torn tail is
		// cut.
		{"truncate fails", &errorfs.Rule{Op: errorfs.OpTruncate, Err: syscall.EIO}, []string{"good", "a", "b-record"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			efs := errorfs.New(vfs.Default)
			gate := newGateFS(efs)
			w, _, err := replayAll(t, dir, faultOptions(nil, SyncAlways, gate))
			if err != nil {
				t.Fatal(err)
			}
			mustAppend(t, w, "good")

			// The flusher writes "a" and blocks in its fsync while "b-record"
			// and "c-record" queue up to form the next batch.
			gate.armed.Store(true)
			var wg sync.WaitGroup
			errs := make(map[string]error)
			var mu sync.Mutex
			appendAsync := func(rec string) {
				wg.Go(func() {
					_, err := w.Append([]byte(rec))
					mu.Lock()
					errs[rec] = err
					mu.Unlock()
				})
			}
			appendAsync("a")
			<-gate.entered
			// The disk fills up after b-record and 3 bytes of c-record.
			efs.Inject(errorfs.Rule{Op: errorfs.OpWrite, Path: "*.wal", AfterBytes: framed("b-record") + 3, Short: true, Err: syscall.ENOSPC})
			if tt.extra != nil {
				efs.Inject(*tt.extra)
			}
			appendAsync("b-record")
			waitPending(w, 1)
			appendAsync("c-record")
			waitPending(w, 2)
			close(gate.release)
			wg.Wait()

			if err := errs["a"]; err != nil {
				t.Errorf("Append(a) before the fault: %v", err)
			}
			for _, rec := range []string{"b-record", "c-record"} {
				// ErrNoSpace when the batch was cut back, ErrFailed when
				// the cut failed too.
				if err := errs[rec]; !errors.Is(err, syscall.ENOSPC) || !(errors.Is(err, ErrNoSpace) || errors.Is(err, ErrFailed)) {
					t.Errorf("Append(%s) in the short-written batch: got %v, want an error wrapping %v or %v, and ENOSPC", rec, err, ErrNoSpace, ErrFailed)
				}
			}
			if st := w.Stats(); st.Records != 2 {
				t.Errorf("Stats().Records: got %d, want 2", st.Records)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}

			var logs logBuffer
			_, got, err := replayAll(t, dir, testOptions(&logs, SyncAlways))
			if err != nil {
				t.Fatalf("Replay: %v", err)
			}
			if !slices.Equal(records(got), tt.want) {
				t.Errorf("Replay: got %v, want %v", records(got), tt.want)
			}
			if warned := strings.Contains(logs.String(), "level=WARN"); warned != tt.wantWarn {
				t.Errorf("Replay log: got %q, want a torn-tail warning: %v", logs.String(), tt.wantWarn)
			}
		})
	}
}

// TestDiskFullConcurrent runs concurrent writers into a disk that fills up
// and checks that Replay returns exactly the acknowledged records.
func TestDiskFullConcurrent(t *testing.T) {
	const writers = 8
	for _, limit := range []int64{3, 200, 1001, 2500} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			dir := t.TempDir()
			fs := errorfs.New(vfs.Default)
			opts := faultOptions(nil, SyncAlways, fs)
			opts.SegmentSize = 512 // rotations fail too
			w, _, err := replayAll(t, dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			fs.Inject(errorfs.Rule{Op: errorfs.OpWrite, Path: "*.wal", AfterBytes: limit, Short: true, Err: syscall.ENOSPC})
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				acked = make(map[string]bool)
			)
			for g := range writers {
				wg.Go(func() {
					for i := 0; ; i++ {
						rec := fmt.Sprintf("w%d-%d", g, i)
						if _, err := w.Append([]byte(rec)); err != nil {
							if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
								t.Errorf("Append(%s): got %v, want an error wrapping %v and ENOSPC", rec, err, ErrNoSpace)
							}
							// The disk is still full: refused, not stored.
							if _, err := w.Append([]byte("after")); !errors.Is(err, ErrNoSpace) {
								t.Errorf("Append after a refusal: got %v, want an error wrapping %v", err, ErrNoSpace)
							}
							return
						}
						mu.Lock()
						acked[rec] = true
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}

			_, got, err := replayAll(t, dir, testOptions(nil, SyncAlways))
			if err != nil {
				t.Fatalf("Replay: %v", err)
			}
			next := make([]int, writers)
			for _, e := range got {
				var g, i int
				if _, err := fmt.Sscanf(e.rec, "w%d-%d", &g, &i); err != nil || !acked[e.rec] {
					t.Fatalf("Replay: got record %q, whose Append failed or never happened", e.rec)
				}
				if i != next[g] {
					t.Fatalf("Replay: got record %q, want w%d-%d", e.rec, g, next[g])
				}
				next[g]++
			}
			if len(got) != len(acked) {
				t.Errorf("Replay: got %d records, want the %d acknowledged ones", len(got), len(acked))
			}
		})
	}
}

func TestRotateFailure(t *testing.T) {
	tests := []struct {
		name string
		rule errorfs.Rule
		// wantWarn says whether Replay cuts a torn segment.
		wantWarn bool
	}{
		{"sync of current segment", errorfs.Rule{Op: errorfs.OpSync, Path: segGlob(1), Err: syscall.EIO}, false},
		{"close of current segment", errorfs.Rule{Op: errorfs.OpClose, Path: segGlob(1), Err: syscall.EIO}, false},
		// With ENOSPC these two do not fail the WAL (nospace_test.go).
		// The half-made next segment is removed, so Replay cuts nothing.
		{"create of next segment", errorfs.Rule{Op: errorfs.OpCreate, Path: segGlob(2), Err: syscall.EIO}, false},
		{"header write of next segment", errorfs.Rule{Op: errorfs.OpWrite, Path: segGlob(2), Short: true, Err: syscall.EIO}, false},
		{"sync of next segment", errorfs.Rule{Op: errorfs.OpSync, Path: segGlob(2), Err: syscall.EIO}, false},
		{"directory sync", errorfs.Rule{Op: errorfs.OpSyncDir, Err: syscall.EIO}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fs := errorfs.New(vfs.Default)
			var logs logBuffer
			w, _, err := replayAll(t, dir, faultOptions(&logs, SyncAlways, fs))
			if err != nil {
				t.Fatal(err)
			}
			mustAppend(t, w, "a")
			fs.Inject(tt.rule)
			if n, err := w.Rotate(); n != 0 || !errors.Is(err, ErrFailed) || !errors.Is(err, tt.rule.Err) {
				t.Fatalf("Rotate with %s fault: got %d, %v; want 0 and an error wrapping %v and %v", tt.name, n, err, ErrFailed, tt.rule.Err)
			}
			if _, err := w.Append([]byte("b")); !errors.Is(err, ErrFailed) {
				t.Errorf("Append after failed Rotate: got %v, want an error wrapping %v", err, ErrFailed)
			}
			if _, err := w.Rotate(); !errors.Is(err, ErrFailed) {
				t.Errorf("second Rotate: got %v, want an error wrapping %v", err, ErrFailed)
			}
			if err := w.Close(); err != nil {
				t.Errorf("Close after failed Rotate: %v", err)
			}
			if !strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("log: got %q, want an error", logs.String())
			}

			logs = logBuffer{}
			w2, got, err := replayAll(t, dir, testOptions(&logs, SyncAlways))
			if err != nil {
				t.Fatalf("Replay after failed Rotate: %v", err)
			}
			if want := []string{"a"}; !slices.Equal(records(got), want) {
				t.Errorf("Replay after failed Rotate: got %v, want %v", records(got), want)
			}
			if warned := strings.Contains(logs.String(), "level=WARN"); warned != tt.wantWarn {
				t.Errorf("Replay log: got %q, want a torn-tail warning: %v", logs.String(), tt.wantWarn)
			}
			mustAppend(t, w2, "after reopen")
		})
	}
}

func TestRemoveBeforeFailure(t *testing.T) {
	tests := []struct {
		name string
		rule errorfs.Rule
		// wantSegs are the segments left by the failed RemoveBefore(3).
		wantSegs []uint64
	}{
		{"remove of oldest segment", errorfs.Rule{Op: errorfs.OpRemove, Path: segGlob(1), Err: syscall.EIO}, []uint64{1, 2, 3}},
		{"remove of second segment", errorfs.Rule{Op: errorfs.OpRemove, Path: segGlob(2), Err: syscall.EACCES}, []uint64{2, 3}},
		{"directory sync", errorfs.Rule{Op: errorfs.OpSyncDir, Err: syscall.EIO}, []uint64{3}},
		{"directory listing", errorfs.Rule{Op: errorfs.OpReadDir, Err: syscall.EIO}, []uint64{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fs := errorfs.New(vfs.Default)
			w, _, err := replayAll(t, dir, faultOptions(nil, SyncAlways, fs))
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range []string{"a", "b"} {
				mustAppend(t, w, rec)
				if _, err := w.Rotate(); err != nil {
					t.Fatal(err)
				}
			}
			mustAppend(t, w, "c")

			fs.Inject(tt.rule)
			if err := w.RemoveBefore(3); !errors.Is(err, tt.rule.Err) || errors.Is(err, ErrFailed) {
				t.Fatalf("RemoveBefore(3) with %s fault: got %v, want an error wrapping %v and not %v", tt.name, err, tt.rule.Err, ErrFailed)
			}
			segs, err := listSegments(vfs.Default, dir)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(segs, tt.wantSegs) {
				t.Errorf("segments after failed RemoveBefore(3): got %v, want %v", segs, tt.wantSegs)
			}

			// The WAL is still usable, and RemoveBefore can be retried.
			if seg := mustAppend(t, w, "d"); seg != 3 {
				t.Errorf("Append(d) after failed RemoveBefore: got segment %d, want 3", seg)
			}
			fs.Clear()
			if n, err := w.Rotate(); n != 4 || err != nil {
				t.Errorf("Rotate after failed RemoveBefore = %d, %v; want 4, nil", n, err)
			}
			if err := w.RemoveBefore(3); err != nil {
				t.Fatalf("RemoveBefore(3) retried: %v", err)
			}
			mustAppend(t, w, "e")
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}

			_, got, err := replayAll(t, dir, testOptions(nil, SyncAlways))
			if err != nil {
				t.Fatal(err)
			}
			if want := []entry{{3, "c"}, {3, "d"}, {4, "e"}}; !slices.Equal(got, want) {
				t.Errorf("Replay: got %v, want %v", got, want)
			}
		})
	}
}

func TestReplayFaults(t *testing.T) {
	base := t.TempDir()
	all := buildBase(t, base)
	badOff := recordOffset(all, 2, 1)
	tests := []struct {
		name string
		mut  mutation // damage to the last segment, if not nil
		rule errorfs.Rule
		// wantErr, if not nil, is an error Replay must wrap.
		wantErr error
		// wantCorrupt is the expected corruption offset in segment 2, or -1.
		wantCorrupt int64
	}{
		{"read error", nil, errorfs.Rule{Op: errorfs.OpRead, Path: segGlob(2), Err: syscall.EIO}, syscall.EIO, -1},
		{"open error", nil, errorfs.Rule{Op: errorfs.OpOpen, Path: segGlob(2), Err: syscall.EIO}, syscall.EIO, -1},
		{"stat error", nil, errorfs.Rule{Op: errorfs.OpStat, Path: segGlob(1), Err: syscall.EIO}, syscall.EIO, -1},
		{"bit flipped in read", nil, errorfs.Rule{Op: errorfs.OpRead, Path: segGlob(2), FlipBitAt: 8 * (badOff + recordHeaderSize + 2)}, nil, badOff},
		{"create of new segment", nil, errorfs.Rule{Op: errorfs.OpCreate, Err: syscall.ENOSPC}, syscall.ENOSPC, -1},
		{"truncate of torn tail", truncateTo(recordOffset(all, baseSegs, 1) + 3), errorfs.Rule{Op: errorfs.OpTruncate, Err: syscall.EIO}, syscall.EIO, -1},
		{"removal of torn segment", truncateTo(3), errorfs.Rule{Op: errorfs.OpRemove, Err: syscall.EIO}, syscall.EIO, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := copyDir(t, base)
			last := filepath.Join(dir, segmentName(baseSegs))
			if tt.mut != nil {
				tt.mut(t, last)
			}
			before := fileState(t, last)
			fs := errorfs.New(vfs.Default)
			fs.Inject(tt.rule)
			_, _, err := replayAll(t, dir, faultOptions(nil, SyncNever, fs))
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Replay with %s fault: got %v, want an error wrapping %v", tt.name, err, tt.wantErr)
			}
			var ce *CorruptionError
			switch {
			case tt.wantCorrupt >= 0 && (!errors.As(err, &ce) || ce.Segment != 2 || ce.Offset != tt.wantCorrupt):
				t.Errorf("Replay with %s fault: got %v, want corruption in segment 2 at offset %d", tt.name, err, tt.wantCorrupt)
			case tt.wantCorrupt < 0 && errors.As(err, &ce):
				t.Errorf("Replay with %s fault: got %v, want an I/O error, not a *CorruptionError", tt.name, err)
			}
			if after := fileState(t, last); after != before {
				t.Errorf("failed Replay changed the last segment: got %q, want %q", after, before)
			}

			// Without the fault the WAL replays.
			if _, _, err := replayAll(t, dir, testOptions(nil, SyncNever)); err != nil {
				t.Errorf("Replay without the fault: %v", err)
			}
		})
	}

	fs := errorfs.New(vfs.Default)
	fs.Inject(errorfs.Rule{Op: errorfs.OpReadDir, Err: syscall.EIO})
	if _, err := Open(base, faultOptions(nil, SyncNever, fs)); !errors.Is(err, syscall.EIO) {
		t.Errorf("Open with a failing ReadDir: got %v, want an error wrapping %v", err, syscall.EIO)
	}
	fs.Clear()
	fs.Inject(errorfs.Rule{Op: errorfs.OpMkdirAll, Err: syscall.EACCES})
	if _, err := Open(filepath.Join(base, "new"), faultOptions(nil, SyncNever, fs)); !errors.Is(err, syscall.EACCES) {
		t.Errorf("Open with a failing MkdirAll: got %v, want an error wrapping %v", err, syscall.EACCES)
	}
}
