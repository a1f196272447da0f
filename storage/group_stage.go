// The on-disk side of a group import: staging files, the commit's
// roll-forward (also at Open), and removing staging directories.

package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/soltixdb/soltix/storage/colfile"
	"github.com/soltixdb/soltix/storage/vfs"
)

// writeStaged writes one file at stage/rel, durably with every directory
// it creates below stage.
func (db *DB) writeStaged(stage, rel, coll string, g int, seq uint64, data []colfile.SeriesData, replaces []uint64, roll bool) error {
	path := filepath.Join(stage, rel)
	if err := vfs.MkdirAllSync(db.fs, filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("stage %s: %w", rel, err)
	}
	_, err := colfile.WriteWith(path, coll, g, seq, data,
		&colfile.WriteOptions{Replaces: replaces, FS: db.fs, BlockSize: db.opts.BlockSize, NoStats: roll})
	if err != nil {
		return fmt.Errorf("stage %s: %w", rel, err)
	}
	return nil
}

// installImport moves the files of a committed import (dir) to their
// places below the data directory, durably, and removes dir. Running it
// again after a crash finishes what is left.
func (db *DB) installImport(dir string) error {
	var moved []string
	err := db.walkEntries(dir, func(path string, e os.DirEntry) (bool, error) {
		if e.IsDir() {
			return true, nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return false, err
		}
		if rel == coldImportFile {
			// The cold files the import refers to join the cold list.
			return false, db.installColdImport(path)
		}
		target := filepath.Join(db.dir, rel)
		if err := db.mkdirDurable(filepath.Dir(target)); err != nil {
			return false, err
		}
		if err := db.fs.Rename(path, target); err != nil {
			return false, err
		}
		moved = append(moved, target)
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	synced := make(map[string]bool)
	for _, p := range moved {
		if d := filepath.Dir(p); !synced[d] {
			synced[d] = true
			if err := db.fs.SyncDir(d); err != nil {
				return fmt.Errorf("install: %w", err)
			}
		}
	}
	return db.removeTree(dir)
}

// recoverImports, at Open before the files are loaded, removes the
// staging files of imports that did not commit and finishes those that
// did.
func (db *DB) recoverImports() error {
	base := filepath.Join(db.dir, importsDir)
	entries, err := db.fs.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("scan %s: %w", base, err)
	}
	for _, e := range entries {
		path := filepath.Join(base, e.Name())
		switch {
		case strings.HasSuffix(e.Name(), ".tmp"), strings.HasSuffix(e.Name(), ".src"):
			db.log.Warn("removing the files of an unfinished group import", "path", path)
			err = db.removeTree(path)
		case e.IsDir():
			db.log.Info("finishing a committed group import", "path", path)
			err = db.installImport(path)
		}
		if err != nil {
			return fmt.Errorf("recover group import: %w", err)
		}
	}
	return db.fs.SyncDir(base)
}

// removeTree removes path and everything below it, and syncs its parent.
// A missing path is no error.
func (db *DB) removeTree(path string) error {
	fi, err := db.fs.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		entries, err := db.fs.ReadDir(path)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := db.removeTreeNoSync(filepath.Join(path, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := db.fs.Remove(path); err != nil {
		return err
	}
	return db.fs.SyncDir(filepath.Dir(path))
}

func (db *DB) removeTreeNoSync(path string) error {
	fi, err := db.fs.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		entries, err := db.fs.ReadDir(path)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := db.removeTreeNoSync(filepath.Join(path, e.Name())); err != nil {
				return err
			}
		}
	}
	return db.fs.Remove(path)
}
