package storage

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/soltixdb/soltix/storage/cold"
)

// fakeS3 is an in-process S3 (gofakes3) with faults a test turns on: every
// request answered 500 (down), or GETs of object bodies cut short.
type fakeS3 struct {
	backend *s3mem.Backend
	down    atomic.Bool
	short   atomic.Bool
	noDel   atomic.Bool  // DELETEs answer 500
	gets    atomic.Int64 // GETs of object bodies
	puts    atomic.Int64
	cfg     cold.Config
}

func newFakeS3(t testing.TB) *fakeS3 {
	t.Helper()
	f := &fakeS3{backend: s3mem.New()}
	if err := f.backend.CreateBucket("b"); err != nil {
		t.Fatal(err)
	}
	h := gofakes3.New(f.backend, gofakes3.WithoutVersioning()).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.down.Load() || f.noDel.Load() && (r.Method == http.MethodDelete || r.Method == http.MethodPost && r.URL.Query().Has("delete")) {
			http.Error(w, "<Error><Code>InternalError</Code><Message>down</Message></Error>", http.StatusInternalServerError)
			return
		}
		// gofakes3 keeps x-amz-checksum-* request headers as metadata
		// and echoes them back; without them it answers its MD5 ETag,
		// which the store checks instead.
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") {
				r.Header.Del(k)
			}
		}
		isObject := strings.Count(strings.TrimPrefix(r.URL.Path, "/"), "/") >= 1
		switch {
		case r.Method == http.MethodGet && isObject:
			f.gets.Add(1)
			if f.short.Load() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				body := rec.Body.Bytes()
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				w.Write(body[:len(body)/2])
				return
			}
		case r.Method == http.MethodPut && isObject:
			f.puts.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.cfg = cold.Config{Bucket: "b", Endpoint: srv.URL, Region: "us-east-1", PathStyle: true,
		AccessKeyID: "test", SecretAccessKey: "test", MaxAttempts: 1, Timeout: 10 * time.Second, PageSize: 64 << 10}
	return f
}

// testBucket is an S3 bucket a test uses: the in-process fake, or a
// versitygw (cold_vgw_test.go).
type testBucket interface {
	// store opens a cold store on it (a new one each call: its cache
	// starts empty).
	store(t testing.TB) *cold.Store
	// keys lists the keys of the objects the test's stores see.
	keys(t testing.TB) []string
}

// store opens a cold store on the fake (a new one each call: its cache
// starts empty).
func (f *fakeS3) store(t testing.TB) *cold.Store {
	t.Helper()
	s, err := cold.Open(context.Background(), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// keys lists the objects' keys.
func (f *fakeS3) keys(t testing.TB) []string {
	t.Helper()
	objs, err := f.store(t).List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

// replace stores b as the object key, bypassing the store.
func (f *fakeS3) replace(t testing.TB, key string, b []byte) {
	t.Helper()
	if _, err := f.backend.PutObject("b", key, map[string]string{}, bytes.NewReader(b), int64(len(b)), nil); err != nil {
		t.Fatal(err)
	}
}

// object returns the bytes of object key.
func (f *fakeS3) object(t testing.TB, key string) []byte {
	t.Helper()
	o, err := f.backend.GetObject("b", key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Contents.Close()
	b, err := io.ReadAll(o.Contents)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
