// Package natstest runs a real nats-server (Debian's, /usr/sbin/nats-server,
// or `nats-server` on PATH) with JetStream, and optionally its MQTT listener,
// on free 127.0.0.1 ports for tests, the e2e harness and the benchmarks. It
// owns nothing but that process: its configuration file, its JetStream store
// directory, its log, its ports and its lifetime (start, stop, kill, restart
// on the same store).
package natstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/testproc"
)

// ErrNotFound is returned (and reported by Start) when no nats-server binary
// is installed.
var ErrNotFound = errors.New("nats-server not found: apt-get install nats-server")

// startTimeout bounds how long a start waits for nats-server to answer.
const startTimeout = 30 * time.Second

// Options select what the server offers besides NATS with JetStream.
type Options struct {
	// MQTT starts the MQTT listener on a free port (MQTTAddr).
	MQTT bool
	// MaxPayload is the largest message the server accepts, in bytes;
	// 0 keeps the server's default (1 MiB).
	MaxPayload int
}

// Server is one nats-server process. Its methods are safe for concurrent
// use.
type Server struct {
	bin      string
	dir      string // nats.conf, nats.log and the JetStream store live here
	opts     Options
	port     int // NATS clients
	httpPort int // monitoring (/healthz)
	mqttPort int // 0 without Options.MQTT
	proc     *testproc.Proc
}

// Binary returns the path of the nats-server binary: /usr/sbin/nats-server
// when present, else `nats-server` on PATH, else ErrNotFound.
func Binary() (string, error) {
	if p, ok := testproc.FindBinary("nats-server", "/usr/sbin/nats-server"); ok {
		return p, nil
	}
	return "", ErrNotFound
}

// Start runs a nats-server for the test in t.TempDir() with the given
// options (at most one; none means JetStream only) and stops it, waiting
// for the process, when the test ends. A missing binary fails the test.
func Start(t testing.TB, opts ...Options) *Server {
	t.Helper()
	var o Options
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		t.Fatal("natstest.Start: more than one Options")
	}
	s, err := StartProcess(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartProcess runs a nats-server whose configuration (nats.conf), log
// (nats.log) and JetStream store (jetstream/) live in dir, on free
// 127.0.0.1 ports, and returns once it answers. The caller stops it with
// Stop or Kill.
func StartProcess(dir string, opts Options) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	var last error
	// A free port found here may be taken by another program before
	// nats-server binds it; a few fresh tries make that harmless.
	for range 5 {
		ports, err := testproc.FreePorts(3)
		if err != nil {
			return nil, err
		}
		s := &Server{bin: bin, dir: dir, opts: opts, port: ports[0], httpPort: ports[1],
			proc: testproc.New("nats-server", filepath.Join(dir, "nats.log"))}
		if opts.MQTT {
			s.mqttPort = ports[2]
		}
		if last = s.start(); last == nil {
			return s, nil
		}
	}
	return nil, last
}

// URL is the NATS URL clients connect to.
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// MQTTAddr is the host:port of the MQTT listener, "" without Options.MQTT.
func (s *Server) MQTTAddr() string {
	if s.mqttPort == 0 {
		return ""
	}
	return "127.0.0.1:" + strconv.Itoa(s.mqttPort)
}

// MonitorURL is the base URL of the monitoring endpoint (/healthz, /varz,
// /jsz).
func (s *Server) MonitorURL() string { return "http://127.0.0.1:" + strconv.Itoa(s.httpPort) }

// Dir returns the directory holding nats.conf, nats.log and the JetStream
// store.
func (s *Server) Dir() string { return s.dir }

// Pid returns the process id of the running server, 0 when it is stopped.
func (s *Server) Pid() int { return s.proc.Pid() }

// config is the server's configuration file. MQTT in nats-server needs a
// server_name and JetStream (it keeps sessions and QoS 1 messages in
// streams).
func (s *Server) config() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "server_name: natstest_%d\n", s.port)
	fmt.Fprintf(&b, "listen: 127.0.0.1:%d\n", s.port)
	fmt.Fprintf(&b, "http: 127.0.0.1:%d\n", s.httpPort)
	if s.opts.MaxPayload > 0 {
		fmt.Fprintf(&b, "max_payload: %d\n", s.opts.MaxPayload)
	}
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n}\n", filepath.Join(s.dir, "jetstream"))
	if s.mqttPort != 0 {
		fmt.Fprintf(&b, "mqtt {\n  host: 127.0.0.1\n  port: %d\n}\n", s.mqttPort)
	}
	return b.String()
}

// start writes the configuration and launches the process.
func (s *Server) start() error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("nats-server dir: %w", err)
	}
	conf := filepath.Join(s.dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(s.config()), 0o644); err != nil {
		return fmt.Errorf("nats-server config: %w", err)
	}
	return s.proc.Start(s.bin, []string{"-c", conf}, func(done <-chan struct{}) error {
		if err := s.waitReady(done); err != nil {
			return fmt.Errorf("nats-server on %s: %w", s.URL(), err)
		}
		return nil
	})
}

// waitReady polls /healthz (which checks JetStream too) until it answers
// 200 and, with MQTT, the MQTT port accepts connections; or the process
// exits, or startTimeout passes.
func (s *Server) waitReady(done <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		if s.healthy(ctx, client) && s.mqttUp() {
			return nil
		}
		select {
		case <-done:
			return errors.New("nats-server exited before answering")
		case <-ctx.Done():
			return errors.New("nats-server did not answer in time")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) healthy(ctx context.Context, client *http.Client) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.MonitorURL()+"/healthz", nil)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK && bytes.Contains(b.Bytes(), []byte(`"ok"`))
}

func (s *Server) mqttUp() bool {
	if s.mqttPort == 0 {
		return true
	}
	c, err := net.DialTimeout("tcp", s.MQTTAddr(), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Stop ends nats-server gracefully (SIGTERM, then SIGKILL after 10 s) and
// waits for it. Stopping a stopped server does nothing.
func (s *Server) Stop() { s.proc.Stop() }

// Kill ends nats-server with SIGKILL and waits for it.
func (s *Server) Kill() { s.proc.Kill() }

// Restart stops nats-server (if running) and starts it again on the same
// ports and JetStream store, returning once it answers.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}
