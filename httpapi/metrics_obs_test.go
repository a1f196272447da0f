package httpapi

import (
	"log/slog"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
)

// TestStorageObsMetrics causes WAL fsyncs, rollup passes, compactions and
// their failures on a real storage (faults through the vfs seam) and reads
// each effect back from /metrics.
func TestStorageObsMetrics(t *testing.T) {
	fs := errorfs.New(vfs.Default)
	db, err := storage.Open(t.TempDir(), &storage.Options{FlushInterval: -1, CompactFiles: -1, FS: fs, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := New(db, Options{Logger: slog.New(slog.DiscardHandler)})
	scrape := func() map[string]float64 {
		t.Helper()
		rec := do(h, "GET", "/metrics", nil, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /metrics: %d", rec.Code)
		}
		out := map[string]float64{}
		for _, f := range parseProm(t, rec.Body.String()) {
			for k, v := range f.samples {
				out[k] = v
			}
		}
		return out
	}
	write := func(body string) {
		t.Helper()
		if rec := do(h, "POST", "/write", nil, []byte(body)); rec.Code != http.StatusNoContent {
			t.Fatalf("write: %d %s", rec.Code, rec.Body)
		}
	}
	flush := func(want int) {
		t.Helper()
		if rec := do(h, "POST", "/api/v1/admin/flush", nil, nil); rec.Code != want {
			t.Fatalf("flush: %d %s, want %d", rec.Code, rec.Body, want)
		}
	}
	type check struct {
		sample string
		lo, hi float64
	}
	expect := func(step string, m map[string]float64, checks ...check) {
		t.Helper()
		for _, c := range checks {
			v, ok := m[c.sample]
			if !ok {
				t.Errorf("%s: no sample %s", step, c.sample)
			} else if v < c.lo || v > c.hi {
				t.Errorf("%s: %s = %v, want in [%v, %v]", step, c.sample, v, c.lo, c.hi)
			}
		}
	}

	m0 := scrape()
	write("cpu,host=a v=1 1767225600000000000\n")
	m1 := scrape()
	syncs := m1["soltix_storage_wal_fsync_seconds_count"] - m0["soltix_storage_wal_fsync_seconds_count"]
	if syncs < 1 {
		t.Errorf("a write made %v WAL fsyncs, want at least 1", syncs)
	}
	if m1[`soltix_storage_wal_fsync_seconds_bucket{le="+Inf"}`] != m1["soltix_storage_wal_fsync_seconds_count"] {
		t.Errorf("fsync +Inf bucket %v != count %v", m1[`soltix_storage_wal_fsync_seconds_bucket{le="+Inf"}`], m1["soltix_storage_wal_fsync_seconds_count"])
	}
	expect("after a write", m1,
		check{`soltix_storage_rollup_pending_buckets{level="1h"}`, 1, 1},
		check{`soltix_storage_rollup_pending_buckets{level="1y"}`, 1, 1},
		check{"soltix_storage_rollup_lag_seconds", 1e-9, 3600},
		check{"soltix_storage_rollup_duration_seconds_count", 0, 0},
		check{"soltix_storage_last_rollup_timestamp_seconds", 0, 0},
	)

	flush(http.StatusNoContent)
	expect("after a flush", scrape(),
		check{`soltix_storage_rollup_pending_buckets{level="1h"}`, 0, 0},
		check{"soltix_storage_rollup_lag_seconds", 0, 0},
		check{"soltix_storage_rollup_duration_seconds_count", 1, 1},
		check{"soltix_storage_rollup_failures_total", 0, 0},
		check{"soltix_storage_last_rollup_timestamp_seconds", 1, 1e11},
		check{"soltix_storage_compactions_total", 0, 0},
	)

	// A rollup pass that cannot write its files fails, and its work stays
	// pending.
	write("cpu,host=a v=2 1767225660000000000\n")
	fs.Inject(errorfs.Rule{Op: errorfs.OpCreate, Match: func(p string) bool { return strings.Contains(p, "rollup") || strings.Contains(p, "/1h") }, Err: syscall.EIO})
	flush(http.StatusInternalServerError)
	fs.Clear()
	expect("after a failed rollup pass", scrape(),
		check{"soltix_storage_rollup_failures_total", 1, 1},
		check{"soltix_storage_rollup_duration_seconds_count", 1, 1},
		check{`soltix_storage_rollup_pending_buckets{level="1h"}`, 1, 1},
		check{"soltix_storage_rollup_lag_seconds", 1e-9, 3600},
	)
	flush(http.StatusNoContent)

	// Two raw files of one partition: a compaction merges them.
	m2 := scrape()
	expect("before compaction", m2, check{`soltix_storage_files{level="raw"}`, 2, 2})
	if rec := do(h, "POST", "/api/v1/admin/compact", nil, nil); rec.Code/100 != 2 {
		t.Fatalf("compact: %d %s", rec.Code, rec.Body)
	}
	m3 := scrape()
	expect("after a compaction", m3,
		check{"soltix_storage_compactions_total", 1, 1},
		check{"soltix_storage_compaction_failures_total", 0, 0},
		check{"soltix_storage_compaction_read_bytes_total", 100, 1 << 20},
		check{"soltix_storage_compaction_written_bytes_total", 100, 1 << 20},
		check{"soltix_storage_compaction_duration_seconds_count", 1, 1},
		check{`soltix_storage_files{level="raw"}`, 1, 1},
	)
	if m3["soltix_storage_compaction_written_bytes_total"] >= m3["soltix_storage_compaction_read_bytes_total"] {
		t.Errorf("compaction wrote %v bytes from %v: two one-point files merge into less", m3["soltix_storage_compaction_written_bytes_total"], m3["soltix_storage_compaction_read_bytes_total"])
	}

	// A compaction that cannot write its output fails.
	write("cpu,host=a v=3 1767225720000000000\n")
	flush(http.StatusNoContent)
	fs.Inject(errorfs.Rule{Op: errorfs.OpCreate, Match: func(p string) bool { return strings.HasSuffix(p, ".col") || strings.Contains(p, ".col.") }, Err: syscall.EIO})
	rec := do(h, "POST", "/api/v1/admin/compact", nil, nil)
	fs.Clear()
	if rec.Code/100 == 2 {
		t.Fatalf("compact with failing creates: %d", rec.Code)
	}
	expect("after a failed compaction", scrape(),
		check{"soltix_storage_compactions_total", 1, 1},
		check{"soltix_storage_compaction_failures_total", 1, 1},
	)
}
