package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestBadInputChangesNothing sends every kind of bad input a client can
// produce to the real binary and checks the status, that the error says
// what and where, and that the data accepted before is unchanged — live and
// after a restart.
func TestBadInputChangesNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "soltix.yaml")
	if err := os.WriteFile(cfg, []byte("http:\n  max_body_bytes: 4096\nlog:\n  level: warn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	s := startBinary(t, data, "--config", cfg)

	good := "dev,device_id=d1 v=1.5,n=3i 1000000000\ndev,device_id=d2 v=2.5,n=4i 2000000000\n"
	if code, err := s.write(good); err != nil || code != http.StatusNoContent {
		t.Fatalf("good write: %d %v", code, err)
	}
	snapshot := func() [][]any {
		return s.query(t, "SELECT * FROM dev").Rows
	}
	before := snapshot()
	if len(before) != 2 {
		t.Fatalf("SELECT * after the good write: %v, want 2 rows", before)
	}

	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	tests := []struct {
		name     string
		method   string
		path     string
		ctype    string
		encoding string
		body     []byte
		status   int
		contains []string // substrings of the response body
		check    func(t *testing.T, body []byte)
	}{
		{
			name: "malformed line names line and column", method: "POST", path: "/api/v1/write", ctype: "text/plain",
			body:   []byte("dev,device_id=d3 v=9 3000000000\ndev,device_id=d3 v=oops 4000000000\n"),
			status: 400, check: func(t *testing.T, body []byte) {
				var e struct {
					Lines []struct{ Line, Column int }
				}
				if err := json.Unmarshal(body, &e); err != nil || len(e.Lines) != 1 || e.Lines[0].Line != 2 || e.Lines[0].Column != 20 {
					t.Errorf("error body %s: want one bad line, line 2, column 20 (the value)", body)
				}
			},
		},
		{
			name: "wrong field type for an existing field", method: "POST", path: "/api/v1/write", ctype: "text/plain",
			body:   []byte("dev,device_id=d1 v=\"text\" 5000000000\n"),
			status: 400, contains: []string{`\"v\"`, "float", "string"},
		},
		{
			name: "int written to a float field", method: "POST", path: "/write?db=x", ctype: "text/plain",
			body:   []byte("dev,device_id=d1 v=3i 5000000000\n"),
			status: 400, contains: []string{"float", "integer"},
		},
		{
			name: "body over the limit", method: "POST", path: "/api/v1/write", ctype: "text/plain",
			body:   []byte(strings.Repeat("dev,device_id=d9 v=1 1\n", 400)),
			status: 413,
		},
		{
			name: "gzip body over the limit once decompressed", method: "POST", path: "/api/v1/write", ctype: "text/plain", encoding: "gzip",
			body:   gz([]byte(strings.Repeat("dev,device_id=d9 v=1 1\n", 400))),
			status: 413,
		},
		{
			name: "broken gzip", method: "POST", path: "/api/v1/write", ctype: "text/plain", encoding: "gzip",
			body:   append(gz([]byte("dev,device_id=d9 v=1 1\n"))[:20], 0xde, 0xad),
			status: 400, contains: []string{"gzip"},
		},
		{
			name: "unsupported encoding", method: "POST", path: "/api/v1/write", ctype: "text/plain", encoding: "br",
			body: []byte("dev,device_id=d9 v=1 1\n"), status: 415,
		},
		{
			name: "bad JSON object", method: "POST", path: "/api/v1/write?collection=dev", ctype: "application/json",
			body:   []byte(`[{"device_id":"d9","fields":{"v":1}},{"device_id":"d9","fields":{"v":[1]}}]`),
			status: 400, contains: []string{`"line":2`},
		},
		{
			name: "JSON syntax error", method: "POST", path: "/api/v1/write?collection=dev", ctype: "application/json",
			body: []byte(`[{"device_id":"d9","fields":{"v":1}`), status: 400,
		},
		{
			name: "garbage query", method: "GET", path: "/api/v1/query?q=" + url.QueryEscape("SELECT avg(v) FORM dev"),
			status: 400, contains: []string{"FORM", `"line":1`, `"column":15`},
		},
		{
			name: "query of an unknown collection", method: "GET", path: "/api/v1/query?q=" + url.QueryEscape("SELECT avg(v) FROM nope"),
			status: 404, contains: []string{"nope", "not found"},
		},
		{
			name: "aggregate of a missing field", method: "GET", path: "/api/v1/query?q=" + url.QueryEscape("SELECT sum(zz) FROM dev"),
			status: 400, contains: []string{"zz"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, s.url+tc.path, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", tc.method, tc.path, resp.StatusCode, tc.status, body)
			}
			for _, c := range tc.contains {
				if !strings.Contains(string(body), c) {
					t.Errorf("body %s does not contain %q", body, c)
				}
			}
			if tc.check != nil {
				tc.check(t, body)
			}
			if after := snapshot(); !reflect.DeepEqual(after, before) {
				t.Fatalf("data changed: got %v, want %v", after, before)
			}
		})
	}
	s.stop(t)
	s = startBinary(t, data, "--config", cfg)
	if after := s.query(t, "SELECT * FROM dev").Rows; !reflect.DeepEqual(after, before) {
		t.Fatalf("after restart: got %v, want %v", after, before)
	}
	fields := s.query(t, "SHOW FIELDS FROM dev").Rows
	if fmt.Sprint(fields) != "[[n integer] [v float]]" {
		t.Errorf("SHOW FIELDS FROM dev = %v, want n integer and v float only", fields)
	}
	s.stop(t)
}
