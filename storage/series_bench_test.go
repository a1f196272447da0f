package storage

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/cputime"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/wal"
)

// tsbsHostTags returns the ten tags TSBS cpu-only gives host h, sorted by
// key, with values of the lengths TSBS's generator uses.
func tsbsHostTags(h int) model.Tags {
	regions := []string{"us-east-1", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"}
	r := regions[h%len(regions)]
	return model.Tags{
		{Key: "arch", Value: []string{"x64", "x86"}[h%2]},
		{Key: "datacenter", Value: r + string(rune('a'+h%3))},
		{Key: "hostname", Value: "host_" + strconv.Itoa(h)},
		{Key: "os", Value: []string{"Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"}[h%3]},
		{Key: "rack", Value: strconv.Itoa(h % 100)},
		{Key: "region", Value: r},
		{Key: "service", Value: strconv.Itoa(h % 20)},
		{Key: "service_environment", Value: []string{"production", "staging", "test"}[h%3]},
		{Key: "service_version", Value: strconv.Itoa(h % 2)},
		{Key: "team", Value: []string{"SF", "NYC", "LON", "CHI"}[h%4]},
	}
}

var tsbsFields = []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
	"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}

// heapObjects returns the bytes of live and not yet swept heap objects,
// read without stopping the world.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	return heapObjects()
}

// writeHeapProfile writes a heap profile to $SOLTIX_BENCH_HEAPPROF.name
// when that variable is set.
func writeHeapProfile(b *testing.B, name string) {
	prefix := os.Getenv("SOLTIX_BENCH_HEAPPROF")
	if prefix == "" {
		return
	}
	f, err := os.Create(prefix + "." + name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSeriesMemory writes TSBS cpu-only data for many hosts (each a
// series of ten tags and ten integer fields, so hosts × 10 field series)
// for 3 minutes at 10 s, in 10,000-line batches across hosts as TSBS's
// loader sends them, then flushes. It reports the live heap per series
// (per tag set, and per field series: hosts × 10) while the data is in
// memory (active) and after the flush (idle: only the index remains), the
// heap's peak, and how long the flush took. SOLTIX_BENCH_HOSTS sets the
// hosts (default 10,000; 100,000 is the 1 M-series set of docs/benchmarks.md).
//
//	SOLTIX_BENCH_HOSTS=100000 go test -run '^$' -bench SeriesMemory -benchtime 1x ./storage
func BenchmarkSeriesMemory(b *testing.B) {
	hosts := benchHosts(b, 10_000)
	const steps, step, batchLines = 18, 10 * time.Second, 10_000
	ctx := context.Background()
	tags := make([]model.Tags, hosts)
	for h := range tags {
		tags[h] = tsbsHostTags(h)
	}
	for range b.N {
		b.StopTimer()
		base := liveHeap()
		var peak atomic.Uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				if h := heapObjects(); h > peak.Load() {
					peak.Store(h)
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		})
		db, err := Open(b.TempDir(), &Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, MaxMemoryPoints: 1 << 40})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
		batch := make([]model.Point, 0, batchLines)
		values := 0
		b.StartTimer()
		t0 := time.Now()
		for k := range steps {
			ts := start + int64(k)*step.Nanoseconds()
			for h := range hosts {
				batch = append(batch, tsbsPoint(tags[h], h, k, ts))
				if len(batch) == batchLines {
					if err := db.Write(ctx, batch); err != nil {
						b.Fatal(err)
					}
					values += len(batch) * len(tsbsFields)
					batch = make([]model.Point, 0, batchLines)
				}
			}
		}
		if len(batch) > 0 {
			if err := db.Write(ctx, batch); err != nil {
				b.Fatal(err)
			}
			values += len(batch) * len(tsbsFields)
		}
		batch = nil
		load := time.Since(t0)
		b.StopTimer()
		active := liveHeap() - base
		db.mu.RLock()
		estValues, estIndex := db.memBytes+db.immBytes, db.idxBytes
		db.mu.RUnlock()
		writeHeapProfile(b, "active")
		b.StartTimer()
		t1, c1 := time.Now(), cputime.Process()
		if err := db.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		flush, flushCPU := time.Since(t1), cputime.Process()-c1
		b.StopTimer()
		idle := liveHeap() - base
		writeHeapProfile(b, "idle")
		close(stop)
		wg.Wait()
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		fieldSeries := float64(hosts * len(tsbsFields))
		b.ReportMetric(float64(values)/load.Seconds(), "values/s")
		b.ReportMetric(flush.Seconds(), "flush-s")
		b.ReportMetric(flushCPU.Seconds(), "flush-cpu-s")
		b.ReportMetric(float64(active)/fieldSeries, "active-B/fseries")
		// The memory bound's estimate of the same (membytes.go).
		b.ReportMetric(float64(estValues+estIndex)/fieldSeries, "est-B/fseries")
		b.ReportMetric(float64(estIndex)/fieldSeries, "est-index-B/fseries")
		b.ReportMetric(float64(idle)/fieldSeries, "idle-B/fseries")
		b.ReportMetric(float64(idle)/float64(hosts), "idle-B/tagset")
		b.ReportMetric(float64(peak.Load()-min(peak.Load(), base))/(1<<20), "peak-heap-MiB")
		fmt.Fprintf(os.Stderr, "hosts %d: load %v, flush %v, active %d B, idle %d B\n", hosts, load.Round(time.Millisecond), flush.Round(time.Millisecond), active, idle)
	}
}

// benchHosts returns the hosts a benchmark of TSBS cpu-only tag sets
// writes: SOLTIX_BENCH_HOSTS when set, def otherwise.
func benchHosts(b *testing.B, def int) int {
	v := os.Getenv("SOLTIX_BENCH_HOSTS")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("SOLTIX_BENCH_HOSTS=%q: want a positive integer", v)
	}
	return n
}

// tsbsPoint returns host h's point of step k at ts: TSBS cpu-only's ten
// integer fields, with values the benchmarks derive from h, the field
// and k.
func tsbsPoint(tags model.Tags, h, k int, ts int64) model.Point {
	fs := make([]model.Field, len(tsbsFields))
	for f, name := range tsbsFields {
		fs[f] = model.Field{Key: name, Value: model.Int(int64((h*7 + f*13 + k*3) % 100))}
	}
	return model.Point{Collection: "cpu", Tags: tags, Time: ts, Fields: fs}
}
