package remote

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage"
)

// stopSink stops a node's server on the query's first row.
type stopSink struct {
	stop func()
	rows int
}

func (s *stopSink) Columns([]string, int) error { return nil }
func (s *stopSink) Row([]model.Value) error {
	if s.rows == 0 {
		s.stop()
	}
	s.rows++
	return nil
}

// TestNodeDiesMidSession: a node that goes away while it is still sending
// a query's data fails the query with a 503-class error naming its groups
// (storage.ErrUnavailable), with or without partial=true: rows already
// sent cannot be taken back, so the answer is never silently cut short.
func TestNodeDiesMidSession(t *testing.T) {
	for _, partial := range []bool{false, true} {
		t.Run(fmt.Sprint("partial=", partial), func(t *testing.T) {
			c := newCluster(t)
			small, big := deviceOn(2, "a"), deviceOn(2, "b")
			pts := []model.Point{{Collection: "m", Tags: model.Tags{{Key: rtShard, Value: small}}, Time: tBase, Fields: []model.Field{{Key: "f", Value: model.Float(1)}}}}
			for i := 0; i < 200000; i++ {
				pts = append(pts, model.Point{Collection: "m", Tags: model.Tags{{Key: rtShard, Value: big}}, Time: tBase + int64(i)*int64(time.Second),
					Fields: []model.Field{{Key: "f", Value: model.Float(float64(i) * 1.5)}}})
			}
			if err := c.dbs[2].Write(context.Background(), pts); err != nil {
				t.Fatal(err)
			}
			var p http.Protocols
			p.SetUnencryptedHTTP2(true)
			r2, _ := c.topo.Route(2)
			nc := c.reader.node(r2)
			nc.http = &http.Client{Transport: &http.Transport{Protocols: &p, HTTP2: &http.HTTP2Config{MaxReceiveBufferPerStream: 64 << 10, MaxReceiveBufferPerConnection: 64 << 10}}}
			stmt, err := query.Parse(fmt.Sprintf("SELECT f FROM m WHERE device_id IN ('%s', '%s') GROUP BY device_id", small, big))
			if err != nil {
				t.Fatal(err)
			}
			sink := &stopSink{stop: func() { c.https[2].Close() }}
			opts := planner.Options{Now: testNow}
			var pa planner.Partial
			if partial {
				opts.Partial = &pa
			}
			_, err = planner.ExecuteStream(queryCtx(t), c.reader, stmt, opts, sink)
			if sink.rows == 0 || sink.rows >= 200001 {
				t.Fatalf("%d rows: the node must die mid-answer", sink.rows)
			}
			if !errors.Is(err, storage.ErrUnavailable) {
				t.Fatalf("error %v, want one wrapping storage.ErrUnavailable (503)", err)
			}
			var ue *UnavailableError
			if !errors.As(err, &ue) || len(ue.Groups) == 0 || !strings.Contains(err.Error(), "node n2") {
				t.Fatalf("error %q, want the groups of node n2 named", err)
			}
			for _, g := range ue.Groups {
				if nodeOf(g) != 2 {
					t.Fatalf("error %q names group %d, not on node n2", err, g)
				}
			}
		})
	}
}

// TestNoLeakAfterQueries: queries that end every way (answered, stopped
// early by LIMIT while nodes still send, cancelled mid-stream, over a
// limit, refused by the planner, a node gone) leave no goroutine behind on
// the router or the nodes (one process here): the count returns to what
// it was.
func TestNoLeakAfterQueries(t *testing.T) {
	c := newCluster(t)
	c.write(t, testPoints(4, 3000))
	var big []model.Point
	for i := 0; i < 150000; i++ {
		big = append(big, model.Point{Collection: "m", Tags: model.Tags{{Key: rtShard, Value: fmt.Sprintf("b%d", i%3)}}, Time: tBase + int64(i)*int64(time.Second),
			Fields: []model.Field{{Key: "f", Value: model.Float(float64(i))}}})
	}
	c.write(t, big)
	queries := []struct {
		q      string
		opts   planner.Options
		cancel bool
	}{
		{q: "SELECT count(f) FROM m GROUP BY device_id"},
		{q: "SELECT f FROM m WHERE device_id =~ /^b/ LIMIT 3"},
		{q: "SELECT f FROM m WHERE device_id =~ /^b/ ORDER BY time DESC LIMIT 2"},
		{q: "SELECT f FROM m WHERE device_id =~ /^b/", cancel: true},
		{q: "SELECT f FROM m", opts: planner.Options{MaxPoints: 1000}},
		{q: "SELECT f FROM m", opts: planner.Options{MaxBytes: 1 << 16}},
		{q: "SELECT nope FROM m"},
		{q: "SELECT sum(s) FROM m"},
		{q: "EXPLAIN SELECT count(f) FROM m"},
		{q: "SHOW TAG VALUES FROM m WITH KEY = device_id"},
	}
	exec := func() {
		for _, x := range queries {
			stmt, err := query.Parse(x.q)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(queryCtx(t))
			var sink planner.Sink = &discardSink{}
			if x.cancel {
				sink = &cancelSink{cancel: cancel}
			}
			x.opts.Now = testNow
			planner.ExecuteStream(ctx, c.reader, stmt, x.opts, sink) //nolint:errcheck // any outcome
			cancel()
		}
	}
	exec() // connections and pools exist from here on
	settle := func(want int) int {
		deadline := queryCtx(t)
		for {
			n := runtime.NumGoroutine()
			if n <= want {
				return n
			}
			select {
			case <-deadline.Done():
				return n
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	// The count after the warm-up, once connections' goroutines settle.
	base := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(10 * time.Millisecond)
		base = min(base, runtime.NumGoroutine())
	}
	for range 5 {
		exec()
	}
	if n := settle(base); n > base {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after 50 more queries, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

type discardSink struct{}

func (discardSink) Columns([]string, int) error { return nil }
func (discardSink) Row([]model.Value) error     { return nil }

// TestWriteRetryAfterNodeDown: a write through a router with a node down
// answers a 503 naming that node's groups and writes the others; once the
// node is back, retrying the whole batch leaves the cluster answering
// exactly like a single DB given the batch once (rewrites included).
func TestWriteRetryAfterNodeDown(t *testing.T) {
	c := newCluster(t)
	ctx := testContext(t)
	r := rand.New(rand.NewPCG(7, 7))
	pts := randPoints(r, 1500)
	pts = append(pts, pts[:500]...) // the same series and times again, other values below
	for i := 1500; i < len(pts); i++ {
		pts[i].Fields = []model.Field{{Key: "f", Value: model.Float(float64(i))}}
	}
	if err := c.single.Write(ctx, pts); err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(c.addrs[1], "http://")
	c.https[1].Close()
	err := c.reader.Write(ctx, pts)
	var we *WriteError
	if !errors.As(err, &we) || !errors.Is(err, storage.ErrUnavailable) || len(we.Groups) == 0 {
		t.Fatalf("write with node n1 down: %v, want a 503 naming its groups", err)
	}
	for _, g := range we.Groups {
		if nodeOf(g) != 1 {
			t.Fatalf("group %d of node n%d named as not written", g, nodeOf(g))
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	srv := NewServer(addr, c.nodes[1].Handler())
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	if err := c.reader.Write(ctx, pts); err != nil {
		t.Fatalf("retry: %v", err)
	}
	for _, q := range []string{
		"SELECT * FROM m",
		"SELECT * FROM n ORDER BY time DESC",
		"SELECT count(f), sum(f), last(f), count(i) FROM m GROUP BY device_id, host",
	} {
		want, werr := run(ctx, c.single, q, planner.Options{})
		got, gerr := run(ctx, c.reader, q, planner.Options{})
		if werr != nil || gerr != nil || !reflect.DeepEqual(got.Rows, want.Rows) {
			t.Fatalf("%s: %d rows %v, want %d rows %v", q, len(got.Rows), gerr, len(want.Rows), werr)
		}
	}
}
