package cold

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"net/http"
	"sync"
	"testing"

	"github.com/soltixdb/soltix/internal/s3test"
)

const testPage = 64 << 10

// TestReadAtRandom: reads at random offsets and lengths, across page
// boundaries and past the object's end, return exactly the object's bytes,
// with io.EOF only when the object ends before p is full.
func TestReadAtRandom(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			cfg := srv.start(t)
			cfg.PageSize = testPage
			cfg.CacheBytes = 5 * testPage // smaller than the object: evictions too
			s := openT(t, cfg)
			size := 16*testPage + 123
			b := randBytes(7, size)
			upload(t, s, "r/k", b)
			r := s.Reader("r/k", int64(size))
			rng := rand.New(rand.NewSource(1))
			ctx := ctxT(t)
			for i := range 300 {
				off := rng.Int63n(int64(size) + 10)
				n := rng.Intn(3 * testPage)
				if i%10 == 0 {
					n = rng.Intn(100)
				}
				p := make([]byte, n)
				got, err := r.ReadAtContext(ctx, p, off)
				want := 0
				if off < int64(size) {
					want = min(n, size-int(off))
				}
				wantEOF := want < n
				if got != want || (err == io.EOF) != wantEOF || (err != nil && err != io.EOF) {
					t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; want %d, EOF %v", n, off, got, err, want, wantEOF)
				}
				if want > 0 && !bytes.Equal(p[:got], b[off:off+int64(got)]) {
					t.Fatalf("ReadAt(%d bytes at %d): bytes differ", n, off)
				}
			}
			if _, err := r.ReadAt(make([]byte, 1), -1); err == nil {
				t.Fatal("negative offset accepted")
			}
			if s.CacheBytes() > cfg.CacheBytes {
				t.Fatalf("cache holds %d bytes, bound %d", s.CacheBytes(), cfg.CacheBytes)
			}
			st := r.Stats()
			if st.Objects != 1 || st.Requests == 0 || st.CacheHits == 0 || st.CacheMisses == 0 || st != s.Stats() {
				t.Fatalf("reader stats %+v, store %+v", st, s.Stats())
			}
		})
	}
}

// TestCacheCountsAndEviction: each read counts its pages as hits or
// misses, a run of missing pages costs one GET, the cache never holds
// more than its bound and evicts the least recently used page first, and
// a cache smaller than a page still serves reads (without keeping them).
func TestCacheCountsAndEviction(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.PageSize = testPage
	cfg.CacheBytes = 4 * testPage
	s := openT(t, cfg)
	size := 10*testPage - 1000 // the last page is short
	b := randBytes(3, size)
	upload(t, s, "c/k", b)
	r := s.Reader("c/k", int64(size))
	steps := []struct {
		name       string
		off        int64
		n          int
		hits, miss int64
		reqs       int64
		bytes      int64
	}{
		{"page 0 cold", 0, 100, 0, 1, 1, testPage},
		{"page 0 warm", 10, 200, 1, 0, 0, 0},
		{"pages 0-9", 0, size, 1, 9, 1, int64(size - testPage)}, // keeps 6..9
		{"page 9 (short) warm", int64(9 * testPage), testPage - 1000, 1, 0, 0, 0},
		{"page 1 evicted", int64(testPage), 1, 0, 1, 1, testPage}, // keeps 7,8,9,1
		{"pages 5-7: 5,6 one run", int64(5 * testPage), 3 * testPage, 1, 2, 1, 2 * testPage},
	}
	prev := Stats{}
	for _, st := range steps {
		p := make([]byte, st.n)
		n, err := r.ReadAt(p, st.off)
		if err != nil && err != io.EOF || n == 0 || !bytes.Equal(p[:n], b[st.off:st.off+int64(n)]) {
			t.Fatalf("%s: %d, %v", st.name, n, err)
		}
		cur := r.Stats()
		d := Stats{Requests: cur.Requests - prev.Requests, BytesFetched: cur.BytesFetched - prev.BytesFetched,
			CacheHits: cur.CacheHits - prev.CacheHits, CacheMisses: cur.CacheMisses - prev.CacheMisses}
		want := Stats{Requests: st.reqs, BytesFetched: st.bytes, CacheHits: st.hits, CacheMisses: st.miss}
		if d != want {
			t.Fatalf("%s: %+v, want %+v", st.name, d, want)
		}
		if s.CacheBytes() > cfg.CacheBytes || s.cache.pages() > 4 {
			t.Fatalf("%s: cache holds %d bytes in %d pages, bound %d", st.name, s.CacheBytes(), s.cache.pages(), cfg.CacheBytes)
		}
		prev = cur
	}
	if st := s.Stats(); st.Objects != 1 || st != r.Stats() {
		t.Fatalf("store %+v, reader %+v", st, r.Stats())
	}

	cfg.CacheBytes = testPage - 1
	tiny := openT(t, cfg)
	tr := tiny.Reader("c/k", int64(size))
	for range 2 {
		p := make([]byte, 10)
		if n, err := tr.ReadAt(p, 5); n != 10 || err != nil || !bytes.Equal(p, b[5:15]) {
			t.Fatalf("tiny cache: %d, %v", n, err)
		}
	}
	if st := tr.Stats(); st.CacheMisses != 2 || st.Requests != 2 || tiny.CacheBytes() != 0 {
		t.Fatalf("tiny cache: %+v, %d bytes cached", st, tiny.CacheBytes())
	}
}

// TestConcurrentReaders: many readers of one object at once, each in its
// own order, all get the right bytes, and each page is fetched exactly
// once (one fetch in flight per page, the rest wait for it or hit the
// cache).
func TestConcurrentReaders(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			cfg := srv.start(t)
			cfg.PageSize = testPage
			s := openT(t, cfg)
			pages := 24
			size := pages*testPage - 77
			b := randBytes(11, size)
			upload(t, s, "cc/k", b)
			const readers = 12
			var wg sync.WaitGroup
			errs := make(chan error, readers)
			rs := make([]*Reader, readers)
			for i := range readers {
				rs[i] = s.Reader("cc/k", int64(size))
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewSource(int64(i)))
					for _, pg := range rng.Perm(pages) {
						off := int64(pg * testPage)
						p := make([]byte, min(testPage+500, size-int(off)))
						n, err := rs[i].ReadAtContext(context.Background(), p, off)
						if err != nil && err != io.EOF || !bytes.Equal(p[:n], b[off:off+int64(n)]) {
							errs <- errors.New("wrong bytes or error")
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			st := s.Stats()
			if st.CacheMisses != int64(pages) || st.BytesFetched != int64(size) || st.Requests > int64(pages) {
				t.Fatalf("store stats %+v: want %d misses, %d bytes, at most %d requests", st, pages, size, pages)
			}
			var sum Stats
			for _, r := range rs {
				rst := r.Stats()
				sum.Objects += rst.Objects
				sum.Requests += rst.Requests
				sum.BytesFetched += rst.BytesFetched
				sum.CacheHits += rst.CacheHits
				sum.CacheMisses += rst.CacheMisses
			}
			if sum != st {
				t.Fatalf("readers' stats add up to %+v, store says %+v", sum, st)
			}
		})
	}
}

// TestReadAtContextCancel: a reader waiting on a stalled GET returns its
// context's error as soon as the context ends, naming the object.
func TestReadAtContextCancel(t *testing.T) {
	srv := s3test.Start(t)
	proxy := s3test.StartProxy(t, srv.Endpoint())
	s := openT(t, configFor(srv, proxy.URL()))
	b := randBytes(1, 1000)
	upload(t, s, "cancel/k", b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	proxy.Set(s3test.Stall)
	proxy.OnRequest(func(r *http.Request) {
		if r.Method == http.MethodGet {
			cancel()
		}
	})
	n, err := s.Reader("cancel/k", 1000).ReadAtContext(ctx, make([]byte, 10), 0)
	if n != 0 || !errors.Is(err, context.Canceled) || !bytes.Contains([]byte(err.Error()), []byte("cancel/k")) {
		t.Fatalf("ReadAtContext = %d, %v; want context.Canceled naming the object", n, err)
	}
}
