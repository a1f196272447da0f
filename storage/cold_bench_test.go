package storage

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/s3test"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage/cold"
)

// BenchmarkColdQueries measures the queries of docs/benchmarks.md "Cold
// tier": a year (2025) of one-minute points of 8 devices (4.2 M points,
// one float field) in collection c, asked
//
//   - year-1d: mean and max per day over the year of one device (rollups),
//   - year-1d-raw: the same with levels=raw (every raw block's statistics),
//   - hour-raw: the raw points of one device over one hour,
//
// on local files, then after every file went to S3 (versitygw on
// loopback, through internal/s3test) with the page cache emptied before
// every query (cold cache) and kept (warm cache). It reports the GETs and
// the bytes fetched per query.
//
//	go test -run '^$' -bench BenchmarkColdQueries -benchtime 20x ./storage
func BenchmarkColdQueries(b *testing.B) {
	ctx := context.Background()
	srv := s3test.Start(b)
	store, err := cold.Open(ctx, cold.Config{Bucket: srv.Bucket(), Endpoint: srv.Endpoint(), Region: srv.Region(),
		PathStyle: true, AccessKeyID: srv.AccessKey(), SecretAccessKey: srv.SecretKey(), CacheBytes: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	year := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC)
	db, err := Open(b.TempDir(), &Options{Cold: store, TierInterval: -1, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const devices = 8
	for day := range 365 {
		pts := make([]model.Point, 0, devices*1440)
		for d := range devices {
			tags := model.Tags{{Key: "device_id", Value: fmt.Sprintf("d%d", d)}}
			for m := range 1440 {
				t := year.Add(time.Duration(day*1440+m) * time.Minute)
				pts = append(pts, model.Point{Collection: "c", Tags: tags, Time: t.UnixNano(),
					Fields: []model.Field{{Key: "v", Value: model.Float(float64(d*1000+m%97) + float64(day)/7)}}})
			}
		}
		if err := db.Write(ctx, pts); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	var s CollectionSettings
	for _, l := range []model.Level{model.LevelRaw, model.Level1h, model.Level1d, model.Level1M} {
		s.ColdAfter[l] = 24 * time.Hour
	}
	if err := db.SetSettings(ctx, "c", s); err != nil {
		b.Fatal(err)
	}
	queries := []struct {
		name, q string
		raw     bool
	}{
		{"year-1d", "SELECT mean(v), max(v) FROM c WHERE device_id = 'd3' AND time >= '2025-01-01' AND time < '2026-01-01' GROUP BY 1d", false},
		{"year-1d-raw", "SELECT mean(v), max(v) FROM c WHERE device_id = 'd3' AND time >= '2025-01-01' AND time < '2026-01-01' GROUP BY 1d", true},
		{"hour-raw", "SELECT v FROM c WHERE device_id = 'd3' AND time >= '2025-07-01T12:00:00Z' AND time < '2025-07-01T13:00:00Z'", false},
	}
	run := func(b *testing.B, q string, raw, emptyCache bool, wantRows int) {
		stmt, err := query.Parse(q)
		if err != nil {
			b.Fatal(err)
		}
		before := store.Stats()
		b.ResetTimer()
		for range b.N {
			if emptyCache {
				b.StopTimer()
				store.Close()
				b.StartTimer()
			}
			res, err := planner.ExecuteWith(ctx, db, stmt, planner.Options{Now: now, RawOnly: raw})
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Rows) != wantRows {
				b.Fatalf("%d rows, want %d", len(res.Rows), wantRows)
			}
		}
		b.StopTimer()
		after := store.Stats()
		b.ReportMetric(float64(after.Requests-before.Requests)/float64(b.N), "GETs/op")
		b.ReportMetric(float64(after.BytesFetched-before.BytesFetched)/float64(b.N)/(1<<20), "MiB-fetched/op")
	}
	rows := map[string]int{"year-1d": 365, "year-1d-raw": 365, "hour-raw": 60}
	for _, q := range queries {
		b.Run("local/"+q.name, func(b *testing.B) { run(b, q.q, q.raw, false, rows[q.name]) })
	}
	st, err := db.Tier(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range localCols(b, db.dir) {
		if !strings.Contains(f, "rollup_1y") { // the 1y level is one file, never cold
			b.Fatalf("tier: %+v; a local file left: %s", st, f)
		}
	}
	if st.Uploaded == 0 {
		b.Fatalf("tier: %+v", st)
	}
	for _, q := range queries {
		b.Run("cold-cache/"+q.name, func(b *testing.B) { run(b, q.q, q.raw, true, rows[q.name]) })
		b.Run("warm-cache/"+q.name, func(b *testing.B) { run(b, q.q, q.raw, false, rows[q.name]) })
	}
}
