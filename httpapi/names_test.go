package httpapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

// TestCollectionNamesAtTheLengthLimit drives the write paths (line
// protocol and JSON) and the admin collections PUT with collection names
// around the 1024-byte limit, plain, needing escapes and multi-byte, and
// names of engine files: every name up to the limit is accepted, flushed
// and read back after a restart (the directory name is escaped and, past
// the file system's 255 bytes, shortened with a hash), and one byte more
// is a 400 naming the limit, with nothing written.
func TestCollectionNamesAtTheLengthLimit(t *testing.T) {
	max := storage.MaxCollectionLen
	ok := []string{
		strings.Repeat("p", 200), strings.Repeat("p", 201), strings.Repeat("p", 255), strings.Repeat("p", 256),
		strings.Repeat("p", max), strings.Repeat("P", 66), strings.Repeat("P", 67), strings.Repeat("P", 86),
		strings.Repeat("é", max/2), strings.Repeat("p", max-3) + "€", "Cpu", "cpu", "collections.json",
		"meta.json", "rollup_1h", "group_0001", "wal", "LOCK", "..", "a b,c",
	}
	tooLong := []string{strings.Repeat("p", max+1), strings.Repeat("é", max/2) + "p", strings.Repeat("p", max-2) + "€"}
	lpName := strings.NewReplacer(" ", `\ `, ",", `\,`).Replace
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func() *storage.DB {
		db, err := storage.Open(dir, &storage.Options{NumGroups: 2, FlushInterval: -1, Sync: wal.SyncNever, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	s := newServer(db, Options{Logger: logger})
	for i, n := range ok {
		if rec := do(s.mux, "POST", "/api/v1/write?precision=ns", nil, []byte(fmt.Sprintf("%s,device_id=d v=%d %d\n", lpName(n), i, 1))); rec.Code != 204 {
			t.Errorf("line protocol write to a %d-byte name: %d %s", len(n), rec.Code, rec.Body)
		}
		body := fmt.Sprintf(`{"collection":%q,"device_id":"d","time":2,"fields":{"v":%d}}`, n, i)
		if rec := do(s.mux, "POST", "/api/v1/write?precision=ns", jsonCT, []byte(body)); rec.Code != 204 {
			t.Errorf("JSON write to a %d-byte name: %d %s", len(n), rec.Code, rec.Body)
		}
		if rec := do(s.mux, "PUT", "/api/v1/admin/collections/"+url.PathEscape(n), jsonCT, []byte(`{"retention":{"1h":"400d"}}`)); rec.Code != 200 {
			t.Errorf("PUT settings of a %d-byte name: %d %s", len(n), rec.Code, rec.Body)
		}
		// A flush per name, so that no name hides behind another's failure.
		if rec := do(s.mux, "POST", "/api/v1/admin/flush", nil, nil); rec.Code != 204 {
			t.Fatalf("flush after a %d-byte name %.20q: %d %s", len(n), n, rec.Code, rec.Body)
		}
	}
	for _, n := range tooLong {
		want := fmt.Sprintf("collection name of %d bytes is longer than the limit of %d", len(n), max)
		if rec := do(s.mux, "POST", "/api/v1/write", nil, []byte(lpName(n)+" v=1 1\n")); rec.Code != 400 || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("line protocol write to a %d-byte name: %d %s", len(n), rec.Code, rec.Body)
		}
		if rec := do(s.mux, "POST", "/api/v1/write", jsonCT, []byte(fmt.Sprintf(`{"collection":%q,"fields":{"v":1}}`, n))); rec.Code != 400 || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("JSON write to a %d-byte name: %d %s", len(n), rec.Code, rec.Body)
		}
		if rec := do(s.mux, "PUT", "/api/v1/admin/collections/"+url.PathEscape(n), jsonCT, []byte(`{"rollups":false}`)); rec.Code != 400 ||
			!strings.Contains(rec.Body.String(), fmt.Sprintf("collection name must be 1 to %d bytes, got %d", max, len(n))) {
			t.Errorf("PUT settings of a %d-byte name: %d %s", len(n), rec.Code, rec.Body)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open()
	defer db.Close()
	s = newServer(db, Options{Logger: logger})
	for i, n := range ok {
		cols, err := db.Read(context.Background(), n, model.Tags{{Key: "device_id", Value: "d"}}, []string{"v"}, math.MinInt64, math.MaxInt64)
		if err != nil || len(cols) != 1 || cols[0].Len() != 2 || cols[0].Floats[0] != float64(i) || cols[0].Floats[1] != float64(i) {
			t.Errorf("a %d-byte name after a restart: %v, %v", len(n), cols, err)
		}
		if rec := do(s.mux, "GET", "/api/v1/admin/collections/"+url.PathEscape(n), nil, nil); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"1h":"400d"`) {
			t.Errorf("GET settings of a %d-byte name after a restart: %d %s", len(n), rec.Code, rec.Body)
		}
	}
	for _, n := range tooLong {
		if _, ok := db.Fields(n); ok {
			t.Errorf("a refused %d-byte name exists", len(n))
		}
	}
}
