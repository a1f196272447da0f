// Opening a data directory: its meta file, the files it holds, and attaching them to their series.

package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/colfile"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/wal"
)

// Data directory formats (meta.json "format"): each makes the versions
// that know only the earlier ones refuse the directory rather than misread
// it.
const (
	// formatLayout2: collections live below collections/ (layout.go).
	formatLayout2 = 2
	// formatGroups: groups.json may record dropped groups, whose files
	// and WAL points must be ignored, and imports/ may hold a committed
	// import to finish (group_meta.go, group_import.go). A directory
	// takes it before its first drop or import; until then it stays
	// format 2, readable by versions before groups could move.
	formatGroups = 3
	// formatApplied: the WAL may hold applied records (kind 4,
	// record.go) and groups.json replication positions (applied.go).
	// A directory takes it before the first applied record is written;
	// it includes formatGroups.
	formatApplied = 4
	// formatCold: the data directory may have cold files (cold/list),
	// which a version without a cold tier would leave out of every answer.
	// A directory takes it before its first cold file is recorded; it
	// includes formatApplied.
	formatCold = 5
	// formatElide: a 1M or 1y bucket without a row may hold data that a
	// finer level answers (elided rows, rollup_build.go), which a version
	// without elision would read as empty, and rollup rows may be of
	// version 5 or 6 (rollup_row.go). A directory takes it before its
	// first rollup pass; it includes formatCold.
	formatElide = 6
	maxFormat   = formatElide
)

// dataDirMeta is the data directory's own description, in meta.json.
type dataDirMeta struct {
	// Format is 1 for the first layout, then formatLayout2,
	// formatGroups, formatApplied, formatCold or formatElide.
	Format    int `json:"format"`
	NumGroups int `json:"num_groups"`
	// Rollups is 1 once every collection's rollups have been built; a
	// directory written before rollups existed has 0 and is rebuilt.
	Rollups int `json:"rollups,omitempty"`
	// Layout is where collections live (layout.go); 0 is the first
	// layout, migrated at Open.
	Layout int `json:"layout,omitempty"`
}

// Open opens (creating if needed) the data directory dir: it loads the
// index of every colstore file and replays the WAL into memory. The DB is
// ready for reads and writes when Open returns.
func Open(dir string, opts *Options) (*DB, error) {
	o := opts.withDefaults()
	if err := vfs.MkdirAllSync(o.FS, dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	db := &DB{dir: dir, lock: lock, fs: o.FS, opts: o, log: o.Logger, colls: make(map[string]*collection),
		stop: make(chan struct{}), done: make(chan struct{}), full: make(chan struct{}, 1), dirs: make(map[string]bool),
		memChanged: make(chan struct{})}
	configuredGroups := 0
	if opts != nil {
		configuredGroups = opts.NumGroups
	}
	if err := db.loadDirMeta(configuredGroups); err != nil {
		lock.unlock()
		return nil, err
	}
	db.groups = newGroups(db.opts.NumGroups)
	if err := db.migrateLayout(); err != nil {
		lock.unlock()
		return nil, err
	}
	if err := db.loadSettings(); err != nil {
		lock.unlock()
		return nil, err
	}
	if err := db.loadGroupsMeta(); err != nil {
		lock.unlock()
		return nil, err
	}
	if db.coldList, err = db.loadColdList(); err != nil {
		lock.unlock()
		return nil, err
	}
	db.tierKick, db.tierDone = make(chan struct{}, 1), make(chan struct{})
	db.coldStore.Store(o.Cold)
	if err := db.recoverImports(); err != nil {
		lock.unlock()
		return nil, err
	}
	if err := db.loadQuarantine(); err != nil {
		lock.unlock()
		return nil, fmt.Errorf("scan quarantine: %w", err)
	}
	if err := db.loadFiles(); err != nil {
		db.closeFiles()
		lock.unlock()
		return nil, err
	}
	db.settleQuarantine()
	if err := db.mkdirDurable(filepath.Join(dir, "wal")); err != nil {
		db.closeFiles()
		lock.unlock()
		return nil, fmt.Errorf("create wal dir: %w", err)
	}
	w, err := wal.Open(filepath.Join(dir, "wal"), &wal.Options{Sync: o.Sync, SegmentSize: o.WALSegmentSize, MaxSegmentAge: o.WALSegmentAge, Logger: o.Logger, FS: o.FS, Recovery: o.WALRecovery})
	if err != nil {
		db.closeFiles()
		lock.unlock()
		return nil, fmt.Errorf("open wal: %w", err)
	}
	db.wal = w
	start := time.Now()
	records, points := 0, 0
	err = w.Replay(func(segment uint64, rec []byte) error {
		n, err := db.replayRecord(segment, rec)
		if err != nil {
			return fmt.Errorf("wal segment %d: %w", segment, err)
		}
		records++
		points += n
		return nil
	})
	if err != nil {
		db.closeFiles()
		return nil, errors.Join(fmt.Errorf("replay wal: %w", err), w.Close(), lock.unlock())
	}
	db.dropSpentTombstones()
	db.resumeRollupSettings()
	if !db.rollMeta {
		// Written before rollups existed: rebuild them from raw data.
		for _, c := range db.colls {
			db.markAll(c)
		}
	}
	db.log.Info("storage opened", "dir", dir, "collections", len(db.colls), "wal_records", records,
		"wal_points", points, "replay", time.Since(start).Round(time.Millisecond))
	go db.flushLoop()
	go db.tierLoop()
	if err := db.applyDefaultChange(context.Background()); err != nil {
		return nil, errors.Join(fmt.Errorf("apply the default collection settings: %w", err), db.Close())
	}
	return db, nil
}

// loadDirMeta reads meta.json, or writes it for a new directory.
// configuredGroups is NumGroups as the caller set it (0: not set).
func (db *DB) loadDirMeta(configuredGroups int) error {
	path := filepath.Join(db.dir, "meta.json")
	b, err := db.readFile(path)
	switch {
	case err == nil:
		var m dataDirMeta
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if m.Format < 1 || m.Format > maxFormat || m.NumGroups <= 0 {
			return fmt.Errorf("read %s: unsupported format %d or num_groups %d", path, m.Format, m.NumGroups)
		}
		if configuredGroups > 0 && configuredGroups != m.NumGroups {
			db.log.Warn("num_groups is fixed by the data directory; ignoring the configured value",
				"configured", db.opts.NumGroups, "data_dir", m.NumGroups)
		}
		db.opts.NumGroups = m.NumGroups
		db.rollMeta = m.Rollups == 1
		db.layout = m.Layout
		db.groupsFormat = m.Format >= formatGroups
		db.appliedFormat = m.Format >= formatApplied
		db.coldFormat = m.Format >= formatCold
		db.elideFormat = m.Format >= formatElide
		return nil
	case errors.Is(err, os.ErrNotExist):
		db.rollMeta = true
		db.layout = currentLayout
		return db.saveDirMeta()
	default:
		return fmt.Errorf("read data dir meta: %w", err)
	}
}

// saveDirMeta writes meta.json.
func (db *DB) saveDirMeta() error {
	db.metaMu.Lock()
	defer db.metaMu.Unlock()
	return db.writeDirMeta(db.dirFormat())
}

// requireGroupsFormat makes meta.json say formatGroups (or above),
// durably, before the directory records its first group drop or import.
// The caller may hold groupsMu.
func (db *DB) requireGroupsFormat() error {
	db.metaMu.Lock()
	defer db.metaMu.Unlock()
	if db.groupsFormat {
		return nil
	}
	if err := db.writeDirMeta(max(db.dirFormat(), formatGroups)); err != nil {
		return fmt.Errorf("record data directory format %d: %w", formatGroups, err)
	}
	db.groupsFormat = true
	return nil
}

// requireAppliedFormat makes meta.json say formatApplied, durably, before
// the WAL takes its first applied record. The caller holds no lock of the
// DB's, or only a group's applyMu.
func (db *DB) requireAppliedFormat() error {
	db.metaMu.Lock()
	defer db.metaMu.Unlock()
	if db.appliedFormat {
		return nil
	}
	if err := db.writeDirMeta(max(db.dirFormat(), formatApplied)); err != nil {
		return fmt.Errorf("record data directory format %d: %w", formatApplied, err)
	}
	db.groupsFormat, db.appliedFormat = true, true
	return nil
}

// requireColdFormat makes meta.json say formatCold, durably, before the
// cold list records its first file. The caller may hold coldMu.
func (db *DB) requireColdFormat() error {
	db.metaMu.Lock()
	defer db.metaMu.Unlock()
	if db.coldFormat {
		return nil
	}
	if err := db.writeDirMeta(formatCold); err != nil {
		return fmt.Errorf("record data directory format %d: %w", formatCold, err)
	}
	db.groupsFormat, db.appliedFormat, db.coldFormat = true, true, true
	return nil
}

// requireElideFormat makes meta.json say formatElide, durably, before a
// rollup pass writes files. The caller holds flushMu, not mu.
func (db *DB) requireElideFormat() error {
	db.metaMu.Lock()
	defer db.metaMu.Unlock()
	if db.elideFormat {
		return nil
	}
	if err := db.writeDirMeta(formatElide); err != nil {
		return fmt.Errorf("record data directory format %d: %w", formatElide, err)
	}
	db.groupsFormat, db.appliedFormat, db.coldFormat, db.elideFormat = true, true, true, true
	return nil
}

// dirFormat is the format meta.json says. The caller holds metaMu.
func (db *DB) dirFormat() int {
	switch {
	case db.elideFormat:
		return formatElide
	case db.coldFormat:
		return formatCold
	case db.appliedFormat:
		return formatApplied
	case db.groupsFormat:
		return formatGroups
	case db.layout >= 2:
		// Format 1 readers would write collections where this layout
		// no longer looks for them: make them refuse the directory.
		return formatLayout2
	default:
		return 1
	}
}

// writeDirMeta writes meta.json saying format. The caller holds metaMu.
func (db *DB) writeDirMeta(format int) error {
	m := dataDirMeta{Format: format, NumGroups: db.opts.NumGroups, Layout: db.layout}
	if db.rollMeta {
		m.Rollups = 1
	}
	b, _ := json.Marshal(m)
	return db.writeFileSync(filepath.Join(db.dir, "meta.json"), b)
}

func (db *DB) readFile(path string) ([]byte, error) {
	f, err := db.fs.Open(path)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	return b, errors.Join(err, f.Close())
}

// writeFileSync writes a small file atomically: tmp, fsync, rename, fsync dir.
func (db *DB) writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := db.fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		db.fs.Remove(tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := db.fs.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return db.fs.SyncDir(filepath.Dir(path))
}

// walk calls fn for every file below dir.
func (db *DB) walk(dir string, fn func(path string) error) error {
	return db.walkEntries(dir, func(path string, e os.DirEntry) (bool, error) {
		if e.IsDir() && !strings.HasSuffix(e.Name(), ".col") {
			return true, nil
		}
		return false, fn(path)
	})
}

// walkEntries calls fn for every entry below dir, depth first, in name
// order; it goes into a directory when fn says so.
func (db *DB) walkEntries(dir string, fn func(path string, e os.DirEntry) (descend bool, err error)) error {
	entries, err := db.fs.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		descend, err := fn(path, e)
		if err != nil {
			return err
		}
		if descend && e.IsDir() {
			if err := db.walkEntries(path, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadFiles opens every colstore file below the data directory, and the
// cold files of the cold list.
func (db *DB) loadFiles() error {
	// A local file the cold list also holds was moved and not yet
	// removed: the list is durable, so finish the move.
	coldPaths := make(map[string]bool)
	for _, e := range db.coldList.entries {
		if !e.gone() {
			coldPaths[filepath.Join(db.dir, e.relPath())] = true
		}
	}
	var paths []string
	var wrong []wrongEntry
	root := filepath.Join(db.dir, collectionsDir)
	err := db.walkEntries(root, func(path string, e os.DirEntry) (bool, error) {
		// An entry of the wrong kind where the engine keeps its own
		// (a directory or pipe for a file, a file for a directory) is
		// data just as missing as a damaged file's: skipping it would
		// answer "no data", opening a pipe would block.
		why, err := db.wrongKind(root, path, e)
		if err != nil {
			return false, err
		}
		if why != "" {
			wrong = append(wrong, wrongEntry{path, why})
			return false, nil
		}
		if e.IsDir() {
			return true, nil
		}
		switch {
		case strings.HasSuffix(path, ".col.tmp"):
			// A flush or compaction that crashed before its rename;
			// the WAL or the inputs still hold the data.
			db.log.Warn("removing unfinished colstore file", "path", path)
			return false, db.fs.Remove(path)
		case strings.HasSuffix(path, ".col") && coldPaths[path]:
			db.log.Info("removing a local file the cold store holds", "path", path)
			return false, db.fs.Remove(path)
		case strings.HasSuffix(path, ".col"):
			paths = append(paths, path)
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("scan data dir: %w", err)
	}
	for _, w := range wrong {
		dst, err := db.quarantineFile(w.path, errors.New(w.why))
		if err != nil {
			return fmt.Errorf("open colstore file: %w", err)
		}
		db.addQuarantined(dst, w.why)
	}
	var files []*dataFile
	var rolls []*rollFile
	// dropped are the cold files Open finds replaced or dropped, as it
	// removes local ones: they leave the cold list at the end.
	var dropped []*dataFile
	remove := func(f *dataFile) {
		f.r.Close()
		if f.cold != nil {
			dropped = append(dropped, f)
		} else if err := db.fs.Remove(f.path); err != nil {
			db.log.Error("cannot remove a file Open found replaced or dropped; it stays ignored", "path", f.path, "err", err)
		}
	}
	closeAll := func() {
		for _, f := range files {
			f.r.Close()
		}
		for _, f := range rolls {
			f.r.Close()
		}
	}
	for _, p := range paths {
		r, err := colfile.OpenWith(p, db.fs)
		if err != nil && damaged(err) {
			// One damaged file must not keep the node from serving
			// everything else (quarantine.go).
			dst, qerr := db.quarantineFile(p, err)
			if qerr == nil {
				db.addQuarantined(dst, err.Error())
				continue
			}
			err = errors.Join(err, qerr)
		}
		if err != nil {
			closeAll()
			return fmt.Errorf("open colstore file: %w", err)
		}
		files = append(files, &dataFile{path: p, r: r, meta: r.Meta()})
	}
	live := 0
	for _, e := range db.coldList.entries {
		if e.gone() {
			continue
		}
		live++
		f, err := db.openCold(e)
		if err != nil {
			closeAll()
			if db.store() == nil && !db.opts.ColdPending {
				return fmt.Errorf("the data directory has cold files in an object store (%s, …) and no cold store is configured (cold.s3 in the configuration)", e.Key)
			}
			return err
		}
		files = append(files, f)
	}
	if err := db.removeStaleStubs(); err != nil {
		closeAll()
		return err
	}
	files = slices.DeleteFunc(files, func(df *dataFile) bool {
		if db.droppedData(df.meta.Group, df.meta.Seq) {
			// DropGroup recorded the drop and crashed before removing it.
			db.log.Warn("removing file of a dropped group", "path", df.name())
			remove(df)
			return true
		}
		if l, part, ok := parseRollupPath(df.path); ok {
			rolls = append(rolls, &rollFile{dataFile: df, level: l, part: part})
			return true
		}
		return false
	})
	db.attachRollFiles(rolls, remove)
	// A compaction that crashed after writing its output but before
	// removing its inputs leaves both: the output wins.
	replaced := make(map[uint64]bool)
	for _, f := range files {
		for _, seq := range f.meta.Replaces {
			replaced[seq] = true
		}
	}
	files = slices.DeleteFunc(files, func(f *dataFile) bool {
		if !replaced[f.meta.Seq] {
			return false
		}
		db.log.Warn("removing colstore file replaced by a compaction", "path", f.name())
		remove(f)
		return true
	})
	sort.Slice(files, func(i, j int) bool { return files[i].meta.Seq < files[j].meta.Seq })
	for _, f := range files {
		db.attachFile(f)
		db.bumpSeq(f.meta.Seq)
	}
	for _, e := range db.coldList.entries {
		db.bumpSeq(e.Seq) // gone ones too: their numbers are not handed out again
	}
	if live > 0 {
		db.log.Info("cold files", "files", live)
	}
	if err := db.dropCold(dropped, false); err != nil {
		db.log.Error("cannot record cold files Open found replaced or dropped; they are dropped again at the next start", "err", err)
	}
	return nil
}

// removeStaleStubs removes the index copies of cold/ that no live entry
// of the cold list names (a Tier run that crashed before its list write,
// a file that left the list).
func (db *DB) removeStaleStubs() error {
	dir := filepath.Join(db.dir, coldDir)
	entries, err := db.fs.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("scan %s: %w", dir, err)
	}
	want := make(map[string]bool)
	for _, e := range db.coldList.entries {
		if !e.gone() {
			want[filepath.Base(db.stubPath(e.Seq))] = true
		}
	}
	removed := false
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || n == "list" || want[n] || !strings.HasSuffix(n, ".idx") && !strings.HasSuffix(n, ".tmp") {
			continue
		}
		if err := db.fs.Remove(filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("remove stale index copy: %w", err)
		}
		removed = true
	}
	if removed {
		return db.fs.SyncDir(dir)
	}
	return nil
}

// attachRollFiles registers the rollup files found at start-up: for each
// collection, group, level and partition the file with the highest
// sequence number wins (a crash may have left the one it replaced).
func (db *DB) attachRollFiles(rolls []*rollFile, remove func(*dataFile)) {
	sort.Slice(rolls, func(i, j int) bool { return rolls[i].meta.Seq > rolls[j].meta.Seq })
	type key struct {
		coll  string
		group int
		level model.Level
		part  int64
	}
	seen := make(map[key]bool)
	for _, f := range rolls {
		k := key{f.meta.Collection, f.meta.Group, f.level, f.part}
		if seen[k] {
			db.log.Warn("removing replaced rollup file", "path", f.name())
			remove(f.dataFile)
			continue
		}
		seen[k] = true
		db.bumpSeq(f.meta.Seq)
		c := db.coll(f.meta.Collection)
		db.groups[f.meta.Group].noteSeq(f.meta.Seq)
		g := db.groups[f.meta.Group].rollupsOf(c)
		g.files[f.level] = append(g.files[f.level], f)
		// Series whose raw data retention dropped live on in rollups.
		for _, si := range f.r.AllSeries() {
			for _, ci := range si.Columns {
				if name, kind, ok := parseRollupColumn(ci.Name); ok {
					if _, ok := c.fields[name]; !ok {
						c.fields[name] = kind
					}
				}
			}
			db.seriesFor(c, si.Key, si.Tags)
		}
	}
	for _, c := range db.colls {
		for _, g := range db.collRollups(c) {
			for l := range g.files {
				sort.Slice(g.files[l], func(i, j int) bool { return g.files[l][i].part < g.files[l][j].part })
			}
		}
	}
}

// attachWritten is attachFile for a file the DB has just written (a
// flush's or a compaction's), whose columns' names and kinds, in the
// order a pass over the file meets them, are fields: it does not decode
// the file's index, only the entry of a series the DB does not know (one
// deleted meanwhile). The caller holds mu.
func (db *DB) attachWritten(f *dataFile, fields []fieldKind) {
	c := db.coll(f.meta.Collection)
	for _, fk := range fields {
		if _, ok := c.fields[fk.name]; !ok {
			c.fields[fk.name] = fk.kind
		}
	}
	for i := range f.r.NumSeries() {
		key := f.r.Key(i)
		s := c.series[key]
		if s == nil {
			s = db.seriesFor(c, key, f.r.SeriesAt(i).Tags)
		}
		s.files = append(s.files, fileSeries{f: f, idx: i})
	}
	db.groupFile(f, true)
}

// attachFile registers a file's series. The caller holds mu or has the DB
// to itself.
func (db *DB) attachFile(f *dataFile) {
	c := db.coll(f.meta.Collection)
	for i, si := range f.r.AllSeries() {
		for _, ci := range si.Columns {
			if _, ok := c.fields[ci.Name]; !ok {
				c.fields[ci.Name] = ci.Kind
			}
		}
		s := db.seriesFor(c, si.Key, si.Tags)
		s.files = append(s.files, fileSeries{f: f, idx: i})
	}
	db.groupFile(f, true)
}

func (db *DB) bumpSeq(seq uint64) {
	for {
		cur := db.seq.Load()
		if seq <= cur || db.seq.CompareAndSwap(cur, seq) {
			return
		}
	}
}
