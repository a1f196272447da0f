package httpapi

import (
	"bytes"
	"net/http"
	"strconv"
	"sync/atomic"
)

// Write rejections by reason, the label of soltix_write_rejections_total
// (docs/observability.md). Every write request answered with an error
// status counts once, under one reason; soltix_write_errors_total is their
// sum. Requests refused for their token (401, 403 before the handler) are
// counted by soltix_auth_failures_total and soltix_auth_denials_total.
const (
	// writeReasonBadRequest: a bad parameter or body shape (400 without
	// a list of lines).
	writeReasonBadRequest = "bad_request"
	// writeReasonBadLines: lines that do not parse, clash with a field's
	// kind, or fall outside the raw retention (400 with their list);
	// nothing written.
	writeReasonBadLines = "bad_lines"
	// writeReasonForbidden: a collection the token may not write (403).
	writeReasonForbidden = "forbidden"
	// writeReasonLimit: a limit refused it (body size or time, bytes in
	// flight, lines per write, writes at once, new series per minute);
	// soltix_limit_rejections_total says which.
	writeReasonLimit = "limit"
	// writeReasonUnavailable: the storage could not take it (503).
	writeReasonUnavailable = "unavailable"
	// writeReasonDiskFull: no space left (507).
	writeReasonDiskFull = "disk_full"
	// writeReasonInternal: any other error (500).
	writeReasonInternal = "internal"
)

// writeReasons are every reason, in the order written; each is written
// even at 0.
var writeReasons = []string{
	writeReasonBadRequest, writeReasonBadLines, writeReasonForbidden, writeReasonLimit,
	writeReasonUnavailable, writeReasonDiskFull, writeReasonInternal,
}

// writeReasonFor is the reason of an error status the write handler chose
// itself.
func writeReasonFor(code int) string {
	switch code {
	case http.StatusBadRequest:
		return writeReasonBadRequest
	case http.StatusForbidden:
		return writeReasonForbidden
	case http.StatusRequestEntityTooLarge, http.StatusRequestTimeout, http.StatusTooManyRequests:
		return writeReasonLimit
	case http.StatusServiceUnavailable:
		return writeReasonUnavailable
	case http.StatusInsufficientStorage:
		return writeReasonDiskFull
	}
	return writeReasonInternal
}

// writeCounters counts write rejections by reason and the bytes of the
// write bodies read. It is safe for concurrent use.
type writeCounters struct {
	reasons [7]atomic.Uint64 // by index in writeReasons
}

// writeRejected counts a write request answered with an error.
func (m *metrics) writeRejected(reason string) {
	m.writeErrors.Add(1)
	for i, r := range writeReasons {
		if r == reason {
			m.writes.reasons[i].Add(1)
			return
		}
	}
}

// writeWriteMetrics writes soltix_write_rejections_total and
// soltix_write_bytes_total.
func (m *metrics) writeWriteMetrics(b *bytes.Buffer) {
	b.WriteString("# HELP soltix_write_rejections_total Write requests answered with an error status, by reason (docs/observability.md).\n")
	b.WriteString("# TYPE soltix_write_rejections_total counter\n")
	for i, r := range writeReasons {
		b.WriteString(`soltix_write_rejections_total{reason="` + r + `"} ` + strconv.FormatUint(m.writes.reasons[i].Load(), 10) + "\n")
	}
	b.WriteString("# HELP soltix_write_bytes_total Bytes of write request bodies read in full (after gzip decompression), accepted or not.\n")
	b.WriteString("# TYPE soltix_write_bytes_total counter\n")
	b.WriteString("soltix_write_bytes_total " + strconv.FormatUint(m.writeBytes.Load(), 10) + "\n")
}
