// Flushing memory to colstore files, and the background flusher.

package storage

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
)

// Flush writes everything acknowledged before it was called into colstore
// files and then drops the WAL segments that held it. Concurrent writes go
// on while it runs.
func (db *DB) Flush(ctx context.Context) error {
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	err := db.flushLocked(ctx)
	db.noteFlush(ctx, err)
	return err
}

func (db *DB) flushLocked(ctx context.Context) error {
	start := time.Now()
	// The cut: holding swapMu exclusively means no batch is between its
	// WAL append and its apply, so every record in a segment before the
	// new one is in memory now, and every batch applied after it has its
	// record in the new segment or a later one.
	lockPatiently(&db.swapMu, swapPatience, time.Sleep)
	db.mu.Lock()
	if db.shut {
		db.mu.Unlock()
		db.swapMu.Unlock()
		return ErrClosed
	}
	cutoff := db.rollGen
	db.rollGen++
	// The positions of the applied records in the segments before seg.
	applied := db.positions()
	// The cut is marked in the WAL now; the segment files change after
	// the writers are let go (waiting here held every writer for the
	// flusher's batch in flight and the rotation's fsyncs).
	rotated := db.wal.RotateAsync()
	tombs := append([]*tombstone(nil), db.tombs...)
	db.mu.Unlock()
	db.swapMu.Unlock()
	// Swap: the active generation becomes immutable, series by series,
	// with the writers going on.
	work := db.swapOut()
	seg, err := rotated()
	if err != nil {
		db.unswap(work)
		return fmt.Errorf("rotate wal: %w", err)
	}
	// Live tombstones must outlive the segments about to be removed.
	for _, t := range tombs {
		if _, err := db.wal.Append(appendDelete(nil, t)); err != nil {
			db.unswap(work)
			return fmt.Errorf("carry tombstone over: %w", err)
		}
	}
	if len(work) == 0 {
		if err := db.finishRollups(ctx, cutoff); err != nil {
			return err
		}
		if err := db.saveLastSeqs(applied); err != nil {
			return err
		}
		return db.wal.RemoveBefore(seg)
	}

	written, werr := db.writeImm(ctx, work)
	if werr != nil {
		// Keep the data in memory (and the WAL segments): fold what is
		// left of imm back into the active generation so the next flush
		// tries again. The groups written before the failure are in
		// files: memory wins over files for what is written twice.
		db.unswap(work)
		return werr
	}
	// The WAL holds what marked the rollups dirty until they are rebuilt.
	if err := db.finishRollups(ctx, cutoff); err != nil {
		return err
	}
	// LastSeq and the positions must survive the segments' removal.
	if err := db.saveLastSeqs(applied); err != nil {
		return err
	}
	if err := db.wal.RemoveBefore(seg); err != nil {
		return fmt.Errorf("truncate wal: %w", err)
	}
	took := time.Since(start)
	db.timing.flushed(took, time.Now())
	db.log.Info("flushed", "series", len(work), "files", written, "took", took.Round(time.Millisecond))
	return nil
}

// finishRollups runs the rollup pass of a flush and, the first time,
// records in meta.json that rollups are maintained.
func (db *DB) finishRollups(ctx context.Context, cutoff uint64) error {
	start := time.Now()
	err := db.rollupLocked(ctx, cutoff)
	db.timing.rolledUp(time.Since(start), time.Now(), err)
	if err != nil {
		return err
	}
	db.rebuiltQuarantine(cutoff)
	if !db.rollMeta {
		db.rollMeta = true
		if err := db.saveDirMeta(); err != nil {
			db.rollMeta = false
			return err
		}
	}
	return nil
}

// swapChunk is how many series swapOut visits per hold of mu.
const swapChunk = 2048

// swapOut makes the active memory generation of every series its
// immutable one and returns the series that had one. It takes mu for
// swapChunk series at a time, so writers are not held up for the whole
// walk (40-120 ms at 100,000 series on a busy machine). That is sound
// after the cut (flushLocked): everything the WAL's older segments hold
// was applied before it, so it is in the memory swapOut moves; a batch
// applied after the cut to a series not visited yet moves with it and is
// written to the flush's files too, while its record, in a newer segment,
// is replayed over the file after a crash (memory wins, same values); and
// its rollup marks carry the new generation, so the next pass rebuilds
// them. Points move between the counters series by series.
func (db *DB) swapOut() []*series {
	var work []*series
	n := 0
	db.mu.Lock()
	for _, g := range db.groups {
		g.slabs.next()
	}
	for _, c := range db.colls {
		for _, s := range c.series {
			if s.mem != nil && s.imm == nil {
				pts, b := s.mem.points, s.mem.bytes
				s.imm, s.mem = s.mem, nil
				g := db.groups[s.group]
				db.memPoints -= pts
				db.immPoints += pts
				g.memPoints -= pts
				g.immPoints += pts
				db.memBytes -= b
				db.immBytes += b
				g.memBytes -= b
				g.immBytes += b
				work = append(work, s)
			}
			// The walk goes on over the maps as writers add to them:
			// a series added meanwhile is visited or not, and has
			// only data applied after the cut.
			if n++; n%swapChunk == 0 {
				db.mu.Unlock()
				runtime.Gosched()
				db.mu.Lock()
			}
		}
	}
	db.mu.Unlock()
	return work
}

// swapPatience is how long a flush waits for a moment when no writer is
// between its WAL append and its apply before it queues for swapMu.
const swapPatience = 100 * time.Millisecond

// swapPoll is the interval at which a flush tries swapMu meanwhile.
const swapPoll = 50 * time.Microsecond

// exclusive is the part of a sync.RWMutex lockPatiently uses.
type exclusive interface {
	TryLock() bool
	Lock()
}

// lockPatiently locks mu exclusively. A writer queued on an RWMutex (Lock)
// holds up every new reader until the readers in flight are done: a
// flush's swap made every new batch wait for the batches in their WAL
// fsync and apply (up to 133 ms at 100,000 series on a busy machine). So
// it first tries the lock every swapPoll, letting batches through, which
// leave gaps (a batch is parsed outside the lock), and queues only after
// patience, so a flush cannot be starved by overlapping writers.
func lockPatiently(mu exclusive, patience time.Duration, sleep func(time.Duration)) {
	for waited := time.Duration(0); waited < patience; waited += swapPoll {
		if mu.TryLock() {
			return
		}
		sleep(swapPoll)
	}
	mu.Lock()
}

// unswap folds the immutable generation of each series back into its
// active one after a failed flush.
func (db *DB) unswap(work []*series) {
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, s := range work {
		if s.imm == nil {
			continue
		}
		// The active points are counted in memPoints already.
		gr := db.groups[s.group]
		db.memPoints += s.imm.points
		gr.memPoints += s.imm.points
		if s.mem != nil {
			db.memBytes -= s.mem.bytes
			gr.memBytes -= s.mem.bytes
		}
		if s.mem != nil {
			// The batch sequence numbers keep last-write-wins intact
			// whatever order the values are appended in.
			for i := range s.mem.cols {
				mc := &s.mem.cols[i]
				dst := s.imm.find(mc.name, i)
				if dst == nil {
					s.imm.add(*mc)
					continue
				}
				seqs := mc.seqs()
				col := mc.column()
				for i := 0; i < col.Len(); i++ {
					dst.append(&gr.slabs, col.Times[i], col.Value(i), seqs[i])
				}
			}
			s.imm.points += s.mem.points
		}
		s.mem, s.imm = s.imm, nil
		n := s.mem.recount()
		db.memBytes += n
		gr.memBytes += n
	}
	db.immPoints = 0
	db.immBytes = 0
	for _, g := range db.groups {
		g.immPoints = 0
		g.immBytes = 0
	}
}

// partitionLayout formats the start of a file's partition in its name.
const partitionLayout = "20060102T150405Z"

// partitionFileName names the raw partition of width part holding t by its
// true start, which for the partition holding math.MinInt64 lies before
// the int64 range (1677-09-21T00:00:00Z for a day).
func partitionFileName(t, part int64) string {
	return timex.FloorTime(t, part, 0).Format(partitionLayout)
}

// stopContext returns a context that ends when Close begins (db.stop is
// closed) or cancel is called: background loops stop between units of work.
func (db *DB) stopContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-db.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func (db *DB) flushLoop() {
	defer close(db.done)
	if db.opts.FlushInterval < 0 {
		<-db.stop
		return
	}
	// Background work stops between compaction units once Close begins.
	ctx, cancel := db.stopContext()
	defer cancel()
	// Check memory once a second, or more often for short intervals.
	tick := time.NewTicker(min(time.Second, max(db.opts.FlushInterval/2, 10*time.Millisecond)))
	defer tick.Stop()
	last, lastRetention := time.Now(), time.Now()
	for {
		select {
		case <-db.stop:
			return
		case <-tick.C:
		case <-db.full:
		}
		if time.Since(lastRetention) >= db.opts.RetentionInterval {
			if err := db.EnforceRetention(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
				db.log.Error("dropping expired files failed", "err", err)
			}
			lastRetention = time.Now()
		}
		db.mu.RLock()
		n, due := db.memPoints, db.flushDue()
		pending := db.rollupsPending()
		db.mu.RUnlock()
		if !pending && (n == 0 || (!due && time.Since(last) < db.opts.FlushInterval)) {
			continue
		}
		if err := db.Flush(ctx); err != nil {
			// The flusher retries every tick: log the first failure and
			// then one in 60, not one a second for as long as the disk
			// stays full.
			if n := db.Health().ConsecutiveFlushFailures; n <= 1 || n%60 == 0 {
				db.log.Error("background flush failed; data stays in memory and the WAL", "err", err, "consecutive_failures", n)
			}
		}
		last = time.Now()
		if db.opts.CompactFiles > 0 {
			if err := db.compact(ctx, db.opts.CompactFiles); err != nil && ctx.Err() == nil {
				db.log.Error("background compaction failed; the old files keep serving", "err", err)
			}
		}
	}
}
