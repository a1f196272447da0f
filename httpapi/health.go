package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/soltixdb/soltix/storage"
)

// healthReporter is implemented by a Store that reports its state
// (storage.DB does); /health, /ready and /metrics use it when present.
type healthReporter interface {
	Health() storage.Health
}

// storageHealth returns the store's state, if it reports one.
func (s *server) storageHealth() (storage.Health, bool) {
	hr, ok := s.store.(healthReporter)
	if !ok {
		return storage.Health{}, false
	}
	return hr.Health(), true
}

// storageStatus is the "storage" object of /health and /ready.
type storageStatus struct {
	WALFailed                bool       `json:"wal_failed"`
	WALError                 string     `json:"wal_error,omitempty"`
	LastFlushError           string     `json:"last_flush_error,omitempty"`
	LastFlushErrorTime       *time.Time `json:"last_flush_error_time,omitempty"`
	LastFlushTime            *time.Time `json:"last_flush_time,omitempty"`
	ConsecutiveFlushFailures int        `json:"consecutive_flush_failures"`
	MemoryPoints             int        `json:"memory_points"`
	MemoryPointsLimit        int        `json:"memory_points_limit"`
	WriteStalls              uint64     `json:"write_stalls"`
	WritesRefused            uint64     `json:"writes_refused"`
}

// writeStatus answers a probe with {"status", "reason", "storage",
// "quarantined"}: 200 when reason is nil, else 503.
func writeStatus(w http.ResponseWriter, status string, reason error, h storage.Health, q []storage.QuarantinedFile) {
	body := struct {
		Status      string                    `json:"status"`
		Reason      string                    `json:"reason,omitempty"`
		Storage     storageStatus             `json:"storage"`
		Quarantined []storage.QuarantinedFile `json:"quarantined,omitempty"`
	}{Status: status, Quarantined: q}
	if reason != nil {
		body.Reason = reason.Error()
	}
	st := &body.Storage
	st.WALFailed = h.WALError != nil
	if h.WALError != nil {
		st.WALError = h.WALError.Error()
	}
	if h.LastFlushError != nil {
		st.LastFlushError = h.LastFlushError.Error()
		t := h.LastFlushErrorTime.UTC()
		st.LastFlushErrorTime = &t
	}
	if !h.LastFlushTime.IsZero() {
		t := h.LastFlushTime.UTC()
		st.LastFlushTime = &t
	}
	st.ConsecutiveFlushFailures = h.ConsecutiveFlushFailures
	st.MemoryPoints, st.MemoryPointsLimit = h.MemoryPoints, h.MemoryLimit
	st.WriteStalls, st.WritesRefused = h.WriteStalls, h.WritesRefused
	b, _ := json.Marshal(body)
	code := http.StatusOK
	if reason != nil {
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", storageRetryAfter)
	}
	writeJSON(w, code, b)
}

// storageRetryAfter is the Retry-After of a 503 caused by the storage's
// state: about how often the background flusher tries again.
const storageRetryAfter = "2"

// storageMetrics appends the storage's failure and backpressure counters
// and gauges to a /metrics answer (memory points and the last flush time
// are among the families of metrics_runtime.go).
func storageMetrics(h storage.Health, counter, gauge func(name, help string, v float64)) {
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	counter("soltix_storage_flush_failures_total", "Flushes that failed (data stays in memory and the WAL).", float64(h.FlushFailures))
	counter("soltix_storage_wal_errors_total", "Writes and flushes that failed in the WAL.", float64(h.WALErrors))
	counter("soltix_storage_write_stalls_total", "Writes that waited because memory was over its bound.", float64(h.WriteStalls))
	counter("soltix_storage_writes_refused_total", "Writes refused with 503 after waiting for memory (backpressure).", float64(h.WritesRefused))
	counter("soltix_storage_disk_full_total", "Writes refused (507) and flushes failed because the disk was full.", float64(h.DiskFull))
	gauge("soltix_storage_wal_failed", "1 once the WAL has failed: writes are refused until restart.", b2f(h.WALError != nil))
	gauge("soltix_storage_flush_consecutive_failures", "Flushes failed since the last one that succeeded.", float64(h.ConsecutiveFlushFailures))
	gauge("soltix_storage_memory_points_limit", "Field values in memory at which writes wait.", float64(h.MemoryLimit))
}
