package storage

// Integration and fault tests of the cold tier against a real
// S3-compatible server: versitygw (internal/s3test), through a
// fault-injecting proxy where a test needs faults. A missing versitygw
// binary fails these tests, naming the command that installs it.

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/s3test"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage/cold"
)

// vgwBucket is a versitygw bucket under a prefix of the test's own,
// reached through endpoint (the server's, or a proxy's).
type vgwBucket struct {
	srv      *s3test.Server
	endpoint string
	prefix   string
	timeout  time.Duration // of each request (0: 5 s)
}

func (b *vgwBucket) config() cold.Config {
	return cold.Config{Bucket: b.srv.Bucket(), Prefix: b.prefix, Endpoint: b.endpoint, Region: b.srv.Region(), PathStyle: true,
		AccessKeyID: b.srv.AccessKey(), SecretAccessKey: b.srv.SecretKey(), PageSize: 64 << 10,
		MaxAttempts: 2, Timeout: cmp.Or(b.timeout, 5*time.Second)}
}

func (b *vgwBucket) store(t testing.TB) *cold.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := cold.Open(ctx, b.config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// keys lists the prefix's objects, straight from the server.
func (b *vgwBucket) keys(t testing.TB) []string {
	t.Helper()
	direct := *b
	direct.endpoint = b.srv.Endpoint()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	objs, err := direct.store(t).List(ctx, b.prefix+"/")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

// prefixOf makes a key prefix of a test's name.
func prefixOf(t testing.TB) string {
	return strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
}

// TestColdVersitygw runs the cold tier's behaviour tests against
// versitygw: tiering (upload, verification, local removal, every query
// equal before and after, restart), deletes, late writes, compaction,
// retention and group drops over cold data, and a group move sharing the
// objects.
func TestColdVersitygw(t *testing.T) {
	srv := s3test.Start(t)
	for _, tc := range []struct {
		name string
		run  func(*testing.T, testBucket)
	}{
		{"tier", testTierMoves},
		{"lifecycle", testColdLifecycle},
		{"group move", testColdGroupMove},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, &vgwBucket{srv: srv, endpoint: srv.Endpoint(), prefix: prefixOf(t)})
		})
	}
}

// vgwRig is a versitygw behind a fault-injecting proxy, and a DB with
// coldData whose cold store talks to the proxy.
type vgwRig struct {
	srv    *s3test.Server
	proxy  *s3test.Proxy
	bucket *vgwBucket
}

func newVGWRig(t *testing.T) *vgwRig {
	t.Helper()
	srv := s3test.Start(t)
	proxy := s3test.StartProxy(t, srv.Endpoint())
	// A stalled request gives up soon.
	return &vgwRig{srv: srv, proxy: proxy, bucket: &vgwBucket{srv: srv, endpoint: proxy.URL(), prefix: prefixOf(t), timeout: time.Second}}
}

// TestColdVersitygwUploadFaults: while S3 answers 500s, drops or stalls
// connections, or has an upload cut mid-body, Tier fails, every file stays
// local, the answers stay, and no object is left; once S3 is healthy Tier
// moves everything.
func TestColdVersitygwUploadFaults(t *testing.T) {
	for _, fault := range []s3test.Fault{s3test.Fail500, s3test.Drop, s3test.Stall, s3test.CutUpload} {
		t.Run(fault.String(), func(t *testing.T) {
			rig := newVGWRig(t)
			ctx := context.Background()
			dir := t.TempDir()
			db := openColdDB(t, dir, rig.bucket.store(t), nil)
			defer db.Close()
			coldData(t, db)
			want := coldAnswers(t, db)
			before := localCols(t, dir)
			rig.proxy.Set(fault)
			st, err := db.Tier(ctx)
			if err == nil || st.Uploaded != 0 || st.Failed == 0 {
				t.Fatalf("Tier through %s: %+v, %v", fault, st, err)
			}
			if after := localCols(t, dir); !slices.Equal(after, before) {
				t.Fatalf("local files changed: %d before, %d after", len(before), len(after))
			}
			if keys := rig.bucket.keys(t); len(keys) != 0 {
				t.Fatalf("objects left by failed uploads: %v", keys)
			}
			if got := coldAnswers(t, db); got != want {
				t.Fatalf("answers differ after the failed Tier:\n%s", firstDiff(got, want))
			}
			rig.proxy.Set(s3test.Healthy)
			st = settle(t, db, rig.bucket)
			if st.Uploaded != coldDue(before) {
				t.Fatalf("Tier once healthy: %+v, want %d uploaded", st, coldDue(before))
			}
			if got := coldAnswers(t, db); got != want {
				t.Fatalf("answers differ after tiering:\n%s", firstDiff(got, want))
			}
		})
	}
}

// TestColdVersitygwKilledMidUpload: the S3 server is killed when the first
// upload request reaches it; the background tierer keeps failing (files
// local, answers the same, a failure counted), and once the server is back
// it moves every file on its own.
func TestColdVersitygwKilledMidUpload(t *testing.T) {
	rig := newVGWRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	ref := openColdDB(t, t.TempDir(), nil, nil)
	defer ref.Close()
	coldData(t, ref)
	want := coldAnswers(t, ref)

	var once sync.Once
	killed := make(chan struct{})
	rig.proxy.OnRequest(func(r *http.Request) {
		if r.Method == http.MethodPut {
			once.Do(func() {
				rig.srv.Kill()
				close(killed)
			})
		}
	})
	store := rig.bucket.store(t)
	db := openFS(t, dir, nil, Options{Cold: store, TierInterval: 20 * time.Millisecond, BlockSize: 16, Now: func() time.Time { return coldNow }})
	defer db.Close()
	coldData(t, db)
	due := coldDue(localCols(t, dir))
	db.kickTier()
	select {
	case <-killed:
	case <-ctx.Done():
		t.Fatal("no upload reached the server")
	}
	// Wait for a failed run (bounded by ctx), then check nothing moved.
	for db.ColdStats().UploadFailures == 0 {
		if ctx.Err() != nil {
			t.Fatal("no upload failure counted with the server killed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := db.ColdStats(); st.Files != 0 {
		t.Fatalf("cold files with the server killed: %+v", st)
	}
	if got := coldAnswers(t, db); got != want {
		t.Fatalf("answers differ with the server killed:\n%s", firstDiff(got, want))
	}
	rig.proxy.OnRequest(nil)
	if err := rig.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	for db.ColdStats().Files != due {
		if ctx.Err() != nil {
			t.Fatalf("the tierer did not resume: %+v, want %d cold files", db.ColdStats(), due)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := coldAnswers(t, db); got != want {
		t.Fatalf("answers differ after tiering resumed:\n%s", firstDiff(got, want))
	}
	db.Close()
	db = openColdDB(t, dir, rig.bucket.store(t), nil)
	if got := coldAnswers(t, db); got != want {
		t.Fatalf("answers differ after a restart:\n%s", firstDiff(got, want))
	}
	settle(t, db, rig.bucket)
}

// TestColdVersitygwReadFaults: a query whose cold reads fail (500s, a
// truncated body, a corrupted byte, a dropped connection) fails with an
// error naming the object, never with other numbers; healthy again, it
// answers as before tiering.
func TestColdVersitygwReadFaults(t *testing.T) {
	rig := newVGWRig(t)
	ctx := context.Background()
	dir := t.TempDir()
	db := openColdDB(t, dir, rig.bucket.store(t), nil)
	coldData(t, db)
	want := coldAnswers(t, db)
	settle(t, db, rig.bucket)
	db.Close()
	queries := []string{
		"SELECT n, f FROM c WHERE time >= '2025-03-03T05:00:00Z' AND time < '2025-03-03T09:00:00Z'",
		"SELECT count(n), sum(n), max(f) FROM c WHERE time >= '2025-03-01T00:00:00Z' AND time < '2025-03-09T00:00:00Z' GROUP BY 1d",
		"SELECT max(n) FROM c WHERE time >= '2025-03-02T05:10:00Z' AND time < '2025-03-05T09:00:00Z' GROUP BY 7h",
	}
	for _, fault := range []s3test.Fault{s3test.Fail500, s3test.TruncateGet, s3test.CorruptGet, s3test.Drop} {
		t.Run(fault.String(), func(t *testing.T) {
			// A new store: nothing cached.
			db := openColdDB(t, dir, rig.bucket.store(t), nil)
			defer db.Close()
			rig.proxy.Set(fault)
			for _, q := range queries {
				stmt, err := query.Parse(q)
				if err != nil {
					t.Fatal(err)
				}
				res, err := planner.ExecuteWith(ctx, db, stmt, planner.Options{Now: coldNow})
				if err == nil {
					t.Fatalf("%s through %s answered %d rows", q, fault, len(res.Rows))
				}
				if !strings.Contains(err.Error(), rig.bucket.prefix+"/c/group_") {
					t.Fatalf("%s through %s: error names no object: %v", q, fault, err)
				}
			}
			rig.proxy.Set(s3test.Healthy)
			if got := coldAnswers(t, db); got != want {
				t.Fatalf("answers differ once healthy:\n%s", firstDiff(got, want))
			}
		})
	}
}
