package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vmRSS returns the resident set of a process in KiB.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// TestBinaryRequestGuards drives `soltix serve` the way the attacks of issue
// 11 items 11 and 14 do: stalled bodies declaring 64 MiB, a page's
// cross-origin DELETE, a DNS-rebinding Host; curl-like clients keep working.
func TestBinaryRequestGuards(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Fatalf("needs /proc: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "soltix.yaml")
	if err := os.WriteFile(conf, []byte("http:\n  body_timeout: 3s\n  allowed_origins: [https://grafana.example.com]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startBinary(t, filepath.Join(dir, "data"), "--config", conf, "--wal-sync", "never")
	u, _ := url.Parse(s.url)
	addr := u.Host
	if code, err := s.write("c,host=a v=1 1\nc,host=b v=2 2\n"); err != nil || code != 204 {
		t.Fatalf("write: %d %v", code, err)
	}

	// 64 connections declare 64 MiB each and send 3 bytes.
	rss0 := vmRSS(t, s.cmd.Process.Pid)
	var conns []net.Conn
	for range 64 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /api/v1/write HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\ncpu", addr, 64<<20)
		conns = append(conns, c)
	}
	// A request on each of a few more connections proves the earlier ones
	// were accepted and are being served.
	if res := s.query(t, "SELECT count(v) FROM c"); len(res.Rows) != 1 || fmt.Sprint(res.Rows[0][1]) != "2" {
		t.Fatalf("query during the attack: %v, want a count of 2", res.Rows)
	}
	if code, err := s.write("c,host=c v=3 3\n"); err != nil || code != 204 {
		t.Fatalf("write during the attack: %d %v", code, err)
	}
	rss1 := vmRSS(t, s.cmd.Process.Pid)
	t.Logf("VmRSS %d KiB before, %d KiB with 64 stalled 64 MiB bodies", rss0, rss1)
	if rss1-rss0 > 64<<10 {
		t.Errorf("VmRSS grew by %d MiB with 64 stalled bodies, want under 64 MiB", (rss1-rss0)>>10)
	}
	for i, c := range conns {
		dl, _ := ctx.Deadline()
		_ = c.SetReadDeadline(dl)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("stalled connection %d: %v, want a 408", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("stalled connection %d: got %d %s, want 408", i, resp.StatusCode, b)
		}
	}

	send := func(method, path, ctype, body string, header ...string) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, s.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ctype)
		for i := 0; i+1 < len(header); i += 2 {
			if header[i] == "Host" {
				req.Host = header[i+1]
			} else {
				req.Header.Set(header[i], header[i+1])
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header, string(b)
	}
	form := "application/x-www-form-urlencoded"
	del := "q=" + url.QueryEscape("DELETE FROM c")
	for _, tt := range []struct {
		name, ctype, body string
		header            []string
		code              int
	}{
		{"text/plain from a page", "text/plain", "DELETE FROM c", []string{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}, 403},
		{"form from a page", form, del, []string{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}, 403},
		{"rebinding page", form, del, []string{"Host", "evil.example:" + u.Port(), "Origin", "http://evil.example:" + u.Port()}, 421},
	} {
		if code, _, b := send("POST", "/api/v1/query", tt.ctype, tt.body, tt.header...); code != tt.code {
			t.Errorf("%s: got %d %s, want %d", tt.name, code, b, tt.code)
		}
	}
	if res := s.query(t, "SELECT count(v) FROM c"); len(res.Rows) != 1 || fmt.Sprint(res.Rows[0][1]) != "3" {
		t.Fatalf("after refused DELETEs: %v, want a count of 3", res.Rows)
	}
	if code, h, b := send("OPTIONS", "/api/v1/query", "", "", "Origin", "https://grafana.example.com", "Access-Control-Request-Method", "POST"); code != 204 ||
		h.Get("Access-Control-Allow-Origin") != "https://grafana.example.com" {
		t.Errorf("allowed preflight: got %d %v %s", code, h, b)
	}
	// curl --data-urlencode, as the README does.
	if code, _, b := send("POST", "/api/v1/query", form, del); code != 200 {
		t.Fatalf("curl DELETE: got %d %s, want 200", code, b)
	}
	if code, _, b := send("GET", "/api/v1/query?q="+url.QueryEscape("SELECT count(v) FROM c"), "", ""); code != 404 && !strings.Contains(b, `"rows":[]`) {
		t.Errorf("after the DELETE: got %d %s, want no rows", code, b)
	}
	s.stop(t)
}
