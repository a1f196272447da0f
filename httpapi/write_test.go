package httpapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func pt(collection string, tags model.Tags, t int64, fields ...model.Field) model.Point {
	return model.Point{Collection: collection, Tags: tags, Fields: fields, Time: t}
}

func fl(k string, v model.Value) model.Field { return model.Field{Key: k, Value: v} }

var jsonCT = hdr("Content-Type", "application/json")

// writeError400 is the decoded shape of a 400 answer to a write.
type writeError400 struct {
	Error string `json:"error"`
	Lines []struct {
		Line   int    `json:"line"`
		Column int    `json:"column"`
		Reason string `json:"reason"`
	} `json:"lines"`
}

func TestWriteAccepted(t *testing.T) {
	now := testNow.UnixNano()
	tests := []struct {
		name   string
		target string
		header http.Header
		body   string
		want   []model.Point
	}{
		{
			name:   "line protocol nanoseconds",
			target: "/api/v1/write",
			header: hdr("Content-Type", "text/plain; charset=utf-8"),
			body:   "cpu,host=a,region=eu v=1.5,n=3i 1000\nmem,host=b used=7u,ok=true 2000\n",
			want: []model.Point{
				pt("cpu", model.Tags{{Key: "host", Value: "a"}, {Key: "region", Value: "eu"}}, 1000, fl("v", model.Float(1.5)), fl("n", model.Int(3))),
				pt("mem", model.Tags{{Key: "host", Value: "b"}}, 2000, fl("used", model.Uint(7)), fl("ok", model.Bool(true))),
			},
		},
		{
			name:   "line protocol without content type, collection param ignored",
			target: "/api/v1/write?collection=other",
			body:   "cpu v=1 5",
			want:   []model.Point{pt("cpu", nil, 5, fl("v", model.Float(1)))},
		},
		{
			name:   "line protocol precision s",
			target: "/api/v1/write?precision=s",
			body:   "cpu v=1 1735689600",
			want:   []model.Point{pt("cpu", nil, 1735689600e9, fl("v", model.Float(1)))},
		},
		{
			name:   "line protocol precision ms",
			target: "/api/v1/write?precision=ms",
			body:   "cpu v=1 1735689600123",
			want:   []model.Point{pt("cpu", nil, 1735689600123e6, fl("v", model.Float(1)))},
		},
		{
			name:   "line protocol precision us",
			target: "/api/v1/write?precision=us",
			body:   "cpu v=1 1735689600123456",
			want:   []model.Point{pt("cpu", nil, 1735689600123456e3, fl("v", model.Float(1)))},
		},
		{
			name:   "line protocol default time is now",
			target: "/api/v1/write",
			body:   "cpu v=1",
			want:   []model.Point{pt("cpu", nil, now, fl("v", model.Float(1)))},
		},
		{
			name:   "line protocol default time rounded to precision",
			target: "/api/v1/write?precision=s",
			body:   "cpu v=1",
			want:   []model.Point{pt("cpu", nil, testNow.Unix()*1e9, fl("v", model.Float(1)))},
		},
		{
			name:   "json single object",
			target: "/api/v1/write",
			header: jsonCT,
			body: `{"collection":"cpu","device_id":"d1","tags":{"region":"eu"},"time":"2025-01-01T00:00:00.5Z",
				"fields":{"v":1,"ok":false,"state":"run"}}`,
			want: []model.Point{pt("cpu", model.Tags{{Key: "device_id", Value: "d1"}, {Key: "region", Value: "eu"}},
				1735689600500000000, fl("v", model.Float(1)), fl("ok", model.Bool(false)), fl("state", model.String("run")))},
		},
		{
			name:   "json array, default collection, integer time in ms, missing time",
			target: "/api/v1/write?collection=cpu&precision=ms",
			header: hdr("Content-Type", "application/json; charset=utf-8"),
			body:   `[{"time":1735689600123,"fields":{"v":-2.5e3}},{"collection":"mem","fields":{"v":0}}]`,
			want: []model.Point{
				pt("cpu", nil, 1735689600123e6, fl("v", model.Float(-2500))),
				pt("mem", nil, now, fl("v", model.Float(0))),
			},
		},
		{
			name:   "json time with offset",
			target: "/api/v1/write",
			header: jsonCT,
			body:   `{"collection":"c","time":"2025-01-01T02:00:00+02:00","fields":{"v":1}}`,
			want:   []model.Point{pt("c", nil, 1735689600e9, fl("v", model.Float(1)))},
		},
		{
			name:   "json empty array writes nothing",
			target: "/api/v1/write",
			header: jsonCT,
			body:   `[]`,
		},
		{
			name:   "empty line protocol body writes nothing",
			target: "/api/v1/write",
			body:   "",
		},
		{
			name:   "influx 1.x with db, rp, precision and Authorization",
			target: "/write?db=telegraf&rp=autogen&precision=ms",
			header: hdr("Authorization", "Basic dXNlcjpwYXNz"),
			body:   "cpu,host=a v=1 1735689600123",
			want:   []model.Point{pt("cpu", model.Tags{{Key: "host", Value: "a"}}, 1735689600123e6, fl("v", model.Float(1)))},
		},
		{
			name:   "influx 1.x precision n",
			target: "/write?db=x&precision=n",
			body:   "cpu v=1 7",
			want:   []model.Point{pt("cpu", nil, 7, fl("v", model.Float(1)))},
		},
		{
			name:   "influx 1.x precision h",
			target: "/write?precision=h",
			body:   "cpu v=1 2",
			want:   []model.Point{pt("cpu", nil, 2*3600e9, fl("v", model.Float(1)))},
		},
		{
			name:   "influx 2.x with org, bucket, precision and token",
			target: "/api/v2/write?org=acme&bucket=b&precision=s",
			header: hdr("Authorization", "Token secret", "Content-Type", "text/plain"),
			body:   "cpu v=1i 3",
			want:   []model.Point{pt("cpu", nil, 3e9, fl("v", model.Int(1)))},
		},
		{
			name:   "gzip line protocol",
			target: "/api/v1/write",
			header: hdr("Content-Encoding", "gzip"),
			body:   string(gzippedStatic("cpu v=1 1\ncpu v=2 2\n")),
			want:   []model.Point{pt("cpu", nil, 1, fl("v", model.Float(1))), pt("cpu", nil, 2, fl("v", model.Float(2)))},
		},
		{
			name:   "gzip json",
			target: "/api/v1/write",
			header: hdr("Content-Encoding", "gzip", "Content-Type", "application/json"),
			body:   string(gzippedStatic(`{"collection":"c","time":9,"fields":{"v":1}}`)),
			want:   []model.Point{pt("c", nil, 9, fl("v", model.Float(1)))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := newTestServer(t, Options{})
			rec := do(s.mux, http.MethodPost, tt.target, tt.header, []byte(tt.body))
			if rec.Code != http.StatusNoContent {
				t.Fatalf("POST %s %q: got %d %s, want 204", tt.target, tt.body, rec.Code, rec.Body)
			}
			got := st.written()
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("POST %s %q:\ngot  %v\nwant %v", tt.target, tt.body, got, tt.want)
			}
		})
	}
}

// gzippedStatic compresses s for use in test tables.
func gzippedStatic(s string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(s))
	_ = zw.Close()
	return buf.Bytes()
}

type wantLine struct {
	line, column int
	reason       string // a substring of the reason
}

func TestWriteRejected(t *testing.T) {
	big := strings.Repeat("cpu v=1 1\n", 20) // 200 bytes
	tests := []struct {
		name     string
		target   string
		header   http.Header
		body     string
		limit    int64
		storeErr error
		code     int
		errText  string     // substring of "error"
		lines    []wantLine // nil: no check of "lines"; column -1: any column > 0
	}{
		{
			name:    "bad line protocol lines",
			target:  "/api/v1/write",
			body:    "cpu v=1 1\ncpu v= 2\ncpu v=3 3\ncpu\n",
			code:    400,
			errText: "2 bad lines; nothing written",
			lines:   []wantLine{{2, -1, ""}, {4, -1, ""}},
		},
		{
			name:    "collection name too long",
			target:  "/api/v1/write",
			body:    "ok v=1 1\n" + strings.Repeat("m", 1025) + " v=1 1\n",
			code:    400,
			errText: "1 bad line; nothing written",
			lines:   []wantLine{{2, 1, "longer than the limit of 1024"}},
		},
		{
			name:    "time is a reserved key in line protocol",
			target:  "/write?db=x",
			body:    "cpu v=1 1\ncpu,time=x v=2 2\ncpu v=1,time=3i 3\n",
			code:    400,
			errText: "2 bad lines; nothing written",
			lines:   []wantLine{{2, 5, `tag key "time" is reserved`}, {3, 9, `field key "time" is reserved`}},
		},
		{
			name:    "bad line protocol on influx 2.x",
			target:  "/api/v2/write?bucket=b",
			body:    "cpu v=1 1\ncpu,host= v=2\n",
			code:    400,
			errText: "1 bad line; nothing written",
			lines:   []wantLine{{2, -1, ""}},
		},
		{
			name:    "bad json objects reported by index",
			target:  "/api/v1/write?collection=c",
			header:  jsonCT,
			body:    `[{"fields":{"v":1}},{"fields":{}},{"fields":{"v":null}},{"tags":{"a":1},"fields":{"v":1}},{"time":"yesterday","fields":{"v":1}},{"fields":{"v":1},"extra":1},{"fields":{"v":1}},{"time":1.5,"fields":{"v":1}},{"fields":{"v":[1]}},5]`,
			code:    400,
			errText: "8 bad lines; nothing written",
			lines: []wantLine{
				{2, 0, "no fields"},
				{3, 0, `field "v" is null`},
				{4, 0, `tag "a" is a number`},
				{5, 0, `"yesterday" is not RFC 3339`},
				{6, 0, `unknown key "extra"`},
				{8, 0, "not an integer"},
				{9, 0, `field "v" is array`},
				{10, 0, "want an object"},
			},
		},
		{
			name:    "json missing collection",
			target:  "/api/v1/write",
			header:  jsonCT,
			body:    `{"fields":{"v":1}}`,
			code:    400,
			errText: "1 bad line",
			lines:   []wantLine{{1, 0, "missing collection"}},
		},
		{
			name:    "json NaN is not a number",
			target:  "/api/v1/write?collection=c",
			header:  jsonCT,
			body:    `{"fields":{"v":NaN}}`,
			code:    400,
			errText: "bad",
		},
		{
			name:    "json device_id twice",
			target:  "/api/v1/write?collection=c",
			header:  jsonCT,
			body:    `{"device_id":"a","tags":{"device_id":"b"},"fields":{"v":1}}`,
			code:    400,
			lines:   []wantLine{{1, 0, `tag "device_id" given twice`}},
			errText: "1 bad line",
		},
		{
			name:    "json syntax error position",
			target:  "/api/v1/write",
			header:  jsonCT,
			body:    "[\n  {\"collection\": \"c\",\n   \"fields\": {\"v\": 1,}}\n]",
			code:    400,
			errText: "bad JSON body; nothing written",
			lines:   []wantLine{{3, 22, "invalid character '}'"}},
		},
		{
			name:    "json empty body",
			target:  "/api/v1/write",
			header:  jsonCT,
			body:    "",
			code:    400,
			errText: "bad JSON body",
			lines:   []wantLine{{1, 1, "unexpected end of JSON input"}},
		},
		{
			name:    "json scalar body",
			target:  "/api/v1/write",
			header:  jsonCT,
			body:    "42",
			code:    400,
			errText: "want an object or an array",
		},
		{
			name:    "json on influx endpoint is line protocol",
			target:  "/api/v2/write",
			header:  jsonCT,
			body:    `{"collection":"c","fields":{"v":1}}`,
			code:    400,
			errText: "1 bad line",
		},
		{
			name:    "bad precision v1",
			target:  "/api/v1/write?precision=h",
			body:    "cpu v=1",
			code:    400,
			errText: `bad precision "h"`,
		},
		{
			name:    "bad precision influx 2.x",
			target:  "/api/v2/write?precision=n",
			body:    "cpu v=1",
			code:    400,
			errText: `bad precision "n"`,
		},
		{
			name:    "bad precision influx 1.x",
			target:  "/write?precision=d",
			body:    "cpu v=1",
			code:    400,
			errText: `bad precision "d"`,
		},
		{
			name:    "broken gzip",
			target:  "/api/v1/write",
			header:  hdr("Content-Encoding", "gzip"),
			body:    "cpu v=1 1",
			code:    400,
			errText: "bad gzip body: ",
		},
		{
			name:    "truncated gzip",
			target:  "/api/v1/write",
			header:  hdr("Content-Encoding", "gzip"),
			body:    string(gzippedStatic(big)[:30]),
			code:    400,
			errText: "bad gzip body: ",
		},
		{
			name:    "unsupported encoding",
			target:  "/api/v1/write",
			header:  hdr("Content-Encoding", "br"),
			body:    "cpu v=1 1",
			code:    415,
			errText: `unsupported Content-Encoding "br"`,
		},
		{
			name:    "body over the limit",
			target:  "/api/v1/write",
			body:    big,
			limit:   100,
			code:    413,
			errText: "request body too large",
		},
		{
			name:    "body over the limit after gunzip",
			target:  "/api/v1/write",
			header:  hdr("Content-Encoding", "gzip"),
			body:    string(gzippedStatic(big)),
			limit:   100,
			code:    413,
			errText: "request body too large",
		},
		{
			name:     "conflict error mapped to lines",
			target:   "/api/v1/write",
			body:     "cpu v=1 1\n\n# comment\ncpu v=2 2\ncpu v=2 3\ncpu w=1,v=3 4\n",
			storeErr: &storage.ConflictError{Conflicts: []storage.Conflict{{Point: 3, Collection: "cpu", Field: "v", Have: model.KindBool, Got: model.KindFloat}, {Point: 1, Collection: "cpu", Field: "v", Have: model.KindBool, Got: model.KindFloat}}},
			code:     400,
			errText:  "2 bad lines; nothing written",
			lines:    []wantLine{{4, 5, `field "v" of collection "cpu" is boolean, got float`}, {6, 9, "got float"}},
		},
		{
			name:    "type clashes within the body, with syntax errors",
			target:  "/api/v1/write",
			body:    "cpu v=1 1\ncpu v= 2\ncpu,h=a x=1i,v=\"x\" 3\ncpu v=true 4\ncpu v=2 5\n",
			code:    400,
			errText: "3 bad lines; nothing written",
			lines:   []wantLine{{2, 7, "invalid value"}, {3, 14, `field "v" of collection "cpu" is float, got string`}, {4, 5, "got boolean"}},
		},
		{
			name:     "conflict error in json",
			target:   "/api/v1/write?collection=c",
			header:   jsonCT,
			body:     `[{"fields":{"v":1}},{"fields":{"v":"x"}}]`,
			storeErr: fmt.Errorf("write: %w", &storage.ConflictError{Conflicts: []storage.Conflict{{Point: 1, Collection: "c", Field: "v", Have: model.KindFloat, Got: model.KindString}}}),
			code:     400,
			errText:  "1 bad line; nothing written",
			lines:    []wantLine{{2, 0, "got string"}},
		},
		{
			name:     "storage unavailable",
			target:   "/api/v1/write",
			body:     "cpu v=1 1",
			storeErr: fmt.Errorf("append wal: %w", storage.ErrUnavailable),
			code:     503,
			errText:  "storage unavailable",
		},
		{
			name:     "storage closed",
			target:   "/write",
			body:     "cpu v=1 1",
			storeErr: storage.ErrClosed,
			code:     503,
			errText:  "storage closed",
		},
		{
			name:     "other storage error",
			target:   "/api/v1/write",
			body:     "cpu v=1 1",
			storeErr: fmt.Errorf("disk on fire"),
			code:     500,
			errText:  "disk on fire",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := newTestServer(t, Options{MaxBodyBytes: tt.limit})
			st.writeErr = tt.storeErr
			rec := do(s.mux, http.MethodPost, tt.target, tt.header, []byte(tt.body))
			if rec.Code != tt.code {
				t.Fatalf("POST %s %q: got %d %s, want %d", tt.target, tt.body, rec.Code, rec.Body, tt.code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type: got %q, want application/json", ct)
			}
			var got writeError400
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if !strings.Contains(got.Error, tt.errText) {
				t.Errorf("error: got %q, want it to contain %q", got.Error, tt.errText)
			}
			if tt.lines != nil {
				if len(got.Lines) != len(tt.lines) {
					t.Fatalf("lines: got %s, want %d entries", rec.Body, len(tt.lines))
				}
				for i, w := range tt.lines {
					g := got.Lines[i]
					if g.Line != w.line || (w.column >= 0 && g.Column != w.column) || (w.column < 0 && g.Column <= 0) ||
						!strings.Contains(g.Reason, w.reason) || g.Reason == "" {
						t.Errorf("lines[%d]: got %+v, want line %d column %d reason containing %q", i, g, w.line, w.column, w.reason)
					}
				}
			}
			if tt.storeErr == nil && st.writeCalls() != 0 {
				t.Errorf("Write called %d times, want never", st.writeCalls())
			}
			if len(st.written()) != 0 {
				t.Errorf("points written: got %v, want none", st.written())
			}
		})
	}
}

func TestWriteMetrics(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	do(s.mux, http.MethodPost, "/api/v1/write", nil, []byte("cpu v=1 1\ncpu v=2 2\n"))
	do(s.mux, http.MethodPost, "/api/v1/write", nil, []byte("cpu v= 1\n"))
	if got := s.metrics.pointsWritten.Load(); got != 2 {
		t.Errorf("points written: got %d, want 2", got)
	}
	if got := s.metrics.writeErrors.Load(); got != 1 {
		t.Errorf("write errors: got %d, want 1", got)
	}
}

// TestWriteLimitUnknownLength checks the limit when the client does not
// announce the body length, so only the limited reader can catch it.
func TestWriteLimitUnknownLength(t *testing.T) {
	body := strings.Repeat("cpu v=1 1\n", 20)
	for _, tt := range []struct {
		name   string
		header http.Header
		body   []byte
	}{
		{"raw", nil, []byte(body)},
		{"gzip", hdr("Content-Encoding", "gzip"), gzippedStatic(body)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, st := newTestServer(t, Options{MaxBodyBytes: 100})
			req := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(tt.body))
			req.ContentLength = -1
			rec := doRequest(s.mux, req, tt.header)
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("got %d %s, want 413", rec.Code, rec.Body)
			}
			if st.writeCalls() != 0 {
				t.Errorf("Write called %d times, want never", st.writeCalls())
			}
		})
	}
	// At the limit exactly is fine.
	s, st := newTestServer(t, Options{MaxBodyBytes: int64(len(body))})
	req := httptest.NewRequest(http.MethodPost, "/api/v1/write", strings.NewReader(body))
	req.ContentLength = -1
	if rec := doRequest(s.mux, req, nil); rec.Code != http.StatusNoContent || len(st.written()) != 20 {
		t.Errorf("body at the limit: got %d %s, %d points; want 204, 20 points", rec.Code, rec.Body, len(st.written()))
	}
}

// TestWriteHoldsDecoding checks that a write request holds the store's
// Decoding (which makes its background work give way) around decoding and
// storing its body, and lets go of it however the request ends: stored,
// refused for bad lines, refused by the store.
func TestWriteHoldsDecoding(t *testing.T) {
	s, st := newTestServer(t, Options{})
	h := s.mux
	for _, tc := range []struct {
		body string
		code int
	}{
		{"cpu,host=a v=1 1000\n", http.StatusNoContent},
		{"cpu,host=a v= 1000\n", http.StatusBadRequest},
		{"cpu,host=a v=2 2000\n", http.StatusNoContent},
	} {
		if rr := do(h, "POST", "/api/v1/write", nil, []byte(tc.body)); rr.Code != tc.code {
			t.Fatalf("%q: HTTP %d, want %d: %s", tc.body, rr.Code, tc.code, rr.Body)
		}
	}
	st.mu.Lock()
	st.writeErr = errors.New("store down")
	st.mu.Unlock()
	if rr := do(h, "POST", "/api/v1/write", nil, []byte("cpu v=3 3000\n")); rr.Code < 500 {
		t.Fatalf("store failing: HTTP %d, want 5xx", rr.Code)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.decodings != 4 || st.decoding != 0 {
		t.Errorf("Decoding called %d times, %d still open; want 4 and 0", st.decodings, st.decoding)
	}
	if st.inDecoding != st.calls || st.calls != 3 {
		t.Errorf("%d of %d Write calls made while decoding was held, want all of 3", st.inDecoding, st.calls)
	}
}
