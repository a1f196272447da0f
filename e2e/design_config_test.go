package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
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
	if code, err := s.write("design,device_id=d1 v=1 1000000000000\n"); err != nil || code != http.StatusNoContent {
		t.Fatalf("write: %d, %v", code, err)
	}
	nc, err := natsgo.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Publish("soltix.ingest.design", []byte("design,device_id=d2 v=2 1000000000\n")); err != nil {
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
	for _, key := range []string{"server.grpc_port", "storage.retention_days", "aggregation.levels", "metadata.etcd_urls", "compression.method"} {
		if !strings.Contains(logs, "not honoured") || !strings.Contains(logs, "key="+key+" ") {
			t.Errorf("start-up log does not name %s as not honoured:\n%s", key, logs)
		}
	}
	for _, key := range []string{"server.port", "storage.data_dir", "wal.enabled", "wal.rotation_size", "wal.rotation_time", "aggregation.enabled", "message_bus.nats_url"} {
		if !regexp.MustCompile(`(?m)mapped" key=` + regexp.QuoteMeta(key) + `( |$)`).MatchString(logs) {
			t.Errorf("start-up log does not say what %s was mapped to:\n%s", key, logs)
		}
	}
}
