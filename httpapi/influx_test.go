package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
)

// TestInfluxPing checks /ping as InfluxDB 1.x clients call it on start.
func TestInfluxPing(t *testing.T) {
	for _, tc := range []struct {
		method, target string
		code           int
		body           string
	}{
		{"GET", "/ping", 204, ""},
		{"HEAD", "/ping", 204, ""},
		{"GET", "/ping?verbose=true", 200, `{"version":"` + InfluxCompatVersion + `"}`},
		{"GET", "/ping?verbose=false", 204, ""},
		{"HEAD", "/ping?verbose=true", 204, ""},
	} {
		s, _ := newTestServer(t, Options{Version: "v1.2.3"})
		rec := do(s.mux, tc.method, tc.target, nil, nil)
		if rec.Code != tc.code || strings.TrimSpace(rec.Body.String()) != tc.body {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.target, rec.Code, rec.Body, tc.code, tc.body)
		}
		for h, want := range map[string]string{
			"X-Influxdb-Version": InfluxCompatVersion, "X-Influxdb-Build": "OSS", "X-Soltix-Version": "v1.2.3",
		} {
			if got := rec.Header().Get(h); got != want {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.target, h, got, want)
			}
		}
	}
}

// TestInfluxQuery checks the database statements of InfluxDB 1.x's /query
// endpoint, sent the ways Telegraf, TSBS's loader, the influx CLI and the
// npm client send them.
func TestInfluxQuery(t *testing.T) {
	show := `{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["soltix"]]}]}`
	tests := []struct {
		name   string
		method string
		q      string // sent in the URL for GET, as a form for POST
		inURL  bool   // POST with q in the URL and no body (TSBS's drop)
		code   int
		body   string // whole body for 200, substring of the error otherwise
	}{
		{name: "show databases GET", method: "GET", q: "SHOW DATABASES", code: 200, body: `{"results":[` + show + `]}`},
		{name: "show databases lower case", method: "GET", q: "show databases", code: 200, body: `{"results":[` + show + `]}`},
		{name: "show databases POST", method: "POST", q: "SHOW DATABASES", code: 200, body: `{"results":[` + show + `]}`},
		{name: "telegraf create", method: "POST", q: `CREATE DATABASE "telegraf"`, code: 200, body: `{"results":[{"statement_id":0}]}`},
		{name: "tsbs create by GET", method: "GET", q: "CREATE DATABASE benchmark WITH REPLICATION 1", code: 200, body: `{"results":[{"statement_id":0}]}`},
		{name: "create with retention", method: "POST", q: "create database x with duration 7d replication 1 shard duration 1h name rp", code: 200, body: `{"results":[{"statement_id":0}]}`},
		{name: "create if not exists", method: "POST", q: "CREATE DATABASE IF NOT EXISTS x", code: 200, body: `{"results":[{"statement_id":0}]}`},
		{name: "create escaped name", method: "POST", q: `CREATE DATABASE "we\"ird db"`, code: 200, body: `{"results":[{"statement_id":0}]}`},
		{name: "create soltix again", method: "POST", q: "CREATE DATABASE soltix", code: 200, body: `{"results":[{"statement_id":0}]}`},
		{name: "two statements", method: "POST", q: "CREATE DATABASE a; SHOW DATABASES;", code: 200,
			body: `{"results":[{"statement_id":0},` + strings.Replace(show, `"statement_id":0`, `"statement_id":1`, 1) + `]}`},
		{name: "drop refused", method: "POST", q: "DROP DATABASE telegraf", code: 400, body: `drop database \"telegraf\" refused`},
		{name: "drop soltix refused", method: "POST", q: "drop database soltix", inURL: true, code: 400, body: "DELETE FROM"},
		{name: "drop refused before create runs", method: "POST", q: "CREATE DATABASE a; DROP DATABASE a", code: 400, body: "refused"},
		{name: "select of an unknown measurement", method: "GET", q: "SELECT * FROM cpu", code: 200, body: `{"results":[{"statement_id":0}]}`},
		{name: "show measurements of an empty store", method: "GET", q: "SHOW MEASUREMENTS", code: 200, body: `{"results":[{"statement_id":0}]}`},
		{name: "show databases extra", method: "GET", q: "SHOW DATABASES x", code: 400, body: `unexpected \"x\" after SHOW DATABASES`},
		{name: "show users unsupported", method: "GET", q: "SHOW USERS", code: 400, body: `the statement \"SHOW USERS\" is not supported`},
		{name: "grant unsupported", method: "POST", q: "GRANT ALL TO bob", code: 400, body: `the statement \"GRANT ALL TO\" is not supported`},
		{name: "create user unsupported", method: "POST", q: "CREATE USER bob WITH PASSWORD 'x'", code: 400, body: `the statement \"CREATE USER BOB\" is not supported`},
		{name: "unsupported before a create runs", method: "POST", q: "CREATE DATABASE a; SHOW SHARDS", code: 400, body: "not supported"},
		{name: "create without name", method: "POST", q: "CREATE DATABASE", code: 400, body: "needs a database name"},
		{name: "create junk after name", method: "POST", q: "CREATE DATABASE a b", code: 400, body: `unexpected \"b\"`},
		{name: "create string name", method: "POST", q: "CREATE DATABASE 'a'", code: 400, body: "needs a database name"},
		{name: "unterminated", method: "POST", q: `CREATE DATABASE "a`, code: 400, body: "unterminated"},
		{name: "missing q", method: "GET", q: "", code: 400, body: `missing required parameter \"q\"`},
		{name: "only semicolons", method: "GET", q: " ; ;", code: 400, body: `missing required parameter \"q\"`},
		{name: "too many statements", method: "GET", q: strings.Repeat("SHOW DATABASES;", maxInfluxStatements+1), code: 400, body: "more than 100 statements"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, st := newTestServer(t, Options{})
			v := url.Values{"q": {tc.q}, "db": {"telegraf"}, "u": {"user"}, "p": {"pw"}, "epoch": {"ms"}}
			target := "/query"
			var body []byte
			header := http.Header{}
			if tc.method == "GET" || tc.inURL {
				target += "?" + v.Encode()
				header.Set("Content-Type", "text/plain")
			} else {
				body = []byte(v.Encode())
				header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			rec := do(s.mux, tc.method, target, header, body)
			if rec.Code != tc.code {
				t.Fatalf("%s %q: %d %s, want %d", tc.method, tc.q, rec.Code, rec.Body, tc.code)
			}
			got := strings.TrimSpace(rec.Body.String())
			if !json.Valid([]byte(got)) {
				t.Fatalf("%s %q: body is not JSON: %s", tc.method, tc.q, got)
			}
			if tc.code == 200 && got != tc.body || tc.code != 200 && !strings.Contains(got, tc.body) {
				t.Errorf("%s %q: body %s, want %s", tc.method, tc.q, got, tc.body)
			}
			if tc.code != 200 && !strings.HasPrefix(got, `{"error":`) {
				t.Errorf("%s %q: error body %s is not InfluxDB's {\"error\": ...}", tc.method, tc.q, got)
			}
			if rec.Header().Get("X-Influxdb-Version") != InfluxCompatVersion {
				t.Errorf("X-Influxdb-Version = %q", rec.Header().Get("X-Influxdb-Version"))
			}
			if st.writeCalls() != 0 || len(st.deletes) != 0 || st.flushes != 0 {
				t.Errorf("%q changed the store: %d writes, %d deletes, %d flushes", tc.q, st.writeCalls(), len(st.deletes), st.flushes)
			}
		})
	}
}

// TestInfluxQueryBodyLimit checks that a /query form body is bounded like
// every other body.
func TestInfluxQueryBodyLimit(t *testing.T) {
	s, _ := newTestServer(t, Options{MaxBodyBytes: 64})
	body := []byte("q=" + url.QueryEscape("SHOW DATABASES"+strings.Repeat(" ", 100)))
	rec := do(s.mux, "POST", "/query", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, body)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %d %s, want 413", rec.Code, rec.Body)
	}
}

// TestInfluxQueryMemoryFollowsTheAnswer sends /query statements built to
// make the tokenizer hold a token per byte: a 60 MB q of "(" took the
// binary to 4.9 GB and 31 s before it answered 400. The database
// statements are a few words, so what /query allocates must stay a small
// multiple of the body, whatever the body holds.
func TestInfluxQueryMemoryFollowsTheAnswer(t *testing.T) {
	const size = 4 << 20
	l := startLive(t, Options{}, ServerConfig{})
	fill := func(prefix, unit string) string {
		return prefix + strings.Repeat(unit, (size-len(prefix))/len(unit))
	}
	for _, tc := range []struct {
		name, q string
		code    int
		body    string
	}{
		{"open parentheses", fill("", "("), 400, "too long"},
		{"words", fill("", "a "), 400, "too long"},
		{"create then punctuation", fill("CREATE DATABASE x WITH ", "( "), 400, "too long"},
		{"show then punctuation", fill("SHOW DATABASES ", "+"), 400, "too long"},
		{"a statement per byte pair", fill("", "a;"), 400, "more than 100 statements"},
		{"a long quoted name", fill(`SELECT v FROM "`, "x") + `"`, 400, "max statement size"},
		{"empty statements", fill("SHOW DATABASES", ";"), 200, `"soltix"`},
		{"statements past the limit", fill("", "SHOW DATABASES;"), 400, "more than 100 statements"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := "q=" + url.QueryEscape(tc.q)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			resp, err := http.Post(l.url+"/query", "application/x-www-form-urlencoded", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			runtime.ReadMemStats(&after)
			if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
				t.Errorf("got %d %.200s, want %d with %q", resp.StatusCode, b, tc.code, tc.body)
			}
			// Client and server share the process: the body is built,
			// sent, received and parsed as a form a few times over.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16*uint64(len(body)) {
				t.Errorf("answering a %d-byte body allocated %d MiB, want under %d MiB", len(body), alloc>>20, 16*len(body)>>20)
			}
		})
	}
}

// TestJSONAnswersCarryTheirLength checks over real HTTP that a JSON answer
// larger than net/http's buffer (here 100 SHOW DATABASES in one /query,
// about 10 KB), and an error answer, carry Content-Length and are not sent
// chunked.
func TestJSONAnswersCarryTheirLength(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	ts := httptest.NewServer(s.mux)
	defer ts.Close()
	many := strings.TrimSuffix(strings.Repeat("SHOW DATABASES;", maxInfluxStatements), ";")
	for _, tc := range []struct {
		q    string
		code int
	}{
		{many, 200},
		{"SHOW DATABASES x", 400},
	} {
		resp, err := http.Get(ts.URL + "/query?q=" + url.QueryEscape(tc.q))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.code {
			t.Fatalf("%.30q: status %d, want %d: %s", tc.q, resp.StatusCode, tc.code, body)
		}
		if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 {
			t.Errorf("%.30q: Content-Length %d, Transfer-Encoding %v for a body of %d bytes", tc.q, resp.ContentLength, resp.TransferEncoding, len(body))
		}
		if tc.code == 200 && len(body) < 4096 {
			t.Errorf("answer of %d bytes: want one larger than net/http's buffer", len(body))
		}
	}
}
