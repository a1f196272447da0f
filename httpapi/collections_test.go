package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/storage"
)

const day = 24 * time.Hour

// TestWriteRetention checks that a write storage refuses for being older
// than the raw retention is a 400 naming the lines, never a 204. The fake
// store refuses like storage (the first old point, by testNow).
func TestWriteRetention(t *testing.T) {
	old2020 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	old2019 := time.Date(2019, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	recent := testNow.Add(-time.Hour).UnixNano()
	c7d := map[string]storage.CollectionSettings{"c": {Retention: [5]time.Duration{7 * day}}}
	tests := []struct {
		name     string
		settings map[string]storage.CollectionSettings
		storeErr error
		target   string
		header   http.Header
		body     string
		errText  string
		lines    []wantLine
	}{
		{
			name:     "line protocol",
			settings: c7d,
			target:   "/api/v1/write",
			body:     fmt.Sprintf("c v=1 %d\nc v=2 %d\n", recent, old2020),
			errText:  "1 bad line; nothing written",
			lines:    []wantLine{{2, 7, `time 2020-01-01T00:00:00Z is older than the raw retention of collection "c" (7d)`}},
		},
		{
			name: "line protocol, every old line of every collection with a retention",
			settings: map[string]storage.CollectionSettings{
				"c": {Retention: [5]time.Duration{7 * day}},
				"d": {Retention: [5]time.Duration{36 * time.Hour, 365 * day}},
			},
			target:  "/api/v1/write",
			body:    fmt.Sprintf("c v=1 %d\nother v=2 %d\nc v=3 %d\n\nd v=4 %d\nd v=5 %d\n", recent, old2020, old2019, old2020, recent),
			errText: "2 bad lines; nothing written",
			lines: []wantLine{
				{3, 7, `time 2019-06-01T12:00:00Z is older than the raw retention of collection "c" (7d)`},
				{5, 7, `time 2020-01-01T00:00:00Z is older than the raw retention of collection "d" (36h0m0s)`},
			},
		},
		{
			name:     "influx 1.x, seconds",
			settings: c7d,
			target:   "/write?precision=s",
			body:     fmt.Sprintf("c v=1 %d", old2020/1e9),
			errText:  "1 bad line; nothing written",
			lines:    []wantLine{{1, 7, `(7d)`}},
		},
		{
			name:     "json array",
			settings: c7d,
			target:   "/api/v1/write?collection=c",
			header:   jsonCT,
			body:     `[{"fields":{"v":1}},{"time":"2020-01-01T00:00:00Z","fields":{"v":2}},{"time":"2019-06-01T12:00:00Z","fields":{"v":3}}]`,
			errText:  "2 bad lines; nothing written",
			lines: []wantLine{
				{2, 0, `time 2020-01-01T00:00:00Z is older than the raw retention of collection "c" (7d)`},
				{3, 0, `time 2019-06-01T12:00:00Z is older`},
			},
		},
		{
			name:     "json object",
			settings: c7d,
			target:   "/api/v1/write",
			header:   jsonCT,
			body:     `{"collection":"c","time":"2020-01-01T00:00:00Z","fields":{"v":2}}`,
			errText:  "1 bad line; nothing written",
			lines:    []wantLine{{1, 0, `time 2020-01-01T00:00:00Z is older than the raw retention of collection "c" (7d)`}},
		},
		{
			name:     "wrapped error from the store",
			storeErr: fmt.Errorf("write: %w", &storage.RetentionError{Point: 1, Collection: "c", Time: old2020, Retention: 30 * day}),
			target:   "/api/v1/write",
			body:     fmt.Sprintf("c v=1 %d\nc v=2 %d\n", recent, old2020),
			errText:  "1 bad line; nothing written",
			lines:    []wantLine{{2, 7, `time 2020-01-01T00:00:00Z is older than the raw retention of collection "c" (30d)`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := newTestServer(t, Options{})
			st.settings = tt.settings
			st.writeErr = tt.storeErr
			rec := do(s.mux, http.MethodPost, tt.target, tt.header, []byte(tt.body))
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("POST %s %q: got %d %s, want 400", tt.target, tt.body, rec.Code, rec.Body)
			}
			var got writeError400
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if got.Error != tt.errText {
				t.Errorf("error: got %q, want %q", got.Error, tt.errText)
			}
			if len(got.Lines) != len(tt.lines) {
				t.Fatalf("lines: got %s, want %d entries", rec.Body, len(tt.lines))
			}
			for i, w := range tt.lines {
				g := got.Lines[i]
				if g.Line != w.line || g.Column != w.column || !strings.Contains(g.Reason, w.reason) {
					t.Errorf("lines[%d]: got %+v, want line %d column %d reason containing %q", i, g, w.line, w.column, w.reason)
				}
			}
			if len(st.written()) != 0 {
				t.Errorf("points written: got %v, want none", st.written())
			}
			if n := s.metrics.writeErrors.Load(); n != 1 {
				t.Errorf("write errors counted: %d, want 1", n)
			}
		})
	}

	// Within the retention the write is accepted.
	s, st := newTestServer(t, Options{})
	st.settings = c7d
	if rec := do(s.mux, http.MethodPost, "/api/v1/write", nil, []byte(fmt.Sprintf("c v=1 %d\nother v=1 %d", recent, old2020))); rec.Code != http.StatusNoContent {
		t.Errorf("write within the retention: got %d %s, want 204", rec.Code, rec.Body)
	}
}

// allForever is the retention object of default settings.
const allForever = `{"raw":"forever","1h":"forever","1d":"forever","1M":"forever","1y":"forever"}`

func TestAdminCollectionsGet(t *testing.T) {
	s, st := newTestServer(t, Options{})
	seed(t, st) // collections cpu and mem
	st.settings = map[string]storage.CollectionSettings{
		"cpu":    {Retention: [5]time.Duration{7 * day, 365 * day, 5 * 365 * day}},
		"future": {NoRollups: true},
		"a/b c":  {Retention: [5]time.Duration{36 * time.Hour}},
	}
	tests := []struct {
		target string
		code   int
		want   string // the whole body for 200, a substring of the error otherwise
	}{
		{"/api/v1/admin/collections", 200, `{"collections":[` +
			`{"name":"a/b c","rollups":true,"retention":{"raw":"36h0m0s","1h":"forever","1d":"forever","1M":"forever","1y":"forever"}},` +
			`{"name":"cpu","rollups":true,"retention":{"raw":"7d","1h":"365d","1d":"1825d","1M":"forever","1y":"forever"}},` +
			`{"name":"future","rollups":false,"retention":` + allForever + `},` +
			`{"name":"mem","rollups":true,"retention":` + allForever + `}]}`},
		{"/api/v1/admin/collections/cpu", 200, `{"name":"cpu","rollups":true,"retention":{"raw":"7d","1h":"365d","1d":"1825d","1M":"forever","1y":"forever"}}`},
		{"/api/v1/admin/collections/mem", 200, `{"name":"mem","rollups":true,"retention":` + allForever + `}`},
		{"/api/v1/admin/collections/nothing-yet", 200, `{"name":"nothing-yet","rollups":true,"retention":` + allForever + `}`},
		{"/api/v1/admin/collections/future", 200, `{"name":"future","rollups":false,"retention":` + allForever + `}`},
		{"/api/v1/admin/collections/a%2Fb%20c", 200, `{"name":"a/b c","rollups":true,"retention":{"raw":"36h0m0s","1h":"forever","1d":"forever","1M":"forever","1y":"forever"}}`},
		{"/api/v1/admin/collections/100%25", 200, `{"name":"100%","rollups":true,"retention":` + allForever + `}`},
		{"/api/v1/admin/collections/" + strings.Repeat("x", storage.MaxCollectionLen+1), 400, "collection name must be 1 to 1024 bytes, got 1025"},
	}
	for _, tt := range tests {
		rec := do(s.mux, http.MethodGet, tt.target, nil, nil)
		if rec.Code != tt.code || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: got %d %q %s, want %d application/json", tt.target, rec.Code, rec.Header().Get("Content-Type"), rec.Body, tt.code)
			continue
		}
		if tt.code == http.StatusOK {
			if got := strings.TrimSpace(rec.Body.String()); got != tt.want {
				t.Errorf("GET %s:\n got %s\nwant %s", tt.target, got, tt.want)
			}
			continue
		}
		var body struct{ Error string }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !strings.Contains(body.Error, tt.want) {
			t.Errorf("GET %s: body %s, want an error containing %q", tt.target, rec.Body, tt.want)
		}
	}

	// No collections at all.
	s, _ = newTestServer(t, Options{})
	if rec := do(s.mux, http.MethodGet, "/api/v1/admin/collections", nil, nil); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"collections":[]}` {
		t.Errorf("GET /api/v1/admin/collections with none: got %d %s", rec.Code, rec.Body)
	}
}

func TestAdminCollectionsPut(t *testing.T) {
	base := storage.CollectionSettings{Retention: [5]time.Duration{30 * day, 365 * day}}
	tests := []struct {
		name   string
		target string // default /api/v1/admin/collections/cpu
		before *storage.CollectionSettings
		body   string
		code   int
		want   string // the whole body for 200, a substring of the error otherwise
		after  storage.CollectionSettings
		calls  int // SetSettings calls
	}{
		{
			name: "recommended profile",
			body: `{"rollups": true, "retention": {"raw": "7d", "1h": "365d", "1d": "5y", "1M": "forever", "1y": "forever"}}`,
			code: 200, want: `{"name":"cpu","rollups":true,"retention":{"raw":"7d","1h":"365d","1d":"1825d","1M":"forever","1y":"forever"}}`,
			after: storage.CollectionSettings{Retention: [5]time.Duration{7 * day, 365 * day, 5 * 365 * day}},
			calls: 1,
		},
		{
			name: "levels not named keep their value", before: &base,
			body: `{"retention": {"raw": "7d"}}`,
			code: 200, want: `{"name":"cpu","rollups":true,"retention":{"raw":"7d","1h":"365d","1d":"forever","1M":"forever","1y":"forever"}}`,
			after: storage.CollectionSettings{Retention: [5]time.Duration{7 * day, 365 * day}},
			calls: 1,
		},
		{
			name: "rollups off, retention kept", before: &base,
			body: `{"rollups": false}`,
			code: 200, want: `{"name":"cpu","rollups":false,"retention":{"raw":"30d","1h":"365d","1d":"forever","1M":"forever","1y":"forever"}}`,
			after: storage.CollectionSettings{NoRollups: true, Retention: base.Retention},
			calls: 1,
		},
		{
			name: "back to the defaults", before: &base,
			body: `{"rollups": true, "retention": {"raw": "forever", "1h": "0"}}`,
			code: 200, want: `{"name":"cpu","rollups":true,"retention":` + allForever + `}`,
			calls: 1,
		},
		{
			name: "nulls and no change: no store call", before: &base,
			body: `{"rollups": null, "retention": null}`,
			code: 200, want: `{"name":"cpu","rollups":true,"retention":{"raw":"30d","1h":"365d","1d":"forever","1M":"forever","1y":"forever"}}`,
			after: base,
		},
		{
			name: "empty object", body: `{}`,
			code: 200, want: `{"name":"cpu","rollups":true,"retention":` + allForever + `}`,
		},
		{
			name: "weeks, hours, a collection without data", target: "/api/v1/admin/collections/new%2Fone",
			body: `{"retention": {"raw": "2w", "1h": "36h"}}`,
			code: 200, want: `{"name":"new/one","rollups":true,"retention":{"raw":"14d","1h":"36h0m0s","1d":"forever","1M":"forever","1y":"forever"}}`,
			calls: 1,
		},
		{name: "not JSON", body: `{"rollups":`, code: 400, want: "bad collection settings: body is not JSON"},
		{name: "empty body", body: ``, code: 400, want: "bad collection settings: body is not JSON"},
		{name: "array", body: `[]`, code: 400, want: "body is a array, want an object"},
		{name: "unknown key", body: `{"rollup": false}`, code: 400, want: `unknown key "rollup" (want rollups, retention, ack, cold_after)`},
		{
			name: "ack", body: `{"ack": "local"}`,
			code: 200, want: `{"name":"cpu","rollups":true,"retention":` + allForever + `,"ack":"local"}`,
			after: storage.CollectionSettings{Ack: storage.AckLocal},
			calls: 1,
		},
		{
			name: "cold_after", body: `{"cold_after": {"raw": "30d", "1h": "90d"}}`,
			code: 200, want: `{"name":"cpu","rollups":true,"retention":` + allForever + `,"cold_after":{"raw":"30d","1h":"90d","1d":"off","1M":"off","1y":"off"}}`,
			after: storage.CollectionSettings{ColdAfter: [5]time.Duration{30 * day, 90 * day}},
			calls: 1,
		},
		{
			name: "cold_after off again", before: &storage.CollectionSettings{ColdAfter: [5]time.Duration{30 * day}},
			body: `{"cold_after": {"raw": "off"}}`,
			code: 200, want: `{"name":"cpu","rollups":true,"retention":` + allForever + `}`,
			calls: 1,
		},
		{name: "cold_after not an object", body: `{"cold_after": "30d"}`, code: 400, want: `cold_after is a string, want an object such as {"raw": "30d"}`},
		{name: "cold_after not a string", body: `{"cold_after": {"raw": 30}}`, code: 400, want: `cold_after of level "raw" is a number, want a string such as "30d" or "off"`},
		{name: "cold_after twice", body: `{"cold_after": {"1h": "30d", "1h": "31d"}}`, code: 400, want: `cold_after of level "1h" given twice`},
		{name: "cold_after unknown level", body: `{"cold_after": {"hot": "30d"}}`, code: 400, want: `cold_after: unknown level "hot"`},
		{name: "cold_after forever", body: `{"cold_after": {"raw": "forever"}}`, code: 400, want: `cold_after of level raw: cold_after "forever": want off`},
		{name: "cold_after 1y", body: `{"cold_after": {"1y": "30d"}}`, code: 400, want: "the 1y level is one file that never ends"},
		{
			name: "cold_after past the retention", before: &base, body: `{"cold_after": {"raw": "30d"}}`,
			code: 400, want: "cold_after of level raw (30d) is not shorter than its retention (30d)",
		},
		{name: "ack not a string", body: `{"ack": true}`, code: 400, want: `ack is a true, want "local" or "replicated"`},
		{name: "unknown ack", body: `{"ack": "quorum"}`, code: 400, want: `ack "quorum": want local or replicated`},
		{name: "duplicate key", body: `{"rollups": false, "rollups": true}`, code: 400, want: `duplicate key "rollups"`},
		{name: "rollups not a bool", body: `{"rollups": "off"}`, code: 400, want: "rollups is a string, want true or false"},
		{name: "retention not an object", body: `{"retention": "7d"}`, code: 400, want: `retention is a string, want an object such as {"raw": "7d"}`},
		{name: "retention not a string", body: `{"retention": {"raw": 7}}`, code: 400, want: `retention of level "raw" is a number, want a string such as "7d" or "forever"`},
		{name: "level given twice", body: `{"retention": {"raw": "7d", "raw": "8d"}}`, code: 400, want: `retention of level "raw" given twice`},
		{name: "unknown level", body: `{"retention": {"1m": "7d"}}`, code: 400, want: `retention: unknown level "1m" (want raw, 1h, 1d, 1M or 1y)`},
		{name: "bad duration", body: `{"retention": {"raw": "7 days"}}`, code: 400, want: `retention of level raw: retention "7 days"`},
		{name: "zero days", body: `{"retention": {"raw": "0d"}}`, code: 400, want: `want a positive number of d`},
		{name: "negative", body: `{"retention": {"1h": "-5h"}}`, code: 400, want: `retention of level 1h: retention "-5h"`},
		{name: "1y retention", body: `{"retention": {"1y": "10y"}}`, code: 400, want: "the 1y level is kept forever; its retention must be forever"},
		{name: "name too long", target: "/api/v1/admin/collections/" + strings.Repeat("x", storage.MaxCollectionLen+1), body: `{}`, code: 400, want: "collection name must be 1 to 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := newTestServer(t, Options{})
			seed(t, st)
			if tt.before != nil {
				st.settings = map[string]storage.CollectionSettings{"cpu": *tt.before}
			}
			target := tt.target
			if target == "" {
				target = "/api/v1/admin/collections/cpu"
			}
			rec := do(s.mux, http.MethodPut, target, jsonCT, []byte(tt.body))
			if rec.Code != tt.code || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("PUT %s %s: got %d %q %s, want %d application/json", target, tt.body, rec.Code, rec.Header().Get("Content-Type"), rec.Body, tt.code)
			}
			if tt.code == http.StatusOK {
				if got := strings.TrimSpace(rec.Body.String()); got != tt.want {
					t.Errorf("PUT %s %s:\n got %s\nwant %s", target, tt.body, got, tt.want)
				}
				// GET answers the same.
				if g := do(s.mux, http.MethodGet, target, nil, nil); strings.TrimSpace(g.Body.String()) != tt.want {
					t.Errorf("GET %s after PUT: got %s, want %s", target, g.Body, tt.want)
				}
				if target == "/api/v1/admin/collections/cpu" {
					if got := st.CollectionSettings("cpu"); got != tt.after {
						t.Errorf("PUT %s: stored %+v, want %+v", tt.body, got, tt.after)
					}
				}
			} else {
				var body struct{ Error string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !strings.Contains(body.Error, tt.want) {
					t.Errorf("PUT %s %s: body %s, want an error containing %q", target, tt.body, rec.Body, tt.want)
				}
				var want storage.CollectionSettings
				if tt.before != nil {
					want = *tt.before
				}
				if got := st.CollectionSettings("cpu"); got != want {
					t.Errorf("PUT %s refused, but settings changed to %+v", tt.body, got)
				}
			}
			if st.setCalls != tt.calls {
				t.Errorf("PUT %s: %d SetSettings calls, want %d", tt.body, st.setCalls, tt.calls)
			}
		})
	}
}

func TestAdminCollectionsPutStoreErrors(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("sync: %w", storage.ErrUnavailable), 503},
		{storage.ErrClosed, 503},
		{errors.New("disk full"), 500},
	} {
		s, st := newTestServer(t, Options{})
		st.settingsErr = tt.err
		rec := do(s.mux, http.MethodPut, "/api/v1/admin/collections/c", jsonCT, []byte(`{"rollups":false}`))
		var body struct{ Error string }
		if rec.Code != tt.code || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error != "set collection settings: "+tt.err.Error() {
			t.Errorf("PUT with %v: got %d %s, want %d and the error", tt.err, rec.Code, rec.Body, tt.code)
		}
	}
}

func TestAdminCollectionsPutBodyLimit(t *testing.T) {
	s, st := newTestServer(t, Options{MaxBodyBytes: 16})
	rec := do(s.mux, http.MethodPut, "/api/v1/admin/collections/c", jsonCT, []byte(`{"retention":{"raw":"7d"}}`))
	if rec.Code != http.StatusRequestEntityTooLarge || st.setCalls != 0 {
		t.Errorf("PUT over the body limit: got %d %s and %d SetSettings calls, want 413 and none", rec.Code, rec.Body, st.setCalls)
	}
}

// TestAdminCollectionsMethods checks the methods of the collection routes.
func TestAdminCollectionsMethods(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	for _, tt := range []struct {
		method, target, allow string
	}{
		{http.MethodPost, "/api/v1/admin/collections", "GET"},
		{http.MethodPut, "/api/v1/admin/collections", "GET"},
		{http.MethodPost, "/api/v1/admin/collections/c", "GET, PUT"},
		{http.MethodDelete, "/api/v1/admin/collections/c", "GET, PUT"},
	} {
		rec := do(s.mux, tt.method, tt.target, nil, nil)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != tt.allow {
			t.Errorf("%s %s: got %d Allow %q, want 405 Allow %q", tt.method, tt.target, rec.Code, rec.Header().Get("Allow"), tt.allow)
		}
	}
}
