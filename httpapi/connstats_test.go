package httpapi

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/testcert"
)

// connCounters reads the connection-level counts from /metrics.
func (n *limitNode) connCounters(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, name := range []string{limitReadHeaderTimeout, limitIdleTimeout, limitMaxHeaderBytes} {
		out[name] = n.rejections(t, name)
	}
	m := regexp.MustCompile(`(?m)^soltix_http_bad_requests_total (\d+)$`).FindStringSubmatch(n.get(t, "/metrics").body)
	if m == nil {
		t.Fatal("/metrics has no soltix_http_bad_requests_total")
	}
	out["bad"], _ = strconv.Atoi(m[1])
	return out
}

// TestConnectionCounts drives raw TCP clients against a server with short
// timeouts and checks that each way net/http ends a connection before any
// handler is counted once, under its own name, and nothing else is.
func TestConnectionCounts(t *testing.T) {
	const short = 300 * time.Millisecond
	n := startLimitNode(t, Options{}, ServerConfig{ReadHeaderTimeout: short, IdleTimeout: short, MaxHeaderBytes: 1024}, 0)
	get := "GET /health HTTP/1.1\r\nHost: " + n.addr + "\r\n\r\n"
	tests := []struct {
		name string
		// steps are sent in order; after each but the last, one whole
		// answer is read.
		steps []string
		want  string // the counter that must go up by one; "" none
		code  int    // the last answer's status; 0 closed without one
	}{
		{"nothing sent", []string{""}, limitReadHeaderTimeout, 0},
		{"part of the headers", []string{"GET /health HTTP/1.1\r\nHost: "}, limitReadHeaderTimeout, 0},
		{"idle after a request", []string{get, ""}, limitIdleTimeout, 0},
		{"part of the second request's headers", []string{get, "GET /health HTTP/1.1\r\n"}, limitReadHeaderTimeout, 0},
		{"headers too large", []string{"GET /health HTTP/1.1\r\nHost: " + n.addr + "\r\nX-Big: " + strings.Repeat("x", 8<<10) + "\r\n\r\n"}, limitMaxHeaderBytes, 431},
		{"garbage", []string{"NOT HTTP AT ALL\r\n\r\n"}, "bad", 400},
		{"a request answered, then closed", []string{get + "GET /health HTTP/1.1\r\nHost: " + n.addr + "\r\nConnection: close\r\n\r\n"}, "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := n.connCounters(t)
			c, err := net.Dial("tcp", n.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(c)
			code := 0
			for i, step := range tt.steps {
				if _, err := io.WriteString(c, step); err != nil {
					t.Fatal(err)
				}
				if i < len(tt.steps)-1 {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
			// Read answers until the server closes the connection.
			for {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						t.Fatal("the server neither answered nor closed the connection")
					}
					break
				}
				code = resp.StatusCode
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if code != tt.code {
				t.Errorf("last answer %d, want %d", code, tt.code)
			}
			after := n.connCounters(t)
			for name, v := range after {
				want := before[name]
				if name == tt.want {
					want++
				}
				if v != want {
					t.Errorf("%s went from %d to %d, want %d", name, before[name], v, want)
				}
			}
		})
	}
}

// TestConnectionCountsTLS: under TLS the timeouts are counted as over
// cleartext: a client that never finishes its handshake, or sends part of
// its headers, hits the read-header timeout; an idle HTTP/1.1 connection
// the idle timeout.
func TestConnectionCountsTLS(t *testing.T) {
	const short = 300 * time.Millisecond
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	cert := testcert.SelfSigned(t, 1, certFile, keyFile)
	rl, err := NewCertReloader(certFile, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := newTestServer(t, Options{})
	srv := NewServer(s.mux, ServerConfig{ReadHeaderTimeout: short, IdleTimeout: short})
	UseTLS(srv, rl.TLSConfig())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = Serve(srv, LimitConnections(ln, -1))
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	addr := ln.Addr().String()
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	counts := func() map[string]uint64 {
		out := map[string]uint64{}
		for _, name := range []string{limitReadHeaderTimeout, limitIdleTimeout, limitMaxHeaderBytes} {
			out[name], _ = connCounts(name)
		}
		return out
	}
	// dial opens a connection, over TLS when handshake.
	dial := func(handshake bool) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		if !handshake {
			return c
		}
		tc := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		return tc
	}
	get := "GET /health HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
	for _, tc := range []struct {
		name      string
		handshake bool
		send      string
		answers   int // whole answers read before waiting for the close
		want      string
	}{
		{"no handshake", false, "", 0, limitReadHeaderTimeout},
		{"part of the headers", true, "GET /health HTTP/1.1\r\n", 0, limitReadHeaderTimeout},
		{"idle after a request", true, get, 1, limitIdleTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := counts()
			c := dial(tc.handshake)
			defer c.Close()
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			for range tc.answers {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if _, err := io.Copy(io.Discard, br); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("the server did not close the connection")
				}
			}
			after := counts()
			for name, v := range after {
				want := before[name]
				if name == tc.want {
					want++
				}
				if v != want {
					t.Errorf("%s went from %d to %d, want %d", name, before[name], v, want)
				}
			}
		})
	}
}
