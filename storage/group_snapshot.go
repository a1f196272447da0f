// The sending side of a group move: a snapshot of one group's files,
// pinned against removal while they are copied, with a manifest.

package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"github.com/soltixdb/soltix/model"
)

// ManifestPath is the path, in a group snapshot's files, of its manifest:
// a small JSON document (groupManifest) naming the group, the settings
// that place series in groups, and each collection's schema, settings and
// rollup state. ImportGroup reads it first.
const ManifestPath = "manifest.json"

// manifestVersion is the version of the manifest this code writes
// (manifestColdVersion when it lists cold files, which older versions must
// refuse rather than import without them) and the versions it reads.
const (
	manifestVersion     = 1
	manifestColdVersion = 2
)

// groupManifest is the manifest of a group snapshot.
type groupManifest struct {
	Version   int    `json:"version"`
	Group     int    `json:"group"`
	NumGroups int    `json:"num_groups"`
	ShardTag  string `json:"shard_tag"`
	// PartitionNs is the sender's raw partition, for information: the
	// receiver splits raw data by its own.
	PartitionNs int64                         `json:"partition_ns"`
	Collections map[string]manifestCollection `json:"collections"`
	// Cold lists the group's cold files (version 2): the receiver reads
	// them from the same object store, nothing of them is copied.
	Cold []manifestCold `json:"cold,omitempty"`
}

// manifestCold is one cold file of a group snapshot.
type manifestCold struct {
	Collection string `json:"collection"`
	Level      string `json:"level"` // raw, 1h, 1d, 1M
	// Name is the file's local name on the sender, Seq its rank there.
	Name     string `json:"name"`
	Seq      uint64 `json:"seq"`
	Key      string `json:"key"`
	Size     int64  `json:"size"`
	Checksum string `json:"checksum,omitempty"`
}

// manifestCollection is what the receiver needs of one collection.
type manifestCollection struct {
	// Fields are the collection's field kinds (model.Kind numbers).
	Fields map[string]model.Kind `json:"fields"`
	// Settings are the sender's settings and rollup state, as in
	// collections.json; the receiver keeps its own settings.
	Settings settingsJSON `json:"settings"`
	// RawCompleteNs is where the sender's raw data is complete from
	// (retention has dropped none of it after this time).
	RawCompleteNs int64 `json:"raw_complete_ns"`
}

// GroupFile is one file of a group snapshot: its path relative to the
// data directory, slash-separated ("collections/cpu/group_0003/….col",
// or ManifestPath), and its size in bytes.
type GroupFile struct {
	Path string
	Size int64
}

// ImportSource is what ImportGroup reads a group from: a *GroupSnapshot
// of another DB, or a copy of one (the network side's). Files lists every
// file, the manifest included, with the sizes the snapshot gave (an
// import that reads another number of bytes fails); Open opens one of
// them by its Path. ImportGroup opens each file once, the manifest first,
// then the others in the listed order.
type ImportSource interface {
	Files() []GroupFile
	Open(path string) (io.ReadCloser, error)
}

// GroupSnapshot is a consistent set of one group's files, pinned: while it
// is open no compaction, retention, rollup pass or DropGroup removes them
// from disk (their removal waits for Close). It implements ImportSource.
type GroupSnapshot struct {
	db       *DB
	group    int
	files    []GroupFile
	abs      map[string]string // Path → path on disk
	manifest []byte
	once     sync.Once
}

// SnapshotGroup snapshots group g for a move to another node. It flushes
// memory first (all of it, every group: a flush is not per group), applies
// the deletes not yet compacted into the group's files by compacting those
// files (a snapshot carries no tombstones), and then pins the group's raw
// and rollup files of every collection. It refuses a group with data in
// a quarantined file, which would not move. Every write and delete
// acknowledged before SnapshotGroup is called is in the snapshot; later
// ones may or may not be, so the network side forwards to the receiver
// every write of the group from before it calls SnapshotGroup on (see
// ImportGroup for the ordering rule that makes that safe). The caller
// must Close the snapshot.
func (db *DB) SnapshotGroup(ctx context.Context, g int) (*GroupSnapshot, error) {
	if err := db.checkGroup(g); err != nil {
		return nil, err
	}
	if err := db.Flush(ctx); err != nil {
		return nil, fmt.Errorf("snapshot group %d: flush: %w", g, err)
	}
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	if db.shut {
		return nil, ErrClosed
	}
	db.mu.RLock()
	for _, q := range db.quarantine {
		// Data a move would lose without a word: reads of it fail here
		// until the operator settles the file.
		if !q.Rebuilding && (q.group == g || q.group < 0) {
			db.mu.RUnlock()
			return nil, fmt.Errorf("snapshot group %d: quarantined file %s holds data of it (docs/operations.md, \"Damaged files\")", g, q.Path)
		}
	}
	var todo []unitKey
	for k, files := range db.units() {
		if k.group == g && db.unitCovered(files) {
			todo = append(todo, k)
		}
	}
	db.mu.RUnlock()
	for _, k := range todo {
		if err := db.compactUnitLocked(ctx, k); err != nil {
			return nil, fmt.Errorf("snapshot group %d: apply deletes: %w", g, err)
		}
	}

	db.mu.RLock()
	raw, rolls := db.groupFilesLocked(g, true)
	// Cold files go in the manifest, by reference.
	var colds []*dataFile
	raw = slices.DeleteFunc(raw, func(f *dataFile) bool {
		if f.cold != nil {
			colds = append(colds, f)
		}
		return f.cold != nil
	})
	rolls = slices.DeleteFunc(rolls, func(f *rollFile) bool {
		if f.cold != nil {
			colds = append(colds, f.dataFile)
		}
		return f.cold != nil
	})
	man := groupManifest{Version: manifestVersion, Group: g, NumGroups: db.opts.NumGroups, ShardTag: db.opts.ShardTag,
		PartitionNs: db.opts.PartitionDuration.Nanoseconds(), Collections: make(map[string]manifestCollection)}
	addColl := func(name string) {
		if _, ok := man.Collections[name]; ok {
			return
		}
		c := db.colls[name]
		mc := manifestCollection{Fields: make(map[string]model.Kind, len(c.fields)), RawCompleteNs: db.rawCompleteIn(c, g)}
		for f, k := range c.fields {
			mc.Fields[f] = k
		}
		sf := db.settingsFile(map[string]CollectionSettings{name: c.settings},
			map[string]*rollupState{name: db.rollState[name]})
		mc.Settings = sf[name]
		man.Collections[name] = mc
	}
	for _, f := range raw {
		addColl(f.meta.Collection)
	}
	for _, f := range rolls {
		addColl(f.meta.Collection)
	}
	for _, f := range colds {
		addColl(f.meta.Collection)
		e := f.cold.entry
		man.Cold = append(man.Cold, manifestCold{Collection: e.Coll, Level: e.Level.String(), Name: e.Name, Seq: e.Seq,
			Key: e.Key, Size: e.Size, Checksum: e.Checksum})
	}
	db.mu.RUnlock()
	if len(man.Cold) > 0 {
		man.Version = manifestColdVersion
		// From now on another node may read these objects: only
		// retention deletes them (coldShared).
		if err := db.shareCold(colds); err != nil {
			return nil, fmt.Errorf("snapshot group %d: %w", g, err)
		}
	}
	mb, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("snapshot group %d: manifest: %w", g, err)
	}

	snap := &GroupSnapshot{db: db, group: g, abs: make(map[string]string), manifest: mb}
	paths := make([]string, 0, len(raw)+len(rolls))
	for _, f := range raw {
		paths = append(paths, f.path)
	}
	for _, f := range rolls {
		paths = append(paths, f.path)
	}
	db.pinMu.Lock()
	if db.pins == nil {
		db.pins = make(map[string]int)
		db.unpinned = make(map[string]bool)
	}
	for _, p := range paths {
		db.pins[p]++
	}
	db.pinMu.Unlock()
	for _, p := range paths {
		rel, err := filepath.Rel(db.dir, p)
		if err == nil {
			var fi os.FileInfo
			if fi, err = db.fs.Stat(p); err == nil {
				rel = filepath.ToSlash(rel)
				snap.abs[rel] = p
				snap.files = append(snap.files, GroupFile{Path: rel, Size: fi.Size()})
				continue
			}
		}
		// Unpin every path pinned above, not only those listed so far.
		snap.abs = make(map[string]string, len(paths))
		for _, q := range paths {
			snap.abs[q] = q
		}
		snap.unpin()
		return nil, fmt.Errorf("snapshot group %d: %w", g, err)
	}
	sort.Slice(snap.files, func(i, j int) bool { return snap.files[i].Path < snap.files[j].Path })
	snap.files = append([]GroupFile{{Path: ManifestPath, Size: int64(len(mb))}}, snap.files...)
	return snap, nil
}

// Group returns the snapshot's group.
func (s *GroupSnapshot) Group() int { return s.group }

// Files lists the snapshot's files, the manifest first.
func (s *GroupSnapshot) Files() []GroupFile { return append([]GroupFile(nil), s.files...) }

// Open opens one of the snapshot's files by its Path.
func (s *GroupSnapshot) Open(path string) (io.ReadCloser, error) {
	if path == ManifestPath {
		return io.NopCloser(bytes.NewReader(s.manifest)), nil
	}
	p, ok := s.abs[path]
	if !ok {
		return nil, fmt.Errorf("group %d snapshot has no file %q: %w", s.group, path, os.ErrNotExist)
	}
	return s.db.fs.Open(p)
}

// Close unpins the snapshot's files, removing those whose removal waited
// for it. It is safe to call more than once.
func (s *GroupSnapshot) Close() error {
	var err error
	s.once.Do(func() { err = s.unpin() })
	return err
}

func (s *GroupSnapshot) unpin() error {
	db := s.db
	var gone []string
	db.pinMu.Lock()
	for _, p := range s.abs {
		if db.pins[p]--; db.pins[p] <= 0 {
			delete(db.pins, p)
			if db.unpinned[p] {
				delete(db.unpinned, p)
				gone = append(gone, p)
			}
		}
	}
	db.pinMu.Unlock()
	var errs []error
	dirs := make(map[string]bool)
	for _, p := range gone {
		if err := db.fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove unpinned file: %w", err))
		}
		dirs[filepath.Dir(p)] = true
	}
	for d := range dirs {
		if err := db.fs.SyncDir(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeData removes a data file, or, while a group snapshot pins it,
// leaves the removal to the snapshot's Close. A crash before then leaves
// the file, which Open removes again (a compaction's or rollup pass's
// replaced file, a dropped group's) or retention drops again.
func (db *DB) removeData(path string) error {
	db.pinMu.Lock()
	if db.pins[path] > 0 {
		db.unpinned[path] = true
		db.pinMu.Unlock()
		return nil
	}
	db.pinMu.Unlock()
	return db.fs.Remove(path)
}
