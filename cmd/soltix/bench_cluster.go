package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/internal/etcdtest"
	"github.com/soltixdb/soltix/internal/natstest"
)

// benchNumGroups is cluster.num_groups of the cluster bench starts: the
// default of serve's storage.num_groups, so both hash devices alike.
const benchNumGroups = 16

// benchCluster is what `soltix bench --cluster N` runs the suites
// against: a real etcd, N `soltix storage` processes and one
// `soltix router` of this binary, on free loopback ports, with their data
// under one directory.
type benchCluster struct {
	dir    string
	etcd   *etcdtest.Server
	nats   *natstest.Server // nil without replication
	nodes  []*benchServer
	router *benchServer
}

// startBenchCluster starts etcd, n storage nodes and a router under dir
// with the WAL policy and shard tag bench gives serve, and returns once
// every group has a primary that is up.
func startBenchCluster(dir string, n, replication int, walSync, shardTag string, stderr io.Writer) (_ *benchCluster, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c := &benchCluster{dir: dir}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	c.etcd, err = etcdtest.StartProcess(filepath.Join(dir, "etcd"))
	if err != nil {
		return nil, err
	}
	config := filepath.Join(dir, "soltix.yaml")
	yaml := fmt.Sprintf("cluster:\n  etcd: [%s]\n  name: bench\n  num_groups: %d\n  min_nodes: %d\n",
		c.etcd.ClientURL(), benchNumGroups, n)
	if replication > 1 {
		// A nats-server (Debian's, as the tests use) for the replication
		// stream.
		c.nats, err = natstest.StartProcess(filepath.Join(dir, "nats"), natstest.Options{})
		if err != nil {
			return nil, err
		}
		yaml += fmt.Sprintf("  replication_factor: %d\n  nats: [%s]\n", replication, c.nats.URL())
	}
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		return nil, err
	}
	env := []string{"SOLTIX_LOG_LEVEL=warn", "SOLTIX_SHARD_TAG=" + shardTag}
	for i := range n {
		id := "s" + strconv.Itoa(i+1)
		nodeDir := filepath.Join(dir, id)
		s, err := startBenchProc(nodeDir, []string{exe, "storage", "--node-id", id, "--listen", "127.0.0.1:0",
			"--data-dir", nodeDir, "--wal-sync", walSync, "--config", config}, env, stderr)
		if err != nil {
			return nil, fmt.Errorf("storage node %s: %w", id, err)
		}
		c.nodes = append(c.nodes, s)
	}
	c.router, err = startBenchProc("", []string{exe, "router", "--listen", "127.0.0.1:0", "--config", config}, env, stderr)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.waitWhole(ctx, n); err != nil {
		return nil, err
	}
	return c, nil
}

// waitWhole polls the router's GET /api/v1/cluster until n nodes are up
// and every group is ok on one of them.
func (c *benchCluster) waitWhole(ctx context.Context, n int) error {
	why := "no answer yet"
	for {
		if st, err := getClusterStatus(ctx, c.router.url); err != nil {
			why = err.Error()
		} else {
			why = clusterNotWhole(st, n)
			if why == "" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the cluster is not whole: %s", why)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// clusterNotWhole says why st is not a cluster of n up nodes with every
// group ok on one of them ("" when it is).
func clusterNotWhole(st *httpapi.ClusterStatus, n int) string {
	up := map[string]bool{}
	for _, nd := range st.Nodes {
		if nd.State == httpapi.NodeUp {
			up[nd.ID] = true
		}
	}
	if len(up) != n {
		return fmt.Sprintf("%d nodes up, want %d", len(up), n)
	}
	if len(st.Groups) != st.NumGroups || st.NumGroups == 0 {
		return fmt.Sprintf("%d groups in the map of %d", len(st.Groups), st.NumGroups)
	}
	for _, g := range st.Groups {
		if g.State != httpapi.GroupOK || !up[g.Primary] {
			return fmt.Sprintf("group %d is %s on %q", g.ID, g.State, g.Primary)
		}
	}
	return ""
}

func getClusterStatus(ctx context.Context, base string) (*httpapi.ClusterStatus, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/cluster", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/cluster: HTTP %d", resp.StatusCode)
	}
	var st httpapi.ClusterStatus
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("GET /api/v1/cluster: %w", err)
	}
	return &st, nil
}

// stop stops the router, the storage nodes (they flush and leave the
// cluster), then etcd.
func (c *benchCluster) stop() {
	if c.router != nil {
		c.router.stop()
	}
	for _, s := range c.nodes {
		s.stop()
	}
	if c.etcd != nil {
		c.etcd.Stop()
	}
	if c.nats != nil {
		c.nats.Stop()
	}
}

// replicationLag sums, over the storage nodes' /metrics, what replicas
// have yet to apply: the messages pending, and the groups whose replicas
// are behind their primary's last published sequence.
func (c *benchCluster) replicationLag(ctx context.Context) (pending uint64, behind int, err error) {
	primary := map[string]uint64{}
	replica := map[string][]uint64{}
	for _, s := range c.nodes {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/metrics", nil)
		if err != nil {
			return 0, 0, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, 0, err
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		if err != nil {
			return 0, 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if m := benchSeqLine.FindStringSubmatch(line); m != nil {
				v, _ := strconv.ParseUint(m[3], 10, 64)
				if m[2] == "primary" {
					primary[m[1]] = v
				} else {
					replica[m[1]] = append(replica[m[1]], v)
				}
			} else if rest, ok := strings.CutPrefix(line, "soltix_replication_pending_messages{"); ok {
				if i := strings.LastIndexByte(rest, ' '); i >= 0 {
					v, _ := strconv.ParseUint(rest[i+1:], 10, 64)
					pending += v
				}
			}
		}
	}
	for g, rs := range replica {
		for _, v := range rs {
			if v < primary[g] {
				behind++
				break
			}
		}
	}
	return pending, behind, nil
}

var benchSeqLine = regexp.MustCompile(`^soltix_replication_last_sequence\{group="(\d+)",role="(\w+)"\} (\d+)$`)

// waitReplicated polls replicationLag until no replica is behind, and
// returns how long that took.
func (c *benchCluster) waitReplicated(ctx context.Context) (time.Duration, error) {
	t := time.Now()
	for {
		_, behind, err := c.replicationLag(ctx)
		if err == nil && behind == 0 {
			return time.Since(t), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("replicas still behind (%d groups): %w", behind, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// benchProcs names the processes whose CPU time a run adds up: serve
// alone, or the router and every storage node. etcd is apart.
type benchProcs struct {
	names []string
	pids  []int
	etcd  int // 0: none
	nats  int // 0: none
}

func serveProcs(s *benchServer) benchProcs {
	return benchProcs{names: []string{"serve"}, pids: []int{s.cmd.Process.Pid}}
}

func (c *benchCluster) procs() benchProcs {
	p := benchProcs{names: []string{"router"}, pids: []int{c.router.cmd.Process.Pid}, etcd: c.etcd.Pid()}
	if c.nats != nil {
		p.nats = c.nats.Pid()
	}
	for i, s := range c.nodes {
		p.names = append(p.names, "storage s"+strconv.Itoa(i+1))
		p.pids = append(p.pids, s.cmd.Process.Pid)
	}
	return p
}

// cpuSample is the CPU seconds of each process of a benchProcs (and of
// etcd) at one moment.
type cpuSample struct {
	each []float64
	etcd float64
	nats float64
}

func (p benchProcs) sample() (cpuSample, error) {
	var s cpuSample
	var errs []error
	for _, pid := range p.pids {
		v, err := procCPUSeconds(pid)
		errs = append(errs, err)
		s.each = append(s.each, v)
	}
	if p.etcd != 0 {
		v, err := procCPUSeconds(p.etcd)
		errs = append(errs, err)
		s.etcd = v
	}
	if p.nats != 0 {
		v, err := procCPUSeconds(p.nats)
		errs = append(errs, err)
		s.nats = v
	}
	return s, errors.Join(errs...)
}

// benchCPU is the CPU time a phase cost the server processes.
type benchCPU struct {
	// Seconds is each process's CPU seconds (user + system) in the
	// phase: "serve", or "router" and "storage sN".
	Seconds map[string]float64 `json:"seconds"`
	// Total adds up Seconds (serve, or router and storage: not etcd).
	Total float64 `json:"total_seconds"`
	// Etcd is etcd's CPU seconds in the phase (cluster only).
	Etcd float64 `json:"etcd_seconds,omitempty"`
	// NATS is the nats-server's CPU seconds in the phase (replication
	// only), apart like etcd's.
	NATS float64 `json:"nats_seconds,omitempty"`
	// PerMValues is Total per million values written (ingest phases).
	PerMValues float64 `json:"seconds_per_million_values,omitempty"`
	// PerQueryMs is Total per query run, in milliseconds (query phase).
	PerQueryMs float64 `json:"ms_per_query,omitempty"`
}

// cpuBetween is the CPU spent between two samples of p.
func (p benchProcs) cpuBetween(a, b cpuSample) *benchCPU {
	c := &benchCPU{Seconds: map[string]float64{}}
	for i, name := range p.names {
		d := b.each[i] - a.each[i]
		c.Seconds[name] = d
		c.Total += d
	}
	if p.etcd != 0 {
		c.Etcd = b.etcd - a.etcd
	}
	if p.nats != 0 {
		c.NATS = b.nats - a.nats
	}
	return c
}
