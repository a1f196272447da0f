// Online group moves, the storage node's side: what a node needs of the
// cluster map and of its storage.DB to move a group, the gate its writes and
// reads of a group pass (which records a moving group's writes for its new
// owner and refuses them once the move switches), and the sweeps that drop
// what a node no longer owns. The protocol is in docs/cluster.md; the
// old primary's routes are in move_source.go, the new one's in move_pull.go,
// the coordinator's steps in move_mover.go.

package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/soltixdb/soltix/model"
)

// StateMoving is a group's state in the cluster map while it is copied to
// MovingTo: the primary still takes its writes (recording them for the new
// node) and reads, until it is fenced for the switch.
const StateMoving = "moving"

// GroupInfo is one group's entry in the cluster map.
type GroupInfo struct {
	Group    int
	Primary  string
	Replicas []string
	Epoch    uint64
	// State is "" or StateMoving; MovingTo names the node the group moves
	// to while State is StateMoving.
	State    string
	MovingTo string
}

// GroupView is the cluster map as a storage node or the coordinator sees
// it (package coord implements it; cmd/soltix adapts). Safe for concurrent
// use; the map it answers from only moves forward.
type GroupView interface {
	// Group returns group g's entry in the latest map seen.
	Group(g int) (GroupInfo, bool)
	// NodeAddr returns the base URL of a registered node.
	NodeAddr(node string) (string, bool)
	// Refresh returns once the map is at least as new as etcd's at the
	// time of the call.
	Refresh() error
}

// GroupUpdater changes one group's map entry with a compare-and-swap:
// update sees the current entry and changes it (an error from it aborts the
// change); the epoch is bumped by one by the implementation. It returns the
// entry as written.
type GroupUpdater interface {
	UpdateGroup(ctx context.Context, g int, update func(*GroupInfo) error) (GroupInfo, error)
}

// MoveOptions configure a node's side of group moves.
type MoveOptions struct {
	// NodeID is this node's id in the cluster map.
	NodeID string
	// TailMaxBytes bounds the writes a moving group may receive between
	// the start of its copy and the new node taking them (default 256 MiB);
	// past it the move fails and is retried later.
	TailMaxBytes int64
	// Logger receives the moves' logs (default slog.Default()).
	Logger *slog.Logger
	// Position, when set (replication on), runs snapshot with group g's
	// writes held and every change applied so far published, and returns
	// the replication position the snapshot holds everything up to: a
	// replica's copy (replica_copy.go) follows the stream from there.
	Position func(ctx context.Context, g int, snapshot func() error) (uint64, error)
	// ReplicaReady, when set (replication on), reports whether this
	// node's copy of group g, which the map names it a replica of, has
	// caught up with the stream and can answer reads. Without it replicas
	// are never read.
	ReplicaReady func(g int) bool
	// TLS, when set, is the cluster's mutual TLS: the copies this node
	// pulls from others go over it (nil: cleartext HTTP/2).
	TLS *ClusterTLS
}

// Moves is a storage node's part in group moves. Create it with NewMoves,
// register its routes with Routes, and pass every write and read of a
// group through Write and Read.
type Moves struct {
	db    GroupDB
	view  GroupView
	opts  MoveOptions
	log   *slog.Logger
	http  *http.Client
	gates []groupGate

	mu    sync.Mutex
	pulls map[int]*pull // groups this node is receiving, by group
	swept []uint64      // by group, the epoch Sweep last handled it at

	metrics moveCounters
}

// groupGate serialises a moving group's writes with its tail (mu), and its
// drop with its reads (rd). Lock order: rd, then mu.
type groupGate struct {
	mu  sync.RWMutex
	rd  sync.RWMutex
	src *moveSource // set while the group is being copied away; guarded by mu
}

// NewMoves returns a node's side of group moves over db.
func NewMoves(db GroupDB, view GroupView, opts MoveOptions) *Moves {
	if opts.TailMaxBytes <= 0 {
		opts.TailMaxBytes = 256 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Moves{db: db, view: view, opts: opts, log: opts.Logger, http: newH2Client(opts.TLS),
		gates: make([]groupGate, db.NumGroups()), pulls: make(map[int]*pull), swept: make([]uint64, db.NumGroups())}
}

// StaleEpochError is a write's or read's answer when this node does not
// hold the group at the epoch the request carried (a 409 stale_epoch).
type StaleEpochError struct {
	Group int
	Epoch uint64
}

func (e *StaleEpochError) Error() string {
	return fmt.Sprintf("group %d: this node does not hold it at epoch %d", e.Group, e.Epoch)
}

// GroupWrite is one group's share of a write request.
type GroupWrite struct {
	Group  int
	Epoch  uint64
	Points []model.Point
}

// GroupDelete is one group's share of a delete request: its series.
type GroupDelete struct {
	Group  int
	Epoch  uint64
	Series []model.Tags
}

// Write applies a write request through apply (one storage.DB.Write of
// every group's points) once each group has passed the gate: groups being
// copied away are locked (taken in order of group), checked against the map
// and the copy — a group moving without a copy recording its writes, or
// fenced for the switch, fails the write with a *SwitchingError, one this
// node no longer holds at the write's epoch with a *StaleEpochError — and,
// once apply succeeded, their points are appended
// to their tail logs in the order the node applied them. Groups not moving
// take their gate shared.
func (m *Moves) Write(ws []GroupWrite, apply func() error) error {
	groups := make([]GroupEpoch, len(ws))
	for i := range ws {
		groups[i] = GroupEpoch{Group: ws[i].Group, Epoch: ws[i].Epoch}
	}
	tails, leave, err := m.enter(groups)
	defer leave()
	if err != nil {
		return err
	}
	if err := apply(); err != nil {
		return err
	}
	for i := range ws {
		if t := tails[ws[i].Group]; t != nil {
			t.appendWrite(ws[i].Points)
		}
	}
	return nil
}

// Delete applies a delete request of collection's series in [min, max]
// through apply (one storage.DB.Delete) once each group has passed the gate
// as in Write; the delete joins the tail logs of the groups being copied
// away.
func (m *Moves) Delete(collection string, ds []GroupDelete, min, max int64, apply func() error) error {
	groups := make([]GroupEpoch, len(ds))
	for i := range ds {
		groups[i] = GroupEpoch{Group: ds[i].Group, Epoch: ds[i].Epoch}
	}
	tails, leave, err := m.enter(groups)
	defer leave()
	if err != nil {
		return err
	}
	if err := apply(); err != nil {
		return err
	}
	for i := range ds {
		if t := tails[ds[i].Group]; t != nil {
			t.appendDelete(collection, ds[i].Series, min, max)
		}
	}
	return nil
}

// enter passes the gates of groups, in order of group: shared for a group
// not being copied away, exclusive (and returned with its tail) for one
// that is. leave releases them; it must be called also on error.
func (m *Moves) enter(groups []GroupEpoch) (tails map[int]*tailLog, leave func(), err error) {
	for _, ge := range groups {
		if ge.Group < 0 || ge.Group >= len(m.gates) {
			return nil, func() {}, fmt.Errorf("group %d outside [0, %d)", ge.Group, len(m.gates))
		}
	}
	slices.SortFunc(groups, func(a, b GroupEpoch) int { return a.Group - b.Group })
	groups = slices.CompactFunc(groups, func(a, b GroupEpoch) bool { return a.Group == b.Group })
	type held struct {
		gt   *groupGate
		excl bool
	}
	locked := make([]held, 0, len(groups))
	leave = func() {
		for _, h := range slices.Backward(locked) {
			if h.excl {
				h.gt.mu.Unlock()
			} else {
				h.gt.mu.RUnlock()
			}
		}
	}
	for _, ge := range groups {
		gt := &m.gates[ge.Group]
		gt.mu.RLock()
		if gt.src == nil {
			locked = append(locked, held{gt, false})
			if err := m.checkWrite(ge.Group, ge.Epoch, nil); err != nil {
				return nil, leave, err
			}
			continue
		}
		gt.mu.RUnlock()
		gt.mu.Lock()
		locked = append(locked, held{gt, true})
		if err := m.checkWrite(ge.Group, ge.Epoch, gt.src); err != nil {
			return nil, leave, err
		}
		if gt.src != nil {
			if tails == nil {
				tails = make(map[int]*tailLog)
			}
			tails[ge.Group] = gt.src.tail
		}
	}
	return tails, leave, nil
}

// checkWrite refuses a write of group g at epoch unless the map names this
// node its primary at that epoch and, while the map moves the group, src
// (the group's copy, nil if none) is that move's and not fenced: a write
// of a moving group is accepted only when the move's tail records it. (A
// node restarted during a move has lost its copy, so it refuses the
// group's writes until the move is given up: the move's switch may be
// under way.) The caller holds the group's gate, exclusively when src is
// not nil.
func (m *Moves) checkWrite(g int, epoch uint64, src *moveSource) error {
	info, ok := m.view.Group(g)
	if !ok || info.Primary != m.opts.NodeID || info.Epoch != epoch {
		return &StaleEpochError{Group: g, Epoch: epoch}
	}
	if info.State == StateMoving && (src == nil || src.move != info.Epoch || src.fenced) {
		m.metrics.refused.Add(1)
		return &SwitchingError{Group: g}
	}
	return nil
}

// Read admits a read of group g at epoch: it returns done, to be called
// when the read has finished, or a *StaleEpochError when the map does not
// name this node the group's primary at that epoch. A group this node
// gives up is dropped only once the reads admitted before are done. Reads
// do not hold up writes.
func (m *Moves) Read(g int, epoch uint64) (done func(), err error) {
	return m.ReadGroups([]GroupEpoch{{Group: g, Epoch: epoch}})
}

// GroupEpoch is a group and the epoch a request holds it at.
type GroupEpoch struct {
	Group int
	Epoch uint64
	// Replica lets a read of the group be served by a replica of it
	// (MoveOptions.ReplicaReady says when one can).
	Replica bool
}

// ReadGroups is Read of several groups at once (taken in order of group,
// as every caller must, so that drops waiting for reads cannot deadlock
// two readers): all are admitted, or none.
func (m *Moves) ReadGroups(gs []GroupEpoch) (done func(), err error) {
	gs = slices.Clone(gs)
	slices.SortFunc(gs, func(a, b GroupEpoch) int { return a.Group - b.Group })
	gs = slices.CompactFunc(gs, func(a, b GroupEpoch) bool { return a.Group == b.Group })
	held := make([]*groupGate, 0, len(gs))
	done = func() {
		for _, gt := range slices.Backward(held) {
			gt.rd.RUnlock()
		}
	}
	for _, ge := range gs {
		if ge.Group < 0 || ge.Group >= len(m.gates) {
			done()
			return nil, fmt.Errorf("group %d outside [0, %d)", ge.Group, len(m.gates))
		}
		if err := m.readable(ge, true); err != nil {
			// Refused without waiting for the gate.
			done()
			return nil, err
		}
		gt := &m.gates[ge.Group]
		gt.rd.RLock()
		held = append(held, gt)
		if err := m.readable(ge, false); err != nil {
			done()
			return nil, err
		}
	}
	return done, nil
}

// readable admits a read of ge when the map names this node its primary
// at its epoch, or (ge.Replica) a replica whose copy has caught up and is
// not being copied again; with refresh set, a request newer than the map
// makes the node catch up once first. It refuses with a *StaleEpochError
// or a *ReplicaNotReadyError.
func (m *Moves) readable(ge GroupEpoch, refresh bool) error {
	info, ok := m.view.Group(ge.Group)
	if refresh && (!ok || info.Epoch < ge.Epoch) {
		if err := m.view.Refresh(); err != nil {
			m.log.Warn("refresh the cluster map", "err", err)
		}
		info, ok = m.view.Group(ge.Group)
	}
	switch {
	case !ok || info.Epoch != ge.Epoch:
	case info.Primary == m.opts.NodeID:
		return nil
	case ge.Replica && slices.Contains(info.Replicas, m.opts.NodeID):
		m.mu.Lock()
		copying := m.pulls[ge.Group] != nil
		m.mu.Unlock()
		if copying || m.opts.ReplicaReady == nil || !m.opts.ReplicaReady(ge.Group) {
			return &ReplicaNotReadyError{Group: ge.Group}
		}
		return nil
	}
	return &StaleEpochError{Group: ge.Group, Epoch: ge.Epoch}
}

// Sweep drops what this node holds but no longer has a part in: the data
// of every group whose map entry names this node neither its primary, nor
// a replica, nor the node it moves to (the old primary after a move, the
// new one after a move failed or after a restart), and the copy state of
// moves the map has ended. A group is dropped under its gate, so reads
// admitted at an epoch that named this node finish first. Call it when the
// map changes and when the node starts. With all unset, it looks only at
// the groups whose epoch changed since it last handled them.
func (m *Moves) Sweep(ctx context.Context, all bool) error {
	var errs []error
	for g := range m.gates {
		info, ok := m.view.Group(g)
		if !ok {
			continue
		}
		m.mu.Lock()
		seen := m.swept[g]
		m.mu.Unlock()
		if !all && seen == info.Epoch {
			continue
		}
		m.sweepSource(g, info)
		m.sweepPull(g, info)
		if !m.partOf(info) {
			has, err := m.db.HoldsGroup(g)
			if err == nil && has {
				err = m.dropGroup(ctx, g)
			}
			if err != nil {
				errs = append(errs, err)
				continue // again next time
			}
		}
		m.mu.Lock()
		m.swept[g] = info.Epoch
		m.mu.Unlock()
	}
	return errors.Join(errs...)
}

// partOf reports whether the map entry gives this node a part in the group.
func (m *Moves) partOf(info GroupInfo) bool {
	self := m.opts.NodeID
	if info.Primary == self || (info.State != "" && info.MovingTo == self) {
		return true
	}
	for _, r := range info.Replicas {
		if r == self {
			return true
		}
	}
	return false
}

// dropGroup drops group g's data under its gate once the map, read again
// under it, still gives this node no part in it.
func (m *Moves) dropGroup(ctx context.Context, g int) error {
	gt := &m.gates[g]
	gt.rd.Lock()
	defer gt.rd.Unlock()
	gt.mu.Lock()
	defer gt.mu.Unlock()
	info, ok := m.view.Group(g)
	if !ok || m.partOf(info) {
		return nil
	}
	if err := m.db.DropGroup(ctx, g); err != nil {
		return fmt.Errorf("drop group %d: %w", g, err)
	}
	m.metrics.drops.Add(1)
	m.log.Info("dropped a group this node no longer holds", "group", g, "epoch", info.Epoch, "primary", info.Primary)
	return nil
}

// RunSweeps sweeps every group at start and every interval, and the
// groups whose epoch changed whenever changed() (a channel closed at the
// map's next change, as coord.View.Changed) fires, until ctx ends.
func (m *Moves) RunSweeps(ctx context.Context, changed func() <-chan struct{}, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	all := true
	for {
		ch := changed()
		if err := m.Sweep(ctx, all); err != nil && ctx.Err() == nil {
			m.log.Warn("sweep groups", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
			all = false
		case <-t.C:
			all = true
		}
	}
}
