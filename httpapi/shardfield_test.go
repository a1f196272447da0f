package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// shardStore is a fake store of a cluster router placing series by the
// tag "device_id".
type shardStore struct{ fakeStore }

func (*shardStore) ShardTag() string { return "device_id" }

// TestFieldNamedLikeShardTag: a router refuses a field named like its
// shard tag, in line protocol and JSON, and writes nothing of the body; a
// single node takes it, and a tag of that name is what the cluster places
// series by.
func TestFieldNamedLikeShardTag(t *testing.T) {
	opts := Options{Now: func() time.Time { return testNow }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	router := &shardStore{}
	hr := newServer(router, opts).mux
	for _, tc := range []struct {
		name, target, body string
		ctype              string
	}{
		{"line protocol", "/api/v1/write", "m,device_id=a v=1 1\nm,site=x device_id=2i 2\n", ""},
		{"json", "/api/v1/write", `[{"collection":"m","tags":{"device_id":"a"},"fields":{"v":1},"time":1},{"collection":"m","fields":{"device_id":2},"time":2}]`, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.ctype != "" {
				h.Set("Content-Type", tc.ctype)
			}
			rec := do(hr, http.MethodPost, tc.target, h, []byte(tc.body))
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `field key \"device_id\" is reserved for the cluster's shard tag`) {
				t.Fatalf("router: %d %s", rec.Code, rec.Body)
			}
			var body struct {
				Lines []struct{ Line int } `json:"lines"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Lines) != 1 || body.Lines[0].Line != 2 {
				t.Errorf("router: lines %+v (%v), want line 2 only", body.Lines, err)
			}
			if n := router.writeCalls(); n != 0 {
				t.Errorf("router: %d writes reached the store", n)
			}
			hs := newServer(&fakeStore{}, opts).mux
			if rec := do(hs, http.MethodPost, tc.target, h, []byte(tc.body)); rec.Code != http.StatusNoContent {
				t.Errorf("single node: %d %s", rec.Code, rec.Body)
			}
		})
	}
}
