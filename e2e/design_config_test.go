package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/soltixdb/soltix/internal/natstest"
)

// TestDesignConfigFile starts `soltix serve --config design.yaml`, a
// config file in the shape of the original Soltix design
// (testdata/design.yaml, with this run's port, directory and NATS URL):
// the node listens on server.port, keeps its data in storage.data_dir,
// takes a write over HTTP and one published on message_bus.nats_url,
// answers a query with both, and its start-up log names every key it
// cannot honour.
func TestDesignConfigFile(t *testing.T) {
	ns := natstest.Start(t)
	tmpl, err := os.ReadFile("testdata/design.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	port := freePorts(t, 1)[0]
	yml := string(tmpl)
	for _, r := range []struct{ re, to string }{
		{`(?m)^  port: \d+$`, "  port: " + port},
		{`(?m)^  data_dir: .*$`, "  data_dir: " + dataDir},
		{`(?m)^  nats_url: .*$`, "  nats_url: " + ns.URL()},
	} {
		re := regexp.MustCompile(r.re)
		if !re.MatchString(yml) {
			t.Fatalf("testdata/design.yaml has no line matching %s", r.re)
		}
		yml = re.ReplaceAllString(yml, r.to)
	}
	path := filepath.Join(dir, "design.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}

	s := startBinaryArgs(t, "serve", "--config", path)
	if want := "http://127.0.0.1:" + port; s.url != want {
		t.Fatalf("serving on %s, want %s (server.host and server.port)", s.url, want)
	}
	// Recent points: storage.retention_days (30) refuses older ones.
	now := time.Now().UnixNano()
	if code, err := s.write(fmt.Sprintf("design,device_id=d1 v=1 %d\n", now)); err != nil || code != http.StatusNoContent {
		t.Fatalf("write: %d, %v", code, err)
	}
	nc, err := natsgo.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Publish("soltix.ingest.design", []byte(fmt.Sprintf("design,device_id=d2 v=2 %d\n", now-int64(time.Second)))); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// The NATS write is applied asynchronously: wait for it, bounded.
	var rows [][]any
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		rows = s.query(t, `SELECT v FROM design GROUP BY device_id`).Rows
		if len(rows) == 2 {
			break
		}
	}
	if len(rows) != 2 {
		t.Fatalf("query after an HTTP write and a NATS one: %d rows %v, want 2; logs:\n%s", len(rows), rows, s.logs)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "wal")); err != nil {
		t.Errorf("storage.data_dir not used: %v", err)
	}
	s.stop(t)

	logs := s.logs.String()
	for _, key := range []string{"server.grpc_port", "aggregation.levels", "metadata.etcd_urls", "compression.method"} {
		if !strings.Contains(logs, "not honoured") || !strings.Contains(logs, "key="+key+" ") {
			t.Errorf("start-up log does not name %s as not honoured:\n%s", key, logs)
		}
	}
	for _, key := range []string{"server.port", "storage.data_dir", "storage.retention_days", "wal.enabled", "wal.rotation_size", "wal.rotation_time", "aggregation.enabled", "message_bus.nats_url"} {
		if !regexp.MustCompile(`(?m)mapped" key=` + regexp.QuoteMeta(key) + `( |$)`).MatchString(logs) {
			t.Errorf("start-up log does not say what %s was mapped to:\n%s", key, logs)
		}
	}
}

// TestDesignConfigDefaults: the design's storage.retention_days and
// aggregation.enabled: false act on every collection of a serve node.
// Started with aggregation.enabled: false and retention_days: 0 at a fixed
// clock, the node writes no rollup file and answers GROUP BY 1d exactly
// from raw data (EXPLAIN says so). Restarted on the same data directory
// with retention_days: 1, it drops the days older than the retention at
// start-up and refuses a write older than it.
func TestDesignConfigDefaults(t *testing.T) {
	t.Setenv("SOLTIX_TEST_NOW", "2026-03-06T12:00:00Z")
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	tmpl, err := os.ReadFile("testdata/design.yaml")
	if err != nil {
		t.Fatal(err)
	}
	config := func(retentionDays int) string {
		port := freePorts(t, 1)[0]
		yml := string(tmpl)
		for _, r := range []struct{ re, to string }{
			{`(?m)^  port: \d+$`, "  port: " + port},
			{`(?m)^  data_dir: .*$`, "  data_dir: " + dataDir},
			{`(?m)^  retention_days: .*$`, fmt.Sprintf("  retention_days: %d", retentionDays)},
			{`(?m)^  enabled: true\n  levels: .*$`, "  enabled: false"},
			{`(?m)^message_bus:\n.*\n`, ""},
		} {
			re := regexp.MustCompile(r.re)
			if !re.MatchString(yml) {
				t.Fatalf("testdata/design.yaml has no line matching %s", r.re)
			}
			yml = re.ReplaceAllString(yml, r.to)
		}
		path := filepath.Join(dir, fmt.Sprintf("design%d.yaml", retentionDays))
		if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	// Hourly points from March 1 to March 6, 11:00; v is the hour's number.
	var lines strings.Builder
	type daySum struct{ n, sum int64 }
	want := map[int64]daySum{}
	for h := range 5*24 + 12 {
		ts := day0.Add(time.Duration(h) * time.Hour)
		fmt.Fprintf(&lines, "dflt,device_id=d v=%d %d\n", h, ts.UnixNano())
		d := ts.Truncate(24 * time.Hour).UnixNano()
		want[d] = daySum{want[d].n + 1, want[d].sum + int64(h)}
	}
	daily := func(s *binServer, phase string, from time.Time) {
		t.Helper()
		rows := s.query(t, `SELECT count(v), sum(v) FROM dflt WHERE time >= '2026-03-01T00:00:00Z' GROUP BY 1d FILL(none)`).Rows
		var got []string
		for _, r := range rows {
			got = append(got, fmt.Sprint(r))
		}
		var exp []string
		for d := from; d.Before(day0.Add(6 * 24 * time.Hour)); d = d.Add(24 * time.Hour) {
			w := want[d.UnixNano()]
			exp = append(exp, fmt.Sprint([]any{json.Number(fmt.Sprint(d.UnixNano())), json.Number(fmt.Sprint(w.n)), json.Number(fmt.Sprint(w.sum))}))
		}
		if !slices.Equal(got, exp) {
			t.Fatalf("%s: daily rows\n%v\nwant\n%v", phase, got, exp)
		}
	}

	s := startBinaryArgs(t, "serve", "--config", config(0))
	if code, err := s.write(lines.String()); err != nil || code != http.StatusNoContent {
		t.Fatalf("write: %d, %v", code, err)
	}
	resp, err := http.Post(s.url+"/api/v1/admin/flush", "", nil)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("flush: %v %v", resp, err)
	}
	resp.Body.Close()
	daily(s, "rollups off", day0)
	explain := fmt.Sprint(s.query(t, `EXPLAIN SELECT count(v) FROM dflt WHERE time >= '2026-03-01T00:00:00Z' GROUP BY 1d`).Rows)
	if strings.Contains(explain, "1d") || !strings.Contains(explain, "raw") {
		t.Errorf("EXPLAIN with rollups off: %s, want raw data only", explain)
	}
	var rollups []string
	filepath.WalkDir(dataDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, string(filepath.Separator)+"rollup_") {
			rollups = append(rollups, p)
		}
		return nil
	})
	if len(rollups) != 0 {
		t.Fatalf("rollups off: rollup files written: %v", rollups)
	}
	s.stop(t)
	if logs := s.logs.String(); !regexp.MustCompile(`(?m)mapped" key=aggregation.enabled to="storage.defaults.rollups: false"`).MatchString(logs) {
		t.Errorf("start-up log does not map aggregation.enabled: false:\n%s", logs)
	}

	// retention_days: 1 at 2026-03-06T12:00: raw data from the partition
	// holding March 5, 12:00 on is kept.
	s = startBinaryArgs(t, "serve", "--config", config(1))
	daily(s, "retention 1 day", day0.Add(4*24*time.Hour))
	if code, err := s.write(fmt.Sprintf("dflt,device_id=d v=1 %d\n", day0.UnixNano())); err != nil || code == http.StatusNoContent {
		t.Fatalf("a write of March 1 under a retention of 1 day: %d, %v; want it refused", code, err)
	}
	if code, err := s.write(fmt.Sprintf("dflt,device_id=d v=1 %d\n", day0.Add(5*24*time.Hour+11*time.Hour+30*time.Minute).UnixNano())); err != nil || code != http.StatusNoContent {
		t.Fatalf("a recent write: %d, %v", code, err)
	}
	s.stop(t)
	if logs := s.logs.String(); !regexp.MustCompile(`(?m)mapped" key=storage.retention_days to="storage.defaults.retention.raw: 1d"`).MatchString(logs) {
		t.Errorf("start-up log does not map storage.retention_days:\n%s", logs)
	}
}
