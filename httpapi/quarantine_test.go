package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

// TestQuarantineIsReported: a node whose raw file was truncated while it
// was stopped starts, says so on /ready (200, "degraded", the file listed)
// and /metrics (a gauge), logs an ERROR naming the file, fails the queries
// that need the file with a message naming it, and answers the others.
func TestQuarantineIsReported(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	open := func() *storage.DB {
		db, err := storage.Open(dir, &storage.Options{NumGroups: 1, FlushInterval: -1, Sync: wal.SyncNever, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	s := newServer(db, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if rec := do(s.mux, "POST", "/api/v1/write?precision=s", nil, []byte("cpu,device_id=d1 v=1 1772323200\ncpu,device_id=d1 v=2 1772409600\nmem,device_id=d1 v=3 1772323200\n")); rec.Code != 204 {
		t.Fatalf("write: %d %s", rec.Code, rec.Body)
	}
	if err := db.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if rec := do(s.mux, "GET", "/metrics", nil, nil); !strings.Contains(rec.Body.String(), "\nsoltix_quarantined_files 0\n") {
		t.Errorf("/metrics of a healthy node lacks soltix_quarantined_files 0")
	}
	if rec := do(s.mux, "GET", "/ready", nil, nil); rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), `{"status":"ready",`) || strings.Contains(rec.Body.String(), "quarantined") {
		t.Errorf("/ready of a healthy node: %d %s", rec.Code, rec.Body)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	victims, _ := filepath.Glob(filepath.Join(dir, "collections", "cpu", "group_0000", "20260301T*.col"))
	if len(victims) != 1 {
		t.Fatalf("raw files of cpu on 2026-03-01: %v", victims)
	}
	if err := os.Truncate(victims[0], 30); err != nil {
		t.Fatal(err)
	}
	logs.Reset()

	db = open()
	defer db.Close()
	s = newServer(db, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	rel := "quarantine/collections/cpu/group_0000/" + filepath.Base(victims[0])
	if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, victims[0]) {
		t.Errorf("log lacks an ERROR naming %s:\n%s", victims[0], l)
	}

	rec := do(s.mux, "GET", "/ready", nil, nil)
	var ready struct {
		Status      string                    `json:"status"`
		Quarantined []storage.QuarantinedFile `json:"quarantined"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &ready); err != nil || rec.Code != 200 || ready.Status != "degraded" ||
		len(ready.Quarantined) != 1 || ready.Quarantined[0].Path != rel || ready.Quarantined[0].Collection != "cpu" ||
		!strings.Contains(ready.Quarantined[0].Reason, "file too short") {
		t.Errorf("/ready: %d %s", rec.Code, rec.Body)
	}
	if rec := do(s.mux, "GET", "/metrics", nil, nil); !strings.Contains(rec.Body.String(), "\nsoltix_quarantined_files 1\n") {
		t.Errorf("/metrics lacks soltix_quarantined_files 1")
	}

	query := func(q string) (int, string) {
		rec := do(s.mux, "GET", "/api/v1/query?q="+url.QueryEscape(q), nil, nil)
		return rec.Code, rec.Body.String()
	}
	for _, q := range []string{
		"SELECT count(v) FROM cpu",
		"SELECT v FROM cpu WHERE time < '2026-03-02'",
		"SELECT count(v) FROM cpu GROUP BY 1d",
		"SELECT v FROM cpu WHERE device_id = 'unknown'",
	} {
		if code, body := query(q); code != 500 || !strings.Contains(body, rel) || !strings.Contains(body, "quarantined file") {
			t.Errorf("%s: %d %s, want 500 naming %s", q, code, body, rel)
		}
	}
	for q, want := range map[string]string{
		"SELECT count(v) FROM mem":                            `Z",1]]`,
		"SELECT count(v) FROM cpu WHERE time >= '2026-03-02'": `Z",1]]`,
	} {
		if code, body := query(q); code != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s, want 200 with %s", q, code, body, want)
		}
	}
}
