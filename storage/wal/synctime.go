package wal

import (
	"sync/atomic"
	"time"
)

// SyncBuckets are the upper bounds, in seconds, of the fsync latency
// histogram of Stats.SyncDurations: from a tenth of a millisecond (a fast
// SSD) to seconds (a disk in trouble).
var SyncBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// SyncHistogram counts fsync durations in SyncBuckets.
type SyncHistogram struct {
	// Counts[i] is the number of fsyncs that took at most SyncBuckets[i]
	// seconds (cumulative, as Prometheus exposes them); Count includes
	// those above the last bound.
	Counts []uint64
	// Count is the number of fsyncs timed, Sum their total in seconds.
	Count uint64
	Sum   float64
}

// syncTimes records fsync durations. It is safe for concurrent use.
type syncTimes struct {
	counts [16]atomic.Uint64 // per bucket, not cumulative; last: above every bound
	count  atomic.Uint64
	nanos  atomic.Int64
}

func (s *syncTimes) observe(d time.Duration) {
	sec := d.Seconds()
	i := 0
	for i < len(SyncBuckets) && sec > SyncBuckets[i] {
		i++
	}
	s.counts[i].Add(1)
	s.nanos.Add(int64(d))
	s.count.Add(1)
}

func (s *syncTimes) snapshot() SyncHistogram {
	h := SyncHistogram{Counts: make([]uint64, len(SyncBuckets))}
	var cum uint64
	for i := range SyncBuckets {
		cum += s.counts[i].Load()
		h.Counts[i] = cum
	}
	h.Count = cum + s.counts[len(SyncBuckets)].Load()
	h.Sum = time.Duration(s.nanos.Load()).Seconds()
	return h
}

// syncSegment fsyncs the current segment and times it (failed fsyncs
// included: a disk that fails slowly shows).
func (w *WAL) syncSegment() error {
	start := time.Now()
	err := w.f.Sync()
	w.syncTimes.observe(time.Since(start))
	return err
}
