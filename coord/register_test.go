package coord

import (
	"errors"
	"testing"

	"github.com/soltixdb/soltix/internal/etcdtest"
)

// TestLeaseExpiryMarksNodeDown: a node whose process stops renewing (its
// connection closed without revoking) is down once the lease runs out.
func TestLeaseExpiryMarksNodeDown(t *testing.T) {
	srv := etcdtest.Start(t)
	node := open(t, srv, Config{})
	watcher := open(t, srv, Config{})
	v, _ := watcher.Watch(testCtx(t))
	ctx := testCtx(t)
	reg := register(t, node, "n1")
	waitMap(t, ctx, v, "n1 up", func(m Map) bool { return nodeUp(m, "n1") })
	node.Close() // like a crash: the lease is not revoked
	<-reg.Lost()
	m := waitMap(t, ctx, v, "n1 down", func(m Map) bool { return !nodeUp(m, "n1") })
	if n, _ := m.Node("n1"); n.Addr != "http://n1.test:7000" {
		t.Fatalf("down node lost its address: %+v", n)
	}
}

// TestLostWhenLeaseRevoked: Lost fires when etcd drops the lease.
func TestLostWhenLeaseRevoked(t *testing.T) {
	srv := etcdtest.Start(t)
	c := open(t, srv, Config{})
	reg := register(t, c, "n1")
	ctx := testCtx(t)
	if _, err := c.cli.Revoke(ctx, reg.lease); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reg.Lost():
	case <-ctx.Done():
		t.Fatal("Lost not closed after the lease was revoked")
	}
}

// TestDuplicateNodeID: a live node's id is refused; a crashed node's id is
// taken over once its lease expires.
func TestDuplicateNodeID(t *testing.T) {
	srv := etcdtest.Start(t)
	a := open(t, srv, Config{})
	b := open(t, srv, Config{})
	register(t, a, "live")
	_, err := b.Register(testCtx(t), NodeInfo{ID: "live", Addr: "http://other:1"})
	if !errors.Is(err, ErrNodeLive) {
		t.Fatalf("second registration of a live id: %v", err)
	}

	crashed := open(t, srv, Config{})
	register(t, crashed, "restarted")
	crashed.Close()
	reg, err := b.Register(testCtx(t), NodeInfo{ID: "restarted", Addr: "http://new:1"})
	if err != nil {
		t.Fatalf("registering a crashed node's id: %v", err)
	}
	defer reg.Close()
	v, _ := b.Watch(testCtx(t))
	if n, _ := v.Map().Node("restarted"); !n.Up || n.Addr != "http://new:1" {
		t.Fatalf("restarted node: %+v", n)
	}

	for _, bad := range []NodeInfo{{ID: "", Addr: "x"}, {ID: "a/b", Addr: "x"}, {ID: "ok"}} {
		if _, err := b.Register(testCtx(t), bad); err == nil {
			t.Fatalf("Register(%+v) accepted", bad)
		}
	}
}
