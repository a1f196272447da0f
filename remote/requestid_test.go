package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/internal/reqid"
	"github.com/soltixdb/soltix/storage"
)

// routerOver is an httpapi.Store whose data goes through a Client (as a
// router's does) and whose collection settings are a local DB's defaults.
type routerOver struct {
	*Client
	local *storage.DB
}

func (r routerOver) CollectionSettings(c string) storage.CollectionSettings {
	return r.local.CollectionSettings(c)
}
func (r routerOver) Settings() map[string]storage.CollectionSettings { return r.local.Settings() }
func (r routerOver) SetSettings(ctx context.Context, c string, s storage.CollectionSettings) error {
	return r.local.SetSettings(ctx, c, s)
}

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// ids returns the request ids of the JSON log's lines with message msg.
func (b *lockedBuffer) ids(t *testing.T, msg string) map[string]int {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(b.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == msg {
			id, _ := m[reqid.Attr].(string)
			out[id]++
		}
	}
	return out
}

// TestRequestIDReachesNodes: the id a client gives a router's external API
// (or the one the router makes up) is the id of the storage nodes' log
// lines about the internal requests made for it: writes, queries (the
// session), flushes.
func TestRequestIDReachesNodes(t *testing.T) {
	m := newTestMap(8)
	var nodeLog lockedBuffer
	log := slog.New(slog.NewJSONHandler(&nodeLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	nodes := []*testNode{startNode(t, m, "n1", NodeOptions{Logger: log}), startNode(t, m, "n2", NodeOptions{Logger: log})}
	m.spread(nodes...)
	c, _ := newTestClient(t, m, ClientOptions{})
	local, err := storage.Open(t.TempDir(), &storage.Options{FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	ts := httptest.NewServer(httpapi.New(routerOver{c, local}, httpapi.Options{Logger: slog.New(slog.DiscardHandler)}))
	defer ts.Close()

	send := func(method, path, id, body string) string {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if id != "" {
			req.Header.Set(reqid.Header, id)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
		}
		return resp.Header.Get(reqid.Header)
	}
	var lines []string
	for d := range 20 {
		lines = append(lines, "m,device_id=d"+string(rune('a'+d))+" v=1 1000")
	}
	send(http.MethodPost, "/api/v1/write", "write-id-1", strings.Join(lines, "\n"))
	send(http.MethodGet, "/api/v1/query?q=SELECT+count(v)+FROM+m", "query-id-2", "")
	made := send(http.MethodPost, "/api/v1/admin/flush", "", "")

	got := nodeLog.ids(t, "internal request")
	// 20 devices over 8 groups on two nodes: both nodes are written to,
	// both asked, both flushed.
	for _, id := range []string{"write-id-1", "query-id-2", made} {
		if got[id] < 2 {
			t.Errorf("id %q on %d node request lines, want >= 2 (all: %v)", id, got[id], got)
		}
	}
	if got[""] != 0 {
		t.Errorf("%d node request lines without an id", got[""])
	}
}
