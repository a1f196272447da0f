package e2e

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/internal/bench"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

// BenchmarkTSBSQueries runs each query type of soltix bench's cpu-only
// suite in process against a day of generated data (loaded over HTTP,
// flushed and compacted), so the executor can be profiled:
//
//	go test -run '^$' -bench TSBSQueries/double-groupby-1 -cpuprofile cpu.prof ./e2e
func BenchmarkTSBSQueries(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := storage.Open(b.TempDir(), &storage.Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, ShardTag: "hostname"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	srv := httptest.NewServer(httpapi.New(db, httpapi.Options{Logger: quiet}))
	defer srv.Close()
	ctx := context.Background()
	d := bench.GenerateCPU(bench.GenConfig{Hosts: 100, Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Duration: 24 * time.Hour, Interval: 10 * time.Second, Batch: 10000, Seed: 1})
	if _, err := bench.Load(ctx, d, bench.LoadConfig{URL: srv.URL, Clients: 2}); err != nil {
		b.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if err := db.Compact(ctx); err != nil {
		b.Fatal(err)
	}
	for _, qt := range bench.CPUSuite(d) {
		b.Run(qt.Name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			stmts := make([]*query.Statement, 16)
			for i := range stmts {
				if stmts[i], err = query.Parse(qt.Gen(r)); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := range b.N {
				if _, err := planner.Execute(ctx, db, stmts[i%len(stmts)], time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
