package storage

import (
	"context"
	"errors"
	"time"

	"github.com/soltixdb/soltix/model"
)

// What Stats reports of rollup passes and compactions beyond their
// durations: failures, the bytes compactions read and wrote, and how much
// rollup work is pending and for how long.

// RollupStats describes the rollup pipeline (part of Stats).
type RollupStats struct {
	// Passes times the rollup passes (one per flush) that succeeded;
	// Failures counts those that failed (their work stays pending).
	Passes   Histogram
	Failures uint64
	// LastPass is when the last successful pass ended; zero before one.
	LastPass time.Time
	// Pending is the number of buckets per level (model.Level1h and up)
	// written or deleted in and not yet rebuilt: reads answer them from
	// finer data until the next pass.
	Pending map[model.Level]int
	// Lag is how long the oldest pending rollup work has waited: since the
	// write or delete that marked it, or since the start of the pass that
	// left it pending; 0 when none is pending.
	Lag time.Duration
}

// CompactionStats counts compactions (part of Stats; their durations are
// Stats.Compactions).
type CompactionStats struct {
	// Runs counts the compactions of a unit (one collection, group and
	// partition) that merged files and succeeded; Failures those that
	// failed (other than for Close or a cancelled context).
	Runs, Failures uint64
	// BytesIn and BytesOut are the sizes of the local files successful
	// compactions read and wrote.
	BytesIn, BytesOut uint64
}

// compactCount is what one compaction read and wrote.
type compactCount struct {
	ran     bool // it had files to merge
	in, out int64
}

func (t *timings) rolledUp(d time.Duration, end time.Time, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		if !errors.Is(err, ErrClosed) && !errors.Is(err, context.Canceled) {
			t.rollupFailures++
		}
		return
	}
	t.rollups.observe(d)
	t.lastRollup = end
}

func (t *timings) compactDone(c *compactCount, err error) {
	if !c.ran {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		if !errors.Is(err, ErrClosed) && !errors.Is(err, context.Canceled) {
			t.compact.Failures++
		}
		return
	}
	t.compact.Runs++
	t.compact.BytesIn += uint64(c.in)
	t.compact.BytesOut += uint64(c.out)
}

// notePendingRollups, after a rollup pass that started at start, sets
// dirtySince: 0 when no work is pending, else start (what is left was
// marked during the flush). The caller holds mu.
func (db *DB) notePendingRollups(start time.Time) {
	for _, c := range db.colls {
		for _, g := range db.collRollups(c) {
			if len(g.spans) > 0 {
				db.dirtySince = start.UnixNano()
				return
			}
			for l := model.Level1h; l <= model.Level1y; l++ {
				if len(g.dirty[l].keys) > 0 {
					db.dirtySince = start.UnixNano()
					return
				}
			}
		}
	}
	db.dirtySince = 0
}

// rollupPending fills the pending counts and lag of st. The caller holds
// mu (read).
func (db *DB) rollupPending(st *RollupStats) {
	st.Pending = make(map[model.Level]int)
	for _, c := range db.colls {
		for _, g := range db.collRollups(c) {
			for l := model.Level1h; l <= model.Level1y; l++ {
				st.Pending[l] += len(g.dirty[l].keys)
			}
		}
	}
	if db.dirtySince != 0 {
		st.Lag = max(0, time.Since(time.Unix(0, db.dirtySince)))
	}
}
