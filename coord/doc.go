// Package coord is the cluster's only client of etcd: node registration
// under leases, the cluster map (group → primary, replicas, epoch) changed
// by compare-and-swap transactions and watched by every process, the
// election of the one coordinator that places groups on live nodes,
// collection settings shared by every node, and the API tokens' digests
// shared by every router. docs/cluster.md lists its keys,
// their encodings and its transactions; keys.go is the code's copy.
//
// A process calls Open (which creates the cluster on first use, with its
// num_groups, replication factor and shard tag fixed from then on), then:
//
//   - a storage node calls Register and watches Registration.Lost;
//   - every process calls Watch for the View, which implements
//     remote.Topology (Route answers from an immutable snapshot swapped on
//     each change, without a lock) and offers Map and Changed;
//   - the processes that may coordinate call RunCoordinator with a Mover
//     (the group copy, which another package implements); one of them is
//     elected and places the groups (rendezvous hashing, Place);
//   - settings go through PutSettings and reach every process's OnSettings;
//     tokens go through PutToken and DeleteToken and reach OnTokens.
//
// The map changes only through UpdateGroup, a compare-and-swap on one
// group's key that bumps the group's epoch. No per-device or per-series
// data lives in etcd.
package coord
