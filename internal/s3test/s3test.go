// Package s3test runs a real S3-compatible server, versitygw with its posix
// backend, on a free 127.0.0.1 port for tests, the e2e harness and the
// benchmarks, and a fault-injecting HTTP proxy to put in front of it. It
// owns nothing but that process (its data directory, log, port, root
// credentials, one bucket and its lifetime: start, stop, kill, restart on
// the same data) and the proxy. It makes no S3 requests itself: only
// storage/cold talks S3.
package s3test

import (
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

// Version is the versitygw release the project tests against.
const Version = "v1.8.0"

// InstallCommand installs the versitygw binary Binary looks for.
const InstallCommand = "go install github.com/versity/versitygw/cmd/versitygw@" + Version

// ErrNotFound is returned (and reported by Start) when no versitygw binary
// is installed.
var ErrNotFound = errors.New("versitygw not found: " + InstallCommand)

// Root credentials and region of every server; they are test values.
const (
	AccessKey = "soltixtest"
	SecretKey = "soltixtestsecret"
	Region    = "us-east-1"
	// DefaultBucket is the bucket Start and StartProcess create.
	DefaultBucket = "soltix-cold"
)

// startTimeout bounds how long a start waits for versitygw to answer.
const startTimeout = 30 * time.Second

// Server is one versitygw process. Its methods are safe for concurrent use.
type Server struct {
	bin    string
	dir    string // versitygw.log, data/ (buckets) and meta/ live here
	port   int
	bucket string
	proc   *testproc.Proc
}

// Binary returns the path of the versitygw binary: in $GOBIN, else in
// bin/ of each $GOPATH entry (default ~/go), else on PATH, else
// ErrNotFound.
func Binary() (string, error) {
	var dirs []string
	if gb := os.Getenv("GOBIN"); gb != "" {
		dirs = append(dirs, gb)
	}
	gp := os.Getenv("GOPATH")
	if gp == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gp = filepath.Join(home, "go")
		}
	}
	for _, d := range filepath.SplitList(gp) {
		dirs = append(dirs, filepath.Join(d, "bin"))
	}
	var paths []string
	for _, d := range dirs {
		paths = append(paths, filepath.Join(d, "versitygw"))
	}
	if p, ok := testproc.FindBinary("versitygw", paths...); ok {
		return p, nil
	}
	return "", ErrNotFound
}

// Start runs a versitygw for the test in t.TempDir() with DefaultBucket and
// stops it, waiting for the process, when the test ends. A missing binary
// fails the test, naming the install command.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := StartProcess(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartProcess runs a versitygw whose log (versitygw.log), buckets (data/)
// and object metadata (meta/, sidecar files, so the file system needs no
// extended attributes) live in dir, on a free 127.0.0.1 port, with
// DefaultBucket created, and returns once it answers. The caller stops it
// with Stop or Kill.
func StartProcess(dir string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	var last error
	// A free port found here may be taken by another program before
	// versitygw binds it; a few fresh tries make that harmless.
	for range 5 {
		ports, err := testproc.FreePorts(1)
		if err != nil {
			return nil, err
		}
		s := &Server{bin: bin, dir: dir, port: ports[0], bucket: DefaultBucket,
			proc: testproc.New("versitygw", filepath.Join(dir, "versitygw.log"))}
		if last = s.start(); last == nil {
			return s, nil
		}
	}
	return nil, last
}

// Endpoint is the server's URL (path-style addressing).
func (s *Server) Endpoint() string { return "http://" + s.Addr() }

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Bucket is the name of the bucket the server was started with.
func (s *Server) Bucket() string { return s.bucket }

// AccessKey and SecretKey are the root credentials; Region the region the
// server answers for.
func (s *Server) AccessKey() string { return AccessKey }

// SecretKey is the root secret access key.
func (s *Server) SecretKey() string { return SecretKey }

// Region is the region the server answers for.
func (s *Server) Region() string { return Region }

// Env returns the standard AWS variables that point an AWS client at this
// server (for a soltix process started by the e2e harness).
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + SecretKey,
		"AWS_REGION=" + Region,
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint(),
	}
}

// Dir returns the directory holding the log, the buckets and the metadata.
func (s *Server) Dir() string { return s.dir }

// BucketDir returns the directory holding the bucket's objects, one file
// per object at its key's path.
func (s *Server) BucketDir() string { return filepath.Join(s.dir, "data", s.bucket) }

// Pid returns the process id of the running server, 0 when it is stopped.
func (s *Server) Pid() int { return s.proc.Pid() }

// LogTail returns the end of the server's log, for failure messages.
func (s *Server) LogTail() string { return s.proc.LogTail() }

// start creates the directories (the posix backend treats each directory
// under data/ as a bucket, so creating one creates the bucket) and
// launches the process.
func (s *Server) start() error {
	for _, d := range []string{s.BucketDir(), filepath.Join(s.dir, "meta")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("versitygw dir: %w", err)
		}
	}
	args := []string{
		"--access", AccessKey, "--secret", SecretKey, "--region", Region,
		"--port", s.Addr(),
		"posix", "--sidecar", filepath.Join(s.dir, "meta"), filepath.Join(s.dir, "data"),
	}
	return s.proc.Start(s.bin, args, func(done <-chan struct{}) error {
		if err := s.waitReady(done); err != nil {
			return fmt.Errorf("versitygw on %s: %w", s.Endpoint(), err)
		}
		return nil
	})
}

// waitReady polls the endpoint until versitygw answers an HTTP request (an
// unsigned one is refused with 403, which is enough to know it serves), or
// the process exits, or startTimeout passes.
func (s *Server) waitReady(done <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		if s.answers(ctx, client) {
			return nil
		}
		select {
		case <-done:
			return errors.New("versitygw exited before answering")
		case <-ctx.Done():
			return errors.New("versitygw did not answer in time")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) answers(ctx context.Context, client *http.Client) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodHead, s.Endpoint()+"/"+s.bucket, nil)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.Header.Get("Server") == "VERSITYGW"
}

// Stop ends versitygw gracefully (SIGTERM, then SIGKILL after 10 s) and
// waits for it. Stopping a stopped server does nothing.
func (s *Server) Stop() { s.proc.Stop() }

// Kill ends versitygw with SIGKILL and waits for it.
func (s *Server) Kill() { s.proc.Kill() }

// Restart stops versitygw (if running) and starts it again on the same
// port and data, returning once it answers.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}
