package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/storage"
)

func TestLoadConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:7000\ndata_dir: /from/file\nstorage:\n  flush_interval: 2m\n  num_groups: 8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("listn: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		listen  string
		dataDir string
		flush   time.Duration
		walSync string
		err     string
	}{
		{name: "defaults", listen: "127.0.0.1:5050", dataDir: "./data", walSync: "always"},
		{name: "env", env: map[string]string{"SOLTIX_LISTEN": ":1", "SOLTIX_DATA_DIR": "/env", "SOLTIX_FLUSH_INTERVAL": "5s"},
			listen: ":1", dataDir: "/env", flush: 5 * time.Second, walSync: "always"},
		{name: "file over env", args: []string{"--config", file}, env: map[string]string{"SOLTIX_LISTEN": ":1", "SOLTIX_WAL_SYNC": "never"},
			listen: "127.0.0.1:7000", dataDir: "/from/file", flush: 2 * time.Minute, walSync: "never"},
		{name: "config from env", env: map[string]string{"SOLTIX_CONFIG": file}, listen: "127.0.0.1:7000", dataDir: "/from/file", flush: 2 * time.Minute, walSync: "always"},
		{name: "flags over file", args: []string{"--config", file, "--listen", ":9", "--data-dir", "/flag", "--wal-sync", "never"},
			listen: ":9", dataDir: "/flag", flush: 2 * time.Minute, walSync: "never"},
		{name: "unknown key", args: []string{"--config", bad}, err: "listn"},
		{name: "missing file", args: []string{"--config", filepath.Join(dir, "nope.yaml")}, err: "nope.yaml"},
		{name: "bad wal sync", args: []string{"--wal-sync", "sometimes"}, err: "wal_sync"},
		{name: "bad env duration", env: map[string]string{"SOLTIX_FLUSH_INTERVAL": "soon"}, err: "SOLTIX_FLUSH_INTERVAL"},
		{name: "stray argument", args: []string{"extra"}, err: "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig("serve", tc.args, env(tc.env))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("loadConfig(%v, %v) error = %v, want one mentioning %q", tc.args, tc.env, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig(%v, %v): %v", tc.args, tc.env, err)
			}
			got := []any{cfg.Listen, cfg.DataDir, time.Duration(cfg.Storage.FlushInterval), cfg.Storage.WALSync}
			want := []any{tc.listen, tc.dataDir, tc.flush, tc.walSync}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("loadConfig(%v, %v) = %v, want %v", tc.args, tc.env, got, want)
					break
				}
			}
		})
	}
}

func TestQueryCommandPrintsTable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" || r.FormValue("q") == "" {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		if r.FormValue("q") == "bad" {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"1:1: unexpected \"bad\""}`))
			return
		}
		w.Write([]byte(`{"columns":["time","device_id","avg(v)"],"rows":[["2026-01-01T00:00:00Z","d1",21.75],["2026-01-01T01:00:00Z","d2",null]]}`))
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	if code := run([]string{"query", "--server", srv.URL, "SELECT avg(v) FROM dev"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	want := "time                  device_id  avg(v)\n" +
		"----                  ---------  ------\n" +
		"2026-01-01T00:00:00Z  d1         21.75\n" +
		"2026-01-01T01:00:00Z  d2         null\n" +
		"(2 rows)\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"query", "--server", srv.URL, "bad"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), `unexpected "bad"`) {
		t.Errorf("bad query: exit %d, stderr %q; want exit 1 and the server's message", code, errb.String())
	}
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

// TestConfigCollections loads per-collection settings from YAML and applies
// them to a real DB; a bad level or duration is an error naming the key.
func TestConfigCollections(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	yaml := "collections:\n  dev:\n    retention:\n      raw: 7d\n      1h: 365d\n      1d: 5y\n  logs:\n    rollups: false\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig("serve", []string{"--config", file}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(filepath.Join(dir, "data"), &storage.Options{FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := applyCollections(db, cfg.Collections); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	dev := db.CollectionSettings("dev")
	if dev.NoRollups || dev.Retention[0] != 7*day || dev.Retention[1] != 365*day || dev.Retention[2] != 5*365*day || dev.Retention[3] != 0 {
		t.Errorf("dev settings %+v", dev)
	}
	if !db.CollectionSettings("logs").NoRollups {
		t.Errorf("logs settings %+v, want rollups off", db.CollectionSettings("logs"))
	}
	for _, bad := range []struct{ yaml, want string }{
		{"collections:\n  dev:\n    retention:\n      2h: 7d\n", "collections.dev"},
		{"collections:\n  dev:\n    retention:\n      raw: soon\n", "soon"},
		{"collections:\n  dev:\n    retention:\n      1y: 10y\n", "1y"},
	} {
		if err := os.WriteFile(file, []byte(bad.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig("serve", []string{"--config", file}, func(string) string { return "" })
		if err == nil {
			err = applyCollections(db, cfg.Collections)
		}
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want one mentioning %q", bad.yaml, err, bad.want)
		}
	}
}
