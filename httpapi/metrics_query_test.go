package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/storage"
)

// TestQueryDurationMetrics runs statements of every type over a real
// storage with rollups and checks that each is counted once in
// soltix_query_duration_seconds under its type and the level it read.
func TestQueryDurationMetrics(t *testing.T) {
	db, err := storage.Open(t.TempDir(), &storage.Options{FlushInterval: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := New(db, Options{Logger: slog.New(slog.DiscardHandler)})
	// Two days of points every 10 minutes, from 2026-01-01.
	const t0 = int64(1767225600) * 1e9
	var b strings.Builder
	for i := range 2 * 24 * 6 {
		fmt.Fprintf(&b, "cpu,host=a v=%d %d\n", i, t0+int64(i)*600e9)
	}
	if rec := do(h, "POST", "/write", nil, []byte(b.String())); rec.Code != http.StatusNoContent {
		t.Fatalf("write: %d %s", rec.Code, rec.Body)
	}
	if rec := do(h, "POST", "/api/v1/admin/flush", nil, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("flush: %d", rec.Code)
	}
	count := func() map[string]float64 {
		rec := do(h, "GET", "/metrics", nil, nil)
		out := map[string]float64{}
		if f := parseProm(t, rec.Body.String())["soltix_query_duration_seconds"]; f != nil {
			if f.typ != "histogram" {
				t.Fatalf("soltix_query_duration_seconds is a %s", f.typ)
			}
			for k, v := range f.samples {
				if strings.HasPrefix(k, "soltix_query_duration_seconds_count") {
					out[strings.TrimPrefix(k, "soltix_query_duration_seconds_count")] = v
				}
			}
		}
		return out
	}
	day := func(d int) string { return fmt.Sprint(t0 + int64(d)*86400e9) }
	for _, tc := range []struct {
		q    string
		want string // the labels of the series that must go up by one
	}{
		{"SELECT v FROM cpu", `{type="select",level="raw"}`},
		{"SELECT mean(v) FROM cpu WHERE time >= " + day(0) + " AND time < " + day(2) + " GROUP BY time(1d)", `{type="select",level="1d"}`},
		{"SELECT mean(v) FROM cpu WHERE time >= " + day(0) + " AND time < " + day(2) + " GROUP BY time(1h)", `{type="select",level="1h"}`},
		{"SELECT mean(v) FROM cpu WHERE time >= " + day(0) + " AND time < " + day(1) + " + 90m GROUP BY time(1d)", `{type="select",level="mixed"}`},
		{"SHOW COLLECTIONS", `{type="show",level="none"}`},
		{"EXPLAIN SELECT v FROM cpu", `{type="explain",level="none"}`},
		{"DELETE FROM cpu WHERE time < " + fmt.Sprint(t0+600e9), `{type="delete",level="none"}`},
		{"SELECT nope(v) FROM cpu", ""}, // refused by the parser: nothing ran
	} {
		before := count()
		method := "GET"
		if strings.HasPrefix(tc.q, "DELETE") {
			method = "POST"
		}
		rec := do(h, method, "/api/v1/query?q="+url.QueryEscape(tc.q), nil, nil)
		if tc.want != "" && rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.q, rec.Code, rec.Body)
		}
		after := count()
		for k, v := range after {
			want := before[k]
			if k == tc.want {
				want++
			}
			if v != want {
				t.Errorf("%s: %s went from %v to %v, want %v", tc.q, k, before[k], v, want)
			}
		}
		if tc.want != "" && after[tc.want] == 0 {
			t.Errorf("%s: no series %s in %v", tc.q, tc.want, after)
		}
	}
}
