package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// gfTargets returns the JSON list of n SQL targets running q.
func gfTargets(n int, q string) string {
	ts := make([]string, n)
	for i := range ts {
		ts[i] = fmt.Sprintf(`{"refId": "T%d", "target": %q}`, i, q)
	}
	return "[" + strings.Join(ts, ",") + "]"
}

// TestGrafanaLimitsPerRequest checks that query.max_rows, query.max_points
// and query.timeout bound a Grafana request as a whole: many targets, each
// under a limit but together over it, are refused with 422 naming the
// setting, and all targets of a request share one deadline.
func TestGrafanaLimitsPerRequest(t *testing.T) {
	st := newBoundsStore(t)
	const from, to = "1970-01-01T00:00:00Z", "1970-01-02T00:00:00Z"
	one := "SELECT v FROM c WHERE host = 'h00'" // 500 rows, 500 points
	// A condition on a field makes percentile read raw (not rollup sketches).
	pct := "SELECT percentile(v, 50) FROM c WHERE host = 'h00' AND v >= 0" // 1 row, 500 points
	for _, tc := range []struct {
		name    string
		opts    Options
		targets string
		code    int
		errText string
	}{
		{"rows: one target under the cap", Options{MaxRows: 1000}, gfTargets(1, one), 200, ""},
		{"rows: two targets at the cap", Options{MaxRows: 1000}, gfTargets(2, one), 200, ""},
		{"rows: three targets over the cap", Options{MaxRows: 1000}, gfTargets(3, one), 422, "more than 1000 rows (query.max_rows)"},
		{"rows: 50 targets over the cap", Options{MaxRows: 1000}, gfTargets(50, one), 422, "(query.max_rows)"},
		{"points: ten targets at the cap", Options{MaxPoints: 5000}, gfTargets(10, pct), 200, ""},
		{"points: eleven targets over the cap", Options{MaxPoints: 5000}, gfTargets(11, pct), 422, "more than 5000 points (query.max_points)"},
		{"points: raw targets over the cap", Options{MaxPoints: 5000}, gfTargets(11, one), 422, "(query.max_points)"},
	} {
		s := boundsServer(t, st, tc.opts)
		hdr := http.Header{"Content-Type": {"application/json"}}
		rec := do(s.mux, http.MethodPost, "/grafana/query", hdr, []byte(gfQueryBody(from, to, 1000, 1000, tc.targets, "", "")))
		if rec.Code != tc.code {
			t.Errorf("%s: %d %.300s, want %d", tc.name, rec.Code, rec.Body, tc.code)
			continue
		}
		if tc.code != 200 {
			var body struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !strings.Contains(body.Error, tc.errText) {
				t.Errorf("%s: body %.300s, want an error containing %q", tc.name, rec.Body, tc.errText)
			}
		}
	}

	// Every read of every target sees the same deadline: the request's.
	var mu sync.Mutex
	deadlines := map[time.Time]int{}
	st.gate = func(ctx context.Context, _ string, _ int64) error {
		d, ok := ctx.Deadline()
		if !ok {
			return fmt.Errorf("a read without a deadline")
		}
		mu.Lock()
		deadlines[d]++
		mu.Unlock()
		time.Sleep(time.Millisecond) // so that deadlines set per target differ
		return nil
	}
	defer func() { st.gate = nil }()
	s := boundsServer(t, st, Options{QueryTimeout: time.Hour})
	hdr := http.Header{"Content-Type": {"application/json"}}
	rec := do(s.mux, http.MethodPost, "/grafana/query", hdr, []byte(gfQueryBody(from, to, 1000, 1000, gfTargets(5, one), "", "")))
	if rec.Code != 200 {
		t.Fatalf("deadline: %d %.300s", rec.Code, rec.Body)
	}
	if len(deadlines) != 1 {
		t.Errorf("the reads of 5 targets saw %d deadlines, want 1 (one per request): %v", len(deadlines), deadlines)
	}
}
