package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/soltixdb/soltix/replication"
)

// replicaMap is the cluster map as a storage node's replication sees it.
type replicaMap struct{ coordGroups }

func (m replicaMap) NumGroups() int           { return m.view.NumGroups() }
func (m replicaMap) Changed() <-chan struct{} { return m.view.Changed() }

// startReplication connects a storage node to NATS (cluster.nats) and
// starts its replication: leads of the groups it is primary of, followers
// of those it replicates (docs/replication.md). Without cluster.nats the
// node runs unreplicated. NATS not answering yet is waited for, as etcd
// is, until ctx ends.
func (n *storageNode) startReplication(ctx context.Context) error {
	if len(n.cfg.Cluster.NATS) == 0 {
		n.log.Info("replication off: no cluster.nats; groups have no copies")
		return nil
	}
	wait := 100 * time.Millisecond
	for {
		r, err := replication.Open(ctx, replication.Options{URLs: n.cfg.Cluster.NATS, Cluster: n.cfg.Cluster.Name,
			Node: n.cfg.Node.ID, Log: n.log})
		if err == nil {
			n.repl = r
			break
		}
		if ctx.Err() != nil {
			return err
		}
		n.log.Warn("cannot reach NATS; retrying", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
	n.log.Info("replication on", "nats", n.cfg.Cluster.NATS)
	return nil
}

// runReplication starts the node's leads and followers once its moves
// exist: a replica copies a group through them (remote.Moves.CopyReplica),
// and a primary's snapshot for it asks the replication for its position.
func (n *storageNode) runReplication() {
	if n.repl == nil {
		return
	}
	n.replNode = n.repl.RunNode(replication.NodeOptions{Map: replicaMap{coordGroups{n.co, n.view}},
		Store: replication.DBStore{DB: n.db}, Copy: n.moves.CopyReplica})
}

// replicaPosition is remote.MoveOptions.Position: nil without replication.
func (n *storageNode) replicaPosition() func(context.Context, int, func() error) (uint64, error) {
	if n.repl == nil {
		return nil
	}
	return func(ctx context.Context, g int, snapshot func() error) (uint64, error) {
		rn := n.replNode
		if rn == nil {
			return 0, fmt.Errorf("group %d: replication is starting: %w", g, replication.ErrNotLeading)
		}
		return rn.Snapshot(ctx, g, snapshot)
	}
}

// replicaReady is remote.MoveOptions.ReplicaReady: nil (replicas never
// read) without replication.
func (n *storageNode) replicaReady() func(int) bool {
	if n.repl == nil {
		return nil
	}
	return func(g int) bool {
		rn := n.replNode
		return rn != nil && rn.Readable(g)
	}
}

// stopReplication stops leads and followers and closes the connection.
func (n *storageNode) stopReplication() {
	if n.replNode != nil {
		n.replNode.Close()
		n.replNode = nil
	}
	if n.repl != nil {
		n.repl.Close()
		n.repl = nil
	}
}

// writeReplicationMetrics writes the node's replication per group: its
// role, the last stream sequence it published or applied, and for a
// replica the messages it has yet to apply and how old the last applied
// one is.
func writeReplicationMetrics(b *bytes.Buffer, st []replication.GroupStatus) {
	fam := func(name, typ, help string) {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	fam("soltix_replication_last_sequence", "gauge", "Stream sequence of the group's last message this node published (primary) or applied (replica).")
	for _, s := range st {
		fmt.Fprintf(b, "soltix_replication_last_sequence{group=\"%d\",role=\"%s\"} %d\n", s.Group, s.Role, s.Last)
	}
	fam("soltix_replication_pending_messages", "gauge", "Messages of the group a replica has yet to apply.")
	for _, s := range st {
		if s.Role == "replica" {
			fmt.Fprintf(b, "soltix_replication_pending_messages{group=\"%d\"} %d\n", s.Group, s.Pending)
		}
	}
	fam("soltix_replication_lag_seconds", "gauge", "How long ago the message a replica applied last was stored, while messages are pending (0 when none).")
	for _, s := range st {
		if s.Role == "replica" {
			fmt.Fprintf(b, "soltix_replication_lag_seconds{group=\"%d\"} %s\n", s.Group, strconv.FormatFloat(s.LagSeconds, 'g', -1, 64))
		}
	}
	fam("soltix_replication_readable", "gauge", "1 for a group a replica answers reads of (consistency=any, failovers): caught up with the stream since it started and not copying.")
	for _, s := range st {
		if s.Role == "replica" {
			v := 0
			if s.Readable {
				v = 1
			}
			fmt.Fprintf(b, "soltix_replication_readable{group=\"%d\"} %d\n", s.Group, v)
		}
	}
	fam("soltix_replication_group_errors", "gauge", "1 for a group whose lead or follower is stopped or retrying after an error (the log says why).")
	for _, s := range st {
		v := 0
		if s.Err != "" {
			v = 1
		}
		fmt.Fprintf(b, "soltix_replication_group_errors{group=\"%d\",role=\"%s\"} %d\n", s.Group, s.Role, v)
	}
}

// writeNodeReplication appends the node's replication families to
// /metrics, when it replicates.
func (n *storageNode) writeNodeReplication(b *bytes.Buffer) {
	rn := n.replNode
	if rn == nil {
		return
	}
	writeReplicationMetrics(b, rn.Status())
	fmt.Fprintf(b, "# HELP soltix_replication_copies_total Groups this node copied from their primary for its replicas (a gap, or nothing to start from).\n# TYPE soltix_replication_copies_total counter\nsoltix_replication_copies_total %d\n", rn.Copies())
}

// PathApplied answers a storage node's replication position of a group:
// GET /internal/v1/groups/{g}/applied → {"group": g, "applied": N}. The
// coordinator asks it of a down primary's replicas before it promotes one.
const pathApplied = "/internal/v1/groups/{g}/applied"

func (n *storageNode) serveApplied(w http.ResponseWriter, r *http.Request) {
	g, err := strconv.Atoi(r.PathValue("g"))
	if err != nil || g < 0 || g >= n.db.NumGroups() {
		http.Error(w, `{"error":"group out of range"}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"group":%d,"applied":%d}`+"\n", g, n.db.Applied(g))
}

// promoter is coord.Promoter over the nodes' internal API.
type promoter struct {
	n      *storageNode
	client *http.Client
}

func (p promoter) Applied(ctx context.Context, node string, g int) (uint64, error) {
	if p.n.view == nil {
		return 0, fmt.Errorf("node %s: the map is not watched yet", node)
	}
	addr, ok := coordGroups{view: p.n.view}.NodeAddr(node)
	if !ok {
		return 0, fmt.Errorf("node %s has no address", node)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr+"/internal/v1/groups/"+strconv.Itoa(g)+"/applied", nil)
	if err != nil {
		return 0, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var a struct {
		Applied uint64 `json:"applied"`
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("node %s: %s", node, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&a); err != nil {
		return 0, fmt.Errorf("node %s: %w", node, err)
	}
	return a.Applied, nil
}

// pathReplication answers a storage node's replication per group: GET
// /internal/v1/replication → {"node", "groups": [{"group", "role", "last",
// "pending", "lag_seconds", "error"}]} (no groups without replication). A
// router merges the nodes' answers into GET /api/v1/cluster.
const pathReplication = "/internal/v1/replication"

// replicationStatus is the answer of pathReplication.
type replicationStatus struct {
	Node   string                   `json:"node"`
	Groups []replicationGroupStatus `json:"groups"`
}

type replicationGroupStatus struct {
	Group      int     `json:"group"`
	Role       string  `json:"role"`
	Last       uint64  `json:"last"`
	Pending    uint64  `json:"pending"`
	LagSeconds float64 `json:"lag_seconds"`
	// Readable: a replica answering reads (caught up since it started).
	Readable bool   `json:"readable,omitempty"`
	Error    string `json:"error,omitempty"`
}

func (n *storageNode) serveReplication(w http.ResponseWriter, _ *http.Request) {
	st := replicationStatus{Node: n.cfg.Node.ID, Groups: []replicationGroupStatus{}}
	if rn := n.replNode; rn != nil {
		for _, g := range rn.Status() {
			st.Groups = append(st.Groups, replicationGroupStatus{Group: g.Group, Role: g.Role, Last: g.Last,
				Pending: g.Pending, LagSeconds: g.LagSeconds, Readable: g.Readable, Error: g.Err})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st) //nolint:errcheck // the client went away
}
