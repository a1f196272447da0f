package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Copies for replicas.
//
// A replica that holds nothing of a group its primary has data of, that
// fell behind what the replication stream keeps, or whose copy was wiped,
// copies the group's files from the primary (CopyReplica) and then follows
// the stream from the position the copy holds everything up to.
//
//	POST /internal/v1/groups/{g}/replica-snapshot?epoch=E&to=R
//
// asks the primary, at the epoch E at which the map names it g's primary
// and R a replica, for a snapshot: the primary runs MoveOptions.Position
// (replication: with g's writes held, every change applied so far
// published) around storage's SnapshotGroup, pins the files, and answers
// them with the position (JSON replicaSnapshotAnswer). R then streams the
// files as a move does (GET …/files/<path>?epoch=E&move=E), imports them
// and asks the primary to unpin them (POST …/abort?epoch=E&move=E). A copy
// left unfinished is unpinned when the map's entry changes or after
// CopyTimeout.

// PathReplicaSnapshot is the route of a replica's snapshot request.
const PathReplicaSnapshot = "/internal/v1/groups/{g}/replica-snapshot"

// replicaSnapshotAnswer is the primary's answer: the snapshot's files and
// the replication position they hold everything up to.
type replicaSnapshotAnswer struct {
	Move     uint64      `json:"move"`
	Files    []GroupFile `json:"files"`
	Position uint64      `json:"position"`
}

// ReplicaCopyTimeout bounds how long a primary keeps a replica's snapshot
// pinned.
const ReplicaCopyTimeout = 30 * time.Minute

// ErrNoPosition is returned (wrapped) by a replica snapshot of a node that
// has no MoveOptions.Position (replication off).
var ErrNoPosition = errors.New("this node does not replicate")

// serveReplicaSnapshot serves PathReplicaSnapshot.
func (m *Moves) serveReplicaSnapshot(w http.ResponseWriter, r *http.Request) {
	p, err := m.params(r)
	if err != nil {
		moveBadRequest(w, err)
		return
	}
	info, ok := m.entryAt(p.g, p.epoch)
	if !ok || info.Primary != m.opts.NodeID || info.State != "" || p.to == "" || !slices.Contains(info.Replicas, p.to) {
		m.staleEpoch(w, p.g, p.epoch, info)
		return
	}
	if m.opts.Position == nil {
		moveJSON(w, http.StatusServiceUnavailable, moveError{Error: fmt.Sprintf("group %d: %v", p.g, ErrNoPosition), Code: "unavailable"})
		return
	}
	src := &moveSource{move: p.epoch, to: p.to, replica: true}
	gt := &m.gates[p.g]
	gt.mu.Lock()
	if old := gt.src; old != nil {
		if !old.replica || old.to != p.to {
			gt.mu.Unlock()
			moveJSON(w, http.StatusConflict, moveError{Error: fmt.Sprintf("group %d is being copied already", p.g), Code: "busy", Groups: []int{p.g}})
			return
		}
		// The same replica asks again (it restarted, or gave up on its
		// copy): its earlier copy is over.
		old.close()
	}
	gt.src = src
	gt.mu.Unlock()
	var snap GroupFiles
	pos, err := m.opts.Position(r.Context(), p.g, func() error {
		var err error
		snap, err = m.db.SnapshotGroup(r.Context(), p.g)
		return err
	})
	if err != nil {
		if snap != nil {
			snap.Close() //nolint:errcheck // unpinning only
		}
		m.endSource(p.g, src)
		moveJSON(w, http.StatusServiceUnavailable, moveError{Error: fmt.Sprintf("snapshot group %d for a replica: %v", p.g, err), Code: "unavailable"})
		return
	}
	files, ok := m.keepSnapshot(w, p, src, snap, "copy")
	if !ok {
		return
	}
	time.AfterFunc(ReplicaCopyTimeout, func() { m.endSource(p.g, src) })
	m.log.Info("group snapshot for a replica", "group", p.g, "to", p.to, "epoch", p.epoch, "files", len(files), "position", pos)
	moveJSON(w, http.StatusOK, replicaSnapshotAnswer{Move: p.epoch, Files: files, Position: pos})
}

// CopyReplica copies group g from its primary, replacing what this node
// holds of it, and returns the replication position the copy holds
// everything up to. The map must name this node a replica of g.
func (m *Moves) CopyReplica(ctx context.Context, g int) (uint64, error) {
	info, ok := m.view.Group(g)
	if !ok || !slices.Contains(info.Replicas, m.opts.NodeID) || info.State != "" {
		return 0, fmt.Errorf("group %d: the map does not name %s a replica of it (%+v)", g, m.opts.NodeID, info)
	}
	addr, ok := m.view.NodeAddr(info.Primary)
	if !ok {
		return 0, fmt.Errorf("group %d: node %q has no address in the map", g, info.Primary)
	}
	pctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pl := &pull{move: info.Epoch, source: info.Primary, addr: addr, ctx: pctx, cancel: cancel, replica: true}
	gt := &m.gates[g]
	// Replica reads admitted before finish first; later ones see the
	// copy and are refused until the replica follows again.
	gt.rd.Lock()
	gt.mu.Lock()
	m.mu.Lock()
	if old := m.pulls[g]; old != nil {
		m.mu.Unlock()
		gt.mu.Unlock()
		gt.rd.Unlock()
		return 0, fmt.Errorf("group %d is being copied here already", g)
	}
	m.pulls[g] = pl
	m.mu.Unlock()
	err := m.db.DropGroup(ctx, g)
	gt.mu.Unlock()
	gt.rd.Unlock()
	defer func() {
		m.mu.Lock()
		if m.pulls[g] == pl {
			delete(m.pulls, g)
		}
		m.mu.Unlock()
	}()
	if err != nil {
		return 0, fmt.Errorf("drop group %d before a copy: %w", g, err)
	}
	ctx, stop := mergeCancel(ctx, pctx)
	defer stop()
	q := url.Values{"epoch": {strconv.FormatUint(info.Epoch, 10)}, "to": {m.opts.NodeID}}
	var snap replicaSnapshotAnswer
	if err := m.callJSON(ctx, http.MethodPost, addr+groupPath(g, "replica-snapshot")+"?"+q.Encode(), &snap); err != nil {
		return 0, fmt.Errorf("snapshot group %d on %s: %w", g, info.Primary, err)
	}
	defer m.tellAbort(pl, g, info.Epoch) // unpins the primary's snapshot
	src := &remoteSource{m: m, ctx: ctx, g: g, pl: pl, files: snap.Files}
	if err := m.importUnderGate(ctx, g, pl, src); err != nil {
		if derr := m.db.DropGroup(context.Background(), g); derr != nil {
			m.log.Warn("drop a failed replica copy", "group", g, "err", derr)
		}
		return 0, err
	}
	m.log.Info("copied a group for its replica", "group", g, "source", info.Primary, "epoch", info.Epoch,
		"files", src.got, "bytes", src.bytes, "position", snap.Position)
	return snap.Position, nil
}
