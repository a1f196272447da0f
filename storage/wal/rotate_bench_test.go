package wal

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkAppendRotating is the write path at a flush's start: two
// writers append 20 KiB records (a 1,000-line batch) with SyncAlways while
// a third goroutine rotates the WAL every 20 appends, as a flush does. It
// reports the Appends' latency quantiles (p50-ms, p99-ms, max-ms) and
// rotate-ms, the mean time a Rotate took: the rotation's cost lands on the
// Appends queued behind it.
func BenchmarkAppendRotating(b *testing.B) {
	w, err := Open(b.TempDir(), testOptions(nil, SyncAlways))
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Replay(func(uint64, []byte) error { return nil }); err != nil {
		b.Fatal(err)
	}
	rec := make([]byte, 20<<10)
	for i := range rec {
		rec[i] = byte(i)
	}
	const writers = 2
	lat := make([][]time.Duration, writers)
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		next      int
		rotations int
		rotating  time.Duration
	)
	b.SetBytes(int64(len(rec)))
	b.ResetTimer()
	for g := range writers {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= b.N {
					return
				}
				if i%20 == 19 {
					start := time.Now()
					if _, err := w.Rotate(); err != nil {
						b.Error(err)
						return
					}
					mu.Lock()
					rotations++
					rotating += time.Since(start)
					mu.Unlock()
				}
				start := time.Now()
				if _, err := w.Append(rec); err != nil {
					b.Error(err)
					return
				}
				lat[g] = append(lat[g], time.Since(start))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / 1e6 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	if rotations > 0 {
		b.ReportMetric(float64(rotating)/float64(rotations)/1e6, "rotate-ms")
	}
}
