package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/storage"
)

// TestDeleteThroughHTTP deletes with the language and the admin route and
// checks the answers in memory, after a flush, after compaction and after a
// restart, and that writes after a delete are kept.
func TestDeleteThroughHTTP(t *testing.T) {
	s := startLiveServer(t, t.TempDir(), storage.Options{NumGroups: 4}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	post := func(path, ctype, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(s.http.URL+path, ctype, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	count := func(q string) string {
		t.Helper()
		resp, err := http.Get(s.http.URL + "/api/v1/query?q=" + url.QueryEscape(q))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	var lp strings.Builder
	for h := range 48 { // two days, hourly, two devices
		for _, d := range []string{"d1", "d2"} {
			fmt.Fprintf(&lp, "m,device_id=%s v=%di %d\n", d, h, time.Date(2025, 1, 1, h, 0, 0, 0, time.UTC).UnixNano())
		}
	}
	if code, body := post("/api/v1/write", "text/plain", lp.String()); code != http.StatusNoContent {
		t.Fatalf("write: %d %s", code, body)
	}
	const q = "SELECT count(v) FROM m GROUP BY device_id"
	want := func(stage, d1, d2 string) {
		t.Helper()
		got := count(q)
		// Which levels answered is not what this test is about.
		if i := strings.Index(got, `,"stats":`); i >= 0 {
			got = got[:i] + "}"
		}
		exp := fmt.Sprintf(`{"columns":["time","device_id","count(v)"],"rows":[["1970-01-01T00:00:00Z","d1",%s],["1970-01-01T00:00:00Z","d2",%s]]}`, d1, d2)
		if got != exp {
			t.Fatalf("%s: %s\n got %s\nwant %s", stage, q, got, exp)
		}
	}
	want("before", "48", "48")
	// Flush half the data into files first, so the delete meets both.
	if code, _ := post("/api/v1/admin/flush", "", ""); code != http.StatusNoContent {
		t.Fatalf("flush: %d", code)
	}
	code, body := post("/api/v1/query", "text/plain",
		"DELETE FROM m WHERE device_id = 'd1' AND time >= '2025-01-01T10:00:00Z' AND time < '2025-01-01T20:00:00Z'")
	if code != http.StatusOK || !strings.Contains(body, `"deleted_series"`) {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	want("after DELETE", "38", "48")
	code, body = post("/api/v1/admin/delete", "application/json",
		`{"collection":"m","tags":{"device_id":"d2"},"start":"2025-01-02T00:00:00Z"}`)
	if code != http.StatusOK || !strings.Contains(body, `"deleted_series":1`) {
		t.Fatalf("admin delete: %d %s", code, body)
	}
	want("after admin delete", "38", "24")
	// A write after the delete, into the deleted range, is kept.
	if code, body := post("/api/v1/write", "text/plain", fmt.Sprintf("m,device_id=d1 v=99i %d\n", time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC).UnixNano())); code != http.StatusNoContent {
		t.Fatalf("write after delete: %d %s", code, body)
	}
	want("after rewrite", "39", "24")
	if code, _ := post("/api/v1/admin/flush", "", ""); code != http.StatusNoContent {
		t.Fatalf("flush: %d", code)
	}
	want("after flush", "39", "24")
	if code, _ := post("/api/v1/admin/compact", "", ""); code != http.StatusNoContent {
		t.Fatalf("compact: %d", code)
	}
	want("after compaction", "39", "24")
	s.restart()
	want("after restart", "39", "24")
	if got := count("SELECT v FROM m WHERE device_id = 'd1' AND time = '2025-01-01T12:00:00Z'"); !strings.Contains(got, `,99]`) {
		t.Errorf("rewritten point: %s, want value 99", got)
	}
}
