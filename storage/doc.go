// Package storage is the single-node storage engine: it coordinates the
// write-ahead log (storage/wal), the in-memory buffer that queries read at
// once, flushes of that buffer to immutable columnar files (storage/colfile)
// per collection, group and time partition, the series and tag index, and
// the per-collection field schema. It implements planner.Source for reads.
//
// A write is durable when Write returns: it is in the WAL (fsynced, with
// group commit across concurrent writers) and in memory. Flush moves memory
// into files and then drops the WAL segments it covered. On Open the files
// are indexed and the WAL is replayed into memory.
//
// Devices are hashed into a fixed number of groups (model.GroupOf); the
// group is what a cluster places on nodes and moves between them, and
// DB has group operations for it (group.go: addressing and counters;
// group_snapshot.go, group_import.go, group_drop.go: a move's sender,
// receiver and old owner; applied.go: a replica's replication position,
// written in the same WAL record as each change it applies).
//
// With a cold store (Options.Cold, package storage/cold), files whose
// collection's ColdAfter has passed move to object storage (Tier,
// cold_tier.go) and are read from there through the same reader; the
// node's durable list of them is cold/list (cold_list.go).
package storage
