package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestJSONBadStringsRefused writes every kind of string fastjson decodes
// "best effort" into every place of a JSON write that takes a string: each
// answers 400 with the line and column of the escape, and nothing is
// written. Valid escapes (pairs, BMP characters, the short escapes) are
// stored decoded.
func TestJSONBadStringsRefused(t *testing.T) {
	bad := []struct {
		name, esc, reason string
	}{
		{"lone high surrogate", `\ud800`, "lone UTF-16 high surrogate"},
		{"lone high surrogate upper case", `\uDBFF`, "lone UTF-16 high surrogate"},
		{"lone low surrogate", `\udc00`, "lone UTF-16 low surrogate"},
		{"high then non-surrogate escape", `\ud800\u0041`, "lone UTF-16 high surrogate"},
		{"high then high", `\ud800\ud800`, "lone UTF-16 high surrogate"},
		{"reversed pair", `\ude00\ud83d`, "lone UTF-16 low surrogate"},
		{"high then text", `\ud83dx`, "lone UTF-16 high surrogate"},
		{"unknown escape", `\x41`, `unknown escape`},
		{"short unicode escape", `\u12`, "want \\\\u and 4 hex digits"},
		{"non-hex unicode escape", `\uzzzz`, "want \\\\u and 4 hex digits"},
		{"raw control character", "a\x01b", "control character 0x01"},
		{"raw newline", "a\nb", "control character 0x0a"},
	}
	// Every string a JSON write takes; %s is where the bad text goes.
	places := []struct {
		name, body string
	}{
		{"collection", `{"collection":"c%s","fields":{"v":1}}`},
		{"device_id", `{"device_id":"d%s","fields":{"v":1}}`},
		{"tag key", `{"tags":{"k%s":"v"},"fields":{"v":1}}`},
		{"tag value", `{"tags":{"k":"%s"},"fields":{"v":1}}`},
		{"field key", `{"fields":{"v%s":1}}`},
		{"field string", `{"fields":{"s":"x%s"}}`},
		{"time string", `{"time":"2026%s","fields":{"v":1}}`},
		{"unknown key", `{"k%s":1,"fields":{"v":1}}`},
		{"second object of an array", "[{\"fields\":{\"v\":1}},\n {\"tags\":{\"k\":\"%s\"},\"fields\":{\"v\":1}}]"},
	}
	for _, b := range bad {
		for _, p := range places {
			t.Run(b.name+"/"+p.name, func(t *testing.T) {
				s, st := newTestServer(t, Options{})
				body := strings.Replace(p.body, "%s", b.esc, 1)
				rec := do(s.mux, "POST", "/api/v1/write?collection=c", jsonCT, []byte(body))
				if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), b.reason) {
					t.Fatalf("%s: %d %s, want 400 naming %q", body, rec.Code, rec.Body, b.reason)
				}
				var resp struct {
					Lines []struct{ Line, Column int }
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Lines) != 1 {
					t.Fatalf("%s: answer %s", body, rec.Body)
				}
				// The position points at the backslash or control byte.
				lines := strings.SplitAfter(body, "\n")
				l, c := resp.Lines[0].Line, resp.Lines[0].Column
				first := b.esc[strings.IndexAny(b.esc, "\\\x01\n")]
				if l < 1 || l > len(lines) || c < 1 || c > len(lines[l-1]) || lines[l-1][c-1] != first {
					t.Errorf("%s: position %d:%d does not point at the bad escape", body, l, c)
				}
				if st.writeCalls() != 0 {
					t.Errorf("%s: written", body)
				}
			})
		}
	}

	good := []struct{ esc, want string }{
		{`\ud83d\ude00`, "\U0001F600"},
		{`\uDBFF\uDFFF`, "\U0010FFFF"},
		{`\u00e9\u0000`, "é\x00"},
		{`\"\\\/\b\f\n\r\t`, "\"\\/\b\f\n\r\t"},
		{`a\\ud800`, `a\ud800`}, // an escaped backslash, then text
	}
	for _, g := range good {
		s, st := newTestServer(t, Options{})
		body := `{"tags":{"k":"` + g.esc + `"},"fields":{"s":"` + g.esc + `"}}`
		rec := do(s.mux, "POST", "/api/v1/write?collection=c", jsonCT, []byte(body))
		if rec.Code != http.StatusNoContent {
			t.Fatalf("%s: %d %s, want 204", body, rec.Code, rec.Body)
		}
		pts := st.written()
		if len(pts) != 1 || pts[0].Tags[0].Value != g.want || pts[0].Fields[0].Value.Str() != g.want {
			t.Errorf("%s: stored %+v, want %q", body, pts, g.want)
		}
	}
}

// TestAdminBodiesBadStrings checks the other JSON bodies: admin delete and
// collection settings refuse the same strings.
func TestAdminBodiesBadStrings(t *testing.T) {
	for _, tc := range []struct{ method, target, body string }{
		{"POST", "/api/v1/admin/delete", `{"collection":"c","tags":{"k":"\ud800"}}`},
		{"POST", "/api/v1/admin/delete", `{"collection":"c\x"}`},
		{"PUT", "/api/v1/admin/collections/c", `{"retention":{"raw":"7d\udc00"}}`},
	} {
		s, st := newTestServer(t, Options{})
		rec := do(s.mux, tc.method, tc.target, jsonCT, []byte(tc.body))
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "escape") && !strings.Contains(rec.Body.String(), "surrogate") {
			t.Errorf("%s %s %s: %d %s, want 400 naming the escape", tc.method, tc.target, tc.body, rec.Code, rec.Body)
		}
		if len(st.deletes) != 0 {
			t.Errorf("%s: deleted", tc.body)
		}
	}
}
