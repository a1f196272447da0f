package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrBackpressure is returned (wrapped) by Write when memory stayed over its
// bound (see Health.MemoryLimit) for Options.WriteStallTimeout or until the
// write's context ended: nothing of the batch was written, and the client
// should retry later. It means flushes are failing or far behind.
var ErrBackpressure = errors.New("write refused: memory is full")

// Memory bounds, as multiples of Options.MaxMemoryPoints: writes wait once
// memory (the active generation and the one being flushed) holds
// stallFailing times it while the last flush failed, or stallSlow times it
// whatever the reason (a flush far slower than ingest). In bytes, the
// flusher starts at half the memory budget (flushDue), and writes wait at
// all of it, half of it while flushes fail.
const (
	stallFailing = 2
	stallSlow    = 4
)

// healthState is the DB's record of failures, for Health.
type healthState struct {
	mu               sync.Mutex
	lastFlushErr     error
	lastFlushErrTime time.Time
	lastFlushTime    time.Time
	consecutive      int

	flushFailures atomic.Uint64
	walErrors     atomic.Uint64
	stalls        atomic.Uint64
	refused       atomic.Uint64
	diskFull      atomic.Uint64
}

// Health is a snapshot of the storage engine's state: what stops it taking
// writes and the failures counted since Open.
type Health struct {
	// WALError is the error that failed the WAL, or nil. Once set, every
	// write fails with ErrUnavailable until the process restarts.
	WALError error
	// LastFlushError is the error of the most recent failed flush, and
	// LastFlushErrorTime when it happened (zero if none failed).
	LastFlushError     error
	LastFlushErrorTime time.Time
	// LastFlushTime is when a flush last succeeded (zero if none has).
	LastFlushTime time.Time
	// ConsecutiveFlushFailures counts the flushes that failed since the
	// last one that succeeded.
	ConsecutiveFlushFailures int
	// MemoryPoints is the number of field values in memory, flushed or
	// not yet; MemoryLimit the number at which writes start to wait
	// (2 × MaxMemoryPoints while flushes fail, 4 × otherwise).
	MemoryPoints, MemoryLimit, MaxMemoryPoints int
	// MemoryBytes is the estimated bytes of the values in memory, flushed
	// or not yet, and IndexBytes of the series index; MemoryBytesLimit the
	// bytes of values at which writes wait (Options.MaxMemoryBytes less
	// the index, at least an eighth of it; half that while flushes fail;
	// math.MaxInt without a bound in bytes), MaxMemoryBytes the setting.
	MemoryBytes, IndexBytes, MemoryBytesLimit int
	MaxMemoryBytes                            int64
	// FlushFailures, WALErrors, WriteStalls and WritesRefused count, since
	// Open: failed flushes; writes and flushes that failed in the WAL;
	// writes that had to wait for memory; and writes refused with
	// ErrBackpressure after waiting.
	FlushFailures, WALErrors, WriteStalls, WritesRefused uint64
	// DiskFull counts, since Open, the writes refused and the flushes
	// failed because the disk was full (ENOSPC). Neither fails the WAL:
	// writes resume by themselves once space is freed.
	DiskFull uint64
}

// Unwritable returns why the DB cannot take writes now, or nil: the WAL
// has failed, or memory is over its bound (writes wait and then fail with
// ErrBackpressure).
func (h Health) Unwritable() error {
	switch {
	case h.WALError != nil:
		return fmt.Errorf("wal failed, writes are refused until restart: %w", h.WALError)
	case h.MemoryPoints >= h.MemoryLimit && h.LastFlushError != nil && h.ConsecutiveFlushFailures > 0:
		return fmt.Errorf("memory holds %d values, over the write bound of %d (storage.max_memory_points %d) because %d flushes failed; last: %w",
			h.MemoryPoints, h.MemoryLimit, h.MaxMemoryPoints, h.ConsecutiveFlushFailures, h.LastFlushError)
	case h.MemoryPoints >= h.MemoryLimit:
		return fmt.Errorf("memory holds %d values, over the write bound of %d (storage.max_memory_points %d)",
			h.MemoryPoints, h.MemoryLimit, h.MaxMemoryPoints)
	case h.MemoryBytes >= h.MemoryBytesLimit && h.LastFlushError != nil && h.ConsecutiveFlushFailures > 0:
		return fmt.Errorf("values in memory take %s, over the write bound of %s (storage.max_memory_bytes %s, series index %s) because %d flushes failed; last: %w",
			mib(h.MemoryBytes), mib(h.MemoryBytesLimit), mib(int(h.MaxMemoryBytes)), mib(h.IndexBytes), h.ConsecutiveFlushFailures, h.LastFlushError)
	case h.MemoryBytes >= h.MemoryBytesLimit:
		return fmt.Errorf("values in memory take %s, over the write bound of %s (storage.max_memory_bytes %s, series index %s)",
			mib(h.MemoryBytes), mib(h.MemoryBytesLimit), mib(int(h.MaxMemoryBytes)), mib(h.IndexBytes))
	}
	return nil
}

// mib formats bytes in MiB for messages.
func mib(n int) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// Health returns the DB's current state. It is cheap and safe for
// concurrent use.
func (db *DB) Health() Health {
	var h Health
	if db.wal != nil {
		h.WALError = db.wal.Err()
	}
	db.health.mu.Lock()
	h.LastFlushError = db.health.lastFlushErr
	h.LastFlushErrorTime = db.health.lastFlushErrTime
	h.LastFlushTime = db.health.lastFlushTime
	h.ConsecutiveFlushFailures = db.health.consecutive
	db.health.mu.Unlock()
	db.mu.RLock()
	h.MemoryPoints = db.memPoints + db.immPoints
	h.MemoryBytes, h.IndexBytes = db.memBytes+db.immBytes, db.idxBytes
	h.MemoryBytesLimit = db.memoryBytesLimit(h.ConsecutiveFlushFailures > 0)
	db.mu.RUnlock()
	h.MemoryLimit = db.memoryLimit(h.ConsecutiveFlushFailures > 0)
	h.MaxMemoryPoints = db.opts.MaxMemoryPoints
	h.MaxMemoryBytes = db.opts.MaxMemoryBytes
	h.FlushFailures = db.health.flushFailures.Load()
	h.WALErrors = db.health.walErrors.Load()
	h.WriteStalls = db.health.stalls.Load()
	h.WritesRefused = db.health.refused.Load()
	h.DiskFull = db.health.diskFull.Load()
	return h
}

// memoryLimit returns the number of values in memory at which writes wait.
func (db *DB) memoryLimit(failing bool) int {
	f := stallSlow
	if failing {
		f = stallFailing
	}
	if db.opts.MaxMemoryPoints > math.MaxInt/f {
		return math.MaxInt
	}
	return db.opts.MaxMemoryPoints * f
}

// memoryBytesLimit returns the bytes of values in memory at which writes
// wait. The caller holds mu.
func (db *DB) memoryBytesLimit(failing bool) int {
	b := db.memoryBudget()
	if b == math.MaxInt {
		return b
	}
	if failing {
		return b / 2
	}
	return b
}

// overMemory reports whether memory is at or over its bound, in values or
// in bytes, with the channel that is closed when that may have changed.
func (db *DB) overMemory() (over bool, changed <-chan struct{}) {
	db.health.mu.Lock()
	failing := db.health.consecutive > 0
	db.health.mu.Unlock()
	limit := db.memoryLimit(failing)
	db.mu.RLock()
	defer db.mu.RUnlock()
	over = db.memPoints+db.immPoints >= limit || db.memBytes+db.immBytes >= db.memoryBytesLimit(failing)
	return over, db.memChanged
}

// waitForMemory makes a write wait while memory is over its bound, until a
// flush frees it, the write's context ends or WriteStallTimeout passes;
// then it fails with ErrBackpressure.
func (db *DB) waitForMemory(ctx context.Context) error {
	over, changed := db.overMemory()
	if !over {
		return nil
	}
	db.health.stalls.Add(1)
	select { // have the flusher try now
	case db.full <- struct{}{}:
	default:
	}
	var timeout <-chan time.Time
	if d := db.opts.WriteStallTimeout; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	} else {
		c := make(chan time.Time)
		close(c)
		timeout = c
	}
	for {
		select {
		case <-changed:
		case <-ctx.Done():
			db.health.refused.Add(1)
			return fmt.Errorf("%w (while waiting for a flush): %w", ErrBackpressure, ctx.Err())
		case <-timeout:
			db.health.refused.Add(1)
			if err := db.Health().Unwritable(); err != nil {
				return fmt.Errorf("%w: %w", ErrBackpressure, err)
			}
			return ErrBackpressure
		}
		if over, changed = db.overMemory(); !over {
			return nil
		}
		db.mu.RLock()
		closed := db.closed
		db.mu.RUnlock()
		if closed {
			return ErrClosed
		}
	}
}

// noteFlush records the outcome of a flush and wakes the writes waiting
// for memory.
func (db *DB) noteFlush(ctx context.Context, err error) {
	switch {
	case err == nil:
		db.health.mu.Lock()
		db.health.consecutive = 0
		db.health.lastFlushTime = time.Now()
		db.health.mu.Unlock()
	case errors.Is(err, ErrClosed) || ctx.Err() != nil:
		// Shutting down or cancelled: not a failure of the disk.
	default:
		db.health.flushFailures.Add(1)
		if errors.Is(err, syscall.ENOSPC) {
			db.health.diskFull.Add(1)
		}
		if db.wal.Err() != nil {
			db.health.walErrors.Add(1)
		}
		db.health.mu.Lock()
		db.health.consecutive++
		db.health.lastFlushErr = err
		db.health.lastFlushErrTime = time.Now()
		db.health.mu.Unlock()
	}
	db.wakeWriters()
}

// wakeWriters wakes the writes waiting for memory to look again.
func (db *DB) wakeWriters() {
	db.mu.Lock()
	close(db.memChanged)
	db.memChanged = make(chan struct{})
	db.mu.Unlock()
}
