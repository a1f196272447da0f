package remote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage"
)

// Replicas makes moveMap a ReplicaTopology: every replica with an address
// is up.
func (m *moveMap) Replicas(g int) []Route {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.groups[g]
	var out []Route
	for _, id := range e.Replicas {
		if addr := m.addrs[id]; addr != "" {
			out = append(out, Route{Group: g, Node: id, Addr: addr, Epoch: e.Epoch})
		}
	}
	return out
}

var _ ReplicaTopology = (*moveMap)(nil)

// TestRouteCopies: which copy of a group a router asks, by the group's
// copies, the nodes to avoid, and the consistency asked for.
func TestRouteCopies(t *testing.T) {
	m := newMoveMap(moveGroups, "a")
	for g := range moveGroups {
		e := m.groups[g]
		e.Replicas = []string{"b", "c"}
		m.groups[g] = e
	}
	for _, id := range []string{"a", "b", "c"} {
		m.setAddr(id, "http://"+id)
	}
	c := NewClient(m, ClientOptions{Logger: quiet})
	pick := func(g int, anyCopy bool, avoid []string, rotate int) string {
		av := map[string]bool{}
		for _, id := range avoid {
			av[id] = true
		}
		byNode, missing := c.route([]int{g}, anyCopy, av, rotate)
		if len(missing) > 0 {
			return "-"
		}
		ng := byNode[0]
		if want := ng.node != "a"; ng.replica != want {
			t.Errorf("group %d on %s: replica flag %v", g, ng.node, ng.replica)
		}
		return ng.node
	}
	for _, tc := range []struct {
		name    string
		g       int
		anyCopy bool
		avoid   []string
		rotate  int
		want    string
	}{
		{"primary by default", 0, false, nil, 0, "a"},
		{"the rotation is for consistency=any only", 1, false, nil, 1, "a"},
		{"primary unreachable: first replica", 0, false, []string{"a"}, 0, "b"},
		{"next replica", 0, false, []string{"a", "b"}, 0, "c"},
		{"no copy left", 0, false, []string{"a", "b", "c"}, 0, "-"},
		{"any: rotation 0 of group 0", 0, true, nil, 0, "a"},
		{"any: rotation 1 of group 0", 0, true, nil, 1, "b"},
		{"any: rotation 2 of group 0", 0, true, nil, 2, "c"},
		{"any: rotation 0 of group 1", 1, true, nil, 0, "b"},
		{"any: skips the avoided", 0, true, []string{"b"}, 1, "c"},
		{"a replica that refused the group", 0, true, []string{avoidKey("b", 0)}, 1, "c"},
		{"the refusal was of another group", 1, true, []string{avoidKey("b", 0)}, 0, "b"},
		{"the primary refused the group", 0, false, []string{avoidKey("a", 0)}, 0, "b"},
	} {
		if got := pick(tc.g, tc.anyCopy, tc.avoid, tc.rotate); got != tc.want {
			t.Errorf("%s: asked %s, want %s", tc.name, got, tc.want)
		}
	}
	// A group without a primary up is read from a replica, whatever the
	// consistency.
	e := m.groups[2]
	e.Primary = ""
	m.groups[2] = e
	if got := pick(2, false, nil, 0); got != "b" {
		t.Errorf("group without a primary: asked %s, want b", got)
	}
	// Successive rotations cover every copy of every group.
	for g := range moveGroups {
		seen := map[string]bool{}
		for r := range 3 {
			seen[pick(g, true, nil, r)] = true
		}
		if g != 2 && len(seen) != 3 || g == 2 && len(seen) != 2 {
			t.Errorf("group %d: 3 rotations asked %v", g, seen)
		}
	}
}

// TestReplicaReads: a router reads a group's replica when the query allows
// it (consistency=any) and, whatever the query says, when the primary
// cannot be reached; a replica that has not caught up, is being copied, or
// that the map does not name is refused, and the router then asks another
// copy or fails naming the group.
func TestReplicaReads(t *testing.T) {
	ctx := context.Background()
	m := newMoveMap(moveGroups, "a")
	for g := range moveGroups {
		e := m.groups[g]
		e.Replicas = []string{"b"}
		m.groups[g] = e
	}
	var ready atomic.Bool
	a := startMoveNode(t, m, "a", t.TempDir(), nil, MoveOptions{})
	b := startMoveNode(t, m, "b", t.TempDir(), nil, MoveOptions{ReplicaReady: func(int) bool { return ready.Load() }})
	// The same points on both copies, but one more on the primary: the
	// write the replica has not applied yet tells which copy answered.
	var pts []model.Point
	for g := range moveGroups {
		for _, dev := range devicesIn(g, 2) {
			for i := range 5 {
				pts = append(pts, movePoint(dev, int64(1000+i), int64(i)))
			}
		}
	}
	if err := b.db.Write(ctx, pts); err != nil {
		t.Fatal(err)
	}
	extra := movePoint(devicesIn(0, 1)[0], 2000, 7)
	if err := a.db.Write(ctx, append(slices.Clone(pts), extra)); err != nil {
		t.Fatal(err)
	}
	client := NewClient(m, ClientOptions{Logger: quiet})
	count := func(anyReplica bool) (int64, error) {
		stmt, err := query.Parse("SELECT count(v) FROM " + moveColl)
		if err != nil {
			t.Fatal(err)
		}
		res, err := planner.ExecuteWith(ctx, client, stmt, planner.Options{AnyReplica: anyReplica})
		if err != nil {
			return 0, err
		}
		if len(res.Rows) != 1 {
			return 0, fmt.Errorf("rows %v", res.Rows)
		}
		n, _ := res.Rows[0][1].AsFloat()
		return int64(n), nil
	}
	total := int64(len(pts))
	replicaReads := func() uint64 { return b.node.Metrics().ReplicaReads }

	// Default consistency: the primary, every time.
	for range 4 {
		if n, err := count(false); err != nil || n != total+1 {
			t.Fatalf("primary read: %d, %v; want %d", n, err, total+1)
		}
	}
	if r := replicaReads(); r != 0 {
		t.Fatalf("the replica served %d reads of a default query", r)
	}
	// consistency=any before the replica caught up: refused by it, read
	// from the primary.
	for range 4 {
		if n, err := count(true); err != nil || n != total+1 {
			t.Fatalf("any, replica not ready: %d, %v; want the primary's %d", n, err, total+1)
		}
	}
	if r := replicaReads(); r != 0 {
		t.Fatalf("a replica that has not caught up served %d reads", r)
	}
	// Caught up: successive queries spread over both copies, each answer
	// whole from one copy or the other per group.
	ready.Store(true)
	answers := map[int64]int{}
	for range 6 {
		n, err := count(true)
		if err != nil {
			t.Fatal(err)
		}
		answers[n]++
	}
	if answers[total] == 0 || answers[total+1] == 0 || len(answers) != 2 {
		t.Fatalf("consistency=any answered %v, want both %d (a replica of group 0) and %d (its primary)", answers, total, total+1)
	}
	if replicaReads() == 0 {
		t.Fatal("no replica read counted")
	}

	// The primary goes away (its lease not expired yet: the map still
	// names it): a default query reads the replica.
	a.stop()
	if n, err := count(false); err != nil || n != total {
		t.Fatalf("primary down: %d, %v; want the replica's %d", n, err, total)
	}
	// The replica not ready either: nothing can answer for the groups.
	ready.Store(false)
	_, err := count(false)
	var ue *UnavailableError
	if !errors.As(err, &ue) || !errors.Is(err, storage.ErrUnavailable) || len(ue.Groups) != moveGroups {
		t.Fatalf("no usable copy: %v, want a 503 naming every group", err)
	}
	// A node the map does not name a replica refuses as stale.
	ready.Store(true)
	if _, err := b.moves.ReadGroups([]GroupEpoch{{Group: 0, Epoch: 1, Replica: true}}); err != nil {
		t.Fatalf("replica read admitted by the gate: %v", err)
	}
	e := m.groups[1]
	e.Replicas = nil
	m.groups[1] = e
	var se *StaleEpochError
	if _, err := b.moves.ReadGroups([]GroupEpoch{{Group: 1, Epoch: 1, Replica: true}}); !errors.As(err, &se) {
		t.Fatalf("read of a group b does not replicate: %v, want a stale epoch", err)
	}
	if _, err := b.moves.ReadGroups([]GroupEpoch{{Group: 0, Epoch: 1}}); !errors.As(err, &se) {
		t.Fatalf("primary read of a replica: %v, want a stale epoch", err)
	}
	var nr *ReplicaNotReadyError
	ready.Store(false)
	if _, err := b.moves.ReadGroups([]GroupEpoch{{Group: 0, Epoch: 1, Replica: true}}); !errors.As(err, &nr) {
		t.Fatalf("read of a replica not ready: %v, want ReplicaNotReadyError", err)
	}
}
