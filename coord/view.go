package coord

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/soltixdb/soltix/remote"
)

// StateMoving is Group.State while the group is being copied to MovingTo;
// its primary still serves it.
const StateMoving = "moving"

// Node is a storage node as the map knows it.
type Node struct {
	ID string
	// Addr is the node's base URL ("http://10.0.0.5:7001"): the one it
	// registered with while up, else the last one it registered.
	Addr string
	// Up says the node's registration lease is alive.
	Up bool
}

// Group is one group's entry in the cluster map.
type Group struct {
	ID int
	// Primary is the node serving the group's writes and reads; "" while
	// the group is unassigned.
	Primary string
	// Replicas are further distinct nodes holding the group (issue 13).
	Replicas []string
	// Epoch grows by one with every change of the group's entry; a storage
	// node serves the group only at the epoch it holds it at.
	Epoch uint64
	// State is "" or StateMoving; MovingTo is the target of a move.
	State    string
	MovingTo string
}

func (g Group) clone() Group {
	g.Replicas = slices.Clone(g.Replicas)
	return g
}

func (g Group) equal(o Group) bool {
	return g.ID == o.ID && g.Primary == o.Primary && slices.Equal(g.Replicas, o.Replicas) &&
		g.Epoch == o.Epoch && g.State == o.State && g.MovingTo == o.MovingTo
}

// Map is a snapshot of the cluster map.
type Map struct {
	// Revision is etcd's revision the snapshot is at.
	Revision int64
	// Nodes are sorted by ID: every node registered now or before, and any
	// node a group names.
	Nodes []Node
	// Groups has one entry per group, indexed by group number.
	Groups []Group
}

// Node returns the node with the given id.
func (m Map) Node(id string) (Node, bool) {
	i, ok := slices.BinarySearchFunc(m.Nodes, id, func(n Node, id string) int { return strings.Compare(n.ID, id) })
	if !ok {
		return Node{}, false
	}
	return m.Nodes[i], true
}

// snapshot is an immutable view of the state, swapped atomically so Route
// (on every write and query) takes no lock.
type snapshot struct {
	m        Map
	routes   []remote.Route
	ok       []bool
	replicas [][]remote.Route
}

// View is the cluster map as this process sees it: loaded from etcd and
// kept current by an etcd watch. It implements remote.Topology. Its
// methods are safe for concurrent use.
type View struct {
	c *Coord

	mu       sync.Mutex
	rev      int64 // highest revision applied
	loadRev  int64 // revision of the last full load; events up to it are in it
	live     map[string]string
	members  map[string]string
	groups   []Group
	settings map[string][]byte
	setVer   uint64 // bumped on every settings change
	tokens   map[string][]byte
	tokVer   uint64        // bumped on every tokens change
	changed  chan struct{} // closed on the next map change
	snap     atomic.Pointer[snapshot]

	setDirty chan struct{} // cap 1: settings changed or a subscriber was added
	subsMu   sync.Mutex
	subs     map[int]*settingsSub
	nextSub  int

	// Refresh coalescing: callers join a pending load that has not started
	// its read yet; runMu lets one read run at a time.
	rmu     sync.Mutex
	pending *refreshCall
	runMu   sync.Mutex
}

type refreshCall struct {
	done chan struct{}
	err  error
}

type settingsSub struct {
	fn     func(map[string][]byte)
	tokens bool // fn is given the tokens' values instead of the settings
	seen   uint64
}

var _ remote.ReplicaTopology = (*View)(nil)

func newView(c *Coord) *View {
	v := &View{c: c, changed: make(chan struct{}), setDirty: make(chan struct{}, 1), subs: map[int]*settingsSub{}}
	v.groups = make([]Group, c.info.NumGroups)
	for g := range v.groups {
		v.groups[g].ID = g
	}
	v.live, v.members, v.settings, v.tokens = map[string]string{}, map[string]string{}, map[string][]byte{}, map[string][]byte{}
	v.rebuild()
	return v
}

// Watch returns the process's view of the cluster map, caught up with etcd
// as of the call (it is loaded by Open and followed until Close).
func (c *Coord) Watch(ctx context.Context) (*View, error) {
	if err := c.view.RefreshContext(ctx); err != nil {
		return nil, err
	}
	return c.view, nil
}

// NumGroups is the cluster's fixed number of groups.
func (v *View) NumGroups() int { return v.c.info.NumGroups }

// ShardTag is the tag naming a point's device.
func (v *View) ShardTag() string { return v.c.info.ShardTag }

// Route returns where group g is served: ok only when the group has a
// primary and that node is up.
func (v *View) Route(g int) (remote.Route, bool) {
	s := v.snap.Load()
	if g < 0 || g >= len(s.routes) || !s.ok[g] {
		return remote.Route{}, false
	}
	return s.routes[g], true
}

// Replicas returns the replicas of group g that are up, at the group's
// epoch, in the map's order. The slice is shared: do not modify it.
func (v *View) Replicas(g int) []remote.Route {
	s := v.snap.Load()
	if g < 0 || g >= len(s.replicas) {
		return nil
	}
	return s.replicas[g]
}

// Group returns group g's entry in the latest map seen (the caller may
// keep and modify it); ok is false when g is out of range. Unlike Map it
// copies one entry, for callers on a write path.
func (v *View) Group(g int) (Group, bool) {
	gs := v.snap.Load().m.Groups
	if g < 0 || g >= len(gs) {
		return Group{}, false
	}
	return gs[g].clone(), true
}

// Node returns the node id's entry in the latest map seen.
func (v *View) Node(id string) (Node, bool) {
	return v.snap.Load().m.Node(id)
}

// Map returns a snapshot of the cluster map (the caller may keep and
// modify it).
func (v *View) Map() Map {
	m := v.snap.Load().m
	m.Nodes = slices.Clone(m.Nodes)
	m.Groups = slices.Clone(m.Groups)
	for i := range m.Groups {
		m.Groups[i] = m.Groups[i].clone()
	}
	return m
}

// Changed returns a channel closed at the next change of the map (nodes or
// groups); call it again for the change after.
func (v *View) Changed() <-chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.changed
}

// Refresh returns once the view is at least as new as etcd was when it was
// called, or fails after Config.DialTimeout (etcd unreachable).
func (v *View) Refresh() error {
	ctx, cancel := context.WithTimeout(v.c.ctx, v.c.cfg.DialTimeout)
	defer cancel()
	return v.RefreshContext(ctx)
}

// RefreshContext is Refresh bounded by ctx. Concurrent calls share reads.
func (v *View) RefreshContext(ctx context.Context) error {
	v.rmu.Lock()
	call := v.pending
	if call == nil {
		call = &refreshCall{done: make(chan struct{})}
		v.pending = call
		go v.runRefresh(call)
	}
	v.rmu.Unlock()
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return fmt.Errorf("coord: refresh: %w", ctx.Err())
	}
}

func (v *View) runRefresh(call *refreshCall) {
	v.runMu.Lock()
	defer v.runMu.Unlock()
	// From here on, new callers start the next call: this read begins
	// after each of them called.
	v.rmu.Lock()
	v.pending = nil
	v.rmu.Unlock()
	ctx, cancel := context.WithTimeout(v.c.ctx, v.c.cfg.DialTimeout)
	defer cancel()
	if err := v.reload(ctx); err != nil {
		call.err = fmt.Errorf("coord: refresh: %w", err)
	}
	close(call.done)
}

// reload reads every key of the cluster with one linearizable range read
// and installs the result unless the view is already newer.
func (v *View) reload(ctx context.Context) error {
	resp, err := v.c.cli.Get(ctx, v.c.pfx, clientv3.WithPrefix())
	if err != nil {
		return err
	}
	live, members := map[string]string{}, map[string]string{}
	st := shared{settings: map[string][]byte{}, tokens: map[string][]byte{}}
	groups := make([]Group, v.c.info.NumGroups)
	for g := range groups {
		groups[g].ID = g
	}
	for _, kv := range resp.Kvs {
		v.applyKV(string(kv.Key), kv.Value, false, live, members, groups, st)
	}
	rev := resp.Header.Revision
	v.mu.Lock()
	defer v.mu.Unlock()
	if rev <= v.rev {
		return nil // the watch has already applied everything up to rev
	}
	ch := change{mapChanged: true,
		settings: !maps.EqualFunc(st.settings, v.settings, bytes.Equal),
		tokens:   !maps.EqualFunc(st.tokens, v.tokens, bytes.Equal)}
	v.live, v.members, v.groups, v.settings, v.tokens = live, members, groups, st.settings, st.tokens
	v.rev, v.loadRev = rev, rev
	v.rebuild()
	v.signal(ch)
	return nil
}

// apply applies watch events, skipping those the last load contains.
func (v *View) apply(evs []*clientv3.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var ch change
	for _, ev := range evs {
		if ev.Kv.ModRevision <= v.loadRev {
			continue
		}
		c := v.applyKV(string(ev.Kv.Key), ev.Kv.Value, ev.Type == clientv3.EventTypeDelete,
			v.live, v.members, v.groups, shared{settings: v.settings, tokens: v.tokens})
		ch = change{ch.mapChanged || c.mapChanged, ch.settings || c.settings, ch.tokens || c.tokens}
		v.rev = max(v.rev, ev.Kv.ModRevision)
	}
	if ch.mapChanged {
		v.rebuild()
	}
	v.signal(ch)
}

// change says what a key's value changed.
type change struct{ mapChanged, settings, tokens bool }

// shared are the raw values of the settings and tokens keys, by name.
type shared struct{ settings, tokens map[string][]byte }

// applyKV applies one key's value (or deletion) to the given state and
// says what changed.
func (v *View) applyKV(key string, val []byte, del bool, live, members map[string]string,
	groups []Group, st shared) change {
	rest, ok := strings.CutPrefix(key, v.c.pfx)
	if !ok {
		return change{}
	}
	nodeAddr := func() (string, bool) {
		n, err := decodeNode(val)
		if err != nil {
			v.c.log.Error("coord: ignoring a bad node key", "key", key, "err", err)
			return "", false
		}
		return n.Addr, true
	}
	switch {
	case strings.HasPrefix(rest, dirNodes):
		id := rest[len(dirNodes):]
		if del {
			delete(live, id)
		} else if addr, ok := nodeAddr(); ok {
			live[id] = addr
		}
		return change{mapChanged: true}
	case strings.HasPrefix(rest, dirMembers):
		id := rest[len(dirMembers):]
		if del {
			delete(members, id)
		} else if addr, ok := nodeAddr(); ok {
			members[id] = addr
		}
		return change{mapChanged: true}
	case strings.HasPrefix(rest, dirGroups):
		g, ok := parseGroupKey(rest[len(dirGroups):])
		if !ok || g >= len(groups) {
			v.c.log.Error("coord: ignoring a key outside the cluster's groups", "key", key)
			return change{}
		}
		if del {
			groups[g] = Group{ID: g}
			return change{mapChanged: true}
		}
		gr, err := decodeGroup(g, val)
		if err != nil {
			v.c.log.Error("coord: ignoring a bad group key", "key", key, "err", err)
			return change{}
		}
		groups[g] = gr
		return change{mapChanged: true}
	case strings.HasPrefix(rest, dirSettings):
		name := rest[len(dirSettings):]
		if del {
			delete(st.settings, name)
		} else {
			st.settings[name] = bytes.Clone(val)
		}
		return change{settings: true}
	case strings.HasPrefix(rest, dirTokens):
		name := rest[len(dirTokens):]
		if del {
			delete(st.tokens, name)
		} else {
			st.tokens[name] = bytes.Clone(val)
		}
		return change{tokens: true}
	}
	return change{}
}

// rebuild makes a new snapshot from the state; v.mu is held.
func (v *View) rebuild() {
	ids := map[string]bool{}
	for id := range v.live {
		ids[id] = true
	}
	for id := range v.members {
		ids[id] = true
	}
	for _, g := range v.groups {
		for _, id := range append([]string{g.Primary, g.MovingTo}, g.Replicas...) {
			if id != "" {
				ids[id] = true
			}
		}
	}
	s := &snapshot{m: Map{Revision: v.rev, Groups: slices.Clone(v.groups)}}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		addr, up := v.live[id]
		if !up {
			addr = v.members[id]
		}
		s.m.Nodes = append(s.m.Nodes, Node{ID: id, Addr: addr, Up: up})
	}
	s.routes = make([]remote.Route, len(v.groups))
	s.ok = make([]bool, len(v.groups))
	s.replicas = make([][]remote.Route, len(v.groups))
	for g, gr := range v.groups {
		if addr, up := v.live[gr.Primary]; gr.Primary != "" && up {
			s.routes[g] = remote.Route{Group: g, Node: gr.Primary, Addr: addr, Epoch: gr.Epoch}
			s.ok[g] = true
		}
		for _, id := range gr.Replicas {
			if addr, up := v.live[id]; up {
				s.replicas[g] = append(s.replicas[g], remote.Route{Group: g, Node: id, Addr: addr, Epoch: gr.Epoch})
			}
		}
	}
	v.snap.Store(s)
}

// signal wakes Changed waiters and the settings dispatcher; v.mu is held.
func (v *View) signal(ch change) {
	if ch.mapChanged {
		close(v.changed)
		v.changed = make(chan struct{})
	}
	if ch.tokens {
		v.tokVer++
	}
	if ch.settings {
		v.setVer++
	}
	if ch.settings || ch.tokens {
		select {
		case v.setDirty <- struct{}{}:
		default:
		}
	}
}

// follow keeps the view current until Close: it watches the cluster's
// prefix from the revision after the view's, and reloads everything when
// the watch fails (compaction, lost leader).
func (v *View) follow() {
	defer v.c.wg.Done()
	ctx := v.c.ctx
	for {
		v.mu.Lock()
		from := v.rev + 1
		v.mu.Unlock()
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for resp := range v.c.cli.Watch(wctx, v.c.pfx, clientv3.WithPrefix(), clientv3.WithRev(from)) {
			if err := resp.Err(); err != nil {
				v.c.log.Warn("coord: map watch ended, reloading", "err", err)
				break
			}
			v.apply(resp.Events)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err := v.c.retry(ctx, "cluster map", v.reload); err != nil {
			return // ctx ended
		}
	}
}
