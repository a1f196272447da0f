package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDamagedFileIsQuarantinedAtStart truncates a raw file and a rollup
// file in the data directory of a stopped binary and starts it again: it
// serves, reports the raw file on /ready and /metrics and in its log,
// fails the queries that need it with an error naming it, answers the
// others, and rebuilds the rollup file.
func TestDamagedFileIsQuarantinedAtStart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startBinary(t, data)
	// Two days of cpu (device d1), one point of mem.
	lines := "cpu,device_id=d1 v=1 1772323200000000000\ncpu,device_id=d1 v=2 1772326800000000000\n" +
		"cpu,device_id=d1 v=3 1772409600000000000\nmem,device_id=d1 v=4 1772323200000000000\n"
	if code, err := s.write(lines); err != nil || code != 204 {
		t.Fatalf("write: %d %v", code, err)
	}
	if resp, err := http.Post(s.url+"/api/v1/admin/flush", "", nil); err != nil || resp.StatusCode != 204 {
		t.Fatalf("flush: %v %v", resp, err)
	}
	s.stop(t)

	raw, _ := filepath.Glob(filepath.Join(data, "collections", "cpu", "group_*", "20260301T*.col"))
	roll, _ := filepath.Glob(filepath.Join(data, "collections", "mem", "group_*", "rollup_1h", "*.col"))
	if len(raw) != 1 || len(roll) != 1 {
		t.Fatalf("raw files %v, rollup files %v: want one each", raw, roll)
	}
	for _, f := range []string{raw[0], roll[0]} {
		if err := os.Truncate(f, 17); err != nil {
			t.Fatal(err)
		}
	}

	s = startBinary(t, data)
	defer s.stop(t)
	rel, _ := filepath.Rel(data, raw[0])
	rel = filepath.ToSlash(filepath.Join("quarantine", rel))
	if l := s.logs.String(); !strings.Contains(l, "ERROR") || !strings.Contains(l, raw[0]) {
		t.Errorf("log lacks an ERROR naming %s:\n%s", raw[0], l)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/ready")
	var ready struct {
		Status      string `json:"status"`
		Quarantined []struct {
			Path string `json:"path"`
		} `json:"quarantined"`
	}
	if json.Unmarshal([]byte(body), &ready) != nil || code != 200 || ready.Status != "degraded" {
		t.Errorf("/ready: %d %s", code, body)
	}
	found := false
	for _, q := range ready.Quarantined {
		found = found || q.Path == rel
	}
	if !found {
		t.Errorf("/ready does not list %s: %s", rel, body)
	}
	if _, body := get("/metrics"); !strings.Contains(body, "\nsoltix_quarantined_files ") {
		t.Errorf("/metrics lacks soltix_quarantined_files")
	}
	q := func(query string) (int, string) { return get("/api/v1/query?q=" + url.QueryEscape(query)) }
	if code, body := q("SELECT sum(v) FROM cpu"); code != 500 || !strings.Contains(body, rel) {
		t.Errorf("query over the damaged day: %d %s, want 500 naming %s", code, body, rel)
	}
	if code, body := q("SELECT sum(v) FROM cpu WHERE time >= '2026-03-02'"); code != 200 || !strings.Contains(body, `,3]]`) {
		t.Errorf("query over the other day: %d %s", code, body)
	}
	// The rollup file of mem is rebuilt by a flush, and mem answers
	// exactly throughout.
	for _, step := range []string{"before the rebuild", "after the rebuild"} {
		if code, body := q("SELECT sum(v) FROM mem GROUP BY 1h"); code != 200 || !strings.Contains(body, `,4]]`) {
			t.Errorf("mem %s: %d %s", step, code, body)
		}
		if resp, err := http.Post(s.url+"/api/v1/admin/flush", "", nil); err != nil || resp.StatusCode != 204 {
			t.Fatalf("flush: %v %v", resp, err)
		}
	}
	if _, body := get("/ready"); strings.Contains(body, "rollup_1h") {
		t.Errorf("/ready after the rebuild still lists the rollup file: %s", body)
	}
}
