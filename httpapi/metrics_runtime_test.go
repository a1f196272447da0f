package httpapi

import (
	"bufio"
	"io"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/storage"
)

// promFamily is one metric family read back from the text format.
type promFamily struct {
	typ     string
	help    bool
	samples map[string]float64 // by name{labels}
}

var (
	promSampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$`)
	promMetaRE   = regexp.MustCompile(`^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$`)
)

// parseProm checks text against the Prometheus text exposition format
// (0.0.4) and returns its families: every sample line is name{labels}
// value with a float value, every family has HELP and TYPE before its
// samples and is declared once, and every sample belongs to the family
// declared last (histogram and summary samples by their suffixes).
func parseProm(t *testing.T, text string) map[string]*promFamily {
	t.Helper()
	fams := map[string]*promFamily{}
	var cur string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if m := promMetaRE.FindStringSubmatch(line); m != nil {
			f := fams[m[2]]
			if f == nil {
				if m[1] != "HELP" {
					t.Fatalf("line %d: TYPE before HELP: %q", n, line)
				}
				f = &promFamily{samples: map[string]float64{}}
				fams[m[2]] = f
			} else if m[1] == "HELP" || f.typ != "" || m[2] != cur {
				t.Fatalf("line %d: family %s declared twice: %q", n, m[2], line)
			}
			cur = m[2]
			if m[1] == "HELP" {
				f.help = true
			} else {
				switch m[3] {
				case "counter", "gauge", "histogram", "summary", "untyped":
					f.typ = m[3]
				default:
					t.Fatalf("line %d: unknown type %q", n, m[3])
				}
			}
			continue
		}
		if strings.HasPrefix(line, "#") || line == "" {
			t.Fatalf("line %d: not a sample, HELP or TYPE: %q", n, line)
		}
		m := promSampleRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d: not name{labels} value: %q", n, line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil && m[3] != "+Inf" && m[3] != "-Inf" && m[3] != "NaN" {
			t.Fatalf("line %d: value %q: %v", n, m[3], err)
		}
		f := fams[cur]
		if f == nil || f.typ == "" {
			t.Fatalf("line %d: sample before its family's HELP and TYPE: %q", n, line)
		}
		name := m[1]
		ok := name == cur
		if f.typ == "histogram" {
			ok = ok || name == cur+"_bucket" || name == cur+"_sum" || name == cur+"_count"
		}
		if f.typ == "summary" {
			ok = ok || name == cur+"_sum" || name == cur+"_count"
		}
		if !ok {
			t.Fatalf("line %d: sample %s outside its family %s", n, name, cur)
		}
		key := name + m[2]
		if _, dup := f.samples[key]; dup {
			t.Fatalf("line %d: sample %s twice", n, key)
		}
		f.samples[key] = v
	}
	return fams
}

// TestMetricsRuntimeAndStorage writes and flushes through the real storage
// and checks that /metrics parses as the text format and has the Go
// runtime, process and storage families with plausible values.
func TestMetricsRuntimeAndStorage(t *testing.T) {
	db, err := storage.Open(t.TempDir(), &storage.Options{FlushInterval: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := New(db, Options{})
	scrape := func() map[string]*promFamily {
		t.Helper()
		rec := do(h, "GET", "/metrics", nil, nil)
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
			t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Header().Get("Content-Type"))
		}
		return parseProm(t, rec.Body.String())
	}
	get := func(fams map[string]*promFamily, fam, sample string) float64 {
		t.Helper()
		f := fams[fam]
		if f == nil {
			t.Fatalf("no family %s", fam)
		}
		v, ok := f.samples[sample]
		if !ok {
			t.Fatalf("family %s has no sample %s: %v", fam, sample, f.samples)
		}
		return v
	}

	body := "cpu,host=a v=1,w=2 1767225600000000000\ncpu,host=b v=3 1767225660000000000\n"
	if rec := do(h, "POST", "/write", nil, []byte(body)); rec.Code != http.StatusNoContent {
		t.Fatalf("write: %d %s", rec.Code, rec.Body)
	}
	fams := scrape()
	if v := get(fams, "soltix_storage_memory_points", "soltix_storage_memory_points"); v != 3 {
		t.Errorf("memory points before flush %v, want 3", v)
	}
	if v := get(fams, "soltix_storage_wal_bytes", "soltix_storage_wal_bytes"); v < float64(len(body)/2) {
		t.Errorf("WAL bytes before flush %v, want about the body", v)
	}
	if v := get(fams, "soltix_storage_wal_segments", "soltix_storage_wal_segments"); v < 1 {
		t.Errorf("WAL segments %v", v)
	}

	before := float64(time.Now().UnixNano()) / 1e9
	if rec := do(h, "POST", "/api/v1/admin/flush", nil, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("flush: %d %s", rec.Code, rec.Body)
	}
	after := float64(time.Now().UnixNano()) / 1e9
	fams = scrape()

	// The families and their types.
	for name, typ := range map[string]string{
		"go_info": "gauge", "go_goroutines": "gauge", "go_memstats_heap_alloc_bytes": "gauge",
		"go_memstats_heap_inuse_bytes": "gauge", "go_memstats_heap_objects": "gauge", "go_memstats_sys_bytes": "gauge",
		"go_memstats_alloc_bytes_total": "counter", "go_gc_duration_seconds": "summary", "go_gc_gomemlimit_bytes": "gauge",
		"go_gc_gogc_percent":        "gauge",
		"process_cpu_seconds_total": "counter", "process_resident_memory_bytes": "gauge", "process_virtual_memory_bytes": "gauge",
		"process_open_fds": "gauge", "process_max_fds": "gauge", "process_start_time_seconds": "gauge",
		"soltix_storage_memory_points": "gauge", "soltix_storage_series": "gauge", "soltix_storage_wal_bytes": "gauge",
		"soltix_storage_wal_segments": "gauge", "soltix_storage_files": "gauge",
		"soltix_storage_flush_duration_seconds": "histogram", "soltix_storage_compaction_duration_seconds": "histogram",
		"soltix_storage_last_flush_timestamp_seconds": "gauge", "soltix_http_requests_total": "counter",
		"soltix_points_written_total": "counter", "soltix_queries_total": "counter",
	} {
		if f := fams[name]; f == nil || f.typ != typ || !f.help || len(f.samples) == 0 {
			t.Errorf("family %s: %+v, want type %s with HELP and samples", name, f, typ)
		}
	}
	// Plausible values.
	for _, c := range []struct {
		fam, sample string
		lo, hi      float64
	}{
		{"go_goroutines", "go_goroutines", 1, 1e6},
		{"go_gc_gogc_percent", "go_gc_gogc_percent", 1, 1e6},
		{"go_memstats_heap_alloc_bytes", "go_memstats_heap_alloc_bytes", 1 << 10, 1 << 40},
		{"go_memstats_heap_objects", "go_memstats_heap_objects", 1, 1e12},
		{"process_resident_memory_bytes", "process_resident_memory_bytes", 1 << 20, 1 << 40},
		{"process_open_fds", "process_open_fds", 3, 1e7},
		{"process_cpu_seconds_total", "process_cpu_seconds_total", 0, 1e7},
		{"process_start_time_seconds", "process_start_time_seconds", before - 3600, after},
		{"soltix_storage_memory_points", "soltix_storage_memory_points", 0, 0},
		{"soltix_storage_series", "soltix_storage_series", 2, 2},
		{"soltix_storage_files", `soltix_storage_files{level="raw"}`, 1, 2},
		{"soltix_storage_files", `soltix_storage_files{level="1h"}`, 1, 2},
		{"soltix_storage_files", `soltix_storage_files{level="1y"}`, 0, 2},
		{"soltix_storage_flush_duration_seconds", "soltix_storage_flush_duration_seconds_count", 1, 1},
		{"soltix_storage_flush_duration_seconds", `soltix_storage_flush_duration_seconds_bucket{le="+Inf"}`, 1, 1},
		{"soltix_storage_flush_duration_seconds", "soltix_storage_flush_duration_seconds_sum", 1e-9, after - before + 1e-3},
		{"soltix_storage_compaction_duration_seconds", "soltix_storage_compaction_duration_seconds_count", 0, 0},
		{"soltix_storage_last_flush_timestamp_seconds", "soltix_storage_last_flush_timestamp_seconds", before, after},
		{"go_gc_duration_seconds", `go_gc_duration_seconds{quantile="1"}`, 0, 60},
	} {
		if v := get(fams, c.fam, c.sample); v < c.lo || v > c.hi || math.IsNaN(v) {
			t.Errorf("%s = %v, want in [%v, %v]", c.sample, v, c.lo, c.hi)
		}
	}
	// Histogram buckets are cumulative.
	f := fams["soltix_storage_flush_duration_seconds"]
	prev := 0.0
	for _, ub := range storage.DurationBuckets {
		v := f.samples[`soltix_storage_flush_duration_seconds_bucket{le="`+formatPromFloat(ub)+`"}`]
		if v < prev {
			t.Errorf("bucket le=%v is %v, below the one before (%v)", ub, v, prev)
		}
		prev = v
	}
}

// TestMetricsWithoutStats checks that a Store without Stats still serves
// every other family.
func TestMetricsWithoutStats(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	rec := do(s.mux, "GET", "/metrics", nil, nil)
	fams := parseProm(t, rec.Body.String())
	if fams["go_goroutines"] == nil || fams["soltix_storage_memory_points"] != nil {
		t.Errorf("families without storage stats: %v", fams)
	}
}
