package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/cold"
)

// fakeBucket serves an in-process S3 with bucket "b"; down makes it answer
// 500 to everything.
func fakeBucket(t *testing.T) (cold.Config, *atomic.Bool) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("b"); err != nil {
		t.Fatal(err)
	}
	h := gofakes3.New(backend, gofakes3.WithoutVersioning()).Server()
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") {
				r.Header.Del(k)
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return cold.Config{Bucket: "b", Endpoint: srv.URL, Region: "us-east-1", PathStyle: true,
		AccessKeyID: "test", SecretAccessKey: "test", MaxAttempts: 1}, &down
}

func TestAdminTier(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	now := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	open := func(store *cold.Store) http.Handler {
		db, err := storage.Open(t.TempDir(), &storage.Options{NumGroups: 2, FlushInterval: -1, TierInterval: -1,
			Logger: quiet, Cold: store, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return newServer(db, Options{Logger: quiet, Now: func() time.Time { return now }}).mux
	}
	write := func(h http.Handler, day int) {
		t.Helper()
		var b strings.Builder
		for i := range 48 {
			ts := time.Date(2025, 3, day, 0, 30*i, 0, 0, time.UTC).UnixNano()
			fmt.Fprintf(&b, "c,device_id=d%d v=%di %d\n", i%3, i, ts)
		}
		if rec := do(h, http.MethodPost, "/api/v1/write", nil, []byte(b.String())); rec.Code != http.StatusNoContent {
			t.Fatalf("write: %d %s", rec.Code, rec.Body)
		}
		if rec := do(h, http.MethodPost, "/api/v1/admin/flush", nil, nil); rec.Code != http.StatusNoContent {
			t.Fatalf("flush: %d %s", rec.Code, rec.Body)
		}
	}
	tier := func(h http.Handler) (int, map[string]any) {
		t.Helper()
		rec := do(h, http.MethodPost, "/api/v1/admin/tier", nil, nil)
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("tier: %d %s: %v", rec.Code, rec.Body, err)
		}
		return rec.Code, body
	}

	// Without a cold store: 404, saying why.
	if code, body := tier(open(nil)); code != http.StatusNotFound || !strings.Contains(fmt.Sprint(body["error"]), "no cold store") {
		t.Fatalf("tier without a cold store: %d %v", code, body)
	}

	cfg, down := fakeBucket(t)
	store, err := cold.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := open(store)
	write(h, 2)
	write(h, 3)
	if rec := do(h, http.MethodPut, "/api/v1/admin/collections/c", jsonCT, []byte(`{"cold_after":{"raw":"1d"}}`)); rec.Code != 200 {
		t.Fatalf("cold_after: %d %s", rec.Code, rec.Body)
	}
	code, body := tier(h)
	if code != http.StatusOK || body["uploaded"].(float64) == 0 || body["failed"].(float64) != 0 || body["cold_files"] != body["uploaded"] {
		t.Fatalf("tier: %d %v", code, body)
	}
	uploaded := body["uploaded"].(float64)

	// A query over the cold days says what it read there.
	q := url.Values{"q": {"SELECT v FROM c WHERE time >= '2025-03-02T00:00:00Z' AND time < '2025-03-04T00:00:00Z'"}}
	rec := do(h, http.MethodGet, "/api/v1/query?"+q.Encode(), nil, nil)
	var res struct {
		Rows  [][]any
		Stats struct {
			Cold struct {
				Objects, Bytes int64
				Fetched        int64 `json:"fetched_bytes"`
			}
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || rec.Code != 200 {
		t.Fatalf("query: %d %s", rec.Code, rec.Body)
	}
	if len(res.Rows) != 96 || res.Stats.Cold.Objects == 0 || res.Stats.Cold.Bytes == 0 || res.Stats.Cold.Fetched == 0 {
		t.Fatalf("query over cold data: %d rows, stats %s", len(res.Rows), rec.Body.String()[strings.Index(rec.Body.String(), `"stats"`):])
	}
	// EXPLAIN counts the cold files.
	q = url.Values{"q": {"EXPLAIN SELECT v FROM c WHERE time >= '2025-03-02T00:00:00Z' AND time < '2025-03-04T00:00:00Z'"}}
	if rec := do(h, http.MethodGet, "/api/v1/query?"+q.Encode(), nil, nil); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"cold_files"`) {
		t.Fatalf("explain: %d %s", rec.Code, rec.Body)
	}
	metrics := do(h, http.MethodGet, "/metrics", nil, nil).Body.String()
	for _, want := range []string{fmt.Sprintf("soltix_cold_uploads_total %d\n", int(uploaded)), fmt.Sprintf("soltix_cold_files %d\n", int(uploaded)),
		"soltix_cold_upload_failures_total 0\n", "soltix_cold_requests_total "} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("/metrics lacks %q", want)
		}
	}

	// S3 down: 503 with the error and the counts; the files stay local.
	write(h, 4)
	down.Store(true)
	code, body = tier(h)
	st, _ := body["stats"].(map[string]any)
	if code != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(body["error"]), "tier: ") || st == nil || st["failed"].(float64) == 0 || st["uploaded"].(float64) != 0 {
		t.Fatalf("tier with S3 down: %d %v", code, body)
	}
	if metrics := do(h, http.MethodGet, "/metrics", nil, nil).Body.String(); strings.Contains(metrics, "soltix_cold_upload_failures_total 0\n") {
		t.Fatal("/metrics does not count the failed upload")
	}
	down.Store(false)
	if code, body := tier(h); code != http.StatusOK || body["uploaded"].(float64) == 0 {
		t.Fatalf("tier once S3 is back: %d %v", code, body)
	}

	// Adopting a lost node's files needs a good id and an empty node.
	for _, tc := range []struct{ id, want string }{
		{"xyz", "not 16 hex digits"},
		{"0123456789abcdef", "holds data already"},
	} {
		rec := do(h, http.MethodPost, "/api/v1/admin/tier/adopt?id="+tc.id, nil, nil)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.want) {
			t.Fatalf("adopt %s: %d %s", tc.id, rec.Code, rec.Body)
		}
	}
	empty := open(store)
	rec = do(empty, http.MethodPost, "/api/v1/admin/tier/adopt?id=0123456789abcdef", nil, nil)
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"files":0,"bytes":0,"superseded":0,"expired":0}` {
		t.Fatalf("adopt of an unknown id: %d %s", rec.Code, rec.Body)
	}
}
