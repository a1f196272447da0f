package replication

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/soltixdb/soltix/remote"
	"github.com/soltixdb/soltix/storage"
)

// GroupMap is the cluster map as a storage node sees it (coord.View, through
// cmd/soltix).
type GroupMap interface {
	Group(g int) (remote.GroupInfo, bool)
	NumGroups() int
	// Changed returns a channel closed at the map's next change.
	Changed() <-chan struct{}
}

// NodeStore is a storage node's storage as replication uses it
// (storage.DB, through cmd/soltix).
type NodeStore interface {
	Applier
	// GroupEmpty reports whether the node holds nothing of group g.
	GroupEmpty(g int) bool
}

// ErrNotLeading is returned (wrapped) for a write of a group this node is
// not publishing yet: its lead is being taken over or NATS is unreachable.
// The write is refused before it is applied (a 503: it is
// storage.ErrUnavailable); retrying it is safe.
var ErrNotLeading = fmt.Errorf("replication: group not led here yet: %w", storage.ErrUnavailable)

// NodeOptions configure a storage node's replication.
type NodeOptions struct {
	Map   GroupMap
	Store NodeStore
	// Interval is how often every group is examined besides map changes
	// (a lead that could not be taken is tried again). Default 2 s.
	Interval time.Duration
	// Copy, when set, copies group g from its primary into Store,
	// replacing what the node held of it, and returns the position the
	// copy holds everything up to (remote.Moves.CopyReplica). A replica
	// whose follower stops at a gap or with nothing to start from copies
	// the group, then follows from there.
	Copy func(ctx context.Context, g int) (uint64, error)
}

// NodeReplication runs a storage node's side of replication: a Lead for
// each group the map makes it primary of, a Follower for each group it is
// a replica of, and the write path that publishes its writes and deletes
// in the order its WAL holds them.
type NodeReplication struct {
	r     *Replicator
	opts  NodeOptions
	locks []sync.Mutex // per group: a change applied and queued together

	mu      sync.Mutex
	leads   map[int]*Lead
	follows map[int]*Follower
	errs    map[int]error // the last failure to lead or copy a group
	copying map[int]bool  // groups being copied from their primary
	copies  int           // copies done

	cancel context.CancelFunc
	done   chan struct{}
}

// closeWait bounds how long Close waits for a lead's queue to be stored.
const closeWait = 10 * time.Second

// snapshotLeadWait bounds how long Snapshot waits for the node to take
// the group's lead (again, after a map change).
const snapshotLeadWait = 5 * time.Second

// RunNode starts a storage node's replication; Close stops it.
func (r *Replicator) RunNode(opts NodeOptions) *NodeReplication {
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &NodeReplication{r: r, opts: opts, locks: make([]sync.Mutex, opts.Map.NumGroups()),
		leads: map[int]*Lead{}, follows: map[int]*Follower{}, errs: map[int]error{}, copying: map[int]bool{},
		cancel: cancel, done: make(chan struct{})}
	go n.run(ctx)
	return n
}

// Close stops every lead and follower. A lead stops cleanly: with the
// group's writes held, once what it queued is stored in the stream (for
// up to CloseWait), the node records the stream's position as the group's
// applied position, which tells its next start that it published every
// change it made (no resync, see Lead), and lets it follow from there
// should it come back as a replica.
func (n *NodeReplication) Close() {
	n.cancel()
	<-n.done
	n.mu.Lock()
	defer n.mu.Unlock()
	for g, l := range n.leads {
		n.locks[g].Lock()
		ctx, cancel := context.WithTimeout(context.Background(), closeWait)
		if err := l.drain(ctx); err == nil && l.failed() == nil {
			if err := n.opts.Store.SetApplied(g, l.Last()); err != nil {
				n.r.log.Warn("replication: record a clean stop", "group", g, "err", err)
			}
		}
		cancel()
		l.Close()
		n.locks[g].Unlock()
		delete(n.leads, g)
	}
	for g, f := range n.follows {
		f.Stop()
		delete(n.follows, g)
	}
}

func (n *NodeReplication) run(ctx context.Context) {
	defer close(n.done)
	t := time.NewTicker(n.opts.Interval)
	defer t.Stop()
	for {
		ch := n.opts.Map.Changed()
		n.Sync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ch:
		case <-t.C:
		}
	}
}

// Sync makes every group's lead and follower what the map says.
func (n *NodeReplication) Sync(ctx context.Context) {
	for g := range n.opts.Map.NumGroups() {
		if ctx.Err() != nil {
			return
		}
		n.sync(ctx, g)
	}
}

func (n *NodeReplication) sync(ctx context.Context, g int) {
	if ctx.Err() != nil { // closed: start nothing more
		return
	}
	me := n.r.opts.Node
	info, ok := n.opts.Map.Group(g)
	primary := ok && info.Primary == me
	replica := ok && slices.Contains(info.Replicas, me)

	n.mu.Lock()
	lead, follow, copying := n.leads[g], n.follows[g], n.copying[g]
	n.mu.Unlock()
	if copying {
		// The copy follows the group when it is done (startCopy): a
		// follower started meanwhile would apply into a group being
		// replaced, and stop for want of a position.
		return
	}
	// carried is where a lead at an older epoch ended, when this node
	// stays the group's primary under a newer one (the map changed the
	// entry: a replica added or removed, a move begun or rolled back):
	// everything it applied is published, and the new lead goes on after
	// it rather than as a node that crashed.
	var carried uint64
	if lead != nil && (!primary || lead.Epoch() != info.Epoch || lead.failed() != nil) {
		carried = n.dropLead(g, lead, primary && lead.failed() == nil)
		lead = nil
	}
	switch {
	case primary && lead == nil:
		// A node leading a group keeps its position at 0 (below) until
		// it stops leading cleanly (Close): 0 with data after a restart
		// means it crashed while leading, maybe between a change's apply
		// and its publish.
		applied, empty := n.opts.Store.Applied(g), n.opts.Store.GroupEmpty(g)
		if carried > 0 {
			applied = carried
		}
		l, err := n.r.Lead(ctx, g, info.Epoch, applied, empty, applied == 0 && !empty)
		var behind *BehindError
		switch {
		case err == nil:
			n.stopFollow(g)
			// A primary's writes may reach its storage and never the
			// stream (a crash between the two): should it follow the group
			// again one day, it must copy it rather than resume from an
			// old position. Position 0 with data makes it copy.
			if n.opts.Store.Applied(g) != 0 {
				if err := n.opts.Store.SetApplied(g, 0); err != nil {
					l.Close()
					n.setErr(g, err)
					return
				}
			}
			n.mu.Lock()
			n.leads[g] = l
			delete(n.errs, g)
			n.mu.Unlock()
		case errors.As(err, &behind):
			// A promoted replica applies the rest of the stream first.
			n.ensureFollow(g, follow, true)
			n.setErr(g, err)
		default:
			n.setErr(g, err)
			n.r.log.Warn("replication: cannot lead group", "group", g, "epoch", info.Epoch, "err", err)
		}
	case primary:
	case replica:
		if follow != nil && n.opts.Copy != nil {
			if st := follow.Status(); !st.Running && (errors.Is(st.Err, ErrGap) || errors.Is(st.Err, ErrEmpty) || errors.Is(st.Err, ErrResync)) {
				n.startCopy(ctx, g, follow)
				return
			}
		}
		n.ensureFollow(g, follow, false)
	default:
		n.stopFollow(g)
		// An error of a lead or copy of a group this node no longer
		// holds is not news (Status would report it).
		n.mu.Lock()
		delete(n.errs, g)
		n.mu.Unlock()
	}
}

// startCopy copies group g from its primary in the background, then
// follows it from the copy's position.
func (n *NodeReplication) startCopy(ctx context.Context, g int, follow *Follower) {
	n.mu.Lock()
	if n.copying[g] {
		n.mu.Unlock()
		return
	}
	n.copying[g] = true
	if n.follows[g] == follow {
		delete(n.follows, g)
	}
	n.mu.Unlock()
	follow.Stop()
	go func() {
		n.r.log.Info("replication: copying a group from its primary", "group", g, "why", follow.Status().Err)
		pos, err := n.opts.Copy(ctx, g)
		if err == nil {
			err = n.opts.Store.SetApplied(g, pos)
		}
		n.mu.Lock()
		delete(n.copying, g)
		if err == nil {
			n.copies++
			delete(n.errs, g)
		} else {
			n.errs[g] = fmt.Errorf("copy from the primary: %w", err)
		}
		n.mu.Unlock()
		if err != nil {
			n.r.log.Warn("replication: copy of a group failed; retrying later", "group", g, "err", err)
			return
		}
		n.sync(ctx, g) // follows from the copy's position
	}()
}

// Readable reports whether this node's copy of group g can answer reads
// as a replica (remote.MoveOptions.ReplicaReady): it follows the group,
// its follower runs (it has a position to follow from, so its data is a
// consistent prefix of the primary's) and has caught up with the stream
// since it started, and it is not copying the group.
// A replica may still lag the primary by the messages it has yet to
// apply.
func (n *NodeReplication) Readable(g int) bool {
	n.mu.Lock()
	f, copying := n.follows[g], n.copying[g]
	n.mu.Unlock()
	if f == nil || copying {
		return false
	}
	return readable(f.Status())
}

// readable is Readable of a follower not copying.
func readable(st FollowStatus) bool { return st.Running && st.CaughtUp && st.Applied > 0 }

// Copies is how many group copies this node made for its replicas.
func (n *NodeReplication) Copies() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.copies
}

// Snapshot runs snapshot with group g's writes held and every change
// applied so far published, and returns the stream sequence of the last
// one: what a copy of the snapshot holds everything up to
// (remote.MoveOptions.Position).
func (n *NodeReplication) Snapshot(ctx context.Context, g int, snapshot func() error) (uint64, error) {
	if g < 0 || g >= len(n.locks) {
		return 0, fmt.Errorf("replication: group %d of %d", g, len(n.locks))
	}
	// A map change (the move that asks for this snapshot is one) makes
	// the node take its lead again at the new epoch: wait for it a little.
	for wait := time.Now().Add(snapshotLeadWait); ; {
		n.mu.Lock()
		l := n.leads[g]
		n.mu.Unlock()
		if l != nil || time.Now().After(wait) {
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	n.locks[g].Lock()
	defer n.locks[g].Unlock()
	n.mu.Lock()
	l := n.leads[g]
	n.mu.Unlock()
	if l == nil {
		return 0, fmt.Errorf("group %d: %w", g, ErrNotLeading)
	}
	if err := l.drain(ctx); err != nil {
		return 0, err
	}
	if err := snapshot(); err != nil {
		return 0, err
	}
	return l.Last(), nil
}

func (n *NodeReplication) setErr(g int, err error) {
	n.mu.Lock()
	n.errs[g] = err
	n.mu.Unlock()
}

// dropLead closes l, the lead of group g. With drain, it first waits (up
// to closeWait) until what l queued is stored, and returns the stream
// sequence it ended at (0 when it could not).
func (n *NodeReplication) dropLead(g int, l *Lead, drain bool) uint64 {
	n.mu.Lock()
	if n.leads[g] == l {
		delete(n.leads, g)
	}
	n.mu.Unlock()
	// Writes of g hold its lock while they queue: closing under it lets
	// none queue on a closed lead unnoticed.
	n.locks[g].Lock()
	defer n.locks[g].Unlock()
	var last uint64
	if drain {
		ctx, cancel := context.WithTimeout(context.Background(), closeWait)
		if err := l.drain(ctx); err == nil && l.failed() == nil {
			last = l.Last()
		}
		cancel()
	}
	l.Close()
	return last
}

func (n *NodeReplication) ensureFollow(g int, f *Follower, toLead bool) {
	if f != nil && f.Status().Running && f.toLead == toLead {
		return
	}
	if f != nil {
		f.Stop()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.follows[g] != f || n.copying[g] {
		// Another examination of the group (the loop's, or a copy's
		// end) changed it meanwhile: one follower per group.
		return
	}
	n.follows[g] = n.r.follow(g, n.opts.Store, toLead)
}

func (n *NodeReplication) stopFollow(g int) {
	n.mu.Lock()
	f := n.follows[g]
	delete(n.follows, g)
	n.mu.Unlock()
	if f != nil {
		f.Stop()
	}
}

// failed returns the lead's error once it is fenced or closed.
func (l *Lead) failed() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// leadsFor returns the leads of groups, each at the epoch given, or an
// error naming the first group not led here at it.
func (n *NodeReplication) leadsFor(groups []int, epochs []uint64) ([]*Lead, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ls := make([]*Lead, len(groups))
	for i, g := range groups {
		l := n.leads[g]
		if l == nil || l.Epoch() != epochs[i] {
			why := n.errs[g]
			if why == nil {
				why = errors.New("taking over")
			}
			return nil, fmt.Errorf("group %d at epoch %d (%v): %w", g, epochs[i], why, ErrNotLeading)
		}
		ls[i] = l
	}
	return ls, nil
}

// change is one group's share of a write or a delete.
type change struct {
	group int
	epoch uint64
	msg   Message
}

// Write applies a write through apply (the node's storage.DB.Write of
// every group's points) and queues each group's points for its replicas,
// in the order the WAL holds them: each group's lock is held from before
// apply until its points are queued. It refuses the write before apply
// when a group is not led here at its epoch or its lead cannot take more
// (ctx ends). wait returns once JetStream holds every group's change.
func (n *NodeReplication) Write(ctx context.Context, ws []remote.GroupWrite, apply func() error) (wait func(context.Context) error, err error) {
	cs := make([]change, len(ws))
	for i, w := range ws {
		cs[i] = change{group: w.Group, epoch: w.Epoch, msg: Message{Kind: KindWrite, Points: w.Points}}
	}
	return n.change(ctx, cs, apply)
}

// Delete is Write for a delete of the groups' series of collection over
// [min, max].
func (n *NodeReplication) Delete(ctx context.Context, collection string, ds []remote.GroupDelete, min, max int64, apply func() error) (wait func(context.Context) error, err error) {
	cs := make([]change, len(ds))
	for i, d := range ds {
		cs[i] = change{group: d.Group, epoch: d.Epoch, msg: Message{Kind: KindDelete,
			Delete: &Delete{Collection: collection, Series: d.Series, Min: min, Max: max}}}
	}
	return n.change(ctx, cs, apply)
}

func (n *NodeReplication) change(ctx context.Context, cs []change, apply func() error) (func(context.Context) error, error) {
	slices.SortStableFunc(cs, func(a, b change) int { return a.group - b.group })
	var groups []int
	var epochs []uint64
	for _, c := range cs {
		if c.group < 0 || c.group >= len(n.locks) {
			return nil, fmt.Errorf("replication: group %d of %d", c.group, len(n.locks))
		}
		if len(groups) == 0 || groups[len(groups)-1] != c.group {
			groups, epochs = append(groups, c.group), append(epochs, c.epoch)
		}
	}
	for _, g := range groups {
		n.locks[g].Lock()
	}
	defer func() {
		for _, g := range groups {
			n.locks[g].Unlock()
		}
	}()
	leads, err := n.leadsFor(groups, epochs)
	if err != nil {
		return nil, err
	}
	for _, l := range leads {
		if err := l.Reserve(ctx); err != nil {
			return nil, fmt.Errorf("replication: group %d: %w", l.g, err)
		}
	}
	if err := apply(); err != nil {
		return nil, err
	}
	var rcs []*Receipt
	var errs []error
	for _, c := range cs {
		l := leads[slices.Index(groups, c.group)]
		rc, err := l.Publish(&c.msg)
		if err != nil {
			// Applied here but not queued: the lead is fenced or closed,
			// and the group's replicas will copy it again from whoever
			// leads it next.
			errs = append(errs, fmt.Errorf("group %d: %w", c.group, err))
			continue
		}
		rcs = append(rcs, rc)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("replication: %w", errors.Join(errs...))
	}
	return func(ctx context.Context) error {
		for _, rc := range rcs {
			if _, err := rc.Wait(ctx); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// GroupStatus is one group's replication on this node.
type GroupStatus struct {
	Group int
	// Role is "primary", "replica" or "".
	Role string
	// Last is the stream sequence of the group's last message this node
	// published (primary) or applied (replica).
	Last uint64
	// Pending is how many messages a replica has yet to apply, and LagSeconds
	// how long ago the one it applied last was stored (0 when none pending).
	Pending    uint64
	LagSeconds float64
	// Readable says a replica answers reads (Readable).
	Readable bool
	Err      string
}

// Status reports every group this node leads or follows.
func (n *NodeReplication) Status() []GroupStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []GroupStatus
	for g, l := range n.leads {
		out = append(out, GroupStatus{Group: g, Role: "primary", Last: l.Last()})
	}
	for g, f := range n.follows {
		st := f.Status()
		gs := GroupStatus{Group: g, Role: "replica", Last: st.Applied, Pending: st.Pending,
			Readable: !n.copying[g] && readable(st)}
		if st.Pending > 0 && !st.At.IsZero() {
			gs.LagSeconds = time.Since(st.At).Seconds()
		}
		if st.Err != nil {
			gs.Err = st.Err.Error()
		}
		out = append(out, gs)
	}
	for g, err := range n.errs {
		if _, ok := n.leads[g]; !ok && err != nil {
			out = append(out, GroupStatus{Group: g, Role: "primary", Err: err.Error()})
		}
	}
	slices.SortFunc(out, func(a, b GroupStatus) int { return a.Group - b.Group })
	return out
}

var _ remote.WriteLog = (*NodeReplication)(nil)

// DBStore is a NodeStore over a storage node's storage.DB.
type DBStore struct{ *storage.DB }

// GroupEmpty reports whether the DB holds no series and no file of g.
func (s DBStore) GroupEmpty(g int) bool {
	st, err := s.GroupStats(g)
	return err == nil && st.Series == 0 && st.Files == 0 && st.RollupFiles == 0
}
