package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/soltixdb/soltix/storage"
)

func TestColdConfig(t *testing.T) {
	dir := t.TempDir()
	file := func(body string) string {
		f, err := os.CreateTemp(dir, "c*.yaml")
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(body)
		f.Close()
		return f.Name()
	}
	full := file(`cold:
  s3:
    bucket: soltix-cold
    prefix: /node1/
    endpoint: http://127.0.0.1:7070
    region: eu-west-1
    path_style: true
  cache: 512MiB
  tier_interval: 1h
collections:
  cpu:
    retention: {raw: 90d}
    cold_after: {raw: 30d, 1h: 90d}
`)
	for _, tc := range []struct {
		name string
		body string
		want ColdConfig
		err  string
	}{
		{name: "none"},
		{name: "full", body: full, want: ColdConfig{S3: ColdS3Config{Bucket: "soltix-cold", Prefix: "/node1/", Endpoint: "http://127.0.0.1:7070",
			Region: "eu-west-1", PathStyle: true}, Cache: "512MiB", TierInterval: Duration(time.Hour)}},
		{name: "cache under s3", body: file("cold: {s3: {bucket: b, cache: 1GiB}}\n"), want: ColdConfig{S3: ColdS3Config{Bucket: "b", Cache: "1GiB"}}},
		{name: "no bucket", body: file("cold: {s3: {endpoint: http://x}}\n"), err: "cold.s3.bucket is required"},
		{name: "bad cache", body: file("cold: {s3: {bucket: b}, cache: lots}\n"), err: "cold.cache"},
		{name: "two caches", body: file("cold: {s3: {bucket: b, cache: 1GiB}, cache: 2GiB}\n"), err: "disagree"},
		{name: "negative interval", body: file("cold: {s3: {bucket: b}, tier_interval: -1m}\n"), err: "cold.tier_interval"},
		{name: "unknown key", body: file("cold: {s3: {bucket: b, secret: x}}\n"), err: "secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			if tc.body != "" {
				args = []string{"--config", tc.body}
			}
			cfg, err := loadConfig("serve", args, func(string) string { return "" })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one naming %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Cold != tc.want {
				t.Fatalf("cold config %+v, want %+v", cfg.Cold, tc.want)
			}
			if tc.name == "full" {
				sc := cfg.Cold.storeConfig()
				if sc.Bucket != "soltix-cold" || sc.CacheBytes != 512<<20 || !sc.PathStyle || sc.Region != "eu-west-1" {
					t.Fatalf("store config %+v", sc)
				}
				s, err := cfg.Collections["cpu"].Apply(storage.CollectionSettings{})
				if err != nil || s.ColdAfter[0] != 30*24*time.Hour || s.ColdAfter[1] != 90*24*time.Hour {
					t.Fatalf("collections.cpu.cold_after: %+v, %v", s, err)
				}
			}
		})
	}
}

// TestOpenColdPending: a bucket that does not answer at start-up leaves the
// node starting with the cold tier pending; it joins once the bucket
// answers.
func TestOpenColdPending(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("b"); err != nil {
		t.Fatal(err)
	}
	h := gofakes3.New(backend, gofakes3.WithoutVersioning()).Server()
	var down atomic.Bool
	down.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	oldTimeout, oldWait := coldOpenTimeout, coldRetryWait
	coldOpenTimeout, coldRetryWait = 5*time.Second, 10*time.Millisecond
	defer func() { coldOpenTimeout, coldRetryWait = oldTimeout, oldWait }()

	cfg := defaultConfig()
	cfg.Cold.S3 = ColdS3Config{Bucket: "b", Endpoint: srv.URL, PathStyle: true, Region: "us-east-1"}
	log := slog.New(slog.DiscardHandler)
	o := cfg.storageOptions(log)
	retry := cfg.openCold(o, log)
	if retry == nil || o.Cold != nil || !o.ColdPending {
		t.Fatalf("bucket down: retry %v, options %+v", retry != nil, o)
	}
	o.FlushInterval = -1
	db, err := storage.Open(filepath.Join(t.TempDir(), "data"), o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if st := db.ColdStats(); !st.Enabled || st.Reachable {
		t.Fatalf("ColdStats %+v", st)
	}
	down.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	retry(ctx, db)
	if st := db.ColdStats(); !st.Reachable {
		t.Fatalf("after the retries: ColdStats %+v, %v", st, ctx.Err())
	}
	if _, err := db.Tier(ctx); err != nil {
		t.Fatal(err)
	}

	// Reachable at once: the store is set, nothing to retry.
	o = cfg.storageOptions(log)
	if retry := cfg.openCold(o, log); retry != nil || o.Cold == nil || o.ColdPending {
		t.Fatalf("bucket up: retry %v, options %+v", retry != nil, o)
	}
}
