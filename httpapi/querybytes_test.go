package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

// longStringStore holds collection s: series host=h0 … h3, each with 50
// points whose string field msg is 10,000 bytes long (2 MB in all).
func longStringStore(t *testing.T) *boundsStore {
	t.Helper()
	db, err := storage.Open(t.TempDir(), &storage.Options{NumGroups: 2, FlushInterval: -1, Sync: wal.SyncNever,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var pts []model.Point
	for h := range 4 {
		for i := range 50 {
			msg := strings.Repeat(string(rune('a'+i%26)), 10_000)
			pts = append(pts, model.Point{Collection: "s", Tags: model.Tags{{Key: "host", Value: fmt.Sprintf("h%d", h)}},
				Time: int64(i) * int64(time.Second), Fields: []model.Field{{Key: "msg", Value: model.String(msg)}}})
		}
	}
	if err := db.Write(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
	return &boundsStore{DB: db}
}

// TestQueryMaxBytes checks that query.max_bytes bounds the bytes of an
// answer in every format: a JSON answer (built whole) over it is a 422
// naming the setting; aggregate and SHOW answers likewise; a streamed
// NDJSON or CSV answer is refused before its first byte when its first rows
// are over, or cut off (NDJSON with an error line) once it goes over, never
// sending much more than the limit.
func TestQueryMaxBytes(t *testing.T) {
	const limit = 100_000
	st := longStringStore(t)
	s := boundsServer(t, st, Options{MaxBytes: limit})
	for _, tc := range []struct {
		q, format string
		code      int
	}{
		{"SELECT msg FROM s", "json", 422},
		{"SELECT msg FROM s GROUP BY host", "json", 422},
		{"SELECT last(msg) FROM s GROUP BY 1s, host", "json", 422},
		{"SELECT msg FROM s LIMIT 5", "json", 200},
		{"SELECT last(msg) FROM s GROUP BY host", "json", 200},
		{"SELECT count(msg) FROM s GROUP BY 1s, host", "json", 200},
	} {
		rec := do(s.mux, http.MethodGet, queryURL(tc.q, "format", tc.format), nil, nil)
		if rec.Code != tc.code {
			t.Errorf("%s (%s): %d %.200s, want %d", tc.q, tc.format, rec.Code, rec.Body, tc.code)
			continue
		}
		if tc.code == 422 {
			var body queryErrorBody
			want := fmt.Sprintf("query returns more than %d bytes (query.max_bytes)", limit)
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != want {
				t.Errorf("%s (%s): body %.200s, want the error %q", tc.q, tc.format, rec.Body, want)
			}
		}
	}

	srv := httptest.NewServer(s.mux)
	defer srv.Close()
	for _, format := range []string{"ndjson", "csv"} {
		resp, err := http.Get(srv.URL + queryURL("SELECT msg FROM s", "format", format))
		if err != nil {
			t.Fatal(err)
		}
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(body) > limit+20_000 {
			t.Errorf("%s: %d bytes sent, limit %d", format, len(body), limit)
		}
		switch {
		case resp.StatusCode == 422:
			if !strings.Contains(string(body), "(query.max_bytes)") {
				t.Errorf("%s: 422 %.200s, want the setting named", format, body)
			}
		case resp.StatusCode != 200:
			t.Errorf("%s: status %d", format, resp.StatusCode)
		case format == "ndjson":
			lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
			want := fmt.Sprintf(`{"error":"query returns more than %d bytes (query.max_bytes)","status":422}`, limit)
			if last := lines[len(lines)-1]; last != want {
				t.Errorf("ndjson: last line %.200s, want %s", last, want)
			}
		default:
			if !errors.Is(rerr, io.ErrUnexpectedEOF) {
				t.Errorf("csv over the cap: read error %v, want an unexpected EOF", rerr)
			}
		}
	}
}
