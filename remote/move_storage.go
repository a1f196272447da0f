// What group moves need of a node's storage engine.

package remote

import (
	"context"
	"io"

	"github.com/soltixdb/soltix/model"
)

// GroupDB is what group moves need of a node's storage.DB.
type GroupDB interface {
	// NumGroups is the number of groups devices hash into.
	NumGroups() int
	// Write makes points durable and visible (storage.DB.Write).
	Write(ctx context.Context, points []model.Point) error
	// SnapshotGroup flushes group g and pins its files until the snapshot
	// is closed.
	SnapshotGroup(ctx context.Context, g int) (GroupFiles, error)
	// ImportGroup installs the files of group g gathered below dir (the
	// paths GroupFiles named); the node holds nothing of g before.
	ImportGroup(ctx context.Context, g int, dir string) error
	// DropGroup removes every file and point of group g, durably.
	DropGroup(ctx context.Context, g int) error
	// HoldsGroup reports whether the node holds any data of group g.
	HoldsGroup(g int) (bool, error)
}

// GroupFiles is a pinned snapshot of one group's files.
type GroupFiles interface {
	// Files lists the snapshot's files: paths relative to the data
	// directory, with their sizes.
	Files() []GroupFile
	// Open opens one of the files for reading.
	Open(path string) (io.ReadCloser, error)
	// Close unpins the files.
	Close() error
}

// GroupFile is one file of a group snapshot.
type GroupFile struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}
