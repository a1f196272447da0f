package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/soltixdb/soltix/storage/vfs"
)

// SyncMode says when the WAL fsyncs its segment files.
type SyncMode int

const (
	// SyncAlways fsyncs every batch of records before the Appends in it
	// return. It is the default.
	SyncAlways SyncMode = iota
	// SyncNever never fsyncs: Append returns once the record has been
	// written to the operating system. A machine crash loses acknowledged
	// records. Use it only in tests and benchmarks.
	SyncNever
)

// String returns the name of the sync mode.
func (m SyncMode) String() string {
	switch m {
	case SyncAlways:
		return "always"
	case SyncNever:
		return "never"
	default:
		return fmt.Sprintf("SyncMode(%d)", int(m))
	}
}

// Default option values.
const (
	// DefaultSegmentSize is the default Options.SegmentSize (64 MiB).
	DefaultSegmentSize = 64 << 20
	// DefaultMaxSegmentAge is the default Options.MaxSegmentAge.
	DefaultMaxSegmentAge = 15 * time.Minute
)

// Options configures a WAL. The zero value, like a nil *Options, selects the
// defaults.
type Options struct {
	// SegmentSize is the size at which the current segment is rotated. A
	// batch is never split, so a segment exceeds SegmentSize only when a
	// single batch does not fit in an empty one. Zero means
	// DefaultSegmentSize.
	SegmentSize int64
	// MaxSegmentAge is the age after which a non-empty segment is rotated at
	// the next Append, counted from its first record. Zero means
	// DefaultMaxSegmentAge; a negative value disables rotation by age.
	MaxSegmentAge time.Duration
	// Sync says when segments are fsynced. The default is SyncAlways.
	Sync SyncMode
	// Logger receives warnings about torn tails cut off by Replay. Nil means
	// slog.Default().
	Logger *slog.Logger
	// FS is the filesystem every file operation of the WAL goes through:
	// segment files, directory listing, truncation and removal by Replay,
	// RemoveBefore, and directory fsyncs. Nil means vfs.Default.
	FS vfs.FS
	// Recovery says what Replay does with corruption that is not a torn
	// tail. The default, RecoverStrict, refuses it with a *CorruptionError.
	Recovery Recovery
}

// Recovery is Replay's policy for corruption that is not a torn tail (see
// docs/format-wal.md).
type Recovery int

const (
	// RecoverStrict makes Replay return a *CorruptionError and change no
	// file. It is the default.
	RecoverStrict Recovery = iota
	// RecoverTruncate makes Replay keep the records before the corruption,
	// cut the damaged segment there, remove every later segment, and log at
	// error level how many bytes and intact records it dropped. It is the
	// operator's escape hatch for a WAL RecoverStrict refuses.
	RecoverTruncate
)

// String returns "strict" or "truncate".
func (r Recovery) String() string {
	switch r {
	case RecoverStrict:
		return "strict"
	case RecoverTruncate:
		return "truncate"
	}
	return fmt.Sprintf("Recovery(%d)", int(r))
}

// ParseRecovery parses "strict" or "truncate".
func ParseRecovery(s string) (Recovery, error) {
	switch s {
	case "strict":
		return RecoverStrict, nil
	case "truncate":
		return RecoverTruncate, nil
	}
	return 0, fmt.Errorf("wal recovery must be strict or truncate, not %q", s)
}

var (
	// ErrFailed is wrapped by the errors Append and Rotate return after a
	// write, fsync or rotation error has left the WAL unusable. The WAL must
	// be closed and reopened, which replays what reached the disk.
	ErrFailed = errors.New("wal failed")
	// ErrNoSpace is wrapped (with the filesystem's syscall.ENOSPC) by the
	// errors of the Appends of a batch the disk had no room for. It does
	// not fail the WAL: the batch is cut back off the segment, and later
	// Appends are tried again, so writes resume once space is freed.
	ErrNoSpace = errors.New("wal: no space left on device")
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("wal closed")
	// ErrEmptyRecord is returned by Append for an empty record.
	ErrEmptyRecord = errors.New("wal: empty record")
	// ErrRecordTooLarge is returned by Append for a record larger than
	// MaxRecordSize.
	ErrRecordTooLarge = errors.New("wal: record too large")

	errNotReplayed = errors.New("wal: replay has not completed")
)

// maxSpareBuffer is the largest pending buffer kept for reuse between
// batches; larger ones are left to the garbage collector.
const maxSpareBuffer = 4 << 20

// state is the lifecycle state of a WAL.
type state int

const (
	stateOpen    state = iota // opened; Replay not yet completed
	stateRunning              // replayed; the flusher is running
	stateClosed               // closed
)

// batch is a group of records written and synced together. Every Append whose
// record is in the batch waits on done and then reads seg and err.
type batch struct {
	done chan struct{}
	seg  uint64
	err  error
}

// rotateResult is the answer to a Rotate request.
type rotateResult struct {
	seg uint64
	err error
}

// Stats are cumulative counters of a WAL since Open.
type Stats struct {
	// Records is the number of records written.
	Records int64
	// Batches is the number of group-committed batches written.
	Batches int64
	// Syncs is the number of fsyncs of segment files (batches and
	// rotations).
	Syncs int64
	// Bytes is the number of record bytes written, framing included.
	Bytes int64
	// Rotations is the number of segments started after the first one.
	Rotations int64
	// NoSpace is the number of batches and rotations refused with
	// ErrNoSpace (the disk was full; the WAL went on).
	NoSpace int64
	// SyncDurations times the fsyncs Syncs counts.
	SyncDurations SyncHistogram
}

// WAL is a write-ahead log in a directory. Its methods are safe for
// concurrent use, except Open and Replay (see the package documentation).
type WAL struct {
	dir    string
	opts   Options
	fs     vfs.FS
	logger *slog.Logger

	// now is the clock, a test seam replaced by tests before Replay starts
	// the flusher.
	now func() time.Time

	// lifeMu serialises Replay and Close.
	lifeMu sync.Mutex
	// replayed is set by the first call to Replay; guarded by lifeMu.
	replayed bool
	// segs are the segments found by Open; guarded by lifeMu.
	segs []uint64

	// mu guards the fields below it. Lock order: lifeMu before mu.
	mu      sync.Mutex
	state   state
	err     error  // sticky failure, wraps ErrFailed
	pending []byte // framed records waiting for the flusher
	spare   []byte // a drained pending buffer kept for reuse
	cur     *batch // batch of the records in pending; nil when empty
	nrecs   int    // number of records in pending
	rotates []chan rotateResult
	curSeg  uint64 // number of the segment being written

	wake chan struct{} // capacity 1; poked when there is work
	stop chan struct{} // closed by Close to stop the flusher
	done chan struct{} // closed by the flusher when it exits

	// The current segment. Owned by Replay until it starts the flusher, then
	// by the flusher until it exits, then by Close.
	f          vfs.File
	seg        uint64
	size       int64
	bind       binding   // of the current segment
	firstWrite time.Time // when the first record was written to f
	// spareC delivers the next segment prepared in the background
	// (spare.go); nil when no preparation is under way or waiting.
	spareC chan spare
	// dirPending says a spare was renamed into place since the last
	// directory fsync (spare.go).
	dirPending bool

	records, batches, syncs, bytes, rotations atomic.Int64
	syncTimes                                 syncTimes
	noSpace                                   atomic.Int64 // batches and rotations refused for lack of space
}

// Open opens the WAL in dir, creating the directory if needed. A nil opts
// selects the defaults. Open lists the existing segments but reads no data:
// call Replay before the first Append.
func Open(dir string, opts *Options) (*WAL, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	switch {
	case o.SegmentSize == 0:
		o.SegmentSize = DefaultSegmentSize
	case o.SegmentSize < 0:
		return nil, fmt.Errorf("open wal: invalid segment size %d", o.SegmentSize)
	}
	if o.MaxSegmentAge == 0 {
		o.MaxSegmentAge = DefaultMaxSegmentAge
	}
	if o.Sync != SyncAlways && o.Sync != SyncNever {
		return nil, fmt.Errorf("open wal: invalid sync mode %v", o.Sync)
	}
	if o.Recovery != RecoverStrict && o.Recovery != RecoverTruncate {
		return nil, fmt.Errorf("open wal: invalid recovery %v", o.Recovery)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if err := vfs.MkdirAllSync(o.FS, dir, 0o755); err != nil {
		return nil, fmt.Errorf("create wal dir: %w", err)
	}
	segs, err := listSegments(o.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	return &WAL{
		dir:    dir,
		opts:   o,
		fs:     o.FS,
		logger: o.Logger,
		now:    time.Now,
		segs:   segs,
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}, nil
}

// Dir returns the directory of the WAL.
func (w *WAL) Dir() string { return w.dir }

// Stats returns the WAL's counters.
func (w *WAL) Stats() Stats {
	return Stats{
		Records:       w.records.Load(),
		Batches:       w.batches.Load(),
		Syncs:         w.syncs.Load(),
		Bytes:         w.bytes.Load(),
		Rotations:     w.rotations.Load(),
		NoSpace:       w.noSpace.Load(),
		SyncDurations: w.syncTimes.snapshot(),
	}
}

// Append writes record to the WAL and returns the number of the segment that
// holds it once it is durable: fsynced with SyncAlways, written to the
// operating system with SyncNever. Append copies record before it returns and
// does not keep it. Concurrent Appends are group-committed.
//
// Append rejects empty records (ErrEmptyRecord) and records larger than
// MaxRecordSize (ErrRecordTooLarge) without affecting the WAL. After a write
// or fsync error it returns an error wrapping ErrFailed, and after Close
// ErrClosed.
func (w *WAL) Append(record []byte) (uint64, error) {
	if len(record) == 0 {
		return 0, ErrEmptyRecord
	}
	if len(record) > MaxRecordSize {
		return 0, fmt.Errorf("%w: %d bytes", ErrRecordTooLarge, len(record))
	}
	w.mu.Lock()
	if err := w.usableLocked(); err != nil {
		w.mu.Unlock()
		return 0, err
	}
	b := w.cur
	if b == nil {
		b = &batch{done: make(chan struct{})}
		w.cur = b
	}
	w.pending = appendRecord(w.pending, record)
	w.nrecs++
	w.poke()
	w.mu.Unlock()

	<-b.done
	return b.seg, b.err
}

// Rotate syncs and closes the current segment, starts the next one and
// returns its number. Every record appended after Rotate returns is in a
// segment numbered at least that; records whose Append runs concurrently with
// Rotate may land in either segment.
func (w *WAL) Rotate() (uint64, error) {
	return w.RotateAsync()()
}

// RotateAsync asks for a rotation as Rotate does, but returns at once,
// without waiting for the flusher; wait blocks until the rotation is done
// and returns what Rotate would have. Every record appended after
// RotateAsync returns is in the new segment or a later one, and every
// record whose Append returned before it was called in an earlier one. A
// caller can thus mark a cut in the log while holding a lock its writers
// need, and wait for the files to change after releasing it.
func (w *WAL) RotateAsync() (wait func() (uint64, error)) {
	w.mu.Lock()
	if err := w.usableLocked(); err != nil {
		w.mu.Unlock()
		return func() (uint64, error) { return 0, err }
	}
	c := make(chan rotateResult, 1)
	w.rotates = append(w.rotates, c)
	w.poke()
	w.mu.Unlock()

	return func() (uint64, error) {
		r := <-c
		c <- r // a second call returns the same
		return r.seg, r.err
	}
}

// RemoveBefore deletes every segment numbered below n, oldest first, and then
// fsyncs the directory. n must not be above the current segment's number, so
// that the segment being written is never removed. An error leaves the WAL
// usable and the remaining segments contiguous; the call can be repeated.
func (w *WAL) RemoveBefore(n uint64) error {
	w.mu.Lock()
	if err := w.usableLocked(); err != nil && !errors.Is(err, ErrFailed) {
		w.mu.Unlock()
		return err
	}
	cur := w.curSeg
	w.mu.Unlock()
	if n > cur {
		return fmt.Errorf("remove segments before %d: current segment is %d", n, cur)
	}

	segs, err := listSegments(w.fs, w.dir)
	if err != nil {
		return fmt.Errorf("remove segments: %w", err)
	}
	removed := false
	for _, s := range segs {
		if s >= n {
			break
		}
		err := w.fs.Remove(filepath.Join(w.dir, segmentName(s)))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove segment %d: %w", s, err)
		}
		removed = true
	}
	if !removed {
		return nil
	}
	if err := syncDir(w.fs, w.dir); err != nil {
		return fmt.Errorf("remove segments: %w", err)
	}
	return nil
}

// Close stops the flusher after it has written every record already passed
// to Append, then syncs (with SyncAlways, unless the WAL has failed) and
// closes the current segment. It returns every error it meets, joined.
// Calling Close again returns nil. Methods called after Close return
// ErrClosed.
func (w *WAL) Close() error {
	w.lifeMu.Lock()
	defer w.lifeMu.Unlock()

	w.mu.Lock()
	prev := w.state
	w.state = stateClosed
	w.mu.Unlock()
	switch prev {
	case stateClosed:
		return nil
	case stateRunning:
		close(w.stop)
		<-w.done
	}

	if w.f == nil {
		return nil
	}
	w.mu.Lock()
	failed := w.err != nil
	w.mu.Unlock()
	var errs []error
	// After a failure the file's state is unknown; don't sync it again.
	if !failed && w.opts.Sync == SyncAlways {
		if err := w.syncSegment(); err != nil {
			errs = append(errs, fmt.Errorf("sync segment %d: %w", w.seg, err))
		} else {
			w.syncs.Add(1)
		}
		if err := w.syncPendingDir(); err != nil {
			errs = append(errs, fmt.Errorf("segment %d: %w", w.seg, err))
		}
	}
	if err := w.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close segment %d: %w", w.seg, err))
	}
	w.f = nil
	if err := w.dropSpare(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// usableLocked returns the error that Append and Rotate return in the
// current state, or nil if they may proceed. w.mu must be held.
func (w *WAL) usableLocked() error {
	switch {
	case w.state == stateClosed:
		return ErrClosed
	case w.state == stateOpen:
		return errNotReplayed
	case w.err != nil:
		return w.err
	}
	return nil
}

// poke wakes the flusher without blocking.
func (w *WAL) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// start makes the segment that Replay opened current and starts the flusher.
// It is called by Replay with lifeMu held.
func (w *WAL) start() {
	w.mu.Lock()
	w.state = stateRunning
	w.curSeg = w.seg
	w.mu.Unlock()
	go w.run()
}

// run is the flusher goroutine. Replay starts it; it exits when Close closes
// w.stop, after writing whatever is still pending.
func (w *WAL) run() {
	defer close(w.done)
	for {
		select {
		case <-w.wake:
			w.flush()
		case <-w.stop:
			// Close has set stateClosed under mu, so nothing new can be
			// queued: one last flush drains everything.
			w.flush()
			return
		}
	}
}

// flush handles the pending rotation requests and then writes the pending
// records as one batch.
func (w *WAL) flush() {
	w.mu.Lock()
	buf, b, nrecs, rotates := w.pending, w.cur, w.nrecs, w.rotates
	w.pending, w.spare, w.cur, w.nrecs, w.rotates = w.spare[:0], nil, nil, 0, nil
	failed := w.err
	w.mu.Unlock()

	// Rotations go first, so that records pending when Rotate was called are
	// kept in the new segment rather than in one that RemoveBefore may delete.
	if len(rotates) > 0 {
		var r rotateResult
		if failed == nil {
			if err := w.rotate(); err != nil {
				if errors.Is(err, syscall.ENOSPC) && w.f != nil {
					// The current segment is untouched: this rotation
					// fails, the WAL goes on.
					w.noSpace.Add(1)
					r.err = fmt.Errorf("rotate segment %d: %w: %w", w.seg, ErrNoSpace, err)
				} else {
					failed = w.fail(fmt.Errorf("rotate segment %d: %w", w.seg, err))
				}
			}
		}
		r.seg = w.seg
		if failed != nil {
			r.err = failed
		}
		if r.err != nil {
			r.seg = 0
		}
		for _, c := range rotates {
			c <- r
		}
	}
	if b == nil {
		return
	}
	if failed == nil {
		failed = w.write(buf, nrecs)
	}
	b.seg, b.err = w.seg, failed
	if failed != nil {
		b.seg = 0
	}
	close(b.done)

	if cap(buf) <= maxSpareBuffer {
		w.mu.Lock()
		w.spare = buf[:0]
		w.mu.Unlock()
	}
}

// write rotates the current segment if it is too big or too old, then writes
// and (with SyncAlways) fsyncs buf, which holds nrecs framed records. It
// returns nil or the WAL's failure.
func (w *WAL) write(buf []byte, nrecs int) error {
	now := w.now()
	if w.size > int64(segmentHeaderSize) {
		tooBig := w.size+int64(len(buf)) > w.opts.SegmentSize
		tooOld := w.opts.MaxSegmentAge > 0 && now.Sub(w.firstWrite) >= w.opts.MaxSegmentAge
		if tooBig || tooOld {
			if err := w.rotate(); err != nil {
				if errors.Is(err, syscall.ENOSPC) && w.f != nil {
					w.noSpace.Add(1)
					return fmt.Errorf("rotate segment %d: %w: %w", w.seg, ErrNoSpace, err)
				}
				return w.fail(fmt.Errorf("rotate segment %d: %w", w.seg, err))
			}
		}
	}
	if w.size == int64(segmentHeaderSize) {
		w.firstWrite = now
	}

	start := w.size
	bindRecords(buf, w.bind, start)
	n, err := w.f.Write(buf)
	w.size += int64(n)
	if err == nil && n < len(buf) {
		err = fmt.Errorf("short write of %d of %d bytes", n, len(buf))
	}
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) && w.undoNoSpace(start, n) {
			w.noSpace.Add(1)
			return fmt.Errorf("write segment %d: %w: %w", w.seg, ErrNoSpace, err)
		}
		err = w.fail(fmt.Errorf("write segment %d: %w", w.seg, err))
		if n > 0 {
			w.dropPartial(start)
		}
		return err
	}
	if w.opts.Sync == SyncAlways {
		if err := w.syncSegment(); err != nil {
			return w.fail(fmt.Errorf("sync segment %d: %w", w.seg, err))
		}
		w.syncs.Add(1)
		// The first batch in a segment made from a spare makes its
		// name durable before it is acknowledged.
		if err := w.syncPendingDir(); err != nil {
			return w.fail(fmt.Errorf("segment %d: %w", w.seg, err))
		}
	}
	w.records.Add(int64(nrecs))
	w.batches.Add(1)
	w.bytes.Add(int64(len(buf)))
	return nil
}

// dropPartial cuts the current segment back to size, its size before a
// batch whose write failed part way, so that the records of the failed batch
// that were written in full are not replayed although their Appends failed.
// The torn record after them would be cut by Replay anyway. It is best
// effort: the WAL has already failed, and if the truncation does not reach
// the disk before a crash, Replay may return records of the failed batch.
func (w *WAL) dropPartial(size int64) {
	err := w.f.Truncate(size)
	if err == nil && w.opts.Sync == SyncAlways {
		err = w.f.Sync()
	}
	if err != nil {
		w.logger.Error("wal: cannot drop partly written batch", "dir", w.dir,
			"segment", w.seg, "offset", size, "err", err)
		return
	}
	w.size = size
}

// undoNoSpace puts the current segment back as it was before a batch whose
// write stopped for lack of space after n of its bytes (start is the
// segment's size before it), so that the WAL need not fail: with n == 0
// nothing changed; otherwise the segment is cut back to start (synced with
// SyncAlways) and reopened for appending, since the write offset is past
// the cut. It reports whether the segment is whole again; false leaves
// the WAL to fail.
func (w *WAL) undoNoSpace(start int64, n int) bool {
	w.size = start
	if n == 0 {
		return true
	}
	err := w.f.Truncate(start)
	if err == nil && w.opts.Sync == SyncAlways {
		err = w.f.Sync()
	}
	var f vfs.File
	if err == nil {
		f, err = w.fs.OpenFile(filepath.Join(w.dir, segmentName(w.seg)), os.O_WRONLY|os.O_APPEND, 0)
	}
	if err != nil {
		w.logger.Error("wal: cannot cut back a batch the disk had no room for", "dir", w.dir, "segment", w.seg, "err", err)
		w.size = start + int64(n)
		return false
	}
	if err := w.f.Close(); err != nil {
		w.logger.Warn("wal: close segment after cutting a batch", "dir", w.dir, "segment", w.seg, "err", err)
	}
	w.f = f
	return true
}

// rotate starts the next segment and closes the current one. It is called
// by the flusher only. With a spare prepared (spare.go) the spare becomes
// the next segment, without an fsync: every batch in the current one was
// synced when it was written. Otherwise it syncs the current segment and
// creates the next one; when that fails (no space, say) the current one
// stays open and current, and the half-made next one is removed. w.f is
// nil afterwards only when closing the current segment failed. A
// successful rotation starts preparing the spare for the next one.
func (w *WAL) rotate() error {
	next := w.seg + 1
	var (
		f    vfs.File
		bind binding
		err  error
	)
	if s, ok := w.takeSpare(); ok {
		f, bind, err = w.useSpare(s, next)
	} else {
		if w.opts.Sync == SyncAlways {
			if err := w.syncSegment(); err != nil {
				return fmt.Errorf("sync: %w", err)
			}
			w.syncs.Add(1)
		}
		f, bind, err = createSegment(w.fs, w.dir, next, w.opts.Sync == SyncAlways)
	}
	if err != nil {
		if rerr := w.fs.Remove(filepath.Join(w.dir, segmentName(next))); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			w.logger.Warn("wal: cannot remove a segment it could not start", "dir", w.dir, "segment", next, "err", rerr)
		}
		return fmt.Errorf("start segment %d: %w", next, err)
	}
	err = w.f.Close()
	w.f = nil
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("close: %w", err)
	}
	w.f, w.seg, w.size, w.bind = f, next, int64(segmentHeaderSize), bind
	w.rotations.Add(1)
	w.mu.Lock()
	w.curSeg = next
	w.mu.Unlock()
	w.prepareSpare()
	return nil
}

// Err returns the error that failed the WAL (it wraps ErrFailed), or nil
// while the WAL works.
func (w *WAL) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// fail records err as the WAL's sticky failure and returns the failure. Only
// the first failure is kept.
func (w *WAL) fail(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = fmt.Errorf("%w: %w", ErrFailed, err)
		w.logger.Error("wal failed", "dir", w.dir, "err", err)
	}
	return w.err
}
