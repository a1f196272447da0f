package storage

import (
	"context"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/cputime"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage/wal"
)

// BenchmarkSeriesIndex measures series selection at many series: TSBS
// cpu-only tag sets (tsbsHostTags) for SOLTIX_BENCH_HOSTS hosts (default
// 100,000: 1 M field series), one point each, flushed to files. Each
// sub-benchmark runs one statement through the planner; the idle heap per
// field series (the index and the files' readers, nothing in memory) is
// reported once.
//
//	go test -run '^$' -bench SeriesIndex -benchtime 20x ./storage
func BenchmarkSeriesIndex(b *testing.B) {
	hosts := benchHosts(b, 100_000)
	ctx := context.Background()
	base := liveHeap()
	db, err := Open(b.TempDir(), &Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, MaxMemoryPoints: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ts := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	batch := make([]model.Point, 0, 10_000)
	for h := range hosts {
		fs := make([]model.Field, len(tsbsFields))
		for f, name := range tsbsFields {
			fs[f] = model.Field{Key: name, Value: model.Int(int64(h + f))}
		}
		batch = append(batch, model.Point{Collection: "cpu", Tags: tsbsHostTags(h), Time: ts, Fields: fs})
		if len(batch) == cap(batch) || h == hosts-1 {
			if err := db.Write(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := db.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	idle := liveHeap() - base
	now := time.Unix(0, ts).Add(time.Hour)
	queries := []struct {
		name, q string
		rows    int
	}{
		{"one-host", "SELECT max(usage_user) FROM cpu WHERE hostname = 'host_4242' AND time >= '2016-01-01' AND time < '2016-01-02'", 1},
		{"hosts-in", "SELECT max(usage_user) FROM cpu WHERE (hostname = 'host_1' OR hostname = 'host_2' OR hostname = 'host_3' OR hostname = 'host_4' OR hostname = 'host_5' OR hostname = 'host_6' OR hostname = 'host_7' OR hostname = 'host_8') AND time >= '2016-01-01' AND time < '2016-01-02' GROUP BY hostname", 8},
		{"regex", "SELECT max(usage_user) FROM cpu WHERE hostname =~ /^host_4242/ AND time >= '2016-01-01' AND time < '2016-01-02'", 1},
		{"tag-and", "SELECT max(usage_user) FROM cpu WHERE region = 'eu-west-1' AND rack = '7' AND arch = 'x86' AND time >= '2016-01-01' AND time < '2016-01-02'", 1},
		{"count-all", "SELECT count(usage_user) FROM cpu WHERE time >= '2016-01-01' AND time < '2016-01-02'", 1},
		{"show-tag-values", "SHOW TAG VALUES FROM cpu WITH KEY = hostname", hosts},
	}
	for _, q := range queries {
		stmt, err := query.Parse(q.q)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(q.name, func(b *testing.B) {
			b.ReportAllocs()
			c0 := cputime.Process()
			for range b.N {
				res, err := planner.ExecuteWith(ctx, db, stmt, planner.Options{Now: now})
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Rows) != q.rows {
					b.Fatalf("%s: %d rows, want %d", q.name, len(res.Rows), q.rows)
				}
			}
			b.ReportMetric(float64(cputime.Process()-c0)/float64(b.N)/1e6, "cpu-ms/op")
			b.ReportMetric(float64(idle)/float64(hosts*len(tsbsFields)), "idle-B/fseries")
		})
	}
}

// BenchmarkSeriesCreate writes one point of one field to each of b.N new
// series (TSBS cpu-only tag sets), in 1,000-point batches: the cost of
// creating and indexing a series on the write path, with the WAL and
// memory append around it.
//
//	go test -run '^$' -bench SeriesCreate -benchtime 200000x ./storage
func BenchmarkSeriesCreate(b *testing.B) {
	ctx := context.Background()
	db, err := Open(b.TempDir(), &Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, MaxMemoryPoints: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close() // after StopTimer: the flush it makes is not measured
	ts := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	pts := make([]model.Point, b.N)
	for h := range pts {
		pts[h] = model.Point{Collection: "cpu", Tags: tsbsHostTags(h), Time: ts, Fields: []model.Field{{Key: "usage_user", Value: model.Int(int64(h))}}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cputime.Process()
	for i := 0; i < len(pts); i += 1000 {
		if err := db.Write(ctx, pts[i:min(i+1000, len(pts))]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cputime.Process()-c0)/float64(b.N), "cpu-ns/series")
}
