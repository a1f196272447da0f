package remote

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
)

// devicePoints returns perDevice points for each of devices d0…d{n-1} of
// collection "m", field v = device*1000 + i at times i seconds.
func devicePoints(from, n, perDevice int) []model.Point {
	var ps []model.Point
	for i := range perDevice {
		for d := from; d < from+n; d++ {
			ps = append(ps, model.Point{
				Collection: "m",
				Tags:       model.Tags{{Key: "device_id", Value: fmt.Sprintf("d%d", d)}, {Key: "site", Value: "x"}},
				Fields:     []model.Field{{Key: "v", Value: model.Float(float64(d*1000 + i))}},
				Time:       int64(i) * 1e9,
			})
		}
	}
	return ps
}

func deviceGroup(d, groups int) int { return model.GroupOf(fmt.Sprintf("d%d", d), groups) }

// devicesOn returns the devices of collection "m" a node's DB holds and
// checks each holds exactly perDevice values of v with the values written.
func devicesOn(t *testing.T, n *testNode, perDevice int) []string {
	t.Helper()
	var devs []string
	for _, tags := range n.db.Series("m", nil) {
		d := tags.Get("device_id")
		devs = append(devs, d)
		cols, err := n.db.Read(testContext(t), "m", tags, []string{"v"}, math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		if cols[0].Len() != perDevice {
			t.Fatalf("node %s: device %s has %d values, want %d", n.id, d, cols[0].Len(), perDevice)
		}
		var num int
		fmt.Sscanf(d, "d%d", &num)
		for i := range perDevice {
			if got := cols[0].Floats[i]; got != float64(num*1000+i) {
				t.Fatalf("node %s: device %s value %d is %v", n.id, d, i, got)
			}
		}
	}
	slices.Sort(devs)
	return devs
}

func startNodes(t *testing.T, m *testMap, k int) []*testNode {
	nodes := make([]*testNode, k)
	for i := range nodes {
		nodes[i] = startNode(t, m, fmt.Sprintf("n%d", i+1), NodeOptions{})
	}
	m.spread(nodes...)
	return nodes
}

// TestWriteSpreadsOverNodes: a batch over 60 devices lands once, each
// device on the node holding its group, with one request per node.
func TestWriteSpreadsOverNodes(t *testing.T) {
	m := newTestMap(16)
	nodes := startNodes(t, m, 3)
	c, _ := newTestClient(t, m, ClientOptions{})
	if err := c.Write(testContext(t), devicePoints(0, 60, 5)); err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, n := range nodes {
		var want []string
		for d := range 60 {
			if deviceGroup(d, 16)%3 == i {
				want = append(want, fmt.Sprintf("d%d", d))
			}
		}
		slices.Sort(want)
		got := devicesOn(t, n, 5)
		if !slices.Equal(got, want) {
			t.Fatalf("node %s holds %v, want %v", n.id, got, want)
		}
		total += len(got)
		if sm := n.node.Metrics(); sm.Writes != 1 || sm.Points != uint64(5*len(want)) {
			t.Fatalf("node %s served %+v, want 1 write of %d points", n.id, sm, 5*len(want))
		}
	}
	if total != 60 {
		t.Fatalf("%d devices written, want 60", total)
	}
	// Later writes reuse each node's one connection.
	for range 10 {
		if err := c.Write(testContext(t), devicePoints(0, 60, 5)); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		if got := n.conns.Load(); got != 1 {
			t.Fatalf("node %s accepted %d connections for 11 writes", n.id, got)
		}
	}
	ms := c.NodeMetrics()
	if len(ms) != 3 {
		t.Fatalf("metrics of %d nodes: %+v", len(ms), ms)
	}
	for i, nm := range ms {
		if nm.Node != nodes[i].id || nm.Addr != nodes[i].addr || nm.Requests != 11 || nm.WriteRequests != 11 || nm.Errors != 0 || nm.BytesSent == 0 {
			t.Fatalf("metrics of node %d: %+v", i, nm)
		}
	}
}

// TestClientSpeaksHTTP2: the client's requests are HTTP/2 without TLS,
// and a node also answers HTTP/1.1 (curl).
func TestClientSpeaksHTTP2(t *testing.T) {
	m := newTestMap(4)
	nodes := startNodes(t, m, 1)
	c, _ := newTestClient(t, m, ClientOptions{})
	nc := c.node(Route{Node: nodes[0].id, Addr: nodes[0].addr})
	resp, err := c.do(testContext(t), nc, "GET", PathHealth, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body := readErrorBody(resp.Body) // any JSON
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("%s %d: %+v", resp.Proto, resp.StatusCode, body)
	}
	resp, err = (&http1Client).Get(nodes[0].addr + PathHealth)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 1 || resp.StatusCode != 200 {
		t.Fatalf("HTTP/1 client got %s %d", resp.Proto, resp.StatusCode)
	}
}

// TestWriteFollowsMovedGroup: a router whose map is stale sends a group to
// its old node, which answers 409; the router refreshes its map and the
// points land on the new owner only.
func TestWriteFollowsMovedGroup(t *testing.T) {
	m := newTestMap(8)
	nodes := startNodes(t, m, 2)
	c, view := newTestClient(t, m, ClientOptions{})
	g := deviceGroup(3, 8)
	old, moved := nodes[g%2], nodes[(g+1)%2]
	m.set(g, moved, 2) // the group moves; the router has not seen it
	if err := old.view.Refresh(); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(testContext(t), devicePoints(3, 1, 4)); err != nil {
		t.Fatal(err)
	}
	if got := view.refreshes.Load(); got != 1 {
		t.Fatalf("%d refreshes, want 1", got)
	}
	if got := devicesOn(t, moved, 4); !slices.Equal(got, []string{"d3"}) {
		t.Fatalf("new owner holds %v", got)
	}
	if got := devicesOn(t, old, 0); len(got) != 0 {
		t.Fatalf("old owner holds %v", got)
	}
	if sm := old.node.Metrics(); sm.StaleEpochs != 1 || sm.Writes != 0 {
		t.Fatalf("old owner: %+v", sm)
	}
}

// TestWriteStaleIsBounded: a node that keeps refusing makes the write
// fail after WriteAttempts requests, naming the group.
func TestWriteStaleIsBounded(t *testing.T) {
	m := newTestMap(8)
	nodes := startNodes(t, m, 1)
	c, view := newTestClient(t, m, ClientOptions{})
	g := deviceGroup(5, 8)
	m.set(g, nodes[0], 7) // the node holds epoch 7
	if err := nodes[0].view.Refresh(); err != nil {
		t.Fatal(err)
	}
	m.set(g, nodes[0], 1) // and etcd keeps telling the router epoch 1
	err := c.Write(testContext(t), devicePoints(5, 1, 1))
	var we *WriteError
	if !errors.As(err, &we) || !slices.Equal(we.Groups, []int{g}) || !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("got %v, want a WriteError for group %d", err, g)
	}
	if !strings.Contains(err.Error(), "still stale after 3 attempts") {
		t.Fatalf("message: %v", err)
	}
	if got := view.refreshes.Load(); got != 2 {
		t.Fatalf("%d refreshes, want 2", got)
	}
	if got := c.NodeMetrics()[0].Requests; got != 3 {
		t.Fatalf("%d requests, want 3", got)
	}
}

// TestWriteNodeDown: a stopped node makes the write fail naming exactly
// its groups, while the other nodes' groups are written.
func TestWriteNodeDown(t *testing.T) {
	m := newTestMap(16)
	nodes := startNodes(t, m, 3)
	c, _ := newTestClient(t, m, ClientOptions{})
	nodes[1].stop()
	err := c.Write(testContext(t), devicePoints(0, 60, 2))
	var we *WriteError
	if !errors.As(err, &we) {
		t.Fatalf("got %v, want a WriteError", err)
	}
	var want []int
	for d := range 60 {
		if g := deviceGroup(d, 16); g%3 == 1 && !slices.Contains(want, g) {
			want = append(want, g)
		}
	}
	slices.Sort(want)
	if !slices.Equal(we.Groups, want) {
		t.Fatalf("groups %v not written, want %v", we.Groups, want)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, groupList(want)+" not written: node n2 ("+nodes[1].addr+"): ") || !strings.Contains(msg, "connection refused") {
		t.Fatalf("message: %s", msg)
	}
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatal("does not wrap storage.ErrUnavailable")
	}
	for _, i := range []int{0, 2} {
		for _, d := range devicesOn(t, nodes[i], 2) {
			var num int
			fmt.Sscanf(d, "d%d", &num)
			if deviceGroup(num, 16)%3 != i {
				t.Fatalf("node %s holds %s", nodes[i].id, d)
			}
		}
		if len(devicesOn(t, nodes[i], 2)) == 0 {
			t.Fatalf("node %s holds nothing", nodes[i].id)
		}
	}
}

// TestWriteNoRoute: a group without a primary is named like a node down.
func TestWriteNoRoute(t *testing.T) {
	m := newTestMap(8)
	startNodes(t, m, 2)
	g := deviceGroup(1, 8)
	m.unset(g)
	c, _ := newTestClient(t, m, ClientOptions{})
	err := c.Write(testContext(t), devicePoints(0, 8, 1))
	var we *WriteError
	if !errors.As(err, &we) || !slices.Equal(we.Groups, []int{g}) || !strings.Contains(err.Error(), "no primary is up") {
		t.Fatalf("got %v, want group %d without a primary", err, g)
	}
}

// TestWriteConflict: a kind clash on a node comes back as the
// *storage.ConflictError storage gives, indexed into the caller's batch.
func TestWriteConflict(t *testing.T) {
	m := newTestMap(16)
	startNodes(t, m, 3)
	c, _ := newTestClient(t, m, ClientOptions{})
	ctx := testContext(t)
	if err := c.Write(ctx, devicePoints(0, 10, 1)); err != nil {
		t.Fatal(err)
	}
	ps := devicePoints(0, 10, 1)
	for i := range ps {
		ps[i].Time++
	}
	ps[7].Fields[0].Value = model.Int(1)
	err := c.Write(ctx, ps)
	var ce *storage.ConflictError
	if !errors.As(err, &ce) || len(ce.Conflicts) != 1 {
		t.Fatalf("got %v, want one conflict", err)
	}
	if got := ce.Conflicts[0]; got.Point != 7 || got.Field != "v" || got.Have != model.KindFloat || got.Got != model.KindInt {
		t.Fatalf("conflict %+v", got)
	}
	if errors.Is(err, storage.ErrUnavailable) {
		t.Fatal("a conflict is not unavailability")
	}
}

// TestWriteRetention: a point older than the raw retention comes back as
// a *storage.RetentionError indexed into the caller's batch.
func TestWriteRetention(t *testing.T) {
	m := newTestMap(4)
	nodes := startNodes(t, m, 2)
	var s storage.CollectionSettings
	s.Retention[model.LevelRaw] = 24 * time.Hour
	for _, n := range nodes {
		if err := n.db.SetSettings(testContext(t), "m", s); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := newTestClient(t, m, ClientOptions{})
	ps := devicePoints(0, 6, 1)
	now := time.Now().UnixNano()
	for i := range ps {
		ps[i].Time = now
	}
	ps[4].Time = now - int64(48*time.Hour)
	err := c.Write(testContext(t), ps)
	var re *storage.RetentionError
	if !errors.As(err, &re) || re.Point != 4 || re.Collection != "m" || re.Retention != 24*time.Hour {
		t.Fatalf("got %v (%+v), want point 4 refused", err, re)
	}
}

// TestWriteConcurrent: writers racing through one Client land every
// point once (run with -race).
func TestWriteConcurrent(t *testing.T) {
	m := newTestMap(16)
	nodes := startNodes(t, m, 3)
	c, _ := newTestClient(t, m, ClientOptions{})
	ctx := testContext(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				if err := c.Write(ctx, devicePoints(w*10+i, 1, 3)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var all []string
	for _, n := range nodes {
		all = append(all, devicesOn(t, n, 3)...)
	}
	if len(all) != 80 {
		t.Fatalf("%d devices written, want 80", len(all))
	}
	var reqs uint64
	for _, nm := range c.NodeMetrics() {
		reqs += nm.Requests
	}
	if reqs != 80 {
		t.Fatalf("%d requests for 80 one-device writes", reqs)
	}
}

// TestDeleteFlushCompact: Delete reaches the nodes of the series' groups;
// Flush and Compact reach every node; a node down is named.
func TestDeleteFlushCompact(t *testing.T) {
	m := newTestMap(16)
	nodes := startNodes(t, m, 3)
	c, _ := newTestClient(t, m, ClientOptions{})
	ctx := testContext(t)
	if err := c.Write(ctx, devicePoints(0, 30, 4)); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var del []model.Tags
	for d := range 10 {
		del = append(del, model.Tags{{Key: "device_id", Value: fmt.Sprintf("d%d", d)}, {Key: "site", Value: "x"}})
	}
	if err := c.Delete(ctx, "m", del, 1e9, 2e9); err != nil {
		t.Fatal(err)
	}
	if err := c.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		for _, tags := range n.db.Series("m", nil) {
			cols, err := n.db.Read(ctx, "m", tags, []string{"v"}, math.MinInt64, math.MaxInt64)
			if err != nil {
				t.Fatal(err)
			}
			var num int
			fmt.Sscanf(tags.Get("device_id"), "d%d", &num)
			want := []int64{0, 1e9, 2e9, 3e9}
			if num < 10 {
				want = []int64{0, 3e9}
			}
			if !slices.Equal(cols[0].Times, want) {
				t.Fatalf("node %s device d%d: times %v, want %v", n.id, num, cols[0].Times, want)
			}
		}
	}
	nodes[2].stop()
	err := c.Flush(ctx)
	var we *WriteError
	if !errors.As(err, &we) || len(we.Groups) == 0 || !strings.Contains(err.Error(), "not flushed: node n3") {
		t.Fatalf("flush with a node down: %v", err)
	}
	for _, g := range we.Groups {
		if g%3 != 2 {
			t.Fatalf("group %d named: %v", g, err)
		}
	}
}

// TestWriteSplitsLargeRequests: a node's share over MaxRequestBytes goes
// in several requests, a group over maxFramePoints in several frames, and
// a clash found by a later request is still indexed into the caller's
// batch.
func TestWriteSplitsLargeRequests(t *testing.T) {
	m := newTestMap(16)
	nodes := startNodes(t, m, 3)
	ctx := testContext(t)
	small, _ := newTestClient(t, m, ClientOptions{MaxRequestBytes: 2048})
	if err := small.Write(ctx, devicePoints(0, 60, 20)); err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, n := range nodes {
		total += len(devicesOn(t, n, 20))
		nm := small.NodeMetrics()[i]
		if nm.WriteRequests < 2 || n.node.Metrics().Writes != nm.WriteRequests {
			t.Fatalf("node %s: %d requests sent, %d served", n.id, nm.WriteRequests, n.node.Metrics().Writes)
		}
	}
	if total != 60 {
		t.Fatalf("%d devices written", total)
	}
	ps := devicePoints(0, 60, 20)
	for i := range ps {
		ps[i].Time += 100e9
	}
	ps[1150].Fields[0].Value = model.String("x")
	err := small.Write(ctx, ps)
	var ce *storage.ConflictError
	if !errors.As(err, &ce) || len(ce.Conflicts) != 1 || ce.Conflicts[0].Point != 1150 {
		t.Fatalf("got %v, want a conflict at point 1150", err)
	}

	// One device, more points than a frame holds: one request, 2 frames.
	big := make([]model.Point, maxFramePoints+10)
	for i := range big {
		big[i] = model.Point{Collection: "big", Tags: model.Tags{{Key: "device_id", Value: "only"}},
			Fields: []model.Field{{Key: "v", Value: model.Int(int64(i))}}, Time: int64(i)}
	}
	c, _ := newTestClient(t, m, ClientOptions{})
	if err := c.Write(ctx, big); err != nil {
		t.Fatal(err)
	}
	owner := nodes[model.GroupOf("only", 16)%3]
	cols, err := owner.db.Read(ctx, "big", big[0].Tags, []string{"v"}, math.MinInt64, math.MaxInt64)
	if err != nil || cols[0].Len() != len(big) || cols[0].Ints[len(big)-1] != int64(len(big)-1) {
		t.Fatalf("read back: %v, %d values", err, cols[0].Len())
	}
	if nm := c.NodeMetrics(); len(nm) != 1 || nm[0].WriteRequests != 1 {
		t.Fatalf("metrics %+v, want one request", nm)
	}
}

// TestWriteBeforeMap: a router that has not loaded the map yet answers
// unavailable instead of hashing into zero groups.
func TestWriteBeforeMap(t *testing.T) {
	m := newTestMap(0)
	c := NewClient(m.view(), ClientOptions{})
	for name, err := range map[string]error{
		"write":  c.Write(testContext(t), devicePoints(0, 1, 1)),
		"delete": c.Delete(testContext(t), "m", []model.Tags{nil}, 0, 1),
	} {
		if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "not loaded") {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// TestWriteWaitsOutFailover: with FailoverWait, a write whose group has no
// primary, or whose node is down, is held and sent again as the map
// changes; it lands on the group's new primary and the caller sees no
// error. Past FailoverWait it fails naming the group.
func TestWriteWaitsOutFailover(t *testing.T) {
	m := newTestMap(8)
	nodes := startNodes(t, m, 2)
	g := deviceGroup(1, 8)
	m.unset(g) // the primary's lease expired; no replica promoted yet
	c, _ := newTestClient(t, m, ClientOptions{FailoverWait: 30 * time.Second})
	promoted := make(chan struct{})
	go func() {
		defer close(promoted)
		time.Sleep(200 * time.Millisecond)
		m.set(g, nodes[0], 2)   // a replica on n1 is promoted at epoch 2
		nodes[0].view.Refresh() //nolint:errcheck // the test map does not fail
	}()
	if err := c.Write(testContext(t), devicePoints(1, 1, 3)); err != nil {
		t.Fatalf("write during a failover: %v, want it held until the promotion", err)
	}
	<-promoted
	if got := devicesOn(t, nodes[0], 3); !slices.Equal(got, []string{"d1"}) {
		t.Fatalf("the promoted node holds %v", got)
	}

	// The node of a group goes down, then the group is promoted elsewhere.
	h := deviceGroup(2, 8)
	m.set(h, nodes[1], 1)
	if err := nodes[1].view.Refresh(); err != nil {
		t.Fatal(err)
	}
	c.topo.Refresh() //nolint:errcheck // the test map does not fail
	nodes[1].stop()
	promoted = make(chan struct{})
	go func() {
		defer close(promoted)
		time.Sleep(200 * time.Millisecond)
		m.set(h, nodes[0], 3)
		nodes[0].view.Refresh() //nolint:errcheck // the test map does not fail
	}()
	if err := c.Write(testContext(t), devicePoints(2, 1, 3)); err != nil {
		t.Fatalf("write while its node is down: %v, want it held until the promotion", err)
	}
	<-promoted
	if got := devicesOn(t, nodes[0], 3); !slices.Contains(got, "d2") {
		t.Fatalf("the promoted node holds %v", got)
	}

	// Nobody is promoted: the write fails once FailoverWait has passed.
	c2, _ := newTestClient(t, m, ClientOptions{FailoverWait: 300 * time.Millisecond})
	m.unset(g)
	c2.topo.Refresh() //nolint:errcheck // the test map does not fail
	err := c2.Write(testContext(t), devicePoints(1, 1, 3))
	var we *WriteError
	if !errors.As(err, &we) || !slices.Equal(we.Groups, []int{g}) || !strings.Contains(err.Error(), "no primary is up") {
		t.Fatalf("got %v, want group %d without a primary", err, g)
	}
}
