package cold

import (
	"bytes"
	"context"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/soltixdb/soltix/internal/s3test"
)

// testBucket is the bucket both test servers hold.
const testBucket = s3test.DefaultBucket

// server is one kind of S3 server the table-driven tests run against.
type server struct {
	name string
	// start serves a bucket for the test and returns a Config for it.
	start func(t testing.TB) Config
	// checksums tells whether the server computes and keeps checksums
	// (versitygw does; gofakes3 answers MD5 ETags only).
	checksums bool
}

// servers are the in-process gofakes3 and a real versitygw process.
var servers = []server{
	{"gofakes3", fakeConfig, false},
	{"versitygw", vgwConfig, true},
}

// fakeConfig serves an in-process gofakes3 with the test bucket and
// returns a Config for it.
func fakeConfig(t testing.TB) Config {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	h := gofakes3.New(backend, gofakes3.WithoutVersioning()).Server()
	// gofakes3 computes no checksums but keeps x-amz-* request headers as
	// metadata and echoes them back, which would pass any checksum the
	// client sent as "computed by S3". Without them it answers the MD5
	// ETag it does compute, which Upload and Reader then check.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") {
				r.Header.Del(k)
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return Config{Bucket: testBucket, Endpoint: srv.URL, Region: "us-east-1", PathStyle: true,
		AccessKeyID: "test", SecretAccessKey: "test", PartSize: MinPartSize}
}

// vgwConfig starts a versitygw for the test and returns a Config for it.
func vgwConfig(t testing.TB) Config {
	t.Helper()
	return configFor(s3test.Start(t), "")
}

// configFor returns a Config for srv, through endpoint when not "".
func configFor(srv *s3test.Server, endpoint string) Config {
	if endpoint == "" {
		endpoint = srv.Endpoint()
	}
	return Config{Bucket: srv.Bucket(), Endpoint: endpoint, Region: srv.Region(), PathStyle: true,
		AccessKeyID: srv.AccessKey(), SecretAccessKey: srv.SecretKey(), PartSize: MinPartSize}
}

func openT(t testing.TB, cfg Config) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// ctxT bounds a test's S3 calls.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// randBytes returns n reproducible random bytes.
func randBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// upload stores b under key or fails the test.
func upload(t testing.TB, s *Store, key string, b []byte) Object {
	t.Helper()
	o, err := s.Upload(ctxT(t), key, bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// readAll reads the object whole through a fresh Reader.
func readAll(t testing.TB, s *Store, key string, size int) []byte {
	t.Helper()
	got := make([]byte, size)
	n, err := s.Reader(key, int64(size)).ReadAtContext(ctxT(t), got, 0)
	if err != nil || n != size {
		t.Fatalf("read %s: %d of %d bytes: %v", key, n, size, err)
	}
	return got
}
