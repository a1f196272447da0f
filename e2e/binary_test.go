package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// soltixBinary builds cmd/soltix once per test run and returns its path.
func soltixBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "soltix-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "soltix")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/soltixdb/soltix/cmd/soltix").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// binServer is a running `soltix serve` process.
type binServer struct {
	cmd  *exec.Cmd
	url  string
	logs *binLogs
	done chan error
}

type binLogs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *binLogs) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *binLogs) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var binServingRE = regexp.MustCompile(`serving on (https?://\S+)`)

// startBinary starts the binary on a free loopback port with dataDir and
// waits until it prints its address.
func startBinary(t *testing.T, dataDir string, extra ...string) *binServer {
	t.Helper()
	return startBinaryArgs(t, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, extra...)...)
}

// startBinaryArgs starts the binary with args and waits until it prints
// its address.
func startBinaryArgs(t *testing.T, args ...string) *binServer {
	t.Helper()
	cmd := exec.Command(soltixBinary(t), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &binServer{cmd: cmd, logs: &binLogs{}, done: make(chan error, 1)}
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start soltix: %v", err)
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := binServingRE.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
		close(urlc)
	}()
	go func() { s.done <- cmd.Wait() }()
	select {
	case u, ok := <-urlc:
		if !ok {
			<-s.done
			t.Fatalf("soltix exited before serving; logs:\n%s", s.logs)
		}
		s.url = u
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("soltix did not start within 60 s; logs:\n%s", s.logs)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *binServer) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	<-s.done
}

// stop sends SIGTERM and waits for a clean exit.
func (s *binServer) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("interrupt: %v", err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("soltix exited with %v after SIGINT; logs:\n%s", err, s.logs)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("soltix did not exit within 60 s of SIGINT")
	}
}

// binResult is the JSON answer of /api/v1/query.
type binResult struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// query runs q with epoch=ns and decodes numbers as json.Number.
func (s *binServer) query(t *testing.T, q string) binResult {
	t.Helper()
	return s.queryParams(t, q, "")
}

// queryParams runs a query with extra URL parameters ("&levels=raw").
func (s *binServer) queryParams(t *testing.T, q, params string) binResult {
	t.Helper()
	resp, err := http.Get(s.url + "/api/v1/query?epoch=ns&q=" + url.QueryEscape(q) + params)
	if err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("query %q: HTTP %d: %s", q, resp.StatusCode, body)
	}
	var res binResult
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("query %q: decode %s: %v", q, body, err)
	}
	return res
}

// write posts line protocol and returns the status code.
func (s *binServer) write(lines string) (int, error) {
	resp, err := http.Post(s.url+"/api/v1/write?precision=ns", "text/plain", strings.NewReader(lines))
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
