package replication

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/natstest"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/remote"
)

// testMap is a cluster map in memory, changed by the test.
type testMap struct {
	mu     sync.Mutex
	groups []remote.GroupInfo
	ch     chan struct{}
}

func newTestMap(n int, primary string, replicas ...string) *testMap {
	m := &testMap{ch: make(chan struct{})}
	for g := range n {
		m.groups = append(m.groups, remote.GroupInfo{Group: g, Primary: primary, Replicas: replicas, Epoch: 1})
	}
	return m
}

func (m *testMap) Group(g int) (remote.GroupInfo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if g < 0 || g >= len(m.groups) {
		return remote.GroupInfo{}, false
	}
	return m.groups[g], true
}

func (m *testMap) NumGroups() int { return len(m.groups) }

func (m *testMap) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ch
}

// set changes every group and announces it.
func (m *testMap) set(primary string, epoch uint64, replicas ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for g := range m.groups {
		m.groups[g] = remote.GroupInfo{Group: g, Primary: primary, Replicas: replicas, Epoch: epoch}
	}
	close(m.ch)
	m.ch = make(chan struct{})
}

// memStore is a node's storage in memory: what the node wrote as primary
// (through Write's apply) and what it applied as replica, by group.
type memStore struct {
	*memApplier
	mu   sync.Mutex
	data map[int][]string
}

func newMemStore() *memStore { return &memStore{memApplier: newMemApplier(), data: map[int][]string{}} }

func (s *memStore) GroupEmpty(g int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.data[g]) == 0 && s.memApplier.Applied(g) == 0
}

// waitLeading waits until n leads every group at epoch.
func waitLeading(t *testing.T, n *NodeReplication, groups int, epoch uint64) {
	t.Helper()
	c := ctx(t)
	for {
		led := 0
		for _, st := range n.Status() {
			if st.Role == "primary" && st.Err == "" {
				if l, err := n.leadsFor([]int{st.Group}, []uint64{epoch}); err == nil && l[0] != nil {
					led++
				}
			}
		}
		if led == groups {
			return
		}
		select {
		case <-c.Done():
			t.Fatalf("%d of %d groups led at epoch %d: %+v", led, groups, epoch, n.Status())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestNodeReplication: a node leading every group replicates its writes and
// deletes to the replica in order; when the map makes the replica primary
// at a newer epoch, the old primary's writes are refused, the new one leads
// after its fence, and the old one follows it.
func TestNodeReplication(t *testing.T) {
	srv := natstest.Start(t)
	const groups = 4
	m := newTestMap(groups, "n1", "n2")
	s1, s2 := newMemStore(), newMemStore()
	var n2 *NodeReplication
	want := map[int][]string{}
	var copied sync.Map
	// n1's copy of a group from n2 (remote.Moves.CopyReplica in a node):
	// its changes become the truth so far, at the position of n2's
	// snapshot.
	copyFrom2 := func(ctx context.Context, g int) (uint64, error) {
		return n2.Snapshot(ctx, g, func() error {
			s1.memApplier.mu.Lock()
			defer s1.memApplier.mu.Unlock()
			s1.memApplier.changes = slices.DeleteFunc(s1.memApplier.changes, func(c string) bool { return slices.Contains(want[g], c) })
			s1.memApplier.changes = append(s1.memApplier.changes, want[g]...)
			copied.Store(g, true)
			return nil
		})
	}
	n1 := open(t, srv, "n1").RunNode(NodeOptions{Map: m, Store: s1, Interval: 100 * time.Millisecond, Copy: copyFrom2})
	defer n1.Close()
	n2 = open(t, srv, "n2").RunNode(NodeOptions{Map: m, Store: s2, Interval: 100 * time.Millisecond})
	defer n2.Close()
	waitLeading(t, n1, groups, 1)

	write := func(n *NodeReplication, store *memStore, epoch uint64, i int) error {
		var ws []remote.GroupWrite
		for g := range groups {
			ps := points(3, i*10+g, false)
			ws = append(ws, remote.GroupWrite{Group: g, Epoch: epoch, Points: ps})
		}
		wait, err := n.Write(ctx(t), ws, func() error {
			store.mu.Lock()
			defer store.mu.Unlock()
			for _, w := range ws {
				store.data[w.Group] = append(store.data[w.Group], "w"+describe(w.Points))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, w := range ws {
			want[w.Group] = append(want[w.Group], "w"+describe(w.Points))
		}
		return wait(ctx(t))
	}
	for i := range 10 {
		if err := write(n1, s1, 1, i); err != nil {
			t.Fatal(err)
		}
	}
	ds := []remote.GroupDelete{{Group: 2, Epoch: 1, Series: []model.Tags{{{Key: "device_id", Value: "d0"}}}}}
	wait, err := n1.Delete(ctx(t), "dev", ds, 0, 5, func() error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := wait(ctx(t)); err != nil {
		t.Fatal(err)
	}
	want[2] = append(want[2], "d dev 1 0 5")

	// The replica applied each group's changes in order.
	waitApplied := func(s *memStore) {
		c := ctx(t)
		for {
			s.memApplier.mu.Lock()
			n := len(s.memApplier.changes)
			s.memApplier.mu.Unlock()
			total := 0
			for _, w := range want {
				total += len(w)
			}
			if n >= total {
				return
			}
			select {
			case <-c.Done():
				t.Fatalf("replica applied %d of %d changes", n, total)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	waitApplied(s2)
	byGroup := func(s *memStore) map[int][]string {
		// memApplier records in arrival order across groups; per group
		// the order must be the primary's.
		out := map[int][]string{}
		s.memApplier.mu.Lock()
		defer s.memApplier.mu.Unlock()
		for _, c := range s.memApplier.changes {
			for g, w := range want {
				if slices.Contains(w, c) {
					out[g] = append(out[g], c)
					break
				}
			}
		}
		return out
	}
	got := byGroup(s2)
	for g := range groups {
		if !slices.Equal(got[g], want[g]) {
			t.Fatalf("group %d on the replica: %d changes, want %d\n%s", g, len(got[g]), len(want[g]), firstDiff(got[g], want[g]))
		}
	}

	// Failover: n2 becomes primary at epoch 2, n1 its replica.
	m.set("n2", 2, "n1")
	waitLeading(t, n2, groups, 2)
	if err := write(n1, s1, 1, 100); !errors.Is(err, ErrNotLeading) {
		t.Fatalf("write to the old primary at epoch 1: %v, want ErrNotLeading", err)
	}
	// n1 led the groups: it may hold writes the stream does not, so it
	// copies each group from n2 (before n2 writes more here: the copy
	// above reads want) and follows from the copy's position.
	c := ctx(t)
	for n1.Copies() < groups {
		select {
		case <-c.Done():
			t.Fatalf("n1 copied %d of %d groups", n1.Copies(), groups)
		case <-time.After(20 * time.Millisecond):
		}
	}
	for i := 20; i < 25; i++ {
		if err := write(n2, s2, 2, i); err != nil {
			t.Fatal(err)
		}
	}
	waitApplied(s1)
	for g := range groups {
		if _, ok := copied.Load(g); !ok {
			t.Errorf("n1 did not copy group %d", g)
		}
	}
	got = byGroup(s1)
	for g := range groups {
		if !slices.Equal(got[g], want[g]) {
			t.Fatalf("group %d on the old primary: %d changes, want %d\n%s", g, len(got[g]), len(want[g]), firstDiff(got[g], want[g]))
		}
	}
}
