package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/storage"
)

// The attacks of issue 11 item 5a (time arithmetic that wrapped around
// int64) and item 12 (a GROUP BY guard whose bucket count wrapped to 0),
// driven over HTTP against a real server over real storage.

var taNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// getQuery runs q through GET /api/v1/query with epoch=ns and returns the
// status and body.
func (s *liveServer) getQuery(ctx context.Context, q string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.http.URL+"/api/v1/query?epoch=ns&q="+url.QueryEscape(q), nil)
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s: read body: %v", q, err)
	}
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// rowsOf returns the rows of a JSON answer without its stats.
func rowsOf(body string) string {
	i := strings.Index(body, `"rows":`)
	if i < 0 {
		return body
	}
	body = body[i+len(`"rows":`):]
	if j := strings.Index(body, `,"stats":`); j >= 0 {
		body = body[:j]
	} else {
		body = strings.TrimSuffix(body, "}")
	}
	return body
}

// TestTimeArithmeticOverHTTP writes 100 points around now and checks that
// bounds far outside the int64 range saturate: before the fix, the DELETE
// below wiped all 100 points, `time > now() + 1000y` selected every point
// (the bound wrapped to 1857) and `'2262-01-01' + 1y` became 1678.
func TestTimeArithmeticOverHTTP(t *testing.T) {
	s := startLiveServer(t, t.TempDir(), storage.Options{}, taNow)
	var lp strings.Builder
	for i := range 100 {
		fmt.Fprintf(&lp, "c v=%di %d\n", i, taNow.Add(-time.Duration(i)*time.Minute).UnixNano())
	}
	if code, body := s.post("/api/v1/write?precision=ns", "text/plain", []byte(lp.String())); code != http.StatusNoContent {
		t.Fatalf("write: %d %s", code, body)
	}
	ctx := t.Context()
	count := func(where string) string {
		t.Helper()
		code, body := s.getQuery(ctx, "SELECT count(v) FROM c WHERE "+where)
		if code != http.StatusOK {
			t.Fatalf("WHERE %s: %d %s", where, code, body)
		}
		r := rowsOf(body)
		if r == "[]" {
			return "0"
		}
		// [[label,count]]
		r = strings.TrimSuffix(strings.TrimPrefix(r, "[["), "]]")
		return r[strings.LastIndexByte(r, ',')+1:]
	}
	counts := []struct{ where, want string }{
		{"time > now() + 1000y", "0"},
		{"time >= now() + 1000y", "0"},
		{"time < now() + 1000y", "100"},
		{"time < now() - 1000y", "0"},
		{"time <= now() - 1000y", "0"},
		{"time > now() - 1000y", "100"},
		{"time > now() - 300y", "100"},
		{"time < now() + 300y", "100"},
		{"time > now() + 106751d", "0"},
		{"time < '2262-01-01' + 1y", "100"},
		{"time > '2262-01-01' + 1y", "0"},
		{"time >= '1678-01-01' - 1y", "100"},
		{"time BETWEEN now() - 1000y AND now() + 1000y", "100"},
		{"time BETWEEN now() + 1000y AND now() + 2000y", "0"},

		{"time > 9223372036854775807", "0"},
		{"time >= -9223372036854775808", "100"},
		{"time > now() - 1000y - 1000y + 1000y", "100"}, // saturated once, stays below the range
	}
	for _, c := range counts {
		if got := c.where; count(got) != c.want {
			t.Errorf("count WHERE %s: got %s, want %s", c.where, count(got), c.want)
		}
	}
	// The label of an ungrouped aggregate is the range's start: never a
	// wrapped 1857.
	if code, body := s.getQuery(ctx, "SELECT count(v) FROM c WHERE time > now() - 1000y"); code != 200 || !strings.Contains(body, `[[0,100]]`) {
		t.Errorf("label of time > now() - 1000y: got %d %s", code, body)
	}

	// Values that must be real times are refused, naming the value.
	refused := []struct{ where, msg string }{
		{"time = '2262-01-01' + 1y", "outside"},
		{"time IN ('2262-01-01' + 1y)", "outside"},
		{"time != now() + 1000y", "outside"},
		{"time > '2263-01-01'", "2263-01-01"},
		{"time < '1600-01-01T00:00:00Z'", "1600-01-01"},
		{"time > now() - 1000000000y", "1000000000y"},
	}
	for _, r := range refused {
		code, body := s.getQuery(ctx, "SELECT count(v) FROM c WHERE "+r.where)
		if code != http.StatusBadRequest || !strings.Contains(body, r.msg) {
			t.Errorf("WHERE %s: got %d %s, want 400 naming %q", r.where, code, body, r.msg)
		}
	}

	// The DELETE that wiped everything deletes nothing; its mirror image
	// deletes everything it says.
	for _, q := range []string{"DELETE FROM c WHERE time < now() - 1000y", "DELETE FROM c WHERE time > now() + 1000y"} {
		if code, body := s.post("/api/v1/query", "text/plain", []byte(q)); code != http.StatusOK {
			t.Fatalf("%s: %d %s", q, code, body)
		}
		if got := count("time > now() - 1d"); got != "100" {
			t.Fatalf("after %s: %s points left, want 100", q, got)
		}
	}
	s.flush()
	if got := count("time > now() - 1d"); got != "100" {
		t.Fatalf("after the flush: %s points left, want 100", got)
	}
	if code, body := s.post("/api/v1/query", "text/plain", []byte("DELETE FROM c WHERE time < now() + 1000y")); code != http.StatusOK {
		t.Fatalf("delete all: %d %s", code, body)
	}
	if got := count("time > now() - 1d"); got != "0" {
		t.Fatalf("after DELETE WHERE time < now() + 1000y: %s points left, want 0", got)
	}
}

// TestExtremeTimesOverHTTP writes points at and near both ends of the int64
// range and checks their buckets, before and after a flush and a restart.
// Before the fix a 1677 point was labelled 2262 under GROUP BY 1h, GROUP BY
// 1d counted 0 and its data file was named for 2262.
func TestExtremeTimesOverHTTP(t *testing.T) {
	dir := t.TempDir()
	s := startLiveServer(t, dir, storage.Options{}, taNow)
	const (
		min = math.MinInt64
		max = math.MaxInt64
	)
	times := []int64{min, min + 1, min + int64(time.Hour), max - int64(time.Hour), max - 1, max}
	var lp strings.Builder
	for i, ts := range times {
		fmt.Fprintf(&lp, "x v=%di %d\n", i, ts)
	}
	if code, body := s.post("/api/v1/write?precision=ns", "text/plain", []byte(lp.String())); code != http.StatusNoContent {
		t.Fatalf("write: %d %s", code, body)
	}
	ctx := t.Context()
	check := func(stage string) {
		t.Helper()
		// min is 1677-09-21T00:12:43.145224192Z, max 2262-04-11T23:47:16.854775807Z.
		tests := []struct{ q, want string }{
			{"SELECT count(v) FROM x GROUP BY 1h FILL(none)",
				fmt.Sprintf("[[%d,2],[%d,1],[%d,1],[%d,2]]", min, time.Date(1677, 9, 21, 1, 0, 0, 0, time.UTC).UnixNano(),
					time.Date(2262, 4, 11, 22, 0, 0, 0, time.UTC).UnixNano(), time.Date(2262, 4, 11, 23, 0, 0, 0, time.UTC).UnixNano())},
			{"SELECT count(v) FROM x GROUP BY 1d FILL(none)", fmt.Sprintf("[[%d,3],[%d,3]]", min, time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC).UnixNano())},
			{"SELECT count(v) FROM x GROUP BY 1w FILL(none)", fmt.Sprintf("[[%d,3],[%d,3]]", min, time.Date(2262, 4, 7, 0, 0, 0, 0, time.UTC).UnixNano())},
			{"SELECT count(v) FROM x GROUP BY 1M FILL(none)", fmt.Sprintf("[[%d,3],[%d,3]]", min, time.Date(2262, 4, 1, 0, 0, 0, 0, time.UTC).UnixNano())},
			{"SELECT count(v) FROM x GROUP BY 1y FILL(none)", fmt.Sprintf("[[%d,3],[%d,3]]", min, time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())},
			{"SELECT count(v) FROM x WHERE time < '1677-09-21T03:00:00Z' GROUP BY 1h FILL(0)",
				fmt.Sprintf("[[%d,2],[%d,1],[%d,0]]", min, time.Date(1677, 9, 21, 1, 0, 0, 0, time.UTC).UnixNano(), time.Date(1677, 9, 21, 2, 0, 0, 0, time.UTC).UnixNano())},
			{"SELECT count(v) FROM x", "[[0,6]]"},
			{"SELECT first(v), last(v) FROM x", "[[0,0,5]]"},
			{"SELECT v FROM x WHERE time <= -9223372036854775807", fmt.Sprintf("[[%d,0],[%d,1]]", min, min+1)},
			{"SELECT v FROM x WHERE time >= 9223372036854775806", fmt.Sprintf("[[%d,4],[%d,5]]", max-1, max)},
		}
		for _, levels := range []string{"", "&levels=raw"} {
			for _, tt := range tests {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.http.URL+"/api/v1/query?epoch=ns"+levels+"&q="+url.QueryEscape(tt.q), nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if got := rowsOf(strings.TrimSpace(string(b))); resp.StatusCode != 200 || got != tt.want {
					t.Errorf("%s: %s%s: got %d %.300s, want %s", stage, tt.q, levels, resp.StatusCode, got, tt.want)
				}
			}
		}
	}
	check("in memory")
	s.flush()
	check("flushed")
	s.restart()
	check("restarted")
	s.compact()
	check("compacted")
}

// TestGroupByTinyIntervalRefused is item 12: with points at both ends of
// the int64 range, GROUP BY 1ns has 1<<64 buckets. The guard's count wrapped
// to 0, so the query passed it and grew memory until the node stopped. It
// must be refused with 422 naming the limit, without allocating.
func TestGroupByTinyIntervalRefused(t *testing.T) {
	s := startLiveServer(t, t.TempDir(), storage.Options{}, taNow)
	lp := fmt.Sprintf("x,d=a v=1i %d\nx,d=a v=2i %d\nx,d=b v=3i %d\n", int64(math.MinInt64), int64(math.MaxInt64), int64(0))
	if code, body := s.post("/api/v1/write?precision=ns", "text/plain", []byte(lp)); code != http.StatusNoContent {
		t.Fatalf("write: %d %s", code, body)
	}
	queries := []string{
		"SELECT count(v) FROM x GROUP BY 1ns",
		"SELECT count(v) FROM x GROUP BY 2ns",
		"SELECT count(v) FROM x GROUP BY 1ns, d",
		"SELECT count(v) FROM x GROUP BY 1us FILL(null)",
		"SELECT count(v) FROM x GROUP BY 1s FILL(previous)",
		"SELECT count(v) FROM x WHERE time > now() - 1000y GROUP BY 1ms FILL(linear)",
		"SELECT count(v) FROM x GROUP BY 1h FILL(0)", // 5.1M hours, just over
	}
	for _, q := range queries {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		code, body := s.getQuery(ctx, q)
		runtime.ReadMemStats(&after)
		cancel()
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "5000000") {
			t.Errorf("%s: got %d %s, want 422 naming the 5000000 limit", q, code, body)
		}
		grew := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %d %s; allocated %d bytes", q, code, body, grew)
		if grew > 16<<20 {
			t.Errorf("%s: allocated %d bytes before refusing, want under 16 MiB", q, grew)
		}
	}
	// FILL(none) only builds the buckets that hold points: fine.
	code, body := s.getQuery(t.Context(), "SELECT count(v) FROM x GROUP BY 1ns FILL(none)")
	if want := fmt.Sprintf("[[%d,1],[0,1],[%d,1]]", int64(math.MinInt64), int64(math.MaxInt64)); code != 200 || rowsOf(body) != want {
		t.Errorf("GROUP BY 1ns FILL(none): got %d %s, want %s", code, body, want)
	}
}

// TestGrafanaExtremeRange is the Grafana datasource with a range that
// starts at the int64 minimum: it emitted `time >= '-inf'`, which the query
// language refuses (400). Ranges at either end, given as RFC 3339 or epoch
// milliseconds, must answer with the points inside them.
func TestGrafanaExtremeRange(t *testing.T) {
	s := startLiveServer(t, t.TempDir(), storage.Options{}, taNow)
	lp := fmt.Sprintf("x v=1i %d\nx v=2i %d\nx v=3i %d\n", int64(math.MinInt64), taNow.UnixNano(), int64(math.MaxInt64))
	if code, body := s.post("/api/v1/write?precision=ns", "text/plain", []byte(lp)); code != http.StatusNoContent {
		t.Fatalf("write: %d %s", code, body)
	}
	const (
		minRFC = `"1677-09-21T00:12:43.145224192Z"`
		maxRFC = `"2262-04-11T23:47:16.854775807Z"`
	)
	targets := map[string]string{
		"sql":        `{"refId": "A", "target": "SELECT count(v) FROM x WHERE $__timeFilter"}`,
		"sql from":   `{"refId": "A", "target": "SELECT count(v) FROM x WHERE time >= $__timeFrom AND time <= $__timeTo"}`,
		"structured": `{"refId": "A", "target": "x", "payload": {"field": "v", "aggregate": "count"}}`,
	}
	ranges := []struct {
		name, from, to string
		want           string // the count
	}{
		{"whole range", minRFC, maxRFC, "3"},
		{"from the minimum", minRFC, `"2000-01-01T00:00:00Z"`, "1"},
		{"to the maximum", `"2100-01-01T00:00:00Z"`, maxRFC, "1"},
		{"epoch milliseconds", "-9223372036854", "9223372036854", "1"},
	}
	for tname, target := range targets {
		for _, rg := range ranges {
			body := fmt.Sprintf(`{"range": {"from": %s, "to": %s}, "intervalMs": 60000, "maxDataPoints": 100, "targets": [%s]}`, rg.from, rg.to, target)
			code, got := s.post("/grafana/query", "application/json", []byte(body))
			if code != http.StatusOK || strings.Contains(string(got), "inf") {
				t.Errorf("%s, %s: got %d %.400s, want 200", tname, rg.name, code, got)
				continue
			}
			// The counts of every bucket add up to the points in range.
			var frames []struct{ Datapoints [][2]*float64 }
			if err := json.Unmarshal(got, &frames); err != nil || len(frames) != 1 {
				t.Errorf("%s, %s: got %.400s (%v), want one frame", tname, rg.name, got, err)
				continue
			}
			sum := 0.0
			for _, dp := range frames[0].Datapoints {
				if dp[0] != nil {
					sum += *dp[0]
				}
			}
			if fmt.Sprint(sum) != rg.want {
				t.Errorf("%s, %s: got %.400s, want a count of %s", tname, rg.name, got, rg.want)
			}
		}
	}
}

// TestGrafanaTinyIntervalRefused is item 12 through the Grafana datasource:
// the guard's refusal is a 422 there too.
func TestGrafanaTinyIntervalRefused(t *testing.T) {
	s := startLiveServer(t, t.TempDir(), storage.Options{}, taNow)
	lp := fmt.Sprintf("x v=1i %d\nx v=3i %d\n", int64(math.MinInt64), int64(math.MaxInt64))
	if code, body := s.post("/api/v1/write?precision=ns", "text/plain", []byte(lp)); code != http.StatusNoContent {
		t.Fatalf("write: %d %s", code, body)
	}
	body := `{"range": {"from": "1677-09-21T00:12:43.145224192Z", "to": "2262-04-11T23:47:16.854775807Z"}, "intervalMs": 60000,
		"targets": [{"refId": "A", "target": "SELECT count(v) FROM x WHERE $__timeFilter GROUP BY 1ns"}]}`
	code, got := s.post("/grafana/query", "application/json", []byte(body))
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(got), "5000000") {
		t.Errorf("GROUP BY 1ns through Grafana: got %d %s, want 422 naming the 5000000 limit", code, got)
	}
}

// TestWriteTimesOutOfRange writes times that do not fit int64 nanoseconds
// once scaled by their precision, in line protocol and JSON, on every write
// endpoint: each is a 400 naming the time, never a point at a wrapped time.
func TestWriteTimesOutOfRange(t *testing.T) {
	s := startLiveServer(t, t.TempDir(), storage.Options{}, taNow)
	tests := []struct {
		path, ctype, body, msg string
	}{
		{"/api/v1/write?precision=s", "text/plain", "c v=1 9300000000\n", "9300000000"},
		{"/api/v1/write?precision=s", "text/plain", "c v=1 -9300000000\n", "-9300000000"},
		{"/api/v1/write?precision=ms", "text/plain", "c v=1 9223372036855\n", "9223372036855"},
		{"/api/v1/write?precision=us", "text/plain", "c v=1 -9223372036854776\n", "-9223372036854776"},
		{"/api/v1/write?precision=ns", "text/plain", "c v=1 9223372036854775808\n", "9223372036854775808"},
		{"/write?precision=h", "text/plain", "c v=1 2562048\n", "2562048"},
		{"/write?precision=m", "text/plain", "c v=1 -153722868\n", "-153722868"},
		{"/api/v2/write?precision=s", "text/plain", "c v=1 9223372037\n", "9223372037"},
		{"/api/v1/write?precision=s", "application/json", `{"collection": "c", "time": 9300000000, "fields": {"v": 1}}`, "9300000000"},
		{"/api/v1/write?precision=ms", "application/json", `{"collection": "c", "time": -9223372036855, "fields": {"v": 1}}`, "-9223372036855"},
		{"/api/v1/write", "application/json", `{"collection": "c", "time": "2263-01-01T00:00:00Z", "fields": {"v": 1}}`, "2263-01-01"},
		{"/api/v1/write", "application/json", `{"collection": "c", "time": "1677-09-21T00:12:43.145224191Z", "fields": {"v": 1}}`, "1677-09-21"},
	}
	for _, tt := range tests {
		code, body := s.post(tt.path, tt.ctype, []byte(tt.body))
		if code != http.StatusBadRequest || !strings.Contains(string(body), tt.msg) {
			t.Errorf("POST %s %q: got %d %s, want 400 naming %s", tt.path, tt.body, code, body, tt.msg)
		}
	}
	// The last times that fit are written and read back exactly.
	ok := []struct{ path, body string }{
		{"/api/v1/write?precision=s", fmt.Sprintf("c v=1 %d\n", int64(math.MaxInt64)/1e9)},
		{"/api/v1/write?precision=s", fmt.Sprintf("c v=2 %d\n", int64(math.MinInt64)/1e9)},
		{"/api/v1/write?precision=ns", fmt.Sprintf("c v=3 %d\n", int64(math.MinInt64))},
	}
	for _, o := range ok {
		if code, body := s.post(o.path, "text/plain", []byte(o.body)); code != http.StatusNoContent {
			t.Errorf("POST %s %q: got %d %s, want 204", o.path, o.body, code, body)
		}
	}
	code, body := s.getQuery(t.Context(), "SELECT v FROM c")
	want := fmt.Sprintf("[[%d,3],[%d,2],[%d,1]]", int64(math.MinInt64), int64(math.MinInt64)/1e9*1e9, int64(math.MaxInt64)/1e9*1e9)
	if code != 200 || rowsOf(body) != want {
		t.Errorf("SELECT v FROM c: got %d %s, want %s", code, body, want)
	}
}
