package httpapi

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

// The Go runtime, process and storage families of GET /metrics. They are
// written here rather than with the Prometheus client library: the dozen
// families Soltix needs are a few lines each, and the library would bring
// its own dependencies into the module for them.

// processStart approximates the process's start: when this package was
// initialised, a few milliseconds after exec.
var processStart = time.Now()

// clockTicks is the unit of the CPU times in /proc/self/stat (USER_HZ,
// 100 on every Linux architecture Go supports).
const clockTicks = 100

// statsSource is a Store that can report storage.Stats (storage.DB can).
type statsSource interface {
	Stats() storage.Stats
}

// promWriter writes families of the Prometheus text format.
type promWriter struct{ b *bytes.Buffer }

func (p promWriter) family(name, typ, help string) {
	p.b.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + typ + "\n")
}

func (p promWriter) sample(name, labels string, v float64) {
	p.b.WriteString(name)
	if labels != "" {
		p.b.WriteString("{" + labels + "}")
	}
	p.b.WriteString(" " + formatPromFloat(v) + "\n")
}

// one writes a family of one unlabelled sample.
func (p promWriter) one(name, typ, help string, v float64) {
	p.family(name, typ, help)
	p.sample(name, "", v)
}

func formatPromFloat(v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// writeRuntimeMetrics writes the go_* and process_* families.
func writeRuntimeMetrics(b *bytes.Buffer) {
	p := promWriter{b}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)

	p.family("go_info", "gauge", "Information about the Go environment.")
	p.sample("go_info", `version="`+escapeLabel(runtime.Version())+`"`, 1)
	p.one("go_goroutines", "gauge", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine()))
	p.one("go_memstats_heap_alloc_bytes", "gauge", "Bytes of allocated heap objects.", float64(ms.HeapAlloc))
	p.one("go_memstats_heap_inuse_bytes", "gauge", "Bytes in in-use heap spans.", float64(ms.HeapInuse))
	p.one("go_memstats_heap_idle_bytes", "gauge", "Bytes in idle (unused) heap spans.", float64(ms.HeapIdle))
	p.one("go_memstats_heap_released_bytes", "gauge", "Bytes of idle heap spans returned to the OS.", float64(ms.HeapReleased))
	p.one("go_memstats_heap_objects", "gauge", "Number of allocated heap objects.", float64(ms.HeapObjects))
	p.one("go_memstats_sys_bytes", "gauge", "Bytes of memory obtained from the OS.", float64(ms.Sys))
	p.one("go_memstats_alloc_bytes_total", "counter", "Bytes allocated for heap objects, in total.", float64(ms.TotalAlloc))
	p.one("go_memstats_next_gc_bytes", "gauge", "Heap size at which the next garbage collection is due.", float64(ms.NextGC))
	p.one("go_gc_gomemlimit_bytes", "gauge", "The Go heap's soft memory limit (memory_limit).", float64(debug.SetMemoryLimit(-1)))
	gogc := []rtmetrics.Sample{{Name: "/gc/gogc:percent"}}
	rtmetrics.Read(gogc)
	if gogc[0].Value.Kind() == rtmetrics.KindUint64 {
		p.one("go_gc_gogc_percent", "gauge", "The collector's GOGC in force (the collection floor sets it; docs/operations.md).",
			float64(gogc[0].Value.Uint64()))
	}

	// The pause quantiles over the last (up to 256) collections, as the
	// Prometheus client library computes them.
	n := min(int(ms.NumGC), len(ms.PauseNs))
	pauses := make([]float64, n)
	for i := range n {
		pauses[i] = float64(ms.PauseNs[i]) / 1e9
	}
	slices.Sort(pauses)
	p.family("go_gc_duration_seconds", "summary", "Stop-the-world pause durations of garbage collections (quantiles over the last 256).")
	for _, q := range []float64{0, 0.25, 0.5, 0.75, 1} {
		v := 0.0
		if n > 0 {
			v = pauses[int(q*float64(n-1)+0.5)]
		}
		p.sample("go_gc_duration_seconds", `quantile="`+formatPromFloat(q)+`"`, v)
	}
	p.sample("go_gc_duration_seconds_sum", "", float64(ms.PauseTotalNs)/1e9)
	p.sample("go_gc_duration_seconds_count", "", float64(ms.NumGC))

	p.one("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.",
		float64(processStart.UnixNano())/1e9)
	writeProcMetrics(p)
}

// writeProcMetrics writes the process families read from /proc/self;
// where there is no /proc (not Linux) they are left out.
func writeProcMetrics(p promWriter) {
	if stat, err := os.ReadFile("/proc/self/stat"); err == nil {
		// Fields after the command name, which is in parentheses and may
		// hold spaces: state is field 3, utime 14, stime 15, vsize 23, rss 24.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 {
			f := strings.Fields(string(stat[i+1:]))
			field := func(n int) float64 {
				if n-3 >= len(f) {
					return 0
				}
				v, _ := strconv.ParseFloat(f[n-3], 64)
				return v
			}
			p.one("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.",
				(field(14)+field(15))/clockTicks)
			p.one("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", field(23))
			p.one("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
				field(24)*float64(os.Getpagesize()))
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		p.one("process_open_fds", "gauge", "Number of open file descriptors.", float64(len(fds)))
	}
	if limits, err := os.ReadFile("/proc/self/limits"); err == nil {
		for _, line := range strings.Split(string(limits), "\n") {
			if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					if v, err := strconv.ParseFloat(f[0], 64); err == nil {
						p.one("process_max_fds", "gauge", "Maximum number of open file descriptors.", v)
					}
				}
			}
		}
	}
}

// writeStorageMetrics writes the soltix_storage_* families when the store
// reports storage.Stats.
func (s *server) writeStorageMetrics(b *bytes.Buffer) {
	src, ok := s.store.(statsSource)
	if !ok {
		return
	}
	st := src.Stats()
	p := promWriter{b}
	p.one("soltix_storage_memory_points", "gauge", "Field values written and not yet flushed to files.", float64(st.MemoryPoints))
	p.one("soltix_storage_series", "gauge", "Series of every collection.", float64(st.Series))
	if st.WALError == nil {
		p.one("soltix_storage_wal_bytes", "gauge", "Size of the WAL's segment files on disk.", float64(st.WALBytes))
		p.one("soltix_storage_wal_segments", "gauge", "Number of WAL segment files.", float64(st.WALSegments))
	}
	p.family("soltix_storage_files", "gauge", "Open data files by level (raw and each rollup level).")
	for _, l := range append([]model.Level{model.LevelRaw}, model.Levels...) {
		p.sample("soltix_storage_files", `level="`+escapeLabel(l.String())+`"`, float64(st.Files[l]))
	}
	writeStorageHistogram(p, "soltix_storage_flush_duration_seconds", "Time taken by flushes that succeeded.", st.Flushes)
	writeStorageHistogram(p, "soltix_storage_compaction_duration_seconds",
		"Time taken by compactions (of one collection, group and partition) that succeeded.", st.Compactions)
	writeStorageHistogram(p, "soltix_storage_rollup_duration_seconds", "Time taken by rollup passes (one per flush) that succeeded.", st.Rollups.Passes)
	p.one("soltix_storage_rollup_failures_total", "counter", "Rollup passes that failed (their work stays pending for the next flush).", float64(st.Rollups.Failures))
	lastRollup := 0.0
	if !st.Rollups.LastPass.IsZero() {
		lastRollup = float64(st.Rollups.LastPass.UnixNano()) / 1e9
	}
	p.one("soltix_storage_last_rollup_timestamp_seconds", "gauge", "When the last successful rollup pass ended, since the Unix epoch (0: none yet).", lastRollup)
	p.one("soltix_storage_rollup_lag_seconds", "gauge", "How long the oldest pending rollup work (a written or deleted bucket not yet rebuilt) has waited; 0 when none is pending.", st.Rollups.Lag.Seconds())
	p.family("soltix_storage_rollup_pending_buckets", "gauge", "Buckets written or deleted in and not yet rebuilt, by rollup level (reads answer them from finer data meanwhile).")
	for _, l := range model.Levels {
		p.sample("soltix_storage_rollup_pending_buckets", `level="`+escapeLabel(l.String())+`"`, float64(st.Rollups.Pending[l]))
	}
	p.one("soltix_storage_compactions_total", "counter", "Compactions of a unit (collection, group, partition) that merged files and succeeded.", float64(st.Compaction.Runs))
	p.one("soltix_storage_compaction_failures_total", "counter", "Compactions that failed (the input files stay).", float64(st.Compaction.Failures))
	p.one("soltix_storage_compaction_read_bytes_total", "counter", "Bytes of the local files successful compactions merged.", float64(st.Compaction.BytesIn))
	p.one("soltix_storage_compaction_written_bytes_total", "counter", "Bytes of the files successful compactions wrote.", float64(st.Compaction.BytesOut))
	ws := st.WALSyncs
	p.family("soltix_storage_wal_fsync_seconds", "histogram", "Time taken by the WAL's fsyncs of its segment files (each group commit and rotation; none with storage.wal_sync: never).")
	for i, ub := range wal.SyncBuckets {
		var c uint64
		if i < len(ws.Counts) {
			c = ws.Counts[i]
		}
		p.sample("soltix_storage_wal_fsync_seconds_bucket", `le="`+formatPromFloat(ub)+`"`, float64(c))
	}
	p.sample("soltix_storage_wal_fsync_seconds_bucket", `le="+Inf"`, float64(ws.Count))
	p.sample("soltix_storage_wal_fsync_seconds_sum", "", ws.Sum)
	p.sample("soltix_storage_wal_fsync_seconds_count", "", float64(ws.Count))
	last := 0.0
	if !st.LastFlush.IsZero() {
		last = float64(st.LastFlush.UnixNano()) / 1e9
	}
	p.one("soltix_storage_last_flush_timestamp_seconds", "gauge",
		"When the last successful flush ended, since the Unix epoch (0: none yet).", last)
}

func writeStorageHistogram(p promWriter, name, help string, h storage.Histogram) {
	p.family(name, "histogram", help)
	for i, ub := range storage.DurationBuckets {
		var c uint64
		if i < len(h.Counts) {
			c = h.Counts[i]
		}
		p.sample(name+"_bucket", `le="`+formatPromFloat(ub)+`"`, float64(c))
	}
	p.sample(name+"_bucket", `le="+Inf"`, float64(h.Count))
	p.sample(name+"_sum", "", h.Sum)
	p.sample(name+"_count", "", float64(h.Count))
}
