package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
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
		{name: "bad wal recovery flag", args: []string{"--wal-recovery", "lenient"}, err: "wal recovery must be strict or truncate"},
		{name: "bad wal recovery env", env: map[string]string{"SOLTIX_WAL_RECOVERY": "skip"}, err: "wal recovery must be strict or truncate"},
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

func TestWALRecoveryConfig(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want wal.Recovery
	}{
		{nil, "", wal.RecoverStrict},
		{[]string{"--wal-recovery", "truncate"}, "", wal.RecoverTruncate},
		{nil, "truncate", wal.RecoverTruncate},
		{[]string{"--wal-recovery", "strict"}, "truncate", wal.RecoverStrict},
	} {
		cfg, err := loadConfig("serve", tc.args, func(k string) string {
			if k == "SOLTIX_WAL_RECOVERY" {
				return tc.env
			}
			return ""
		})
		if err != nil {
			t.Fatalf("loadConfig(%v, SOLTIX_WAL_RECOVERY=%q): %v", tc.args, tc.env, err)
		}
		if got := cfg.storageOptions(nil).WALRecovery; got != tc.want {
			t.Errorf("loadConfig(%v, SOLTIX_WAL_RECOVERY=%q): recovery %v, want %v", tc.args, tc.env, got, tc.want)
		}
	}
}

func TestWriteStallTimeoutConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte("storage:\n  write_stall_timeout: 250ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig("serve", []string{"--config", file}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.storageOptions(nil).WriteStallTimeout; got != 250*time.Millisecond {
		t.Errorf("write_stall_timeout 250ms: storage option %v", got)
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

// TestCommandHelp runs every command with --help, -h and a bad flag: help
// goes to stdout with exit code 0, a bad flag to stderr with 2, and no
// line of any help is wider than 80 columns or broken inside a word.
func TestCommandHelp(t *testing.T) {
	commands := []string{"serve", "storage", "router", "query", "bench", "token", "version"}
	type tc struct {
		args     []string
		code     int
		stdout   string // substring; "" means stdout must be empty
		stderr   string // substring; "" means stderr must be empty
		wrapping bool   // check the width of stdout
	}
	var tests []tc
	for _, c := range commands {
		tests = append(tests,
			tc{args: []string{c, "--help"}, code: 0, stdout: "Usage: soltix " + c, wrapping: true},
			tc{args: []string{c, "-h"}, code: 0, stdout: "Usage: soltix " + c, wrapping: true},
			tc{args: []string{c, "-help"}, code: 0, stdout: "Usage: soltix " + c, wrapping: true},
			tc{args: []string{"help", c}, code: 0, stdout: "Usage: soltix " + c, wrapping: true},
			tc{args: []string{c, "--no-such-flag"}, code: 2, stderr: "-no-such-flag"},
		)
	}
	tests = append(tests,
		tc{args: []string{"--help"}, code: 0, stdout: "Usage:", wrapping: true},
		tc{args: []string{"-h"}, code: 0, stdout: "Usage:", wrapping: true},
		tc{args: []string{"help"}, code: 0, stdout: "Usage:", wrapping: true},
		tc{args: nil, code: 2, stderr: "Usage:"},
		tc{args: []string{"frobnicate"}, code: 2, stderr: "unknown command"},
		tc{args: []string{"query"}, code: 2, stderr: "want one query"},
		tc{args: []string{"query", "--format", "xml", "SELECT 1"}, code: 2, stderr: "unknown format"},
		tc{args: []string{"version", "extra"}, code: 2, stderr: "unexpected argument"},
		tc{args: []string{"serve", "--wal-sync", "sometimes"}, code: 2, stderr: "wal_sync"},
		tc{args: []string{"version"}, code: 0, stdout: "soltix "},
		tc{args: []string{"--version"}, code: 0, stdout: "soltix "},
		tc{args: []string{"-v"}, code: 0, stdout: "soltix "},
	)
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q; stderr %q", code, tt.code, out.String(), errb.String())
			}
			check := func(name, got, want string) {
				if want == "" && got != "" || !strings.Contains(got, want) {
					t.Errorf("%s %q, want it to contain %q", name, got, want)
				}
			}
			check("stdout", out.String(), tt.stdout)
			check("stderr", errb.String(), tt.stderr)
			if tt.wrapping {
				checkWrapped(t, out.String())
			}
		})
	}
}

// checkWrapped fails when a line is wider than 80 columns, or when a line
// shorter than 60 ends inside a paragraph although its next word would have
// fitted on it (a sentence wrapped mid-line).
func checkWrapped(t *testing.T, text string) {
	t.Helper()
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if len(line) > 80 {
			t.Errorf("line %d is %d columns wide: %q", i+1, len(line), line)
		}
		if strings.Contains(line, "\t") {
			t.Errorf("line %d has a tab: %q", i+1, line)
		}
		if i+1 == len(lines) || strings.TrimSpace(line) == "" {
			continue
		}
		next := strings.TrimSpace(lines[i+1])
		indent := len(lines[i+1]) - len(strings.TrimLeft(lines[i+1], " "))
		// A continuation line: same indentation, text right after text.
		if next == "" || indent != len(line)-len(strings.TrimLeft(line, " ")) || strings.HasPrefix(next, "-") || strings.HasPrefix(next, "soltix") {
			continue
		}
		if w := strings.Fields(next)[0]; len(line) < 60 && len(line)+1+len(w) <= 80 && !strings.HasSuffix(line, ":") && !strings.HasSuffix(line, ".") {
			t.Errorf("line %d breaks early: %q, then %q would fit", i+1, line, w)
		}
	}
}

// TestVersionText checks the build information soltix version prints.
func TestVersionText(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/soltixdb/soltix", Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "1a2b3c4d5e6f7a8b9c0d"},
			{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	tagged := *bi
	tagged.Main.Version = "v0.3.0"
	for _, tc := range []struct {
		name, ld string
		bi       *debug.BuildInfo
		ok       bool
		want     []string
	}{
		{name: "devel tree", ld: "dev", bi: bi, ok: true, want: []string{
			"soltix dev+1a2b3c4d5e6f+dirty\n", "module    github.com/soltixdb/soltix (devel)",
			"revision  1a2b3c4d5e6f7a8b9c0d", "time      2026-12-01T10:00:00Z", "modified  true", "go        go1.26.0"}},
		{name: "module version", ld: "dev", bi: &tagged, ok: true, want: []string{"soltix v0.3.0\n", "revision  1a2b3c4d5e6f7a8b9c0d"}},
		{name: "ldflags wins", ld: "v9.9.9", bi: &tagged, ok: true, want: []string{"soltix v9.9.9\n", "module    github.com/soltixdb/soltix v0.3.0"}},
		{name: "no build info", ld: "dev", ok: false, want: []string{"soltix dev\n"}},
	} {
		got := versionText(tc.ld, tc.bi, tc.ok)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: versionText =\n%s\nwant it to contain %q", tc.name, got, w)
			}
		}
	}
}

// TestQueryConfig checks the query bounds settings: defaults, environment,
// file, and refusal of values that would disable them.
func TestQueryConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "q.yaml")
	if err := os.WriteFile(file, []byte("query:\n  timeout: 5s\n  max_rows: 100\n  max_points: 2000\n  max_bytes: 3000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		timeout time.Duration
		rows    int64
		points  int64
		bytes   int64
		err     string
	}{
		{name: "defaults", timeout: 60 * time.Second, rows: 5_000_000, points: 100_000_000, bytes: 256 << 20},
		{name: "env", env: map[string]string{"SOLTIX_QUERY_TIMEOUT": "2m", "SOLTIX_QUERY_MAX_ROWS": "7", "SOLTIX_QUERY_MAX_POINTS": "9", "SOLTIX_QUERY_MAX_BYTES": "11"},
			timeout: 2 * time.Minute, rows: 7, points: 9, bytes: 11},
		{name: "file", args: []string{"--config", file}, timeout: 5 * time.Second, rows: 100, points: 2000, bytes: 3000},
		{name: "bad env", env: map[string]string{"SOLTIX_QUERY_MAX_ROWS": "many"}, err: "SOLTIX_QUERY_MAX_ROWS"},
		{name: "zero timeout", env: map[string]string{"SOLTIX_QUERY_TIMEOUT": "0s"}, err: "query.timeout must be positive"},
		{name: "negative rows", env: map[string]string{"SOLTIX_QUERY_MAX_ROWS": "-1"}, err: "query.max_rows must be positive"},
		{name: "zero points", env: map[string]string{"SOLTIX_QUERY_MAX_POINTS": "0"}, err: "query.max_points must be positive"},
		{name: "negative bytes", env: map[string]string{"SOLTIX_QUERY_MAX_BYTES": "-5"}, err: "query.max_bytes must be positive"},
	} {
		cfg, err := loadConfig("serve", tc.args, env(tc.env))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if q := cfg.Query; time.Duration(q.Timeout) != tc.timeout || q.MaxRows != tc.rows || q.MaxPoints != tc.points || q.MaxBytes != tc.bytes {
			t.Errorf("%s: %+v, want timeout %s, max_rows %d, max_points %d, max_bytes %d", tc.name, q, tc.timeout, tc.rows, tc.points, tc.bytes)
		}
	}
}
