package remote

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/soltixdb/soltix/storage"
)

// testMap is a cluster map as etcd would hold it, for tests: the truth
// every testView refreshes from. It is a fixture, not a server.
type testMap struct {
	groups int
	shard  string

	mu     sync.Mutex
	routes map[int]Route
}

func newTestMap(groups int) *testMap {
	return &testMap{groups: groups, shard: "device_id", routes: make(map[int]Route)}
}

// set makes n the primary of group g at epoch.
func (m *testMap) set(g int, n *testNode, epoch uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.routes[g] = Route{Group: g, Node: n.id, Addr: n.addr, Epoch: epoch}
}

// unset leaves group g without a primary.
func (m *testMap) unset(g int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.routes, g)
}

// spread gives group g to nodes[g % len(nodes)] at epoch 1.
func (m *testMap) spread(nodes ...*testNode) {
	for g := range m.groups {
		m.set(g, nodes[g%len(nodes)], 1)
	}
}

// view returns a process's view of the map, empty until refreshed.
func (m *testMap) view() *testView {
	return &testView{m: m, routes: make(map[int]Route)}
}

// testView implements Topology over a testMap.
type testView struct {
	m         *testMap
	refreshes atomic.Int64
	// refreshErr, when set, fails Refresh.
	refreshErr atomic.Pointer[error]

	mu     sync.Mutex
	routes map[int]Route
}

func (v *testView) NumGroups() int   { return v.m.groups }
func (v *testView) ShardTag() string { return v.m.shard }

func (v *testView) Route(g int) (Route, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	r, ok := v.routes[g]
	return r, ok
}

func (v *testView) Refresh() error {
	v.refreshes.Add(1)
	if err := v.refreshErr.Load(); err != nil {
		return *err
	}
	v.m.mu.Lock()
	defer v.m.mu.Unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	clear(v.routes)
	for g, r := range v.m.routes {
		v.routes[g] = r
	}
	return nil
}

// override makes the view answer r for group g until the next Refresh.
func (v *testView) override(r Route) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.routes[r.Group] = r
}

// testNode is a storage node: a storage.DB in a temporary directory and
// its internal API on a real HTTP/2 server on a free loopback port.
type testNode struct {
	id   string
	addr string
	db   *storage.DB
	node *Node
	view *testView
	srv  *http.Server
	done chan struct{}
	// conns counts the connections the server accepted.
	conns atomic.Int64
}

func startNode(t *testing.T, m *testMap, id string, opts NodeOptions) *testNode {
	t.Helper()
	return startNodeWith(t, m, id, opts, storage.Options{FlushInterval: -1})
}

// startNodeWith starts a node whose DB has so's options (its groups and
// shard tag are the map's).
func startNodeWith(t testing.TB, m *testMap, id string, opts NodeOptions, so storage.Options) *testNode {
	t.Helper()
	so.NumGroups, so.ShardTag = m.groups, m.shard
	db, err := storage.Open(t.TempDir(), &so)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	opts.NodeID = id
	n := &testNode{id: id, addr: "http://" + ln.Addr().String(), db: db, view: m.view(), done: make(chan struct{})}
	n.node = NewNode(db, n.view, opts)
	n.srv = NewServer(ln.Addr().String(), n.node.Handler())
	n.srv.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.conns.Add(1)
		}
	}
	go func() {
		defer close(n.done)
		if err := n.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("node %s: serve: %v", id, err)
		}
	}()
	t.Cleanup(func() {
		n.stop()
		if err := db.Close(); err != nil && !errors.Is(err, storage.ErrClosed) {
			t.Errorf("node %s: close: %v", id, err)
		}
	})
	return n
}

// stop closes the node's server and its connections: the node is down.
func (n *testNode) stop() {
	n.srv.Close()
	<-n.done
}

// newTestClient returns a router's Client over a fresh, refreshed view.
func newTestClient(t testing.TB, m *testMap, opts ClientOptions) (*Client, *testView) {
	t.Helper()
	v := m.view()
	if err := v.Refresh(); err != nil {
		t.Fatal(err)
	}
	v.refreshes.Store(0)
	c := NewClient(v, opts)
	t.Cleanup(func() { c.Close() })
	return c, v
}

// testContext is bounded so that a hung request fails the test.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60e9)
	t.Cleanup(cancel)
	return ctx
}

// http1Client speaks HTTP/1.1 only, as curl does by default.
var http1Client = http.Client{Transport: &http.Transport{}}
