package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
)

// liveServer is the production handler served by the production
// http.Server configuration on a loopback port.
type liveServer struct {
	s      *server
	st     *fakeStore
	srv    *http.Server
	url    string
	addr   string
	bodies atomic.Int64 // request bodies that have delivered their first bytes
}

// startLive serves a fresh fake store over HTTP/1.1 and h2c on 127.0.0.1.
// The handler is wrapped only to count the bodies that have started to
// arrive, so tests can wait for the server to be holding them.
func startLive(t *testing.T, opts Options, cfg ServerConfig) *liveServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Listen == "" {
		opts.Listen = ln.Addr().String()
	}
	l := &liveServer{addr: ln.Addr().String(), url: "http://" + ln.Addr().String()}
	l.s, l.st = newTestServer(t, opts)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &firstBytes{ReadCloser: r.Body, n: &l.bodies}
		}
		l.s.mux.ServeHTTP(w, r)
	})
	l.srv = NewServer(h, cfg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = l.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = l.srv.Close()
		<-done
	})
	return l
}

// firstBytes counts, once, a body that has returned data.
type firstBytes struct {
	io.ReadCloser
	n    *atomic.Int64
	once sync.Once
}

func (b *firstBytes) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.once.Do(func() { b.n.Add(1) })
	}
	return n, err
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// heapInuse returns the bytes of heap spans in use after a collection.
func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// stallRequest sends the head of a POST declaring declared bytes of body,
// then sent of them, and leaves the connection open.
func stallRequest(t *testing.T, addr, path string, declared int64, sent string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", path, addr, declared)
	if _, err := io.WriteString(c, head+sent); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStalledBodiesHoldNoMemory is the attack of issue 11 item 11: many
// connections declare 64 MiB bodies, send 3 bytes and stall. The server's
// heap must follow the bytes received, other clients must still be served,
// and the body deadline must cut the stalled requests.
func TestStalledBodiesHoldNoMemory(t *testing.T) {
	const (
		conns    = 40
		declared = 64 << 20
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A small in-flight cap: 40 declared bodies of 64 MiB must not
	// reserve it, or the normal write below would be refused.
	l := startLive(t, Options{MaxBodyBytes: declared, MaxInflightBodyBytes: 4 << 20, BodyTimeout: 2 * time.Second}, ServerConfig{})

	before := heapInuse()
	var cs []net.Conn
	for range conns {
		cs = append(cs, stallRequest(t, l.addr, "/api/v1/write", declared, "cpu"))
	}
	waitFor(ctx, t, "the server to hold every stalled body", func() bool { return l.bodies.Load() >= conns })
	after := heapInuse()
	grown := int64(after) - int64(before)
	t.Logf("heap in use grew %d KiB for %d stalled bodies declaring %d MiB each", grown>>10, conns, declared>>20)
	if grown > 16<<20 {
		t.Errorf("heap in use grew by %d MiB for %d stalled bodies, want under 16 MiB", grown>>20, conns)
	}

	// The server still serves others meanwhile.
	resp, err := http.Post(l.url+"/api/v1/write", "text/plain", strings.NewReader("cpu,host=a v=1 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("write during the attack: got %d %s, want 204", resp.StatusCode, b)
	}
	resp, err = http.Get(l.url + "/api/v1/query?q=" + url.QueryEscape("SELECT count(v) FROM cpu"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `,1]]`) {
		t.Fatalf("query during the attack: got %d %s, want 200 and a count of 1", resp.StatusCode, b)
	}

	// The body deadline cuts every stalled request: each gets a 408 and
	// its connection is closed.
	for i, c := range cs {
		dl, _ := ctx.Deadline()
		_ = c.SetReadDeadline(dl)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("stalled connection %d: %v, want a 408 answer", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "http.body_timeout") {
			t.Fatalf("stalled connection %d: got %d %s, want 408 naming http.body_timeout", i, resp.StatusCode, b)
		}
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("stalled connection %d: read %d more bytes, want the connection closed", i, n)
		}
	}
	if n := l.st.writeCalls(); n != 1 {
		t.Errorf("Write called %d times, want once (the normal write)", n)
	}
}

// TestStalledH2StreamsHoldNoMemory is the same attack over h2c: one
// connection, many streams declaring 64 MiB and sending 3 bytes. The body
// deadline and the heap bound must hold for HTTP/2 streams too.
func TestStalledH2StreamsHoldNoMemory(t *testing.T) {
	const (
		streams  = 40
		declared = 64 << 20
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l := startLive(t, Options{MaxBodyBytes: declared, MaxInflightBodyBytes: 4 << 20, BodyTimeout: 2 * time.Second}, ServerConfig{})
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	before := heapInuse()
	type answer struct {
		code int
		body string
		err  error
	}
	answers := make(chan answer, streams)
	var writers []*io.PipeWriter
	for range streams {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url+"/api/v1/write", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = declared
		req.Header.Set("Content-Type", "text/plain")
		go func() {
			resp, err := client.Do(req)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers <- answer{code: resp.StatusCode, body: string(b)}
		}()
		go func() { _, _ = pw.Write([]byte("cpu")) }()
	}
	defer func() {
		for _, pw := range writers {
			pw.Close()
		}
	}()
	waitFor(ctx, t, "the server to hold every stalled stream", func() bool { return l.bodies.Load() >= streams })
	grown := int64(heapInuse()) - int64(before)
	t.Logf("heap in use grew %d KiB for %d stalled h2 streams declaring %d MiB each", grown>>10, streams, declared>>20)
	if grown > 16<<20 {
		t.Errorf("heap in use grew by %d MiB for %d stalled h2 streams, want under 16 MiB", grown>>20, streams)
	}
	for range streams {
		select {
		case a := <-answers:
			if a.err == nil && (a.code != http.StatusRequestTimeout || !strings.Contains(a.body, "http.body_timeout")) {
				t.Fatalf("stalled stream: got %d %s, want 408 naming http.body_timeout", a.code, a.body)
			}
		case <-ctx.Done():
			t.Fatalf("stalled streams were not cut: %v", ctx.Err())
		}
	}
	if n := l.st.writeCalls(); n != 0 {
		t.Errorf("Write called %d times, want never", n)
	}
}

// TestInflightBodyCap checks the global budget of body bytes: a request
// that would take it over answers 503 with Retry-After, and the budget is
// given back when requests end.
func TestInflightBodyCap(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const budget = 1 << 20
	l := startLive(t, Options{MaxInflightBodyBytes: budget, BodyTimeout: time.Minute}, ServerConfig{})
	line := "cpu,host=a v=1 1\n"
	body := func(n int) string { return strings.Repeat(line, n/len(line)+1) }

	// Hold 700 KiB of a declared 900 KiB body.
	held := body(700 << 10)
	c := stallRequest(t, l.addr, "/api/v1/write", int64(len(held))+200<<10, held)
	waitFor(ctx, t, "the first body to be held", func() bool { return l.s.budget.used.Load() >= int64(len(held)) })

	for _, tt := range []struct {
		name, path, ctype string
	}{
		{"line protocol", "/api/v1/write", "text/plain"},
		{"influx v1", "/write", "text/plain"},
		{"query form", "/api/v1/query", "application/x-www-form-urlencoded"},
		{"query text", "/api/v1/query", "text/plain"},
		{"admin delete", "/api/v1/admin/delete", "application/json"},
		{"grafana", "/grafana/query", "application/json"},
	} {
		resp, err := http.Post(l.url+tt.path, tt.ctype, strings.NewReader(body(500<<10)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "http.max_inflight_body_bytes") {
			t.Errorf("%s over the budget: got %d Retry-After %q %.200s, want 503 with Retry-After naming http.max_inflight_body_bytes",
				tt.name, resp.StatusCode, resp.Header.Get("Retry-After"), b)
		}
	}
	// A small request still fits.
	resp, err := http.Post(l.url+"/api/v1/write", "text/plain", strings.NewReader(line))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("small write beside the held body: got %d, want 204", resp.StatusCode)
	}

	// The holder goes away: its share comes back and a large body fits.
	c.Close()
	waitFor(ctx, t, "the budget to be given back", func() bool { return l.s.budget.used.Load() == 0 })
	resp, err = http.Post(l.url+"/api/v1/write", "text/plain", strings.NewReader(body(500<<10)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("large write after the holder left: got %d, want 204", resp.StatusCode)
	}
}

// TestReadAllGrowth checks that the body buffer follows the bytes received,
// whatever length is announced.
func TestReadAllGrowth(t *testing.T) {
	for _, tt := range []struct {
		name        string
		size, hint  int64
		limit       int64
		wantMaxCap  int64
		wantTooLong bool
	}{
		{"empty", 0, -1, 1 << 20, minBodyBuf, false},
		{"small, no hint", 10, -1, 1 << 20, minBodyBuf, false},
		{"small, exact hint", 10, 10, 1 << 20, 11, false},
		{"3 bytes of a declared 64 MiB", 3, 64 << 20, 64 << 20, minBodyBuf, false},
		{"100 KiB of a declared 64 MiB", 100 << 10, 64 << 20, 64 << 20, 256 << 10, false},
		{"1 MiB, exact hint", 1 << 20, 1 << 20, 64 << 20, 1<<20 + 1, false},
		{"1 MiB, no hint", 1 << 20, -1, 64 << 20, 2 << 20, false},
		{"over the limit", 5000, -1, 4096, 4097, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hold := &bodyHold{budget: &bodyBudget{}}
			data, err := readAll(strings.NewReader(strings.Repeat("x", int(tt.size))), tt.limit, tt.hint, hold, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tooLong := int64(len(data)) > tt.limit; tooLong != tt.wantTooLong || !tooLong && int64(len(data)) != tt.size {
				t.Fatalf("read %d bytes of %d (limit %d), want all or over the limit: %v", len(data), tt.size, tt.limit, tt.wantTooLong)
			}
			if int64(cap(data)) > tt.wantMaxCap {
				t.Errorf("buffer capacity %d for %d bytes (hint %d), want at most %d", cap(data), tt.size, tt.hint, tt.wantMaxCap)
			}
			if hold.held < int64(cap(data)) || hold.held > int64(cap(data))+holdChunk {
				t.Errorf("held %d for a buffer of %d, want the buffer rounded up to a chunk", hold.held, cap(data))
			}
		})
	}
}

// TestReadAllAnnouncedCopies checks that reading a body of an announced
// length allocates less than twice its size: the bytes received before the
// buffer of the announced length is allocated are copied once, not once
// per doubling.
func TestReadAllAnnouncedCopies(t *testing.T) {
	for _, size := range []int64{3 << 20, 3<<20 + 12345, 5 << 20} {
		body := bytes.Repeat([]byte("x"), int(size))
		best := uint64(math.MaxUint64)
		for range 3 { // the least of three: other goroutines may allocate too
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			data, err := readAll(bytes.NewReader(body), 64<<20, size, &bodyHold{budget: &bodyBudget{}}, nil)
			runtime.ReadMemStats(&after)
			if err != nil || !bytes.Equal(data, body) {
				t.Fatalf("size %d: read %d bytes, %v; want the body", size, len(data), err)
			}
			best = min(best, after.TotalAlloc-before.TotalAlloc)
		}
		if best > uint64(2*size) {
			t.Errorf("size %d with its length announced: allocated %d bytes, want at most %d", size, best, 2*size)
		}
	}
}

// TestReadAllSpare checks that reading into a spare buffer gives the same
// bytes and takes the same share of the body budget as reading without
// one, and allocates no buffer when the spare holds the body.
func TestReadAllSpare(t *testing.T) {
	for _, tt := range []struct {
		name        string
		size, hint  int64
		limit       int64
		spare       int
		wantInSpare bool
	}{
		{"empty", 0, -1, 1 << 20, 8 << 10, true},
		{"fits, no hint", 5000, -1, 1 << 20, 8 << 10, true},
		{"fits, exact hint", 5000, 5000, 1 << 20, 8 << 10, true},
		{"fits, declared larger", 5000, 64 << 20, 64 << 20, 8 << 10, true},
		{"outgrows, no hint", 100 << 10, -1, 1 << 20, 8 << 10, false},
		{"outgrows, exact hint", 100 << 10, 100 << 10, 1 << 20, 8 << 10, false},
		{"outgrows, declared larger", 100 << 10, 64 << 20, 64 << 20, 8 << 10, false},
		{"over the limit", 5000, -1, 4096, 8 << 10, true},
		{"over the limit, outgrows", 50000, -1, 40000, 8 << 10, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := make([]byte, tt.size)
			for i := range body {
				body[i] = byte(i * 7)
			}
			plainHold := &bodyHold{budget: &bodyBudget{}}
			want, err := readAll(bytes.NewReader(body), tt.limit, tt.hint, plainHold, nil)
			if err != nil {
				t.Fatal(err)
			}
			spare := make([]byte, 3, tt.spare) // readAll must ignore its length
			hold := &bodyHold{budget: &bodyBudget{}}
			got, err := readAll(iotest.OneByteReader(bytes.NewReader(body)), tt.limit, tt.hint, hold, spare)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, want %d bytes as without a spare", len(got), len(want))
			}
			if hold.held != plainHold.held {
				t.Errorf("held %d with a spare buffer, %d without", hold.held, plainHold.held)
			}
			if inSpare := len(got) > 0 && &got[0] == &spare[:1][0] || len(got) == 0 && cap(got) == cap(spare); inSpare != tt.wantInSpare {
				t.Errorf("result in the spare buffer: %v, want %v", inSpare, tt.wantInSpare)
			}
		})
	}
}

// TestBodyBufs checks the bounds of the pool of write body buffers.
func TestBodyBufs(t *testing.T) {
	for getBodyBuf() != nil { // empty it
	}
	putBodyBuf(make([]byte, 10, maxPooledBody+1)) // too large
	putBodyBuf(make([]byte, 10, minBodyBuf-1))    // too small
	if b := getBodyBuf(); b != nil {
		t.Fatalf("pool gave a buffer of capacity %d, want none", cap(b))
	}
	for range maxPooledBodies + 2 {
		putBodyBuf(make([]byte, 10, minBodyBuf))
	}
	n := 0
	for b := getBodyBuf(); b != nil; b = getBodyBuf() {
		if len(b) != 0 {
			t.Errorf("pooled buffer of length %d, want 0", len(b))
		}
		n++
	}
	if n != maxPooledBodies {
		t.Errorf("pool held %d buffers, want %d", n, maxPooledBodies)
	}
}

// TestServerConnectionLimits checks the connection-level bounds of
// NewServer: oversized headers are refused and idle keep-alive connections
// are closed.
func TestServerConnectionLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l := startLive(t, Options{}, ServerConfig{IdleTimeout: 200 * time.Millisecond, MaxHeaderBytes: 4 << 10})

	c := stallRequest(t, l.addr, "/api/v1/write", 0, "")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The connection stays open for another request, then goes idle and
	// must be closed by the server.
	dl, _ := ctx.Deadline()
	_ = c.SetReadDeadline(dl)
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle keep-alive connection: read %d bytes, %v; want it closed (EOF)", n, err)
	}

	req, _ := http.NewRequest(http.MethodGet, l.url+"/health", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 64<<10))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB header: got %d, want 431", resp.StatusCode)
	}
}

// TestLimitConnections checks that connections beyond the limit are
// answered 503 with Retry-After at once, and that closed connections give
// their slot back.
func TestLimitConnections(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const limit = 4
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := newTestServer(t, Options{})
	srv := NewServer(s.mux, ServerConfig{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(LimitConnections(ln, limit))
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	addr := ln.Addr().String()
	var held []net.Conn
	for range limit {
		held = append(held, stallRequest(t, addr, "/api/v1/write", 1<<20, "cpu"))
	}
	get := func() (int, string, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return 0, "", err
		}
		defer c.Close()
		dl, _ := ctx.Deadline()
		_ = c.SetDeadline(dl)
		fmt.Fprintf(c, "GET /health HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After"), nil
	}
	code, retry, err := get()
	if err != nil || code != http.StatusServiceUnavailable || retry == "" {
		t.Fatalf("connection %d of %d: got %d Retry-After %q %v, want 503 with Retry-After", limit+1, limit, code, retry, err)
	}
	held[0].Close()
	waitFor(ctx, t, "a slot to come back", func() bool {
		code, _, err := get()
		return err == nil && code == http.StatusOK
	})
}

// TestBodyDeadlineSparesLongRequests checks that the body deadline ends
// with the body: a query that runs past it after its body is in, over
// HTTP/1.1 (where a connection read deadline would also cancel the
// request through net/http's background read) and h2c, still answers.
func TestBodyDeadlineSparesLongRequests(t *testing.T) {
	const deadline = 200 * time.Millisecond
	l := startLive(t, Options{BodyTimeout: deadline}, ServerConfig{})
	if resp, err := http.Post(l.url+"/api/v1/write", "text/plain", strings.NewReader("cpu v=1 1\n")); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("write: %v %v", resp, err)
	}
	l.s.execute = func(ctx context.Context, src planner.Source, stmt *query.Statement, opts planner.Options, sink planner.Sink) (*planner.Stats, error) {
		// Run for three body deadlines, unless cancelled.
		select {
		case <-time.After(3 * deadline):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return planner.ExecuteStream(ctx, src, stmt, opts, sink)
	}
	h2 := &http.Transport{Protocols: new(http.Protocols)}
	h2.Protocols.SetUnencryptedHTTP2(true)
	defer h2.CloseIdleConnections()
	for _, tt := range []struct {
		name   string
		client *http.Client
	}{
		{"HTTP/1.1", http.DefaultClient},
		{"h2c", &http.Client{Transport: h2}},
	} {
		form := url.Values{"q": {"SELECT count(v) FROM cpu"}}.Encode()
		resp, err := tt.client.Post(l.url+"/api/v1/query", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), ",1]]") {
			t.Errorf("%s: query running past the body deadline: got %d %s, want 200 and a count of 1", tt.name, resp.StatusCode, b)
		}
	}
}
