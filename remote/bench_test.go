package remote

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/internal/cputime"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

// hopBatch is 5,000 points of 500 devices, 3 fields each, with the tags
// of one device shared as lineproto shares them.
func hopBatch(round int) []model.Point {
	ps := make([]model.Point, 0, 5000)
	for d := range 500 {
		tags := model.Tags{{Key: "device_id", Value: fmt.Sprintf("dev-%04d", d)}, {Key: "site", Value: "plant-7"}}
		for i := range 10 {
			ps = append(ps, model.Point{
				Collection: "sensors",
				Tags:       tags,
				Fields: []model.Field{
					{Key: "temp", Value: model.Float(20 + float64((d+i)%17)/3)},
					{Key: "count", Value: model.Int(int64(i * d))},
					{Key: "ok", Value: model.Bool(d%3 == 0)},
				},
				Time: 1_700_000_000_000_000_000 + int64(round*10+i)*1e9,
			})
		}
	}
	return ps
}

// writeBench reports the CPU time of the whole process (router and nodes
// together) per million values written.
func writeBench(b *testing.B, write func([]model.Point) error) {
	batches := make([][]model.Point, 20)
	for i := range batches {
		batches[i] = hopBatch(i)
	}
	b.ReportAllocs()
	start, values := cputime.Process(), 0
	i := 0
	for b.Loop() {
		if err := write(batches[i%len(batches)]); err != nil {
			b.Fatal(err)
		}
		values += 5000 * 3
		i++
	}
	b.ReportMetric(float64(cputime.Process()-start)/float64(time.Second)/float64(values)*1e6, "cpu-s/Mvalues")
}

var benchStorage = storage.Options{FlushInterval: -1, Sync: wal.SyncNever, MaxMemoryPoints: 1 << 30}

// BenchmarkWriteDirect is the single node: storage.DB.Write.
func BenchmarkWriteDirect(b *testing.B) {
	opts := benchStorage
	opts.NumGroups = 16
	db, err := storage.Open(b.TempDir(), &opts)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	writeBench(b, func(ps []model.Point) error { return db.Write(b.Context(), ps) })
}

// BenchmarkWriteRemote is the same through a Client and 1 or 3 nodes
// over HTTP/2 on loopback.
func BenchmarkWriteRemote(b *testing.B) {
	for _, k := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", k), func(b *testing.B) {
			m := newTestMap(16)
			nodes := make([]*testNode, k)
			for i := range nodes {
				nodes[i] = startNodeWith(b, m, fmt.Sprintf("n%d", i+1), NodeOptions{}, benchStorage)
			}
			m.spread(nodes...)
			c, _ := newTestClient(b, m, ClientOptions{})
			writeBench(b, func(ps []model.Point) error { return c.Write(b.Context(), ps) })
		})
	}
}

// lineBatches are 20 line-protocol bodies of hopBatch's points.
func lineBatches() [][]byte {
	var out [][]byte
	for round := range 20 {
		var b []byte
		for _, p := range hopBatch(round) {
			b = fmt.Appendf(b, "sensors,device_id=%s,site=%s temp=%v,count=%di,ok=%v %d\n",
				p.Tags[0].Value, p.Tags[1].Value, p.Fields[0].Value.Float(), p.Fields[1].Value.Int(), p.Fields[2].Value.Bool(), p.Time)
		}
		out = append(out, b)
	}
	return out
}

// ingestBench posts line protocol to an external API handler and reports
// the process's CPU time per million values.
func ingestBench(b *testing.B, h http.Handler) {
	bodies := lineBatches()
	start, values, i := cputime.Process(), 0, 0
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "http://localhost/api/v1/write", bytes.NewReader(bodies[i%len(bodies)]))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
		values += 5000 * 3
		i++
	}
	b.ReportMetric(float64(cputime.Process()-start)/float64(time.Second)/float64(values)*1e6, "cpu-s/Mvalues")
}

// BenchmarkIngest compares line-protocol ingest through the external API
// of a single node (serve) and of a router over 1 and 3 nodes (parsing,
// checks, the hop and storage; the client's HTTP is left out of both).
func BenchmarkIngest(b *testing.B) {
	b.Run("serve", func(b *testing.B) {
		opts := benchStorage
		opts.NumGroups = 16
		db, err := storage.Open(b.TempDir(), &opts)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		ingestBench(b, httpapi.New(db, httpapi.Options{}))
	})
	for _, k := range []int{1, 3} {
		b.Run(fmt.Sprintf("router-nodes=%d", k), func(b *testing.B) {
			m := newTestMap(16)
			nodes := make([]*testNode, k)
			for i := range nodes {
				nodes[i] = startNodeWith(b, m, fmt.Sprintf("n%d", i+1), NodeOptions{}, benchStorage)
			}
			m.spread(nodes...)
			c, _ := newTestClient(b, m, ClientOptions{})
			local, err := storage.Open(b.TempDir(), &storage.Options{FlushInterval: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer local.Close()
			ingestBench(b, httpapi.New(writeOnlyRouter{local, c}, httpapi.Options{}))
		})
	}
}
