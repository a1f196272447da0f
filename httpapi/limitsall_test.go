package httpapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
)

// limitNode is the production handler over a real storage, served by the
// production http.Server on a loopback port behind LimitConnections.
type limitNode struct {
	s      *server
	db     *storage.DB
	client *http.Client
	url    string
	addr   string
	bodies atomic.Int64 // request bodies that have delivered their first bytes
}

func startLimitNode(t *testing.T, opts Options, cfg ServerConfig, maxConns int) *limitNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(t.TempDir(), &storage.Options{NumGroups: 2, FlushInterval: -1, CompactFiles: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	opts.Listen = ln.Addr().String()
	opts.Logger = slog.New(slog.DiscardHandler)
	n := &limitNode{db: db, addr: ln.Addr().String(), url: "http://" + ln.Addr().String()}
	// Under a connection limit the client keeps one connection for all
	// its requests; otherwise each request has its own, so that no pooled
	// connection meets an idle timeout.
	tr := &http.Transport{DisableKeepAlives: true}
	if maxConns > 0 {
		tr = &http.Transport{MaxConnsPerHost: 1}
	}
	n.client = &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	n.s = newServer(db, opts)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &firstBytes{ReadCloser: r.Body, n: &n.bodies}
		}
		n.s.mux.ServeHTTP(w, r)
	})
	srv := NewServer(h, cfg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(LimitConnections(ln, maxConns))
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
		_ = db.Close()
	})
	return n
}

// seedLines are the points written before each limit is triggered: two
// series of five points, times 1s..5s.
func seedLines() string {
	var b strings.Builder
	for _, host := range []string{"a", "b"} {
		for i := 1; i <= 5; i++ {
			fmt.Fprintf(&b, "seed,host=%s v=%d %d\n", host, i, int64(i)*int64(time.Second))
		}
	}
	return b.String()
}

// answer is what a client got: a status and body, or the connection
// closed without one (code 0).
type answer struct {
	code       int
	retryAfter string
	body       string
}

func (n *limitNode) post(t *testing.T, path, ctype, body string) answer {
	t.Helper()
	resp, err := n.client.Post(n.url+path, ctype, strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Retry-After"), string(b)}
}

func (n *limitNode) get(t *testing.T, path string) answer {
	t.Helper()
	resp, err := n.client.Get(n.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Retry-After"), string(b)}
}

// raw sends bytes on a new connection, then reads what comes back until
// the server closes it or the deadline passes (a failure). With idle, it
// first reads one whole answer and then waits for the next, sending
// nothing.
func (n *limitNode) raw(t *testing.T, send string, idle bool) answer {
	t.Helper()
	c, err := net.Dial("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, send); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	if idle {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("first answer: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("first answer: %d", resp.StatusCode)
		}
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the server neither answered nor closed the connection: %v", err)
		}
		return answer{} // closed without an answer
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Retry-After"), string(b)}
}

// rejections returns soltix_limit_rejections_total{limit=name}.
func (n *limitNode) rejections(t *testing.T, name string) int {
	t.Helper()
	a := n.get(t, "/metrics")
	m := regexp.MustCompile(`(?m)^soltix_limit_rejections_total\{limit="` + regexp.QuoteMeta(name) + `"\} (\d+)$`).FindStringSubmatch(a.body)
	if m == nil {
		t.Fatalf("/metrics has no soltix_limit_rejections_total for %s", name)
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

// values returns the v values of the series seed,host=... by time.
func (n *limitNode) values(t *testing.T, host string) map[int64]float64 {
	t.Helper()
	cols, err := n.db.Read(context.Background(), "seed", model.Tags{{Key: "host", Value: host}}, []string{"v"}, 0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]float64{}
	c := cols[0]
	for i, ts := range c.Times {
		out[ts] = c.Floats[i]
	}
	return out
}

func q(s string) string { return "/api/v1/query?q=" + url.QueryEscape(s) }

// holdRequest starts a request whose body stalls after a few bytes, and
// waits until its handler is reading it. release closes it and waits for
// its slot of sl to be free.
func (n *limitNode) holdRequest(ctx context.Context, t *testing.T, path string, sl *slots) (release func()) {
	t.Helper()
	before := n.bodies.Load()
	c := stallRequest(t, n.addr, path, 1000, "seed,h")
	waitFor(ctx, t, "the stalled request to be handled", func() bool { return n.bodies.Load() > before })
	return func() {
		c.Close()
		waitFor(ctx, t, "the stalled request to end", func() bool { return sl.used.Load() == 0 })
	}
}

// TestEveryLimit triggers every limit of docs/limits.md over real HTTP on
// a node with real storage: the client gets the documented status (and
// Retry-After where documented) and message, the limit's counter on
// /metrics goes up (for those counted), the points written before are
// intact, and the node still takes writes and queries.
func TestEveryLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const short = 300 * time.Millisecond
	big := strings.Repeat("seed,host=a v=1 1\n", 200)
	tests := []struct {
		limit     string // label of soltix_limit_rejections_total
		opts      Options
		cfg       ServerConfig
		maxConns  int
		trigger   func(t *testing.T, n *limitNode) answer
		code      int // 0: the connection is closed without an answer
		retry     bool
		msg       string
		extraPost string // a point of the seed written along, that must be there afterwards
	}{
		{
			limit: "http.max_body_bytes", opts: Options{MaxBodyBytes: 1024},
			trigger: func(t *testing.T, n *limitNode) answer { return n.post(t, "/api/v1/write", "text/plain", big) },
			code:    413, msg: "request body too large: limit is 1024 bytes (http.max_body_bytes)",
		},
		{
			limit: "http.max_inflight_body_bytes", opts: Options{MaxBodyBytes: 32 << 10, MaxInflightBodyBytes: 48 << 10},
			trigger: func(t *testing.T, n *limitNode) answer {
				held := strings.Repeat("seed,host=a v=1 1\n", (30<<10)/18)
				c := stallRequest(t, n.addr, "/api/v1/write", int64(len(held))+1000, held)
				defer c.Close()
				waitFor(ctx, t, "the first body to be held", func() bool { return n.s.budget.used.Load() >= 32<<10 })
				return n.post(t, "/api/v1/write", "text/plain", strings.Repeat("seed,host=a v=1 1\n", (20<<10)/18))
			},
			code: 503, retry: true, msg: "request bodies in flight exceed 49152 bytes (http.max_inflight_body_bytes); retry later",
		},
		{
			limit: "http.body_timeout", opts: Options{BodyTimeout: short},
			trigger: func(t *testing.T, n *limitNode) answer {
				return n.raw(t, "POST /api/v1/write HTTP/1.1\r\nHost: "+n.addr+"\r\nContent-Length: 100\r\n\r\nseed,host=a", false)
			},
			code: 408, msg: "request body not received within 300ms (http.body_timeout)",
		},
		{
			limit: "http.read_header_timeout", cfg: ServerConfig{ReadHeaderTimeout: short},
			trigger: func(t *testing.T, n *limitNode) answer {
				return n.raw(t, "POST /api/v1/write HTTP/1.1\r\nHost: "+n.addr+"\r\n", false)
			},
			code: 0,
		},
		{
			limit: "http.idle_timeout", cfg: ServerConfig{IdleTimeout: short},
			trigger: func(t *testing.T, n *limitNode) answer {
				return n.raw(t, "GET /health HTTP/1.1\r\nHost: "+n.addr+"\r\n\r\n", true)
			},
			code: 0,
		},
		{
			limit: "http.max_header_bytes", cfg: ServerConfig{MaxHeaderBytes: 1024},
			trigger: func(t *testing.T, n *limitNode) answer {
				return n.raw(t, "GET /health HTTP/1.1\r\nHost: "+n.addr+"\r\nX-Big: "+strings.Repeat("x", 8<<10)+"\r\n\r\n", false)
			},
			code: 431,
		},
		{
			limit: "http.max_connections", maxConns: 2,
			trigger: func(t *testing.T, n *limitNode) answer {
				// The client's connection holds one slot, this one the
				// other: make sure it was accepted by getting an answer.
				c, err := net.Dial("tcp", n.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				_, _ = io.WriteString(c, "GET /health HTTP/1.1\r\nHost: "+n.addr+"\r\n\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("first connection: %v", err)
				}
				resp.Body.Close()
				return n.raw(t, "GET /health HTTP/1.1\r\nHost: "+n.addr+"\r\n\r\n", false)
			},
			code: 503, retry: true, msg: "too many open connections (http.max_connections); retry later",
		},
		{
			limit: "limits.max_lines", opts: Options{MaxLines: 10}, // the seed's size
			trigger: func(t *testing.T, n *limitNode) answer {
				return n.post(t, "/write", "text/plain", seedLines()+"seed,host=c v=9 3\n")
			},
			code: 413, msg: "write of 11 points is over the limit of 10 points per request (limits.max_lines); nothing written",
		},
		{
			// The seed took both of the collection's new series; the
			// clock stands still, so no more come. The point of an
			// existing series goes in, those of new series do not.
			limit: "limits.new_series_per_minute", opts: Options{NewSeriesPerMinute: 2, Now: func() time.Time { return time.Unix(100, 0) }},
			trigger: func(t *testing.T, n *limitNode) answer {
				return n.post(t, "/api/v2/write", "text/plain", "seed,host=c v=1 1\nseed,host=a v=6 6000000000\nseed,host=d v=1 1\nseed,host=c v=2 2\n")
			},
			code: 429, retry: true, extraPost: "a@6",
			msg: `3 points refused: their new series are over the limit of 2 new series per minute of their collection (limits.new_series_per_minute); the other 1 points were written; retry later`,
		},
		{
			limit: "limits.max_concurrent_queries", opts: Options{MaxConcurrentQueries: 1},
			trigger: func(t *testing.T, n *limitNode) answer {
				defer n.holdRequest(ctx, t, "/api/v1/query", n.s.queries)()
				return n.get(t, q("SELECT v FROM seed"))
			},
			code: 429, retry: true, msg: "too many queries at once (1, limits.max_concurrent_queries); retry later",
		},
		{
			limit: "limits.max_concurrent_writes", opts: Options{MaxConcurrentWrites: 1},
			trigger: func(t *testing.T, n *limitNode) answer {
				defer n.holdRequest(ctx, t, "/api/v1/write", n.s.writes)()
				return n.post(t, "/write", "text/plain", "seed,host=c v=1 1\n")
			},
			code: 429, retry: true, msg: "too many writes at once (1, limits.max_concurrent_writes); retry later",
		},
		{
			limit: "query.timeout",
			trigger: func(t *testing.T, n *limitNode) answer {
				return n.get(t, q("SELECT v FROM seed")+"&timeout=1ns")
			},
			code: 503, retry: true, msg: "query ran past its deadline of 1ns (query.timeout)",
		},
		{
			limit: "query.max_rows", opts: Options{MaxRows: 3},
			trigger: func(t *testing.T, n *limitNode) answer { return n.get(t, q("SELECT v FROM seed")) },
			code:    422, msg: "query returns more than 3 rows (query.max_rows)",
		},
		{
			limit: "query.max_points", opts: Options{MaxPoints: 7},
			trigger: func(t *testing.T, n *limitNode) answer { return n.get(t, q("SELECT v FROM seed")) },
			code:    422, msg: "(query.max_points)",
		},
		{
			limit: "query.max_bytes", opts: Options{MaxBytes: 100},
			trigger: func(t *testing.T, n *limitNode) answer { return n.get(t, q("SELECT v FROM seed")) },
			code:    422, msg: "query returns more than 100 bytes (query.max_bytes)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.limit, func(t *testing.T) {
			n := startLimitNode(t, tt.opts, tt.cfg, tt.maxConns)
			if a := n.post(t, "/api/v1/write", "text/plain", seedLines()); a.code != 204 {
				t.Fatalf("seed write: %d %s", a.code, a.body)
			}
			before := n.rejections(t, tt.limit)

			a := tt.trigger(t, n)
			if a.code != tt.code {
				t.Errorf("got %d %q, want %d", a.code, a.body, tt.code)
			}
			if tt.retry && a.retryAfter == "" {
				t.Errorf("no Retry-After on %d", a.code)
			}
			if tt.msg != "" && !strings.Contains(a.body, tt.msg) {
				t.Errorf("body %q does not say %q", a.body, tt.msg)
			}
			if tt.code >= 400 && tt.code != 431 && !strings.HasPrefix(a.body, `{"error":`) {
				t.Errorf("body %q is not a JSON error", a.body)
			}
			// Connection refusals are counted for the process; other
			// tests may add some.
			if got := n.rejections(t, tt.limit); got < before+1 || (tt.limit != limitMaxConnections && got != before+1) {
				t.Errorf("soltix_limit_rejections_total{limit=%q} went from %d to %d, want +1", tt.limit, before, got)
			}

			// What was accepted before is intact (and the point of an
			// existing series written along, where there is one).
			for _, host := range []string{"a", "b"} {
				got := n.values(t, host)
				want := map[int64]float64{}
				for i := 1; i <= 5; i++ {
					want[int64(i)*int64(time.Second)] = float64(i)
				}
				if tt.extraPost == host+"@6" {
					want[6*int64(time.Second)] = 6
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("series host=%s after the limit: %v, want %v", host, got, want)
				}
			}
			if s := n.db.Series("seed", nil); len(s) != 2 {
				t.Errorf("collection seed has %d series after the limit, want the 2 of the seed: %v", len(s), s)
			}

			// The node still takes a valid write and answers a query
			// within every limit.
			if a := n.post(t, "/api/v1/write", "text/plain", "seed,host=b v=7 7000000000\n"); a.code != 204 {
				t.Errorf("write after the limit: %d %s", a.code, a.body)
			}
			a = n.get(t, q("SELECT v FROM seed WHERE host = 'b' AND time >= 7000000000"))
			if a.code != 200 || !strings.Contains(a.body, "7") {
				t.Errorf("query after the limit: %d %s", a.code, a.body)
			}
		})
	}
}
