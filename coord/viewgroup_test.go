package coord

import (
	"slices"
	"testing"

	"github.com/soltixdb/soltix/internal/etcdtest"
)

// TestViewGroupAndNode: View.Group and View.Node answer like Map, one
// entry at a time, and what they return is the caller's to change.
func TestViewGroupAndNode(t *testing.T) {
	srv := etcdtest.Start(t)
	c := open(t, srv, Config{NumGroups: 3})
	ctx := testCtx(t)
	v, _ := c.Watch(ctx)
	if _, err := c.UpdateGroup(ctx, 2, func(g *Group) error { g.Primary, g.Replicas = "n1", []string{"n2"}; return nil }); err != nil {
		t.Fatal(err)
	}
	register(t, c, "n1")
	m := waitMap(t, ctx, v, "n1 up", func(m Map) bool { return nodeUp(m, "n1") && m.Groups[2].Primary == "n1" })
	for g := range 3 {
		got, ok := v.Group(g)
		if !ok || !got.equal(m.Groups[g]) || got.Epoch != m.Groups[g].Epoch {
			t.Errorf("Group(%d) = %+v %v, Map has %+v", g, got, ok, m.Groups[g])
		}
	}
	for _, g := range []int{-1, 3} {
		if got, ok := v.Group(g); ok {
			t.Errorf("Group(%d) = %+v, want none", g, got)
		}
	}
	got, _ := v.Group(2)
	got.Replicas[0] = "changed"
	if again, _ := v.Group(2); !slices.Equal(again.Replicas, []string{"n2"}) {
		t.Errorf("changing a returned entry changed the view: %v", again.Replicas)
	}
	if n, ok := v.Node("n1"); !ok || !n.Up || n.Addr != "http://n1.test:7000" {
		t.Errorf("Node(n1) = %+v %v", n, ok)
	}
	if _, ok := v.Node("n9"); ok {
		t.Error("Node(n9) found")
	}
}
