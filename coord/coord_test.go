package coord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/soltixdb/soltix/internal/etcdtest"
)

// TestOpenCreatesThenReads: the first Open fixes the cluster's shape; later
// ones read it whatever they are configured with, and clusters sharing an
// etcd are independent.
func TestOpenCreatesThenReads(t *testing.T) {
	srv := etcdtest.Start(t)
	for _, tc := range []struct {
		name string
		cfg  Config
		want Info
	}{
		{"create", Config{Cluster: "a", NumGroups: 8, ShardTag: "host"}, Info{8, 1, "host"}},
		{"reopen with other values", Config{Cluster: "a", NumGroups: 32, ReplicationFactor: 3, ShardTag: "x"}, Info{8, 1, "host"}},
		{"reopen with defaults", Config{Cluster: "a"}, Info{8, 1, "host"}},
		{"other cluster defaults", Config{Cluster: "b"}, Info{DefaultNumGroups, DefaultReplicationFactor, DefaultShardTag}},
		{"default cluster", Config{ReplicationFactor: 2}, Info{DefaultNumGroups, 2, DefaultShardTag}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := open(t, srv, tc.cfg)
			if got := c.Info(); got != tc.want {
				t.Fatalf("Info() = %+v, want %+v", got, tc.want)
			}
			v, err := c.Watch(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if v.NumGroups() != tc.want.NumGroups || v.ShardTag() != tc.want.ShardTag || len(v.Map().Groups) != tc.want.NumGroups {
				t.Fatalf("view: %d groups, tag %q, map %d groups", v.NumGroups(), v.ShardTag(), len(v.Map().Groups))
			}
		})
	}
	// The stored encoding is the documented one.
	c := open(t, srv, Config{Cluster: "a"})
	resp, err := c.cli.Get(testCtx(t), "/soltix/a/info")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("get info: %v %v", resp, err)
	}
	if got, want := string(resp.Kvs[0].Value), `{"version":1,"num_groups":8,"replication_factor":1,"shard_tag":"host"}`; got != want {
		t.Fatalf("info value %s, want %s", got, want)
	}
}

func TestOpenRefusesBadConfig(t *testing.T) {
	srv := etcdtest.Start(t)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no endpoints", Config{}},
		{"bad cluster name", Config{Endpoints: srv.Endpoints(), Cluster: "a/b"}},
		{"too many groups", Config{Endpoints: srv.Endpoints(), Cluster: "big", NumGroups: 10000}},
		{"negative replication", Config{Endpoints: srv.Endpoints(), Cluster: "neg", ReplicationFactor: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = testLogger(t)
			c, err := Open(testCtx(t), tc.cfg)
			if err == nil {
				c.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

// TestOpenWithoutEtcd: Open keeps trying until its context ends, and says
// which etcd it could not reach.
func TestOpenWithoutEtcd(t *testing.T) {
	srv := etcdtest.Start(t)
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := Open(ctx, Config{Endpoints: srv.Endpoints(), DialTimeout: 300 * time.Millisecond, Logger: testLogger(t)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open with etcd stopped: %v", err)
	}
}

// TestRefreshSeesWrite: a write made by another process just before
// Refresh is in the view when Refresh returns.
func TestRefreshSeesWrite(t *testing.T) {
	srv := etcdtest.Start(t)
	w := open(t, srv, Config{NumGroups: 4})
	r := open(t, srv, Config{})
	v, err := r.Watch(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		g, err := w.UpdateGroup(testCtx(t), i%4, func(g *Group) error {
			g.Primary = fmt.Sprintf("n%d", i)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Refresh(); err != nil {
			t.Fatal(err)
		}
		if got := v.Map().Groups[i%4]; !got.equal(g) {
			t.Fatalf("after Refresh: group %+v, written %+v", got, g)
		}
	}
}

// TestRouteNeedsLivePrimary: Route answers only for a group whose primary
// is registered, with its address and the group's epoch.
func TestRouteNeedsLivePrimary(t *testing.T) {
	srv := etcdtest.Start(t)
	c := open(t, srv, Config{NumGroups: 2})
	v, _ := c.Watch(testCtx(t))
	g, err := c.UpdateGroup(testCtx(t), 1, func(g *Group) error { g.Primary = "n1"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	v.Refresh()
	for _, grp := range []int{0, 1, -1, 2} {
		if r, ok := v.Route(grp); ok {
			t.Fatalf("Route(%d) = %+v before n1 is up", grp, r)
		}
	}
	reg := register(t, c, "n1")
	ctx := testCtx(t)
	waitMap(t, ctx, v, "n1 up", func(m Map) bool { return nodeUp(m, "n1") })
	r, ok := v.Route(1)
	if !ok || r.Node != "n1" || r.Addr != "http://n1.test:7000" || r.Epoch != g.Epoch || r.Group != 1 {
		t.Fatalf("Route(1) = %+v %v", r, ok)
	}
	if _, ok := v.Route(0); ok {
		t.Fatal("Route(0) ok for an unassigned group")
	}
	reg.Close()
	m := waitMap(t, ctx, v, "n1 down", func(m Map) bool { return !nodeUp(m, "n1") })
	if _, ok := v.Route(1); ok {
		t.Fatal("Route(1) ok with n1 down")
	}
	// A down node keeps its last address in the map.
	if n, ok := m.Node("n1"); !ok || n.Addr != "http://n1.test:7000" {
		t.Fatalf("down node: %+v %v", n, ok)
	}
}

// TestReplicasUp: Replicas names the replicas of a group that are up, in
// the map's order, at the group's epoch.
func TestReplicasUp(t *testing.T) {
	srv := etcdtest.Start(t)
	c := open(t, srv, Config{NumGroups: 2})
	v, _ := c.Watch(testCtx(t))
	g, err := c.UpdateGroup(testCtx(t), 1, func(g *Group) error {
		g.Primary, g.Replicas = "n1", []string{"n3", "n2"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	v.Refresh()
	if rs := v.Replicas(1); len(rs) != 0 {
		t.Fatalf("Replicas(1) = %+v before any node is up", rs)
	}
	ctx := testCtx(t)
	reg2 := register(t, c, "n2")
	reg3 := register(t, c, "n3")
	waitMap(t, ctx, v, "n2, n3 up", func(m Map) bool { return nodeUp(m, "n2") && nodeUp(m, "n3") })
	rs := v.Replicas(1)
	if len(rs) != 2 || rs[0].Node != "n3" || rs[1].Node != "n2" || rs[1].Addr != "http://n2.test:7000" ||
		rs[0].Epoch != g.Epoch || rs[0].Group != 1 {
		t.Fatalf("Replicas(1) = %+v", rs)
	}
	if _, ok := v.Route(1); ok {
		t.Fatal("Route(1) ok with n1 down")
	}
	for _, grp := range []int{0, -1, 2} {
		if rs := v.Replicas(grp); len(rs) != 0 {
			t.Fatalf("Replicas(%d) = %+v", grp, rs)
		}
	}
	reg3.Close()
	waitMap(t, ctx, v, "n3 down", func(m Map) bool { return !nodeUp(m, "n3") })
	if rs := v.Replicas(1); len(rs) != 1 || rs[0].Node != "n2" {
		t.Fatalf("Replicas(1) with n3 down = %+v", rs)
	}
	reg2.Close()
}

// TestSettingsWatch: settings put by one process reach every process's
// OnSettings, and so does a deletion.
func TestSettingsWatch(t *testing.T) {
	srv := etcdtest.Start(t)
	a := open(t, srv, Config{})
	b := open(t, srv, Config{})
	got := make(chan map[string][]byte, 16)
	stop := b.OnSettings(func(m map[string][]byte) { got <- m })
	defer stop()
	ctx := testCtx(t)
	next := func() map[string][]byte {
		select {
		case m := <-got:
			return m
		case <-ctx.Done():
			t.Fatal("no settings call")
			return nil
		}
	}
	if m := next(); len(m) != 0 {
		t.Fatalf("first call: %v, want empty", m)
	}
	val := []byte(`{"shard_tag":"host","retention":"168h"}`)
	if err := a.PutSettings(ctx, "cpu", val); err != nil {
		t.Fatal(err)
	}
	if m := next(); len(m) != 1 || string(m["cpu"]) != string(val) {
		t.Fatalf("after put: %q", m)
	}
	if m := b.Settings(); string(m["cpu"]) != string(val) {
		t.Fatalf("Settings() = %q", m)
	}
	if err := a.PutSettings(ctx, "mem", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if m := next(); len(m) != 2 || string(m["mem"]) != "x" {
		t.Fatalf("after second put: %q", m)
	}
	if err := a.DeleteSettings(ctx, "cpu"); err != nil {
		t.Fatal(err)
	}
	if m := next(); len(m) != 1 || m["cpu"] != nil {
		t.Fatalf("after delete: %q", m)
	}
	// A late subscriber gets the current settings at once.
	late := make(chan map[string][]byte, 1)
	defer b.OnSettings(func(m map[string][]byte) { late <- m })()
	select {
	case m := <-late:
		if len(m) != 1 || string(m["mem"]) != "x" {
			t.Fatalf("late subscriber: %q", m)
		}
	case <-ctx.Done():
		t.Fatal("late subscriber not called")
	}
	if err := a.PutSettings(ctx, "", nil); err == nil {
		t.Fatal("empty collection name accepted")
	}
}

// TestEtcdRestart: after etcd is killed and restarted on its data, every
// view follows new writes again, the map is intact and registrations
// survive.
func TestEtcdRestart(t *testing.T) {
	srv := etcdtest.Start(t)
	a := open(t, srv, Config{NumGroups: 4, LeaseTTL: 10 * time.Second})
	v, _ := a.Watch(testCtx(t))
	ctx := testCtx(t)
	reg := register(t, a, "n0")
	for g := range 4 {
		if _, err := a.UpdateGroup(ctx, g, func(gr *Group) error { gr.Primary = fmt.Sprintf("n%d", g%2); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	a.PutSettings(ctx, "cpu", []byte("s1"))
	before := waitMap(t, ctx, v, "groups assigned", allAssigned)

	srv.Kill()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	b := open(t, srv, Config{})
	if _, err := b.UpdateGroup(ctx, 2, func(gr *Group) error { gr.Primary = "n9"; return nil }); err != nil {
		t.Fatal(err)
	}
	after := waitMap(t, ctx, v, "the write made after the restart", func(m Map) bool { return m.Groups[2].Primary == "n9" })
	for g := range 4 {
		if g != 2 && !after.Groups[g].equal(before.Groups[g]) {
			t.Fatalf("group %d: %+v before the restart, %+v after", g, before.Groups[g], after.Groups[g])
		}
	}
	if after.Groups[2].Epoch != before.Groups[2].Epoch+1 {
		t.Fatalf("group 2 epoch %d after %d", after.Groups[2].Epoch, before.Groups[2].Epoch)
	}
	if err := v.Refresh(); err != nil {
		t.Fatal(err)
	}
	if string(b.Settings()["cpu"]) != "s1" {
		t.Fatalf("settings after restart: %q", b.Settings())
	}
	// A registration outlives an etcd restart shorter than its lease.
	select {
	case <-reg.Lost():
		t.Fatal("registration lost over an etcd restart")
	default:
	}
	if !nodeUp(v.Map(), "n0") {
		t.Fatal("n0 down after the restart")
	}
}

// TestWatchAfterCompaction: compacting etcd's history does not stop a
// view from following.
func TestWatchAfterCompaction(t *testing.T) {
	srv := etcdtest.Start(t)
	a := open(t, srv, Config{NumGroups: 2})
	v, _ := a.Watch(testCtx(t))
	ctx := testCtx(t)
	resp, err := a.cli.Get(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateGroup(ctx, 0, func(g *Group) error { g.Primary = "n1"; return nil }); err != nil {
		t.Fatal(err)
	}
	waitMap(t, ctx, v, "write after compaction", func(m Map) bool { return m.Groups[0].Primary == "n1" })
	var gv groupValue
	r2, _ := a.cli.Get(ctx, a.pfx+groupKey(0))
	if err := json.Unmarshal(r2.Kvs[0].Value, &gv); err != nil || gv.Primary != "n1" || gv.Epoch != 1 {
		t.Fatalf("stored group: %s %v", r2.Kvs[0].Value, err)
	}
}

// TestLoadAndEventsOrder: a full load never replaces a newer state built
// from watch events, and events the last load already holds are skipped
// (the two race when Refresh runs beside the watch).
func TestLoadAndEventsOrder(t *testing.T) {
	srv := etcdtest.Start(t)
	c := open(t, srv, Config{NumGroups: 2})
	v, _ := c.Watch(testCtx(t))
	ctx := testCtx(t)
	put := func(rev int64, g int, primary string) *clientv3.Event {
		return &clientv3.Event{Type: clientv3.EventTypePut, Kv: &mvccpb.KeyValue{
			Key: []byte(c.pfx + groupKey(g)), ModRevision: rev,
			Value: encodeGroup(Group{ID: g, Primary: primary, Epoch: 1})}}
	}
	if err := v.reload(ctx); err != nil {
		t.Fatal(err)
	}
	loaded := v.Map().Revision
	// An event the load holds (at its revision) is skipped.
	v.apply([]*clientv3.Event{put(loaded, 0, "stale")})
	if p := v.Map().Groups[0].Primary; p != "" {
		t.Fatalf("event at the load's revision applied: primary %q", p)
	}
	// An event after it applies; a load older than it changes nothing.
	v.apply([]*clientv3.Event{put(loaded+1000, 1, "ahead")})
	if err := v.reload(ctx); err != nil {
		t.Fatal(err)
	}
	if m := v.Map(); m.Groups[1].Primary != "ahead" || m.Revision != loaded+1000 {
		t.Fatalf("a load older than the view replaced it: %s", fmtMap(m))
	}
	// Several events of one revision (one transaction) all apply.
	v.apply([]*clientv3.Event{put(loaded+1001, 0, "t1"), put(loaded+1001, 1, "t2")})
	if m := v.Map(); m.Groups[0].Primary != "t1" || m.Groups[1].Primary != "t2" {
		t.Fatalf("one transaction's events: %s", fmtMap(m))
	}
}

// TestRefreshConcurrent: many concurrent Refresh calls (a burst of "stale
// epoch" answers) share reads, and each sees the write made before it.
func TestRefreshConcurrent(t *testing.T) {
	srv := etcdtest.Start(t)
	w := open(t, srv, Config{NumGroups: 1})
	r := open(t, srv, Config{})
	v, _ := r.Watch(testCtx(t))
	for i := range 5 {
		g, err := w.UpdateGroup(testCtx(t), 0, func(g *Group) error { g.Primary = fmt.Sprintf("n%d", i); return nil })
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 50)
		for range 50 {
			go func() {
				if err := v.Refresh(); err != nil {
					errs <- err
					return
				}
				if got := v.Map().Groups[0]; got.Epoch < g.Epoch {
					errs <- fmt.Errorf("after Refresh: epoch %d, written %d", got.Epoch, g.Epoch)
					return
				}
				errs <- nil
			}()
		}
		for range 50 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
}
