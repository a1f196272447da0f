package coord

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/soltixdb/soltix/internal/etcdtest"
)

// TestUpdateGroupCAS: concurrent updates from two processes all land,
// each at its own epoch, and none is lost.
func TestUpdateGroupCAS(t *testing.T) {
	srv := etcdtest.Start(t)
	cs := []*Coord{open(t, srv, Config{NumGroups: 2}), open(t, srv, Config{NumGroups: 2})}
	ctx := testCtx(t)
	if _, err := cs[0].UpdateGroup(ctx, 1, func(g *Group) error { g.Primary = "p"; return nil }); err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 10
	epochs := make([][]uint64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				g, err := cs[w%2].UpdateGroup(ctx, 1, func(g *Group) error {
					g.Replicas = append(g.Replicas, fmt.Sprintf("w%d-%d", w, i))
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				epochs[w] = append(epochs[w], g.Epoch)
			}
		})
	}
	wg.Wait()
	v, _ := cs[0].Watch(ctx)
	g := v.Map().Groups[1]
	if len(g.Replicas) != writers*each || g.Epoch != 1+writers*each {
		t.Fatalf("after %d updates: %d entries, epoch %d", writers*each, len(g.Replicas), g.Epoch)
	}
	var all []uint64
	for w, es := range epochs {
		if !slices.IsSorted(es) {
			t.Fatalf("writer %d saw epochs %v", w, es)
		}
		all = append(all, es...)
	}
	slices.Sort(all)
	if len(slices.Compact(all)) != writers*each {
		t.Fatalf("epochs not distinct: %v", all)
	}
}

func TestUpdateGroupRules(t *testing.T) {
	srv := etcdtest.Start(t)
	c := open(t, srv, Config{NumGroups: 2})
	ctx := testCtx(t)
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		g         int
		fn        func(*Group) error
		wantErr   error // nil: any error
		wantEpoch uint64
		ok        bool
	}{
		{"assign", 0, func(g *Group) error { g.Primary = "a"; return nil }, nil, 1, true},
		{"no change writes nothing", 0, func(g *Group) error { return nil }, nil, 1, true},
		{"epoch set by fn is ignored", 0, func(g *Group) error { g.Epoch = 100; return nil }, nil, 1, true},
		{"start moving", 0, func(g *Group) error { g.State, g.MovingTo = StateMoving, "b"; return nil }, nil, 2, true},
		{"switch", 0, func(g *Group) error { g.Primary, g.State, g.MovingTo = "b", "", ""; return nil }, nil, 3, true},
		{"fn error", 0, func(g *Group) error { return boom }, boom, 0, false},
		{"moving without target", 0, func(g *Group) error { g.State = StateMoving; return nil }, nil, 0, false},
		{"unknown state", 0, func(g *Group) error { g.State, g.MovingTo = "gone", "c"; return nil }, nil, 0, false},
		{"replica is primary", 0, func(g *Group) error { g.Replicas = []string{"b"}; return nil }, nil, 0, false},
		{"duplicate replicas", 0, func(g *Group) error { g.Replicas = []string{"c", "c"}; return nil }, nil, 0, false},
		{"state without primary", 1, func(g *Group) error { g.State, g.MovingTo = StateMoving, "c"; return nil }, nil, 0, false},
		{"group out of range", 2, func(g *Group) error { g.Primary = "a"; return nil }, nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := c.UpdateGroup(ctx, tc.g, tc.fn)
			if tc.ok {
				if err != nil || g.Epoch != tc.wantEpoch {
					t.Fatalf("got %+v, %v; want epoch %d", g, err, tc.wantEpoch)
				}
				return
			}
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
		})
	}
}
