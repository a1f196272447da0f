package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestGuardOrigin drives the Host and Origin rules through the handler of
// a server listening on 127.0.0.1:5050 that allows one other origin.
func TestGuardOrigin(t *testing.T) {
	const (
		self    = "127.0.0.1:5050"
		allowed = "https://grafana.example.com"
		evil    = "http://evil.example"
	)
	form := "application/x-www-form-urlencoded"
	del := "q=" + url.QueryEscape("DELETE FROM c")
	type req struct {
		method, path, host, ctype, body string
		header                          []string // key, value, ...
	}
	tests := []struct {
		name string
		opts Options // Listen defaults to self
		req  req
		// code is the status wanted from the guard; 0 means the request
		// must pass it (any answer but 403, 421 or a preflight's 204).
		code int
		cors bool // whether Access-Control-Allow-Origin must be sent
	}{
		// Clients that are not browsers send neither Origin nor Sec-Fetch-Site.
		{name: "curl form DELETE", req: req{method: "POST", path: "/api/v1/query", ctype: form, body: del}},
		{name: "curl text DELETE", req: req{method: "POST", path: "/api/v1/query", ctype: "text/plain", body: "DELETE FROM c"}},
		{name: "curl line protocol", req: req{method: "POST", path: "/api/v1/write", ctype: "text/plain", body: "c v=1 1"}},
		{name: "telegraf no type", req: req{method: "POST", path: "/write", body: "c v=1 1"}},
		{name: "influx v2 write", req: req{method: "POST", path: "/api/v2/write", body: "c v=1 1", header: []string{"Authorization", "Token x"}}},
		{name: "flush", req: req{method: "POST", path: "/api/v1/admin/flush"}},
		{name: "grafana proxy", req: req{method: "POST", path: "/grafana/query", ctype: "application/json", body: "{}"}},
		{name: "localhost", req: req{method: "GET", path: "/health", host: "localhost:5050"}},
		{name: "LOCALHOST", req: req{method: "GET", path: "/health", host: "LocalHost:5050"}},
		{name: "ipv6 loopback", req: req{method: "GET", path: "/health", host: "[::1]:5050"}},

		// DNS rebinding: a page on another name that resolves to 127.0.0.1.
		{name: "rebinding GET", req: req{method: "GET", path: "/api/v1/query?q=SELECT+*+FROM+c", host: "evil.example:5050"}, code: 421},
		{name: "rebinding console", req: req{method: "GET", path: "/", host: "evil.example:5050"}, code: 421},
		{name: "rebinding same-origin POST", req: req{method: "POST", path: "/api/v1/query", host: "evil.example:5050", ctype: form, body: del,
			header: []string{"Origin", "http://evil.example:5050", "Sec-Fetch-Site", "same-origin"}}, code: 421},
		{name: "other port", req: req{method: "GET", path: "/health", host: "127.0.0.1:6060"}, code: 421},
		{name: "no port", req: req{method: "GET", path: "/health", host: "localhost"}, code: 421},
		{name: "allowed host any port", opts: Options{AllowedHosts: []string{"db.internal"}}, req: req{method: "GET", path: "/health", host: "db.internal:8080"}},
		{name: "allowed host and port", opts: Options{AllowedHosts: []string{"proxy.local:80"}}, req: req{method: "GET", path: "/health", host: "proxy.local:80"}},
		{name: "allowed host other port", opts: Options{AllowedHosts: []string{"proxy.local:80"}}, req: req{method: "GET", path: "/health", host: "proxy.local:81"}, code: 421},
		{name: "any host", opts: Options{AllowedHosts: []string{"*"}}, req: req{method: "GET", path: "/health", host: "whatever.example"}},
		{name: "listening everywhere", opts: Options{Listen: "0.0.0.0:5050"}, req: req{method: "GET", path: "/health", host: "whatever.example"}},
		{name: "listening on a LAN address", opts: Options{Listen: "192.168.1.5:5050"}, req: req{method: "GET", path: "/health", host: "db.lan:5050"}},
		{name: "listening on port 80", opts: Options{Listen: "127.0.0.1:80"}, req: req{method: "GET", path: "/health", host: "localhost"}},

		// The console: same-origin requests.
		{name: "console query", req: req{method: "POST", path: "/api/v1/query", ctype: form, body: del,
			header: []string{"Origin", "http://" + self, "Sec-Fetch-Site", "same-origin"}}},
		{name: "console via localhost", req: req{method: "POST", path: "/api/v1/write", host: "localhost:5050", ctype: "text/plain", body: "c v=1 1",
			header: []string{"Origin", "http://localhost:5050", "Sec-Fetch-Site", "same-origin"}}},
		{name: "typed by the user", req: req{method: "POST", path: "/api/v1/admin/flush", header: []string{"Sec-Fetch-Site", "none"}}},

		// Cross-origin state changes.
		{name: "cross text DELETE", req: req{method: "POST", path: "/api/v1/query", ctype: "text/plain", body: "DELETE FROM c",
			header: []string{"Origin", evil, "Sec-Fetch-Site", "cross-site"}}, code: 403},
		{name: "cross form DELETE", req: req{method: "POST", path: "/api/v1/query", ctype: form, body: del, header: []string{"Origin", evil}}, code: 403},
		{name: "cross multipart", req: req{method: "POST", path: "/api/v1/query", ctype: "multipart/form-data; boundary=x", body: "--x--", header: []string{"Origin", evil}}, code: 403},
		{name: "cross write", req: req{method: "POST", path: "/api/v1/write", ctype: "text/plain", body: "c v=1 1", header: []string{"Origin", evil}}, code: 403},
		{name: "cross json", req: req{method: "POST", path: "/api/v1/admin/delete", ctype: "application/json", body: `{"collection":"c"}`, header: []string{"Origin", evil}}, code: 403},
		{name: "cross flush", req: req{method: "POST", path: "/api/v1/admin/flush", header: []string{"Origin", evil}}, code: 403},
		{name: "cross compact", req: req{method: "POST", path: "/api/v1/admin/compact", header: []string{"Origin", evil}}, code: 403},
		{name: "cross settings", req: req{method: "PUT", path: "/api/v1/admin/collections/c", ctype: "application/json", body: `{"rollups":false}`, header: []string{"Origin", evil}}, code: 403},
		{name: "cross DELETE method", req: req{method: "DELETE", path: "/api/v1/write", header: []string{"Origin", evil}}, code: 403},
		{name: "cross with token, not allowed", req: req{method: "POST", path: "/api/v1/query", ctype: "text/plain", body: "DELETE FROM c",
			header: []string{"Origin", evil, TokenHeader, "1"}}, code: 403},
		{name: "cross-site without Origin", req: req{method: "POST", path: "/api/v1/query", ctype: form, body: del, header: []string{"Sec-Fetch-Site", "cross-site"}}, code: 403},
		{name: "same-site other port", req: req{method: "POST", path: "/api/v1/query", ctype: form, body: del,
			header: []string{"Origin", "http://localhost:3000", "Sec-Fetch-Site", "same-site"}}, code: 403},
		{name: "same-origin Origin but cross-site", req: req{method: "POST", path: "/api/v1/query", ctype: form, body: del,
			header: []string{"Origin", "http://" + self, "Sec-Fetch-Site", "cross-site"}}, code: 403},
		{name: "null origin", req: req{method: "POST", path: "/api/v1/query", ctype: form, body: del, header: []string{"Origin", "null"}}, code: 403},
		{name: "null origin, any allowed", opts: Options{AllowedOrigins: []string{"*"}}, req: req{method: "POST", path: "/api/v1/query", ctype: form, body: del, header: []string{"Origin", "null"}}, code: 403},
		{name: "cross listening everywhere", opts: Options{Listen: ":5050"}, req: req{method: "POST", path: "/api/v1/query", host: "db.lan:5050", ctype: form, body: del,
			header: []string{"Origin", evil}}, code: 403},

		// Cross-origin reads are not refused, and get no CORS headers.
		{name: "cross GET", req: req{method: "GET", path: "/health", header: []string{"Origin", evil, "Sec-Fetch-Site", "cross-site"}}},

		// An allowed origin.
		{name: "allowed json", opts: Options{AllowedOrigins: []string{allowed}}, req: req{method: "POST", path: "/api/v1/admin/delete", ctype: "application/json", body: `{"collection":"c"}`,
			header: []string{"Origin", allowed, "Sec-Fetch-Site", "cross-site"}}, cors: true},
		{name: "allowed default port spelled out", opts: Options{AllowedOrigins: []string{"https://Grafana.example.com:443"}}, req: req{method: "POST", path: "/grafana/query", ctype: "application/json", body: "{}",
			header: []string{"Origin", allowed}}, cors: true},
		{name: "allowed text without token", opts: Options{AllowedOrigins: []string{allowed}}, req: req{method: "POST", path: "/api/v1/query", ctype: "text/plain", body: "DELETE FROM c",
			header: []string{"Origin", allowed}}, code: 403, cors: true},
		{name: "allowed form without token", opts: Options{AllowedOrigins: []string{allowed}}, req: req{method: "POST", path: "/api/v1/query", ctype: form, body: del,
			header: []string{"Origin", allowed}}, code: 403, cors: true},
		{name: "allowed text with token", opts: Options{AllowedOrigins: []string{allowed}}, req: req{method: "POST", path: "/api/v1/query", ctype: "text/plain", body: "DELETE FROM c",
			header: []string{"Origin", allowed, TokenHeader, "1"}}, cors: true},
		{name: "allowed form with Authorization", opts: Options{AllowedOrigins: []string{allowed}}, req: req{method: "POST", path: "/api/v1/query", ctype: form, body: del,
			header: []string{"Origin", allowed, "Authorization", "Bearer x"}}, cors: true},
		{name: "allowed GET", opts: Options{AllowedOrigins: []string{allowed}}, req: req{method: "GET", path: "/health", header: []string{"Origin", allowed}}, cors: true},
		{name: "any origin", opts: Options{AllowedOrigins: []string{"*"}}, req: req{method: "POST", path: "/api/v1/admin/flush", ctype: "application/json", header: []string{"Origin", evil}}, cors: true},
		{name: "allowed scheme differs", opts: Options{AllowedOrigins: []string{allowed}}, req: req{method: "POST", path: "/api/v1/admin/flush", ctype: "application/json",
			header: []string{"Origin", "http://grafana.example.com"}}, code: 403},

		// Preflights.
		{name: "preflight allowed", opts: Options{AllowedOrigins: []string{allowed}}, req: req{method: "OPTIONS", path: "/api/v1/query",
			header: []string{"Origin", allowed, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,x-soltix-request"}}, code: 204, cors: true},
		{name: "preflight refused", req: req{method: "OPTIONS", path: "/api/v1/query",
			header: []string{"Origin", evil, "Access-Control-Request-Method", "POST"}}, code: 403},
		{name: "plain OPTIONS", req: req{method: "OPTIONS", path: "/api/v1/query"}, code: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.Listen == "" {
				tt.opts.Listen = self
			}
			s, st := newTestServer(t, tt.opts)
			r := httptest.NewRequest(tt.req.method, tt.req.path, strings.NewReader(tt.req.body))
			r.Host = self
			if tt.req.host != "" {
				r.Host = tt.req.host
			}
			if tt.req.ctype != "" {
				r.Header.Set("Content-Type", tt.req.ctype)
			}
			for i := 0; i+1 < len(tt.req.header); i += 2 {
				r.Header.Set(tt.req.header[i], tt.req.header[i+1])
			}
			rec := doRequest(s.mux, r, nil)
			desc := tt.req.method + " " + tt.req.path + " Host " + r.Host
			switch {
			case tt.code == 0 && (rec.Code == 403 || rec.Code == 421):
				t.Fatalf("%s: got %d %s, want it to pass the guard", desc, rec.Code, rec.Body)
			case tt.code != 0 && rec.Code != tt.code:
				t.Fatalf("%s: got %d %s, want %d", desc, rec.Code, rec.Body, tt.code)
			}
			if rec.Code == 403 || rec.Code == 421 {
				if !strings.Contains(rec.Body.String(), `"error"`) {
					t.Errorf("%s: refusal body %q, want a JSON error", desc, rec.Body)
				}
				if len(st.deletes) != 0 || st.writeCalls() != 0 || st.flushes != 0 || st.compacts != 0 || st.setCalls != 0 {
					t.Errorf("%s: refused, but the store was changed", desc)
				}
			}
			acao := rec.Header().Get("Access-Control-Allow-Origin")
			if tt.cors && acao != r.Header.Get("Origin") {
				t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", desc, acao, r.Header.Get("Origin"))
			}
			if !tt.cors && acao != "" {
				t.Errorf("%s: Access-Control-Allow-Origin %q, want none", desc, acao)
			}
			if tt.cors && !strings.Contains(rec.Header().Get("Vary"), "Origin") {
				t.Errorf("%s: Vary %q, want Origin", desc, rec.Header().Get("Vary"))
			}
			if tt.code == 204 && tt.req.method == "OPTIONS" {
				if !strings.Contains(rec.Header().Get("Access-Control-Allow-Methods"), "POST") ||
					!strings.Contains(strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers")), "x-soltix-request") {
					t.Errorf("%s: preflight headers %v, want POST and X-Soltix-Request allowed", desc, rec.Header())
				}
			}
		})
	}
}

// TestCrossSiteAttack is the attack of issue 11 item 14 against the running
// server: a page's text/plain or form POST of DELETE, and a rebinding Host.
func TestCrossSiteAttack(t *testing.T) {
	const allowed = "https://grafana.example.com"
	l := startLive(t, Options{AllowedOrigins: []string{allowed}}, ServerConfig{})
	send := func(method, path, ctype, body string, header ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, l.url+path, bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for i := 0; i+1 < len(header); i += 2 {
			if header[i] == "Host" {
				req.Host = header[i+1]
				continue
			}
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	if resp, b := send("POST", "/api/v1/write", "text/plain", "c,host=a v=1 1\nc,host=b v=2 2\n"); resp.StatusCode != 204 {
		t.Fatalf("write: got %d %s", resp.StatusCode, b)
	}
	form := "q=" + url.QueryEscape("DELETE FROM c")
	for _, tt := range []struct {
		name, ctype, body string
		header            []string
		code              int
	}{
		{"text/plain from a page", "text/plain", "DELETE FROM c", []string{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}, 403},
		{"form from a page", "application/x-www-form-urlencoded", form, []string{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}, 403},
		{"form from an old browser", "application/x-www-form-urlencoded", form, []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"form from an allowed origin without token", "application/x-www-form-urlencoded", form, []string{"Origin", allowed}, 403},
		{"rebinding page", "application/x-www-form-urlencoded", form, []string{"Host", "evil.example:" + strings.Split(l.addr, ":")[1],
			"Origin", "http://evil.example:" + strings.Split(l.addr, ":")[1], "Sec-Fetch-Site", "same-origin"}, 421},
	} {
		resp, b := send("POST", "/api/v1/query", tt.ctype, tt.body, tt.header...)
		if resp.StatusCode != tt.code {
			t.Errorf("%s: got %d %s, want %d", tt.name, resp.StatusCode, b, tt.code)
		}
	}
	if len(l.st.deletes) != 0 {
		t.Fatalf("refused DELETEs deleted: %v", l.st.deletes)
	}
	if resp, b := send("GET", "/api/v1/query?q="+url.QueryEscape("SELECT count(v) FROM c"), "", "", "Host", "attacker.example:80"); resp.StatusCode != 421 {
		t.Errorf("rebinding read: got %d %s, want 421", resp.StatusCode, b)
	}

	// Preflight and CORS for the allowed origin.
	resp, b := send("OPTIONS", "/api/v1/query", "", "", "Origin", allowed, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-soltix-request")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != allowed {
		t.Errorf("allowed preflight: got %d %v %s, want 204 with Access-Control-Allow-Origin", resp.StatusCode, resp.Header, b)
	}
	resp, b = send("GET", "/api/v1/query?q="+url.QueryEscape("SELECT count(v) FROM c"), "", "", "Origin", allowed)
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != allowed || !strings.Contains(b, ",2]]") {
		t.Errorf("allowed read: got %d %v %s, want 200 with a count of 2 and Access-Control-Allow-Origin", resp.StatusCode, resp.Header, b)
	}

	// curl --data-urlencode works unchanged, and the DELETE happens.
	resp, b = send("POST", "/api/v1/query", "application/x-www-form-urlencoded", form)
	if resp.StatusCode != 200 || len(l.st.deletes) != 1 {
		t.Fatalf("curl DELETE: got %d %s and %d deletes, want 200 and 1", resp.StatusCode, b, len(l.st.deletes))
	}
}
