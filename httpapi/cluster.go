package httpapi

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// The cluster status route, GET /api/v1/cluster. A router sets
// Options.Cluster; on `soltix serve` it is nil and the route answers 404,
// so a client (the console among them) tells a single node from a router.

// Node states of ClusterNode.State.
const (
	// NodeUp is a node registered in the cluster whose lease is alive.
	NodeUp = "up"
	// NodeDown is a node named by the cluster map whose lease has expired
	// (or that never registered).
	NodeDown = "down"
)

// Group states of ClusterGroup.State.
const (
	// GroupOK is a group whose primary is up and that is not moving.
	GroupOK = "ok"
	// GroupMoving is a group being copied to another node (MovingTo); it
	// is served by its primary until the map switches at a new epoch.
	GroupMoving = "moving"
	// GroupUnavailable is a group whose primary is down or unknown:
	// writes to it and queries touching it answer 503.
	GroupUnavailable = "unavailable"
)

// ClusterStatus is the answer of GET /api/v1/cluster: the cluster's fixed
// parameters, its storage nodes and its group map as the router sees them.
type ClusterStatus struct {
	// Name is the cluster's name (cluster.name; the etcd key prefix).
	Name string `json:"name"`
	// NumGroups is the number of groups, fixed when the cluster was
	// created.
	NumGroups int `json:"num_groups"`
	// ReplicationFactor is the number of copies of each group.
	ReplicationFactor int `json:"replication_factor"`
	// Replication is "nats" when the cluster replicates groups to their
	// replicas over NATS JetStream (cluster.nats), "off" when it runs
	// unreplicated (replicas are placed but hold nothing), "" on serve.
	Replication string `json:"replication,omitempty"`
	// Nodes are the storage nodes, registered or named by the map.
	Nodes []ClusterNode `json:"nodes"`
	// Groups is the map, one entry per group.
	Groups []ClusterGroup `json:"groups"`
}

// ClusterNode is one storage node of a ClusterStatus.
type ClusterNode struct {
	// ID is the node's id (node.id).
	ID string `json:"id"`
	// Addr is the address the node advertises for the internal API.
	Addr string `json:"addr"`
	// State is NodeUp or NodeDown; the handler answers any other value
	// as NodeDown.
	State string `json:"state"`
	// Groups is how many groups name the node as primary or replica. The
	// handler counts it from Groups; a hook need not set it.
	Groups int `json:"groups"`
}

// ClusterGroup is one group of the map.
type ClusterGroup struct {
	// ID is the group, 0..NumGroups-1.
	ID int `json:"id"`
	// Primary is the id of the node that takes the group's writes.
	Primary string `json:"primary"`
	// Replicas are the ids of the nodes holding copies (never the
	// primary); empty with a replication factor of 1.
	Replicas []string `json:"replicas"`
	// Epoch is the group's epoch, raised by every change of its owner.
	Epoch uint64 `json:"epoch"`
	// State is GroupOK, GroupMoving or GroupUnavailable. When a hook
	// leaves it empty (or sets another value), the handler derives it: unavailable when the
	// primary is not an up node, else moving when MovingTo is set, else ok.
	State string `json:"state"`
	// MovingTo is the node the group is being moved to, if any.
	MovingTo string `json:"moving_to,omitempty"`
	// Copies is the group's replication as its nodes report it (only
	// with replication; a node that does not answer is left out).
	Copies []ClusterCopy `json:"copies,omitempty"`
}

// ClusterCopy is one node's copy of a group, as the node reports it.
type ClusterCopy struct {
	Node string `json:"node"`
	// Role is "primary" or "replica".
	Role string `json:"role"`
	// Last is the replication stream's sequence of the group's last
	// message the node published (primary) or applied (replica).
	Last uint64 `json:"last"`
	// Pending is how many messages a replica has yet to apply, and
	// LagSeconds how long ago the one it applied last was stored (0 when
	// none is pending).
	Pending    uint64  `json:"pending"`
	LagSeconds float64 `json:"lag_seconds"`
	// Error says why the node's lead or follower of the group is stopped
	// or retrying.
	Error string `json:"error,omitempty"`
}

// NodeMetrics are a router's counters for one storage node, served on
// /metrics with a node label. They count since the router started.
type NodeMetrics struct {
	// Node is the node's id.
	Node string
	// Addr is its address (not a label: it is shown by /api/v1/cluster).
	Addr string
	// Fragments counts the query fragments (reads of one plan segment)
	// sent to the node.
	Fragments uint64
	// WriteRequests counts the write requests sent to the node.
	WriteRequests uint64
	// BytesSent and BytesReceived count request and answer bytes
	// exchanged with the node.
	BytesSent, BytesReceived uint64
	// Aggregates counts the query fragments the node aggregated itself.
	Aggregates uint64
	// Errors counts requests to the node that failed (unreachable, 5xx,
	// stale epoch, bad answer).
	Errors uint64
}

// clusterStatusTimeout bounds a call of Options.Cluster.
const clusterStatusTimeout = 5 * time.Second

// errNotRouter is the 404 message of /api/v1/cluster on a single node.
const errNotRouter = "not a cluster router: this server is a single node (soltix serve)"

// cluster serves GET /api/v1/cluster.
func (s *server) cluster(w http.ResponseWriter, r *http.Request) {
	st, code, msg := s.clusterStatus(r.Context())
	if code != http.StatusOK {
		if code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		}
		writeError(w, code, msg)
		return
	}
	b, err := json.Marshal(st)
	if err != nil {
		s.log.ErrorContext(r.Context(), "cluster status", "err", err)
		writeError(w, http.StatusInternalServerError, "cluster status: "+err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, b)
}

// clusterStatus calls Options.Cluster and completes its answer; it returns
// the HTTP status and message of a failure.
func (s *server) clusterStatus(ctx context.Context) (*ClusterStatus, int, string) {
	if s.opts.Cluster == nil {
		return nil, http.StatusNotFound, errNotRouter
	}
	ctx, cancel := context.WithTimeout(ctx, clusterStatusTimeout)
	defer cancel()
	st, err := s.opts.Cluster(ctx)
	if err != nil {
		return nil, http.StatusServiceUnavailable, "cluster status: " + err.Error()
	}
	if st == nil {
		return nil, http.StatusServiceUnavailable, "cluster status: no cluster map yet"
	}
	return completeStatus(st), http.StatusOK, ""
}

// completeStatus returns a copy of st sorted (nodes by id, groups by id),
// with empty lists instead of nil, node group counts counted, node states
// other than up made down, and group states derived where the hook left
// them empty (or set one not documented). It does not modify st, which
// the hook may share.
func completeStatus(st *ClusterStatus) *ClusterStatus {
	out := *st
	out.Nodes = slices.Clone(st.Nodes)
	if out.Nodes == nil {
		out.Nodes = []ClusterNode{}
	}
	out.Groups = slices.Clone(st.Groups)
	if out.Groups == nil {
		out.Groups = []ClusterGroup{}
	}
	slices.SortFunc(out.Nodes, func(a, b ClusterNode) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(out.Groups, func(a, b ClusterGroup) int { return cmp.Compare(a.ID, b.ID) })

	up := make(map[string]bool, len(out.Nodes))
	count := make(map[string]int, len(out.Nodes))
	for i := range out.Nodes {
		if out.Nodes[i].State != NodeUp {
			out.Nodes[i].State = NodeDown
		}
		up[out.Nodes[i].ID] = out.Nodes[i].State == NodeUp
	}
	for i := range out.Groups {
		g := &out.Groups[i]
		if g.Replicas == nil {
			g.Replicas = []string{}
		} else {
			g.Replicas = slices.Clone(g.Replicas)
		}
		if g.Primary != "" {
			count[g.Primary]++
		}
		for _, r := range g.Replicas {
			if r != g.Primary {
				count[r]++
			}
		}
		if g.State != GroupOK && g.State != GroupMoving && g.State != GroupUnavailable {
			switch {
			case !up[g.Primary]:
				g.State = GroupUnavailable
			case g.MovingTo != "":
				g.State = GroupMoving
			default:
				g.State = GroupOK
			}
		}
	}
	for i := range out.Nodes {
		out.Nodes[i].Groups = count[out.Nodes[i].ID]
	}
	return &out
}
