package remote

// Route is where one group's writes and reads go: its primary node and the
// epoch at which that node holds it.
type Route struct {
	Group int
	// Node is the primary's node id; Addr its base URL
	// ("http://127.0.0.1:7001"), reached with cleartext HTTP/2.
	Node, Addr string
	// Epoch is the group's epoch in the cluster map. A storage node refuses
	// a write or read carrying an epoch other than the one it holds the
	// group at (a stale primary or a stale router).
	Epoch uint64
}

// Topology is the cluster map as a router or storage node currently sees
// it (package coord keeps it in etcd and watches it). Implementations are
// safe for concurrent use; every call answers from the latest map seen.
type Topology interface {
	// NumGroups is the cluster's fixed number of groups.
	NumGroups() int
	// ShardTag is the tag whose value names a point's device (see
	// model.GroupOf).
	ShardTag() string
	// Route returns where group g is served; ok is false when the group has
	// no primary that is up.
	Route(g int) (r Route, ok bool)
	// Refresh returns once the map is at least as new as etcd's at the
	// time of the call (after a storage node answered "stale epoch").
	Refresh() error
}

// ReplicaTopology is a Topology that also names each group's replicas. A
// router reads a replica when the query allows it (planner.Options.
// AnyReplica, consistency=any) and, whatever the query says, when the
// group's primary is down or cannot be reached (during a failover).
type ReplicaTopology interface {
	Topology
	// Replicas returns the replicas of group g that are up, at the
	// group's epoch, in the map's order.
	Replicas(g int) []Route
}
