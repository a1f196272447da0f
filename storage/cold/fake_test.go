package cold

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// fakeConfig serves an in-process gofakes3 with bucket "b" for the test
// and returns a Config for it.
func fakeConfig(t testing.TB) Config {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("b"); err != nil {
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
	return Config{Bucket: "b", Endpoint: srv.URL, Region: "us-east-1", PathStyle: true,
		AccessKeyID: "test", SecretAccessKey: "test"}
}

func openT(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
