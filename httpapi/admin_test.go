package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
)

// Times of the seeded points: 2025-01-01T00:00:00Z, one hour and one day
// later (the day is 1735776000000000000).
const (
	jan1  = int64(1735689600000000000)
	jan1h = jan1 + 3600_000_000_000
	jan2  = int64(1735776000000000000)
)

// seed writes cpu points for devices d1 (at jan1, jan1h, jan2) and d2 (at
// jan1), and one mem point.
func seed(t *testing.T, st *fakeStore) {
	t.Helper()
	d1 := model.Tags{{Key: "device_id", Value: "d1"}, {Key: "region", Value: "eu"}}
	d2 := model.Tags{{Key: "device_id", Value: "d2"}, {Key: "region", Value: "eu"}}
	err := st.Write(context.Background(), []model.Point{
		pt("cpu", d1, jan1, fl("v", model.Float(1))),
		pt("cpu", d1, jan1h, fl("v", model.Float(2))),
		pt("cpu", d1, jan2, fl("v", model.Float(3))),
		pt("cpu", d2, jan1, fl("v", model.Float(10))),
		pt("mem", nil, jan1, fl("used", model.Float(5))),
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sumV runs SELECT sum(v) FROM cpu through the handler and returns its body
// without its "stats".
func sumV(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := do(h, http.MethodGet, "/api/v1/query?q="+url.QueryEscape("SELECT sum(v) FROM cpu")+"&epoch=ns", nil, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("SELECT sum(v) FROM cpu: got %d %s", rec.Code, rec.Body)
	}
	body := strings.TrimSpace(rec.Body.String())
	if i := strings.Index(body, `,"stats":`); i >= 0 {
		body = body[:i] + "}"
	}
	return body
}

func TestQueryDeleteStatement(t *testing.T) {
	tests := []struct {
		name   string
		target string
		body   string
		ctype  string
		want   string // the whole response body
		sum    string // SELECT sum(v) FROM cpu afterwards
		call   *fakeDelete
	}{
		{
			name:   "text body",
			target: "/api/v1/query",
			body:   "DELETE FROM cpu WHERE device_id = 'd1' AND time >= '2025-01-01T00:00:00Z' AND time < '2025-01-02T00:00:00Z'",
			ctype:  "text/plain",
			want:   `{"columns":["deleted_series"],"rows":[[1]]}`,
			sum:    `{"columns":["time","sum(v)"],"rows":[[0,13]]}`,
			call:   &fakeDelete{"cpu", []model.Tags{{{Key: "device_id", Value: "d1"}, {Key: "region", Value: "eu"}}}, jan1, jan2 - 1},
		},
		{
			name:   "q in the URL, csv",
			target: "/api/v1/query?format=csv&q=" + url.QueryEscape("DELETE FROM cpu WHERE region = 'eu'"),
			want:   "deleted_series\n2",
			sum:    `{"columns":["time","sum(v)"],"rows":[]}`,
			call: &fakeDelete{"cpu", []model.Tags{
				{{Key: "device_id", Value: "d1"}, {Key: "region", Value: "eu"}},
				{{Key: "device_id", Value: "d2"}, {Key: "region", Value: "eu"}},
			}, math.MinInt64, math.MaxInt64},
		},
		{
			name:   "form body, no match",
			target: "/api/v1/query",
			body:   "q=" + url.QueryEscape("DELETE FROM cpu WHERE device_id = 'd9'"),
			ctype:  "application/x-www-form-urlencoded",
			want:   `{"columns":["deleted_series"],"rows":[[0]]}`,
			sum:    `{"columns":["time","sum(v)"],"rows":[[0,16]]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := newTestServer(t, Options{})
			seed(t, st)
			var h http.Header
			if tt.ctype != "" {
				h = hdr("Content-Type", tt.ctype)
			}
			rec := do(s.mux, http.MethodPost, tt.target, h, []byte(tt.body))
			if got := strings.TrimSpace(rec.Body.String()); rec.Code != http.StatusOK || got != tt.want {
				t.Fatalf("POST %s %q: got %d %s, want 200 %s", tt.target, tt.body, rec.Code, got, tt.want)
			}
			var want []fakeDelete
			if tt.call != nil {
				want = []fakeDelete{*tt.call}
			}
			if !reflect.DeepEqual(st.deletes, want) {
				t.Errorf("POST %s %q: Delete calls %+v, want %+v", tt.target, tt.body, st.deletes, want)
			}
			if got := sumV(t, s.mux); got != tt.sum {
				t.Errorf("after POST %s %q: sum %s, want %s", tt.target, tt.body, got, tt.sum)
			}
		})
	}
}

func TestQueryDeleteErrors(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		q       string
		code    int
		errText string
		allow   string
	}{
		{name: "GET", method: http.MethodGet, q: "DELETE FROM cpu", code: 405, errText: "DELETE statements change data: send them with POST, not GET", allow: "POST"},
		{name: "unknown collection", method: http.MethodPost, q: "DELETE FROM nope WHERE device_id = 'd1'", code: 404, errText: `collection "nope" not found`},
		{name: "field condition", method: http.MethodPost, q: "DELETE FROM cpu WHERE v > 1", code: 400, errText: "1:23: DELETE cannot select by field values; use tags and time"},
		{name: "time under OR", method: http.MethodPost, q: "DELETE FROM cpu WHERE time < 5 OR device_id = 'd1'", code: 400, errText: "with AND at the top level"},
		{name: "EXPLAIN", method: http.MethodPost, q: "EXPLAIN DELETE FROM cpu", code: 400, errText: "EXPLAIN is only allowed before SELECT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := newTestServer(t, Options{})
			seed(t, st)
			rec := do(s.mux, tt.method, "/api/v1/query?q="+url.QueryEscape(tt.q), nil, nil)
			var got queryErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != tt.code || !strings.Contains(got.Error, tt.errText) {
				t.Fatalf("%s %q: got %d %s, want %d and an error containing %q", tt.method, tt.q, rec.Code, rec.Body, tt.code, tt.errText)
			}
			if a := rec.Header().Get("Allow"); a != tt.allow {
				t.Errorf("%s %q: Allow %q, want %q", tt.method, tt.q, a, tt.allow)
			}
			if len(st.deletes) != 0 {
				t.Errorf("%s %q: Delete called %+v, want no call", tt.method, tt.q, st.deletes)
			}
			if m := s.metrics.queryErrors.Load(); m != 1 {
				t.Errorf("%s %q: query errors counted %d, want 1", tt.method, tt.q, m)
			}
		})
	}
}

func TestAdminDelete(t *testing.T) {
	d1 := model.Tags{{Key: "device_id", Value: "d1"}, {Key: "region", Value: "eu"}}
	d2 := model.Tags{{Key: "device_id", Value: "d2"}, {Key: "region", Value: "eu"}}
	const (
		min = math.MinInt64
		max = math.MaxInt64
	)
	tests := []struct {
		name string
		body string
		code int
		want string // the whole body for 200, a substring of the error otherwise
		call *fakeDelete
		sum  string // SELECT sum(v) FROM cpu afterwards; "" to skip
	}{
		{
			name: "example: string start, integer end (exclusive)",
			body: `{"collection":"cpu","tags":{"device_id":"d1"},"start":"2025-01-01T00:00:00Z","end":1735776000000000000}`,
			code: 200, want: `{"deleted_series":1}`,
			call: &fakeDelete{"cpu", []model.Tags{d1}, jan1, jan2 - 1},
			sum:  `{"columns":["time","sum(v)"],"rows":[[0,13]]}`,
		},
		{
			name: "every series, no bounds",
			body: `{"collection":"cpu"}`,
			code: 200, want: `{"deleted_series":2}`,
			call: &fakeDelete{"cpu", []model.Tags{d1, d2}, min, max},
			sum:  `{"columns":["time","sum(v)"],"rows":[]}`,
		},
		{
			name: "null and empty tags, integer start",
			body: `{"collection":"cpu","tags":{},"start":1735693200000000000,"end":null}`,
			code: 200, want: `{"deleted_series":2}`,
			call: &fakeDelete{"cpu", []model.Tags{d1, d2}, jan1h, max},
			sum:  `{"columns":["time","sum(v)"],"rows":[[0,11]]}`,
		},
		{
			name: "tags must all hold",
			body: `{"collection":"cpu","tags":{"region":"eu","device_id":"d2"},"start":null,"end":"2025-01-01T00:00:00.000000001Z"}`,
			code: 200, want: `{"deleted_series":1}`,
			call: &fakeDelete{"cpu", []model.Tags{d2}, min, jan1},
			sum:  `{"columns":["time","sum(v)"],"rows":[[0,6]]}`,
		},
		{
			name: "no series match: no Delete call",
			body: `{"collection":"cpu","tags":{"device_id":"d1","region":"us"}}`,
			code: 200, want: `{"deleted_series":0}`,
			sum: `{"columns":["time","sum(v)"],"rows":[[0,16]]}`,
		},
		{name: "unknown collection", body: `{"collection":"nope"}`, code: 404, want: `collection "nope" not found`},
		{name: "not JSON", body: `{"collection":`, code: 400, want: "bad delete request: body is not JSON"},
		{name: "empty body", body: ``, code: 400, want: "bad delete request: body is not JSON"},
		{name: "array", body: `[{"collection":"cpu"}]`, code: 400, want: "bad delete request: body is a array, want an object"},
		{name: "missing collection", body: `{"tags":{"device_id":"d1"}}`, code: 400, want: `bad delete request: missing "collection"`},
		{name: "empty collection", body: `{"collection":""}`, code: 400, want: "bad delete request: empty collection"},
		{name: "collection not a string", body: `{"collection":5}`, code: 400, want: "collection is a number, want a string"},
		{name: "unknown key", body: `{"collection":"cpu","device_id":"d1"}`, code: 400, want: `unknown key "device_id" (want collection, tags, start, end)`},
		{name: "duplicate key", body: `{"collection":"cpu","collection":"mem"}`, code: 400, want: `duplicate key "collection"`},
		{name: "tags not an object", body: `{"collection":"cpu","tags":["d1"]}`, code: 400, want: "tags is a array, want an object of strings"},
		{name: "tag not a string", body: `{"collection":"cpu","tags":{"device_id":1}}`, code: 400, want: `tag "device_id" is a number, want a string`},
		{name: "empty tag key", body: `{"collection":"cpu","tags":{"":"x"}}`, code: 400, want: "empty tag key"},
		{name: "time as a tag", body: `{"collection":"cpu","tags":{"time":"x"}}`, code: 400, want: `"time" is not a tag: use start and end`},
		{name: "tag given twice", body: `{"collection":"cpu","tags":{"a":"x","a":"y"}}`, code: 400, want: `tag "a" given twice`},
		{name: "field as a tag", body: `{"collection":"cpu","tags":{"v":""}}`, code: 400, want: `"v" is a field of collection "cpu", not a tag`},
		{name: "bad start", body: `{"collection":"cpu","start":"yesterday"}`, code: 400, want: `start: time "yesterday" is not RFC 3339`},
		{name: "float end", body: `{"collection":"cpu","end":1.5e18}`, code: 400, want: "end: time 1.5e18 is not an integer"},
		{name: "bool start", body: `{"collection":"cpu","start":true}`, code: 400, want: "start: time is a true, want an RFC 3339 string or an integer"},
		{
			name: "empty range", body: `{"collection":"cpu","start":"2025-01-02T00:00:00Z","end":"2025-01-02T00:00:00Z"}`, code: 400,
			want: "empty range: end 2025-01-02T00:00:00Z is not after start 2025-01-02T00:00:00Z",
		},
		{name: "end at the smallest time", body: `{"collection":"cpu","end":-9223372036854775808}`, code: 400, want: "is not after start 1677-09-21T00:12:43.145224192Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := newTestServer(t, Options{})
			seed(t, st)
			rec := do(s.mux, http.MethodPost, "/api/v1/admin/delete", jsonCT, []byte(tt.body))
			if rec.Code != tt.code {
				t.Fatalf("POST /api/v1/admin/delete %s: got %d %s, want %d", tt.body, rec.Code, rec.Body, tt.code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("POST /api/v1/admin/delete %s: Content-Type %q, want application/json", tt.body, ct)
			}
			if tt.code == http.StatusOK {
				if got := strings.TrimSpace(rec.Body.String()); got != tt.want {
					t.Errorf("POST /api/v1/admin/delete %s: body %s, want %s", tt.body, got, tt.want)
				}
			} else {
				var body struct{ Error string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !strings.Contains(body.Error, tt.want) {
					t.Errorf("POST /api/v1/admin/delete %s: body %s, want an error containing %q", tt.body, rec.Body, tt.want)
				}
			}
			var want []fakeDelete
			if tt.call != nil {
				want = []fakeDelete{*tt.call}
			}
			if !reflect.DeepEqual(st.deletes, want) {
				t.Errorf("POST /api/v1/admin/delete %s: Delete calls %+v, want %+v", tt.body, st.deletes, want)
			}
			if tt.sum != "" {
				if got := sumV(t, s.mux); got != tt.sum {
					t.Errorf("after POST /api/v1/admin/delete %s: sum %s, want %s", tt.body, got, tt.sum)
				}
			}
		})
	}
}

// TestAdminDeleteThenWrite checks that points written after a delete are
// seen, and that a collection emptied by a delete still exists.
func TestAdminDeleteThenWrite(t *testing.T) {
	s, st := newTestServer(t, Options{})
	seed(t, st)
	body := []byte(`{"collection":"cpu"}`)
	if rec := do(s.mux, http.MethodPost, "/api/v1/admin/delete", jsonCT, body); rec.Code != http.StatusOK {
		t.Fatalf("first delete: got %d %s", rec.Code, rec.Body)
	}
	if rec := do(s.mux, http.MethodPost, "/api/v1/admin/delete", jsonCT, body); rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"deleted_series":0}` {
		t.Fatalf("second delete: got %d %s, want 200 {\"deleted_series\":0}", rec.Code, rec.Body)
	}
	if rec := do(s.mux, http.MethodPost, "/api/v1/write", nil, []byte("cpu,device_id=d1 v=7 1735689600000000000")); rec.Code != http.StatusNoContent {
		t.Fatalf("write after delete: got %d %s", rec.Code, rec.Body)
	}
	if got, want := sumV(t, s.mux), `{"columns":["time","sum(v)"],"rows":[[0,7]]}`; got != want {
		t.Errorf("after delete and write: sum %s, want %s", got, want)
	}
}

func TestAdminDeleteStoreErrors(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("append: %w", storage.ErrUnavailable), 503},
		{storage.ErrClosed, 503},
		{errors.New("disk full"), 500},
	} {
		s, st := newTestServer(t, Options{})
		seed(t, st)
		st.deleteErr = tt.err
		rec := do(s.mux, http.MethodPost, "/api/v1/admin/delete", jsonCT, []byte(`{"collection":"cpu"}`))
		var body struct{ Error string }
		if rec.Code != tt.code || json.Unmarshal(rec.Body.Bytes(), &body) != nil || !strings.Contains(body.Error, "delete: "+tt.err.Error()) {
			t.Errorf("admin delete with %v: got %d %s, want %d and the error", tt.err, rec.Code, rec.Body, tt.code)
		}
		rec = do(s.mux, http.MethodPost, "/api/v1/query", hdr("Content-Type", "text/plain"), []byte("DELETE FROM cpu"))
		if rec.Code != tt.code || json.Unmarshal(rec.Body.Bytes(), &body) != nil || !strings.Contains(body.Error, tt.err.Error()) {
			t.Errorf("DELETE statement with %v: got %d %s, want %d and the error", tt.err, rec.Code, rec.Body, tt.code)
		}
	}
}

func TestAdminDeleteBodyLimit(t *testing.T) {
	s, st := newTestServer(t, Options{MaxBodyBytes: 32})
	seed(t, st)
	body := `{"collection":"cpu","tags":{"device_id":"` + strings.Repeat("x", 64) + `"}}`
	rec := do(s.mux, http.MethodPost, "/api/v1/admin/delete", jsonCT, []byte(body))
	if rec.Code != http.StatusRequestEntityTooLarge || len(st.deletes) != 0 {
		t.Errorf("admin delete over the body limit: got %d %s and %d Delete calls, want 413 and none", rec.Code, rec.Body, len(st.deletes))
	}
}

func TestAdminCompact(t *testing.T) {
	s, st := newTestServer(t, Options{})
	if rec := do(s.mux, http.MethodPost, "/api/v1/admin/compact", nil, nil); rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Fatalf("POST /api/v1/admin/compact: got %d %q, want 204 and no body", rec.Code, rec.Body)
	}
	if st.compacts != 1 {
		t.Errorf("POST /api/v1/admin/compact: %d Compact calls, want 1", st.compacts)
	}
	for _, tt := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("sync: %w", storage.ErrUnavailable), 503},
		{storage.ErrClosed, 503},
		{context.Canceled, 503},
		{errors.New("disk full"), 500},
	} {
		s, st := newTestServer(t, Options{})
		st.compactErr = tt.err
		rec := do(s.mux, http.MethodPost, "/api/v1/admin/compact", nil, nil)
		var body struct{ Error string }
		if rec.Code != tt.code || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error != "compact: "+tt.err.Error() {
			t.Errorf("compact with %v: got %d %s, want %d and the error", tt.err, rec.Code, rec.Body, tt.code)
		}
	}
}
