package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
)

// faultyNode is a server over a real storage.DB whose files go through an
// errorfs.FS.
type faultyNode struct {
	t     *testing.T
	fs    *errorfs.FS
	db    *storage.DB
	h     http.Handler
	acked int // points acknowledged with 204
	next  int // time of the next point
}

func newFaultyNode(t *testing.T, maxPoints int) *faultyNode {
	t.Helper()
	fs := errorfs.New(vfs.Default)
	db, err := storage.Open(t.TempDir(), &storage.Options{
		NumGroups: 2, FlushInterval: -1, CompactFiles: -1, MaxMemoryPoints: maxPoints, FS: fs,
		WriteStallTimeout: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &faultyNode{t: t, fs: fs, db: db, h: newServer(db, Options{Logger: slog.New(slog.DiscardHandler)}).mux}
}

// write posts n points and returns the answer; 204 counts them acknowledged.
func (n *faultyNode) write(points int) *http.Response {
	var b strings.Builder
	for i := range points {
		fmt.Fprintf(&b, "c,device_id=d1 v=%di %d\n", n.next+i, n.next+i)
	}
	rec := do(n.h, "POST", "/api/v1/write", nil, []byte(b.String()))
	if rec.Code == http.StatusNoContent {
		n.acked += points
		n.next += points
	}
	return rec.Result()
}

// get returns the status and body of GET target.
func (n *faultyNode) get(target string) (int, string) {
	rec := do(n.h, "GET", target, nil, nil)
	return rec.Code, rec.Body.String()
}

// metric returns the value of an unlabelled metric on /metrics.
func (n *faultyNode) metric(name string) string {
	_, body := n.get("/metrics")
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	n.t.Fatalf("metric %s missing from /metrics", name)
	return ""
}

// TestBackpressureOverHTTP checks item 6 of issue 11 at the HTTP level:
// with the disk full, flushes fail, writes over the memory bound answer 503
// with Retry-After, /ready answers 503 with the reason while /health stays
// 200, /metrics counts the failures; once the disk is healthy again a flush
// succeeds, /ready answers 200, and every acknowledged point is there.
func TestBackpressureOverHTTP(t *testing.T) {
	const max, per = 1000, 100
	n := newFaultyNode(t, max)
	for range 5 {
		if res := n.write(per); res.StatusCode != http.StatusNoContent {
			t.Fatalf("write: %d", res.StatusCode)
		}
	}
	n.fs.Inject(errorfs.Rule{Op: errorfs.OpWrite, Path: "*.col.tmp", Err: syscall.ENOSPC, Short: true})
	if code, body := n.get("/ready"); code != http.StatusOK || !strings.Contains(body, `"status":"ready"`) {
		t.Errorf("/ready before any failure: %d %s", code, body)
	}
	if rec := do(n.h, "POST", "/api/v1/admin/flush", nil, nil); rec.Code < 500 {
		t.Fatalf("flush on a full disk: %d %s, want an error", rec.Code, rec.Body)
	}
	var res *http.Response
	for range 50 {
		if res = n.write(per); res.StatusCode != http.StatusNoContent {
			break
		}
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(body), "storage.max_memory_points") {
		t.Fatalf("write over the bound: %d Retry-After=%q %s, want 503 with Retry-After naming storage.max_memory_points",
			res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	if n.acked != 2*max {
		t.Errorf("acknowledged before the refusal: %d, want %d", n.acked, 2*max)
	}
	code, ready := n.get("/ready")
	var st struct {
		Status  string `json:"status"`
		Reason  string `json:"reason"`
		Storage struct {
			ConsecutiveFlushFailures int `json:"consecutive_flush_failures"`
			MemoryPoints             int `json:"memory_points"`
			MemoryPointsLimit        int `json:"memory_points_limit"`
		} `json:"storage"`
	}
	if err := json.Unmarshal([]byte(ready), &st); err != nil {
		t.Fatalf("/ready body %q: %v", ready, err)
	}
	if code != http.StatusServiceUnavailable || st.Status != "not ready" || !strings.Contains(st.Reason, "no space left on device") ||
		st.Storage.ConsecutiveFlushFailures != 1 || st.Storage.MemoryPoints != 2*max || st.Storage.MemoryPointsLimit != 2*max {
		t.Errorf("/ready with failing flushes: %d %s", code, ready)
	}
	if code, body := n.get("/health"); code != http.StatusOK {
		t.Errorf("/health with failing flushes: %d %s, want 200 (a restart does not help)", code, body)
	}
	for name, want := range map[string]string{
		"soltix_storage_flush_failures_total":       "1",
		"soltix_storage_writes_refused_total":       "1",
		"soltix_storage_write_stalls_total":         "1",
		"soltix_storage_memory_points":              "2000",
		"soltix_storage_memory_points_limit":        "2000",
		"soltix_storage_flush_consecutive_failures": "1",
		"soltix_storage_wal_failed":                 "0",
	} {
		if got := n.metric(name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}

	n.fs.Clear()
	if rec := do(n.h, "POST", "/api/v1/admin/flush", nil, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("flush on a healthy disk: %d %s", rec.Code, rec.Body)
	}
	if code, body := n.get("/ready"); code != http.StatusOK || !strings.Contains(body, `"consecutive_flush_failures":0`) {
		t.Errorf("/ready after recovery: %d %s", code, body)
	}
	if res := n.write(per); res.StatusCode != http.StatusNoContent {
		t.Fatalf("write after recovery: %d", res.StatusCode)
	}
	if got := n.metric("soltix_storage_memory_points"); got != "100" {
		t.Errorf("memory after recovery: %s, want 100", got)
	}
	code, out := n.get("/api/v1/query?q=" + url.QueryEscape("SELECT count(v) FROM c"))
	if want := fmt.Sprintf(",%d]]", n.acked); code != http.StatusOK || !strings.Contains(out, want) {
		t.Errorf("count after recovery: %d %s, want %s", code, out, want)
	}
}

// TestWALFailureOverHTTP checks that a failed WAL, which refuses every
// write until restart, makes writes 503 with Retry-After and /ready and
// /health 503 with the reason, and shows on /metrics.
func TestWALFailureOverHTTP(t *testing.T) {
	n := newFaultyNode(t, 0)
	if res := n.write(10); res.StatusCode != http.StatusNoContent {
		t.Fatalf("write: %d", res.StatusCode)
	}
	n.fs.Inject(errorfs.Rule{Op: errorfs.OpSync, Path: "*.wal", Err: syscall.EIO})
	for range 2 {
		if res := n.write(10); res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			t.Fatalf("write with a failed WAL: %d Retry-After=%q, want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
		}
	}
	for _, target := range []string{"/ready", "/health"} {
		code, body := n.get(target)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "wal failed") || !strings.Contains(body, `"wal_failed":true`) {
			t.Errorf("%s with a failed WAL: %d %s, want 503 naming the WAL failure", target, code, body)
		}
	}
	if got := n.metric("soltix_storage_wal_failed"); got != "1" {
		t.Errorf("soltix_storage_wal_failed = %s, want 1", got)
	}
	if got := n.metric("soltix_storage_wal_errors_total"); got != "2" {
		t.Errorf("soltix_storage_wal_errors_total = %s, want 2", got)
	}
}
