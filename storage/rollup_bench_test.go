package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/wal"
)

// BenchmarkFlushWithRollups measures what the rollup pipeline adds to a
// flush: TSBS-like cpu data (100 hosts, 10 integer fields, 10 s interval,
// 6 hours: 2.16 M values per iteration) is written to memory, then
// flushed with rollups on and off. The values/s metric is values flushed
// per second of flush, rollups included; compare the two to see whether
// the pipeline keeps up with ingest.
//
//	go test -run '^$' -bench FlushWithRollups -benchtime 3x -count 3 ./storage
func BenchmarkFlushWithRollups(b *testing.B) {
	const hosts, fields, step = 100, 10, 10 * time.Second
	span := 6 * time.Hour
	for _, rollups := range []bool{true, false} {
		b.Run(fmt.Sprint("rollups=", rollups), func(b *testing.B) {
			ctx := context.Background()
			var flushTime time.Duration
			values := 0
			for i := range b.N {
				b.StopTimer()
				db, err := Open(b.TempDir(), &Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, MaxMemoryPoints: 1 << 30})
				if err != nil {
					b.Fatal(err)
				}
				if !rollups {
					if err := db.SetSettings(ctx, "cpu", CollectionSettings{NoRollups: true}); err != nil {
						b.Fatal(err)
					}
				}
				r := rand.New(rand.NewPCG(uint64(i), 1))
				start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
				var batch []model.Point
				for t := start; t.Before(start.Add(span)); t = t.Add(step) {
					for h := range hosts {
						fs := make([]model.Field, fields)
						for f := range fs {
							fs[f] = model.Field{Key: fmt.Sprint("usage_", f), Value: model.Int(r.Int64N(100))}
						}
						batch = append(batch, model.Point{Collection: "cpu", Time: t.UnixNano(),
							Tags: model.Tags{{Key: "hostname", Value: fmt.Sprint("host_", h)}}, Fields: fs})
					}
					if len(batch) >= 10000 {
						if err := db.Write(ctx, batch); err != nil {
							b.Fatal(err)
						}
						values += len(batch) * fields
						batch = batch[:0]
					}
				}
				if err := db.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
				values += len(batch) * fields
				b.StartTimer()
				t0 := time.Now()
				if err := db.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				flushTime += time.Since(t0)
				b.StopTimer()
				db.Close()
			}
			b.ReportMetric(float64(values)/flushTime.Seconds(), "values/s")
		})
	}
}
