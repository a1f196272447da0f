package httpapi

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/soltixdb/soltix/internal/freelist"
)

// What one client can make the server hold is bounded at three places:
//
//   - the connection (NewServer): how long headers may take to arrive, how
//     large they may be, how long an idle keep-alive connection is kept;
//   - the request body (guardBodies): a deadline for the whole body, and a
//     share of a budget of body bytes held by all requests at once, taken
//     in chunks as bytes arrive, never from a declared Content-Length;
//   - the buffer a handler reads a body into (readAll): it grows
//     geometrically with the bytes received, up to the body limit (writes
//     reuse a few buffers, bodyBufs, but count them the same way).
//
// The body deadline is set per request (http.ResponseController) rather
// than as the server's ReadTimeout: the handler then knows the deadline is
// its own and answers 408 naming the setting, tests of the handler get it
// without a server, and it is lifted as soon as the body is in, so it never
// bounds a long query (net/http also clears a connection's read deadline
// when it starts watching for the client going away). It applies to each
// h2c stream too. There is deliberately no WriteTimeout: it would cut long
// streamed query answers.

// Defaults of the limits.
const (
	// DefaultMaxInflightBodyBytes is the budget of request body bytes held
	// at once when Options.MaxInflightBodyBytes is 0. It is raised to twice
	// the body limit when that is larger, so that a body at the limit fits.
	DefaultMaxInflightBodyBytes = 256 << 20
	// DefaultBodyTimeout is the time a request may take to send its body
	// when Options.BodyTimeout is 0.
	DefaultBodyTimeout = time.Minute
	// DefaultReadHeaderTimeout is the time a client may take to send a
	// request's headers when ServerConfig.ReadHeaderTimeout is 0.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout is how long an idle keep-alive connection (HTTP/1.1
	// or h2c) is kept when ServerConfig.IdleTimeout is 0.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultMaxHeaderBytes bounds the size of a request's headers when
	// ServerConfig.MaxHeaderBytes is 0.
	DefaultMaxHeaderBytes = 64 << 10
)

const (
	// holdChunk is the granularity in which a request takes its share of
	// the body budget.
	holdChunk = 16 << 10
	// minBodyBuf is the first size of a body buffer.
	minBodyBuf = 4 << 10
	// maxH2FrameSize is the largest HTTP/2 frame a client may send.
	maxH2FrameSize = 64 << 10
	// retryAfterSeconds is the Retry-After of a 503 for a full budget.
	retryAfterSeconds = 1
)

// ServerConfig holds the connection limits of NewServer. The zero value
// uses the defaults.
type ServerConfig struct {
	// ReadHeaderTimeout is the time a client may take to send a request's
	// headers. 0 means DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may stay idle
	// between requests. 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the size of a request's headers (HTTP/1.1
	// request line and headers; the header list of an HTTP/2 stream).
	// 0 means DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxRequests bounds the requests being handled at once, HTTP/2
	// streams included. 0 means DefaultMaxConnections; negative, no
	// limit.
	MaxRequests int
	// ErrorLog receives the server's connection errors; nil means the log
	// package's standard logger.
	ErrorLog *log.Logger
}

// NewServer returns the http.Server that serves h in production: HTTP/1.1
// and unencrypted HTTP/2 (h2c) on one port, with the limits of cfg, at most
// cfg.MaxRequests requests (HTTP/2 streams included) handled at once. It sets
// no ReadTimeout or WriteTimeout, so long queries and streamed answers are
// not cut; request bodies get their deadline from the handler
// (Options.BodyTimeout).
func NewServer(h http.Handler, cfg ServerConfig) *http.Server {
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if cfg.MaxRequests == 0 {
		cfg.MaxRequests = DefaultMaxConnections
	}
	if h == nil {
		h = http.DefaultServeMux
	}
	srv := &http.Server{
		Handler:           markServed(limitRequests(h, cfg.MaxRequests)),
		ConnState:         connState,
		ConnContext:       connContext,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          cfg.ErrorLog,
		// HTTP/2 flow control bounds what a connection can make the
		// server buffer before a handler reads it: 1 MiB per connection
		// (the net/http default), whatever the streams declare. Frames
		// are read into a per-connection buffer as large as the largest
		// frame allowed: 64 KiB rather than net/http's 1 MiB.
		HTTP2: &http.HTTP2Config{MaxReceiveBufferPerConnection: 1 << 20, MaxReadFrameSize: maxH2FrameSize},
	}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	return srv
}

// bodyBudget is the number of bytes of request bodies that all requests
// together may hold. It is safe for concurrent use.
type bodyBudget struct {
	max  int64 // <= 0: no limit
	used atomic.Int64
}

// take reserves n bytes, or reports false when that would go over max.
func (b *bodyBudget) take(n int64) bool {
	if b.max <= 0 {
		b.used.Add(n)
		return true
	}
	for {
		u := b.used.Load()
		if u+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// give returns n reserved bytes.
func (b *bodyBudget) give(n int64) { b.used.Add(-n) }

// bodyHold is one request's share of the body budget. It only grows while
// the request runs and is given back in full when its handler returns.
type bodyHold struct {
	budget  *bodyBudget
	mu      sync.Mutex
	held    int64
	refused bool     // the budget could not cover it once
	after   []func() // run by release: other shares held until the handler returns
}

// ensure makes the share at least n bytes, taking it in whole chunks. It
// returns an *inflightError when the budget cannot cover it.
func (h *bodyHold) ensure(n int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n <= h.held {
		return nil
	}
	want := (n+holdChunk-1)/holdChunk*holdChunk - h.held
	if !h.budget.take(want) {
		h.refused = true
		return &inflightError{max: h.budget.max}
	}
	h.held += want
	return nil
}

func (h *bodyHold) wasRefused() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.refused
}

func (h *bodyHold) release() {
	h.mu.Lock()
	after := h.after
	h.after = nil
	h.budget.give(h.held)
	h.held = 0
	h.mu.Unlock()
	for _, f := range after {
		f()
	}
}

// inflightError is the error of a body read that would take the bodies in
// flight over http.max_inflight_body_bytes.
type inflightError struct{ max int64 }

func (e *inflightError) Error() string {
	return fmt.Sprintf("request bodies in flight exceed %d bytes (http.max_inflight_body_bytes); retry later", e.max)
}

// bodyTimeoutError is the error of a body read past the body deadline.
type bodyTimeoutError struct{ d time.Duration }

func (e *bodyTimeoutError) Error() string {
	return fmt.Sprintf("request body not received within %s (http.body_timeout)", e.d)
}

// guardedBody is a request body under the body deadline and the budget:
// each read takes its bytes from the request's share, and reading to the
// end lifts the deadline.
type guardedBody struct {
	rc      io.ReadCloser
	hold    *bodyHold
	ctl     *http.ResponseController // nil when no deadline is set
	timeout time.Duration
	read    int64
	drain   int64 // at most this many bytes are discarded after a refusal
}

func (g *guardedBody) Read(p []byte) (int, error) {
	n, err := g.rc.Read(p)
	g.read += int64(n)
	if n > 0 {
		if herr := g.hold.ensure(g.read); herr != nil {
			return n, herr
		}
	}
	switch {
	case err == io.EOF && g.ctl != nil:
		// The body is in: the deadline must not bound what the
		// handler does next (a long query).
		_ = g.ctl.SetReadDeadline(time.Time{})
		g.ctl = nil
	case err != nil && g.ctl != nil && errors.Is(err, os.ErrDeadlineExceeded):
		err = &bodyTimeoutError{d: g.timeout}
	}
	return n, err
}

// Close discards the rest of a refused body before closing it (see
// discard): the server's own Close reads at most 256 KiB of what is left.
func (g *guardedBody) Close() error {
	if g.hold.wasRefused() {
		g.discard()
	}
	return g.rc.Close()
}

// discard reads the rest of a refused body (up to g.drain bytes, under the
// body deadline) into a small fixed buffer, holding none of it. A server
// that answers and closes while the client is still sending makes the
// client's kernel see a reset, and most clients then report "connection
// reset" instead of the 503 and its Retry-After; reading the rest first
// lets the answer through. Memory stays bounded: only the budget is about
// memory, and discarding holds none.
func (g *guardedBody) discard() {
	_, _ = io.CopyN(io.Discard, g.rc, g.drain)
}

// guardBodies puts every request body under the body deadline and the body
// budget, and gives the request's share back when its handler returns.
func (s *server) guardBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		g := &guardedBody{rc: r.Body, hold: &bodyHold{budget: s.budget}, timeout: s.bodyTimeout, drain: s.limit}
		defer g.hold.release()
		if s.bodyTimeout > 0 {
			ctl := http.NewResponseController(w)
			// Not every ResponseWriter supports deadlines (a test
			// recorder does not); those bodies go without.
			if ctl.SetReadDeadline(time.Now().Add(s.bodyTimeout)) == nil {
				g.ctl = ctl
			}
		}
		r.Body = g
		next.ServeHTTP(w, r)
		if g.hold.wasRefused() {
			g.discard()
		}
	})
}

// guardError maps a body read error caused by the guards to its status,
// setting Retry-After for a full budget. The connection is closed after
// the answer: a refused body is discarded up to the body limit (see
// guardedBody.discard), a timed-out one is not read further. ok is false for other
// errors.
func guardError(w http.ResponseWriter, err error) (code int, msg string, ok bool) {
	var ie *inflightError
	var te *bodyTimeoutError
	switch {
	case errors.As(err, &ie):
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		w.Header().Set("Connection", "close")
		return http.StatusServiceUnavailable, ie.Error(), true
	case errors.As(err, &te):
		w.Header().Set("Connection", "close")
		return http.StatusRequestTimeout, te.Error(), true
	}
	return 0, "", false
}

// bodyHoldOf returns the share of the budget of r's body, or nil.
func bodyHoldOf(r *http.Request) *bodyHold {
	if g, ok := r.Body.(*guardedBody); ok {
		return g.hold
	}
	return nil
}

// readAll reads rd to its end into a buffer that grows geometrically with
// the bytes received: never to more than limit+1 bytes, and, when the length
// is announced (hint >= 0), not past hint+1 until more than hint bytes have
// arrived. Each growth is first taken from hold (when not nil). A result
// longer than limit means the body is over the limit.
//
// While an announced length is not yet reached, a growth adds a chunk
// instead of copying into a larger buffer: the bytes received so far are
// copied once, into the buffer of the announced length, when it is
// allocated. The capacities allocated and taken from hold are those of the
// doubling buffer they replace.
//
// spare, when not nil, is an empty buffer to read into first (from
// bodyBufs): a growth that fits in its capacity takes the same share of
// hold but allocates nothing. The result may be spare itself.
func readAll(rd io.Reader, limit, hint int64, hold *bodyHold, spare []byte) ([]byte, error) {
	var (
		chunks [][]byte // full chunks before buf, while the final size is unknown
		prev   int64    // bytes in chunks
		buf    = spare[:0]
		room   = 0 // the capacity of buf counted so far; cap(buf) unless buf is spare
	)
	for {
		if len(buf) == room {
			total := prev + int64(len(buf))
			if total > limit {
				return joinChunks(chunks, buf), nil
			}
			n := nextBodyBuf(total, hint, limit)
			if hold != nil {
				if err := hold.ensure(n); err != nil {
					return nil, err
				}
			}
			switch {
			case len(chunks) == 0 && n <= int64(cap(buf)):
				// The spare buffer holds it.
				room = int(n)
			case hint >= 0 && n < min(hint, limit)+1:
				// Not yet the announced length: add a chunk.
				if len(buf) > 0 {
					chunks = append(chunks, buf[:len(buf):len(buf)])
				}
				prev = total
				buf = make([]byte, 0, n-total)
				room = cap(buf)
			default:
				nb := make([]byte, 0, n)
				for _, c := range chunks {
					nb = append(nb, c...)
				}
				buf = append(nb, buf...)
				chunks, prev = nil, 0
				room = cap(buf)
			}
		}
		m, err := rd.Read(buf[len(buf):room])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return joinChunks(chunks, buf), nil
		}
		if err != nil {
			return joinChunks(chunks, buf), err
		}
	}
}

// bodyBufs keeps the buffers of a few write bodies for the next writes
// (a batch of 10,000 lines is megabytes, and allocating it afresh per
// request was much of the collector's work under a steady load). It holds
// at most maxPooledBodies buffers of at most maxPooledBody bytes each;
// a buffer is put back only once nothing refers to its bytes (the points
// decoded from it hold copies). The body budget counts a request's buffer
// only while the request holds it.
var bodyBufs = freelist.New[[]byte](maxPooledBodies)

const (
	maxPooledBodies = 4
	maxPooledBody   = 8 << 20
)

// getBodyBuf returns a pooled empty buffer, or nil.
func getBodyBuf() []byte {
	b, _ := bodyBufs.Get()
	return b
}

// putBodyBuf offers b, whose bytes are no longer referred to, for reuse.
func putBodyBuf(b []byte) {
	if cap(b) < minBodyBuf || cap(b) > maxPooledBody {
		return
	}
	bodyBufs.Put(b[:0])
}

// joinChunks returns chunks followed by last as one slice, last itself when
// there are no chunks. Its capacity is theirs together: that of the
// doubling buffer they stand for, which is what was taken from the hold.
func joinChunks(chunks [][]byte, last []byte) []byte {
	if len(chunks) == 0 {
		return last
	}
	c := cap(last)
	for _, ch := range chunks {
		c += cap(ch)
	}
	out := make([]byte, 0, c)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return append(out, last...)
}

// nextBodyBuf returns the capacity a full body buffer of capacity c grows
// to.
func nextBodyBuf(c, hint, limit int64) int64 {
	n := max(2*c, minBodyBuf)
	if hint >= 0 && hint+1 > c {
		n = min(n, hint+1)
	}
	return min(n, limit+1)
}
