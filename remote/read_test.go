package remote

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

// staticTopo is a cluster map fixed by a test.
type staticTopo struct {
	mu        sync.Mutex
	n         int
	shard     string
	routes    map[int]Route
	refreshes int
	// onRefresh, when set, runs on Refresh (a test moving the map).
	onRefresh func(t *staticTopo)
}

func (s *staticTopo) NumGroups() int   { return s.n }
func (s *staticTopo) ShardTag() string { return s.shard }
func (s *staticTopo) Route(g int) (Route, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.routes[g]
	return r, ok
}
func (s *staticTopo) Refresh() error {
	s.mu.Lock()
	s.refreshes++
	f := s.onRefresh
	s.mu.Unlock()
	if f != nil {
		f(s)
	}
	return nil
}

func (s *staticTopo) set(g int, r Route) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes[g] = r
}

func (s *staticTopo) clone() *staticTopo {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &staticTopo{n: s.n, shard: s.shard, routes: map[int]Route{}}
	for g, r := range s.routes {
		c.routes[g] = r
	}
	return c
}

const (
	rtGroups = 12
	rtShard  = "device_id"
)

// cluster is three storage nodes (real DBs behind real HTTP/2 servers)
// and a single DB holding the same points, for comparing answers.
type cluster struct {
	single  *storage.DB
	dbs     []*storage.DB
	nodes   []*Node
	https   []*http.Server
	addrs   []string
	topo    *staticTopo // the router's view
	nodeTop []*staticTopo
	reader  *Client
}

func openDB(t testing.TB) *storage.DB {
	t.Helper()
	db, err := storage.Open(t.TempDir(), &storage.Options{NumGroups: rtGroups, ShardTag: rtShard, FlushInterval: -1,
		BlockSize: 16, PartitionDuration: 120 * 24 * time.Hour, Sync: wal.SyncNever, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// nodeOf is where a group lives in the test cluster.
func nodeOf(g int) int { return g % 3 }

func newCluster(t testing.TB) *cluster {
	t.Helper()
	c := &cluster{single: openDB(t), topo: &staticTopo{n: rtGroups, shard: rtShard, routes: map[int]Route{}}}
	for g := 0; g < rtGroups; g++ {
		c.topo.routes[g] = Route{Group: g, Node: fmt.Sprintf("n%d", nodeOf(g)), Epoch: 1}
	}
	var lns []net.Listener
	for i := 0; i < 3; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		c.addrs = append(c.addrs, "http://"+ln.Addr().String())
	}
	for g := 0; g < rtGroups; g++ {
		r := c.topo.routes[g]
		r.Addr = c.addrs[nodeOf(g)]
		c.topo.routes[g] = r
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i, ln := range lns {
		c.dbs = append(c.dbs, openDB(t))
		nt := c.topo.clone()
		c.nodeTop = append(c.nodeTop, nt)
		n := NewNode(c.dbs[i], nt, NodeOptions{NodeID: fmt.Sprintf("n%d", i), Logger: quiet})
		srv := NewServer(ln.Addr().String(), n.Handler())
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		c.nodes = append(c.nodes, n)
		c.https = append(c.https, srv)
	}
	c.reader = NewClient(c.topo, ClientOptions{Logger: quiet})
	t.Cleanup(func() { c.reader.Close() })
	return c
}

// write stores points in the single DB and, split by group, in the nodes.
func (c *cluster) write(t testing.TB, pts []model.Point) {
	t.Helper()
	ctx := context.Background()
	if err := c.single.Write(ctx, pts); err != nil {
		t.Fatal(err)
	}
	per := make([][]model.Point, 3)
	for _, p := range pts {
		g := model.GroupOf(model.DeviceOf(model.SeriesKey(p.Collection, p.Tags), p.Tags, rtShard), rtGroups)
		per[nodeOf(g)] = append(per[nodeOf(g)], p)
	}
	for i, ps := range per {
		if len(ps) > 0 {
			if err := c.dbs[i].Write(ctx, ps); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (c *cluster) flush(t testing.TB) {
	t.Helper()
	for _, db := range append([]*storage.DB{c.single}, c.dbs...) {
		if err := db.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	tBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	tEnd  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
)

// testPoints makes points of collection m: 20 devices in 3 regions, plus
// two series without the shard tag, with a float f, an int i, a string s
// and a bool b (not every field at every point), spread over two years
// with dense days so that rollup buckets hold several points.
func testPoints(seed uint64, n int) []model.Point {
	r := rand.New(rand.NewPCG(seed, 5))
	regions := []string{"eu", "us", "ap"}
	pts := make([]model.Point, 0, n)
	for range n {
		var tags model.Tags
		d := r.IntN(22)
		if d < 20 {
			tags = model.Tags{{Key: rtShard, Value: fmt.Sprintf("d%02d", d)}, {Key: "region", Value: regions[d%3]}}
		} else {
			tags = model.Tags{{Key: "host", Value: fmt.Sprintf("h%d", d)}}
		}
		var t int64
		if r.IntN(3) == 0 {
			t = tBase + r.Int64N(tEnd-tBase)
		} else {
			day := []int64{3, 40, 41, 400, 401, 600}[r.IntN(6)]
			t = tBase + day*int64(24*time.Hour) + r.Int64N(8640)*int64(10*time.Second)
		}
		var fs []model.Field
		if r.IntN(6) > 0 {
			fs = append(fs, model.Field{Key: "f", Value: model.Float(r.NormFloat64()*10 + 100)})
		}
		if r.IntN(3) > 0 {
			fs = append(fs, model.Field{Key: "i", Value: model.Int(r.Int64N(1000) - 500)})
		}
		if r.IntN(4) == 0 {
			fs = append(fs, model.Field{Key: "s", Value: model.String(fmt.Sprintf("v%d", r.IntN(5)))})
		}
		if len(fs) == 0 || r.IntN(8) == 0 {
			fs = append(fs, model.Field{Key: "b", Value: model.Bool(r.IntN(2) == 0)})
		}
		pts = append(pts, model.Point{Collection: "m", Tags: tags, Fields: fs, Time: t})
	}
	return pts
}

// sessions returns the query sessions and catalog calls the router has
// opened per node so far.
func (c *cluster) sessions() (sess, cats [3]uint64) {
	for _, m := range c.reader.NodeMetrics() {
		var i int
		if _, err := fmt.Sscanf(m.Node, "n%d", &i); err == nil && i < 3 {
			sess[i], cats[i] = m.Fragments, m.Catalogs
		}
	}
	return sess, cats
}
