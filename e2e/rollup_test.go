package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/storage"
)

// rollupAnswer is a decoded SELECT or EXPLAIN answer with its stats.
type rollupAnswer struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
	Stats   *struct {
		Levels []struct {
			Level  string `json:"level"`
			Rows   int64  `json:"rows"`
			Points int64  `json:"points"`
			Blocks int64  `json:"blocks"`
		} `json:"levels"`
		Notes []string `json:"notes"`
	} `json:"stats"`
}

// levels returns the levels of the stats, e.g. "1h:rows=3 raw:points=2".
func (a *rollupAnswer) levels() string {
	if a.Stats == nil {
		return "<no stats>"
	}
	var parts []string
	for _, l := range a.Stats.Levels {
		parts = append(parts, fmt.Sprintf("%s:rows=%d,points=%d,blocks=%d", l.Level, l.Rows, l.Points, l.Blocks))
	}
	return strings.Join(parts, " ")
}

// rowsJSON returns the rows as JSON, for exact comparisons.
func (a *rollupAnswer) rowsJSON() string {
	b, _ := json.Marshal(a.Rows)
	return string(b)
}

// explainSegment is one row of an EXPLAIN answer.
type explainSegment struct {
	start, end         time.Time
	level              string
	rows, dirty, files int64
}

func (e explainSegment) String() string {
	return fmt.Sprintf("[%s, %s] %s rows=%d dirty=%d files=%d", e.start.Format(time.RFC3339Nano), e.end.Format(time.RFC3339Nano), e.level, e.rows, e.dirty, e.files)
}

// TestRollupsThroughHTTP writes a year of ten-minute data for one device
// and checks through HTTP that queries read rollups after a flush, stay
// exact while a late write is in memory, and that rollup and retention
// settings set by the admin API work and survive a restart.
func TestRollupsThroughHTTP(t *testing.T) {
	runRollups(t, serveTarget)
}

// runRollups is TestRollupsThroughHTTP against the target startTarget
// starts.
func runRollups(t *testing.T, startTarget starter) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := startTarget(t, storage.Options{NumGroups: 4, Now: func() time.Time { return now }}, now)

	do := func(method, path, ctype, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, s.url()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	query := func(q, params string) *rollupAnswer {
		t.Helper()
		code, body := do(http.MethodGet, "/api/v1/query?q="+url.QueryEscape(q)+params, "", "")
		if code != http.StatusOK {
			t.Fatalf("%s (%s): status %d: %s", q, params, code, body)
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(body)))
		dec.UseNumber()
		var a rollupAnswer
		if err := dec.Decode(&a); err != nil {
			t.Fatalf("%s: decode %s: %v", q, body, err)
		}
		return &a
	}
	explain := func(q string) []explainSegment {
		t.Helper()
		a := query("EXPLAIN "+q, "")
		var segs []explainSegment
		for _, r := range a.Rows {
			seg := explainSegment{level: r[2].(string)}
			var err error
			if seg.start, err = time.Parse(time.RFC3339Nano, r[0].(string)); err != nil {
				t.Fatalf("EXPLAIN %s: segment_start %v", q, r[0])
			}
			if seg.end, err = time.Parse(time.RFC3339Nano, r[1].(string)); err != nil {
				t.Fatalf("EXPLAIN %s: segment_end %v", q, r[1])
			}
			for _, f := range []struct {
				dst *int64
				col int
			}{{&seg.files, 5}, {&seg.rows, 6}, {&seg.dirty, 7}} {
				n, err := r[f.col].(json.Number).Int64()
				if err != nil {
					t.Fatalf("EXPLAIN %s: column %s: %v", q, a.Columns[f.col], r[f.col])
				}
				*f.dst = n
			}
			segs = append(segs, seg)
		}
		return segs
	}
	// noRaw fails when an answer read raw points.
	noRaw := func(stage, q string, a *rollupAnswer) {
		t.Helper()
		if a.Stats == nil || len(a.Stats.Levels) == 0 {
			t.Fatalf("%s: %s: no stats.levels", stage, q)
		}
		for _, l := range a.Stats.Levels {
			if l.Level == "raw" {
				t.Errorf("%s: %s read raw data: %s", stage, q, a.levels())
			}
		}
	}
	maxOf := func(a *rollupAnswer) float64 {
		t.Helper()
		if len(a.Rows) != 1 || len(a.Rows[0]) != 2 {
			t.Fatalf("max answer: %s, want one row", a.rowsJSON())
		}
		f, err := a.Rows[0][1].(json.Number).Float64()
		if err != nil {
			t.Fatalf("max answer: %s", a.rowsJSON())
		}
		return f
	}

	// One device, every ten minutes through 2025, values in quarters (so
	// sums are exact in any order).
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 365 * 24 * 6
	var lp strings.Builder
	wantMax := -1e300
	for i := range n {
		ts := start.Add(time.Duration(i) * 10 * time.Minute)
		v := float64((i*7919)%4001)/4 + float64(ts.YearDay()%97)
		wantMax = max(wantMax, v)
		fmt.Fprintf(&lp, "c,device_id=d1 v=%s %d\n", strconv.FormatFloat(v, 'f', -1, 64), ts.UnixNano())
	}
	if code, body := do(http.MethodPost, "/api/v1/write", "text/plain", lp.String()); code != http.StatusNoContent {
		t.Fatalf("write %d points: %d %s", n, code, body)
	}
	s.flush()

	const (
		qYear = "SELECT max(v) FROM c WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z'"
		qMid  = "SELECT count(v), sum(v), min(v), max(v), first(v), last(v) FROM c WHERE time >= '2025-03-10T12:30:00Z' AND time < '2025-12-01T00:00:00Z'"
	)
	midEdge := time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)

	// year checks qYear: one clean segment at a coarse level, answered from
	// rollups only, with the true max.
	year := func(stage string, want float64) {
		t.Helper()
		segs := explain(qYear)
		if len(segs) != 1 || (segs[0].level != "1y" && segs[0].level != "1M") || segs[0].rows <= 0 || segs[0].dirty != 0 {
			t.Errorf("%s: EXPLAIN %s: %v, want one segment at 1y (or 1M) with rows and no dirty bucket", stage, qYear, segs)
		}
		a := query(qYear, "")
		if got := maxOf(a); got != want {
			t.Errorf("%s: %s = %v, want %v", stage, qYear, got, want)
		}
		noRaw(stage, qYear, a)
	}
	// mid checks qMid: raw and 1h only at the start edge, coarser levels for
	// the rest, and the same answer as levels=raw; rollup rows are used
	// unless every bucket is dirty.
	mid := func(stage string, allDirty bool) {
		t.Helper()
		segs := explain(qMid)
		have := map[string]bool{}
		for _, seg := range segs {
			have[seg.level] = true
			if (seg.level == "raw" || seg.level == "1h") && !seg.end.Before(midEdge) {
				t.Errorf("%s: EXPLAIN %s: %v is not at the start edge", stage, qMid, seg)
			}
		}
		if !have["raw"] || !have["1h"] || !have["1d"] || !have["1M"] {
			t.Errorf("%s: EXPLAIN %s: %v, want raw, 1h, 1d and 1M segments", stage, qMid, segs)
		}
		auto, raw := query(qMid, ""), query(qMid, "&levels=raw")
		if auto.rowsJSON() != raw.rowsJSON() {
			t.Errorf("%s: %s\n  auto %s (%s)\n  raw  %s", stage, qMid, auto.rowsJSON(), auto.levels(), raw.rowsJSON())
		}
		if len(raw.Stats.Levels) != 1 || raw.Stats.Levels[0].Level != "raw" {
			t.Errorf("%s: %s with levels=raw used %s, want raw only", stage, qMid, raw.levels())
		}
		var rollupRows int64
		for _, l := range auto.Stats.Levels {
			rollupRows += l.Rows
		}
		if rollupRows == 0 && !allDirty {
			t.Errorf("%s: %s used no rollup rows: %s", stage, qMid, auto.levels())
		}
	}

	// exprs checks expressions, HAVING, agg(*) and GROUP BY *, which are
	// computed from the same aggregates as plain items: the same answer
	// from rollups as from raw data (through a router too, when the target
	// is a cluster), and a year of whole months read from rollups alone.
	exprs := func(stage string) {
		t.Helper()
		for i, q := range []string{
			"SELECT max(v) - min(v) AS range, round(avg(v) * 100) / 100, count(v) * 2 + 1 FROM c WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z' GROUP BY 1M",
			"SELECT count(*), max(*) FROM c WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z' GROUP BY 1M, *",
			"SELECT sum(v) / count(v), spread(v) % 7, sqrt(min(v)) FROM c WHERE time >= '2025-03-10T12:30:00Z' AND time < '2025-12-01T00:00:00Z' GROUP BY 1d HAVING max(v) > 1050",
			"SELECT v * 9 / 5 + 32 AS f FROM c WHERE time >= '2025-06-01T00:00:00Z' AND time < '2025-06-01T02:00:00Z'",
		} {
			auto, raw := query(q, ""), query(q, "&levels=raw")
			if auto.rowsJSON() != raw.rowsJSON() {
				t.Errorf("%s: %s\n  auto %s (%s)\n  raw  %s", stage, q, auto.rowsJSON(), auto.levels(), raw.rowsJSON())
			}
			if len(auto.Rows) < 5 {
				t.Errorf("%s: %s: %d rows, want more: %s", stage, q, len(auto.Rows), auto.rowsJSON())
			}
			if i < 2 {
				noRaw(stage, q, auto)
			}
		}
	}

	year("after flush", wantMax)
	mid("after flush", false)
	checkFnRollups(t, query)
	checkAnalyticsRollups(t, query)
	checkZones(t, "after flush", query)
	checkZoneExplain(t, query)
	exprs("after flush")
	if a := query("SELECT count(v) FROM c", ""); a.rowsJSON() != fmt.Sprintf(`[["1970-01-01T00:00:00Z",%d]]`, n) {
		t.Errorf("SELECT count(v) FROM c: %s, want %d", a.rowsJSON(), n)
	}

	// A late write above the max: exact at once, from memory.
	lateMax := wantMax + 1000.25
	late := time.Date(2025, 6, 15, 7, 23, 0, 0, time.UTC)
	if code, body := do(http.MethodPost, "/api/v1/write", "text/plain", fmt.Sprintf("c,device_id=d1 v=%v %d\n", lateMax, late.UnixNano())); code != http.StatusNoContent {
		t.Fatalf("late write: %d %s", code, body)
	}
	if got := maxOf(query(qYear, "")); got != lateMax {
		t.Errorf("after the late write, before a flush: %s = %v, want %v", qYear, got, lateMax)
	}
	var dirty int64
	for _, seg := range explain(qYear) {
		dirty += seg.dirty
	}
	if dirty == 0 {
		t.Errorf("after the late write: EXPLAIN %s: %v, want dirty buckets", qYear, explain(qYear))
	}
	mid("after the late write", false)
	checkZones(t, "after the late write", query)
	s.flush()
	year("after the late write and a flush", lateMax)
	mid("after the late write and a flush", false)

	// Retention through the API.
	code, body := do(http.MethodPut, "/api/v1/admin/collections/r", "application/json", `{"retention": {"raw": "7d"}}`)
	if want := `{"name":"r","rollups":true,"retention":{"raw":"7d","1h":"forever","1d":"forever","1M":"forever","1y":"forever"}}`; code != http.StatusOK || body != want {
		t.Fatalf("PUT raw retention 7d: %d %s, want 200 %s", code, body, want)
	}
	tooOld := func(stage string) {
		t.Helper()
		recent := now.Add(-time.Hour).UnixNano()
		old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
		code, body := do(http.MethodPost, "/api/v1/write", "text/plain", fmt.Sprintf("r v=1 %d\nr v=2 %d\n", recent, old))
		if want := `{"error":"1 bad line; nothing written","lines":[{"line":2,"column":7,"reason":"time 2020-01-01T00:00:00Z is older than the raw retention of collection \"r\" (7d)"}]}`; code != http.StatusBadRequest || body != want {
			t.Errorf("%s: write from 2020 (line protocol): %d %s, want 400 %s", stage, code, body, want)
		}
		code, body = do(http.MethodPost, "/api/v1/write?collection=r", "application/json", `{"time":"2020-01-01T00:00:00Z","fields":{"v":1}}`)
		if code != http.StatusBadRequest || !strings.Contains(body, `older than the raw retention of collection \"r\" (7d)`) {
			t.Errorf("%s: write from 2020 (JSON): %d %s, want 400 naming the retention", stage, code, body)
		}
		if code, body := do(http.MethodPost, "/api/v1/write", "text/plain", fmt.Sprintf("r v=3 %d\n", recent)); code != http.StatusNoContent {
			t.Errorf("%s: recent write: %d %s, want 204", stage, code, body)
		}
	}
	tooOld("after PUT")
	if a := query("SELECT count(v) FROM r", ""); !strings.HasSuffix(a.rowsJSON(), `,1]]`) {
		t.Errorf("SELECT count(v) FROM r: %s, want the one recent point", a.rowsJSON())
	}

	// Rollups off: raw data only; on again: rebuilt at the next flush.
	code, body = do(http.MethodPut, "/api/v1/admin/collections/c", "application/json", `{"rollups": false}`)
	if code != http.StatusOK || !strings.Contains(body, `"rollups":false`) {
		t.Fatalf("PUT rollups false: %d %s", code, body)
	}
	if segs := explain(qYear); len(segs) != 1 || segs[0].level != "raw" {
		t.Errorf("rollups off: EXPLAIN %s: %v, want one raw segment", qYear, segs)
	}
	if got := maxOf(query(qYear, "")); got != lateMax {
		t.Errorf("rollups off: %s = %v, want %v", qYear, got, lateMax)
	}
	code, body = do(http.MethodPut, "/api/v1/admin/collections/c", "application/json", `{"rollups": true}`)
	if code != http.StatusOK || !strings.Contains(body, `"rollups":true`) {
		t.Fatalf("PUT rollups true: %d %s", code, body)
	}
	if got := maxOf(query(qYear, "")); got != lateMax {
		t.Errorf("rollups on, before a flush: %s = %v, want %v", qYear, got, lateMax)
	}
	mid("rollups on, before a flush", true)
	s.flush()
	year("rollups on again, after a flush", lateMax)
	mid("rollups on again, after a flush", false)

	// Settings survive a restart.
	s.restart()
	code, body = do(http.MethodGet, "/api/v1/admin/collections", "", "")
	want := `{"collections":[` +
		`{"name":"c","rollups":true,"retention":{"raw":"forever","1h":"forever","1d":"forever","1M":"forever","1y":"forever"}},` +
		`{"name":"r","rollups":true,"retention":{"raw":"7d","1h":"forever","1d":"forever","1M":"forever","1y":"forever"}}]}`
	if code != http.StatusOK || body != want {
		t.Errorf("after restart: GET /api/v1/admin/collections: %d %s, want 200 %s", code, body, want)
	}
	tooOld("after restart")
	year("after restart", lateMax)
	mid("after restart", false)

	// Raw data of c expires (30 days before now): the year is still
	// answered from rollups; raw data alone no longer has the late max.
	code, body = do(http.MethodPut, "/api/v1/admin/collections/c", "application/json", `{"retention": {"raw": "30d"}}`)
	if code != http.StatusOK || !strings.Contains(body, `"raw":"30d"`) {
		t.Fatalf("PUT raw retention 30d: %d %s", code, body)
	}
	year("raw retention 30d", lateMax)
	raw := query(qYear, "&levels=raw")
	if got := maxOf(raw); got == lateMax {
		t.Errorf("raw retention 30d: %s with levels=raw = %v, want the late point expired", qYear, got)
	}
	if raw.Stats == nil || len(raw.Stats.Notes) == 0 || !strings.Contains(strings.Join(raw.Stats.Notes, " "), "expired") {
		t.Errorf("raw retention 30d: %s with levels=raw: stats %+v, want a note that raw data expired", qYear, raw.Stats)
	}
	code, body = do(http.MethodPost, "/api/v1/write", "text/plain", fmt.Sprintf("c,device_id=d1 v=1 %d\n", late.UnixNano()))
	if code != http.StatusBadRequest || !strings.Contains(body, `older than the raw retention of collection \"c\" (30d)`) {
		t.Errorf("raw retention 30d: write into June 2025: %d %s, want 400 naming the retention", code, body)
	}
}
