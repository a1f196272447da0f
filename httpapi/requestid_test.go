package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/soltixdb/soltix/internal/reqid"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// logLines parses a JSON log into its records.
func logLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// TestRequestIDs: every answer carries X-Request-Id, a sane incoming one
// kept and any other replaced, and the request's log line carries the same
// id with method, path (no query string), status and bytes.
func TestRequestIDs(t *testing.T) {
	var logBuf syncBuffer
	log := slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, _ := newTestServer(t, Options{Logger: log})
	ts := httptest.NewServer(s.mux)
	defer ts.Close()

	for _, tc := range []struct {
		name, in string
		keep     bool
	}{
		{"none", "", false},
		{"sane", "abc-123.X_y", true},
		{"64 chars", strings.Repeat("q", 64), true},
		{"too long", strings.Repeat("q", 65), false},
		{"space", "a b", false},
		{"quote", `a"b`, false},
		{"non-ascii", "é", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(logLines(t, logBuf.String()))
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/health?x=1", nil)
			if tc.in != "" {
				req.Header.Set(reqid.Header, tc.in)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Get(reqid.Header)
			if !reqid.Valid(got) {
				t.Fatalf("answer's id %q is not valid", got)
			}
			if (got == tc.in) != tc.keep {
				t.Fatalf("sent %q, got %q; keep %v", tc.in, got, tc.keep)
			}
			lines := logLines(t, logBuf.String())[before:]
			if len(lines) != 1 {
				t.Fatalf("%d log lines for one request: %v", len(lines), lines)
			}
			l := lines[0]
			if l["request_id"] != got || l["method"] != "GET" || l["path"] != "/health" || l["status"] != float64(200) || l["level"] != "DEBUG" {
				t.Errorf("log line %v, want id %s, GET /health 200 at DEBUG", l, got)
			}
			if l["bytes"] != float64(len(`{"status":"ok"}`)) {
				t.Errorf("log line bytes %v", l["bytes"])
			}
		})
	}
}

// TestRequestLogErrors: a 5xx answer is logged at Info, and a handler's own
// log line about the request carries the request's id.
func TestRequestLogErrors(t *testing.T) {
	var logBuf syncBuffer
	log := slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, st := newTestServer(t, Options{Logger: log})
	st.flushErr = errors.New("disk on fire")
	rec := do(s.mux, http.MethodPost, "/api/v1/admin/flush", http.Header{reqid.Header: {"flush-1"}}, nil)
	if rec.Code != http.StatusInternalServerError || rec.Header().Get(reqid.Header) != "flush-1" {
		t.Fatalf("got %d, id %q", rec.Code, rec.Header().Get(reqid.Header))
	}
	lines := logLines(t, logBuf.String())
	var handler, request bool
	for _, l := range lines {
		if l["request_id"] != "flush-1" {
			t.Errorf("line without the id: %v", l)
		}
		switch l["msg"] {
		case "flush":
			handler = true
		case "http request":
			request = l["level"] == "INFO" && l["status"] == float64(500)
		}
	}
	if !handler || !request {
		t.Errorf("want the handler's line and the request's at INFO: %v", lines)
	}
	// A 2xx answer is not logged at Info.
	st.flushErr = nil
	before := len(lines)
	do(s.mux, http.MethodPost, "/api/v1/admin/flush", nil, nil)
	if n := len(logLines(t, logBuf.String())); n != before {
		t.Errorf("a 204 logged at Info: %s", logBuf.String())
	}
}

// TestLogsHoldNoToken: requests carrying a token in ?p=, in a Bearer
// header, in basic auth and in an Influx Token header, right or wrong,
// leave no trace of it in the log, at Debug.
func TestLogsHoldNoToken(t *testing.T) {
	var logBuf syncBuffer
	log := slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, _ := newTestServer(t, Options{Tokens: authTokens, Logger: log})
	ts := httptest.NewServer(s.mux)
	defer ts.Close()
	secrets := []string{"secret-admin", "secret-writer", "wrong-secret-zz9"}
	for _, tc := range []struct{ method, target, auth, body string }{
		{"GET", "/query?q=SHOW+DATABASES&u=x&p=secret-admin", "", ""},
		{"GET", "/query?q=SHOW+DATABASES&p=wrong-secret-zz9", "", ""},
		{"POST", "/write?db=cpu&p=secret-writer", "", "cpu v=1 1\n"},
		{"POST", "/api/v1/write", bearer("writer"), "not json"},
		{"GET", "/api/v1/admin/collections", "Bearer wrong-secret-zz9", ""},
		{"GET", "/api/v1/admin/collections", "Token secret-admin", ""},
		{"POST", "/api/v1/admin/flush", "Basic " + basic("u", "secret-admin"), ""},
		{"POST", "/api/v1/admin/flush", "Basic " + basic("u", "wrong-secret-zz9"), ""},
		{"GET", "/api/v1/query?q=SELECT+*+FROM+nope", bearer("admin"), ""},
	} {
		code, _, _ := call(t, tc.method, ts.URL+tc.target, tc.auth, tc.body)
		if code == 0 {
			t.Fatal("no answer")
		}
	}
	out := logBuf.String()
	if len(logLines(t, out)) < 9 {
		t.Fatalf("want a line per request, got %s", out)
	}
	for _, sec := range secrets {
		if strings.Contains(out, sec) {
			t.Errorf("log holds %q:\n%s", sec, out)
		}
	}
	if strings.Contains(out, "p=") || strings.Contains(out, "?") {
		t.Errorf("log holds a query string:\n%s", out)
	}
}

// basic returns the credentials of basic auth, base64-encoded.
func basic(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}
