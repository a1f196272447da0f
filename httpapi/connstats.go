package httpapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"sync/atomic"
)

// Connection-level limits are enforced by net/http before any handler
// runs: the read-header timeout, the idle timeout and the header size. They
// are counted here, from what the connections of LimitConnections see
// (their reads and writes) and the server's ConnState hook (NewServer):
//
//   - http.read_header_timeout: a read deadline hit on a connection that
//     was new or had begun a request no handler took yet, i.e. whose
//     request headers (or TLS handshake) did not arrive within
//     ReadHeaderTimeout. net/http closes it without an answer.
//   - http.idle_timeout: a read deadline hit on an idle keep-alive HTTP/1.1
//     connection, i.e. one the server closed after IdleTimeout without a
//     request. (Clients closing their idle connections are not counted;
//     nor are HTTP/2 connections, which net/http times out by a timer.)
//   - http.max_header_bytes: a 431 answer net/http wrote before any
//     handler, on a cleartext HTTP/1.1 connection (under TLS the answer is
//     encrypted below the point where it is seen; HTTP/2 header lists over
//     the limit are refused by the HTTP/2 server and not counted).
//
// soltix_http_bad_requests_total counts, likewise, the 400 answers net/http
// wrote before any handler to malformed HTTP/1.1 requests (cleartext).
var (
	connReadHeaderTimeouts atomic.Uint64
	connIdleTimeouts       atomic.Uint64
	connHeaderTooLarge     atomic.Uint64
	connBadRequests        atomic.Uint64
)

// Setting names of the connection-level limits (soltix_limit_rejections_total).
const (
	limitReadHeaderTimeout = "http.read_header_timeout"
	limitIdleTimeout       = "http.idle_timeout"
	limitMaxHeaderBytes    = "http.max_header_bytes"
)

// connCounts returns the count of a connection-level limit (ok false for
// another limit).
func connCounts(limit string) (uint64, bool) {
	switch limit {
	case limitReadHeaderTimeout:
		return connReadHeaderTimeouts.Load(), true
	case limitIdleTimeout:
		return connIdleTimeouts.Load(), true
	case limitMaxHeaderBytes:
		return connHeaderTooLarge.Load(), true
	case limitMaxConnections:
		return connRefusals.Load(), true
	}
	return 0, false
}

// connTrack is what a connection of LimitConnections knows of its state.
type connTrack struct {
	// state is the last http.ConnState the server gave it.
	state atomic.Int32
	// served is set when a handler starts on the connection and cleared
	// when it turns idle: a read or an answer while it is clear comes
	// from net/http before any handler.
	served atomic.Bool
	// read is set when bytes arrive and cleared when the connection
	// turns idle: net/http reads a request's headers before it marks the
	// connection active, so an idle connection that read bytes is
	// reading headers.
	read atomic.Bool
	// counted is set once a timeout was counted: net/http reads once
	// more after a deadline in some paths.
	counted atomic.Bool
}

// onRead counts a read deadline hit by the state it was hit in.
func (t *connTrack) onRead(n int, err error) {
	if n > 0 {
		t.read.Store(true)
	}
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) || t.served.Load() {
		return
	}
	if !t.counted.CompareAndSwap(false, true) {
		return
	}
	if http.ConnState(t.state.Load()) == http.StateIdle && !t.read.Load() {
		connIdleTimeouts.Add(1)
		return
	}
	connReadHeaderTimeouts.Add(1)
}

// onWrite counts an answer net/http wrote before any handler.
func (t *connTrack) onWrite(b []byte) {
	if t.served.Load() || len(b) < len("HTTP/1.1 400") {
		return
	}
	switch {
	case bytes.HasPrefix(b, []byte("HTTP/1.1 431")):
		connHeaderTooLarge.Add(1)
	case bytes.HasPrefix(b, []byte("HTTP/1.1 400")):
		connBadRequests.Add(1)
	}
}

// trackOf returns the tracking of c (a connection of LimitConnections,
// directly or under TLS), or nil.
func trackOf(c net.Conn) *connTrack {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if lc, ok := c.(*limitedConn); ok {
		return &lc.track
	}
	return nil
}

// connState is NewServer's http.Server.ConnState.
func connState(c net.Conn, s http.ConnState) {
	t := trackOf(c)
	if t == nil {
		return
	}
	t.state.Store(int32(s))
	if s == http.StateIdle {
		t.served.Store(false)
		t.read.Store(false)
		t.counted.Store(false)
	}
}

type connKey struct{}

// connContext is NewServer's http.Server.ConnContext: it lets markServed
// find the request's connection.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if t := trackOf(c); t != nil {
		return context.WithValue(ctx, connKey{}, t)
	}
	return ctx
}

// markServed notes, before h runs, that a handler took a request of its
// connection.
func markServed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t, ok := r.Context().Value(connKey{}).(*connTrack); ok {
			t.served.Store(true)
		}
		h.ServeHTTP(w, r)
	})
}
