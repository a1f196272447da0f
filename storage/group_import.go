// The receiving side of a group move: installing another node's snapshot
// of a group, atomically and durably, under the receiver's own data.

package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/colfile"
	"github.com/soltixdb/soltix/storage/vfs"
)

// importsDir is the directory, at the top of the data directory, where
// ImportGroup stages a group: group_NNNN.src holds the copied source
// files, group_NNNN.tmp the files being written, and group_NNNN, once
// renamed from .tmp (the commit), the files to move into collections/.
// Open removes .src and .tmp leftovers and finishes a committed import.
const importsDir = "imports"

// ErrKindConflict is wrapped by the error of an ImportGroup whose field
// kinds clash with the receiver's schema; nothing is installed.
var ErrKindConflict = errors.New("field kind conflict")

// importedFile is one source file, copied into the scratch directory and
// opened, or a cold file of the snapshot opened from its object.
type importedFile struct {
	path  string // its Path in the source
	r     *colfile.Reader
	meta  colfile.Meta
	roll  bool
	level model.Level
	part  int64
	cold  *importCold
}

// importOut is one file an import installs, and what it replaces.
type importOut struct {
	rel      string // below the data directory
	coll     string
	replaces []*dataFile // raw files of the receiver it replaces
	roll     bool
	level    model.Level
	part     int64
	oldRoll  *rollFile // the receiver's rollup file of the partition
}

// ImportGroup installs group g from src, a snapshot of g taken on another
// node (SnapshotGroup), into this DB: its raw and rollup files of every
// collection, its series in the index, and its field kinds in the schema.
//
// Ordering rule (last write wins on series, field and time): imported
// data ranks OLDER than everything this DB already holds for g when the
// import runs — its memory, its files, and its deletes still held as
// tombstones (those made since this DB last dropped g: an older one,
// kept for another group's files, was applied where g lived since, and
// cuts neither the snapshot's raw data nor its rollup rows). So writes of g may reach this DB before the import (the
// network side may forward them as soon as the move begins) and keep
// their values over the snapshot's. To do that, every raw partition the
// snapshot has data in is rewritten as one file (new sequence number
// above every existing one, listing the receiver's files of that
// partition as replaced, like a compaction): the snapshot's values first,
// the receiver's files over them, its tombstones applied to both; memory
// stays newer than every file. A rollup partition held on both sides is
// rewritten with the receiver's rows winning per series, field and bucket
// where raw data still holds the bucket (the rebuild recomputes it), and
// the snapshot's below where the group's raw data is complete (there the
// receiver's rows hold only what was forwarded to it).
// Deletes forwarded before the import apply to the imported data too
// provided ExpectGroup(g) was called before the first of them: without it
// a tombstone that covers no file of this DB may be forgotten before the
// import (a receiver restarted during a move forgets them as well; the
// move then starts over: DropGroup(g) on the receiver, ExpectGroup, ...).
//
// The import is atomic and durable: the files are written and fsynced in
// a staging directory (imports/group_NNNN.tmp), renamed to
// imports/group_NNNN (the commit) and only then moved into place; a
// failure or crash before the commit leaves this DB as it was (Open
// removes the staging files), one after it is finished by the next Open.
// Field kinds that clash with this DB's schema fail the import with
// ErrKindConflict before anything is written (new field kinds of the
// import are reserved first and stay reserved if the import then fails,
// until a restart). Every rollup bucket of g in the imported collections
// is rebuilt by the next rollup pass (the collection is marked
// rollups_pending in collections.json before the commit, so a crash
// rebuilds them too); meanwhile reads answer them from finer data. The
// receiver keeps its own collection settings. One import runs at a time;
// writes and queries go on, flushes and compactions wait while the
// import rewrites files.
func (db *DB) ImportGroup(ctx context.Context, g int, src ImportSource) (err error) {
	if err := db.checkGroup(g); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("import group %d: %w", g, err)
		}
	}()
	db.importMu.Lock()
	defer db.importMu.Unlock()
	man, err := readManifest(src)
	if err != nil {
		return err
	}
	switch {
	case man.Version != manifestVersion && man.Version != manifestColdVersion:
		return fmt.Errorf("manifest version %d, want %d or %d", man.Version, manifestVersion, manifestColdVersion)
	case man.Group != g:
		return fmt.Errorf("snapshot is of group %d", man.Group)
	case man.NumGroups != db.opts.NumGroups || man.ShardTag != db.opts.ShardTag:
		return fmt.Errorf("snapshot has %d groups and shard tag %q, this node %d and %q",
			man.NumGroups, man.ShardTag, db.opts.NumGroups, db.opts.ShardTag)
	}
	base := filepath.Join(db.dir, importsDir)
	name := fmt.Sprintf("group_%04d", g)
	stage, scratch := filepath.Join(base, name+".tmp"), filepath.Join(base, name+".src")
	if _, err := db.fs.Stat(filepath.Join(base, name)); err == nil {
		return errors.New("an earlier import of the group is committed but not installed; restart to finish it")
	}
	if err := errors.Join(db.removeTree(stage), db.removeTree(scratch)); err != nil {
		return err
	}
	if err := db.requireGroupsFormat(); err != nil {
		return err
	}
	if err := vfs.MkdirAllSync(db.fs, scratch, 0o755); err != nil {
		return err
	}
	defer func() {
		if rerr := db.removeTree(scratch); rerr != nil {
			db.log.Warn("cannot remove import scratch files", "path", scratch, "err", rerr)
		}
	}()
	files, err := db.copyImport(ctx, g, man, src, scratch)
	defer func() {
		for _, f := range files {
			f.r.Close()
		}
	}()
	if err != nil {
		return err
	}
	colds, err := db.openImportCold(ctx, g, man)
	files = append(files, colds...)
	if err != nil {
		return err
	}
	want, err := importKinds(man, files)
	if err != nil {
		return err
	}

	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	if db.shut {
		return ErrClosed
	}
	// A claim of the 1d level ends the elision of this DB's 1M and 1y
	// rows: they are stored again before the import reads them.
	var claimed []string
	for coll, mc := range man.Collections {
		if _, ok := mc.Settings.Kept[model.Level1d.String()]; ok {
			claimed = append(claimed, coll)
		}
	}
	if err := db.restoreElided(ctx, claimed); err != nil {
		return err
	}
	db.mu.Lock()
	err = db.reserveKinds(want)
	db.mu.Unlock()
	if err != nil {
		return err
	}
	refs, rest := db.splitColdImport(g, files)
	outs, err := db.stageImport(ctx, g, man, rest, stage)
	if err == nil {
		err = db.stageColdImport(stage, g, refs)
	}
	if err != nil {
		return errors.Join(err, db.removeTree(stage))
	}
	if len(outs) == 0 && len(refs) == 0 {
		db.mu.Lock()
		db.groups[g].expecting = false
		db.mu.Unlock()
		return db.removeTree(stage)
	}
	colls := make(map[string]bool)
	for _, o := range outs {
		colls[o.coll] = true
	}
	for _, f := range refs {
		colls[f.meta.Collection] = true
	}
	states, err := db.pendImport(man, colls)
	if err != nil {
		return errors.Join(err, db.removeTree(stage))
	}
	committed := filepath.Join(base, name)
	if err := db.fs.Rename(stage, committed); err != nil {
		return errors.Join(err, db.removeTree(stage))
	}
	if err := db.fs.SyncDir(base); err != nil {
		// Whether the commit is durable is unknown: the next Open
		// finishes it or finds nothing; this process stops here.
		return fmt.Errorf("commit: %w (the next start finishes or drops the import)", err)
	}
	if err := db.installImport(committed); err != nil {
		return fmt.Errorf("committed, not installed: %w (the next start finishes it)", err)
	}
	return db.attachImport(g, man, outs, states, refs)
}

// readManifest reads and decodes the source's manifest.
func readManifest(src ImportSource) (*groupManifest, error) {
	rc, err := src.Open(ManifestPath)
	if err != nil {
		return nil, fmt.Errorf("open manifest: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err = errors.Join(err, rc.Close()); err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m groupManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return &m, nil
}

// copyImport copies every data file of src into scratch and opens it,
// checking that its path, collection, group and every series belong to
// group g. It returns the files opened so far also on error.
func (db *DB) copyImport(ctx context.Context, g int, man *groupManifest, src ImportSource, scratch string) ([]*importedFile, error) {
	var out []*importedFile
	groupDir := fmt.Sprintf("group_%04d", g)
	for i, gf := range src.Files() {
		if gf.Path == ManifestPath {
			continue
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		parts := strings.Split(gf.Path, "/")
		ok := (len(parts) == 4 || len(parts) == 5) && parts[0] == collectionsDir && parts[2] == groupDir &&
			strings.HasSuffix(parts[len(parts)-1], ".col")
		for _, p := range parts {
			ok = ok && p != "" && p != "." && p != ".."
		}
		if !ok {
			return out, fmt.Errorf("file %q is not a file of group %d", gf.Path, g)
		}
		l, part, isRoll := parseRollupPath(filepath.FromSlash(gf.Path))
		if isRoll != (len(parts) == 5) {
			return out, fmt.Errorf("file %q is not a file of group %d", gf.Path, g)
		}
		dst := filepath.Join(scratch, fmt.Sprintf("%06d.col", i))
		if err := db.copyFile(src, gf, dst); err != nil {
			return out, err
		}
		r, err := colfile.OpenWith(dst, db.fs)
		if err != nil {
			return out, fmt.Errorf("open %s: %w", gf.Path, err)
		}
		f := &importedFile{path: gf.Path, r: r, meta: r.Meta(), roll: isRoll, level: l, part: part}
		out = append(out, f)
		if _, ok := man.Collections[f.meta.Collection]; !ok || collDirName(f.meta.Collection) != parts[1] || f.meta.Group != g {
			return out, fmt.Errorf("file %q holds collection %q group %d", gf.Path, f.meta.Collection, f.meta.Group)
		}
		for _, si := range r.AllSeries() {
			if sg := db.groupOf(si.Key, si.Tags); sg != g {
				return out, fmt.Errorf("file %q: series %q is in group %d here", gf.Path, si.Key, sg)
			}
		}
	}
	return out, nil
}

// copyFile copies one source file to dst.
func (db *DB) copyFile(src ImportSource, gf GroupFile, dst string) error {
	rc, err := src.Open(gf.Path)
	if err != nil {
		return fmt.Errorf("open %s: %w", gf.Path, err)
	}
	defer rc.Close()
	f, err := db.fs.Create(dst)
	if err != nil {
		return err
	}
	// One byte past the listed size is enough to refuse a file that
	// lies about it: a source must not fill this node's disk.
	n, err := io.Copy(f, io.LimitReader(rc, max(gf.Size, 0)+1))
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("copy %s: %w", gf.Path, err)
	}
	if n != gf.Size {
		return fmt.Errorf("copy %s: %d bytes, want %d", gf.Path, n, gf.Size)
	}
	return nil
}

// importKinds returns, by collection, the field kinds of the manifest and
// the files, refusing an import that disagrees with itself.
func importKinds(man *groupManifest, files []*importedFile) (map[string]map[string]model.Kind, error) {
	want := make(map[string]map[string]model.Kind)
	var clash []string
	add := func(coll, field string, k model.Kind) {
		m := want[coll]
		if m == nil {
			m = make(map[string]model.Kind)
			want[coll] = m
		}
		if have, ok := m[field]; ok && have != k {
			clash = append(clash, fmt.Sprintf("%s.%s is %s and %s", coll, field, have, k))
			return
		}
		m[field] = k
	}
	// Only the collections the snapshot has files of: a manifest's claim
	// about another would reserve kinds that refuse this node's writes.
	held := make(map[string]bool)
	for _, f := range files {
		held[f.meta.Collection] = true
	}
	for coll, mc := range man.Collections {
		if !held[coll] {
			continue
		}
		for f, k := range mc.Fields {
			add(coll, f, k)
		}
	}
	for _, f := range files {
		for _, si := range f.r.AllSeries() {
			for _, ci := range si.Columns {
				name, k := ci.Name, ci.Kind
				if f.roll {
					var ok bool
					if name, k, ok = parseRollupColumn(ci.Name); !ok {
						return nil, fmt.Errorf("file %q: bad rollup column %q", f.path, ci.Name)
					}
				}
				add(f.meta.Collection, name, k)
			}
		}
	}
	if len(clash) > 0 {
		sort.Strings(clash)
		return nil, fmt.Errorf("snapshot: %s: %w", strings.Join(clash, "; "), ErrKindConflict)
	}
	return want, nil
}

// reserveKinds checks the field kinds an import brings against the schema
// and registers the new ones. The caller holds mu.
func (db *DB) reserveKinds(want map[string]map[string]model.Kind) error {
	var clash []string
	for coll, fields := range want {
		c := db.colls[coll]
		if c == nil {
			continue
		}
		for f, k := range fields {
			if have, ok := c.fields[f]; ok && have != k {
				clash = append(clash, fmt.Sprintf("%s.%s is %s here, %s in the snapshot", coll, f, have, k))
			}
		}
	}
	if len(clash) > 0 {
		sort.Strings(clash)
		return fmt.Errorf("%s: %w", strings.Join(clash, "; "), ErrKindConflict)
	}
	for coll, fields := range want {
		c := db.coll(coll)
		for f, k := range fields {
			if _, ok := c.fields[f]; !ok {
				c.fields[f] = k
			}
		}
	}
	return nil
}

// pendImport records durably that the rollups of the imported collections
// must be rebuilt, and takes the sender's kept horizons where they are
// later than ours. It returns the new states of those collections. The
// caller holds flushMu.
func (db *DB) pendImport(man *groupManifest, colls map[string]bool) (map[string]*rollupState, error) {
	db.mu.RLock()
	states := db.cloneRollStates()
	settings := db.settings
	db.mu.RUnlock()
	out := make(map[string]*rollupState)
	for coll := range colls {
		if db.settingsIn(settings, coll).NoRollups {
			continue
		}
		st := states[coll]
		if st == nil {
			st = &rollupState{}
			states[coll] = st
		}
		st.pending = true
		for ln, t := range man.Collections[coll].Settings.Kept {
			l, ok := model.ParseLevel(ln)
			if !ok {
				return nil, fmt.Errorf("manifest: collection %q: unknown level %q", coll, ln)
			}
			if st.kept == nil {
				st.kept = make(map[model.Level]int64)
			}
			if old, ok := st.kept[l]; !ok || t > old {
				st.kept[l] = t
			}
		}
		out[coll] = st
	}
	if len(out) == 0 {
		return out, nil
	}
	return out, db.saveSettings(settings, states)
}

// attachImport makes the installed files of an import visible, retires the
// receiver's files they replace, and marks the group's rollups for
// rebuild. The caller holds flushMu.
func (db *DB) attachImport(g int, man *groupManifest, outs []importOut, states map[string]*rollupState, refs []*importedFile) error {
	opened := make([]*dataFile, len(outs))
	for i, o := range outs {
		path := filepath.Join(db.dir, o.rel)
		r, err := colfile.OpenWith(path, db.fs)
		if err != nil {
			for _, f := range opened[:i] {
				f.close()
			}
			return fmt.Errorf("installed, not opened: %w (the next start serves it)", err)
		}
		opened[i] = &dataFile{path: path, r: r, meta: r.Meta()}
	}
	// The cold files the import refers to (group_import_cold.go).
	for _, f := range refs {
		df, err := db.coldDataFile(f.cold.entry, f.cold.stub)
		if err != nil {
			for _, f := range opened {
				f.close()
			}
			return fmt.Errorf("installed, not opened: %w (the next start serves it)", err)
		}
		outs = append(outs, importOut{coll: f.meta.Collection, roll: f.roll, level: f.level, part: f.part})
		opened = append(opened, df)
	}
	var gone []*dataFile
	db.mu.Lock()
	obsolete := make(map[*dataFile]bool)
	for _, o := range outs {
		for _, f := range o.replaces {
			obsolete[f] = true
		}
	}
	db.detachFiles(obsolete)
	for i, o := range outs {
		c := db.coll(o.coll)
		if !o.roll {
			db.attachFile(opened[i])
			continue
		}
		gr := db.groups[g].rollupsOf(c)
		gr.files[o.level] = slices.DeleteFunc(gr.files[o.level], func(f *rollFile) bool {
			if f.part == o.part {
				gone = append(gone, f.dataFile)
				return true
			}
			return false
		})
		nf := &rollFile{dataFile: opened[i], level: o.level, part: o.part}
		gr.files[o.level] = append(gr.files[o.level], nf)
		db.groups[g].noteSeq(nf.meta.Seq)
		sort.Slice(gr.files[o.level], func(a, b int) bool { return gr.files[o.level][a].part < gr.files[o.level][b].part })
		for _, si := range nf.r.AllSeries() {
			db.seriesFor(c, si.Key, si.Tags)
		}
	}
	for f := range obsolete {
		gone = append(gone, f)
	}
	for coll := range mapKeys(outs) {
		c := db.coll(coll)
		if _, ok := man.Collections[coll]; ok {
			db.groups[g].rawFrom[coll] = db.importRawFrom(g, man, coll)
		}
		st, ok := states[coll]
		if !ok || c.settings.NoRollups {
			continue
		}
		st.gen = db.rollGen
		db.setRollState(coll, st)
		// Not the partitions of the cold files the import refers to:
		// their rollups came with them, and a rebuild would fetch them.
		for _, sp := range coldImportSpans(refs, coll, db.opts.PartitionDuration.Nanoseconds()) {
			db.markSpan(c, g, sp[0], sp[1], nil, 0)
		}
	}
	db.groups[g].expecting = false
	db.dropSpentTombstones()
	db.mu.Unlock()
	err := db.discard(gone, false, "remove replaced file")
	db.log.Info("imported group", "group", g, "files", len(outs)-len(refs), "cold_files", len(refs), "replaced", len(gone))
	return err
}

func mapKeys(outs []importOut) map[string]bool {
	m := make(map[string]bool)
	for _, o := range outs {
		m[o.coll] = true
	}
	return m
}

// ExpectGroup announces that group g is being moved to this DB: until
// ImportGroup(g) or DropGroup(g), deletes of g's series are kept even
// where this DB holds no data of them yet, so that ImportGroup applies
// them to the snapshot's data (which ranks older than every delete this
// DB holds), and retention keeps the group's raw files, so that the
// import's rollup rebuild sees every write forwarded. Call it before
// forwarding the group's first write or delete. It is not durable: a
// restart forgets it.
func (db *DB) ExpectGroup(g int) error {
	if err := db.checkGroup(g); err != nil {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.groups[g].expecting = true
	return nil
}

// tombstoneExpected reports whether a delete touches a series of a group
// ExpectGroup announced. The caller holds mu.
func (db *DB) tombstoneExpected(t *tombstone) bool {
	some := false
	for _, g := range db.groups {
		some = some || g.expecting
	}
	if !some {
		return false
	}
	for _, tags := range t.series {
		if db.groups[db.groupOf(model.SeriesKey(t.coll, tags), tags)].expecting {
			return true
		}
	}
	return false
}
