package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

// liveServer is a real Soltix server running in-process over a data directory.
// Tests talk to it only over HTTP.
type liveServer struct {
	endpoint
	t    testing.TB
	dir  string
	opts storage.Options
	now  time.Time
	db   *storage.DB
	http *httptest.Server
}

// startLiveServer opens a DB on dir and serves it. Background flushes are off,
// so data stays in memory until the test flushes.
func startLiveServer(t testing.TB, dir string, opts storage.Options, now time.Time) *liveServer {
	t.Helper()
	opts.FlushInterval = -1
	opts.Sync = wal.SyncNever
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &liveServer{t: t, dir: dir, opts: opts, now: now}
	s.endpoint = endpoint{t: t, base: func() string { return s.http.URL }}
	s.open()
	t.Cleanup(s.close)
	return s
}

func (s *liveServer) open() {
	s.t.Helper()
	db, err := storage.Open(s.dir, &s.opts)
	if err != nil {
		s.t.Fatalf("open storage: %v", err)
	}
	s.db = db
	// Listen as in production, so that the Host check is on.
	s.http = httptest.NewUnstartedServer(nil)
	s.http.Config.Handler = httpapi.New(db, httpapi.Options{
		Now:    func() time.Time { return s.now },
		Logger: s.opts.Logger,
		Listen: s.http.Listener.Addr().String(),
	})
	s.http.Start()
}

func (s *liveServer) close() {
	if s.http != nil {
		s.http.Close()
		s.http = nil
	}
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			s.t.Errorf("close storage: %v", err)
		}
		s.db = nil
	}
}

// restart closes the server and the DB and opens the same directory again.
func (s *liveServer) restart() {
	s.t.Helper()
	s.close()
	s.open()
}

// url is the server's base URL.
func (s *liveServer) url() string { return s.http.URL }

// target is a database under test as a client sees it: a single node
// (liveServer) or a cluster's router (clusterTarget). The differential
// and rollup tests run one body against each.
type target interface {
	// url is the base URL clients send requests to.
	url() string
	write(b batch)
	flush()
	compact()
	// restart restarts every process of the target on the same data.
	restart()
	query(q string) (*queryAnswer, error)
}

// starter starts a target for a test, with the storage options and the
// clock a single node would have.
type starter func(t *testing.T, opts storage.Options, now time.Time) target

// serveTarget starts a single node (startLiveServer) on t.TempDir().
func serveTarget(t *testing.T, opts storage.Options, now time.Time) target {
	return startLiveServer(t, t.TempDir(), opts, now)
}

// endpoint sends a test's requests to the server at base().
type endpoint struct {
	t    testing.TB
	base func() string
}

func (s endpoint) post(path, contentType string, body []byte) (int, []byte) {
	s.t.Helper()
	resp, err := http.Post(s.base()+path, contentType, bytes.NewReader(body))
	if err != nil {
		s.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("POST %s: read body: %v", path, err)
	}
	return resp.StatusCode, b
}

// write sends one batch, as line protocol or JSON, and wants 204.
func (s endpoint) write(b batch) {
	s.t.Helper()
	var code int
	var body []byte
	if b.json {
		data, err := b.jsonBody()
		if err != nil {
			s.t.Fatal(err)
		}
		code, body = s.post("/api/v1/write", "application/json", data)
	} else {
		code, body = s.post("/api/v1/write?precision=ns", "text/plain; charset=utf-8", []byte(b.lineProtocol()))
	}
	if code != http.StatusNoContent {
		s.t.Fatalf("write of %d points (json=%v): status %d: %s", len(b.points), b.json, code, body)
	}
}

// flush asks the server to move memory into files.
func (s endpoint) flush() {
	s.t.Helper()
	if code, body := s.post("/api/v1/admin/flush", "", nil); code != http.StatusNoContent {
		s.t.Fatalf("flush: status %d: %s", code, body)
	}
}

func (s endpoint) compact() {
	s.t.Helper()
	if code, body := s.post("/api/v1/admin/compact", "", nil); code != http.StatusNoContent {
		s.t.Fatalf("compact: status %d: %s", code, body)
	}
}

// queryAnswer is a decoded query answer; numbers stay json.Number.
type queryAnswer struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
	Stats   *struct {
		Notes []string `json:"notes"`
	} `json:"stats,omitempty"`
}

// query runs q with integer nanosecond times. err is set for a non-200
// answer or an undecodable body.
func (s endpoint) query(q string) (*queryAnswer, error) { return s.queryWith(q, nil) }

// queryWith is query with more URL parameters (consistency=any).
func (s endpoint) queryWith(q string, params url.Values) (*queryAnswer, error) {
	v := url.Values{"epoch": {"ns"}, "q": {q}}
	for k, vs := range params {
		v[k] = vs
	}
	resp, err := http.Get(s.base() + "/api/v1/query?" + v.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var r queryAnswer
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decode %q: %w", body, err)
	}
	return &r, nil
}
