package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

// moveMap is the cluster map in one process, standing in for package
// coord: every node and the mover see the same map (Refresh has nothing to
// wait for).
type moveMap struct {
	mu     sync.Mutex
	groups map[int]GroupInfo
	addrs  map[string]string
}

func newMoveMap(numGroups int, primary string) *moveMap {
	m := &moveMap{groups: make(map[int]GroupInfo), addrs: make(map[string]string)}
	for g := range numGroups {
		m.groups[g] = GroupInfo{Group: g, Primary: primary, Epoch: 1}
	}
	return m
}

func (m *moveMap) Group(g int) (GroupInfo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.groups[g]
	return e, ok
}

func (m *moveMap) NodeAddr(id string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.addrs[id]
	return a, ok
}

func (m *moveMap) setAddr(id, addr string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addrs[id] = addr
}

func (m *moveMap) Refresh() error { return nil }

// NumGroups, ShardTag and Route make the map a Topology for Node and
// Client.
func (m *moveMap) NumGroups() int   { return moveGroups }
func (m *moveMap) ShardTag() string { return "device_id" }

func (m *moveMap) Route(g int) (Route, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.groups[g]
	addr := m.addrs[e.Primary]
	if !ok || e.Primary == "" || addr == "" {
		return Route{}, false
	}
	return Route{Group: g, Node: e.Primary, Addr: addr, Epoch: e.Epoch}, true
}

func (m *moveMap) UpdateGroup(_ context.Context, g int, update func(*GroupInfo) error) (GroupInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.groups[g]
	e.Replicas = append([]string(nil), e.Replicas...)
	if err := update(&e); err != nil {
		return GroupInfo{}, err
	}
	e.Epoch = m.groups[g].Epoch + 1
	m.groups[g] = e
	return e, nil
}

// quiet drops the logs of the tests' nodes.
var quiet = slog.New(slog.DiscardHandler)

const (
	moveGroups = 4
	moveColl   = "m"
)

// moveNode is a storage node: a storage.DB behind a real HTTP/2 server
// serving the internal API (Node) with the move routes and gate.
type moveNode struct {
	t     testing.TB
	id    string
	dir   string
	db    *storage.DB
	moves *Moves
	node  *Node
	srv   *http.Server
	done  chan struct{}
	once  sync.Once
}

// startMoveNode opens dir and serves it on a fresh port; wrap (optional) sees
// the node's GroupDB first.
func startMoveNode(t testing.TB, m *moveMap, id, dir string, wrap func(GroupDB) GroupDB, opts MoveOptions) *moveNode {
	t.Helper()
	return startMoveNodeWith(t, m, id, dir, wrap, opts, storage.Options{})
}

// startMoveNodeWith is startMoveNode with storage options (a cold store)
// on top of the tests' own.
func startMoveNodeWith(t testing.TB, m *moveMap, id, dir string, wrap func(GroupDB) GroupDB, opts MoveOptions, so storage.Options) *moveNode {
	t.Helper()
	so.NumGroups, so.FlushInterval, so.CompactFiles, so.Sync, so.Logger = moveGroups, -1, -1, wal.SyncNever, quiet
	if so.TierInterval == 0 {
		so.TierInterval = -1
	}
	db, err := storage.Open(dir, &so)
	if err != nil {
		t.Fatal(err)
	}
	gdb := StorageGroups(db)
	if wrap != nil {
		gdb = wrap(gdb)
	}
	opts.NodeID = id
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	n := &moveNode{t: t, id: id, dir: dir, db: db, done: make(chan struct{})}
	n.moves = NewMoves(gdb, m, opts)
	node := NewNode(db, m, NodeOptions{NodeID: id, Gate: n.moves, Logger: quiet})
	n.node = node
	n.moves.Routes(node.Handle)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.srv = NewServer(ln.Addr().String(), node.Handler())
	m.setAddr(id, "http://"+ln.Addr().String())
	go func() { n.srv.Serve(ln); close(n.done) }() //nolint:errcheck // Close ends it
	t.Cleanup(n.stop)
	return n
}

// stop closes the server and the DB, as killing the node would.
func (n *moveNode) stop() {
	n.once.Do(func() {
		n.srv.Close()
		<-n.done
		if err := n.db.Close(); err != nil && !errors.Is(err, storage.ErrClosed) {
			n.t.Error(err)
		}
	})
}

// write writes points of group g through the node's gate at epoch.
func (n *moveNode) write(ctx context.Context, g int, epoch uint64, pts []model.Point) error {
	return n.moves.Write([]GroupWrite{{Group: g, Epoch: epoch, Points: pts}}, func() error { return n.db.Write(ctx, pts) })
}

// devicesIn returns k device names in group g.
func devicesIn(g, k int) []string {
	var out []string
	for i := 0; len(out) < k; i++ {
		d := fmt.Sprintf("dev%d", i)
		tags := model.Tags{{Key: "device_id", Value: d}}
		if model.GroupOf(model.DeviceOf(model.SeriesKey(moveColl, tags), tags, "device_id"), moveGroups) == g {
			out = append(out, d)
		}
	}
	return out
}

func movePoint(dev string, t int64, v int64) model.Point {
	return model.Point{Collection: moveColl, Tags: model.Tags{{Key: "device_id", Value: dev}}, Time: t,
		Fields: []model.Field{{Key: "v", Value: model.Int(v)}}}
}

// readDevs returns, by device and time, the values n holds of devs.
func readDevs(ctx context.Context, db *storage.DB, devs []string) (map[string]map[int64]int64, error) {
	out := make(map[string]map[int64]int64)
	for _, d := range devs {
		cols, err := db.Read(ctx, moveColl, model.Tags{{Key: "device_id", Value: d}}, []string{"v"}, 0, 1<<62)
		if err != nil {
			return nil, err
		}
		vals := make(map[int64]int64)
		for _, c := range cols {
			for i, t := range c.Times {
				vals[t] = c.Ints[i]
			}
		}
		out[d] = vals
	}
	return out, nil
}

func countVals(vals map[string]map[int64]int64) int {
	n := 0
	for _, v := range vals {
		n += len(v)
	}
	return n
}

// moveCluster is the nodes of a test by id, and who serves a group.
type moveCluster struct {
	m     *moveMap
	mu    sync.Mutex
	nodes map[string]*moveNode
}

func (c *moveCluster) node(id string) *moveNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

func (c *moveCluster) set(n *moveNode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes[n.id] = n
}

// moveLoad is a writer and a reader of one group through whatever node the map
// names, as a router would drive them.
type moveLoad struct {
	c      *moveCluster
	g      int
	devs   []string
	client *Client // writes go through a router's Client when set

	mu       sync.Mutex
	acked    map[[2]int64]int64   // (device index, time) → last acknowledged value
	later    map[[2]int64][]int64 // values attempted after the last ack
	attempts map[[2]int64]bool
	nAcked   atomic.Int64 // distinct points acknowledged
	nTried   atomic.Int64 // distinct points attempted
	refused  atomic.Int64 // writes refused during a switch or with a stale epoch
	written  atomic.Int64 // batches acknowledged

	queries, queryFails atomic.Int64
	wrong               []string
}

func newMoveLoad(c *moveCluster, g int) *moveLoad {
	return &moveLoad{c: c, g: g, devs: devicesIn(g, 3), acked: make(map[[2]int64]int64),
		later: make(map[[2]int64][]int64), attempts: make(map[[2]int64]bool)}
}

// writeOnce writes one point through the map's primary at its epoch; it
// reports whether the write was acknowledged.
func (l *moveLoad) writeOnce(ctx context.Context, dev int, t, v int64) bool {
	key := [2]int64{int64(dev), t}
	l.mu.Lock()
	if !l.attempts[key] {
		l.attempts[key] = true
		l.nTried.Add(1)
	}
	l.later[key] = append(l.later[key], v)
	l.mu.Unlock()
	var err error
	if l.client != nil {
		err = l.client.Write(ctx, []model.Point{movePoint(l.devs[dev], t, v)})
	} else {
		e, _ := l.c.m.Group(l.g)
		n := l.c.node(e.Primary)
		if n == nil {
			return false
		}
		err = n.write(ctx, l.g, e.Epoch, []model.Point{movePoint(l.devs[dev], t, v)})
	}
	if err != nil {
		l.refused.Add(1)
		time.Sleep(100 * time.Microsecond) // as a client backs off
		return false
	}
	l.mu.Lock()
	if _, ok := l.acked[key]; !ok {
		l.nAcked.Add(1)
	}
	l.acked[key] = v
	delete(l.later, key)
	l.mu.Unlock()
	l.written.Add(1)
	return true
}

// runWriter writes new points, and every third time rewrites an earlier
// one with a new value, until ctx ends.
func (l *moveLoad) runWriter(ctx context.Context, start int64) {
	i := start
	for v := int64(1); ctx.Err() == nil; v++ {
		if v%3 == 0 && i > 0 {
			old := (v * 7919) % i
			l.writeOnce(ctx, int(old%int64(len(l.devs))), 1000+old, v)
			continue
		}
		if l.writeOnce(ctx, int(i%int64(len(l.devs))), 1000+i, v) {
			i++
		}
	}
}

// runReader counts the group's points through the map's primary until ctx
// ends: a count must lie between the points acknowledged when the query
// began and those attempted when it ended, or the query must be refused.
func (l *moveLoad) runReader(ctx context.Context) {
	for ctx.Err() == nil {
		lo := l.nAcked.Load()
		if l.client != nil {
			l.routerQuery(ctx, lo)
			continue
		}
		e, _ := l.c.m.Group(l.g)
		n := l.c.node(e.Primary)
		if n == nil {
			continue
		}
		done, err := n.moves.Read(l.g, e.Epoch)
		if err != nil {
			l.queryFails.Add(1)
			continue
		}
		vals, err := readDevs(ctx, n.db, l.devs)
		done()
		if err != nil {
			l.queryFails.Add(1)
			continue
		}
		hi := l.nTried.Load()
		got := int64(countVals(vals))
		l.queries.Add(1)
		if got < lo || got > hi {
			l.mu.Lock()
			l.wrong = append(l.wrong, fmt.Sprintf("node %s epoch %d counted %d, acknowledged %d, attempted %d", e.Primary, e.Epoch, got, lo, hi))
			l.mu.Unlock()
		}
	}
}

// routerQuery counts the collection's points with a query through the
// router's Client and the planner: the answer must lie between the points
// acknowledged when it began (lo) and those attempted when it ended, or
// the query must fail with a 503 (storage.ErrUnavailable).
func (l *moveLoad) routerQuery(ctx context.Context, lo int64) {
	stmt, err := query.Parse("SELECT count(v) FROM " + moveColl)
	if err != nil {
		panic(err)
	}
	res, err := planner.ExecuteWith(ctx, l.client, stmt, planner.Options{})
	hi := l.nTried.Load()
	if errors.Is(err, planner.ErrNotFound) { // no collection: no points
		res, err = &planner.Result{Rows: [][]model.Value{{model.Null, model.Int(0)}}}, nil
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return
	case err != nil:
		l.queryFails.Add(1)
		if !errors.Is(err, storage.ErrUnavailable) {
			l.mu.Lock()
			l.wrong = append(l.wrong, fmt.Sprintf("query failed without a 503: %v", err))
			l.mu.Unlock()
		}
		time.Sleep(time.Millisecond)
		return
	}
	l.queries.Add(1)
	got := int64(-1)
	if len(res.Rows) == 1 && len(res.Rows[0]) == 2 {
		if f, ok := res.Rows[0][1].AsFloat(); ok {
			got = int64(f)
		}
	}
	if got < lo || got > hi {
		l.mu.Lock()
		l.wrong = append(l.wrong, fmt.Sprintf("router query answered %v, acknowledged %d, attempted %d", res.Rows, lo, hi))
		l.mu.Unlock()
	}
}

// check asserts that db holds every acknowledged point with its last
// acknowledged value (or a value attempted after it, whose answer was
// lost) and nothing else.
func (l *moveLoad) check(t *testing.T, db *storage.DB) {
	t.Helper()
	vals, err := readDevs(context.Background(), db, l.devs)
	if err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	missing, wrongVal := 0, 0
	for key, want := range l.acked {
		got, ok := vals[l.devs[key[0]]][key[1]]
		if !ok {
			missing++
			continue
		}
		if got != want && !contains(l.later[key], got) {
			wrongVal++
			if wrongVal < 5 {
				t.Errorf("device %s time %d: value %d, last acknowledged %d", l.devs[key[0]], key[1], got, want)
			}
		}
	}
	if missing > 0 || wrongVal > 0 {
		t.Errorf("%d of %d acknowledged points missing, %d with a wrong value", missing, len(l.acked), wrongVal)
	}
	if n := countVals(vals); n > len(l.attempts) {
		t.Errorf("%d points held, only %d attempted", n, len(l.attempts))
	}
	for _, w := range l.wrong {
		t.Errorf("wrong query answer: %s", w)
	}
}

func contains(s []int64, v int64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// holdsGroup reports whether db holds any data of group g.
func holdsGroup(t *testing.T, db *storage.DB, g int) bool {
	t.Helper()
	h, err := StorageGroups(db).HoldsGroup(g)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// hookDB runs a hook before a GroupDB's snapshot or import.
type hookDB struct {
	GroupDB
	beforeSnapshot func()
	beforeImport   func()
	afterImport    func()
}

func (h *hookDB) SnapshotGroup(ctx context.Context, g int) (GroupFiles, error) {
	if h.beforeSnapshot != nil {
		h.beforeSnapshot()
	}
	return h.GroupDB.SnapshotGroup(ctx, g)
}

func (h *hookDB) ImportGroup(ctx context.Context, g int, src ImportSource) error {
	if h.beforeImport != nil {
		h.beforeImport()
	}
	err := h.GroupDB.ImportGroup(ctx, g, src)
	if err == nil && h.afterImport != nil {
		h.afterImport()
	}
	return err
}

// waitWrites returns once the load has acknowledged n more batches, or
// ctx ended.
func (l *moveLoad) waitWrites(ctx context.Context, n int64) {
	target := l.written.Load() + n
	for l.written.Load() < target && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
}

// preload writes k points through the map's primary and flushes it, so
// that the group has files as well as memory.
func (l *moveLoad) preload(t *testing.T, ctx context.Context, k int) int64 {
	t.Helper()
	for i := range int64(k) {
		if !l.writeOnce(ctx, int(i%int64(len(l.devs))), 1000+i, i) {
			t.Fatalf("preload write %d refused", i)
		}
		if i == int64(k)/2 {
			e, _ := l.c.m.Group(l.g)
			if err := l.c.node(e.Primary).db.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	return int64(k)
}

func newMoveCluster(t *testing.T) *moveCluster {
	return &moveCluster{m: newMoveMap(moveGroups, "A"), nodes: make(map[string]*moveNode)}
}

// hookUpdater runs a hook before a map change that makes a node primary
// of a moving group (the switch).
type hookUpdater struct {
	*moveMap
	beforeSwitch func()
}

func (h *hookUpdater) UpdateGroup(ctx context.Context, g int, update func(*GroupInfo) error) (GroupInfo, error) {
	if e, _ := h.Group(g); e.State == StateMoving && h.beforeSwitch != nil {
		probe := e
		if update(&probe) == nil && probe.Primary != e.Primary {
			h.beforeSwitch()
		}
	}
	return h.moveMap.UpdateGroup(ctx, g, update)
}
