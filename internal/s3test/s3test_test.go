package s3test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestServerLifecycle: Start answers on its endpoint as versitygw with the
// bucket's directory in place; Kill stops it answering; Restart brings it
// back on the same endpoint with the same data; Stop twice is harmless.
func TestServerLifecycle(t *testing.T) {
	s := Start(t)
	ep := s.Endpoint()
	client := &http.Client{Timeout: 5 * time.Second}
	if !s.answers(context.Background(), client) {
		t.Fatalf("%s does not answer as versitygw", ep)
	}
	if fi, err := os.Stat(s.BucketDir()); err != nil || !fi.IsDir() {
		t.Fatalf("bucket dir: %v", err)
	}
	marker := filepath.Join(s.BucketDir(), "marker")
	if err := os.WriteFile(marker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s.Pid() == 0 {
		t.Fatal("Pid 0 while running")
	}
	s.Kill()
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Fatal("server answers after Kill")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.Endpoint() != ep || !s.answers(context.Background(), client) {
		t.Fatalf("after restart: endpoint %s (was %s)", s.Endpoint(), ep)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("data lost over restart: %v", err)
	}
	env := strings.Join(s.Env(), " ")
	for _, want := range []string{"AWS_ACCESS_KEY_ID=" + AccessKey, "AWS_ENDPOINT_URL_S3=" + ep} {
		if !strings.Contains(env, want) {
			t.Fatalf("Env %q lacks %q", env, want)
		}
	}
	s.Stop()
	s.Stop()
	if s.Pid() != 0 {
		t.Fatal("Pid of a stopped server is not 0")
	}
}

// TestMissingBinary: with no versitygw anywhere Binary says how to install
// it.
func TestMissingBinary(t *testing.T) {
	t.Setenv("GOBIN", "")
	t.Setenv("GOPATH", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	_, err := Binary()
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), InstallCommand) {
		t.Fatalf("Binary() = %v, want ErrNotFound naming %q", err, InstallCommand)
	}
	if _, err := StartProcess(t.TempDir()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("StartProcess = %v", err)
	}
}

// backend is a plain HTTP server standing in for S3: GET returns body,
// PUT records how many body bytes arrived and whether the body ended
// cleanly.
type backend struct {
	body     []byte
	putBytes atomic.Int64
	putOK    atomic.Int64
	putCut   atomic.Int64
	host     atomic.Value
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.host.Store(r.Host)
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Length", strconv.Itoa(len(b.body)))
		w.Write(b.body)
	case http.MethodPut:
		n, err := io.Copy(io.Discard, r.Body)
		b.putBytes.Add(n)
		if err != nil || n != r.ContentLength {
			b.putCut.Add(1)
			return
		}
		b.putOK.Add(1)
	}
}

// TestProxyFaults: each fault does to a request exactly what it says, on
// the requests it applies to, and Healthy passes them through unchanged.
func TestProxyFaults(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 1000)
	be := &backend{body: body}
	srv := httptest.NewServer(be)
	t.Cleanup(srv.Close)
	p := StartProxy(t, srv.URL)
	upload := bytes.Repeat([]byte("u"), 4096)

	get := func(t *testing.T, path string) ([]byte, int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL()+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return b, resp.StatusCode, err
	}
	put := func(t *testing.T) (int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, p.URL()+"/bucket/key", bytes.NewReader(upload))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	cases := []struct {
		fault Fault
		check func(t *testing.T)
	}{
		{Healthy, func(t *testing.T) {
			b, code, err := get(t, "/bucket/key")
			if err != nil || code != 200 || !bytes.Equal(b, body) {
				t.Fatalf("GET: %d %d bytes %v", code, len(b), err)
			}
			if code, err := put(t); err != nil || code != 200 {
				t.Fatalf("PUT: %d %v", code, err)
			}
		}},
		{Fail500, func(t *testing.T) {
			b, code, err := get(t, "/bucket/key")
			if err != nil || code != 500 || !bytes.Contains(b, []byte("<Code>InternalError</Code>")) {
				t.Fatalf("GET: %d %q %v", code, b, err)
			}
		}},
		{Drop, func(t *testing.T) {
			if _, _, err := get(t, "/bucket/key"); err == nil {
				t.Fatal("GET through Drop succeeded")
			}
		}},
		{Stall, func(t *testing.T) {
			if _, _, err := get(t, "/bucket/key"); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("GET through Stall: %v, want the client's deadline", err)
			}
		}},
		{TruncateGet, func(t *testing.T) {
			b, code, err := get(t, "/bucket/key")
			if err == nil || code != 200 || len(b) == 0 || len(b) >= len(body) || !bytes.Equal(b, body[:len(b)]) {
				t.Fatalf("GET: %d %d bytes %v, want a short body and an error", code, len(b), err)
			}
			// A listing (bucket GET) is not an object GET.
			if b, _, err := get(t, "/bucket"); err != nil || !bytes.Equal(b, body) {
				t.Fatalf("bucket GET: %d bytes %v", len(b), err)
			}
		}},
		{CorruptGet, func(t *testing.T) {
			b, code, err := get(t, "/bucket/key")
			if err != nil || code != 200 || len(b) != len(body) {
				t.Fatalf("GET: %d %d bytes %v", code, len(b), err)
			}
			diff := 0
			for i := range b {
				if b[i] != body[i] {
					diff++
				}
			}
			if diff != 1 {
				t.Fatalf("%d bytes differ, want 1", diff)
			}
		}},
		{CutUpload, func(t *testing.T) {
			cut, got := be.putCut.Load(), be.putBytes.Load()
			if _, err := put(t); err == nil {
				t.Fatal("PUT through CutUpload got an answer")
			}
			if be.putCut.Load() != cut+1 || be.putBytes.Load()-got >= int64(len(upload)) {
				t.Fatalf("server saw %d cut uploads (was %d), %d bytes", be.putCut.Load(), cut, be.putBytes.Load()-got)
			}
			if b, _, err := get(t, "/bucket/key"); err != nil || !bytes.Equal(b, body) {
				t.Fatalf("GET during CutUpload: %d bytes %v", len(b), err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.fault.String(), func(t *testing.T) {
			p.Set(c.fault)
			before := p.Faulted()
			c.check(t)
			if c.fault != Healthy && p.Faulted() == before {
				t.Fatal("Faulted did not count")
			}
			if c.fault == Healthy && p.Faulted() != before {
				t.Fatal("Healthy counted a fault")
			}
		})
	}
	if be.host.Load() != strings.TrimPrefix(p.URL(), "http://") {
		t.Fatalf("server saw Host %v, want the proxy's %s", be.host.Load(), p.URL())
	}
}

// TestProxyCountAndHook: SetCount faults exactly n requests then turns
// Healthy; OnRequest sees every request first.
func TestProxyCountAndHook(t *testing.T) {
	srv := httptest.NewServer(&backend{body: []byte("ok")})
	t.Cleanup(srv.Close)
	p := StartProxy(t, srv.URL)
	var seen atomic.Int64
	p.OnRequest(func(*http.Request) { seen.Add(1) })
	p.SetCount(Fail500, 2)
	var codes []int
	for range 4 {
		resp, err := http.Get(p.URL() + "/b/k")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if want := []int{500, 500, 200, 200}; !equalInts(codes, want) {
		t.Fatalf("codes %v, want %v", codes, want)
	}
	if seen.Load() != 4 || p.Requests() != 4 || p.Faulted() != 2 || p.Fault() != Healthy {
		t.Fatalf("seen %d requests %d faulted %d fault %v", seen.Load(), p.Requests(), p.Faulted(), p.Fault())
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
