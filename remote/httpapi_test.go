package remote

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
)

// writeOnlyRouter is an httpapi.Store whose writes go through a Client and
// whose schema, settings and reads come from an empty local DB: enough to
// see what the external API answers for the Client's errors (the read
// side of a router is not this test's subject).
type writeOnlyRouter struct {
	*storage.DB
	c *Client
}

func (r writeOnlyRouter) Write(ctx context.Context, ps []model.Point) error {
	return r.c.Write(ctx, ps)
}
func (r writeOnlyRouter) Flush(ctx context.Context) error { return r.c.Flush(ctx) }

// TestExternalAPIAnswers: the Client's errors reach a client of the
// external API as serve's would: 503 with Retry-After naming the groups
// not written, 400 naming the line of a kind clash found on a node.
func TestExternalAPIAnswers(t *testing.T) {
	m := newTestMap(16)
	nodes := startNodes(t, m, 3)
	c, _ := newTestClient(t, m, ClientOptions{})
	local, err := storage.Open(t.TempDir(), &storage.Options{FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	h := httpapi.New(writeOnlyRouter{local, c}, httpapi.Options{})
	post := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "http://localhost/api/v1/write", strings.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	var lines []string
	for d := range 30 {
		lines = append(lines, fmt.Sprintf("m,device_id=d%d v=1 %d", d, d))
	}
	if rec := post(strings.Join(lines, "\n")); rec.Code != http.StatusNoContent {
		t.Fatalf("write: %d %s", rec.Code, rec.Body)
	}
	// Line 3 clashes with what its node holds.
	rec := post("m,device_id=d0 v=2 100\nm,device_id=d1 v=2 100\nm,device_id=d2 v=2i 100\n")
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"line":3`) ||
		!strings.Contains(rec.Body.String(), `field \"v\" of collection \"m\" is float, got integer`) {
		t.Fatalf("clash: %d %s", rec.Code, rec.Body)
	}
	nodes[1].stop()
	rec = post(strings.Join(lines, "\n"))
	body := rec.Body.String()
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		!strings.Contains(body, "not written: node n2 ("+nodes[1].addr+")") || !strings.Contains(body, `"error":"write: groups `) {
		t.Fatalf("node down: %d %v %s", rec.Code, rec.Header(), body)
	}
}
