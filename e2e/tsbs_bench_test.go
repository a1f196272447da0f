package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
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
// flushed and compacted), so the executor can be profiled. cpu-ns/op is
// the process's CPU time per query (read-ahead goroutines included), which
// a busy machine disturbs less than the wall time:
//
//	go test -run '^$' -bench TSBSQueries/double-groupby-1 -cpuprofile cpu.prof ./e2e
func BenchmarkTSBSQueries(b *testing.B) {
	db, _, d := tsbsDay(b)
	ctx := context.Background()
	for _, qt := range bench.CPUSuite(d) {
		b.Run(qt.Name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			stmts := make([]*query.Statement, 16)
			for i := range stmts {
				var err error
				if stmts[i], err = query.Parse(qt.Gen(r)); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			defer reportCPU(b)()
			for i := range b.N {
				if _, err := planner.Execute(ctx, db, stmts[i%len(stmts)], time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTSBSInfluxQL sends TSBS's own InfluxQL text (as
// tsbs_generate_queries writes it for InfluxDB) to /query over HTTP and
// reads the whole answer, so that the InfluxQL path (parsing, the series
// split, InfluxDB's JSON) is measured with the executor:
//
//	go test -run '^$' -bench TSBSInfluxQL/single-groupby-1-1-12 -cpuprofile cpu.prof ./e2e
func BenchmarkTSBSInfluxQL(b *testing.B) {
	_, url, d := tsbsDay(b)
	span := func(r *rand.Rand, hours int) string {
		from := d.Start.Add(time.Duration(r.IntN(24-hours)) * time.Hour).Add(time.Duration(r.IntN(3600)) * time.Second)
		return fmt.Sprintf("time >= '%s' and time < '%s'", from.Format(time.RFC3339), from.Add(time.Duration(hours)*time.Hour).Format(time.RFC3339))
	}
	host := func(r *rand.Rand) string { return d.Hosts[r.IntN(len(d.Hosts))] }
	types := []struct {
		name string
		gen  func(r *rand.Rand) string
	}{
		{"single-groupby-1-1-12", func(r *rand.Rand) string {
			return fmt.Sprintf("SELECT max(usage_user) from cpu where (hostname = '%s') and %s group by time(1m)", host(r), span(r, 12))
		}},
		{"double-groupby-1", func(r *rand.Rand) string {
			return fmt.Sprintf("SELECT mean(usage_user) from cpu where %s group by time(1h),hostname", span(r, 12))
		}},
		{"lastpoint", func(*rand.Rand) string {
			return `SELECT * from cpu group by "hostname" order by time desc limit 1`
		}},
	}
	for _, qt := range types {
		b.Run(qt.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			urls := make([]string, 16)
			for i := range urls {
				urls[i] = url + "/query?" + neturl.Values{"db": {"benchmark"}, "q": {qt.gen(r)}}.Encode()
			}
			b.ResetTimer()
			defer reportCPU(b)()
			for i := range b.N {
				resp, err := http.Get(urls[i%len(urls)])
				if err != nil {
					b.Fatal(err)
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %d %v", urls[i%len(urls)], resp.StatusCode, err)
				}
			}
		})
	}
}

// tsbsDay opens a store holding a day of bench's cpu-only data for 100
// hosts at 10 s (loaded over HTTP, flushed and compacted) and serves it.
func tsbsDay(b *testing.B) (*storage.DB, string, *bench.Data) {
	b.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := storage.Open(b.TempDir(), &storage.Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, ShardTag: "hostname"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	srv := httptest.NewServer(httpapi.New(db, httpapi.Options{Logger: quiet}))
	b.Cleanup(srv.Close)
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
	return db, srv.URL, d
}
