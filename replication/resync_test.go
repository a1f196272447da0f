package replication

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/natstest"
	"github.com/soltixdb/soltix/remote"
)

// TestPrimaryCrashResync: a primary that crashed while leading (its
// position is 0 with data: it may have applied changes it never
// published) and comes back at the same epoch publishes a resync fence,
// and its replica copies every group again, getting the change the
// stream never carried. A primary that stopped cleanly (Close records its
// position) comes back without a resync, and its replica copies nothing.
func TestPrimaryCrashResync(t *testing.T) {
	srv := natstest.Start(t)
	const groups = 2
	m := newTestMap(groups, "n1", "n2")
	s1, s2 := newMemStore(), newMemStore()
	var mu sync.Mutex
	var n1 *NodeReplication
	copied := map[int][]string{} // n2's copies: n1's data of the group
	copyFrom1 := func(ctx context.Context, g int) (uint64, error) {
		mu.Lock()
		primary := n1
		mu.Unlock()
		return primary.Snapshot(ctx, g, func() error {
			s1.mu.Lock()
			defer s1.mu.Unlock()
			mu.Lock()
			defer mu.Unlock()
			copied[g] = slices.Clone(s1.data[g])
			return nil
		})
	}
	start1 := func() {
		mu.Lock()
		n1 = open(t, srv, "n1").RunNode(NodeOptions{Map: m, Store: s1, Interval: 50 * time.Millisecond})
		mu.Unlock()
		waitLeading(t, n1, groups, 1)
	}
	start1()
	n2 := open(t, srv, "n2").RunNode(NodeOptions{Map: m, Store: s2, Interval: 50 * time.Millisecond, Copy: copyFrom1})
	defer n2.Close()

	write := func(i int) {
		t.Helper()
		var ws []remote.GroupWrite
		for g := range groups {
			ws = append(ws, remote.GroupWrite{Group: g, Epoch: 1, Points: points(2, i*10+g, false)})
		}
		wait, err := n1.Write(ctx(t), ws, func() error {
			s1.mu.Lock()
			defer s1.mu.Unlock()
			for _, w := range ws {
				s1.data[w.Group] = append(s1.data[w.Group], "w"+describe(w.Points))
			}
			return nil
		})
		if err == nil {
			err = wait(ctx(t))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// waitFollowing waits until n2 follows every group with nothing
	// pending, and returns its copies so far.
	waitFollowing := func() int {
		t.Helper()
		c := ctx(t)
		for {
			ready := 0
			for _, st := range n2.Status() {
				if st.Role == "replica" && st.Readable && st.Pending == 0 {
					ready++
				}
			}
			if ready == groups {
				return n2.Copies()
			}
			select {
			case <-c.Done():
				t.Fatalf("n2 follows %d of %d groups: %+v", ready, groups, n2.Status())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	for i := range 3 {
		write(i)
	}
	// n2 started empty before any fence: it copied the groups, or started
	// at the empty fences.
	before := waitFollowing()

	// n1 crashes between a change's apply and its publish: the change is
	// in its storage only, and its position is 0 (as while it led).
	n1.Close()
	s1.mu.Lock()
	s1.data[0] = append(s1.data[0], "w unpublished")
	s1.mu.Unlock()
	for g := range groups {
		if err := s1.SetApplied(g, 0); err != nil {
			t.Fatal(err)
		}
	}
	start1()
	c := ctx(t)
	for n2.Copies() < before+groups {
		select {
		case <-c.Done():
			t.Fatalf("n2 copied %d groups after n1's crash, want %d: %+v", n2.Copies()-before, groups, n2.Status())
		case <-time.After(20 * time.Millisecond):
		}
	}
	mu.Lock()
	got := slices.Clone(copied[0])
	mu.Unlock()
	if !slices.Contains(got, "w unpublished") {
		t.Fatalf("n2's copy of group 0 after the crash lacks the unpublished change: %v", got)
	}
	write(3)
	after := waitFollowing()

	// A clean stop records the position: no resync, no copy.
	n1.Close()
	for g := range groups {
		if s1.Applied(g) == 0 {
			t.Fatalf("group %d: no position recorded by a clean stop", g)
		}
	}
	start1()
	write(4)
	if n := waitFollowing(); n != after {
		t.Fatalf("n2 copied %d groups after a clean restart of n1", n-after)
	}
	n1.Close()
}
