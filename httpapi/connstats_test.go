package httpapi

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
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
