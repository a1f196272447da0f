package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/etcdtest"
)

// This file is the cluster harness: a real etcd (internal/etcdtest), n
// `soltix storage` processes and `soltix router` processes of the built
// binary on free loopback ports, with their data under t.TempDir(). Each
// process can be stopped (SIGTERM), killed (SIGKILL) and started again on
// the same port and data directory.

// clusterOptions configure startClusterWith.
type clusterOptions struct {
	nodes       int           // storage nodes (default 3)
	routers     int           // routers (default 1)
	groups      int           // cluster.num_groups (default 16)
	partition   time.Duration // storage.partition (0: the default)
	blockSize   int           // storage.block_size (0: the default)
	now         time.Time     // SOLTIX_TEST_NOW of every process (zero: the real clock)
	jsonDebug   bool          // JSON logs at debug level (default: text at info)
	nats        string        // cluster.nats of every process ("": none)
	replication int           // cluster.replication_factor (0: the default, 1)
}

// cluster is a running cluster. Its processes are stopped when the test
// ends.
type cluster struct {
	t       testing.TB
	dir     string
	opts    clusterOptions
	config  string // the YAML file every process reads
	etcd    *etcdtest.Server
	nodes   []*clusterProc
	routers []*clusterProc
}

// clusterProc is one soltix process of a cluster, restartable on the same
// address and data directory.
type clusterProc struct {
	name string
	args []string
	env  []string
	addr string // 127.0.0.1:port, kept across restarts
	logs *binLogs

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan error
}

// clusterStartTimeout bounds a process's start and the wait for the
// cluster to be whole again.
const clusterStartTimeout = 60 * time.Second

// startCluster starts etcd, n storage nodes and one router, and waits
// until every group has a primary that is up.
func startCluster(t testing.TB, n int) *cluster {
	t.Helper()
	return startClusterWith(t, clusterOptions{nodes: n})
}

// startClusterWith starts a cluster configured by o.
func startClusterWith(t testing.TB, o clusterOptions) *cluster {
	t.Helper()
	if o.nodes == 0 {
		o.nodes = 3
	}
	if o.routers == 0 {
		o.routers = 1
	}
	if o.groups == 0 {
		o.groups = 16
	}
	bin := soltixBinary(t)
	c := &cluster{t: t, dir: t.TempDir(), opts: o}
	etcd, err := etcdtest.StartProcess(filepath.Join(c.dir, "etcd"))
	if err != nil {
		t.Fatal(err)
	}
	c.etcd = etcd
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cluster logs:\n%s", c.logs())
		}
		c.stopAll()
		etcd.Stop()
	})
	c.config = filepath.Join(c.dir, "soltix.yaml")
	var cfg strings.Builder
	// A short lease: a killed storage node is down, and registers again,
	// sooner.
	fmt.Fprintf(&cfg, "cluster:\n  etcd: [%s]\n  name: e2e\n  num_groups: %d\n  min_nodes: %d\n  lease_ttl: 2s\n", etcd.ClientURL(), o.groups, o.nodes)
	if o.nats != "" {
		fmt.Fprintf(&cfg, "  nats: [%s]\n", o.nats)
	}
	if o.replication > 0 {
		fmt.Fprintf(&cfg, "  replication_factor: %d\n", o.replication)
	}
	// Flushes only when a test asks (as startLiveServer), a WAL that is
	// written but not fsynced (SIGKILL of a process loses nothing).
	fmt.Fprintf(&cfg, "storage:\n  flush_interval: 24h\n  wal_sync: never\n")
	if o.partition > 0 {
		fmt.Fprintf(&cfg, "  partition: %s\n", o.partition)
	}
	if o.blockSize > 0 {
		fmt.Fprintf(&cfg, "  block_size: %d\n", o.blockSize)
	}
	if o.jsonDebug {
		fmt.Fprintf(&cfg, "log:\n  level: debug\n  format: json\n")
	} else {
		fmt.Fprintf(&cfg, "log:\n  level: info\n")
	}
	if err := os.WriteFile(c.config, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	env := os.Environ()
	if !o.now.IsZero() {
		env = append(env, "SOLTIX_TEST_NOW="+o.now.UTC().Format(time.RFC3339Nano))
	}
	for i := range o.nodes {
		id := "s" + strconv.Itoa(i+1)
		c.nodes = append(c.nodes, &clusterProc{name: "storage " + id, env: env, addr: freeAddr(t), logs: &binLogs{},
			args: []string{bin, "storage", "--node-id", id, "--data-dir", filepath.Join(c.dir, id), "--config", c.config}})
	}
	for i := range o.routers {
		c.routers = append(c.routers, c.newRouter(i+1))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(c.nodes)+len(c.routers))
	for i, p := range append(append([]*clusterProc{}, c.nodes...), c.routers...) {
		wg.Go(func() { errs[i] = p.start() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c.waitWhole()
	return c
}

func (c *cluster) newRouter(i int) *clusterProc {
	return &clusterProc{name: "router r" + strconv.Itoa(i), env: c.nodes[0].env, addr: freeAddr(c.t), logs: &binLogs{},
		args: []string{soltixBinary(c.t), "router", "--config", c.config}}
}

// addRouter starts one more router and waits until it answers /ready.
func (c *cluster) addRouter() *clusterProc {
	c.t.Helper()
	r := c.newRouter(len(c.routers) + 1)
	c.routers = append(c.routers, r)
	if err := r.start(); err != nil {
		c.t.Fatal(err)
	}
	c.waitWhole()
	return r
}

// addNode starts one more storage node (it joins the cluster; the
// coordinator may move groups to it) and returns once it is up.
func (c *cluster) addNode() *clusterProc {
	c.t.Helper()
	id := "s" + strconv.Itoa(len(c.nodes)+1)
	p := &clusterProc{name: "storage " + id, env: c.nodes[0].env, addr: freeAddr(c.t), logs: &binLogs{},
		args: []string{soltixBinary(c.t), "storage", "--node-id", id, "--data-dir", filepath.Join(c.dir, id), "--config", c.config}}
	c.nodes = append(c.nodes, p)
	if err := p.start(); err != nil {
		c.t.Fatal(err)
	}
	c.waitWhole()
	return p
}

// url is the first router's base URL.
func (c *cluster) url() string { return c.routers[0].url() }

// stopAll stops every process still running (at the end of a test).
func (c *cluster) stopAll() {
	for _, p := range append(append([]*clusterProc{}, c.routers...), c.nodes...) {
		if err := p.stop(); err != nil {
			c.t.Errorf("%v", err)
		}
	}
}

// restartAll restarts every process as an operator would, one at a time:
// each storage node, each router, then etcd, waiting after each until the
// cluster is whole again.
func (c *cluster) restartAll() {
	c.t.Helper()
	for _, p := range append(append([]*clusterProc{}, c.nodes...), c.routers...) {
		c.restart(p)
	}
	if err := c.etcd.Restart(); err != nil {
		c.t.Fatalf("restart etcd: %v", err)
	}
	c.waitWhole()
}

// restart stops p (SIGTERM, a clean exit wanted), starts it again and
// waits until the cluster is whole.
func (c *cluster) restart(p *clusterProc) {
	c.t.Helper()
	if err := p.stop(); err != nil {
		c.t.Fatal(err)
	}
	if err := p.start(); err != nil {
		c.t.Fatal(err)
	}
	c.waitWhole()
}

// killRestart kills p with SIGKILL, starts it again and waits until the
// cluster is whole.
func (c *cluster) killRestart(p *clusterProc) {
	c.t.Helper()
	p.kill()
	if err := p.start(); err != nil {
		c.t.Fatal(err)
	}
	c.waitWhole()
}

// status is GET /api/v1/cluster of router r.
func (c *cluster) status(r *clusterProc) (*clusterStatus, error) {
	resp, err := http.Get(r.url() + "/api/v1/cluster")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/cluster: %d %s", resp.StatusCode, body)
	}
	var st clusterStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("GET /api/v1/cluster: %w: %s", err, body)
	}
	return &st, nil
}

// clusterStatus is the answer of GET /api/v1/cluster.
type clusterStatus struct {
	NumGroups int `json:"num_groups"`
	Nodes     []struct {
		ID    string `json:"id"`
		Addr  string `json:"addr"`
		State string `json:"state"`
	} `json:"nodes"`
	Groups []struct {
		ID      int    `json:"id"`
		Primary string `json:"primary"`
		Epoch   uint64 `json:"epoch"`
		State   string `json:"state"`
	} `json:"groups"`
}

// primaries returns the primary node id of every group.
func (st *clusterStatus) primaries() map[int]string {
	m := map[int]string{}
	for _, g := range st.Groups {
		m[g.ID] = g.Primary
	}
	return m
}

// whole says why the cluster is not whole ("" when it is): every running
// storage node up at the address it listens on, every group ok on a
// primary among them.
func (c *cluster) whole(st *clusterStatus) string {
	up := map[string]string{}
	for _, n := range st.Nodes {
		if n.State == "up" {
			up[n.ID] = n.Addr
		}
	}
	for _, p := range c.nodes {
		if !p.running() {
			continue
		}
		id := strings.TrimPrefix(p.name, "storage ")
		if up[id] != p.url() {
			return fmt.Sprintf("node %s is not up at %s (%q)", id, p.url(), up[id])
		}
	}
	if len(st.Groups) != c.opts.groups {
		return fmt.Sprintf("%d groups, want %d", len(st.Groups), c.opts.groups)
	}
	for _, g := range st.Groups {
		if g.State != "ok" || up[g.Primary] == "" {
			return fmt.Sprintf("group %d is %s on %q", g.ID, g.State, g.Primary)
		}
	}
	return ""
}

// waitWhole waits until every running storage node and router answers
// /ready (a storage node is ready once registered) and every router sees
// the cluster whole.
func (c *cluster) waitWhole() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterStartTimeout)
	defer cancel()
	for _, n := range c.nodes {
		for n.running() {
			code, body := httpGet(n.url() + "/ready")
			if code == http.StatusOK {
				break
			}
			select {
			case <-ctx.Done():
				c.t.Fatalf("%s is not ready after %v: %d %s\n%s", n.name, clusterStartTimeout, code, body, c.logs())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	for _, r := range c.routers {
		if !r.running() {
			continue
		}
		var why string
		for {
			why = ""
			if code, body := httpGet(r.url() + "/ready"); code != http.StatusOK {
				why = fmt.Sprintf("/ready: %d %s", code, body)
			} else if st, err := c.status(r); err != nil {
				why = err.Error()
			} else {
				why = c.whole(st)
			}
			if why == "" {
				break
			}
			select {
			case <-ctx.Done():
				c.t.Fatalf("%s: the cluster is not whole after %v: %s\n%s", r.name, clusterStartTimeout, why, c.logs())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// logs returns every process's logs, for a failure message.
func (c *cluster) logs() string {
	var b strings.Builder
	for _, p := range append(append([]*clusterProc{}, c.nodes...), c.routers...) {
		l := p.logs.String()
		if len(l) > 6000 {
			l = "...\n" + l[len(l)-6000:]
		}
		fmt.Fprintf(&b, "---- %s (%s):\n%s", p.name, p.addr, l)
	}
	return b.String()
}

// httpGet returns the status and body of a GET (0 when unreachable).
func httpGet(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// freeAddr returns a loopback address whose port the kernel considers
// free (a process listens on it afterwards, at every restart).
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (p *clusterProc) url() string { return "http://" + p.addr }

func (p *clusterProc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// start runs the process and returns once it prints that it serves.
func (p *clusterProc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s is already running", p.name)
	}
	args := append(append([]string{}, p.args[1:]...), "--listen", p.addr)
	cmd := exec.Command(p.args[0], args...)
	cmd.Env = p.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	fmt.Fprintf(p.logs, "==== start %s\n", strings.Join(args, " "))
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	served := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			fmt.Fprintf(p.logs, "stdout: %s\n", sc.Text())
			if !ok && strings.Contains(sc.Text(), "serving on http://"+p.addr) {
				ok = true
				served <- true
			}
		}
		if !ok {
			served <- false
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case ok := <-served:
		if !ok {
			err := <-done
			return fmt.Errorf("%s exited before serving (%v); logs:\n%s", p.name, err, p.logs)
		}
	case <-time.After(clusterStartTimeout):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s did not serve within %v; logs:\n%s", p.name, clusterStartTimeout, p.logs)
	}
	p.cmd, p.done = cmd, done
	return nil
}

// stop sends SIGTERM and wants a clean exit; a stopped process is left
// alone.
func (p *clusterProc) stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	defer func() { p.cmd, p.done = nil, nil }()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("%s: SIGTERM: %w", p.name, err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			return fmt.Errorf("%s exited with %v after SIGTERM; logs:\n%s", p.name, err, p.logs)
		}
		return nil
	case <-time.After(clusterStartTimeout):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within %v of SIGTERM; logs:\n%s", p.name, clusterStartTimeout, p.logs)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *clusterProc) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.done
	fmt.Fprintf(p.logs, "==== killed\n")
	p.cmd, p.done = nil, nil
}
