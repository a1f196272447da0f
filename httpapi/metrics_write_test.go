package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/soltixdb/soltix/storage"
)

// TestWriteRejectionMetrics causes each write rejection reason and checks
// that soltix_write_rejections_total counts it once under its reason (and
// no other), soltix_write_errors_total once, and that
// soltix_write_bytes_total counts the bytes of the bodies read.
func TestWriteRejectionMetrics(t *testing.T) {
	s, st := newTestServer(t, Options{Tokens: authTokens, MaxLines: 2})
	scrape := func() map[string]float64 {
		t.Helper()
		rec := do(s.mux, "GET", "/metrics", http.Header{"Authorization": {bearer("admin")}}, nil)
		out := map[string]float64{}
		for _, f := range parseProm(t, rec.Body.String()) {
			for k, v := range f.samples {
				out[k] = v
			}
		}
		return out
	}
	const good = "cpu,host=a v=1 1735786800000000000\n"
	for _, tc := range []struct {
		name, target, token, body string
		storeErr                  error
		code                      int
		reason                    string // "" accepted
	}{
		{"accepted", "/write", "writer", good, nil, 204, ""},
		{"bad precision", "/write?precision=fortnight", "writer", good, nil, 400, "bad_request"},
		{"bad line", "/write", "writer", "cpu,host=a v= 1\n", nil, 400, "bad_lines"},
		{"kind clash", "/write", "writer", "cpu,host=a v=\"text\" 1735786800000000000\n", nil, 400, "bad_lines"},
		{"other collection", "/write", "cpu-writer", "mem,host=a v=1 1735786800000000000\n", nil, 403, "forbidden"},
		{"too many lines", "/write", "writer", strings.Repeat(good, 3), nil, 413, "limit"},
		{"storage unavailable", "/write", "writer", good, fmt.Errorf("wal: %w", storage.ErrUnavailable), 503, "unavailable"},
		{"disk full", "/write", "writer", good, fmt.Errorf("append: %w", syscall.ENOSPC), 507, "disk_full"},
		{"storage error", "/write", "writer", good, errors.New("bad sector"), 500, "internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := scrape()
			st.mu.Lock()
			st.writeErr = tc.storeErr
			st.mu.Unlock()
			rec := do(s.mux, "POST", tc.target, http.Header{"Authorization": {bearer(tc.token)}}, []byte(tc.body))
			if rec.Code != tc.code {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.code)
			}
			after := scrape()
			for _, r := range writeReasons {
				k := `soltix_write_rejections_total{reason="` + r + `"}`
				want := before[k]
				if r == tc.reason {
					want++
				}
				if after[k] != want {
					t.Errorf("%s went from %v to %v, want %v", k, before[k], after[k], want)
				}
			}
			wantErrs := before["soltix_write_errors_total"]
			if tc.reason != "" {
				wantErrs++
			}
			if after["soltix_write_errors_total"] != wantErrs {
				t.Errorf("soltix_write_errors_total went from %v to %v", before["soltix_write_errors_total"], after["soltix_write_errors_total"])
			}
			read := len(tc.body)
			if tc.reason == "bad_request" {
				read = 0 // refused before the body is read
			}
			if d := after["soltix_write_bytes_total"] - before["soltix_write_bytes_total"]; d != float64(read) {
				t.Errorf("soltix_write_bytes_total went up by %v, want %d", d, read)
			}
		})
	}
}
