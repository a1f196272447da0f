package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The robustness test's bounds. The server's own timeouts (robustConfig)
// are short so that slow clients are cut within the test's time.
const (
	robustBatch     = 100              // requests between liveness checks
	robustWorkers   = 8                // requests in flight
	robustAnswerDue = 20 * time.Second // a request unanswered by then hangs
	robustIdleConns = 200
	robustConfig    = `http:
  max_body_bytes: 1048576
  body_timeout: 3s
  read_header_timeout: 2s
  idle_timeout: 4s
  max_header_bytes: 16384
query:
  timeout: 5s
  max_rows: 200000
log:
  level: error
`
)

// robustAllowed5xx are the 5xx answers the API documents for a healthy
// server under load (openapi.yaml): 503 (busy: connections, bodies in
// flight, memory, a query past its deadline) and 507 (disk full). Any
// other 5xx to a client's request is a bug.
var robustAllowed5xx = map[int]bool{http.StatusServiceUnavailable: true, http.StatusInsufficientStorage: true}

// robustSeeds returns the seeds to run: SOLTIX_ROBUST_SEED alone, or every
// seed in testdata/robust-seeds.txt (the default one and every one that
// found a problem), plus one from the clock with SOLTIX_ROBUST_RANDOM=1.
func robustSeeds(t *testing.T) []uint64 {
	t.Helper()
	if s := os.Getenv("SOLTIX_ROBUST_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SOLTIX_ROBUST_SEED=%q: %v", s, err)
		}
		return []uint64{n}
	}
	b, err := os.ReadFile("testdata/robust-seeds.txt")
	if err != nil {
		t.Fatal(err)
	}
	var seeds []uint64
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		n, err := strconv.ParseUint(line, 10, 64)
		if err != nil {
			t.Fatalf("testdata/robust-seeds.txt: %q: %v", line, err)
		}
		seeds = append(seeds, n)
	}
	if len(seeds) == 0 {
		t.Fatal("testdata/robust-seeds.txt lists no seed")
	}
	if os.Getenv("SOLTIX_ROBUST_RANDOM") == "1" {
		seeds = append(seeds, uint64(time.Now().UnixNano()))
	}
	return seeds
}

// TestRobustHostileRequests drives `soltix serve` with seeded random and
// hostile requests over every route of openapi.yaml (robust_gen_test.go),
// slow clients and many idle connections, and checks that the process
// never dies, that every request is answered (or, when its framing is
// broken, closed) in bounded time, that no answer is a 5xx the API does not
// document, and that the known collections answer byte-identically before,
// after, and after a restart. Writes go only to scratch collections (guard).
// SOLTIX_ROBUST_N sets the requests per seed (default 2000).
func TestRobustHostileRequests(t *testing.T) {
	n := 2000
	if s := os.Getenv("SOLTIX_ROBUST_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			t.Fatalf("SOLTIX_ROBUST_N=%q: want a positive count", s)
		}
		n = v
	}
	seeds := robustSeeds(t)
	ops, corpus := specOps(t), corpusLines(t)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "soltix.yaml")
	if err := os.WriteFile(cfg, []byte(robustConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	s := startBinary(t, data, "--config", cfg, "--wal-sync", "never")
	u, _ := url.Parse(s.url)
	addr := u.Host
	writeKnown(t, s)
	before := knownAnswers(t, s.url)
	if again := knownAnswers(t, s.url); !mapsEqual(before, again) {
		t.Fatal("the known collections' answers differ between two reads with nothing in between")
	}

	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zw.Write(make([]byte, 64<<20))
	zw.Close()

	rb := &robustRun{t: t, s: s, addr: addr, statuses: map[int]int{}, documented: specServerErrors(t)}
	for _, seed := range seeds {
		g := newGen(seed, addr, ops, corpus, bomb.Bytes())
		for i := 0; i < n; i += robustBatch {
			rb.batch(g, seed, i, min(robustBatch, n-i))
		}
		t.Logf("seed %d: %d requests", seed, n)
	}

	// Slow clients and idle connections, while a batch of hostile requests
	// runs.
	var wg sync.WaitGroup
	idle := openIdle(t, addr, robustIdleConns)
	wg.Add(1)
	go func() {
		defer wg.Done()
		slowClients(t, addr)
	}()
	rb.batch(newGen(seeds[0]^1, addr, ops, corpus, bomb.Bytes()), seeds[0]^1, 0, robustBatch)
	wg.Wait()
	waitClosed(t, idle)
	rb.alive()

	keys := slices.Sorted(mapKeys(rb.statuses))
	var summary []string
	for _, k := range keys {
		summary = append(summary, fmt.Sprintf("%d×%d", k, rb.statuses[k]))
	}
	t.Logf("answers: %s; closed without an answer: %d", strings.Join(summary, " "), rb.closed)
	for _, r := range rb.slowest {
		t.Logf("slow: %s %s", r.took, r.req)
	}

	if after := knownAnswers(t, s.url); !mapsEqual(before, after) {
		t.Fatalf("the known collections answer differently after the hostile requests:\n%s", mapsDiff(before, after))
	}
	s.stop(t)
	s = startBinary(t, data, "--config", cfg, "--wal-sync", "never")
	if after := knownAnswers(t, s.url); !mapsEqual(before, after) {
		t.Fatalf("the known collections answer differently after a restart:\n%s", mapsDiff(before, after))
	}
	// The comparison can fail: one overwritten value, one deleted point
	// and one changed setting of the known collections, each alone, are
	// seen (the hostile requests rarely form a valid change of a known
	// collection, so this shows the check is not blind to one).
	const t0 = 1_700_000_000_000_000_000
	for _, change := range []struct{ name, path, ctype, body string }{
		{"an overwritten value", "/api/v1/write?precision=ns", "text/plain", fmt.Sprintf("%scpu,host=h0,region=r0 v=-1 %d\n", knownPrefix, int64(t0))},
		{"a deleted point", "/api/v1/query", "text/plain", fmt.Sprintf("DELETE FROM %smem WHERE host = 'h1' AND time = %d", knownPrefix, int64(t0+30e9))},
	} {
		resp, err := http.Post(s.url+change.path, change.ctype, strings.NewReader(change.body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck // the status is what counts
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s: %d", change.name, resp.StatusCode)
		}
		after := knownAnswers(t, s.url)
		if mapsEqual(before, after) {
			t.Fatalf("the comparison missed %s of a known collection", change.name)
		}
		before = after
	}
	s.stop(t)
}

// robustRun sends batches and keeps the tally.
type robustRun struct {
	t        *testing.T
	s        *binServer
	addr     string
	mu       sync.Mutex
	statuses map[int]int
	closed   int
	failures int
	slowest  []slowReq // the slowest requests, for the log
	// documented are the 5xx statuses openapi.yaml gives each operation
	// (serve answers 501 to the router-only token changes, say).
	documented map[string]map[int]bool
	// send sends one request (nil: sendRaw, HTTP/1.1 on a new
	// connection; robust_more_test.go sends over h2c).
	send func(r *rawReq, deadline time.Time) (int, error)
	// check, when set, says what is wrong with an answer ("" if nothing)
	// beyond the checks every pass makes.
	check func(r *rawReq, status int) string
	// tokenHeader, when set, is the Authorization /health and the other
	// requests of the test itself carry.
	tokenHeader string
}

type slowReq struct {
	took time.Duration
	req  string
}

// batch sends count requests of g (generated in order, so a seed is one
// sequence; sent robustWorkers at a time), checks each answer, then that
// the process lives and answers /health.
func (rb *robustRun) batch(g *gen, seed uint64, first, count int) {
	t := rb.t
	reqs := make([]*rawReq, count)
	for i := range reqs {
		reqs[i] = g.next()
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range robustWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := reqs[i]
				start := time.Now()
				send := rb.send
				if send == nil {
					send = func(r *rawReq, deadline time.Time) (int, error) { return sendRaw(rb.addr, r, deadline) }
				}
				status, err := send(r, start.Add(robustAnswerDue))
				took := time.Since(start)
				rb.mu.Lock()
				rb.slowest = append(rb.slowest, slowReq{took, fmt.Sprintf("%d %.200s", status, r)})
				slices.SortFunc(rb.slowest, func(a, b slowReq) int { return int(b.took - a.took) })
				rb.slowest = rb.slowest[:min(len(rb.slowest), 5)]
				var msg string
				switch {
				case isTimeout(err):
					msg = fmt.Sprintf("no answer within %s", robustAnswerDue)
				case err != nil && !r.mayClose:
					msg = fmt.Sprintf("connection closed without an answer: %v", err)
				case err != nil:
					rb.closed++
				case status == http.StatusNotImplemented && r.oddTransferEncoding():
					// net/http's answer to a transfer coding it does not
					// implement (RFC 9112, section 6.1).
					rb.statuses[status]++
				case status >= 500 && !robustAllowed5xx[status] && !rb.documented[r.op][status]:
					msg = fmt.Sprintf("answered %d, a 5xx the API does not document", status)
				case rb.check != nil && rb.check(r, status) != "":
					msg = rb.check(r, status)
				default:
					rb.statuses[status]++
					if status >= 500 {
						t.Logf("seed %d request %d: %d (documented); request %.300s", seed, first+i, status, r)
					}
				}
				if msg != "" {
					rb.failures++
					t.Errorf("seed %d request %d: %s; request %s", seed, first+i, msg, r)
				}
				rb.mu.Unlock()
			}
		}()
	}
	for i := range reqs {
		next <- i
	}
	close(next)
	wg.Wait()
	if rb.failures > 20 {
		t.Fatalf("%d failures; stopping (rerun one seed with SOLTIX_ROBUST_SEED)", rb.failures)
	}
	rb.alive()
}

// alive checks that the process runs and /health answers 200.
func (rb *robustRun) alive() {
	t := rb.t
	select {
	case err := <-rb.s.done:
		t.Fatalf("soltix exited (%v); logs:\n%s", err, rb.s.logs)
	default:
	}
	c := &http.Client{Timeout: robustAnswerDue}
	req, _ := http.NewRequest(http.MethodGet, rb.s.url+"/health", nil)
	if rb.tokenHeader != "" {
		req.Header.Set("Authorization", rb.tokenHeader)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("/health: %v; logs:\n%s", err, rb.s.logs)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/health: %d %s", resp.StatusCode, b)
	}
}

// sendRaw writes r on a new connection and reads the answer's status and
// body. err is a timeout when nothing came back by deadline, or the
// connection's error when it closed without an answer.
func sendRaw(addr string, r *rawReq, deadline time.Time) (int, error) {
	c, err := net.DialTimeout("tcp", addr, time.Until(deadline))
	if err != nil {
		return 0, fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	c.SetDeadline(deadline)
	go c.Write(r.wire()) //nolint:errcheck // the server may answer and close before reading it all
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: r.method})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<20)); err != nil && isTimeout(err) {
		return 0, err
	}
	return resp.StatusCode, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeKnown writes the known collections: every field kind, several
// series, part flushed to files and part in memory.
func writeKnown(t *testing.T, s *binServer) {
	t.Helper()
	const t0 = 1_700_000_000_000_000_000
	var b strings.Builder
	for i := range 300 {
		fmt.Fprintf(&b, "%scpu,host=h%d,region=r%d v=%g,n=%di,s=\"x%d\",b=%t %d\n", knownPrefix, i%5, i%2, float64(i)*1.25, i*7-500, i%3, i%2 == 0, t0+int64(i)*60e9)
		fmt.Fprintf(&b, "%smem,host=h%d used=%di,free=%g %d\n", knownPrefix, i%3, i*1024, 1e9/float64(i+1), t0+int64(i)*30e9)
	}
	if code, err := s.write(b.String()); err != nil || code != http.StatusNoContent {
		t.Fatalf("known write: %d %v", code, err)
	}
	post := func(path, ctype, body string) {
		t.Helper()
		resp, err := http.Post(s.url+path, ctype, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, rb)
		}
	}
	post("/api/v1/admin/flush", "", "")
	var j strings.Builder
	j.WriteByte('[')
	for i := range 50 {
		if i > 0 {
			j.WriteByte(',')
		}
		fmt.Fprintf(&j, `{"device_id":"d%d","time":%d,"fields":{"t":%g,"ok":%t,"note":"n\u00e9%d"}}`, i%4, t0+int64(i)*1e9, float64(i)/3, i%3 == 0, i)
	}
	j.WriteByte(']')
	post("/api/v1/write?collection="+knownPrefix+"js&precision=ns", "application/json", j.String())
	// More of kq7cpu in memory, overlapping the flushed part.
	b.Reset()
	for i := 250; i < 320; i++ {
		fmt.Fprintf(&b, "%scpu,host=h%d,region=r%d v=%g,n=%di,s=\"y%d\",b=%t %d\n", knownPrefix, i%5, i%2, float64(i)*2.5, i*3, i%3, i%2 == 1, t0+int64(i)*60e9)
	}
	if code, err := s.write(b.String()); err != nil || code != http.StatusNoContent {
		t.Fatalf("known write: %d %v", code, err)
	}
}

// knownAnswers returns the bodies of queries and settings of the known
// collections (CSV for SELECTs: JSON carries stats, which say where the
// data was read from and change with flushes).
func knownAnswers(t *testing.T, base string) map[string]string {
	t.Helper()
	return knownAnswersAuth(t, base, "")
}

// knownAnswersAuth is knownAnswers with an Authorization header ("": none).
func knownAnswersAuth(t *testing.T, base, auth string) map[string]string {
	t.Helper()
	out := map[string]string{}
	get := func(path string) {
		t.Helper()
		c := &http.Client{Timeout: robustAnswerDue}
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		out[path] = string(b)
	}
	field := map[string]string{knownPrefix + "cpu": "v", knownPrefix + "mem": "used", knownPrefix + "js": "t"}
	for _, c := range knownNames {
		f := field[c]
		for _, q := range []string{
			"SELECT * FROM " + c,
			"SELECT count(" + f + "), sum(" + f + "), max(" + f + ") FROM " + c + " GROUP BY time(1h)",
			"SELECT last(" + f + ") FROM " + c + " GROUP BY device_id",
		} {
			get("/api/v1/query?format=csv&epoch=ns&q=" + url.QueryEscape(q))
		}
		for _, q := range []string{"SHOW FIELDS FROM " + c, "SHOW TAG KEYS FROM " + c, "SHOW TAG VALUES FROM " + c + " WITH KEY = host"} {
			get("/api/v1/query?q=" + url.QueryEscape(q))
		}
		get("/api/v1/admin/collections/" + c)
	}
	for _, c := range knownNames {
		if rows := strings.Count(out["/api/v1/query?format=csv&epoch=ns&q="+url.QueryEscape("SELECT * FROM "+c)], "\n"); rows < 50 {
			t.Fatalf("SELECT * FROM %s: %d lines, want the data written", c, rows)
		}
	}
	return out
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func mapsDiff(a, b map[string]string) string {
	var d []string
	for k, v := range a {
		if w := b[k]; w != v {
			d = append(d, fmt.Sprintf("%s:\n before %.400q\n after  %.400q", k, v, w))
		}
	}
	slices.Sort(d)
	return strings.Join(d, "\n")
}

// openIdle opens n connections that send nothing and n/2 that send one
// keep-alive request and then nothing.
func openIdle(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for i := range n + n/2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("idle connection %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		if i >= n {
			fmt.Fprintf(c, "GET /health HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		}
		conns = append(conns, c)
	}
	return conns
}

// waitClosed checks that the server closes every idle connection (the
// header timeout, or idle_timeout after a request) by a deadline.
func waitClosed(t *testing.T, conns []net.Conn) {
	t.Helper()
	deadline := time.Now().Add(robustAnswerDue)
	open := 0
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		_, err := io.Copy(io.Discard, c)
		if isTimeout(err) {
			open++
		}
	}
	if open > 0 {
		t.Errorf("%d of %d idle connections still open after %s", open, len(conns), robustAnswerDue)
	}
}

// slowClients sends requests a byte at a time: some within the server's
// timeouts (they must succeed), some past them (the server must answer 408
// or close, not wait forever).
func slowClients(t *testing.T, addr string) {
	var wg sync.WaitGroup
	// run sends the first fast bytes of wire at once, then the rest a
	// byte every gap.
	run := func(name string, wire []byte, gap time.Duration, fast int, want func(int, error) bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(robustAnswerDue))
			go func() {
				if _, err := c.Write(wire[:fast]); err != nil {
					return
				}
				for i := fast; i < len(wire); i++ {
					if _, err := c.Write(wire[i : i+1]); err != nil {
						return
					}
					time.Sleep(gap)
				}
			}()
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			status := 0
			if err == nil {
				status = resp.StatusCode
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if !want(status, err) {
				t.Errorf("%s: status %d, error %v", name, status, err)
			}
		}()
	}
	ok := func(status int, err error) bool { return err == nil && status/100 == 2 }
	// A stalled request is cut: closed, or answered 408 (body) or 400
	// (net/http's answer to headers that did not arrive in time).
	cut := func(status int, err error) bool {
		return !isTimeout(err) && (err != nil || status == http.StatusRequestTimeout || status == http.StatusBadRequest)
	}
	for i := range 4 {
		body := fmt.Sprintf("%s%d,host=slow v=%d %d\n", scratchPrefix, i, i, 1_700_000_000_000_000_000+i)
		w := fmt.Sprintf("POST /api/v1/write?precision=ns HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", addr, len(body), body)
		run(fmt.Sprintf("slow write %d", i), []byte(w), 5*time.Millisecond, 0, ok)
		q := fmt.Sprintf("GET /api/v1/query?q=%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", url.QueryEscape("SELECT * FROM "+knownNames[i%len(knownNames)]), addr)
		run(fmt.Sprintf("slow query %d", i), []byte(q), 5*time.Millisecond, 0, ok)
		// Past read_header_timeout (2s): a byte every 300 ms of a long header.
		h := fmt.Sprintf("GET /health HTTP/1.1\r\nHost: %s\r\nX-Slow: %s\r\n\r\n", addr, strings.Repeat("s", 200))
		run(fmt.Sprintf("stalled headers %d", i), []byte(h), 300*time.Millisecond, 0, cut)
		// Past body_timeout (3s): the headers at once, then a byte every 300 ms.
		hdr := fmt.Sprintf("POST /api/v1/write HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: 500\r\n\r\n", addr)
		run(fmt.Sprintf("stalled body %d", i), []byte(hdr+strings.Repeat("x", 500)), 300*time.Millisecond, len(hdr), cut)
	}
	wg.Wait()
}
