// What group moves need of a node's storage engine, and storage.DB as it.

package remote

import (
	"context"
	"slices"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
)

// GroupDB is what group moves need of a node's storage.DB (StorageGroups
// adapts one).
type GroupDB interface {
	// NumGroups is the number of groups devices hash into.
	NumGroups() int
	// Write makes points durable and visible (storage.DB.Write).
	Write(ctx context.Context, points []model.Point) error
	// Delete deletes series' points in [min, max] (storage.DB.Delete).
	Delete(ctx context.Context, collection string, series []model.Tags, min, max int64) error
	// SnapshotGroup flushes group g and pins its files until the snapshot
	// is closed.
	SnapshotGroup(ctx context.Context, g int) (GroupFiles, error)
	// ImportGroup installs a snapshot of group g taken on another node;
	// the snapshot's data ranks older than what the node holds of g.
	ImportGroup(ctx context.Context, g int, src ImportSource) error
	// DropGroup removes every file and point of group g, durably.
	DropGroup(ctx context.Context, g int) error
	// HoldsGroup reports whether the node holds any data of group g.
	HoldsGroup(g int) (bool, error)
	// SetApplied records, durably, that the node holds group g's
	// replication stream up to seq (storage.DB.SetApplied): a moved
	// group's position, so that its new primary follows the stream on
	// from there rather than copying it again.
	SetApplied(g int, seq uint64) error
}

// GroupFile is one file of a group snapshot.
type GroupFile = storage.GroupFile

// ImportSource is a group snapshot as ImportGroup reads it.
type ImportSource = storage.ImportSource

// GroupFiles is a pinned snapshot of one group's files.
type GroupFiles interface {
	ImportSource
	// Close unpins the files.
	Close() error
}

// StorageGroups returns db as a GroupDB.
func StorageGroups(db *storage.DB) GroupDB { return storageGroups{db} }

type storageGroups struct{ *storage.DB }

func (s storageGroups) SnapshotGroup(ctx context.Context, g int) (GroupFiles, error) {
	snap, err := s.DB.SnapshotGroup(ctx, g)
	if err != nil {
		return nil, err
	}
	return snap, nil
}

func (s storageGroups) ImportGroup(ctx context.Context, g int, src ImportSource) error {
	return s.DB.ImportGroup(ctx, g, src)
}

func (s storageGroups) HoldsGroup(g int) (bool, error) {
	return slices.Contains(s.DB.HeldGroups(), g), nil
}
