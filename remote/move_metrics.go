// Counters of a node's and of the coordinator's part in group moves.

package remote

import "sync/atomic"

// MoveMetrics counts a storage node's part in group moves.
type MoveMetrics struct {
	// Snapshots counts copies begun here for another node; FileBytesSent
	// the snapshot bytes sent; TailBatchesSent the tail batches sent.
	Snapshots       uint64
	FileBytesSent   uint64
	TailBatchesSent uint64
	// PullsDone and PullsFailed count the copies this node took (and
	// caught up) or gave up; TailBatchesApplied the tail batches it wrote.
	PullsDone          uint64
	PullsFailed        uint64
	TailBatchesApplied uint64
	// WritesRefused counts writes of a moving group refused here (copy
	// not begun, or fenced for the switch).
	WritesRefused uint64
	// GroupsDropped counts groups dropped because the map no longer gives
	// them to this node, or their move here ended.
	GroupsDropped uint64
}

type moveCounters struct {
	snapshots, fileBytesSent, tailSent                  atomic.Uint64
	pullsDone, pullsFailed, tailApplied, refused, drops atomic.Uint64
}

// Metrics returns the node's move counters.
func (m *Moves) Metrics() MoveMetrics {
	c := &m.metrics
	return MoveMetrics{
		Snapshots: c.snapshots.Load(), FileBytesSent: c.fileBytesSent.Load(), TailBatchesSent: c.tailSent.Load(),
		PullsDone: c.pullsDone.Load(), PullsFailed: c.pullsFailed.Load(), TailBatchesApplied: c.tailApplied.Load(),
		WritesRefused: c.refused.Load(), GroupsDropped: c.drops.Load(),
	}
}

// MoverMetrics counts the moves a coordinator's Mover made.
type MoverMetrics struct {
	// Moved counts moves that switched the group; Failed those that did
	// not (RolledBack of them were rolled back in the map by this mover).
	Moved, Failed, RolledBack uint64
}

type moverCounters struct {
	moved, failed, rolledBack atomic.Uint64
}

// Metrics returns the mover's counters.
func (mv *Mover) Metrics() MoverMetrics {
	return MoverMetrics{Moved: mv.metrics.moved.Load(), Failed: mv.metrics.failed.Load(), RolledBack: mv.metrics.rolledBack.Load()}
}
