// The cold files of a group move: a snapshot lists them in its manifest
// and the receiver reads them from the same object store, referring to the
// objects instead of copying them where it can.

package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
)

// coldImportFile is the file, in an import's staging directory, that
// lists the cold files the import refers to (a cold list); installing the
// import adds them to the DB's cold list.
const coldImportFile = "cold.import"

// importCold is what a cold file of a snapshot adds to its importedFile.
type importCold struct {
	m     manifestCold
	stub  *coldStub
	entry coldEntry // its entry here, once the import refers to it
}

// openImportCold opens the cold files the manifest lists, from their
// objects (header, index and footer; no block), checking that they hold
// what the manifest says and belong to group g. It returns the files
// opened so far also on error.
func (db *DB) openImportCold(ctx context.Context, g int, man *groupManifest) ([]*importedFile, error) {
	if len(man.Cold) == 0 {
		return nil, nil
	}
	store := db.store()
	if store == nil {
		return nil, fmt.Errorf("the snapshot has %d cold files (%s, …) and this node has no cold store (or it is not reachable yet)", len(man.Cold), man.Cold[0].Key)
	}
	var out []*importedFile
	for _, mc := range man.Cold {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		l, ok := model.ParseLevel(mc.Level)
		e := coldEntry{Coll: mc.Collection, Group: g, Level: l, Name: mc.Name, Seq: mc.Seq, Key: mc.Key, Size: mc.Size, Checksum: mc.Checksum}
		if err := e.check(); !ok || l == model.Level1y || err != nil || mc.Size <= 0 || len(mc.Key) > maxColdKey {
			return out, fmt.Errorf("manifest: bad cold file %+v: %v", mc, err)
		}
		if _, ok := man.Collections[mc.Collection]; !ok {
			return out, fmt.Errorf("manifest: cold file %s of collection %q, which it does not describe", mc.Key, mc.Collection)
		}
		obj := store.Reader(mc.Key, mc.Size)
		stub, err := db.fetchStub(ctx, obj)
		if err != nil {
			return out, err
		}
		// Its own name is the DB's reader's until the import names it.
		df, err := db.coldDataFile(e, stub)
		if err != nil {
			return out, err
		}
		f := &importedFile{path: db.coldName(mc.Key), r: df.r, meta: df.meta, level: l, cold: &importCold{m: mc, stub: stub}}
		out = append(out, f)
		if l != model.LevelRaw {
			_, part, ok := parseRollupPath(filepath.Join("rollup_"+levelNamesForDirs[l], mc.Name))
			if !ok {
				return out, fmt.Errorf("manifest: cold file %s: bad rollup file name %q", mc.Key, mc.Name)
			}
			f.roll, f.part = true, part
		}
		for _, si := range df.r.AllSeries() {
			if sg := db.groupOf(si.Key, si.Tags); sg != g {
				return out, fmt.Errorf("cold file %s: series %q is in group %d here", mc.Key, si.Key, sg)
			}
		}
	}
	return out, nil
}

// splitColdImport decides which of the snapshot's cold files the import
// refers to as they are (refs, each given its entry here) and which it
// reads and rewrites like copied files (in rest, with every copied file).
// A raw cold file is referred to when its whole unit (collection and
// partition here) can be: the cold files there lie in the partition, this
// DB has no file there, no delete of this DB that ranks newer than the
// snapshot covers them, and every copied file there ranks above them (the
// import rewrites those into one file with a new, higher number). A cold
// rollup file is referred to when it is the snapshot's file of its
// partition, this DB has none there, and no such delete of its collection
// exists. Referred files get new sequence numbers, in the sender's order,
// below every file the import writes. The caller holds flushMu.
func (db *DB) splitColdImport(g int, files []*importedFile) (refs, rest []*importedFile) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	var tombs []*tombstone
	for _, t := range db.tombs {
		if t.seq > db.groups[g].dropSeq {
			tombs = append(tombs, t)
		}
	}
	width := db.opts.PartitionDuration.Nanoseconds()
	type unit struct {
		coll string
		part int64
	}
	ok := make(map[unit]bool)
	maxCold := make(map[unit]uint64)
	minCopied := make(map[unit]uint64)
	unitOf := func(f *importedFile) (unit, bool) {
		lo, hi := timex.FloorDiv(f.meta.MinTime, width), timex.FloorDiv(f.meta.MaxTime, width)
		return unit{f.meta.Collection, lo}, lo == hi
	}
	covered := func(f *importedFile) bool {
		for _, t := range tombs {
			if t.coll != f.meta.Collection {
				continue
			}
			if f.roll {
				return true
			}
			for _, si := range f.r.AllSeries() {
				if t.covers(si.Key, 0, f.meta.MinTime, f.meta.MaxTime) {
					return true
				}
			}
		}
		return false
	}
	for _, f := range files {
		if f.roll {
			continue
		}
		u, whole := unitOf(f)
		if f.cold == nil {
			// A copied file over several partitions here puts its
			// partitions' cold files in the rewrite.
			for p := u.part; p <= timex.FloorDiv(f.meta.MaxTime, width); p++ {
				v := unit{u.coll, p}
				if m, seen := minCopied[v]; !seen || f.meta.Seq < m {
					minCopied[v] = f.meta.Seq
				}
				if p == math.MaxInt64 {
					break
				}
			}
			continue
		}
		good, seen := ok[u]
		if !seen {
			good = len(db.groups[g].files[partKey{u.coll, u.part}]) == 0
		}
		ok[u] = good && whole && !covered(f)
		maxCold[u] = max(maxCold[u], f.meta.Seq)
	}
	// The snapshot's file of each rollup partition is its latest.
	latest := latestRollups(files)
	for _, f := range files {
		k := rollKey{f.meta.Collection, f.level, f.part}
		if f.roll && latest[k] != f {
			continue // stageImport reads a partition's latest file only
		}
		if f.cold == nil {
			rest = append(rest, f)
			continue
		}
		if !f.roll {
			u, _ := unitOf(f)
			if m, seen := minCopied[u]; ok[u] && (!seen || m > maxCold[u]) {
				refs = append(refs, f)
			} else {
				rest = append(rest, f)
			}
			continue
		}
		held := false
		if cl := db.colls[k.coll]; cl != nil && db.groups[g].rollups[cl] != nil {
			held = slices.ContainsFunc(db.groups[g].rollups[cl].files[f.level], func(rf *rollFile) bool { return rf.part == f.part })
		}
		switch {
		case db.settingsOf(k.coll).NoRollups:
			// Left out, as stageImport leaves it out.
		case !held && !covered(f):
			refs = append(refs, f)
		default:
			rest = append(rest, f)
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].cold.m.Seq < refs[j].cold.m.Seq })
	for _, f := range refs {
		seq := db.seq.Add(1)
		name := partitionName(f.cold.m.Name) + fmt.Sprintf("-%016d.col", seq)
		f.cold.entry = coldEntry{Coll: f.meta.Collection, Group: g, Level: f.level, Name: name, Seq: seq,
			Key: f.cold.m.Key, Size: f.cold.m.Size, Checksum: f.cold.m.Checksum, Flags: coldShared}
	}
	return refs, rest
}

// stageColdImport writes the index copies of the cold files an import
// refers to, and their entries into the staging directory (coldImportFile),
// which the commit makes part of the import.
func (db *DB) stageColdImport(stage string, g int, refs []*importedFile) error {
	if len(refs) == 0 {
		return nil
	}
	l := &coldList{}
	for _, f := range refs {
		if err := db.writeStub(f.cold.entry.Seq, f.cold.stub); err != nil {
			return err
		}
		l.entries = append(l.entries, f.cold.entry)
	}
	if err := db.fs.SyncDir(filepath.Join(db.dir, coldDir)); err != nil {
		return err
	}
	if err := vfs.MkdirAllSync(db.fs, stage, 0o755); err != nil {
		return err
	}
	f, err := db.fs.Create(filepath.Join(stage, coldImportFile))
	if err != nil {
		return fmt.Errorf("stage cold files: %w", err)
	}
	_, werr := f.Write(appendColdList(nil, l))
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("stage cold files: %w", err)
	}
	return db.fs.SyncDir(stage)
}

// installColdImport adds the entries of a committed import's
// coldImportFile to the cold list, durably (again, harmlessly, after a
// crash).
func (db *DB) installColdImport(path string) error {
	b, err := db.readFile(path)
	if err != nil {
		return err
	}
	in, err := decodeColdList(b)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	db.coldMu.Lock()
	defer db.coldMu.Unlock()
	next := &coldList{id: db.coldList.id, entries: slices.Clone(db.coldList.entries)}
	for _, e := range in.entries {
		next.add(e)
	}
	if err := db.saveColdList(next); err != nil {
		return err
	}
	db.coldList = next
	return nil
}

// coldImportSpans returns the time ranges of collection coll an import's
// rollup rebuild covers: all time but the partitions of the raw cold
// files it refers to.
func coldImportSpans(refs []*importedFile, coll string, width int64) [][2]int64 {
	var held [][2]int64
	for _, f := range refs {
		if f.roll || f.meta.Collection != coll {
			continue
		}
		lo, hi := timex.Span(f.meta.MinTime, width, 0)
		held = append(held, [2]int64{lo, hi})
	}
	sort.Slice(held, func(i, j int) bool { return held[i][0] < held[j][0] })
	var out [][2]int64
	from := int64(math.MinInt64)
	for _, h := range held {
		if h[0] > from {
			out = append(out, [2]int64{from, h[0] - 1})
		}
		if h[1] == math.MaxInt64 {
			return out
		}
		from = max(from, h[1]+1)
	}
	return append(out, [2]int64{from, math.MaxInt64})
}
