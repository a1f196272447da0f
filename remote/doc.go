// Package remote is the network between a cluster's router and its storage
// nodes: the internal HTTP/2 (cleartext) API a storage node serves over its
// storage.DB, and the router's client, which implements the external API's
// Store (writes split by group, the planner's read interface answered by the
// nodes owning the groups a query can touch), and online group moves
// between storage nodes (move*.go: a node's Moves, the coordinator's
// Mover). It knows the cluster map only through Topology and, for moves,
// GroupView and GroupUpdater; package coord keeps that map in etcd.
package remote
