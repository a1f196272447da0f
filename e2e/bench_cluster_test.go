package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBenchCluster runs `soltix bench` on a small data set against serve
// and through a router with one storage node (--cluster 1), and checks the
// report's shape, so that the cluster mode of docs/benchmarks.md keeps
// working: every value loaded, every query type answered, CPU time read
// for each process bench started (etcd apart), and no process left
// behind.
func TestBenchCluster(t *testing.T) {
	bin := soltixBinary(t)
	const hosts, queries = 4, 10
	// 4 hosts, 2 h at 10 s: 2,880 lines of 10 values.
	const lines, values = hosts * 720, hosts * 720 * 10
	cases := []struct {
		cluster string
		extra   []string
		target  string
		procs   []string
		rf      int
	}{
		{"0", nil, "serve", []string{"serve"}, 0},
		{"1", nil, "router and 1 storage nodes", []string{"router", "storage s1"}, 0},
		// With replication bench starts a nats-server too, and reports the
		// replicas' catch-up.
		{"2", []string{"--replication", "2", "--ack", "replicated"}, "router and 2 storage nodes, replication factor 2, ack replicated",
			[]string{"router", "storage s1", "storage s2"}, 2},
	}
	for _, c := range cases {
		t.Run("cluster="+c.cluster, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			args := append([]string{"bench", "--cluster", c.cluster, "--data-dir", dir, "--hosts", "4",
				"--duration", "2h", "--batch", "1000", "--queries", "10", "--json"}, c.extra...)
			cmd := exec.CommandContext(ctx, bin, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("soltix bench: %v\nstderr:\n%s", err, stderr.String())
			}
			var rep struct {
				Target  string  `json:"target"`
				Cluster int     `json:"cluster_nodes"`
				RF      int     `json:"replication_factor"`
				Ack     string  `json:"ack"`
				Lines   int     `json:"lines"`
				Values  int     `json:"values"`
				Rate    float64 `json:"values_per_sec"`
				Disk    int64   `json:"disk_bytes"`
				CPU     *struct {
					Load      *benchPhase `json:"load"`
					LoadFlush *benchPhase `json:"load_and_flush"`
					Queries   *benchPhase `json:"queries"`
				} `json:"cpu"`
				Queries []struct {
					Name     string  `json:"name"`
					N        int     `json:"n"`
					MedianMs float64 `json:"median_ms"`
				} `json:"queries"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("report: %v\n%s", err, stdout.String())
			}
			if rep.Target != c.target || rep.Lines != lines || rep.Values != values || rep.Rate <= 0 || rep.Disk <= 0 {
				t.Errorf("report: target %q, %d lines, %d values, %.0f values/s, %d bytes on disk; want %q, %d lines, %d values",
					rep.Target, rep.Lines, rep.Values, rep.Rate, rep.Disk, c.target, lines, values)
			}
			if rep.RF != c.rf || (c.rf > 0 && rep.Ack != "replicated") {
				t.Errorf("report: replication factor %d, ack %q; want %d", rep.RF, rep.Ack, c.rf)
			}
			if rep.CPU == nil || rep.CPU.Load == nil || rep.CPU.LoadFlush == nil || rep.CPU.Queries == nil {
				t.Fatalf("report without CPU phases:\n%s", stdout.String())
			}
			for name, ph := range map[string]map[string]float64{"load": rep.CPU.Load.Seconds,
				"load_and_flush": rep.CPU.LoadFlush.Seconds, "queries": rep.CPU.Queries.Seconds} {
				var got []string
				for p := range ph {
					got = append(got, p)
				}
				slices.Sort(got)
				if !slices.Equal(got, c.procs) {
					t.Errorf("cpu.%s names %v, want %v", name, got, c.procs)
				}
			}
			// 17 query types of 10 runs each: every process spends
			// well over the 10 ms that /proc counts in.
			for _, p := range c.procs {
				if s := rep.CPU.Queries.Seconds[p]; s <= 0 {
					t.Errorf("cpu.queries.seconds[%q] = %v, want > 0", p, s)
				}
			}
			if rep.CPU.LoadFlush.Total < rep.CPU.Load.Total || rep.CPU.Queries.PerQueryMs <= 0 {
				t.Errorf("cpu: load %v s, with the flush %v s, %v ms per query", rep.CPU.Load.Total, rep.CPU.LoadFlush.Total, rep.CPU.Queries.PerQueryMs)
			}
			if len(rep.Queries) != 18 { // bench.CPUSuite
				t.Errorf("%d query types, want 18", len(rep.Queries))
			}
			for _, q := range rep.Queries {
				if q.N != queries || q.MedianMs <= 0 {
					t.Errorf("query %s: %d runs, median %v ms; want %d runs", q.Name, q.N, q.MedianMs, queries)
				}
			}
			if left := processesUnder(t, dir); len(left) > 0 {
				t.Errorf("processes left running in %s: %v", dir, left)
			}
		})
	}
}

// benchPhase is the CPU time of one phase in soltix bench's report.
type benchPhase struct {
	Seconds    map[string]float64 `json:"seconds"`
	Total      float64            `json:"total_seconds"`
	PerMValues float64            `json:"seconds_per_million_values"`
	PerQueryMs float64            `json:"ms_per_query"`
}

// processesUnder lists the command lines of running processes that name
// dir (bench's children: serve, storage nodes, etcd).
func processesUnder(t *testing.T, dir string) []string {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		if cl := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cl, dir) {
			out = append(out, cl)
		}
	}
	return out
}
