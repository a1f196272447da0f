package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soltixdb/soltix/storage/vfs"
)

// logBuffer is a goroutine-safe buffer for capturing slog output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testOptions returns options for tests, logging to logs if it is not nil and
// discarding the log otherwise.
func testOptions(logs *logBuffer, sync SyncMode) *Options {
	var h slog.Handler = slog.DiscardHandler
	if logs != nil {
		h = slog.NewTextHandler(logs, nil)
	}
	return &Options{Sync: sync, Logger: slog.New(h)}
}

// entry is one replayed record.
type entry struct {
	seg uint64
	rec string
}

// replayAll opens the WAL in dir with opts and replays it, returning the open
// WAL (closed at the end of the test) and the records.
func replayAll(t *testing.T, dir string, opts *Options) (*WAL, []entry, error) {
	t.Helper()
	w, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", dir, err)
	}
	t.Cleanup(func() { _ = w.Close() })
	var got []entry
	err = w.Replay(func(seg uint64, rec []byte) error {
		got = append(got, entry{seg, string(rec)})
		return nil
	})
	return w, got, err
}

// mustAppend appends rec and fails the test on error.
func mustAppend(t *testing.T, w *WAL, rec string) uint64 {
	t.Helper()
	seg, err := w.Append([]byte(rec))
	if err != nil {
		t.Fatalf("Append(%q): %v", rec, err)
	}
	return seg
}

// records returns the payloads of es.
func records(es []entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.rec
	}
	return out
}

// payload returns the i-th test record; lengths vary and are never powers of
// two.
func payload(i int) string {
	return fmt.Sprintf("rec-%04d-%s", i, strings.Repeat("x", i%7)) // 9..15 bytes
}

func TestRoundTripRotateBySize(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(nil, SyncNever)
	opts.SegmentSize = 200
	w, got, err := replayAll(t, dir, opts)
	if err != nil || len(got) != 0 {
		t.Fatalf("Replay(empty dir) = %v, %v; want no records, nil", got, err)
	}
	var want []entry
	for i := range 100 {
		rec := payload(i)
		want = append(want, entry{mustAppend(t, w, rec), rec})
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for i := 1; i < len(want); i++ {
		if want[i].seg < want[i-1].seg {
			t.Fatalf("Append #%d returned segment %d after segment %d", i, want[i].seg, want[i-1].seg)
		}
	}
	last := want[len(want)-1].seg
	if last < 5 {
		t.Fatalf("100 records with SegmentSize 200: last segment %d, want at least 5", last)
	}
	segs, err := listSegments(vfs.Default, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		fi, err := os.Stat(filepath.Join(dir, segmentName(s)))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > opts.SegmentSize {
			t.Errorf("segment %d: size %d, want <= %d", s, fi.Size(), opts.SegmentSize)
		}
	}

	w2, got, err := replayAll(t, dir, opts)
	if err != nil {
		t.Fatalf("Replay after reopen: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Replay after reopen:\ngot  %v\nwant %v", got, want)
	}
	if seg := mustAppend(t, w2, "after reopen"); seg != last+1 {
		t.Errorf("Append after reopen: got segment %d, want %d", seg, last+1)
	}
}

func TestRotateRemoveBefore(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(nil, SyncAlways)
	w, _, err := replayAll(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if seg := mustAppend(t, w, "a"); seg != 1 {
		t.Fatalf("Append(a): got segment %d, want 1", seg)
	}
	n, err := w.Rotate()
	if err != nil || n != 2 {
		t.Fatalf("Rotate() = %d, %v; want 2, nil", n, err)
	}
	if seg := mustAppend(t, w, "b"); seg != 2 {
		t.Fatalf("Append(b): got segment %d, want 2", seg)
	}
	if n, err := w.Rotate(); err != nil || n != 3 {
		t.Fatalf("Rotate() = %d, %v; want 3, nil", n, err)
	}
	if err := w.RemoveBefore(4); err == nil {
		t.Errorf("RemoveBefore(4) with current segment 3: got nil error, want an error")
	}
	if err := w.RemoveBefore(2); err != nil {
		t.Fatalf("RemoveBefore(2): %v", err)
	}
	if seg := mustAppend(t, w, "c"); seg != 3 {
		t.Fatalf("Append(c): got segment %d, want 3", seg)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := listSegments(vfs.Default, dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{2, 3}; !slices.Equal(segs, want) {
		t.Fatalf("segments after RemoveBefore(2): got %v, want %v", segs, want)
	}

	w2, got, err := replayAll(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := []entry{{2, "b"}, {3, "c"}}; !slices.Equal(got, want) {
		t.Fatalf("Replay: got %v, want %v", got, want)
	}
	if seg := mustAppend(t, w2, "d"); seg != 4 {
		t.Fatalf("Append(d) after reopen: got segment %d, want 4", seg)
	}
}

// fakeClock is a clock for the WAL's timeNow seam.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestRotateByAge(t *testing.T) {
	tests := []struct {
		name   string
		maxAge time.Duration
		// steps alternate: advance the clock by the duration, then append.
		steps []time.Duration
		want  []uint64 // segment returned by each append
	}{
		{"default age, young", 0, []time.Duration{0, time.Minute, 13 * time.Minute}, []uint64{1, 1, 1}},
		{"default age, old", 0, []time.Duration{0, 15 * time.Minute, time.Minute}, []uint64{1, 2, 2}},
		{"age counts from the first record", time.Minute, []time.Duration{time.Hour, 0, 59 * time.Second, time.Second}, []uint64{1, 1, 1, 2}},
		{"short age", time.Minute, []time.Duration{0, 2 * time.Minute, 0, time.Minute}, []uint64{1, 2, 2, 3}},
		{"disabled", -1, []time.Duration{0, 24 * time.Hour}, []uint64{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions(nil, SyncNever)
			opts.MaxSegmentAge = tt.maxAge
			w, err := Open(t.TempDir(), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = w.Close() }()
			var clock fakeClock
			w.now = clock.now
			if err := w.Replay(func(uint64, []byte) error { return nil }); err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for i, d := range tt.steps {
				clock.advance(d)
				got = append(got, mustAppend(t, w, payload(i)))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("MaxSegmentAge %v, steps %v: got segments %v, want %v", tt.maxAge, tt.steps, got, tt.want)
			}
		})
	}
}

// layout describes the base WAL used by the damage tests: segment s holds
// the records perSeg*(s-1) .. perSeg*s-1.
const (
	baseSegs   = 3
	basePerSeg = 4
)

// buildBase writes the base WAL into dir and returns all its records.
func buildBase(t *testing.T, dir string) []entry {
	t.Helper()
	w, _, err := replayAll(t, dir, testOptions(nil, SyncNever))
	if err != nil {
		t.Fatal(err)
	}
	var all []entry
	for s := 1; s <= baseSegs; s++ {
		if s > 1 {
			if _, err := w.Rotate(); err != nil {
				t.Fatal(err)
			}
		}
		for range basePerSeg {
			rec := payload(len(all))
			all = append(all, entry{mustAppend(t, w, rec), rec})
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return all
}

// recordOffset returns the offset of record i (0-based) within segment seg of
// the base WAL.
func recordOffset(all []entry, seg uint64, i int) int64 {
	off := int64(segmentHeaderSize)
	for _, e := range all {
		if e.seg != seg {
			continue
		}
		if i == 0 {
			return off
		}
		off += recordHeaderSize + int64(len(e.rec))
		i--
	}
	return off
}

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// mutation damages the segment file at path.
type mutation func(t *testing.T, path string)

func truncateTo(n int64) mutation {
	return func(t *testing.T, path string) {
		if err := os.Truncate(path, n); err != nil {
			t.Fatal(err)
		}
	}
}

func appendZeros(n int) mutation {
	return func(t *testing.T, path string) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func editBytes(edit func(b []byte)) mutation {
	return func(t *testing.T, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		edit(b)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func flipBit(off int64, bit uint) mutation {
	return editBytes(func(b []byte) { b[off] ^= 1 << bit })
}

func setLength(off int64, length uint32) mutation {
	return editBytes(func(b []byte) { binary.LittleEndian.PutUint32(b[off:], length) })
}

func TestReplayTornTail(t *testing.T) {
	base := t.TempDir()
	all := buildBase(t, base)
	const lastSeg = baseSegs
	lastIdx := basePerSeg - 1
	lastOff := recordOffset(all, lastSeg, lastIdx)
	lastLen := int64(len(all[len(all)-1].rec))
	lastEnd := lastOff + recordHeaderSize + lastLen
	allButLast := all[:len(all)-1]
	earlierSegs := all[:len(all)-basePerSeg]

	type tornCase struct {
		name string
		mut  mutation
		want []entry
	}
	var tests []tornCase
	for n := lastOff + 1; n < lastEnd; n++ {
		tests = append(tests, tornCase{fmt.Sprintf("truncate last record at %d", n), truncateTo(n), allButLast})
	}
	for n := range int64(segmentHeaderSize) {
		tests = append(tests, tornCase{fmt.Sprintf("truncate segment header at %d", n), truncateTo(n), earlierSegs})
	}
	for _, n := range []int{1, 7, 8, 9, 100, 4096} {
		tests = append(tests, tornCase{fmt.Sprintf("append %d zero bytes", n), appendZeros(n), all})
	}
	for bit := range uint(32) {
		tests = append(tests, tornCase{fmt.Sprintf("flip CRC bit %d", bit), flipBit(lastOff+4+int64(bit/8), bit%8), allButLast})
		// Flips that raise the length make the record run past EOF; flips
		// that lower it fail its checksum with only its own bytes behind.
		tests = append(tests, tornCase{fmt.Sprintf("flip length bit %d", bit), flipBit(lastOff+int64(bit/8), bit%8), allButLast})
	}
	for _, i := range []int64{0, lastLen / 2, lastLen - 1} {
		for _, bit := range []uint{0, 7} {
			off := lastOff + recordHeaderSize + i
			tests = append(tests, tornCase{fmt.Sprintf("flip payload byte %d bit %d", i, bit), flipBit(off, bit), allButLast})
		}
	}
	tests = append(tests,
		tornCase{"zero-filled last record", editBytes(func(b []byte) { clear(b[lastOff:]) }), allButLast},
		tornCase{"zero-filled last two records", editBytes(func(b []byte) { clear(b[recordOffset(all, lastSeg, lastIdx-1):]) }), all[:len(all)-2]},
		tornCase{"length above maximum past EOF", setLength(lastOff, MaxRecordSize+1), allButLast},
	)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := copyDir(t, base)
			tt.mut(t, filepath.Join(dir, segmentName(lastSeg)))

			var logs logBuffer
			w, got, err := replayAll(t, dir, testOptions(&logs, SyncNever))
			if err != nil {
				t.Fatalf("Replay: got error %v, want nil", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Replay:\ngot  %v\nwant %v", records(got), records(tt.want))
			}
			log := logs.String()
			if !strings.Contains(log, "level=WARN") || !strings.Contains(log, fmt.Sprintf("segment=%d", lastSeg)) {
				t.Errorf("log: got %q, want a warning mentioning segment=%d", log, lastSeg)
			}

			newSeg := mustAppend(t, w, "after repair")
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			logs = logBuffer{}
			_, got, err = replayAll(t, dir, testOptions(&logs, SyncNever))
			if err != nil {
				t.Fatalf("Replay after repair: %v", err)
			}
			want := append(slices.Clone(tt.want), entry{newSeg, "after repair"})
			if !slices.Equal(got, want) {
				t.Fatalf("Replay after repair:\ngot  %v\nwant %v", got, want)
			}
			if log := logs.String(); log != "" {
				t.Errorf("log of replay after repair: got %q, want nothing", log)
			}
		})
	}
}

func TestReplayCorruption(t *testing.T) {
	base := t.TempDir()
	all := buildBase(t, base)

	tests := []struct {
		name    string
		seg     uint64 // segment to damage
		mut     mutation
		wantSeg uint64
		wantOff int64
	}{
		{"payload bit in first segment", 1, flipBit(recordOffset(all, 1, 2)+recordHeaderSize+3, 2), 1, recordOffset(all, 1, 2)},
		{"payload bit in middle segment's last record", 2, flipBit(recordOffset(all, 2, basePerSeg-1)+recordHeaderSize, 0), 2, recordOffset(all, 2, basePerSeg-1)},
		{"CRC bit in first segment", 1, flipBit(recordOffset(all, 1, 0)+4, 5), 1, recordOffset(all, 1, 0)},
		{"payload bit in last segment followed by records", baseSegs, flipBit(recordOffset(all, baseSegs, 0)+recordHeaderSize+1, 4), baseSegs, recordOffset(all, baseSegs, 0)},
		{"CRC bit in last segment followed by records", baseSegs, flipBit(recordOffset(all, baseSegs, 2)+6, 1), baseSegs, recordOffset(all, baseSegs, 2)},
		{"zero length in first segment", 1, setLength(recordOffset(all, 1, 1), 0), 1, recordOffset(all, 1, 1)},
		{"zero length in last segment followed by records", baseSegs, setLength(recordOffset(all, baseSegs, 1), 0), baseSegs, recordOffset(all, baseSegs, 1)},
		{"truncated record in first segment", 1, truncateTo(recordOffset(all, 1, 3) + 5), 1, recordOffset(all, 1, 3)},
		{"truncated header of first segment", 1, truncateTo(5), 1, 0},
		{"bad magic in last segment", baseSegs, flipBit(0, 0), baseSegs, 0},
		{"bad version in middle segment", 2, editBytes(func(b []byte) { b[7] = 3 }), 2, 0},
		{"salt bit in last segment", baseSegs, flipBit(9, 3), baseSegs, 0},
		{"header CRC bit in first segment", 1, flipBit(14, 0), 1, 0},
		{"missing middle segment", 2, func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := copyDir(t, base)
			path := filepath.Join(dir, segmentName(tt.seg))
			tt.mut(t, path)
			before := fileState(t, path)

			var logs logBuffer
			_, _, err := replayAll(t, dir, testOptions(&logs, SyncNever))
			var ce *CorruptionError
			if !errors.As(err, &ce) {
				t.Fatalf("Replay: got error %v, want a *CorruptionError", err)
			}
			if ce.Segment != tt.wantSeg || ce.Offset != tt.wantOff {
				t.Errorf("Replay: got corruption at segment %d offset %d (%v), want segment %d offset %d",
					ce.Segment, ce.Offset, ce.Err, tt.wantSeg, tt.wantOff)
			}
			if after := fileState(t, path); after != before {
				t.Errorf("Replay changed the damaged segment %d: got %q, want %q", tt.seg, after, before)
			}
			if log := logs.String(); strings.Contains(log, "level=WARN") {
				t.Errorf("log: got %q, want no warning", log)
			}
		})
	}
}

// fileState summarises the file at path: its contents if it is small, its
// size otherwise, or "missing".
func fileState(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return "missing"
	}
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 1<<20 {
		return fmt.Sprintf("%d bytes", fi.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReplayErrors(t *testing.T) {
	dir := t.TempDir()
	buildBase(t, dir)

	w, err := Open(dir, testOptions(nil, SyncNever))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	if _, err := w.Append([]byte("x")); err == nil {
		t.Errorf("Append before Replay: got nil error, want an error")
	}
	stop := errors.New("stop")
	var n int
	err = w.Replay(func(uint64, []byte) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("Replay with fn failing on record 3: got %v after %d records, want %v after 3", err, n, stop)
	}
	if err := w.Replay(func(uint64, []byte) error { return nil }); err == nil {
		t.Errorf("second Replay: got nil error, want an error")
	}
}

func TestAppendInvalid(t *testing.T) {
	w, _, err := replayAll(t, t.TempDir(), testOptions(nil, SyncNever))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		rec  []byte
		want error
	}{
		{"nil", nil, ErrEmptyRecord},
		{"empty", []byte{}, ErrEmptyRecord},
		{"too large", make([]byte, MaxRecordSize+1), ErrRecordTooLarge},
	}
	for _, tt := range tests {
		if _, err := w.Append(tt.rec); !errors.Is(err, tt.want) {
			t.Errorf("Append(%s record): got %v, want %v", tt.name, err, tt.want)
		}
	}
	// The WAL still works.
	mustAppend(t, w, "ok")
}

func TestGroupCommit(t *testing.T) {
	const writers, perWriter = 8, 500
	dir := t.TempDir()
	w, _, err := replayAll(t, dir, testOptions(nil, SyncAlways))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for g := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if _, err := w.Append(fmt.Appendf(nil, "w%d-%d", g, i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Append: %v", err)
	}
	st := w.Stats()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	const appends = writers * perWriter
	t.Logf("%d appends: %d batches, %d fsyncs", appends, st.Batches, st.Syncs)
	if st.Records != appends {
		t.Errorf("Stats().Records: got %d, want %d", st.Records, appends)
	}
	if st.Syncs >= appends {
		t.Errorf("%d concurrent appends: got %d fsyncs, want fewer than %d", appends, st.Syncs, appends)
	}

	_, got, err := replayAll(t, dir, testOptions(nil, SyncAlways))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != appends {
		t.Fatalf("Replay: got %d records, want %d", len(got), appends)
	}
	next := make([]int, writers) // per writer, the next index expected
	for _, e := range got {
		var g, i int
		if _, err := fmt.Sscanf(e.rec, "w%d-%d", &g, &i); err != nil {
			t.Fatalf("Replay: unexpected record %q", e.rec)
		}
		if i != next[g] {
			t.Fatalf("Replay: got record %q, want w%d-%d", e.rec, g, next[g])
		}
		next[g]++
	}
}

func TestClose(t *testing.T) {
	w, _, err := replayAll(t, t.TempDir(), testOptions(nil, SyncAlways))
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, w, "a")
	if err := w.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
	if _, err := w.Append([]byte("b")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: got %v, want %v", err, ErrClosed)
	}
	if _, err := w.Rotate(); !errors.Is(err, ErrClosed) {
		t.Errorf("Rotate after Close: got %v, want %v", err, ErrClosed)
	}
	if err := w.RemoveBefore(1); !errors.Is(err, ErrClosed) {
		t.Errorf("RemoveBefore after Close: got %v, want %v", err, ErrClosed)
	}
	if err := w.Replay(func(uint64, []byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Replay after Close: got %v, want %v", err, ErrClosed)
	}

	w2, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.Close(); err != nil {
		t.Errorf("Close before Replay: got %v, want nil", err)
	}
}

func TestCloseRacingAppend(t *testing.T) {
	dir := t.TempDir()
	w, _, err := replayAll(t, dir, testOptions(nil, SyncNever))
	if err != nil {
		t.Fatal(err)
	}
	const writers = 8
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked []string
	)
	started := make(chan struct{}, writers)
	for g := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				rec := fmt.Sprintf("w%d-%d", g, i)
				_, err := w.Append([]byte(rec))
				if i == 10 {
					started <- struct{}{}
				}
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Append(%q) racing Close: got %v, want nil or %v", rec, err, ErrClosed)
					return
				}
				mu.Lock()
				acked = append(acked, rec)
				mu.Unlock()
			}
		})
	}
	for range writers {
		<-started
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()

	_, got, err := replayAll(t, dir, testOptions(nil, SyncNever))
	if err != nil {
		t.Fatal(err)
	}
	replayed := make(map[string]bool, len(got))
	for _, e := range got {
		replayed[e.rec] = true
	}
	for _, rec := range acked {
		if !replayed[rec] {
			t.Fatalf("record %q acknowledged before Close is missing from Replay", rec)
		}
	}
}

func TestSegmentName(t *testing.T) {
	tests := []struct {
		name   string
		want   uint64
		wantOK bool
	}{
		{"0000000000000001.wal", 1, true},
		{"0000000000001234.wal", 1234, true},
		{"9999999999999999.wal", 9999999999999999, true},
		{"00000000000000001.wal", 0, false},
		{"0000000000000000.wal", 0, false},
		{"000000000000001.wal", 0, false},
		{"000000000000000a.wal", 0, false},
		{"0000000000000001.wal.tmp", 0, false},
		{"+000000000000001.wal", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseSegmentName(tt.name)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseSegmentName(%q) = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
	if got, want := segmentName(42), "0000000000000042.wal"; got != want {
		t.Errorf("segmentName(42) = %q, want %q", got, want)
	}
}
