package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRollupsOnSurvivesKillNine is issue 11's first reproduction against
// the real binary: rollups turned on over data written with them off, then
// SIGKILL before any flush. After the restart (and after further flushes
// and kills) every aggregate must equal levels=raw. Before the fix count(v)
// returned no rows while levels=raw returned 48.
func TestRollupsOnSurvivesKillNine(t *testing.T) {
	dir := t.TempDir()
	s := startBinary(t, dir)
	do := func(method, path, body string) {
		t.Helper()
		req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	do(http.MethodPut, "/api/v1/admin/collections/c", `{"rollups": false}`)
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var lines strings.Builder
	for i := range 48 {
		fmt.Fprintf(&lines, "c,device_id=d1 v=%di %d\n", i+1, day0.Add(time.Duration(i)*time.Hour).UnixNano())
	}
	if code, err := s.write(lines.String()); err != nil || code != http.StatusNoContent {
		t.Fatalf("write: %d %v", code, err)
	}
	do(http.MethodPost, "/api/v1/admin/flush", "")
	do(http.MethodPut, "/api/v1/admin/collections/c", `{"rollups": true}`)
	s.kill(t)

	queries := []string{
		"SELECT count(v), sum(v) FROM c",
		"SELECT count(v), max(v) FROM c WHERE time >= '2026-03-01T00:00:00Z' AND time < '2026-03-04T00:00:00Z' GROUP BY 1d",
		"SELECT count(v) FROM c WHERE time >= '2026-01-01T00:00:00Z' AND time < '2027-01-01T00:00:00Z' GROUP BY 1M",
	}
	check := func(stage string) {
		t.Helper()
		for _, q := range queries {
			got, raw := s.query(t, q), s.queryParams(t, q, "&levels=raw")
			if g, r := fmt.Sprint(got.Rows), fmt.Sprint(raw.Rows); g != r {
				t.Errorf("%s: %s:\ngot %s\nraw %s", stage, q, g, r)
			}
		}
	}
	for round := range 3 {
		s = startBinary(t, dir)
		check(fmt.Sprintf("restart %d", round))
		do(http.MethodPost, "/api/v1/admin/flush", "")
		check(fmt.Sprintf("restart %d, flushed", round))
		s.kill(t)
	}
}
