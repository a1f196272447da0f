// Package etcdtest runs a real single-member etcd (Debian's etcd-server,
// /usr/bin/etcd, or `etcd` on PATH) on free 127.0.0.1 ports for tests and
// for the e2e harness. It owns nothing but that process: its data directory,
// its ports and its lifetime (start, stop, kill, restart on the same data).
package etcdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/testproc"
)

// ErrNotFound is returned (and reported by Start) when no etcd binary is
// installed.
var ErrNotFound = errors.New("etcd not found: apt-get install etcd-server")

// startTimeout bounds how long a start waits for etcd to answer.
const startTimeout = 30 * time.Second

// Server is one etcd process. Its methods are safe for concurrent use.
type Server struct {
	bin        string
	dir        string // data directory and log file live here
	clientPort int
	peerPort   int
	proc       *testproc.Proc
}

// Binary returns the path of the etcd binary: /usr/bin/etcd when present,
// else `etcd` on PATH, else ErrNotFound.
func Binary() (string, error) {
	if p, ok := testproc.FindBinary("etcd", "/usr/bin/etcd"); ok {
		return p, nil
	}
	return "", ErrNotFound
}

// Start runs an etcd for the test in t.TempDir() and stops it (waiting for
// the process) when the test ends. A missing etcd binary fails the test.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := StartProcess(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartProcess runs an etcd whose data and log (etcd.log) live in dir, on
// free 127.0.0.1 client and peer ports, and returns once it answers. The
// caller stops it with Stop or Kill.
func StartProcess(dir string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	var last error
	// A free port found here may be taken by another program before etcd
	// binds it; a few fresh tries make that harmless.
	for range 5 {
		ports, err := testproc.FreePorts(2)
		if err != nil {
			return nil, err
		}
		s := &Server{bin: bin, dir: dir, clientPort: ports[0], peerPort: ports[1], proc: testproc.New("etcd", filepath.Join(dir, "etcd.log"))}
		if last = s.start(true); last == nil {
			return s, nil
		}
	}
	return nil, last
}

// ClientURL is the URL clients reach etcd at.
func (s *Server) ClientURL() string { return "http://127.0.0.1:" + strconv.Itoa(s.clientPort) }

func (s *Server) peerURL() string { return "http://127.0.0.1:" + strconv.Itoa(s.peerPort) }

// Endpoints returns the client endpoints (one URL).
func (s *Server) Endpoints() []string { return []string{s.ClientURL()} }

// Dir returns the directory holding the data directory and etcd.log.
func (s *Server) Dir() string { return s.dir }

// start launches the process; fresh says the data directory is new.
func (s *Server) start(fresh bool) error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("etcd dir: %w", err)
	}
	state := "existing"
	if fresh {
		state = "new"
	}
	const name = "etcdtest"
	args := []string{
		"--name", name,
		"--data-dir", filepath.Join(s.dir, "data"),
		"--listen-client-urls", s.ClientURL(),
		"--advertise-client-urls", s.ClientURL(),
		"--listen-peer-urls", s.peerURL(),
		"--initial-advertise-peer-urls", s.peerURL(),
		"--initial-cluster", name + "=" + s.peerURL(),
		"--initial-cluster-state", state,
		"--initial-cluster-token", "etcdtest-" + strconv.Itoa(s.peerPort),
		"--logger", "zap", "--log-outputs", "stderr",
	}
	return s.proc.Start(s.bin, args, func(done <-chan struct{}) error {
		if err := s.waitReady(done); err != nil {
			return fmt.Errorf("etcd on %s: %w", s.ClientURL(), err)
		}
		return nil
	})
}

// waitReady polls /health until etcd reports healthy, the process exits
// or startTimeout passes.
func (s *Server) waitReady(done <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.ClientURL()+"/health", nil)
		if resp, err := client.Do(req); err == nil {
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.Contains(b.Bytes(), []byte(`"health":"true"`)) {
				return nil
			}
		}
		select {
		case <-done:
			return errors.New("etcd exited before answering")
		case <-ctx.Done():
			return errors.New("etcd did not answer in time")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop ends etcd gracefully (SIGTERM, then SIGKILL after 10 s) and waits
// for it. Stopping a stopped server does nothing.
func (s *Server) Stop() { s.proc.Stop() }

// Kill ends etcd with SIGKILL and waits for it.
func (s *Server) Kill() { s.proc.Kill() }

// Restart stops etcd (if running) and starts it again on the same data
// directory and ports, returning once it answers.
func (s *Server) Restart() error {
	s.Stop()
	return s.start(false)
}
