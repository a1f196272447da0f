package storage

import (
	"sync"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/wal"
)

// DurationBuckets are the upper bounds, in seconds, of the flush and
// compaction duration histograms of Stats.
var DurationBuckets = []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300}

// Histogram counts durations in DurationBuckets.
type Histogram struct {
	// Counts[i] is the number of durations ≤ DurationBuckets[i] (cumulative,
	// as Prometheus exposes them); Count includes the ones above the last
	// bound.
	Counts []uint64
	// Count is the number of durations observed, Sum their total in seconds.
	Count uint64
	Sum   float64
}

// Stats is a snapshot of the state of storage, for monitoring.
type Stats struct {
	// MemoryPoints is the number of field values written but not yet
	// flushed to files (the active memory generation and the one being
	// flushed).
	MemoryPoints int
	// Series is the number of series of every collection.
	Series int
	// WALSegments and WALBytes count the WAL's segment files and their size
	// on disk. WALError is set when they could not be read.
	WALSegments int
	WALBytes    int64
	WALError    error
	// Files is the number of open data files by level: raw
	// (model.LevelRaw) and each rollup level.
	Files map[model.Level]int
	// Flushes and Compactions time the flushes and the compactions (of one
	// collection, group and partition each) that succeeded.
	Flushes     Histogram
	Compactions Histogram
	// LastFlush is when the last successful flush ended; zero before one.
	LastFlush time.Time
	// WALSyncs times the WAL's fsyncs of its segment files.
	WALSyncs wal.SyncHistogram
	// Rollups and Compaction describe the rollup pipeline and the
	// compactions (obs.go).
	Rollups    RollupStats
	Compaction CompactionStats
}

// timings records how long flushes and compactions take.
type timings struct {
	mu          sync.Mutex
	flushes     Histogram
	compactions Histogram
	lastFlush   time.Time
	// rollups times the successful rollup passes (obs.go).
	rollups        Histogram
	rollupFailures uint64
	lastRollup     time.Time
	compact        CompactionStats
}

// observe adds a duration to h.
func (h *Histogram) observe(d time.Duration) {
	if h.Counts == nil {
		h.Counts = make([]uint64, len(DurationBuckets))
	}
	sec := d.Seconds()
	for i, ub := range DurationBuckets {
		if sec <= ub {
			h.Counts[i]++
		}
	}
	h.Count++
	h.Sum += sec
}

// clone returns a copy of h that shares no memory with it.
func (h Histogram) clone() Histogram {
	h.Counts = append(make([]uint64, 0, len(DurationBuckets)), h.Counts...)
	for len(h.Counts) < len(DurationBuckets) {
		h.Counts = append(h.Counts, 0)
	}
	return h
}

func (t *timings) flushed(d time.Duration, end time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.flushes.observe(d)
	t.lastFlush = end
}

func (t *timings) compacted(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.compactions.observe(d)
}

// Stats returns a snapshot of the state of storage. It reads the WAL
// directory and walks the in-memory index, so it costs about as much as
// the number of series; it is meant for a metrics scrape, not a hot path.
func (db *DB) Stats() Stats {
	st := Stats{Files: make(map[model.Level]int)}
	db.timing.mu.Lock()
	st.Flushes = db.timing.flushes.clone()
	st.Compactions = db.timing.compactions.clone()
	st.LastFlush = db.timing.lastFlush
	st.Rollups.Passes = db.timing.rollups.clone()
	st.Rollups.Failures = db.timing.rollupFailures
	st.Rollups.LastPass = db.timing.lastRollup
	st.Compaction = db.timing.compact
	db.timing.mu.Unlock()

	db.mu.RLock()
	db.rollupPending(&st.Rollups)
	st.MemoryPoints = db.memPoints + db.immPoints
	seen := make(map[*dataFile]bool)
	for _, c := range db.colls {
		st.Series += len(c.series)
		for _, s := range c.series {
			for _, fs := range s.files {
				if !seen[fs.f] {
					seen[fs.f] = true
					st.Files[model.LevelRaw]++
				}
			}
		}
		for _, g := range db.collRollups(c) {
			for l, files := range g.files {
				if l > 0 {
					st.Files[model.Level(l)] += len(files)
				}
			}
		}
	}
	db.mu.RUnlock()

	st.WALSegments, st.WALBytes, st.WALError = db.wal.DiskUsage()
	st.WALSyncs = db.wal.Stats().SyncDurations
	return st
}
