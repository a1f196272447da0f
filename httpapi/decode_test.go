package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/storage"
)

// TestDecodeWriteAgreesWithHTTP: DecodeWrite refuses the lines POST
// /api/v1/write refuses, with the same positions and reasons, and
// OnlyCollection adds refusals of other collections.
func TestDecodeWriteAgreesWithHTTP(t *testing.T) {
	db, err := storage.Open(t.TempDir(), &storage.Options{FlushInterval: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(New(db, Options{Now: func() time.Time { return now }}))
	defer srv.Close()
	if resp, err := http.Post(srv.URL+"/api/v1/write", "text/plain", strings.NewReader("c,device_id=d v=1 1\n")); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("seed write: %v %v", resp, err)
	}
	cases := []struct {
		name, ct, body string
		points         int // with OnlyCollection "c"
		only           []int
	}{
		{name: "syntax", body: "c,device_id=d v=1 1\nc,device_id=d v= 2\nc,device_id=e v=3 3\n", points: 2},
		{name: "stored kind clash", body: "c,device_id=d v=\"s\" 1\n"},
		{name: "clash within the body", body: "n,device_id=d x=1 1\nn,device_id=d x=1i 2\n", only: []int{1}},
		{name: "reserved key", body: "c,time=1 v=1 1\n"},
		{name: "json", ct: "application/json", body: `[{"device_id":"d","fields":{"v":1}},{"device_id":"d","fields":{"v":"s"}},{"collection":"o","fields":{"v":1}}]`,
			points: 1, only: []int{3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/api/v1/write?collection=c", c.ct, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			var ans struct {
				Lines []BadLine `json:"lines"`
			}
			json.NewDecoder(resp.Body).Decode(&ans)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || len(ans.Lines) == 0 {
				t.Fatalf("HTTP status %d, lines %v", resp.StatusCode, ans.Lines)
			}
			d := DecodeWrite(db, now, WriteBody{Body: []byte(c.body), ContentType: c.ct, Collection: "c"})
			if !slices.Equal(d.Bad, ans.Lines) {
				t.Fatalf("DecodeWrite bad lines\n%v\nHTTP\n%v", d.Bad, ans.Lines)
			}
			only := DecodeWrite(db, now, WriteBody{Body: []byte(c.body), ContentType: c.ct, Collection: "c", OnlyCollection: true})
			var extra []int
			for _, b := range only.Bad {
				if !slices.ContainsFunc(ans.Lines, func(l BadLine) bool { return l.Line == b.Line }) {
					extra = append(extra, b.Line)
				}
			}
			if len(only.Points) != c.points || !slices.Equal(extra, c.only) {
				t.Fatalf("OnlyCollection: %d points, other-collection lines %v; want %d, %v (%v)", len(only.Points), extra, c.points, c.only, only.Bad)
			}
		})
	}
}
