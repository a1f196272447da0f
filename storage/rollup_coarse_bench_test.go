package storage

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage/wal"
)

// BenchmarkRollupCoarseRead measures aggregates answered from the 1M and
// 1y levels: where those rows are stored (data on many days of each
// month) and where they are elided (data on one day of each month, or one
// day in all: the 1d rows answer; rollup_build.go, "Elision").
//
//	go test -run '^$' -bench RollupCoarseRead -count 5 ./storage
func BenchmarkRollupCoarseRead(b *testing.B) {
	ctx := context.Background()
	y0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	sets := []struct {
		name   string
		series int
		times  func(yield func(time.Time))
		q      []string
	}{
		{"hourly year", 1, func(yield func(time.Time)) {
			for t := y0; t.Before(y0.AddDate(1, 0, 0)); t = t.Add(time.Hour) {
				yield(t)
			}
		}, []string{
			"SELECT count(v), max(v) FROM c WHERE device_id = 'd0' AND time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z' GROUP BY 1M",
			"SELECT count(v), max(v) FROM c WHERE device_id = 'd0' AND time >= '2023-01-01T00:00:00Z' AND time < '2027-01-01T00:00:00Z'",
		}},
		{"one day a month", 1, func(yield func(time.Time)) {
			for m := range 12 {
				for h := range 24 {
					yield(y0.AddDate(0, m, 5).Add(time.Duration(h) * time.Hour))
				}
			}
		}, []string{
			"SELECT count(v), max(v) FROM c WHERE device_id = 'd0' AND time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z' GROUP BY 1M",
			"SELECT count(v), max(v) FROM c WHERE device_id = 'd0' AND time >= '2023-01-01T00:00:00Z' AND time < '2027-01-01T00:00:00Z'",
		}},
		{"100 series one day", 100, func(yield func(time.Time)) {
			for t := y0; t.Before(y0.AddDate(0, 0, 1)); t = t.Add(time.Minute) {
				yield(t)
			}
		}, []string{
			"SELECT count(v), max(v) FROM c WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z' GROUP BY 1M, device_id",
		}},
	}
	for _, set := range sets {
		db, err := Open(b.TempDir(), &Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, MaxMemoryPoints: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		var pts []model.Point
		i := 0
		set.times(func(t time.Time) {
			for s := range set.series {
				pts = append(pts, pt("c", fmt.Sprint("d", s), t.UnixNano(), iv("v", int64(i%97))))
			}
			i++
		})
		if err := db.Write(ctx, pts); err != nil {
			b.Fatal(err)
		}
		if err := db.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		for qi, q := range set.q {
			stmt, err := query.Parse(q)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/q%d", set.name, qi), func(b *testing.B) {
				for range b.N {
					res, err := planner.ExecuteWith(ctx, db, stmt, planner.Options{Now: y0.AddDate(2, 0, 0)})
					if err != nil {
						b.Fatal(err)
					}
					if len(res.Rows) == 0 || !usedRollups(res) {
						b.Fatalf("%d rows, levels %+v", len(res.Rows), res.Stats.Levels)
					}
				}
			})
		}
		db.Close()
	}
}
