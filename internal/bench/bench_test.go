package bench

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

func TestGenerateCPU(t *testing.T) {
	cfg := GenConfig{Hosts: 3, Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Duration: time.Minute, Interval: 10 * time.Second, Batch: 4, Seed: 7}
	d := GenerateCPU(cfg)
	if d.Lines != 18 || d.Values != 180 || len(d.Batches) != 5 {
		t.Fatalf("lines %d values %d batches %d, want 18, 180, 5", d.Lines, d.Values, len(d.Batches))
	}
	again := GenerateCPU(cfg)
	if !bytes.Equal(bytes.Join(d.Batches, nil), bytes.Join(again.Batches, nil)) {
		t.Error("the same seed generated different data")
	}
	first := strings.SplitN(string(d.Batches[0]), "\n", 2)[0]
	if !strings.HasPrefix(first, "cpu,hostname=host_0,region=") || strings.Count(first, "=") != 20 || !strings.HasSuffix(first, " 1735689600000000000") {
		t.Errorf("first line %q does not have TSBS's shape", first)
	}
}

func TestCountFields(t *testing.T) {
	for line, want := range map[string]int{
		`m v=1`:                      1,
		`m,t=a,u=b v=1,w=2i 5`:       2,
		`m s="a,b c",v=1 5`:          2,
		`m\,x,t=a\ b v=1,w="x\"y" 5`: 2,
	} {
		if got := countFields([]byte(line)); got != want {
			t.Errorf("countFields(%q) = %d, want %d", line, got, want)
		}
	}
}

// TestLoadAndQueries loads generated data into a real in-process server
// and runs every query type of both suites once.
func TestLoadAndQueries(t *testing.T) {
	db, err := storage.Open(t.TempDir(), &storage.Options{FlushInterval: -1, Sync: wal.SyncNever,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv := httptest.NewServer(httpapi.New(db, httpapi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	ctx := context.Background()
	cfg := GenConfig{Hosts: 10, Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Duration: 13 * time.Hour, Interval: time.Minute, Batch: 500, Seed: 1}
	for _, d := range []*Data{GenerateCPU(cfg), GenerateIoT(cfg)} {
		for _, gz := range []bool{false, true} {
			res, err := Load(ctx, d, LoadConfig{URL: srv.URL, Clients: 3, Gzip: gz})
			if err != nil {
				t.Fatalf("%s: %v", d.Name, err)
			}
			if res.Lines != d.Lines || res.P50 <= 0 || res.P99 < res.P50 || res.ValuesPerSec() <= 0 {
				t.Errorf("%s: result %+v", d.Name, res)
			}
		}
		suite := CPUSuite(d)
		if d.Measurement == "readings" {
			suite = IoTSuite(d)
		}
		qs, err := RunQueries(ctx, srv.URL, suite, 2, 1, nil)
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		for _, q := range qs {
			if q.N != 2 || q.Median <= 0 || q.ResponseBytes == 0 {
				t.Errorf("%s: %+v", d.Name, q)
			}
		}
	}
	// A paced load cannot finish before its last batch is due.
	d := GenerateCPU(cfg)
	res, err := Load(ctx, d, LoadConfig{URL: srv.URL, Clients: 2, Rate: float64(d.Values) / 0.3})
	if err != nil {
		t.Fatal(err)
	}
	last := d.Batches[len(d.Batches)-1]
	if due := time.Duration(0.3 * float64(time.Second) * float64(d.Bytes-len(last)) / float64(d.Bytes)); res.Elapsed < due {
		t.Errorf("a load paced over 0.3 s took %v; its last batch was due at %v", res.Elapsed, due)
	}
	// A batch the server refuses stops the load with its message.
	res, err = Load(ctx, &Data{Batches: [][]byte{[]byte("bad line\n")}, Lines: 1}, LoadConfig{URL: srv.URL})
	if err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("a bad batch: %v, %v; want an HTTP 400 error", res, err)
	}
}
