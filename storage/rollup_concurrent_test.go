package storage

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage/wal"
)

// TestRollupsUnderConcurrentRewrites: one series' answers (February,
// from the 1M level) stay the same while another series of the same group
// keeps getting late writes in January, so every flush rewrites the 1M and
// 1y files both share, and compactions run; readers must never see a
// half-installed level or a closed file. Run it with -race (make test
// does).
func TestRollupsUnderConcurrentRewrites(t *testing.T) {
	ctx := context.Background()
	db, err := Open(t.TempDir(), &Options{FlushInterval: -1, NumGroups: 1, Logger: quiet, Sync: wal.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	point := func(dev string, t time.Time, v float64) model.Point {
		return model.Point{Collection: "c", Tags: model.Tags{{Key: "device_id", Value: dev}}, Time: t.UnixNano(),
			Fields: []model.Field{{Key: "v", Value: model.Float(v)}}}
	}
	var pts []model.Point
	for i := range 24 * 60 {
		pts = append(pts, point("static", base.AddDate(0, 1, 0).Add(time.Duration(i)*15*time.Minute), float64(i%97)))
		pts = append(pts, point("busy", base.Add(time.Duration(i)*15*time.Minute), 1))
	}
	if err := db.Write(ctx, pts); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stmt, err := query.Parse("SELECT count(v), sum(v), max(v), stddev(v) FROM c WHERE device_id = 'static' GROUP BY 1M")
	if err != nil {
		t.Fatal(err)
	}
	want, err := planner.Execute(ctx, db, stmt, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !usedRollups(want) {
		t.Fatalf("the static series is not read from rollups: %+v", want.Stats)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	wg.Add(2)
	go func() { // late writes into the busy series, all over the span
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			at := base.Add(time.Duration(i*7919%(24*60)) * 15 * time.Minute).Add(time.Second)
			if err := db.Write(ctx, []model.Point{point("busy", at, float64(i))}); err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() { // flush (rolling up) and compact
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := db.Flush(ctx); err != nil {
				errs <- err
				return
			}
			if i%3 == 2 {
				if err := db.Compact(ctx); err != nil {
					errs <- err
					return
				}
			}
		}
	}()
	deadline := time.Now().Add(2 * time.Second)
	queries, fromRollups := 0, 0
	for time.Now().Before(deadline) {
		got, err := planner.Execute(ctx, db, stmt, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if usedRollups(got) {
			fromRollups++
		}
		if err := sameResult(got, want); err != nil {
			t.Fatalf("query %d while rewriting: %v", queries, err)
		}
		queries++
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	t.Logf("%d queries during concurrent rewrites, %d from rollups", queries, fromRollups)
	if queries < 10 || fromRollups*2 < queries {
		t.Fatalf("%d queries ran, %d of them from rollups", queries, fromRollups)
	}
}

// TestRollupSnapshotOutlivesRewrite: a read that took its rollup files
// before a flush replaced them still reads them afterwards (the files are
// closed only when the last reader lets go).
func TestRollupSnapshotOutlivesRewrite(t *testing.T) {
	ctx := context.Background()
	db, err := Open(t.TempDir(), &Options{FlushInterval: -1, NumGroups: 1, Logger: quiet, Sync: wal.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tags := model.Tags{{Key: "device_id", Value: "d"}}
	write := func(at time.Time, v float64) {
		t.Helper()
		if err := db.Write(ctx, []model.Point{{Collection: "c", Tags: tags, Time: at.UnixNano(),
			Fields: []model.Field{{Key: "v", Value: model.Float(v)}}}}); err != nil {
			t.Fatal(err)
		}
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Two days: a 1y row of one day's data is elided (rollup_build.go).
	write(base, 1)
	write(base.AddDate(0, 0, 1), 2)
	rs, ok := db.takeRollSnap("c", tags, model.Level1y, math.MinInt64, math.MaxInt64)
	if !ok || len(rs.files[model.Level1y]) != 1 {
		t.Fatalf("snapshot: ok %v, 1y files %d", ok, len(rs.files[model.Level1y]))
	}
	old := rs.files[model.Level1y][0]
	write(base.Add(time.Hour), 3) // rewrites every level's file
	if !old.obsolete.Load() {
		t.Fatal("the flush did not replace the 1y file")
	}
	rows, err := rs.rows(context.Background(), model.Level1y, "v", math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatalf("reading a replaced file through an earlier snapshot: %v", err)
	}
	if len(rows) != 1 || rows[0].s.Count != 2 {
		t.Fatalf("rows %+v, want the one row of the old file", rows)
	}
	rs.release()
}
