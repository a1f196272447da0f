package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/httpapi"
)

func TestHTTPConfig(t *testing.T) {
	dir := t.TempDir()
	file := func(body string) string {
		f, err := os.CreateTemp(dir, "c*.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(body); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return f.Name()
	}
	full := file(`http:
  max_body_bytes: 1048576
  max_inflight_body_bytes: 8388608
  body_timeout: 30s
  read_header_timeout: 5s
  idle_timeout: 1m
  max_header_bytes: 32768
  max_connections: 100
  allowed_origins: [https://grafana.example.com]
  allowed_hosts: [db.internal, "proxy.local:8080"]
`)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want HTTPConfig
		err  string
	}{
		{name: "defaults"},
		{name: "file", args: []string{"--config", full}, want: HTTPConfig{MaxBodyBytes: 1 << 20, MaxInflightBodyBytes: 8 << 20,
			BodyTimeout: Duration(30 * time.Second), ReadHeaderTimeout: Duration(5 * time.Second), IdleTimeout: Duration(time.Minute), MaxHeaderBytes: 32 << 10, MaxConnections: 100,
			AllowedOrigins: []string{"https://grafana.example.com"}, AllowedHosts: []string{"db.internal", "proxy.local:8080"}}},
		{name: "env", env: map[string]string{"SOLTIX_MAX_INFLIGHT_BODY_BYTES": "134217728", "SOLTIX_ALLOWED_ORIGINS": "https://a.example, http://b.example:3000",
			"SOLTIX_ALLOWED_HOSTS": "db.internal"},
			want: HTTPConfig{MaxInflightBodyBytes: 128 << 20, AllowedOrigins: []string{"https://a.example", "http://b.example:3000"}, AllowedHosts: []string{"db.internal"}}},
		{name: "bad env size", env: map[string]string{"SOLTIX_MAX_INFLIGHT_BODY_BYTES": "lots"}, err: "SOLTIX_MAX_INFLIGHT_BODY_BYTES"},
		{name: "budget under body", args: []string{"--config", file("http: {max_inflight_body_bytes: 1024}\n")}, err: "http.max_inflight_body_bytes"},
		{name: "negative timeout", args: []string{"--config", file("http: {body_timeout: -1s}\n")}, err: "http.body_timeout"},
		{name: "origin with path", args: []string{"--config", file("http: {allowed_origins: [\"https://a.example/x\"]}\n")}, err: "http.allowed_origins"},
		{name: "origin without scheme", args: []string{"--config", file("http: {allowed_origins: [a.example]}\n")}, err: "http.allowed_origins"},
		{name: "any origin", args: []string{"--config", file("http: {allowed_origins: [\"*\"]}\n")}, want: HTTPConfig{AllowedOrigins: []string{"*"}}},
		{name: "bad host", args: []string{"--config", file("http: {allowed_hosts: [\"http://a\"]}\n")}, err: "http.allowed_hosts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig("serve", tc.args, func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("loadConfig(%v, %v) error = %v, want one naming %q", tc.args, tc.env, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig(%v, %v): %v", tc.args, tc.env, err)
			}
			h := cfg.HTTP
			if h.MaxBodyBytes != tc.want.MaxBodyBytes || h.MaxInflightBodyBytes != tc.want.MaxInflightBodyBytes || h.BodyTimeout != tc.want.BodyTimeout ||
				h.ReadHeaderTimeout != tc.want.ReadHeaderTimeout || h.IdleTimeout != tc.want.IdleTimeout || h.MaxHeaderBytes != tc.want.MaxHeaderBytes || h.MaxConnections != tc.want.MaxConnections ||
				!slices.Equal(h.AllowedOrigins, tc.want.AllowedOrigins) || !slices.Equal(h.AllowedHosts, tc.want.AllowedHosts) {
				t.Errorf("loadConfig(%v, %v).HTTP = %+v, want %+v", tc.args, tc.env, h, tc.want)
			}
		})
	}
}

// TestServeWiring checks that serve hands the HTTP settings to the handler
// and the server.
func TestServeWiring(t *testing.T) {
	cfg := defaultConfig()
	cfg.HTTP = HTTPConfig{MaxBodyBytes: 1 << 20, MaxInflightBodyBytes: 8 << 20, BodyTimeout: Duration(30 * time.Second),
		ReadHeaderTimeout: Duration(5 * time.Second), IdleTimeout: Duration(time.Minute), MaxHeaderBytes: 32 << 10,
		AllowedOrigins: []string{"https://g.example"}, AllowedHosts: []string{"db.internal"}}
	log := newLogger(&cfg, &strings.Builder{})
	o := cfg.httpOptions("127.0.0.1:5050", log)
	if o.MaxBodyBytes != 1<<20 || o.MaxInflightBodyBytes != 8<<20 || o.BodyTimeout != 30*time.Second || o.Listen != "127.0.0.1:5050" ||
		!slices.Equal(o.AllowedOrigins, cfg.HTTP.AllowedOrigins) || !slices.Equal(o.AllowedHosts, cfg.HTTP.AllowedHosts) || len(o.OpenAPI) == 0 {
		t.Errorf("httpOptions = %+v, want the configured limits", o)
	}
	srv := httpapi.NewServer(nil, cfg.serverConfig(log))
	if srv.ReadHeaderTimeout != 5*time.Second || srv.IdleTimeout != time.Minute || srv.MaxHeaderBytes != 32<<10 ||
		srv.ReadTimeout != 0 || srv.WriteTimeout != 0 || !srv.Protocols.UnencryptedHTTP2() {
		t.Errorf("server: ReadHeaderTimeout %s IdleTimeout %s MaxHeaderBytes %d ReadTimeout %s WriteTimeout %s h2c %v",
			srv.ReadHeaderTimeout, srv.IdleTimeout, srv.MaxHeaderBytes, srv.ReadTimeout, srv.WriteTimeout, srv.Protocols.UnencryptedHTTP2())
	}
}

// TestStorageConfigRefusesBadValues checks that storage settings a server
// cannot run with are refused at start-up naming the key, instead of being
// replaced by a default (a negative partition or flush interval) or
// accepted (a 1ns partition writes one file per distinct nanosecond: 5,000
// points made 5,000 files and a 24 s flush; a negative flush interval stops
// the background flusher, so writes stall and get 503 for ever).
func TestStorageConfigRefusesBadValues(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		yaml string
		env  map[string]string
		err  string // "" for accepted
	}{
		{yaml: "storage: {partition: 24h, flush_interval: 10m, write_stall_timeout: 5s, max_memory_points: 1000, num_groups: 4, compact_files: -1}"},
		{yaml: "storage: {partition: 1m}"},
		{yaml: "storage: {partition: 1ns}", err: "storage.partition"},
		{yaml: "storage: {partition: 59s}", err: "storage.partition"},
		{yaml: "storage: {partition: -1h}", err: "storage.partition"},
		{yaml: "storage: {flush_interval: -1s}", err: "storage.flush_interval"},
		{env: map[string]string{"SOLTIX_FLUSH_INTERVAL": "-5m"}, err: "storage.flush_interval"},
		{yaml: "storage: {write_stall_timeout: -1s}", err: "storage.write_stall_timeout"},
		{yaml: "storage: {max_memory_points: -1}", err: "storage.max_memory_points"},
		{yaml: "storage: {max_memory_bytes: 1GiB}"},
		{yaml: "storage: {max_memory_bytes: \"off\"}"},
		{yaml: "storage: {max_memory_bytes: 0}", err: "storage.max_memory_bytes"},
		{yaml: "storage: {max_memory_bytes: lots}", err: "storage.max_memory_bytes"},
		{yaml: "storage: {num_groups: -3}", err: "storage.num_groups"},
		{yaml: "storage: {compact_files: -2}", err: "storage.compact_files"},
		{yaml: "storage: {wal_segment_bytes: -5}", err: "storage.wal_segment_bytes"},
	}
	for i, tc := range tests {
		var args []string
		if tc.yaml != "" {
			f := filepath.Join(dir, fmt.Sprintf("c%d.yaml", i))
			if err := os.WriteFile(f, []byte(tc.yaml+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			args = []string{"--config", f}
		}
		_, err := loadConfig("serve", args, func(k string) string { return tc.env[k] })
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s %v: %v, want it accepted", tc.yaml, tc.env, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s %v: error %v, want one naming %s", tc.yaml, tc.env, err, tc.err)
		}
	}
}

// TestLimitsConfig checks the limits section: read from the file, handed
// to the handler, and values below -1 refused naming the key.
func TestLimitsConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, yaml string
		want       LimitsConfig
		err        string
	}{
		{name: "defaults", yaml: "log: {level: info}\n"},
		{name: "set", yaml: "limits: {max_concurrent_queries: 8, max_concurrent_writes: 16, max_lines: 5000, new_series_per_minute: 60}\n",
			want: LimitsConfig{MaxConcurrentQueries: 8, MaxConcurrentWrites: 16, MaxLines: 5000, NewSeriesPerMinute: 60}},
		{name: "off", yaml: "limits: {max_concurrent_queries: -1, new_series_per_minute: -1}\n",
			want: LimitsConfig{MaxConcurrentQueries: -1, NewSeriesPerMinute: -1}},
		{name: "bad queries", yaml: "limits: {max_concurrent_queries: -2}\n", err: "limits.max_concurrent_queries"},
		{name: "bad writes", yaml: "limits: {max_concurrent_writes: -5}\n", err: "limits.max_concurrent_writes"},
		{name: "bad lines", yaml: "limits: {max_lines: -2}\n", err: "limits.max_lines"},
		{name: "bad series", yaml: "limits: {new_series_per_minute: -3}\n", err: "limits.new_series_per_minute"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, fmt.Sprintf("c%d.yaml", i))
			if err := os.WriteFile(f, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := loadConfig("serve", []string{"--config", f}, func(string) string { return "" })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one naming %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Limits != tc.want {
				t.Errorf("Limits = %+v, want %+v", cfg.Limits, tc.want)
			}
			o := cfg.httpOptions("127.0.0.1:0", slog.New(slog.DiscardHandler))
			if o.MaxConcurrentQueries != tc.want.MaxConcurrentQueries || o.MaxConcurrentWrites != tc.want.MaxConcurrentWrites ||
				o.MaxLines != tc.want.MaxLines || o.NewSeriesPerMinute != tc.want.NewSeriesPerMinute {
				t.Errorf("httpOptions = %+v, want the limits %+v", o, tc.want)
			}
		})
	}
}

// storage.max_memory_bytes reaches storage.Options: unset is the engine's
// default (0), "off" no bound (-1), a size its bytes.
func TestMaxMemoryBytesOption(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{{"", 0}, {"off", -1}, {"1GiB", 1 << 30}, {"512MB", 512e6}} {
		c := Config{Storage: StorageConfig{MaxMemoryBytes: tc.in}}
		if err := c.Storage.validate(); err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got := c.storageOptions(nil).MaxMemoryBytes; got != tc.want {
			t.Errorf("max_memory_bytes %q: Options.MaxMemoryBytes %d, want %d", tc.in, got, tc.want)
		}
	}
}
