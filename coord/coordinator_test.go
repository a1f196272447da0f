package coord

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/soltixdb/soltix/internal/etcdtest"
)

type moveCall struct {
	group    int
	from, to string
}

// recMover records its calls and does what a real Mover does to the map
// (state moving, then the switch), failing each group's first attempt
// when failFirst is set.
type recMover struct {
	c         *Coord
	failFirst bool
	mu        sync.Mutex
	calls     []moveCall
}

func (r *recMover) Move(ctx context.Context, g int, from, to string) error {
	r.mu.Lock()
	r.calls = append(r.calls, moveCall{g, from, to})
	first := !slices.ContainsFunc(r.calls[:len(r.calls)-1], func(c moveCall) bool { return c.group == g })
	r.mu.Unlock()
	if _, err := r.c.UpdateGroup(ctx, g, func(gr *Group) error {
		if gr.Primary != from {
			return fmt.Errorf("group %d: primary %s, not %s", g, gr.Primary, from)
		}
		gr.State, gr.MovingTo = StateMoving, to
		return nil
	}); err != nil {
		return err
	}
	if r.failFirst && first {
		return errors.New("copy failed")
	}
	_, err := r.c.UpdateGroup(ctx, g, func(gr *Group) error {
		gr.Primary, gr.State, gr.MovingTo = to, "", ""
		gr.Replicas = slices.DeleteFunc(gr.Replicas, func(n string) bool { return n == to })
		return nil
	})
	return err
}

func (r *recMover) moves() []moveCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// runCoordinator runs c's coordinator until the test ends.
func runCoordinator(t *testing.T, c *Coord, m Mover) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.RunCoordinator(ctx, m) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunCoordinator: %v", err)
		}
	})
}

// placed says whether every group is where want says and none is moving.
func placed(want func(Group) string) func(Map) bool {
	return func(m Map) bool {
		for _, g := range m.Groups {
			if g.Primary != want(g) || g.State != "" {
				return false
			}
		}
		return true
	}
}

// TestCoordinatorPlacesGroups: once MinNodes nodes are up, every group gets
// its rendezvous primary and distinct replicas among the live nodes, with
// no move.
func TestCoordinatorPlacesGroups(t *testing.T) {
	srv := etcdtest.Start(t)
	c := open(t, srv, Config{NumGroups: 32, ReplicationFactor: 2, MinNodes: 3})
	v, _ := c.Watch(testCtx(t))
	mover := &recMover{c: c}
	runCoordinator(t, c, mover)
	register(t, c, "a")
	register(t, c, "b")
	ctx := testCtx(t)
	waitLeader(t, ctx, c, c.cfg.Name)
	register(t, c, "c")
	nodes := []string{"a", "b", "c"}
	m := waitMap(t, ctx, v, "all groups placed", allAssigned)
	for _, g := range m.Groups {
		want := Place(g.ID, nodes, 2)
		if got := append([]string{g.Primary}, g.Replicas...); !slices.Equal(got, want) {
			t.Fatalf("group %d on %v, want %v", g.ID, got, want)
		}
		if g.Epoch != 1 {
			t.Fatalf("group %d at epoch %d, want 1", g.ID, g.Epoch)
		}
		if r, ok := v.Route(g.ID); !ok || r.Node != g.Primary || r.Epoch != 1 {
			t.Fatalf("Route(%d) = %+v %v", g.ID, r, ok)
		}
	}
	if mv := mover.moves(); len(mv) != 0 {
		t.Fatalf("moves while placing a new cluster: %v", mv)
	}
}

// TestCoordinatorJoinAndLeave: a joining node gets exactly the groups
// rendezvous hashing gives it, through the Mover (a failed move is
// retried); a node that leaves keeps its groups (they are unavailable, not
// reassigned), and a later join moves nothing from it.
func TestCoordinatorJoinAndLeave(t *testing.T) {
	srv := etcdtest.Start(t)
	const groups = 64
	c := open(t, srv, Config{NumGroups: groups, MinNodes: 3})
	v, _ := c.Watch(testCtx(t))
	mover := &recMover{c: c, failFirst: true}
	runCoordinator(t, c, mover)
	ctx := testCtx(t)
	for _, n := range []string{"a", "b", "c"} {
		register(t, c, n)
	}
	three := []string{"a", "b", "c"}
	waitMap(t, ctx, v, "placed on three nodes", placed(func(g Group) string { return Place(g.ID, three, 1)[0] }))

	regD := register(t, c, "d")
	four := []string{"a", "b", "c", "d"}
	m := waitMap(t, ctx, v, "placed on four nodes", placed(func(g Group) string { return Place(g.ID, four, 1)[0] }))
	want := map[moveCall]bool{}
	for g := range groups {
		if from, to := Place(g, three, 1)[0], Place(g, four, 1)[0]; from != to {
			want[moveCall{g, from, to}] = true
		}
	}
	if len(want) < groups/8 || len(want) > groups/2 {
		t.Fatalf("rendezvous moves %d of %d groups to a fourth node", len(want), groups)
	}
	got := map[moveCall]int{}
	for _, mc := range mover.moves() {
		got[mc]++
	}
	for mc, n := range got {
		// Each moved group failed once, then moved: two calls.
		if !want[mc] || n != 2 {
			t.Fatalf("move %+v called %d times; want the moves %v, twice each", mc, n, want)
		}
		// assigned, moving, failed (still moving), moving again is no
		// change, switched: epoch 3.
		if e := m.Groups[mc.group].Epoch; e != 3 {
			t.Fatalf("moved group %d at epoch %d, want 3", mc.group, e)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d groups moved, want %d", len(got), len(want))
	}

	// d leaves: its groups stay on it, unroutable.
	regD.Close()
	m = waitMap(t, ctx, v, "d down", func(m Map) bool { return !nodeUp(m, "d") })
	onD := 0
	for _, g := range m.Groups {
		if g.Primary == "d" {
			onD++
			if _, ok := v.Route(g.ID); ok {
				t.Fatalf("group %d routable with its primary down", g.ID)
			}
		}
	}
	if onD != len(want) {
		t.Fatalf("%d groups on d after it left, want %d", onD, len(want))
	}
	// e joins: it takes its groups from the live nodes only.
	before := len(mover.moves())
	register(t, c, "e")
	five := []string{"a", "b", "c", "d", "e"}
	wantPrimary := func(g Group) string {
		if g.Primary == "d" {
			return "d"
		}
		if p := Place(g.ID, five, 1)[0]; p == "e" {
			return "e"
		}
		return Place(g.ID, four, 1)[0]
	}
	waitMap(t, ctx, v, "e placed, d's groups kept", func(m Map) bool {
		for _, g := range m.Groups {
			if g.State != "" || g.Primary != wantPrimary(g) {
				return false
			}
		}
		return true
	})
	// A group that rendezvous gives to e but whose primary d is down is
	// still on d (checked above); no move was asked from d.
	for _, mc := range mover.moves()[before:] {
		if mc.from == "d" || mc.to != "e" {
			t.Fatalf("move %+v after d left", mc)
		}
	}
	m = v.Map()
	for _, g := range m.Groups {
		if g.Primary == "d" && Place(g.ID, four, 1)[0] != "d" {
			t.Fatalf("group %d is on d, which never owned it", g.ID)
		}
	}
}

// waitLeader polls (bounded by ctx) until Leader answers name.
func waitLeader(t *testing.T, ctx context.Context, c *Coord, names ...string) string {
	t.Helper()
	for {
		got, err := c.Leader(ctx)
		if err == nil && slices.Contains(names, got) {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("leader %q (%v), want one of %v", got, err, names)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestLeaderFailover: when the elected coordinator's session is lost,
// the other candidate takes over and does the placing, the deposed one's
// guarded writes fail, and it campaigns again.
func TestLeaderFailover(t *testing.T) {
	srv := etcdtest.Start(t)
	x := open(t, srv, Config{NumGroups: 8, Name: "X"})
	y := open(t, srv, Config{NumGroups: 8, Name: "Y"})
	runCoordinator(t, x, &recMover{c: x})
	runCoordinator(t, y, &recMover{c: y})
	ctx := testCtx(t)
	first := waitLeader(t, ctx, x, "X", "Y")
	resp, err := x.cli.Get(ctx, x.pfx+electionPrefix+"/", clientv3.WithFirstCreate()...)
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != first {
		t.Fatalf("election key: %v %v", resp, err)
	}
	old := resp.Kvs[0]
	if _, err := x.cli.Revoke(ctx, clientv3.LeaseID(old.Lease)); err != nil {
		t.Fatal(err)
	}
	second := map[string]string{"X": "Y", "Y": "X"}[first]
	waitLeader(t, ctx, x, second)

	// The deposed leader's guarded write fails.
	gctx := context.WithValue(ctx, guardKey{}, leaderGuard{key: string(old.Key), rev: old.CreateRevision})
	if _, err := x.UpdateGroup(gctx, 0, func(g *Group) error { g.Primary = "zzz"; return nil }); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("deposed leader's write: %v", err)
	}
	// The new leader places groups.
	register(t, y, "n1")
	v, _ := y.Watch(ctx)
	waitMap(t, ctx, v, "groups placed by the new leader", placed(func(Group) string { return "n1" }))
	if l, _ := x.Leader(ctx); l != second {
		t.Fatalf("leader %q, want %q", l, second)
	}
	// The deposed one campaigns again: two candidates.
	for {
		resp, err := x.cli.Get(ctx, x.pfx+electionPrefix+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err == nil && resp.Count == 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("candidates: %v %v", resp, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tablePromoter answers replicas' positions from a table: node → group →
// position (an absent node fails).
type tablePromoter struct {
	mu  sync.Mutex
	pos map[string]map[int]uint64
}

func (p *tablePromoter) Applied(_ context.Context, node string, g int) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := p.pos[node]
	if !ok {
		return 0, fmt.Errorf("node %s does not answer", node)
	}
	return m[g], nil
}

// TestCoordinatorPromotes: with a Promoter, a group whose primary goes down
// gets the live replica that applied the most as its primary, at a new
// epoch, with the old primary among its replicas; it stays there when the
// old primary comes back. Without a live replica, the group waits.
func TestCoordinatorPromotes(t *testing.T) {
	srv := etcdtest.Start(t)
	const groups = 16
	prom := &tablePromoter{pos: map[string]map[int]uint64{}}
	c := open(t, srv, Config{NumGroups: groups, MinNodes: 3, ReplicationFactor: 3, Promoter: prom})
	v, _ := c.Watch(testCtx(t))
	runCoordinator(t, c, &recMover{c: c})
	ctx := testCtx(t)
	nodes := []string{"a", "b", "c"}
	regs := map[string]*Registration{}
	for _, n := range nodes {
		regs[n] = register(t, c, n)
	}
	before := waitMap(t, ctx, v, "assigned", allAssigned)
	// Positions: for every group, the replica listed last applied more
	// than the one listed first.
	prom.mu.Lock()
	for _, n := range nodes {
		prom.pos[n] = map[int]uint64{}
	}
	for _, g := range before.Groups {
		if len(g.Replicas) != 2 {
			t.Fatalf("group %d: replicas %v, want 2", g.ID, g.Replicas)
		}
		prom.pos[g.Replicas[0]][g.ID] = 10
		prom.pos[g.Replicas[1]][g.ID] = 20
	}
	prom.mu.Unlock()

	regs["a"].Close()
	after := waitMap(t, ctx, v, "a's groups promoted", func(m Map) bool {
		for _, g := range m.Groups {
			if g.Primary == "a" {
				return false
			}
		}
		return true
	})
	promoted := 0
	for i, g := range after.Groups {
		old := before.Groups[i]
		if old.Primary != "a" {
			if g.Primary != old.Primary || g.Epoch != old.Epoch {
				t.Errorf("group %d changed although its primary %s is up: %+v → %+v", g.ID, old.Primary, old, g)
			}
			continue
		}
		promoted++
		if want := old.Replicas[1]; g.Primary != want {
			t.Errorf("group %d: promoted %s, want %s (applied 20 against 10)", g.ID, g.Primary, want)
		}
		if !slices.Contains(g.Replicas, "a") || !slices.Contains(g.Replicas, old.Replicas[0]) || len(g.Replicas) != 2 {
			t.Errorf("group %d: replicas %v, want the other replica and a", g.ID, g.Replicas)
		}
		if g.Epoch <= old.Epoch {
			t.Errorf("group %d promoted at epoch %d, not above %d", g.ID, g.Epoch, old.Epoch)
		}
	}
	if promoted == 0 {
		t.Fatal("a led no group")
	}
	// a comes back: it stays a replica.
	regs["a"] = register(t, c, "a")
	waitMap(t, ctx, v, "a up", func(m Map) bool { return nodeUp(m, "a") })
	time.Sleep(300 * time.Millisecond) // a reconcile pass or more
	m := v.Map()
	for i, g := range m.Groups {
		if g.Primary != after.Groups[i].Primary {
			t.Errorf("group %d went back from %s to %s when a returned", g.ID, after.Groups[i].Primary, g.Primary)
		}
	}
	// A replica at position 0 (copying the group) is not promoted: b
	// goes down, and c answers 0 for every group.
	prom.mu.Lock()
	for g := range groups {
		prom.pos["c"][g] = 0
	}
	prom.mu.Unlock()
	before = v.Map()
	regs["b"].Close()
	m = waitMap(t, ctx, v, "b down", func(m Map) bool { return !nodeUp(m, "b") })
	time.Sleep(300 * time.Millisecond)
	for i, g := range v.Map().Groups {
		if before.Groups[i].Primary == "b" && g.Primary != "b" && g.Primary == "c" {
			t.Errorf("group %d promoted to c, whose position is 0", g.ID)
		}
	}
	regs["b"] = register(t, c, "b")
	waitMap(t, ctx, v, "b up", func(m Map) bool { return nodeUp(m, "b") })
	// Every node but c down, and c does not answer: nothing is promoted.
	prom.mu.Lock()
	delete(prom.pos, "c")
	prom.mu.Unlock()
	regs["a"].Close()
	regs["b"].Close()
	m = waitMap(t, ctx, v, "a and b down", func(m Map) bool { return !nodeUp(m, "a") && !nodeUp(m, "b") })
	time.Sleep(300 * time.Millisecond)
	for _, g := range v.Map().Groups {
		if g.Primary == "c" {
			continue
		}
		for _, mg := range m.Groups {
			if mg.ID == g.ID && mg.Primary != g.Primary {
				t.Errorf("group %d promoted to %s although no replica answered", g.ID, g.Primary)
			}
		}
	}
}
