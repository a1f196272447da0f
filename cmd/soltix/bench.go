package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/soltixdb/soltix/internal/bench"
)

const benchUsage = `Usage: soltix bench [flags]

Load a data set over HTTP and run query suites.

It starts its own server (this binary's "serve", in a temporary data
directory, so that it can report the server's peak memory, CPU time and
bytes on disk), or uses --server. With --cluster N it starts a cluster
instead: a real etcd (/usr/bin/etcd), N "soltix storage" nodes and a
"soltix router" of this binary on loopback ports, and runs the same load
and queries through the router; CPU time then adds up the router and the
storage nodes, with etcd's apart.

The data is TSBS-like cpu-only (100 hosts, 10 s, one day: 8.64 M integer
values; cpu-1m: 100,000 hosts for 3 minutes, a million field series) or
IoT trucks, generated in memory before the clock starts, or read from
--file. --dataset year is cpu-only data of one host for 365 days at 30 s
(10.5 M values; --hosts, --duration and --interval still change it), for
long ranges answered from rollups: its query rollup-1-host-range-1d is one
host's GROUP BY 1d over the whole year.
`

// benchReport is the --json output.
type benchReport struct {
	Dataset string `json:"dataset"`
	Server  string `json:"server"`
	Target  string `json:"target"`
	Cluster int    `json:"cluster_nodes,omitempty"`
	// Replication and Ack are --replication (above 1) and --ack; with
	// replication, MaxPendingMessages is the most messages the replicas
	// had yet to apply at once during the load (sampled every 100 ms), and
	// ReplicaCatchUpSec how long after the load they had applied all.
	Replication        int                `json:"replication_factor,omitempty"`
	Ack                string             `json:"ack,omitempty"`
	MaxPendingMessages uint64             `json:"replication_max_pending_messages,omitempty"`
	ReplicaCatchUpSec  float64            `json:"replication_catch_up_seconds,omitempty"`
	Machine            string             `json:"machine"`
	Date               string             `json:"date"`
	Clients            int                `json:"clients"`
	BatchLines         int                `json:"batch_lines"`
	Gzip               bool               `json:"gzip"`
	Rate               float64            `json:"offered_values_per_sec,omitempty"`
	Lines              int                `json:"lines"`
	Values             int                `json:"values"`
	Seconds            float64            `json:"seconds"`
	RowsPerSec         float64            `json:"rows_per_sec"`
	ValuesPerS         float64            `json:"values_per_sec"`
	LatencyMs          map[string]float64 `json:"write_latency_ms"`
	LoadRSSMiB         float64            `json:"server_peak_rss_load_mib,omitempty"`
	PeakRSSMiB         float64            `json:"server_peak_rss_mib,omitempty"`
	DiskBytes          int64              `json:"disk_bytes,omitempty"`
	BytesPerVal        float64            `json:"bytes_per_value,omitempty"`
	CPU                *benchCPUReport    `json:"cpu,omitempty"`
	Queries            []benchQueryReport `json:"queries,omitempty"`
	Notes              []string           `json:"notes,omitempty"`
}

// benchCPUReport is the CPU time of the processes bench started, per
// phase: the load; the load and the flush after it (the whole cost of
// putting the values in files and rollups); the query suites.
type benchCPUReport struct {
	Load      *benchCPU `json:"load"`
	LoadFlush *benchCPU `json:"load_and_flush"`
	Queries   *benchCPU `json:"queries,omitempty"`
}

type benchQueryReport struct {
	Name     string  `json:"name"`
	N        int     `json:"n"`
	MedianMs float64 `json:"median_ms"`
	P95Ms    float64 `json:"p95_ms"`
	P99Ms    float64 `json:"p99_ms"`
	Example  string  `json:"example"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func benchCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	server := fs.String("server", "", "URL of a running server (default: start one)")
	dataDir := fs.String("data-dir", "", "data directory of the server bench starts (default: a temporary one, removed afterwards)")
	dataset := fs.String("dataset", "cpu", "data set to generate: cpu (TSBS cpu-only), cpu-1m (cpu with 100,000 hosts for 3 minutes unless --hosts or --duration say otherwise: 1 M series), year (cpu-only, one host, a year at 30 s) or iot")
	file := fs.String("file", "", "read line protocol from this file instead of generating")
	precision := fs.String("precision", "ns", "timestamp precision of --file")
	hosts := fs.Int("hosts", 100, "hosts (cpu) or trucks (iot)")
	start := fs.String("start", "2025-01-01T00:00:00Z", "time of the first point")
	duration := fs.Duration("duration", 24*time.Hour, "time span of the data")
	interval := fs.Duration("interval", 10*time.Second, "time between a host's points")
	clients := fs.Int("clients", 2, "concurrent writers")
	batch := fs.Int("batch", 10000, "lines per request")
	gz := fs.Bool("gzip", false, "gzip the request bodies")
	rate := fs.Float64("rate", 0, "offer this many values/s in total and count latency from each batch's due time (0: as fast as possible)")
	queries := fs.Int("queries", 50, "runs per query type (0: no queries)")
	only := fs.String("only", "", "run only the query types whose names match this `REGEXP`")
	seed := fs.Uint64("seed", 1, "random seed of the data and the queries")
	walSync := fs.String("wal-sync", "always", "fsync policy of the server bench starts: always or never")
	clusterN := fs.Int("cluster", 0, "start etcd, `N` storage nodes and a router instead of serve, and measure through the router")
	replication := fs.Int("replication", 1, "with --cluster: the replication factor; above 1 bench also starts a nats-server (/usr/sbin/nats-server) for the replication stream")
	ack := fs.String("ack", "", "with --replication: the collection's acknowledgement mode, `MODE` local or replicated (default: the nodes' default, replicated)")
	asJSON := fs.Bool("json", false, "print one JSON report instead of text")
	if code, ok := parseFlags(fs, args, benchUsage, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		badUsage(stderr, "bench", fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
		return 2
	}
	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		fmt.Fprintln(stderr, "soltix bench: --start:", err)
		return 2
	}
	if *dataset != "cpu" && *dataset != "cpu-1m" && *dataset != "iot" && *dataset != "year" {
		fmt.Fprintln(stderr, "soltix bench: --dataset must be cpu, cpu-1m, year or iot")
		return 2
	}
	if *dataset == "year" {
		yearDefaults(fs, hosts, duration, interval)
	}
	if *dataset == "cpu-1m" {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["hosts"] {
			*hosts = 100_000
		}
		if !set["duration"] {
			*duration = 3 * time.Minute
		}
	}
	if *rate < 0 {
		fmt.Fprintln(stderr, "soltix bench: --rate must not be negative")
		return 2
	}
	onlyRE, err := regexp.Compile(*only)
	if err != nil {
		fmt.Fprintln(stderr, "soltix bench: --only:", err)
		return 2
	}
	if *clusterN < 0 || (*clusterN > 0 && *server != "") {
		fmt.Fprintln(stderr, "soltix bench: --cluster must be positive and cannot go with --server")
		return 2
	}
	if *replication < 1 || (*replication > 1 && *replication > *clusterN) {
		fmt.Fprintln(stderr, "soltix bench: --replication must be between 1 and --cluster's nodes")
		return 2
	}
	if *ack != "" && (*replication < 2 || (*ack != "local" && *ack != "replicated")) {
		fmt.Fprintln(stderr, "soltix bench: --ack is local or replicated, with --replication 2 or more")
		return 2
	}
	if *batch <= 0 || *hosts <= 0 || *interval <= 0 || *duration <= 0 {
		fmt.Fprintln(stderr, "soltix bench: --batch, --hosts, --interval and --duration must be positive")
		return 2
	}
	ui := newBenchUI(stdout, *asJSON)
	ctx := context.Background()

	// The data first, so that generating it is not measured.
	ui.line("generating data ...")
	var d *bench.Data
	cfg := bench.GenConfig{Hosts: *hosts, Start: t0, Duration: *duration, Interval: *interval, Batch: *batch, Seed: *seed}
	switch {
	case *file != "":
		f, err := os.Open(*file)
		if err != nil {
			fmt.Fprintln(stderr, "soltix bench:", err)
			return 1
		}
		d, err = bench.ReadFile(*file, bufio.NewReaderSize(f, 1<<20), *batch)
		f.Close()
		if err != nil {
			fmt.Fprintln(stderr, "soltix bench:", err)
			return 1
		}
	case *dataset == "iot":
		d = bench.GenerateIoT(cfg)
	default:
		d = bench.GenerateCPU(cfg)
	}
	ui.line(fmt.Sprintf("data: %s, %d lines, %d values, %d batches, %.1f MB", d.Name, d.Lines, d.Values, len(d.Batches), float64(d.Bytes)/1e6))

	base := strings.TrimRight(*server, "/")
	target := "server at " + base
	var srv *benchServer
	var cl *benchCluster
	var procs benchProcs
	if base == "" {
		dir := *dataDir
		if dir == "" {
			dir, err = os.MkdirTemp("", "soltix-bench-")
			if err != nil {
				fmt.Fprintln(stderr, "soltix bench:", err)
				return 1
			}
			defer os.RemoveAll(dir)
		}
		shard := d.DeviceTag
		if *clusterN > 0 {
			cl, err = startBenchCluster(dir, *clusterN, *replication, *walSync, shard, stderr)
			if err != nil {
				fmt.Fprintln(stderr, "soltix bench: start cluster:", err)
				return 1
			}
			defer cl.stop()
			base, procs = cl.router.url, cl.procs()
			target = fmt.Sprintf("router and %d storage nodes", *clusterN)
			if *replication > 1 {
				target += fmt.Sprintf(", replication factor %d", *replication)
				if *ack != "" {
					target += ", ack " + *ack
				}
			}
			ui.line(fmt.Sprintf("cluster: router %s, %d storage nodes, etcd %s (started by bench, data in %s)", base, *clusterN, cl.etcd.ClientURL(), dir))
		} else {
			srv, err = startBenchServer(dir, *walSync, shard, stderr)
			if err != nil {
				fmt.Fprintln(stderr, "soltix bench: start server:", err)
				return 1
			}
			defer srv.stop()
			base, procs = srv.url, serveProcs(srv)
			target = "serve"
			ui.line("server: " + base + " (started by bench, data in " + dir + ")")
		}
	}
	// started lists the processes whose memory and disk bench reports.
	var started []*benchServer
	switch {
	case srv != nil:
		started = []*benchServer{srv}
	case cl != nil:
		started = append([]*benchServer{cl.router}, cl.nodes...)
	}
	peakRSS := func() float64 {
		var n int64
		for _, s := range started {
			n += s.peakRSS()
		}
		return float64(n) / (1 << 20)
	}
	sample := func() cpuSample {
		if len(procs.pids) == 0 {
			return cpuSample{}
		}
		s, err := procs.sample()
		if err != nil {
			fmt.Fprintln(stderr, "soltix bench:", err)
		}
		return s
	}

	rep := benchReport{Dataset: d.Name, Server: base, Target: target, Cluster: *clusterN, Machine: machine(), Date: time.Now().UTC().Format(time.RFC3339),
		Clients: *clients, BatchLines: *batch, Gzip: *gz, Rate: *rate, Lines: d.Lines, Values: d.Values}
	if cl != nil && cl.nats != nil {
		rep.Replication, rep.Ack = *replication, *ack
		if *ack != "" {
			if err := putJSON(base+"/api/v1/admin/collections/"+url.PathEscape(d.Measurement), `{"ack":"`+*ack+`"}`); err != nil {
				fmt.Fprintln(stderr, "soltix bench: set ack:", err)
				return 1
			}
		}
	}
	// With replication, what replicas have yet to apply is sampled during
	// the load.
	var maxPending atomic.Uint64
	stopLag := func() {}
	if cl != nil && cl.nats != nil {
		lctx, cancel := context.WithCancel(ctx)
		lagDone := make(chan struct{})
		go func() {
			defer close(lagDone)
			for lctx.Err() == nil {
				if p, _, err := cl.replicationLag(lctx); err == nil && p > maxPending.Load() {
					maxPending.Store(p)
				}
				select {
				case <-lctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
		stopLag = func() { cancel(); <-lagDone }
	}
	cpu0 := sample()
	res, err := bench.Load(ctx, d, bench.LoadConfig{URL: base, Clients: *clients, Gzip: *gz, Precision: *precision,
		Rate: *rate, Progress: ui.progress("load")})
	if err != nil {
		fmt.Fprintln(stderr, "soltix bench: load:", err)
		return 1
	}
	rep.Seconds = res.Elapsed.Seconds()
	rep.RowsPerSec, rep.ValuesPerS = res.RowsPerSec(), res.ValuesPerSec()
	rep.LatencyMs = map[string]float64{"p50": ms(res.P50), "p90": ms(res.P90), "p99": ms(res.P99), "max": ms(res.Max)}
	ui.line(fmt.Sprintf("load: %d lines in %.2f s: %.0f rows/s, %.0f values/s; write latency p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		res.Lines, rep.Seconds, rep.RowsPerSec, rep.ValuesPerS, ms(res.P50), ms(res.P99), ms(res.Max)))
	cpu1 := sample()
	stopLag()
	if cl != nil && cl.nats != nil {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		caught, err := cl.waitReplicated(wctx)
		cancel()
		if err != nil {
			fmt.Fprintln(stderr, "soltix bench: replication:", err)
			return 1
		}
		rep.ReplicaCatchUpSec = caught.Seconds()
		rep.MaxPendingMessages = maxPending.Load()
		ui.line(fmt.Sprintf("replication: at most %d messages pending on the replicas during the load; caught up %.3f s after it",
			rep.MaxPendingMessages, rep.ReplicaCatchUpSec))
	}
	if len(started) > 0 {
		rep.LoadRSSMiB = peakRSS()
	}

	// Flush (which rolls up) and compact, then measure the disk.
	for _, step := range []string{"flush", "compact"} {
		t := time.Now()
		if err := post(base + "/api/v1/admin/" + step); err != nil {
			fmt.Fprintf(stderr, "soltix bench: %s: %v\n", step, err)
			return 1
		}
		ui.line(fmt.Sprintf("%s: %.2f s", step, time.Since(t).Seconds()))
		if step == "flush" && len(procs.pids) > 0 {
			cpu2 := sample()
			mv := float64(d.Values) / 1e6
			rep.CPU = &benchCPUReport{Load: procs.cpuBetween(cpu0, cpu1), LoadFlush: procs.cpuBetween(cpu0, cpu2)}
			rep.CPU.Load.PerMValues = rep.CPU.Load.Total / mv
			rep.CPU.LoadFlush.PerMValues = rep.CPU.LoadFlush.Total / mv
			ui.line(fmt.Sprintf("cpu: %.3f s per M values in the load, %.3f s with the flush (%s)%s",
				rep.CPU.Load.PerMValues, rep.CPU.LoadFlush.PerMValues, cpuText(procs, rep.CPU.LoadFlush), etcdText(rep.CPU.LoadFlush)))
		}
	}
	if len(started) > 0 {
		rep.PeakRSSMiB = peakRSS()
		for _, s := range started {
			if s.dir == "" {
				continue
			}
			if n, err := dirBytes(s.dir); err == nil {
				rep.DiskBytes += n
			}
		}
		rep.BytesPerVal = float64(rep.DiskBytes) / float64(d.Values)
		ui.line(fmt.Sprintf("server: peak RSS %.0f MiB during the load, %.0f MiB with flush and compaction; data directory %d bytes, %.3f bytes per value",
			rep.LoadRSSMiB, rep.PeakRSSMiB, rep.DiskBytes, rep.BytesPerVal))
	} else {
		rep.Notes = append(rep.Notes, "server not started by bench: no RSS or disk figures")
	}

	if *queries > 0 && d.Measurement != "" {
		suite := bench.CPUSuite(d)
		if d.Measurement == "readings" {
			suite = bench.IoTSuite(d)
		}
		suite = slices.DeleteFunc(suite, func(q bench.QueryType) bool { return !onlyRE.MatchString(q.Name) })
		qp := ui.progress("queries")
		done, total := 0, len(suite)**queries
		cpu3 := sample()
		qres, err := bench.RunQueries(ctx, base, suite, *queries, *seed, func(string, int, int) {
			done++
			if qp != nil {
				qp(done, total)
			}
		})
		if qp != nil {
			qp(total, total)
		}
		if err != nil {
			fmt.Fprintln(stderr, "soltix bench: queries:", err)
			return 1
		}
		if len(procs.pids) > 0 && rep.CPU != nil {
			rep.CPU.Queries = procs.cpuBetween(cpu3, sample())
			rep.CPU.Queries.PerQueryMs = rep.CPU.Queries.Total * 1000 / float64(total)
			ui.line(fmt.Sprintf("cpu: %.3f ms per query (%s)%s", rep.CPU.Queries.PerQueryMs, cpuText(procs, rep.CPU.Queries), etcdText(rep.CPU.Queries)))
		}
		ui.line(fmt.Sprintf("%-26s %6s %10s %10s %10s", "query", "n", "median ms", "p95 ms", "p99 ms"))
		for _, q := range qres {
			rep.Queries = append(rep.Queries, benchQueryReport{Name: q.Name, N: q.N, MedianMs: ms(q.Median), P95Ms: ms(q.P95), P99Ms: ms(q.P99), Example: q.Example})
			ui.line(fmt.Sprintf("%-26s %6d %10.3f %10.3f %10.3f", q.Name, q.N, ms(q.Median), ms(q.P95), ms(q.P99)))
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return 1
		}
	}
	return 0
}

// yearDefaults makes --dataset year one host, 365 days at 30 s, where the
// flags were not given.
func yearDefaults(fs *flag.FlagSet, hosts *int, duration, interval *time.Duration) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["hosts"] {
		*hosts = 1
	}
	if !set["duration"] {
		*duration = 365 * 24 * time.Hour
	}
	if !set["interval"] {
		*interval = 30 * time.Second
	}
}

// cpuText lists each process's CPU seconds of a phase.
func cpuText(p benchProcs, c *benchCPU) string {
	var parts []string
	for _, name := range p.names {
		parts = append(parts, fmt.Sprintf("%s %.2f s", name, c.Seconds[name]))
	}
	return strings.Join(parts, ", ")
}

func etcdText(c *benchCPU) string {
	t := ""
	if c.Etcd != 0 {
		t = fmt.Sprintf("; etcd %.2f s apart", c.Etcd)
	}
	if c.NATS != 0 {
		t += fmt.Sprintf("; nats-server %.2f s apart", c.NATS)
	}
	return t
}

// putJSON sends a PUT with a JSON body and wants a 2xx.
func putJSON(u, body string) error {
	req, err := http.NewRequest(http.MethodPut, u, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("PUT %s: %s %s", u, resp.Status, b)
	}
	return nil
}

func post(url string) error {
	resp, err := http.Post(url, "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

// benchServer is a `soltix serve` child process.
type benchServer struct {
	cmd  *exec.Cmd
	url  string
	dir  string
	done chan struct{}
}

func startBenchServer(dir, walSync, shardTag string, stderr io.Writer) (*benchServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startBenchProc(dir, []string{exe, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--wal-sync", walSync},
		[]string{"SOLTIX_LOG_LEVEL=warn", "SOLTIX_SHARD_TAG=" + shardTag}, stderr)
}

// startBenchProc runs args (with env added to bench's environment) and
// returns once the process prints the URL it serves on.
func startBenchProc(dir string, args, env []string, stderr io.Writer) (*benchServer, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = stderr
	cmd.SysProcAttr = benchSysProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &benchServer{cmd: cmd, dir: dir, done: make(chan struct{})}
	lines := bufio.NewScanner(out)
	urlc := make(chan string, 1)
	go func() {
		defer close(s.done)
		for lines.Scan() {
			if i := strings.Index(lines.Text(), "http://"); i >= 0 {
				select {
				case urlc <- strings.Fields(lines.Text()[i:])[0]:
				default:
				}
			}
		}
		cmd.Wait()
	}()
	select {
	case u := <-urlc:
		s.url = u
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("%s exited before it served", args[1])
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-s.done
		return nil, fmt.Errorf("%s did not start within 2 minutes", args[1])
	}
}

// peakRSS reads the server's peak resident set size (VmHWM) from /proc.
func (s *benchServer) peakRSS() int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "status"))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			f := strings.Fields(v)
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil && len(f) > 1 && f[1] == "kB" {
				return n << 10
			}
		}
	}
	return 0
}

func (s *benchServer) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// dirBytes adds up the sizes of the files below dir.
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	return n, err
}

func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s/%s, %d CPUs, %s, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), model, runtime.Version())
}

// benchUI prints progress: a bar on a terminal, plain lines otherwise,
// nothing but the report with --json.
type benchUI struct {
	w     io.Writer
	quiet bool
	tty   bool
	mu    sync.Mutex
}

func newBenchUI(w io.Writer, quiet bool) *benchUI {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &benchUI{w: w, quiet: quiet, tty: tty}
}

func (u *benchUI) line(s string) {
	if u.quiet {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.tty {
		fmt.Fprint(u.w, "\r\033[K")
	}
	fmt.Fprintln(u.w, s)
}

// progress returns a callback drawing a bar (terminal) or printing a line
// every 10% (otherwise); nil when quiet.
func (u *benchUI) progress(what string) func(done, total int) {
	if u.quiet {
		return nil
	}
	lastTenth := -1
	return func(done, total int) {
		if total == 0 {
			return
		}
		u.mu.Lock()
		defer u.mu.Unlock()
		if u.tty {
			const width = 40
			n := done * width / total
			fmt.Fprintf(u.w, "\r%-8s [%s%s] %3d%% %d/%d", what, strings.Repeat("=", n), strings.Repeat(" ", width-n), done*100/total, done, total)
			if done == total {
				fmt.Fprint(u.w, "\r\033[K")
			}
			return
		}
		if tenth := done * 10 / total; tenth != lastTenth {
			lastTenth = tenth
			fmt.Fprintf(u.w, "%s: %d%% (%d/%d)\n", what, tenth*10, done, total)
		}
	}
}
