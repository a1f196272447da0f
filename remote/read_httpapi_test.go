package remote

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/storage"
)

// readRouter is an httpapi.Store whose writes and reads go through a
// Client; settings (not this test's subject) come from an empty local DB.
type readRouter struct {
	*Client
	local *storage.DB
}

func (r readRouter) CollectionSettings(c string) storage.CollectionSettings {
	return r.local.CollectionSettings(c)
}
func (r readRouter) Settings() map[string]storage.CollectionSettings { return r.local.Settings() }
func (r readRouter) SetSettings(ctx context.Context, c string, s storage.CollectionSettings) error {
	return r.local.SetSettings(ctx, c, s)
}

// TestExternalQueries: the external API over a router's Client answers
// byte for byte what it answers over a single DB holding the same points;
// with a node down, 503 with Retry-After naming the groups, or with
// partial=true the other groups' answer and X-Soltix-Missing-Groups.
func TestExternalQueries(t *testing.T) {
	c := newCluster(t)
	pts := testPoints(8, 3000)
	if err := c.single.Write(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
	if err := c.reader.Write(context.Background(), pts); err != nil { // the write path
		t.Fatal(err)
	}
	opts := httpapi.Options{Now: func() time.Time { return testNow }}
	serve := httpapi.New(c.single, opts)
	router := httpapi.New(readRouter{c.reader, openDB(t)}, opts)
	get := func(h http.Handler, q, params string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "http://localhost/api/v1/query?q="+url.QueryEscape(q)+params, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, q := range []string{
		"SELECT count(f), mean(i) FROM m GROUP BY time(30d), region",
		"SELECT * FROM m WHERE device_id = 'd04' AND time < '2024-03-01T00:00:00Z'",
		"SHOW TAG VALUES FROM m WITH KEY = device_id",
		"EXPLAIN SELECT count(f) FROM m WHERE time > '2025-01-01T00:00:00Z'",
	} {
		for _, params := range []string{"", "&format=ndjson", "&format=csv&epoch=ms"} {
			want, got := get(serve, q, params), get(router, q, params)
			if want.Code != http.StatusOK || got.Code != want.Code {
				t.Fatalf("%s%s: %d, want %d %s", q, params, got.Code, want.Code, want.Body)
			}
			if strings.HasPrefix(q, "EXPLAIN") {
				continue // the router adds nodes
			}
			if got.Body.String() != want.Body.String() {
				t.Fatalf("%s%s:\n got %.300s\nwant %.300s", q, params, got.Body, want.Body)
			}
		}
	}
	c.https[2].Close()
	q := "SELECT count(f) FROM m GROUP BY device_id"
	rec := get(router, q, "")
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		!strings.Contains(rec.Body.String(), "groups 2, 5, 8, 11 unavailable: node n2") {
		t.Fatalf("node down: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	// The admin delete must not miss the series of the node it cannot ask.
	req := httptest.NewRequest(http.MethodPost, "http://localhost/api/v1/admin/delete", strings.NewReader(`{"collection": "m", "tags": {"region": "eu"}}`))
	req.Header.Set("Content-Type", "application/json")
	rec = httptest.NewRecorder()
	router.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "groups 2, 5, 8, 11 unavailable") {
		t.Fatalf("admin delete with a node down: %d %s", rec.Code, rec.Body)
	}
	rec = get(router, q, "&partial=true")
	if rec.Code != http.StatusOK || rec.Header().Get(httpapi.HeaderMissingGroups) != "2,5,8,11" ||
		!strings.Contains(rec.Body.String(), `"missing_groups":[2,5,8,11]`) {
		t.Fatalf("partial: %d %q %s", rec.Code, rec.Header().Get(httpapi.HeaderMissingGroups), rec.Body)
	}
}
