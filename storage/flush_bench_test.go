package storage

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/cputime"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/wal"
)

// totalAlloc returns the bytes the process has allocated so far.
func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// BenchmarkFlushDuringLoad writes TSBS cpu-only data (the hosts of
// BenchmarkSeriesMemory: SOLTIX_BENCH_HOSTS, default 10,000, ten integer
// fields each) for 3 minutes at 10 s in six rounds of 30 s, and after
// each round flushes and compacts as the background flusher does during
// a load (units of CompactFiles files). It reports the CPU time and the
// bytes allocated by the flushes and by the compactions, per field
// series: what the 1 M-series load spends in its background work,
// without the HTTP and write path around it. Rollups are off: during a
// load the flushes leave them be (the hour being written is marked again
// by every batch, so its mark is always newer than the flush's cutoff);
// BenchmarkFlushWithRollups measures them.
//
//	SOLTIX_BENCH_HOSTS=10000 go test -run '^$' -bench FlushDuringLoad -benchtime 1x ./storage
func BenchmarkFlushDuringLoad(b *testing.B) {
	hosts := benchHosts(b, 10_000)
	const rounds, stepsPerRound, step, batchLines = 6, 3, 10 * time.Second, 10_000
	ctx := context.Background()
	tags := make([]model.Tags, hosts)
	for h := range tags {
		tags[h] = tsbsHostTags(h)
	}
	var flushCPU, compactCPU time.Duration
	var flushAlloc, compactAlloc uint64
	for range b.N {
		b.StopTimer()
		db, err := Open(b.TempDir(), &Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, MaxMemoryPoints: 1 << 40})
		if err != nil {
			b.Fatal(err)
		}
		if err := db.SetSettings(ctx, "cpu", CollectionSettings{NoRollups: true}); err != nil {
			b.Fatal(err)
		}
		start := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
		batch := make([]model.Point, 0, batchLines)
		write := func() {
			if err := db.Write(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = make([]model.Point, 0, batchLines)
		}
		for r := range rounds {
			for k := r * stepsPerRound; k < (r+1)*stepsPerRound; k++ {
				ts := start + int64(k)*step.Nanoseconds()
				for h := range hosts {
					batch = append(batch, tsbsPoint(tags[h], h, k, ts))
					if len(batch) == batchLines {
						write()
					}
				}
			}
			if len(batch) > 0 {
				write()
			}
			runtime.GC()
			b.StartTimer()
			c0, a0 := cputime.Process(), totalAlloc()
			if err := db.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			c1, a1 := cputime.Process(), totalAlloc()
			if err := db.compact(ctx, db.opts.CompactFiles); err != nil {
				b.Fatal(err)
			}
			c2, a2 := cputime.Process(), totalAlloc()
			b.StopTimer()
			flushCPU += c1 - c0
			flushAlloc += a1 - a0
			compactCPU += c2 - c1
			compactAlloc += a2 - a1
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
	}
	fieldSeries := float64(b.N * hosts * len(tsbsFields))
	b.ReportMetric(flushCPU.Seconds()/float64(b.N), "flush-cpu-s")
	b.ReportMetric(compactCPU.Seconds()/float64(b.N), "compact-cpu-s")
	b.ReportMetric(float64(flushAlloc)/fieldSeries, "flush-B/fseries")
	b.ReportMetric(float64(compactAlloc)/fieldSeries, "compact-B/fseries")
}
