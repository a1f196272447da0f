package remote_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soltixdb/soltix/coord"
	"github.com/soltixdb/soltix/internal/etcdtest"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/remote"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

// coordMap adapts a process's coord.View and coord.Coord to what moves
// need, as cmd/soltix does. Group is called on every write, so it answers
// from a copy of the map taken when the view last changed instead of
// copying the map each time.
type coordMap struct {
	v *coord.View
	c *coord.Coord

	mu      sync.Mutex
	m       coord.Map
	changed <-chan struct{} // closed at the view's next change after m; nil: reload
}

func newCoordMap(v *coord.View, c *coord.Coord) *coordMap { return &coordMap{v: v, c: c} }

// snapshot returns the view's map, copied again only after a change.
func (m *coordMap) snapshot() coord.Map {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.changed != nil {
		select {
		case <-m.changed:
		default:
			return m.m
		}
	}
	m.changed = m.v.Changed() // before the copy: a change in between reloads
	m.m = m.v.Map()
	return m.m
}

func groupInfo(g coord.Group) remote.GroupInfo {
	return remote.GroupInfo{Group: g.ID, Primary: g.Primary, Replicas: g.Replicas, Epoch: g.Epoch, State: g.State, MovingTo: g.MovingTo}
}

func (m *coordMap) Group(g int) (remote.GroupInfo, bool) {
	gs := m.snapshot().Groups
	if g < 0 || g >= len(gs) || gs[g].Primary == "" {
		return remote.GroupInfo{}, false
	}
	return groupInfo(gs[g]), true
}

func (m *coordMap) NodeAddr(id string) (string, bool) {
	n, ok := m.snapshot().Node(id)
	return n.Addr, ok && n.Addr != ""
}

func (m *coordMap) Refresh() error { return m.v.Refresh() }

func (m *coordMap) UpdateGroup(ctx context.Context, g int, update func(*remote.GroupInfo) error) (remote.GroupInfo, error) {
	cg, err := m.c.UpdateGroup(ctx, g, func(e *coord.Group) error {
		gi := groupInfo(*e)
		if err := update(&gi); err != nil {
			return err
		}
		e.Primary, e.Replicas, e.State, e.MovingTo = gi.Primary, gi.Replicas, gi.State, gi.MovingTo
		return nil
	})
	return groupInfo(cg), err
}

const etcdGroups = 16

var quietLog = slog.New(slog.DiscardHandler)

func openCoord(t *testing.T, ctx context.Context, srv *etcdtest.Server, name string) (*coord.Coord, *coord.View) {
	t.Helper()
	c, err := coord.Open(ctx, coord.Config{Endpoints: srv.Endpoints(), NumGroups: etcdGroups, MinNodes: 3,
		LeaseTTL: 2 * time.Second, Name: name, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	v, err := c.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c, v
}

// etcdNode is a storage process: a storage.DB, its coord, Node and Moves
// behind a real HTTP/2 server, registered in etcd.
type etcdNode struct {
	id    string
	db    *storage.DB
	moves *remote.Moves
}

func startEtcdNode(t *testing.T, ctx context.Context, srv *etcdtest.Server, id string) *etcdNode {
	t.Helper()
	c, v := openCoord(t, ctx, srv, id)
	db, err := storage.Open(t.TempDir(), &storage.Options{NumGroups: etcdGroups, FlushInterval: -1, Sync: wal.SyncNever, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	m := newCoordMap(v, c)
	moves := remote.NewMoves(remote.StorageGroups(db), m, remote.MoveOptions{NodeID: id, Logger: quietLog})
	node := remote.NewNode(db, v, remote.NodeOptions{NodeID: id, Gate: moves, Logger: quietLog})
	moves.Routes(node.Handle)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := remote.NewServer(ln.Addr().String(), node.Handler())
	served := make(chan struct{})
	go func() { defer close(served); hs.Serve(ln) }() //nolint:errcheck // Close ends it
	sctx, stop := context.WithCancel(context.Background())
	swept := make(chan struct{})
	go func() { defer close(swept); moves.RunSweeps(sctx, v.Changed, time.Second) }()
	reg, err := c.Register(ctx, coord.NodeInfo{ID: id, Addr: "http://" + ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		reg.Close()
		stop()
		<-swept
		hs.Close()
		<-served
		db.Close()
	})
	return &etcdNode{id: id, db: db, moves: moves}
}

// TestMoveOnJoinWithEtcd: three storage nodes and a router on a real etcd,
// a writer (with rewrites) and a reader (count queries) running through a
// router's Client; a fourth node joins,
// the coordinator moves to it the groups rendezvous hashing gives it, and
// afterwards every acknowledged point is on its group's primary with its
// last value, the old primaries hold nothing of the moved groups, and no
// count was wrong.
func TestMoveOnJoinWithEtcd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := etcdtest.Start(t)
	var nodesMu sync.Mutex
	nodes := map[string]*etcdNode{}
	node := func(id string) *etcdNode {
		nodesMu.Lock()
		defer nodesMu.Unlock()
		return nodes[id]
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		nodes[id] = startEtcdNode(t, ctx, srv, id)
	}
	cc, cv := openCoord(t, ctx, srv, "coordinator")
	var moverOut lockedBuffer // the mover's log: what each move took
	moverLog := slog.New(slog.NewTextHandler(&moverOut, nil))
	cctx, stopCoord := context.WithCancel(ctx)
	coordDone := make(chan struct{})
	go func() {
		defer close(coordDone)
		cc.RunCoordinator(cctx, remote.NewMover(newCoordMap(cv, cc), newCoordMap(cv, cc), remote.MoverOptions{Logger: moverLog})) //nolint:errcheck // ends with cctx
	}()
	t.Cleanup(func() { stopCoord(); <-coordDone })
	_, rv := openCoord(t, ctx, srv, "router")
	client := remote.NewClient(rv, remote.ClientOptions{Logger: quietLog})
	t.Cleanup(func() { client.Close() })

	placed := func(ids []string) bool {
		m := rv.Map()
		for g, e := range m.Groups {
			if e.Primary != coord.Place(g, ids, 1)[0] || e.State != "" {
				return false
			}
		}
		return len(m.Groups) == etcdGroups
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			select {
			case <-ctx.Done():
				t.Fatalf("waiting for %s: %v; map %+v", what, ctx.Err(), rv.Map().Groups)
			case <-rv.Changed():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	waitFor("the groups placed on three nodes", func() bool { return placed([]string{"n1", "n2", "n3"}) })

	// Devices: two per group.
	var devs []string
	perGroup := make([]int, etcdGroups)
	for i := 0; len(devs) < 2*etcdGroups; i++ {
		d := fmt.Sprintf("dev%d", i)
		if g := model.GroupOf(d, etcdGroups); perGroup[g] < 2 {
			perGroup[g]++
			devs = append(devs, d)
		}
	}
	point := func(dev int, t, v int64) model.Point {
		return model.Point{Collection: "m", Tags: model.Tags{{Key: "device_id", Value: devs[dev]}}, Time: t,
			Fields: []model.Field{{Key: "v", Value: model.Int(v)}}}
	}
	type key struct {
		dev int
		t   int64
	}
	var (
		mu                sync.Mutex
		acked             = map[key]int64{}
		later             = map[key][]int64{}
		tried             = map[key]bool{}
		nAcked, nTried    atomic.Int64
		writes, refused   atomic.Int64
		queries, qrefused atomic.Int64
		wrong             []string
	)
	write := func(k key, v int64) bool {
		mu.Lock()
		if !tried[k] {
			tried[k] = true
			nTried.Add(1)
		}
		later[k] = append(later[k], v)
		mu.Unlock()
		if err := client.Write(ctx, []model.Point{point(k.dev, k.t, v)}); err != nil {
			if !errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("write: %v", err)
			}
			refused.Add(1)
			time.Sleep(time.Millisecond)
			return false
		}
		mu.Lock()
		if _, ok := acked[k]; !ok {
			nAcked.Add(1)
		}
		acked[k] = v
		delete(later, k)
		mu.Unlock()
		writes.Add(1)
		return true
	}
	// count counts every device's points with a query through the
	// router's Client and the planner.
	stmt, err := query.Parse("SELECT count(v) FROM m")
	if err != nil {
		t.Fatal(err)
	}
	count := func() (int64, error) {
		res, err := planner.ExecuteWith(ctx, client, stmt, planner.Options{})
		if errors.Is(err, planner.ErrNotFound) {
			return 0, nil // before the first write: no collection, no points
		}
		if err != nil {
			return 0, err
		}
		if len(res.Rows) != 1 || len(res.Rows[0]) != 2 {
			return -1, nil
		}
		f, _ := res.Rows[0][1].AsFloat()
		return int64(f), nil
	}

	lctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		i := int64(0)
		for v := int64(1); lctx.Err() == nil; v++ {
			if v%3 == 0 && i > 0 {
				old := (v * 7919) % i
				write(key{int(old % int64(len(devs))), 1000 + old}, v)
				continue
			}
			if write(key{int(i % int64(len(devs))), 1000 + i}, v) {
				i++
			}
		}
	})
	wg.Go(func() {
		for lctx.Err() == nil {
			lo := nAcked.Load()
			n, err := count()
			if err != nil {
				if lctx.Err() != nil {
					break
				}
				qrefused.Add(1)
				if !errors.Is(err, storage.ErrUnavailable) {
					mu.Lock()
					wrong = append(wrong, fmt.Sprintf("query failed without a 503: %v", err))
					mu.Unlock()
				}
				time.Sleep(time.Millisecond)
				continue
			}
			queries.Add(1)
			if hi := nTried.Load(); n < lo || n > hi {
				mu.Lock()
				wrong = append(wrong, fmt.Sprintf("counted %d, acknowledged %d, attempted %d", n, lo, hi))
				mu.Unlock()
			}
		}
	})
	for writes.Load() < 300 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	before := rv.Map()
	n4 := startEtcdNode(t, ctx, srv, "n4")
	nodesMu.Lock()
	nodes["n4"] = n4
	nodesMu.Unlock()
	all := []string{"n1", "n2", "n3", "n4"}
	waitFor("the groups rendezvous gives n4 moved to it", func() bool { return placed(all) })
	target := writes.Load() + 300
	for writes.Load() < target && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	stopLoad()
	wg.Wait()

	var moved []int
	for g, e := range rv.Map().Groups {
		if e.Primary == "n4" {
			moved = append(moved, g)
			old := before.Groups[g].Primary
			h, err := remote.StorageGroups(node(old).db).HoldsGroup(g)
			if err != nil || h {
				t.Errorf("group %d: its old primary %s still holds it (%v)", g, old, err)
			}
		}
	}
	if len(moved) == 0 {
		t.Fatal("no group moved to n4")
	}
	mu.Lock()
	defer mu.Unlock()
	missing, bad := 0, 0
	for k, want := range acked {
		g := model.GroupOf(devs[k.dev], etcdGroups)
		r, _ := rv.Route(g)
		cols, err := node(r.Node).db.Read(ctx, "m", model.Tags{{Key: "device_id", Value: devs[k.dev]}}, []string{"v"}, k.t, k.t)
		if err != nil {
			t.Fatal(err)
		}
		if len(cols) == 0 || len(cols[0].Times) != 1 {
			missing++
			continue
		}
		if got := cols[0].Ints[0]; got != want && !slices.Contains(later[k], got) {
			bad++
		}
	}
	if missing > 0 || bad > 0 {
		t.Errorf("%d of %d acknowledged points missing, %d with a wrong value", missing, len(acked), bad)
	}
	for _, w := range wrong {
		t.Errorf("wrong count: %s", w)
	}
	if queries.Load() == 0 {
		t.Error("no query answered")
	}
	for _, line := range strings.Split(moverOut.String(), "\n") {
		if strings.Contains(line, "moved a group") {
			t.Log(line)
		}
	}
	t.Logf("groups %v moved to n4; %d points acknowledged in %d writes, %d writes refused; %d counts answered, %d refused",
		moved, nAcked.Load(), writes.Load(), refused.Load(), queries.Load(), qrefused.Load())
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
