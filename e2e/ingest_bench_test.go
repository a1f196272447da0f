package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/internal/cputime"
	"github.com/soltixdb/soltix/storage"
)

// cpuBatches returns n batches of TSBS-like cpu-only line protocol: hosts
// with TSBS's ten tags and ten small-integer random-walk fields, 10 s apart.
func cpuBatches(n, lines, hosts int) [][]byte {
	r := rand.New(rand.NewPCG(1, 1))
	fields := []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
		"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}
	vals := make([][]int64, hosts)
	for h := range vals {
		vals[h] = make([]int64, len(fields))
		for f := range vals[h] {
			vals[h][f] = r.Int64N(100)
		}
	}
	t0 := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	out := make([][]byte, n)
	row := 0
	for b := range out {
		var buf bytes.Buffer
		for range lines {
			h := row % hosts
			ts := t0 + int64(row/hosts)*int64(10*time.Second)
			fmt.Fprintf(&buf, "cpu,hostname=host_%d,region=eu-west-1,datacenter=eu-west-1a,rack=%d,os=Ubuntu16.04LTS,arch=x64,team=SF,service=%d,service_version=1,service_environment=production ",
				h, h%100, h%20)
			for f := range fields {
				v := vals[h][f] + r.Int64N(3) - 1
				v = min(max(v, 0), 100)
				vals[h][f] = v
				if f > 0 {
					buf.WriteByte(',')
				}
				fmt.Fprintf(&buf, "%s=%di", fields[f], v)
			}
			fmt.Fprintf(&buf, " %d\n", ts)
			row++
		}
		out[b] = buf.Bytes()
	}
	return out
}

// BenchmarkIngestHTTP measures the whole write path in one process: HTTP
// POST of 10,000-line cpu batches, line-protocol parsing, the WAL with an
// fsync before every 204 (group commit), and the in-memory apply. One op is
// one batch; GOMAXPROCS clients post concurrently.
//
//	go test -run '^$' -bench IngestHTTP -benchtime 200x ./e2e
func BenchmarkIngestHTTP(b *testing.B) {
	const lines, hosts = 10_000, 100
	batches := cpuBatches(64, lines, hosts)
	db, err := storage.Open(b.TempDir(), &storage.Options{
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		FlushInterval: -1, MaxMemoryPoints: 1 << 30,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	srv := httptest.NewServer(httpapi.New(db, httpapi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	var next atomic.Int64
	b.SetBytes(int64(len(batches[0])))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		client := srv.Client()
		for pb.Next() {
			body := batches[next.Add(1)%int64(len(batches))]
			resp, err := client.Post(srv.URL+"/write?precision=ns", "text/plain", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N)*lines*10/el, "values/s")
	b.ReportMetric(float64(b.N)*lines/el, "lines/s")
}

// BenchmarkIngestHTTPHosts is BenchmarkIngestHTTP over many hosts, as in
// the 1 M-series load (docs/benchmarks-million.md): 10,000-line cpu
// batches over SOLTIX_BENCH_HOSTS hosts (100,000 by default, 1 M field
// series), posted one at a time, so that every line of a batch is another
// series and the first hosts/10,000 batches create the series. The ops
// cycle through two rounds of hosts (a repeated batch rewrites its points).
// It reports CPU time per batch (cpu-ns/op), which other work on the
// machine inflates less than wall time; run it with -benchmem.
//
//	go test -run '^$' -bench IngestHTTPHosts -benchtime 60x -benchmem ./e2e
func BenchmarkIngestHTTPHosts(b *testing.B) {
	const lines = 10_000
	hosts := 100_000
	if v, err := strconv.Atoi(os.Getenv("SOLTIX_BENCH_HOSTS")); err == nil && v > 0 {
		hosts = v
	}
	batches := cpuBatches(max(2*hosts/lines, 1), lines, hosts)
	db, err := storage.Open(b.TempDir(), &storage.Options{
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		FlushInterval: -1, MaxMemoryPoints: 1 << 30, MaxMemoryBytes: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	srv := httptest.NewServer(httpapi.New(db, httpapi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	client := srv.Client()
	b.SetBytes(int64(len(batches[0])))
	b.ResetTimer()
	c0 := cputime.Process()
	for i := range b.N {
		resp, err := client.Post(srv.URL+"/write?precision=ns", "text/plain", bytes.NewReader(batches[i%len(batches)]))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	if c := cputime.Process() - c0; c > 0 {
		b.ReportMetric(float64(c.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
	b.StopTimer() // not the flush of Close
}

// BenchmarkDiskBytesPerValue loads one day of the TSBS-like cpu set (100
// hosts, 10 s, ten integer fields: 8.64 M values) through /write, flushes
// and compacts, and reports the bytes of every file in the data directory
// (colstore files, WAL, meta) per value written.
//
//	go test -run '^$' -bench DiskBytesPerValue -benchtime 1x ./e2e
func BenchmarkDiskBytesPerValue(b *testing.B) {
	const lines, hosts = 10_000, 100
	batches := cpuBatches(hosts*8640/lines+1, lines, hosts)
	batches = batches[:len(batches)-1] // whole batches only
	for range b.N {
		dir := b.TempDir()
		db, err := storage.Open(dir, &storage.Options{
			Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
			FlushInterval: -1, MaxMemoryPoints: 1 << 30,
		})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(httpapi.New(db, httpapi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
		values := 0
		for i, body := range batches {
			resp, err := srv.Client().Post(srv.URL+"/write?precision=ns", "text/plain", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				b.Fatalf("batch %d: status %d", i, resp.StatusCode)
			}
			values += lines * 10
			if i%20 == 19 { // several flushes, so compaction has work
				if err := db.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := db.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		if err := db.Compact(context.Background()); err != nil {
			b.Fatal(err)
		}
		srv.Close()
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		var size int64
		filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if fi, err := d.Info(); err == nil {
					size += fi.Size()
				}
			}
			return nil
		})
		b.ReportMetric(float64(size)/float64(values), "bytes/value")
		b.ReportMetric(float64(values), "values")
	}
}
