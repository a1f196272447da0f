package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

// The Grafana tests post the bodies the simpod-json-datasource plugin (and
// Grafana around it) sends, over a real storage engine, and compare the
// answers with the same data queried through /api/v1/query.

var gfNow = time.Date(2025, 4, 2, 0, 0, 0, 0, time.UTC)

// gfHarness is a server over a real storage engine holding the test data.
type gfHarness struct {
	t *testing.T
	s *server
}

// newGrafanaHarness opens storage in a temporary directory, writes the test
// data through /api/v1/write and flushes it (so rollups exist).
//
//	dev:    device_id d1, d2 (site a), d3 (site b); v float, n integer,
//	        status string (daily); every 30 minutes, 2025-01-01 to 2025-03-31
//	cpu:    hostname h1, h2; usage float; every 10 minutes on 2025-03-01 for 2h
//	events: device_id d1; title, text strings, severity integer; 3 points
func newGrafanaHarness(t *testing.T) *gfHarness {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := storage.Open(t.TempDir(), &storage.Options{
		NumGroups: 4, FlushInterval: -1, Sync: wal.SyncNever, Logger: logger,
		Now: func() time.Time { return gfNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	h := &gfHarness{t: t, s: newServer(db, Options{Now: func() time.Time { return gfNow }, Logger: logger})}

	var lp strings.Builder
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	devices := []struct{ id, site string }{{"d1", "a"}, {"d2", "a"}, {"d3", "b"}}
	for i := range 90 * 48 {
		ts := base + int64(i)*1800
		for k, d := range devices {
			v := float64((i*7+k*13)%50) + 0.25*float64(k)
			fmt.Fprintf(&lp, "dev,device_id=%s,site=%s v=%g,n=%di", d.id, d.site, v, (i+k)%10)
			if i%48 == 0 {
				status := "ok"
				if k%2 == 1 {
					status = "warn"
				}
				fmt.Fprintf(&lp, ",status=%q", status)
			}
			fmt.Fprintf(&lp, " %d\n", ts)
		}
	}
	march := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).Unix()
	for j := range 12 {
		for k, host := range []string{"h1", "h2"} {
			fmt.Fprintf(&lp, "cpu,hostname=%s usage=%g %d\n", host, float64(j*3+k)/2, march+int64(j)*600)
		}
	}
	lp.WriteString(fmt.Sprintf("events,device_id=d1 title=\"deploy\",text=\"v1.2\",severity=2i %d\n", march+6*3600))
	lp.WriteString(fmt.Sprintf("events,device_id=d1 title=\"restart\",text=\"oom\",severity=3i %d\n", march+12*3600))
	lp.WriteString(fmt.Sprintf("events,device_id=d1 title=\"scale\",text=\"x2\",severity=1i %d\n", march+4*86400))
	if rec := do(h.s.mux, "POST", "/api/v1/write?precision=s", nil, []byte(lp.String())); rec.Code != http.StatusNoContent {
		t.Fatalf("write: %d %s", rec.Code, rec.Body)
	}
	if rec := do(h.s.mux, "POST", "/api/v1/admin/flush", nil, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("flush: %d %s", rec.Code, rec.Body)
	}
	return h
}

// post sends a JSON body as the plugin does and decodes the answer with
// json.Number numbers.
func (h *gfHarness) post(path, body string) (int, any) {
	h.t.Helper()
	hdr := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"Grafana/11.3.0"}}
	rec := do(h.s.mux, "POST", path, hdr, []byte(body))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		h.t.Errorf("POST %s: Content-Type %q", path, ct)
	}
	return rec.Code, decodeNumbers(h.t, rec.Body.Bytes())
}

func decodeNumbers(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

// normalize turns a value built in Go into what decoding its JSON gives.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return decodeNumbers(t, b)
}

// apiAnswer is a decoded /api/v1/query answer (epoch=ms).
type apiAnswer struct {
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
	Error string `json:"error"`
}

// api runs q through /api/v1/query with epoch=ms.
func (h *gfHarness) api(q string, extra ...string) (int, *apiAnswer) {
	h.t.Helper()
	target := "/api/v1/query?epoch=ms&q=" + url.QueryEscape(q)
	for _, e := range extra {
		target += "&" + e
	}
	rec := do(h.s.mux, "GET", target, nil, nil)
	dec := json.NewDecoder(rec.Body)
	dec.UseNumber()
	var a apiAnswer
	if err := dec.Decode(&a); err != nil {
		h.t.Fatalf("%s: decode: %v", q, err)
	}
	return rec.Code, &a
}

func (h *gfHarness) mustAPI(q string, extra ...string) *apiAnswer {
	h.t.Helper()
	code, a := h.api(q, extra...)
	if code != http.StatusOK {
		h.t.Fatalf("%s: %d %s", q, code, a.Error)
	}
	return a
}

// meta is the meta Grafana frames carry for the answer a: the executed
// statement, a's stats and, on the first frame, a's notes.
func (a *apiAnswer) meta(executed string, first bool) map[string]any {
	m := map[string]any{"executedQueryString": executed}
	if a.Stats == nil {
		return m
	}
	var stats []any
	for _, l := range a.Stats.Levels {
		if l.Level == "raw" {
			if l.Points > 0 {
				stats = append(stats, map[string]any{"displayName": "raw points", "value": l.Points})
			}
			if l.Blocks > 0 {
				stats = append(stats, map[string]any{"displayName": "raw block statistics", "value": l.Blocks})
			}
		} else if l.Rows > 0 {
			stats = append(stats, map[string]any{"displayName": l.Level + " rollup rows", "value": l.Rows})
		}
	}
	if len(stats) > 0 {
		m["stats"] = stats
	}
	if first && len(a.Stats.Notes) > 0 {
		var notices []any
		for _, n := range a.Stats.Notes {
			notices = append(notices, map[string]any{"severity": "info", "text": n})
		}
		m["notices"] = notices
	}
	return m
}

// wantSeries names one expected series: the value column of the /api/v1/query
// answer and the tag values (by column) its rows must have.
type wantSeries struct {
	name string
	col  string
	tags map[string]string
}

// series builds the expected timeseries frames of one target from the
// answer of the equivalent query sql.
func (h *gfHarness) series(sql, refID, executed string, specs ...wantSeries) []any {
	h.t.Helper()
	a := h.mustAPI(sql)
	var out []any
	for i, sp := range specs {
		col := indexOf(a.Columns, sp.col)
		if col < 0 {
			h.t.Fatalf("%s: no column %q in %v", sql, sp.col, a.Columns)
		}
		points := []any{}
	rows:
		for _, row := range a.Rows {
			for k, v := range sp.tags {
				if row[indexOf(a.Columns, k)] != v {
					continue rows
				}
			}
			points = append(points, []any{row[col], row[0]})
		}
		if len(points) == 0 {
			h.t.Fatalf("%s: series %s has no points", sql, sp.name)
		}
		f := map[string]any{"target": sp.name, "datapoints": points, "meta": a.meta(executed, i == 0)}
		if refID != "" {
			f["refId"] = refID
		}
		out = append(out, f)
	}
	return out
}

// table builds the expected table frame of one target from the answer of
// the equivalent query sql.
func (h *gfHarness) table(sql, refID, executed string, types ...string) map[string]any {
	h.t.Helper()
	a := h.mustAPI(sql)
	if len(types) != len(a.Columns) {
		h.t.Fatalf("%s: %d types for columns %v", sql, len(types), a.Columns)
	}
	var cols []any
	for i, c := range a.Columns {
		cols = append(cols, map[string]any{"text": c, "type": types[i]})
	}
	rows := []any{}
	for _, r := range a.Rows {
		rows = append(rows, r)
	}
	return map[string]any{"type": "table", "refId": refID, "columns": cols, "rows": rows, "meta": a.meta(executed, true)}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// gfQueryBody is a DataQueryRequest as Grafana 11 sends it through the
// plugin: everything Grafana adds, the plugin's adhocFilters, and the
// targets (a JSON array) given.
func gfQueryBody(from, to string, intervalMs, maxDataPoints int64, targets, filters, adhocFilters string) string {
	if filters == "" {
		filters = "[]"
	}
	if adhocFilters == "" {
		adhocFilters = "[]"
	}
	interval := (time.Duration(intervalMs) * time.Millisecond).String()
	return fmt.Sprintf(`{
  "app": "dashboard",
  "requestId": "SQR103",
  "timezone": "browser",
  "panelId": 2,
  "panelName": "Devices",
  "panelPluginId": "timeseries",
  "dashboardUID": "soltix-demo",
  "dashboardTitle": "Soltix demo",
  "range": {"from": %q, "to": %q, "raw": {"from": "now-6h", "to": "now"}},
  "rangeRaw": {"from": "now-6h", "to": "now"},
  "timeInfo": "",
  "interval": %q,
  "intervalMs": %d,
  "maxDataPoints": %d,
  "targets": %s,
  "scopedVars": {"__interval": {"text": %q, "value": %q}, "__interval_ms": {"text": "%d", "value": %d}},
  "startTime": 1743552000000,
  "liveStreaming": false,
  "filters": %s,
  "adhocFilters": %s
}`, from, to, interval, intervalMs, maxDataPoints, targets, interval, interval, intervalMs, intervalMs, filters, adhocFilters)
}

// gfDS is the datasource reference Grafana puts in every target.
const gfDS = `"datasource": {"type": "simpod-json-datasource", "uid": "soltix"}`

func TestGrafanaQuery(t *testing.T) {
	h := newGrafanaHarness(t)
	const day1, day2 = "2025-03-01T00:00:00.000Z", "2025-03-02T00:00:00.000Z"
	tests := []struct {
		name string
		body string
		code int
		want func() any // the exact answer
	}{
		{
			name: "structured: group by tag, tag filter, default interval 5m",
			// 24h / 300 points = 288s, rounded up to 5m.
			body: gfQueryBody(day1, day2, 60000, 300, `[{`+gfDS+`, "editorMode": "builder", "refId": "A", "target": "dev",
				"payload": {"field": "v", "aggregate": "avg", "groupBy": ["device_id"], "tag.device_id": ["d1", "d2"]}}]`, "", ""),
			code: 200,
			want: func() any {
				return h.series(`SELECT avg(v) FROM dev WHERE time >= '2025-03-01' AND time <= '2025-03-02' AND (device_id = 'd1' OR device_id = 'd2') GROUP BY 5m, device_id`,
					"A", `SELECT avg(v) FROM dev WHERE time >= '2025-03-01T00:00:00Z' AND time <= '2025-03-02T00:00:00Z' AND device_id IN ('d1', 'd2') GROUP BY time(5m), device_id`,
					wantSeries{"avg(v) {device_id=d1}", "avg(v)", map[string]string{"device_id": "d1"}},
					wantSeries{"avg(v) {device_id=d2}", "avg(v)", map[string]string{"device_id": "d2"}})
			},
		},
		{
			name: "sql with macros: several aggregates, several tag groups, FILL",
			// 6h / 20 points = 18m, rounded up to 30m.
			body: gfQueryBody(day1, "2025-03-01T06:00:00.000Z", 20000, 20, `[{`+gfDS+`, "editorMode": "code", "refId": "B", "payload": "",
				"target": "SELECT max(v), min(n) AS lowest FROM dev WHERE $__timeFilter AND site = 'a' GROUP BY $__rollupInterval, device_id FILL(none)"}]`, "", ""),
			code: 200,
			want: func() any {
				return h.series(`SELECT max(v), min(n) AS lowest FROM dev WHERE time >= '2025-03-01T00:00:00Z' AND time <= '2025-03-01T06:00:00Z' AND site = 'a' GROUP BY 30m, device_id FILL(none)`,
					"B", `SELECT max(v), min(n) AS lowest FROM dev WHERE time >= '2025-03-01T00:00:00Z' AND time <= '2025-03-01T06:00:00Z' AND site = 'a' GROUP BY time(30m), device_id FILL(none)`,
					wantSeries{"max(v) {device_id=d1}", "max(v)", map[string]string{"device_id": "d1"}},
					wantSeries{"max(v) {device_id=d2}", "max(v)", map[string]string{"device_id": "d2"}},
					wantSeries{"lowest {device_id=d1}", "lowest", map[string]string{"device_id": "d1"}},
					wantSeries{"lowest {device_id=d2}", "lowest", map[string]string{"device_id": "d2"}})
			},
		},
		{
			name: "hidden target and placeholder are skipped; null buckets are null",
			// 24h / 100 points = 864s, rounded up to 30m; cpu has data for 2h only.
			body: gfQueryBody(day1, day2, 60000, 100, `[
				{`+gfDS+`, "editorMode": "builder", "refId": "A", "target": "cpu", "payload": {"field": "usage", "aggregate": "max"}},
				{`+gfDS+`, "editorMode": "code", "refId": "B", "hide": true, "target": "SELECT nonsense FROM", "payload": ""},
				{`+gfDS+`, "editorMode": "builder", "refId": "C", "payload": ""}]`, "", ""),
			code: 200,
			want: func() any {
				return h.series(`SELECT max(usage) FROM cpu WHERE time BETWEEN '2025-03-01' AND '2025-03-02' GROUP BY 30m`,
					"A", `SELECT max(usage) FROM cpu WHERE time >= '2025-03-01T00:00:00Z' AND time <= '2025-03-02T00:00:00Z' GROUP BY time(30m)`,
					wantSeries{"max(usage)", "max(usage)", nil})
			},
		},
		{
			name: "ad-hoc filters from Grafana (filters) and the plugin (adhocFilters)",
			// 48h / 40 points = 72m, rounded up to 3h. hostname is not a key of
			// dev, so that filter is left out; the repeated site filter counts once.
			body: gfQueryBody(day1, "2025-03-03T00:00:00.000Z", 60000, 40, `[
				{`+gfDS+`, "editorMode": "builder", "refId": "A", "target": "dev", "payload": {"field": "v", "aggregate": "sum", "groupBy": ["site"]}},
				{`+gfDS+`, "editorMode": "code", "refId": "B", "target": "SELECT count(v) FROM dev WHERE $__timeFilter GROUP BY device_id", "payload": "{}"}]`,
				`[{"key": "site", "operator": "=", "value": "a", "condition": ""}]`,
				`[{"key": "v", "operator": ">", "value": "20"}, {"key": "hostname", "operator": "=", "value": "h1"}, {"key": "site", "operator": "=", "value": "a", "condition": ""}]`),
			code: 200,
			want: func() any {
				a := h.series(`SELECT sum(v) FROM dev WHERE time >= '2025-03-01' AND time <= '2025-03-03' AND site = 'a' AND v > 20 GROUP BY 3h, site`,
					"A", `SELECT sum(v) FROM dev WHERE time >= '2025-03-01T00:00:00Z' AND time <= '2025-03-03T00:00:00Z' AND site = 'a' AND v > 20 GROUP BY time(3h), site`,
					wantSeries{"sum(v) {site=a}", "sum(v)", map[string]string{"site": "a"}})
				b := h.series(`SELECT count(v) FROM dev WHERE time >= '2025-03-01' AND time <= '2025-03-03' AND site = 'a' AND v > 20 GROUP BY device_id`,
					"B", `SELECT count(v) FROM dev WHERE time >= '2025-03-01T00:00:00Z' AND time <= '2025-03-03T00:00:00Z' AND site = 'a' AND v > 20 GROUP BY device_id`,
					wantSeries{"count(v) {device_id=d1}", "count(v)", map[string]string{"device_id": "d1"}},
					wantSeries{"count(v) {device_id=d2}", "count(v)", map[string]string{"device_id": "d2"}})
				return append(a, b...)
			},
		},
		{
			name: "regex and multi-value ad-hoc operators, alias",
			body: gfQueryBody(day1, "2025-03-01T12:00:00.000Z", 60000, 12, `[{`+gfDS+`, "editorMode": "code", "refId": "A",
				"target": "SELECT last(v) FROM dev WHERE $__timeFilter GROUP BY $__interval, device_id", "payload": {"alias": "$tag_device_id: $col"}}]`,
				`[{"key": "device_id", "operator": "=~", "value": "^d[13]$"}, {"key": "site", "operator": "!=|", "value": "a", "values": ["a"]}]`, ""),
			code: 200,
			want: func() any {
				return h.series(`SELECT last(v) FROM dev WHERE time >= '2025-03-01T00:00:00Z' AND time <= '2025-03-01T12:00:00Z' AND device_id =~ /^d[13]$/ AND site NOT IN ('a') GROUP BY 1h, device_id`,
					"A", `SELECT last(v) FROM dev WHERE time >= '2025-03-01T00:00:00Z' AND time <= '2025-03-01T12:00:00Z' AND device_id =~ /^d[13]$/ AND site NOT IN ('a') GROUP BY time(1h), device_id`,
					wantSeries{"d3: last(v)", "last(v)", map[string]string{"device_id": "d3"}})
			},
		},
		{
			name: "tables: structured format=table, a raw select, SHOW",
			body: gfQueryBody(day1, "2025-03-01T03:00:00.000Z", 60000, 3, `[
				{`+gfDS+`, "editorMode": "builder", "refId": "A", "target": "dev", "payload": {"field": "v", "aggregate": ["max", "p50"], "groupBy": "device_id", "tag.device_id": "/^d[13]$/", "format": "table"}},
				{`+gfDS+`, "editorMode": "code", "refId": "B", "target": "SELECT v, n, status FROM dev WHERE $__timeFilter AND device_id = 'd3'", "payload": ""},
				{`+gfDS+`, "editorMode": "code", "refId": "C", "target": "SHOW TAG VALUES FROM dev WITH KEY = device_id"}]`, "", ""),
			code: 200,
			want: func() any {
				return []any{
					h.table(`SELECT max(v), percentile(v, 50) FROM dev WHERE time >= '2025-03-01T00:00:00Z' AND time <= '2025-03-01T03:00:00Z' AND device_id =~ /^d[13]$/ GROUP BY 1h, device_id`,
						"A", `SELECT max(v), percentile(v, 50) FROM dev WHERE time >= '2025-03-01T00:00:00Z' AND time <= '2025-03-01T03:00:00Z' AND device_id =~ /^d[13]$/ GROUP BY time(1h), device_id`,
						"time", "string", "number", "number"),
					h.table(`SELECT v, n, status FROM dev WHERE time >= '2025-03-01T00:00:00Z' AND time <= '2025-03-01T03:00:00Z' AND device_id = 'd3'`,
						"B", `SELECT v, n, status FROM dev WHERE time >= '2025-03-01T00:00:00Z' AND time <= '2025-03-01T03:00:00Z' AND device_id = 'd3'`,
						"time", "number", "number", "string"),
					h.table(`SHOW TAG VALUES FROM dev WITH KEY = device_id`, "C", `SHOW TAG VALUES FROM dev WITH KEY = device_id`, "string", "string"),
				}
			},
		},
		{
			name: "raw select as time series: rows without the field are left out",
			body: gfQueryBody(day1, day2, 60000, 300, `[{`+gfDS+`, "editorMode": "code", "refId": "A",
				"target": "SELECT status FROM dev WHERE $__timeFilter GROUP BY device_id", "payload": "{\"format\": \"time_series\"}"}]`, "", ""),
			code: 200,
			want: func() any {
				return h.series(`SELECT status FROM dev WHERE time >= '2025-03-01' AND time <= '2025-03-02' GROUP BY device_id`,
					"A", `SELECT status FROM dev WHERE time >= '2025-03-01T00:00:00Z' AND time <= '2025-03-02T00:00:00Z' GROUP BY device_id`,
					wantSeries{"status {device_id=d1}", "status", map[string]string{"device_id": "d1"}},
					wantSeries{"status {device_id=d2}", "status", map[string]string{"device_id": "d2"}},
					wantSeries{"status {device_id=d3}", "status", map[string]string{"device_id": "d3"}})
			},
		},
		{
			name: "a query without targets answers no frames",
			body: gfQueryBody(day1, day2, 60000, 300, `[]`, "", ""),
			code: 200,
			want: func() any { return []any{} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			code, got := h.post("/grafana/query", tt.body)
			want := normalize(t, tt.want())
			if code != tt.code || !reflect.DeepEqual(got, want) {
				gb, _ := json.MarshalIndent(got, "", " ")
				wb, _ := json.MarshalIndent(want, "", " ")
				t.Errorf("status %d (want %d)\ngot:  %s\nwant: %s", code, tt.code, gb, wb)
			}
		})
	}
}

// TestGrafanaQueryRollups checks that a zoomed-out panel gets a default
// interval that rollups fit: 90 days in 60 points is 36h, rounded up to
// 7d, which the 1d level fits.
func TestGrafanaQueryRollups(t *testing.T) {
	h := newGrafanaHarness(t)
	body := gfQueryBody("2025-01-01T00:00:00.000Z", "2025-04-01T00:00:00.000Z", 7200000, 60, `[{`+gfDS+`, "editorMode": "builder", "refId": "A",
		"target": "dev", "payload": {"field": "v", "aggregate": ["max", "avg", "count"], "groupBy": ["device_id"], "tag.device_id": ["d1"]}}]`, "", "")
	const sql = `SELECT max(v), avg(v), count(v) FROM dev WHERE time >= '2025-01-01' AND time <= '2025-04-01' AND device_id = 'd1' GROUP BY 7d, device_id`
	a := h.mustAPI(sql)
	if a.Stats == nil || !strings.Contains(fmt.Sprint(a.Stats.Levels), "1d") {
		t.Fatalf("the equivalent query read no 1d rollup rows: %+v", a.Stats)
	}
	// The rollups give the answer raw data gives (max and count exactly).
	raw := h.mustAPI(sql, "levels=raw")
	if len(raw.Rows) != len(a.Rows) || len(a.Rows) != 14 {
		t.Fatalf("rows: %d with rollups, %d raw, want 14", len(a.Rows), len(raw.Rows))
	}
	for i := range a.Rows {
		if a.Rows[i][2] != raw.Rows[i][2] || a.Rows[i][4] != raw.Rows[i][4] {
			t.Fatalf("rollups and raw data disagree: %v vs %v", a.Rows[i], raw.Rows[i])
		}
	}
	want := normalize(t, h.series(sql, "A",
		`SELECT max(v), avg(v), count(v) FROM dev WHERE time >= '2025-01-01T00:00:00Z' AND time <= '2025-04-01T00:00:00Z' AND device_id = 'd1' GROUP BY time(7d), device_id`,
		wantSeries{"max(v) {device_id=d1}", "max(v)", nil},
		wantSeries{"avg(v) {device_id=d1}", "avg(v)", nil},
		wantSeries{"count(v) {device_id=d1}", "count(v)", nil}))
	code, got := h.post("/grafana/query", body)
	if code != 200 || !reflect.DeepEqual(got, want) {
		t.Fatalf("status %d\ngot:  %v\nwant: %v", code, got, want)
	}
	stats := fmt.Sprint(got.([]any)[0].(map[string]any)["meta"])
	if !strings.Contains(stats, "1d rollup rows") {
		t.Errorf("meta shows no 1d rollup rows: %s", stats)
	}
}

func TestGrafanaQueryErrors(t *testing.T) {
	h := newGrafanaHarness(t)
	const day1, day2 = "2025-03-01T00:00:00.000Z", "2025-03-02T00:00:00.000Z"
	valid := `{` + gfDS + `, "refId": "A", "target": "dev", "payload": {"field": "v"}}`
	tests := []struct {
		name    string
		body    string
		code    int
		message string // exact; "api:" + q means "query B: " + the error /api/v1/query gives for q
	}{
		{"syntax error in the second target",
			gfQueryBody(day1, day2, 60000, 300, `[`+valid+`, {`+gfDS+`, "refId": "B", "target": "SELECT avg(v) FORM dev"}]`, "", ""),
			400, "api:SELECT avg(v) FORM dev"},
		{"planner error",
			gfQueryBody(day1, day2, 60000, 300, `[{`+gfDS+`, "refId": "B", "target": "SELECT sum(status) FROM dev"}]`, "", ""),
			400, "api:SELECT sum(status) FROM dev"},
		{"unknown collection, structured",
			gfQueryBody(day1, day2, 60000, 300, `[{`+gfDS+`, "refId": "A", "target": "nope", "payload": {"field": "v"}}]`, "", ""),
			404, `query A: collection "nope" not found`},
		{"unknown collection, sql",
			gfQueryBody(day1, day2, 60000, 300, `[{`+gfDS+`, "refId": "B", "target": "SELECT avg(v) FROM nope"}]`, "", ""),
			404, "api:SELECT avg(v) FROM nope"},
		{"unknown aggregate",
			gfQueryBody(day1, day2, 60000, 300, `[{`+gfDS+`, "refId": "A", "target": "dev", "payload": {"field": "v", "aggregate": "bogus"}}]`, "", ""),
			400, `query A: payload.aggregate: unknown aggregate "bogus" (known: avg, min, max, sum, count, first, last, spread, stddev, p<N>)`},
		{"bad where",
			gfQueryBody(day1, day2, 60000, 300, `[{`+gfDS+`, "refId": "A", "target": "dev", "payload": {"field": "v", "where": "v >"}}]`, "", ""),
			400, `query A: payload.where: column 4: unexpected end of input, expected a value`},
		{"delete refused",
			gfQueryBody(day1, day2, 60000, 300, `[{`+gfDS+`, "refId": "A", "target": "DELETE FROM dev"}]`, "", ""),
			400, `query A: DELETE statements are not run through Grafana; send them to POST /api/v1/query`},
		{"bad ad-hoc operator",
			gfQueryBody(day1, day2, 60000, 300, `[`+valid+`]`, `[{"key": "site", "operator": "<>", "value": "a"}]`, ""),
			400, `query A: ad-hoc filter on site: operator "<>" is not supported (use =, !=, <, >, <=, >=, =~, !~, =|, !=|)`},
		{"ad-hoc value that is not a number",
			gfQueryBody(day1, day2, 60000, 300, `[`+valid+`]`, "", `[{"key": "v", "operator": ">", "value": "abc"}]`),
			400, `query A: ad-hoc filter v > abc: the field is float: "abc" is not a number`},
		{"bad range", `{"range": {"from": "yesterday", "to": "now"}, "targets": [` + valid + `]}`,
			400, `bad range.from: cannot parse "yesterday" as a time (want RFC 3339, e.g. 2025-01-01T00:00:00Z)`},
		{"not JSON", `{"targets": [`, 400, "bad request body: unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			code, got := h.post("/grafana/query", tt.body)
			msg := tt.message
			if q, ok := strings.CutPrefix(msg, "api:"); ok {
				_, a := h.api(q)
				msg = "query B: " + a.Error
			}
			want := map[string]any{"error": msg, "message": msg}
			if code != tt.code || !reflect.DeepEqual(got, want) {
				t.Errorf("got %d %v\nwant %d %v", code, got, tt.code, want)
			}
		})
	}
}

func TestGrafanaVariable(t *testing.T) {
	h := newGrafanaHarness(t)
	rng := `"range": {"from": "2025-03-01T00:00:00.000Z", "to": "2025-03-02T00:00:00.000Z", "raw": {"from": "now-24h", "to": "now"}}`
	tests := []struct {
		name string
		body string
		code int
		want string // JSON
	}{
		{"tag values", `{"payload": {"target": "SHOW TAG VALUES FROM dev WITH KEY = device_id"}, ` + rng + `}`, 200,
			`[{"__text":"d1","__value":"d1"},{"__text":"d2","__value":"d2"},{"__text":"d3","__value":"d3"}]`},
		{"collections", `{"payload": {"target": "SHOW COLLECTIONS"}, ` + rng + `}`, 200,
			`[{"__text":"cpu","__value":"cpu"},{"__text":"dev","__value":"dev"},{"__text":"events","__value":"events"}]`},
		{"fields, raw JSON payload with query", `{"payload": {"query": "SHOW FIELDS FROM dev"}, ` + rng + `}`, 200,
			`[{"__text":"n","__value":"n"},{"__text":"status","__value":"status"},{"__text":"v","__value":"v"}]`},
		{"tag keys, payload as a string", `{"payload": "SHOW TAG KEYS FROM dev", ` + rng + `}`, 200,
			`[{"__text":"device_id","__value":"device_id"},{"__text":"site","__value":"site"}]`},
		{"select with macros: first column that is not time", `{"payload": {"target": "SELECT last(v) FROM dev WHERE $__timeFilter GROUP BY site"}, ` + rng + `}`, 200,
			`[{"__text":"a","__value":"a"},{"__text":"b","__value":"b"}]`},
		{"__text and __value columns", `{"payload": {"target": "SELECT last(title) AS __text, last(severity) AS __value FROM events GROUP BY device_id"}}`, 200,
			`[{"__text":"scale","__value":"1"}]`},
		{"unknown collection", `{"payload": {"target": "SHOW TAG VALUES FROM nope WITH KEY = x"}}`, 404,
			`{"error":"collection \"nope\" not found","message":"collection \"nope\" not found"}`},
		{"empty", `{"payload": {}}`, 400,
			`{"error":"missing query: send {\"payload\": {\"target\": \"SHOW ...\"}}","message":"missing query: send {\"payload\": {\"target\": \"SHOW ...\"}}"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			code, got := h.post("/grafana/variable", tt.body)
			want := decodeNumbers(t, []byte(tt.want))
			if code != tt.code || !reflect.DeepEqual(got, want) {
				t.Errorf("got %d %v\nwant %d %v", code, got, tt.code, want)
			}
		})
	}
	// The values equal what /api/v1/query answers.
	a := h.mustAPI("SHOW TAG VALUES FROM dev WITH KEY = device_id")
	if fmt.Sprint(a.Rows) != "[[device_id d1] [device_id d2] [device_id d3]]" {
		t.Errorf("api: %v", a.Rows)
	}
}

func TestGrafanaLists(t *testing.T) {
	h := newGrafanaHarness(t)
	tests := []struct {
		name, path, body string
		code             int
		want             string // JSON
	}{
		{"tag keys of every collection", "/grafana/tag-keys", `{}`, 200,
			`[{"type":"string","text":"device_id"},{"type":"string","text":"hostname"},{"type":"string","text":"site"}]`},
		{"tag keys, Grafana 11 options", "/grafana/tag-keys", `{"filters": [{"key": "site", "operator": "=", "value": "a"}], "timeRange": {"from": "2025-03-01T00:00:00.000Z", "to": "2025-03-02T00:00:00.000Z"}}`, 200,
			`[{"type":"string","text":"device_id"},{"type":"string","text":"hostname"},{"type":"string","text":"site"}]`},
		{"tag keys, empty body", "/grafana/tag-keys", ``, 200,
			`[{"type":"string","text":"device_id"},{"type":"string","text":"hostname"},{"type":"string","text":"site"}]`},
		{"tag values across collections", "/grafana/tag-values", `{"key": "device_id"}`, 200,
			`[{"text":"d1"},{"text":"d2"},{"text":"d3"}]`},
		{"tag values of an unknown key", "/grafana/tag-values", `{"key": "nope", "filters": []}`, 200, `[]`},
		{"tag values without key", "/grafana/tag-values", `{}`, 400,
			`{"error":"missing key: send {\"key\": \"<tag key>\"}","message":"missing key: send {\"key\": \"<tag key>\"}"}`},
		{"search everything", "/grafana/search", `{"target": ""}`, 200, `["cpu","dev","events"]`},
		{"search, legacy panel body", "/grafana/search", `{"type": "timeseries", "target": "EVE"}`, 200, `["events"]`},
		{"search with a statement", "/grafana/search", `{"target": "SHOW TAG VALUES FROM cpu WITH KEY = hostname"}`, 200, `["h1","h2"]`},
		{"payload options: fields", "/grafana/metric-payload-options", `{"metric": "dev", "payload": {"field": "v"}, "name": "field"}`, 200,
			`[{"label":"n (integer)","value":"n"},{"label":"status (string)","value":"status"},{"label":"v (float)","value":"v"}]`},
		{"payload options: tag values", "/grafana/metric-payload-options", `{"metric": "dev", "payload": {}, "name": "tag.device_id"}`, 200,
			`[{"label":"d1","value":"d1"},{"label":"d2","value":"d2"},{"label":"d3","value":"d3"}]`},
		{"payload options: group by", "/grafana/metric-payload-options", `{"metric": "dev", "payload": {}, "name": "groupBy"}`, 200,
			`[{"label":"device_id","value":"device_id"},{"label":"site","value":"site"}]`},
		{"payload options: aggregates of a string field", "/grafana/metric-payload-options", `{"metric": "dev", "payload": {"field": "status"}, "name": "aggregate"}`, 200,
			`[{"label":"last","value":"last"},{"label":"first","value":"first"},{"label":"count","value":"count"}]`},
		{"payload options: unknown metric", "/grafana/metric-payload-options", `{"metric": "nope", "payload": {}, "name": "field"}`, 200, `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			code, got := h.post(tt.path, tt.body)
			want := decodeNumbers(t, []byte(tt.want))
			if code != tt.code || !reflect.DeepEqual(got, want) {
				t.Errorf("got %d %v\nwant %d %v", code, got, tt.code, want)
			}
		})
	}
	for _, path := range []string{"/grafana/", "/grafana"} {
		if rec := do(h.s.mux, "GET", path, nil, nil); rec.Code != 200 {
			t.Errorf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
	}
}

// gfTail is the end of every metric's payload list.
const gfTail = `
  {"label":"Where","name":"where","type":"input","placeholder":"v > 0 AND site = 'a'","width":30},
  {"label":"Interval","name":"interval","type":"input","placeholder":"auto","width":10},
  {"label":"Fill","name":"fill","type":"select","placeholder":"null","options":[{"label":"null (gaps)","value":"null"},{"label":"none (skip empty buckets)","value":"none"},{"label":"previous","value":"previous"},{"label":"linear","value":"linear"},{"label":"0","value":"0"}]},
  {"label":"Alias","name":"alias","type":"input","placeholder":"$col {$tag_device_id}","width":20},
  {"label":"Format","name":"format","type":"select","placeholder":"time_series","options":[{"label":"Time series","value":"time_series"},{"label":"Table","value":"table"}]}`

const gfAllAggregates = `[{"label":"avg","value":"avg"},{"label":"min","value":"min"},{"label":"max","value":"max"},{"label":"sum","value":"sum"},{"label":"count","value":"count"},{"label":"first","value":"first"},{"label":"last","value":"last"},{"label":"spread","value":"spread"},{"label":"stddev","value":"stddev"},{"label":"p50 (percentile 50)","value":"p50"},{"label":"p90 (percentile 90)","value":"p90"},{"label":"p95 (percentile 95)","value":"p95"},{"label":"p99 (percentile 99)","value":"p99"}]`

func TestGrafanaMetrics(t *testing.T) {
	h := newGrafanaHarness(t)
	// The builder's request after the user picked dev and the field
	// status (a payload with reloadMetric): dev gets its tag values and
	// the aggregates that apply to strings.
	code, got := h.post("/grafana/metrics", `{"metric": "dev", "payload": {"field": "status"}}`)
	want := decodeNumbers(t, []byte(`[
{"label":"cpu","value":"cpu","payloads":[
  {"label":"Field","name":"field","type":"select","placeholder":"numeric fields","reloadMetric":true,"options":[{"label":"usage (float)","value":"usage"}]},
  {"label":"Aggregate","name":"aggregate","type":"select","placeholder":"avg","options":`+gfAllAggregates+`},
  {"label":"Group by","name":"groupBy","type":"multi-select","placeholder":"tags","options":[{"label":"hostname","value":"hostname"}]},
  {"label":"hostname","name":"tag.hostname","type":"multi-select","placeholder":"any"},`+gfTail+`]},
{"label":"dev","value":"dev","payloads":[
  {"label":"Field","name":"field","type":"select","placeholder":"numeric fields","reloadMetric":true,"options":[{"label":"n (integer)","value":"n"},{"label":"status (string)","value":"status"},{"label":"v (float)","value":"v"}]},
  {"label":"Aggregate","name":"aggregate","type":"select","placeholder":"avg","options":[{"label":"last","value":"last"},{"label":"first","value":"first"},{"label":"count","value":"count"}]},
  {"label":"Group by","name":"groupBy","type":"multi-select","placeholder":"tags","options":[{"label":"device_id","value":"device_id"},{"label":"site","value":"site"}]},
  {"label":"device_id","name":"tag.device_id","type":"multi-select","placeholder":"any","options":[{"label":"d1","value":"d1"},{"label":"d2","value":"d2"},{"label":"d3","value":"d3"}]},
  {"label":"site","name":"tag.site","type":"multi-select","placeholder":"any","options":[{"label":"a","value":"a"},{"label":"b","value":"b"}]},`+gfTail+`]},
{"label":"events","value":"events","payloads":[
  {"label":"Field","name":"field","type":"select","placeholder":"numeric fields","reloadMetric":true,"options":[{"label":"severity (integer)","value":"severity"},{"label":"text (string)","value":"text"},{"label":"title (string)","value":"title"}]},
  {"label":"Aggregate","name":"aggregate","type":"select","placeholder":"avg","options":`+gfAllAggregates+`},
  {"label":"Group by","name":"groupBy","type":"multi-select","placeholder":"tags","options":[{"label":"device_id","value":"device_id"}]},
  {"label":"device_id","name":"tag.device_id","type":"multi-select","placeholder":"any"},`+gfTail+`]}
]`))
	if code != 200 || !reflect.DeepEqual(got, want) {
		gb, _ := json.Marshal(got)
		t.Errorf("got %d %s", code, gb)
	}

	// The first request of the builder is {}: no tag values anywhere.
	code, got = h.post("/grafana/metrics", `{}`)
	if code != 200 || len(got.([]any)) != 3 {
		t.Fatalf("got %d %v", code, got)
	}
	for _, m := range got.([]any) {
		for _, p := range m.(map[string]any)["payloads"].([]any) {
			p := p.(map[string]any)
			if strings.HasPrefix(p["name"].(string), "tag.") && p["options"] != nil {
				t.Errorf("%v: tag values offered without the metric selected", p)
			}
		}
	}
}

func TestGrafanaAnnotations(t *testing.T) {
	h := newGrafanaHarness(t)
	body := func(q string) string {
		return fmt.Sprintf(`{
  "range": {"from": "2025-03-01T00:00:00.000Z", "to": "2025-03-02T00:00:00.000Z", "raw": {"from": "now-24h", "to": "now"}},
  "rangeRaw": {"from": "now-24h", "to": "now"},
  "annotation": {"name": "deploys", "datasource": "Soltix", "iconColor": "rgba(255, 96, 96, 1)", "enable": true, "query": %q},
  "variables": []
}`, q)
	}
	ann := `{"name": "deploys", "datasource": "Soltix", "iconColor": "rgba(255, 96, 96, 1)", "enable": true, "query": %q}`
	tests := []struct {
		name, q string
		code    int
		want    string // JSON; %s is the echoed annotation
	}{
		{"title and text columns", "SELECT title, text FROM events WHERE $__timeFilter", 200,
			`[{"annotation":%[1]s,"time":1740808800000,"title":"deploy","text":"v1.2","tags":[]},
			  {"annotation":%[1]s,"time":1740830400000,"title":"restart","text":"oom","tags":[]}]`},
		{"other columns become the text, group tags the tags", "SELECT max(severity) FROM events WHERE $__timeFilter GROUP BY 6h, device_id FILL(none)", 200,
			`[{"annotation":%[1]s,"time":1740808800000,"title":"deploys","text":"max(severity)=2","tags":["device_id=d1"]},
			  {"annotation":%[1]s,"time":1740830400000,"title":"deploys","text":"max(severity)=3","tags":["device_id=d1"]}]`},
		{"not a select", "SHOW COLLECTIONS", 400,
			`{"error":"an annotation query must be a SELECT: its rows need a time","message":"an annotation query must be a SELECT: its rows need a time"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			code, got := h.post("/grafana/annotations", body(tt.q))
			want := decodeNumbers(t, []byte(strings.ReplaceAll(tt.want, "%[1]s", fmt.Sprintf(ann, tt.q))))
			if code != tt.code || !reflect.DeepEqual(got, want) {
				t.Errorf("got %d %v\nwant %d %v", code, got, tt.code, want)
			}
		})
	}
	// The times are those /api/v1/query gives.
	a := h.mustAPI("SELECT title FROM events WHERE time >= '2025-03-01' AND time <= '2025-03-02'")
	if fmt.Sprint(a.Rows) != "[[1740808800000 deploy] [1740830400000 restart]]" {
		t.Errorf("api: %v", a.Rows)
	}
}

func TestGrafanaNiceInterval(t *testing.T) {
	for _, tt := range []struct {
		want time.Duration
		out  string
	}{
		{0, "1s"}, {500 * time.Millisecond, "1s"}, {time.Second, "1s"}, {2 * time.Second, "5s"},
		{31 * time.Second, "1m"}, {288 * time.Second, "5m"}, {18 * time.Minute, "30m"},
		{61 * time.Minute, "3h"}, {13 * time.Hour, "1d"}, {36 * time.Hour, "7d"},
		{8 * 24 * time.Hour, "1M"}, {29 * 24 * time.Hour, "3M"}, {100 * 24 * time.Hour, "1y"},
		{400 * 24 * time.Hour, "2y"},
	} {
		if got := niceInterval(tt.want).String(); got != tt.out {
			t.Errorf("niceInterval(%s) = %s, want %s", tt.want, got, tt.out)
		}
	}
}

func TestGrafanaMacros(t *testing.T) {
	from := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	to := time.Date(2025, 3, 1, 6, 0, 0, 500_000_000, time.UTC).UnixNano()
	env := &gfEnv{hasRange: true, from: from, to: to, interval: niceInterval(18 * time.Minute), intervalMs: 20000}
	for _, tt := range []struct{ in, out string }{
		{"$__timeFilter", "time >= '2025-03-01T00:00:00Z' AND time <= '2025-03-01T06:00:00.5Z'"},
		{"$__timeFilter(time) AND x", "time >= '2025-03-01T00:00:00Z' AND time <= '2025-03-01T06:00:00.5Z' AND x"},
		{"time > $__timeFrom() AND time < $__timeTo", "time > '2025-03-01T00:00:00Z' AND time < '2025-03-01T06:00:00.5Z'"},
		{"GROUP BY $__interval, ${__interval}", "GROUP BY 30m, 30m"},
		{"GROUP BY $__rollupInterval, ${__rollupInterval}", "GROUP BY 30m, 30m"},
		{"$__interval_ms ${__interval_ms}", "20000 20000"},
		{"$__from-$__to ${__from}", "1740787200000-1740808800500 1740787200000"},
		{"$__intervalx $__from_x", "$__intervalx $__from_x"},
	} {
		got, err := env.expandMacros(tt.in)
		if err != nil || got != tt.out {
			t.Errorf("expand %q: got %q, %v; want %q", tt.in, got, err, tt.out)
		}
	}
	if _, err := (&gfEnv{}).expandMacros("WHERE $__timeFilter"); err == nil || err.Error() != "$__timeFilter needs the request's range" {
		t.Errorf("no range: %v", err)
	}
	// The expanded filter parses and reads back as written.
	stmt, err := query.Parse("SELECT v FROM c WHERE time >= '2025-03-01T00:00:00Z' AND time <= '2025-03-01T06:00:00.5Z'")
	if err != nil || !strings.Contains(stmt.String(), "'2025-03-01T06:00:00.5Z'") {
		t.Errorf("parse: %v %v", stmt, err)
	}
}

func TestIsGrafanaStatement(t *testing.T) {
	for in, want := range map[string]bool{
		"dev": false, "select": false, "my collection": false, `"SELECT"`: false,
		"SELECT v FROM c": true, "  show collections": true, "explain\nSELECT count(v) FROM c": true,
		"DELETE FROM c": true, "-- a comment\nSELECT v FROM c": true,
	} {
		if got := isGrafanaStatement(in); got != want {
			t.Errorf("isGrafanaStatement(%q) = %v, want %v", in, got, want)
		}
	}
}
