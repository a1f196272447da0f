package httpapi

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxConnections is the number of open client connections
// LimitConnections keeps when given 0.
const DefaultMaxConnections = 4096

// busyResponse is written to a connection refused for being over the
// limit. It is HTTP/1.1, which every client but an h2c one with prior
// knowledge speaks; the connection is closed after it either way.
var busyResponse = func() []byte {
	body := `{"error":"too many open connections (http.max_connections); retry later"}`
	return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n" +
		"Retry-After: " + strconv.Itoa(retryAfterSeconds) + "\r\nConnection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// LimitConnections returns a listener that keeps at most n client
// connections open at once (0 means DefaultMaxConnections, negative no
// limit). A connection accepted beyond that is answered 503 with
// Retry-After and closed at once, rather than left waiting in the
// listen queue, so that clients learn to retry while the connections
// already open (each bounded by the server's timeouts) are served.
func LimitConnections(ln net.Listener, n int) net.Listener {
	if n == 0 {
		n = DefaultMaxConnections
	}
	if n < 0 {
		n = math.MaxInt64 // the connections are still tracked (connstats.go)
	}
	return &limitedListener{Listener: ln, max: int64(n)}
}

type limitedListener struct {
	net.Listener
	max  int64
	open atomic.Int64
}

func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &limitedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		connRefusals.Add(1)
		go refuseConn(c)
	}
}

// refuseConn answers a connection over the limit and closes it.
func refuseConn(c net.Conn) {
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(busyResponse)
	_ = c.Close()
}

// limitedConn gives its slot back when closed, and counts the
// connection-level limits net/http enforces on it (connstats.go).
type limitedConn struct {
	net.Conn
	l     *limitedListener
	once  sync.Once
	track connTrack
}

func (c *limitedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.track.onRead(n, err)
	return n, err
}

func (c *limitedConn) Write(b []byte) (int, error) {
	c.track.onWrite(b)
	return c.Conn.Write(b)
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// limitRequests bounds the requests h handles at once to n (n <= 0: no
// limit). One HTTP/2 connection multiplexes many streams, so the bound on
// connections alone does not bound the requests held; a request over
// this one answers 503 with Retry-After at once, without its body being
// read.
func limitRequests(h http.Handler, n int) http.Handler {
	if n <= 0 {
		return h
	}
	var inflight atomic.Int64
	msg := []byte(`{"error":"too many requests in flight (` + strconv.Itoa(n) + `, http.max_connections); retry later"}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if inflight.Add(1) > int64(n) {
			inflight.Add(-1)
			connRefusals.Add(1)
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
			if r.ProtoMajor == 1 {
				// Its body is not read. (HTTP/2 resets the stream
				// instead; "Connection: close" would end all the
				// connection's streams.)
				w.Header().Set("Connection", "close")
			}
			writeJSON(w, http.StatusServiceUnavailable, msg)
			return
		}
		defer inflight.Add(-1)
		h.ServeHTTP(w, r)
	})
}
