// What group moves need of a node's storage engine, and storage.DB as it.

package remote

import (
	"context"
	"io"

	"github.com/soltixdb/soltix/model"
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
}

// GroupFile is one file of a group snapshot.
type GroupFile struct {
	Path string
	Size int64
}

// ImportSource is a group snapshot as ImportGroup reads it.
type ImportSource interface {
	// Files lists the snapshot's files: slash-separated paths and sizes.
	Files() []GroupFile
	// Open opens one of the files for reading.
	Open(path string) (io.ReadCloser, error)
}

// GroupFiles is a pinned snapshot of one group's files.
type GroupFiles interface {
	ImportSource
	// Close unpins the files.
	Close() error
}
