package storage

import (
	"fmt"
	"path/filepath"
	"strings"
)

// mkdirDurable creates dir, a directory below the data directory, with any
// missing parents, and makes their entries durable before it returns: it
// fsyncs the parent of every component between the data directory and dir,
// so that files synced into dir survive a crash once the WAL that held their
// data is gone. Directories found existing are synced too, the first time in
// this process, in case the process that created them died before syncing
// them. Later calls for the same dir do nothing.
func (db *DB) mkdirDurable(dir string) error {
	db.dirsMu.Lock()
	defer db.dirsMu.Unlock()
	dir = filepath.Clean(dir)
	if db.dirs[dir] {
		return nil
	}
	if err := db.fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := filepath.Clean(db.dir)
	if rel, err := filepath.Rel(base, dir); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("directory %s is not below the data directory %s", dir, base)
	}
	for d := dir; d != base && !db.dirs[d]; d = filepath.Dir(d) {
		parent := filepath.Dir(d)
		if err := db.fs.SyncDir(parent); err != nil {
			return fmt.Errorf("sync dir: %w", err)
		}
		db.dirs[d] = true
	}
	return nil
}
