package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/storage"
)

func TestMiscRoutes(t *testing.T) {
	spec := []byte("openapi: 3.1.0\npaths: {}\n")
	tests := []struct {
		name   string
		opts   Options
		method string
		target string
		code   int
		ctype  string
		body   string // substring
		header [2]string
	}{
		{name: "health", method: "GET", target: "/health", code: 200, ctype: "application/json", body: `{"status":"ok"}`},
		{name: "ready nil", method: "GET", target: "/ready", code: 200, ctype: "application/json", body: `"ready"`},
		{name: "ready true", opts: Options{Ready: func() bool { return true }}, method: "GET", target: "/ready", code: 200, body: `"ready"`},
		{name: "ready false", opts: Options{Ready: func() bool { return false }}, method: "GET", target: "/ready", code: 503, body: `"not ready"`},
		{name: "openapi", opts: Options{OpenAPI: spec}, method: "GET", target: "/openapi.yaml", code: 200, ctype: "application/yaml", body: string(spec)},
		{name: "index", method: "GET", target: "/", code: 200, ctype: "text/html; charset=utf-8", body: "<title>Soltix</title>"},
		{name: "index links", method: "GET", target: "/", code: 200, body: `href="/openapi.yaml"`},
		{name: "unknown route", method: "GET", target: "/nope", code: 404, ctype: "application/json", body: `{"error":"no route GET /nope"}`},
		{name: "wrong method", method: "DELETE", target: "/api/v1/write", code: 405, ctype: "application/json", body: `"error":"method DELETE not allowed`, header: [2]string{"Allow", "POST"}},
		{name: "wrong method query", method: "PUT", target: "/api/v1/query", code: 405, body: `"error"`, header: [2]string{"Allow", "GET, POST"}},
		{name: "flush", method: "POST", target: "/api/v1/admin/flush", code: 204},
		{name: "flush by GET", method: "GET", target: "/api/v1/admin/flush", code: 405, body: `"error"`},
		{name: "delete by GET", method: "GET", target: "/api/v1/admin/delete", code: 405, body: `"error"`, header: [2]string{"Allow", "POST"}},
		{name: "compact", method: "POST", target: "/api/v1/admin/compact", code: 204},
		{name: "compact by GET", method: "GET", target: "/api/v1/admin/compact", code: 405, body: `"error"`, header: [2]string{"Allow", "POST"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := newTestServer(t, tt.opts)
			rec := do(s.mux, tt.method, tt.target, nil, nil)
			if rec.Code != tt.code {
				t.Fatalf("%s %s: got %d %s, want %d", tt.method, tt.target, rec.Code, rec.Body, tt.code)
			}
			if tt.ctype != "" && rec.Header().Get("Content-Type") != tt.ctype {
				t.Errorf("%s %s: Content-Type got %q, want %q", tt.method, tt.target, rec.Header().Get("Content-Type"), tt.ctype)
			}
			if !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("%s %s: body got %q, want it to contain %q", tt.method, tt.target, rec.Body, tt.body)
			}
			if tt.header[0] != "" && rec.Header().Get(tt.header[0]) != tt.header[1] {
				t.Errorf("%s %s: %s got %q, want %q", tt.method, tt.target, tt.header[0], rec.Header().Get(tt.header[0]), tt.header[1])
			}
			if tt.target == "/api/v1/admin/flush" && tt.code == 204 && st.flushes != 1 {
				t.Errorf("flushes: got %d, want 1", st.flushes)
			}
		})
	}
}

func TestFlushErrors(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("sync: %w", storage.ErrUnavailable), 503},
		{storage.ErrClosed, 503},
		{fmt.Errorf("disk full"), 500},
	} {
		s, st := newTestServer(t, Options{})
		st.flushErr = tt.err
		rec := do(s.mux, http.MethodPost, "/api/v1/admin/flush", nil, nil)
		var body struct{ Error string }
		if rec.Code != tt.code || json.Unmarshal(rec.Body.Bytes(), &body) != nil || !strings.Contains(body.Error, tt.err.Error()) {
			t.Errorf("flush with %v: got %d %s, want %d and the error", tt.err, rec.Code, rec.Body, tt.code)
		}
	}
}

func TestMetrics(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	s.execute = (&stubExecutor{res: timeOnly(1)}).execute
	do(s.mux, "GET", "/health", nil, nil)
	do(s.mux, "GET", "/health", nil, nil)
	do(s.mux, "GET", "/nope", nil, nil)
	do(s.mux, "POST", "/api/v1/write", nil, []byte("cpu v=1 1\ncpu v=2 2\ncpu v=3 3\n"))
	do(s.mux, "POST", "/api/v1/write", nil, []byte("cpu v=\n"))
	do(s.mux, "GET", "/api/v1/query?q=SHOW+COLLECTIONS", nil, nil)
	do(s.mux, "GET", "/api/v1/query", nil, nil)

	rec := do(s.mux, "GET", "/metrics", nil, nil)
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: got %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type: got %q", ct)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"# HELP soltix_http_requests_total ",
		"# TYPE soltix_http_requests_total counter\n",
		`soltix_http_requests_total{route="/health",code="200"} 2` + "\n",
		`soltix_http_requests_total{route="unmatched",code="404"} 1` + "\n",
		`soltix_http_requests_total{route="/api/v1/write",code="204"} 1` + "\n",
		`soltix_http_requests_total{route="/api/v1/write",code="400"} 1` + "\n",
		`soltix_http_requests_total{route="/api/v1/query",code="200"} 1` + "\n",
		`soltix_http_requests_total{route="/api/v1/query",code="400"} 1` + "\n",
		"# TYPE soltix_points_written_total counter\nsoltix_points_written_total 3\n",
		"# TYPE soltix_write_errors_total counter\nsoltix_write_errors_total 1\n",
		"# TYPE soltix_queries_total counter\nsoltix_queries_total 2\n",
		"# TYPE soltix_query_errors_total counter\nsoltix_query_errors_total 1\n",
		"# TYPE soltix_http_request_duration_seconds histogram\n",
		`soltix_http_request_duration_seconds_bucket{route="/health",le="+Inf"} 2` + "\n",
		`soltix_http_request_duration_seconds_count{route="/health"} 2` + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	// Every sample line belongs to a family announced by TYPE and HELP.
	typed := map[string]bool{}
	helped := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "# TYPE "):
			typed[f[2]] = true
		case strings.HasPrefix(line, "# HELP "):
			helped[f[2]] = true
		default:
			name := f[0]
			if i := strings.IndexByte(name, '{'); i >= 0 {
				name = name[:i]
			}
			family := name
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(name, suf); ok && typed[base] {
					family = base
				}
			}
			if !typed[family] || !helped[family] {
				t.Errorf("sample %q has no TYPE/HELP before it", line)
			}
		}
	}
}

// TestWriteThenQuery goes through the real parser and planner over the fake
// store.
func TestWriteThenQuery(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	rec := do(s.mux, "POST", "/api/v1/write?precision=s", nil, []byte("cpu,host=a v=1 10\ncpu,host=b v=2 20\n"))
	if rec.Code != 204 {
		t.Fatalf("write: got %d %s", rec.Code, rec.Body)
	}
	rec = do(s.mux, "GET", "/api/v1/query?epoch=s&q="+url.QueryEscape("SELECT v FROM cpu"), nil, nil)
	if want := `{"columns":["time","v"],"rows":[[10,1],[20,2]],"stats":{"levels":[{"level":"raw","points":2}]}}` + "\n"; rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("select: got %d %s, want 200 %s", rec.Code, rec.Body, want)
	}
	rec = do(s.mux, "GET", "/api/v1/query?q="+url.QueryEscape("SELECT v FROM nope"), nil, nil)
	if want := `{"error":"collection \"nope\" not found"}`; rec.Code != 404 || rec.Body.String() != want {
		t.Errorf("unknown collection: got %d %s, want 404 %s", rec.Code, rec.Body, want)
	}
}
