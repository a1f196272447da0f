package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// testToken returns a Token named name whose secret is "secret-"+name.
func testToken(name string, scopes Scope, collections ...string) Token {
	return Token{Name: name, Digest: sha256.Sum256([]byte("secret-" + name)), Scopes: scopes, Collections: collections}
}

// authTokens are the tokens of the auth tests: one per scope, plus ones
// limited to the collection cpu.
var authTokens = []Token{
	testToken("reader", ScopeRead),
	testToken("writer", ScopeWrite),
	testToken("readwrite", ScopeRead|ScopeWrite),
	testToken("admin", ScopeAdmin),
	testToken("cpu-reader", ScopeRead, "cpu"),
	testToken("cpu-writer", ScopeWrite, "cpu"),
	testToken("cpu-admin", ScopeAdmin, "cpu"),
}

// authServer serves a test server with authTokens over real HTTP on
// 127.0.0.1.
func authServer(t *testing.T) (*server, *fakeStore, string) {
	t.Helper()
	s, st := newTestServer(t, Options{Tokens: authTokens})
	ts := httptest.NewServer(s.mux)
	t.Cleanup(ts.Close)
	return s, st, ts.URL
}

// call sends one request and returns its status, headers and body.
func call(t *testing.T, method, target, auth, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func bearer(name string) string { return "Bearer secret-" + name }

// TestAuthEveryRoute is generated from openapi.yaml: every operation of the
// spec must have an entry in routeAccess (and every entry an operation),
// and each guarded one refuses requests without a token or with a wrong
// one (401), with too small a scope (403) and, for routes over every
// collection, with a collection-limited token (403), and lets the right
// scope through.
func TestAuthEveryRoute(t *testing.T) {
	spec, err := os.ReadFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ops := specOperations(t, spec)
	if len(ops) == 0 {
		t.Fatal("no operations found in ../openapi.yaml")
	}
	for op := range routeAccess {
		if !slices.Contains(ops, op) {
			t.Errorf("routeAccess names %s, which openapi.yaml does not document", op)
		}
	}
	s, _, base := authServer(t)
	err = chi.Walk(s.mux, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if !slices.Contains(ops, method+" "+route) {
			t.Errorf("route %s %s is served but not in openapi.yaml", method, route)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// enough names the token with exactly the scope a route needs;
	// tooLittle one without it ("" when every scope will do).
	enough := map[Scope]string{ScopeRead: "reader", ScopeWrite: "writer", ScopeAdmin: "admin", anyScope: "writer"}
	tooLittle := map[Scope]string{ScopeRead: "writer", ScopeWrite: "reader", ScopeAdmin: "readwrite", anyScope: ""}
	for _, op := range ops {
		need, ok := routeAccess[op]
		if !ok {
			t.Errorf("%s is in openapi.yaml but has no entry in routeAccess (auth.go)", op)
			continue
		}
		method, path, _ := strings.Cut(op, " ")
		path = strings.NewReplacer("{name}", "cpu", "{file}", "app.js").Replace(path)
		target := base + path
		t.Run(op, func(t *testing.T) {
			type attempt struct {
				name, auth string
				want       int // 0: anything but 401 and 403
			}
			var cases []attempt
			if need.scope == 0 {
				cases = []attempt{{"no token", "", 0}, {"wrong token", "Bearer nope", 0}}
			} else {
				cases = []attempt{
					{"no token", "", http.StatusUnauthorized},
					{"wrong token", "Bearer nope", http.StatusUnauthorized},
					{"unknown scheme", "Digest secret-admin", http.StatusUnauthorized},
					{"right scope", bearer(enough[need.scope]), 0},
				}
				if tl := tooLittle[need.scope]; tl != "" {
					cases = append(cases, attempt{"insufficient scope " + tl, bearer(tl), http.StatusForbidden})
				}
				if need.global {
					cases = append(cases, attempt{"collection-limited", bearer("cpu-admin"), http.StatusForbidden})
				}
			}
			for _, c := range cases {
				code, h, body := call(t, method, target, c.auth, "")
				switch {
				case c.want == 0 && (code == http.StatusUnauthorized || code == http.StatusForbidden):
					t.Errorf("%s: got %d %s, want neither 401 nor 403", c.name, code, body)
				case c.want != 0 && code != c.want:
					t.Errorf("%s: got %d %s, want %d", c.name, code, body, c.want)
				}
				if c.want == http.StatusUnauthorized && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer ") {
					t.Errorf("%s: WWW-Authenticate %q, want a Bearer challenge", c.name, h.Get("WWW-Authenticate"))
				}
				if c.want != 0 && method != http.MethodHead {
					var e struct{ Error string }
					if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
						t.Errorf("%s: body %q, want JSON {\"error\": ...}", c.name, body)
					}
					if strings.Contains(body, "secret-") {
						t.Errorf("%s: body %q repeats the token", c.name, body)
					}
				}
			}
		})
	}
}

// TestAuthCredentialForms checks each way a client may send its token.
func TestAuthCredentialForms(t *testing.T) {
	_, _, base := authServer(t)
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	line := "cpu,host=a v=1 1\n"
	tests := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"bearer", "POST", "/write", bearer("writer"), 204},
		{"influx token scheme", "POST", "/api/v2/write?bucket=x", "Token secret-writer", 204},
		{"scheme any case", "POST", "/api/v1/write", "bearer secret-writer", 204},
		{"basic password", "POST", "/write?db=x", basic("telegraf", "secret-writer"), 204},
		{"basic wrong password", "POST", "/write", basic("telegraf", "secret-nope"), 401},
		{"basic no password", "POST", "/write", basic("secret-writer", ""), 401},
		{"bad basic", "POST", "/write", "Basic !!!", 401},
		{"u and p on /write", "POST", "/write?u=telegraf&p=secret-writer", "", 204},
		{"p on /api/v2/write", "POST", "/api/v2/write?p=secret-writer", "", 204},
		{"p on /query", "GET", "/query?q=SHOW+DATABASES&p=secret-reader", "", 200},
		{"p not on /api/v1/write", "POST", "/api/v1/write?p=secret-writer", "", 401},
		{"p not on /api/v1/query", "GET", "/api/v1/query?q=SHOW+COLLECTIONS&p=secret-reader", "", 401},
		{"grafana basic", "POST", "/grafana/metrics", basic("grafana", "secret-reader"), 200},
		{"grafana bearer", "GET", "/grafana/", bearer("reader"), 200},
		{"grafana no token", "POST", "/grafana/search", "", 401},
		{"header wins over p", "POST", "/write?p=secret-writer", "Bearer nope", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := ""
			if tt.method == "POST" && strings.Contains(tt.path, "write") {
				body = line
			}
			code, _, got := call(t, tt.method, base+tt.path, tt.auth, body)
			if code != tt.want {
				t.Errorf("%s %s: got %d %s, want %d", tt.method, tt.path, code, got, tt.want)
			}
		})
	}
}

// TestAuthCollections checks that tokens limited to the collection cpu
// write, read and administer cpu only: other collections are refused
// (403, nothing written or deleted) and listings leave them out.
func TestAuthCollections(t *testing.T) {
	_, st, base := authServer(t)
	if code, _, body := call(t, "POST", base+"/api/v1/write", bearer("admin"), "cpu,host=a v=1 1\nmem,host=a v=2 1\n"); code != 204 {
		t.Fatalf("seed write: got %d %s", code, body)
	}
	q := func(stmt string) string { return "/api/v1/query?q=" + url.QueryEscape(stmt) }
	gf := `{"target":"","payload":{}}`
	iq := func(stmt string) string { return "/query?db=x&q=" + url.QueryEscape(stmt) }
	tests := []struct {
		name, token, method, path, body string
		want                            int
		wantIn, wantOut                 string // in and not in the answer
	}{
		{"write own", "cpu-writer", "POST", "/api/v1/write", "cpu,host=b v=3 2\n", 204, "", ""},
		{"write other", "cpu-writer", "POST", "/api/v1/write", "mem,host=b v=3 2\n", 403, `may not write collection \"mem\"`, ""},
		{"write mixed", "cpu-writer", "POST", "/write", "cpu,host=c v=3 2\nmem,host=c v=3 2\n", 403, "nothing written", ""},
		{"read own", "cpu-reader", "GET", q("SELECT v FROM cpu"), "", 200, `"rows"`, ""},
		{"read other", "cpu-reader", "GET", q("SELECT v FROM mem"), "", 403, `may not read collection \"mem\"`, ""},
		{"read other in a subquery", "cpu-reader", "GET", q("SELECT max(m) FROM (SELECT v AS m FROM mem)"), "", 403, `may not read collection \"mem\"`, ""},
		{"read own in a subquery", "cpu-reader", "GET", q("SELECT max(m) FROM (SELECT v AS m FROM cpu)"), "", 200, `"rows"`, ""},
		{"read other, missing", "cpu-reader", "GET", q("SELECT v FROM nope"), "", 403, "", ""},
		{"show fields other", "cpu-reader", "GET", q("SHOW FIELDS FROM mem"), "", 403, "", ""},
		{"explain other", "cpu-reader", "GET", q("EXPLAIN SELECT v FROM mem"), "", 403, "", ""},
		{"show collections filtered", "cpu-reader", "GET", q("SHOW COLLECTIONS"), "", 200, `"cpu"`, `"mem"`},
		{"show tag keys of all filtered", "cpu-reader", "GET", q("SHOW TAG KEYS"), "", 200, `"cpu"`, `"mem"`},
		{"show field keys of all filtered", "cpu-reader", "GET", q("SHOW FIELD KEYS"), "", 200, `"cpu"`, `"mem"`},
		{"show series other", "cpu-reader", "GET", q("SHOW SERIES FROM mem"), "", 403, "", ""},
		{"show collections all", "reader", "GET", q("SHOW COLLECTIONS"), "", 200, `"mem"`, ""},
		{"csv other", "cpu-reader", "GET", q("SELECT v FROM mem") + "&format=csv", "", 403, "", ""},
		{"delete needs admin", "readwrite", "POST", q("DELETE FROM cpu"), "", 403, "DELETE needs admin", ""},
		{"delete other", "cpu-admin", "POST", q("DELETE FROM mem"), "", 403, "", ""},
		{"admin delete other", "cpu-admin", "POST", "/api/v1/admin/delete", `{"collection":"mem","start":0,"end":10}`, 403, "", ""},
		{"settings other", "cpu-admin", "GET", "/api/v1/admin/collections/mem", "", 403, "", ""},
		{"set settings other", "cpu-admin", "PUT", "/api/v1/admin/collections/mem", `{"rollups":false}`, 403, "", ""},
		{"settings own", "cpu-admin", "GET", "/api/v1/admin/collections/cpu", "", 200, `"cpu"`, ""},
		{"settings list filtered", "cpu-admin", "GET", "/api/v1/admin/collections", "", 200, `"cpu"`, `"mem"`},
		{"flush", "cpu-admin", "POST", "/api/v1/admin/flush", "", 403, "acts on all", ""},
		{"metrics", "cpu-reader", "GET", "/metrics", "", 403, "", ""},
		{"influxql read own", "cpu-reader", "GET", iq(`SELECT "v" FROM "cpu"`), "", 200, `"name":"cpu"`, ""},
		{"influxql read other", "cpu-reader", "GET", iq(`SELECT "v" FROM "mem"`), "", 403, `may not read collection \"mem\"`, ""},
		{"influxql read other, second statement", "cpu-reader", "GET", iq(`SELECT "v" FROM "cpu"; SELECT "v" FROM "mem"`), "", 403, "", `"name":"cpu"`},
		{"influxql measurements filtered", "cpu-reader", "GET", iq("SHOW MEASUREMENTS"), "", 200, `"cpu"`, `"mem"`},
		{"influxql tag keys filtered", "cpu-reader", "GET", iq("SHOW TAG KEYS"), "", 200, `"cpu"`, `"mem"`},
		{"influxql series filtered", "cpu-reader", "GET", iq("SHOW SERIES FROM /.*/"), "", 200, `cpu,host=a`, `mem`},
		{"influxql select needs read", "writer", "POST", iq(`SELECT "v" FROM "cpu"`), "", 403, "reading needs read", ""},
		{"influxql show needs read", "writer", "GET", iq("SHOW MEASUREMENTS"), "", 403, "reading needs read", ""},
		{"influxql create with write", "writer", "POST", iq("CREATE DATABASE telegraf"), "", 200, `"statement_id":0`, ""},
		{"influxql delete needs admin", "readwrite", "POST", iq("DELETE FROM cpu"), "", 403, "DELETE needs admin", ""},
		{"grafana metrics filtered", "cpu-reader", "POST", "/grafana/metrics", "{}", 200, `"cpu"`, `"mem"`},
		{"grafana search filtered", "cpu-reader", "POST", "/grafana/search", gf, 200, `"cpu"`, `"mem"`},
		{"grafana query other", "cpu-reader", "POST", "/grafana/query", `{"targets":[{"target":"mem"}]}`, 403, "", ""},
		{"grafana query other statement", "cpu-reader", "POST", "/grafana/query", `{"targets":[{"target":"SELECT v FROM mem"}]}`, 403, "", ""},
		{"grafana payload options other", "cpu-reader", "POST", "/grafana/metric-payload-options", `{"metric":"mem","name":"field"}`, 403, "", ""},
		{"grafana variable other", "cpu-reader", "POST", "/grafana/variable", `{"payload":{"target":"SHOW TAG VALUES FROM mem WITH KEY = host"}}`, 403, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(st.written())
			code, _, body := call(t, tt.method, base+tt.path, bearer(tt.token), tt.body)
			if code != tt.want {
				t.Fatalf("%s %s as %s: got %d %s, want %d", tt.method, tt.path, tt.token, code, body, tt.want)
			}
			if tt.wantIn != "" && !strings.Contains(body, tt.wantIn) {
				t.Errorf("answer %s, want it to hold %s", body, tt.wantIn)
			}
			if tt.wantOut != "" && strings.Contains(body, tt.wantOut) {
				t.Errorf("answer %s, want it without %s", body, tt.wantOut)
			}
			if code == 403 && len(st.written()) != before {
				t.Errorf("a refused request wrote %d points", len(st.written())-before)
			}
		})
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, d := range st.deletes {
		if d.collection != "cpu" {
			t.Errorf("a delete reached collection %q", d.collection)
		}
	}
}

// TestAuthOff checks that without tokens every route is open.
func TestAuthOff(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	rec := do(s.mux, "POST", "/api/v1/admin/flush", nil, nil)
	if rec.Code != http.StatusNoContent {
		t.Errorf("flush without tokens configured: got %d %s, want 204", rec.Code, rec.Body)
	}
}

func TestLookupToken(t *testing.T) {
	tests := []struct {
		secret, want string
	}{
		{"secret-reader", "reader"},
		{"secret-cpu-admin", "cpu-admin"},
		{"secret-reader ", ""},
		{"", ""},
		{"Secret-reader", ""},
	}
	for _, tt := range tests {
		got := ""
		if tok := lookupToken(authTokens, tt.secret); tok != nil {
			got = tok.Name
		}
		if got != tt.want {
			t.Errorf("lookupToken(%q): got %q, want %q", tt.secret, got, tt.want)
		}
	}
}

func TestParseDigestAndScope(t *testing.T) {
	sum := sha256.Sum256([]byte("x"))
	hexSum := "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
	d, err := ParseDigest(hexSum)
	if err != nil || d != sum {
		t.Errorf("ParseDigest(%s): got %x, %v, want %x", hexSum, d, err, sum)
	}
	for _, bad := range []string{"", "zz", hexSum[:62], hexSum + "00"} {
		if _, err := ParseDigest(bad); err == nil {
			t.Errorf("ParseDigest(%q): no error", bad)
		}
	}
	for _, tt := range []struct {
		name string
		want Scope
		ok   bool
	}{{"read", ScopeRead, true}, {"write", ScopeWrite, true}, {"admin", ScopeAdmin, true}, {"Admin", 0, false}, {"", 0, false}} {
		got, err := ParseScope(tt.name)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseScope(%q): got %v, %v, want %v (ok %v)", tt.name, got, err, tt.want, tt.ok)
		}
	}
	admin := testToken("a", ScopeAdmin)
	if !admin.has(ScopeRead) || !admin.has(ScopeWrite) {
		t.Error("admin does not imply read and write")
	}
}
