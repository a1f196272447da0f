package e2e

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/internal/cputime"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

// valuesOnly hides storage's ReadParts, so the planner decodes every value.
type valuesOnly struct{ planner.Source }

// BenchmarkYearGroupBy1d: one device, one year of 10 s float data (3.15 M
// points) flushed (rolling up) and compacted into daily files; avg(v),
// max(v) GROUP BY 1d over the year, answered from the 1d rollup level and,
// for comparison, forced onto raw data (levels=raw): from colstore block
// statistics, and from decoded values. "rollups over HTTP" is the same
// query through /api/v1/query of an in-process server, answer read whole.
// Each reports cpu-ns/op, the process's CPU time per query (GC included),
// steadier than ns/op on a shared machine.
//
//	go test -run '^$' -bench YearGroupBy1d -benchtime 20x -count 3 ./e2e
func BenchmarkYearGroupBy1d(b *testing.B) {
	dir := b.TempDir()
	db, err := storage.Open(dir, &storage.Options{
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		FlushInterval: -1, Sync: wal.SyncNever, MaxMemoryPoints: 1 << 30,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tags := model.Tags{{Key: "device_id", Value: "d1"}}
	v := 20.0
	const step = 10 * time.Second
	n := int(365 * 24 * time.Hour / step)
	batch := make([]model.Point, 0, 8640)
	for i := range n {
		v += r.NormFloat64() * 0.1
		batch = append(batch, model.Point{Collection: "iot", Tags: tags, Time: start.Add(time.Duration(i) * step).UnixNano(),
			Fields: []model.Field{{Key: "v", Value: model.Float(float64(int64(v*100)) / 100)}}})
		if len(batch) == cap(batch) || i == n-1 {
			if err := db.Write(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
		if i%(30*8640) == 0 && i > 0 {
			if err := db.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := db.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if err := db.Compact(ctx); err != nil {
		b.Fatal(err)
	}
	const yearQ = "SELECT avg(v), max(v) FROM iot WHERE device_id = 'd1' AND time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z' GROUP BY 1d"
	stmt, err := query.Parse(yearQ)
	if err != nil {
		b.Fatal(err)
	}
	for _, src := range []struct {
		name string
		src  planner.Source
		raw  bool
	}{{"rollups", db, false}, {"raw block statistics", db, true}, {"raw decoded values", valuesOnly{db}, true}} {
		b.Run(src.name, func(b *testing.B) {
			defer reportCPU(b)()
			for range b.N {
				res, err := planner.ExecuteWith(ctx, src.src, stmt, planner.Options{Now: time.Now(), RawOnly: src.raw})
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Rows) != 365 {
					b.Fatalf("%d rows, want 365", len(res.Rows))
				}
			}
		})
	}
	srv := httptest.NewServer(httpapi.New(db, httpapi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	u := srv.URL + "/api/v1/query?q=" + url.QueryEscape(yearQ)
	b.Run("rollups over HTTP", func(b *testing.B) {
		defer reportCPU(b)()
		for range b.N {
			resp, err := srv.Client().Get(u)
			if err != nil {
				b.Fatal(err)
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("HTTP %d: %v", resp.StatusCode, err)
			}
		}
	})
}

// reportCPU starts the clock of a cpu-ns/op metric; call what it returns
// when the loop ends.
func reportCPU(b *testing.B) func() {
	c0 := cputime.Process()
	return func() {
		if c := cputime.Process() - c0; c > 0 {
			b.ReportMetric(float64(c.Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}
