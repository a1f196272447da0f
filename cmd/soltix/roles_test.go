package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/etcdtest"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var servingRE = regexp.MustCompile(`serving on (https?://\S+)`)

// startRole runs a role in this process until the test ends and returns
// its URL once it prints it.
func startRole(t *testing.T, role string, args ...string) string {
	t.Helper()
	u, _ := startRoleLogs(t, role, args...)
	return u
}

// startRoleLogs is startRole that also returns the role's logs.
func startRoleLogs(t *testing.T, role string, args ...string) (string, *syncBuffer) {
	t.Helper()
	cfg, err := loadRoleConfig(role, args, func(string) string { return "" })
	if err != nil {
		t.Fatalf("soltix %s %q: %v", role, args, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil)).With("role", role)
	done := make(chan int, 1)
	run := runStorage
	if role == "router" {
		run = runRouter
	}
	go func() { done <- run(ctx, &cfg, log, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("soltix %s exited %d after its context ended; logs:\n%s", role, code, logs)
			}
		case <-time.After(time.Minute):
			t.Errorf("soltix %s did not stop within a minute of its context ending", role)
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		if m := servingRE.FindStringSubmatch(out.String()); m != nil {
			return m[1], logs
		}
		select {
		case code := <-done:
			t.Fatalf("soltix %s exited %d before serving; logs:\n%s", role, code, logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("soltix %s does not serve after a minute; logs:\n%s", role, logs)
		}
	}
}

func request(t *testing.T, method, u, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestRolesInProcess runs two storage nodes and a router in this process
// (so that the race detector sees the wiring) over a real etcd: a write and
// a query through the router, a settings change applied by the nodes, the
// nodes' probes and counters, and a clean stop of each role.
func TestRolesInProcess(t *testing.T) {
	etcd := etcdtest.Start(t)
	dir := t.TempDir()
	// Both nodes must be up before the groups are placed: with min_nodes 1
	// the first node takes every group and the coordinator then moves some
	// to the second, and a write racing a move is answered 503 (retry).
	cfgPath := filepath.Join(dir, "soltix.yaml")
	if err := os.WriteFile(cfgPath, []byte("cluster:\n  min_nodes: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"--etcd", etcd.ClientURL(), "--config", cfgPath}
	// Registered last, stopped first: the router, then the nodes, then etcd.
	var nodes []string
	for _, id := range []string{"a", "b"} {
		nodes = append(nodes, startRole(t, "storage", append([]string{"--node-id", id, "--listen", "127.0.0.1:0", "--data-dir", dir + "/" + id}, common...)...))
	}
	router := startRole(t, "router", append([]string{"--listen", "127.0.0.1:0"}, common...)...)

	// Every group placed, on the two nodes.
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := request(t, http.MethodGet, router+"/api/v1/cluster", "")
		if code == http.StatusOK && strings.Count(body, `"state":"ok"`) == 16 && strings.Count(body, `"state":"up"`) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /api/v1/cluster: %d %s, want 16 groups ok and 2 nodes up", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, n := range nodes {
		if code, body := request(t, http.MethodGet, n+"/ready", ""); code != http.StatusOK {
			t.Errorf("%s/ready: %d %s", n, code, body)
		}
	}

	var lp strings.Builder
	for d := range 20 {
		lp.WriteString("m,device_id=d" + string(rune('a'+d)) + " v=2 1767225600000000000\n")
	}
	if code, body := request(t, http.MethodPost, router+"/api/v1/write", lp.String()); code != http.StatusNoContent {
		t.Fatalf("write through the router: %d %s", code, body)
	}
	q := router + "/api/v1/query?q=" + url.QueryEscape("SELECT count(v), sum(v) FROM m")
	if code, body := request(t, http.MethodGet, q, ""); code != http.StatusOK || !strings.Contains(body, `,20,40]]`) {
		t.Errorf("query through the router: %d %s, want count 20 and sum 40", code, body)
	}
	written := 0
	for _, n := range nodes {
		_, body := request(t, http.MethodGet, n+"/metrics", "")
		m := regexp.MustCompile(`(?m)^soltix_node_points_written_total (\d+)$`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("%s/metrics has no soltix_node_points_written_total:\n%s", n, body)
		}
		n, _ := strconv.Atoi(m[1])
		written += n
	}
	if written != 20 {
		t.Errorf("the nodes' soltix_node_points_written_total add up to %d, want the 20 points", written)
	}

	// Rollups off through the router: applied on the nodes before the
	// answer, so EXPLAIN plans raw data at once.
	code, body := request(t, http.MethodPut, router+"/api/v1/admin/collections/m", `{"rollups": false}`)
	if code != http.StatusOK || !strings.Contains(body, `"rollups":false`) {
		t.Fatalf("PUT rollups false: %d %s", code, body)
	}
	if code, body := request(t, http.MethodGet, router+"/api/v1/admin/collections", ""); code != http.StatusOK || !strings.Contains(body, `"name":"m","rollups":false`) {
		t.Errorf("GET collections after the PUT: %d %s", code, body)
	}
	q = router + "/api/v1/query?format=csv&q=" + url.QueryEscape("EXPLAIN SELECT max(v) FROM m WHERE time >= '2025-01-01T00:00:00Z' AND time < '2027-01-01T00:00:00Z'")
	if code, body := request(t, http.MethodGet, q, ""); code != http.StatusOK || strings.Contains(body, ",1y,") || strings.Contains(body, ",1M,") || !strings.Contains(body, ",raw,") {
		t.Errorf("EXPLAIN with rollups off: %d %s, want raw segments only", code, body)
	}
}
