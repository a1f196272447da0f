package storage

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/colfile"
)

// A colstore file that Open cannot read because it is damaged (a
// truncated or overwritten file, an I/O error reading it) is moved to
// <data>/quarantine/ under its path relative to the data directory, and the
// node starts without it. Every file found below quarantine/ at Open is
// reported by Quarantined, so the state survives restarts; the operator
// ends it by deleting the file (accepting the loss) or by putting a good
// copy back (docs/operations.md, "Damaged files"). An entry of the wrong
// kind under one of the engine's names (wrongKind: a directory or a pipe
// named "*.col", a file where a collection, group or rollup directory
// belongs) is quarantined the same way: its data is as missing as a
// damaged file's, and skipping it would answer "no data".
//
// A raw file's data cannot be guessed: every read of its collection that
// overlaps the partition it covered fails with a *QuarantineError naming
// it. A rollup file is derived: its buckets are marked dirty, so reads use
// raw data meanwhile and the next flush rebuilds them; once that rollup
// pass succeeds the quarantined copy is deleted. The marks are made again
// at every Open while the copy exists, so they are as durable as the file.
// A rollup file whose partition reaches back before the raw data kept
// cannot be rebuilt and fails reads like a raw file.

// QuarantinedFile describes one damaged file moved aside.
type QuarantinedFile struct {
	// Path is where the file is now, relative to the data directory
	// ("quarantine/collections/…").
	Path string `json:"path"`
	// Collection is the collection it belonged to, or its directory name
	// when no file of the collection is left to name it.
	Collection string `json:"collection,omitempty"`
	// Reason is why it could not be read (the first time it was seen;
	// "found in quarantine" at later starts).
	Reason string `json:"reason"`
	// From and To bound the times it covered (inclusive, Unix
	// nanoseconds).
	From int64 `json:"from"`
	To   int64 `json:"to"`
	// Rebuilding is true for a rollup file being rebuilt from raw data:
	// no query fails because of it.
	Rebuilding bool `json:"rebuilding,omitempty"`
}

// quarantined is the engine's record of a QuarantinedFile.
type quarantined struct {
	QuarantinedFile
	dir   string // the collection's directory name (collDirName)
	group int    // -1 when unknown
	level model.Level
	gen   uint64 // rollup generation its dirty marks were made at
}

// QuarantineError is returned by reads that need data of a quarantined
// file.
type QuarantineError struct {
	Collection string
	File       QuarantinedFile
}

// Error implements error.
func (e *QuarantineError) Error() string {
	return fmt.Sprintf("collection %q: data from %s to %s is in quarantined file %s (%s); the node will not answer without it",
		e.Collection, fmtNanos(e.File.From), fmtNanos(e.File.To), e.File.Path, e.File.Reason)
}

func fmtNanos(t int64) string {
	switch t {
	case math.MinInt64:
		return "the beginning"
	case math.MaxInt64:
		return "the end"
	}
	return time.Unix(0, t).UTC().Format(time.RFC3339Nano)
}

// Quarantined returns the damaged files moved aside, sorted by path.
func (db *DB) Quarantined() []QuarantinedFile {
	db.mu.RLock()
	defer db.mu.RUnlock()
	out := make([]QuarantinedFile, len(db.quarantine))
	for i, q := range db.quarantine {
		out[i] = q.QuarantinedFile
	}
	return out
}

// damaged reports whether err from opening a colstore file means the file
// is damaged rather than the node unable to read files at all.
func damaged(err error) bool {
	return errors.Is(err, colfile.ErrCorrupt) || errors.Is(err, syscall.EIO)
}

// quarantineFile moves a damaged file below quarantine/ and fsyncs every
// directory the move changed. It returns the new path.
func (db *DB) quarantineFile(path string, reason error) (string, error) {
	rel, err := filepath.Rel(db.dir, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("quarantine %s: not in the data directory", path)
	}
	dst := filepath.Join(db.dir, quarantineDir, rel)
	for i := 1; ; i++ {
		_, err := db.fs.Stat(dst)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("quarantine %s: %w", path, err)
		}
		dst = filepath.Join(db.dir, quarantineDir, rel) + "." + strconv.Itoa(i)
	}
	if err := db.fs.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("quarantine %s: %w", path, err)
	}
	if err := db.fs.Rename(path, dst); err != nil {
		return "", fmt.Errorf("quarantine %s: %w", path, err)
	}
	var errs []error
	for d := filepath.Dir(dst); ; d = filepath.Dir(d) {
		errs = append(errs, db.fs.SyncDir(d))
		if d == db.dir || len(d) <= len(db.dir) {
			break
		}
	}
	errs = append(errs, db.fs.SyncDir(filepath.Dir(path)))
	if err := errors.Join(errs...); err != nil {
		return "", fmt.Errorf("quarantine %s: %w", path, err)
	}
	db.log.Error("damaged file moved to quarantine; the node serves everything else", "path", path, "to", dst, "reason", reason)
	return dst, nil
}

// addQuarantined records a file below quarantine/ (path is its place
// there). The collection, group and time span come from the path it had.
// The caller has the DB to itself.
func (db *DB) addQuarantined(path, reason string) {
	rel, _ := filepath.Rel(db.dir, path)
	q := &quarantined{QuarantinedFile: QuarantinedFile{Path: filepath.ToSlash(rel), Reason: reason,
		From: math.MinInt64, To: math.MaxInt64}, group: -1}
	// quarantine/collections/<dir>/group_NNNN/[rollup_L/]<part>-<seq>.col[.N]
	parts := strings.Split(filepath.ToSlash(rel), "/")
	if len(parts) >= 3 && parts[1] == collectionsDir {
		q.dir = parts[2]
		if len(parts) == 3 {
			// A collection's whole entry (wrongKind), perhaps with the
			// ".N" quarantineFile adds to a name already taken.
			if i := strings.LastIndexByte(q.dir, '.'); i > 0 {
				if _, err := strconv.Atoi(q.dir[i+1:]); err == nil {
					q.dir = q.dir[:i]
				}
			}
		}
		q.Collection = q.dir
		if name, ok := parseCollDirName(q.dir); ok {
			q.Collection = name
		}
	}
	if len(parts) >= 4 {
		if g, err := strconv.Atoi(strings.TrimPrefix(parts[3], "group_")); err == nil && strings.HasPrefix(parts[3], "group_") {
			q.group = g
		}
	}
	orig := strings.TrimSuffix(path, filepath.Ext(path))
	if filepath.Ext(path) == ".col" {
		orig = path
	}
	if l, ok := rollupDirLevel(strings.TrimSuffix(filepath.Base(orig), filepath.Ext(orig))); ok && len(parts) == 5 {
		// A whole rollup level's directory (wrongKind).
		q.level = l
	} else if l, part, ok := parseRollupPath(orig); ok {
		q.level = l
		if l != model.Level1y { // the 1y level's one file covers everything
			q.From, q.To = part, partEnd(l, part)
		}
	} else if t, err := time.Parse(partitionLayout, partitionName(orig)); err == nil {
		// The partition holding math.MinInt64 is named for its true
		// start, before the int64 range: both ends saturate.
		q.From, _ = timex.FromTime(t)
		if end, ok := timex.FromTime(t.Add(db.opts.PartitionDuration)); ok {
			q.To = end - 1
		}
	}
	db.quarantine = append(db.quarantine, q)
}

// loadQuarantine records every file already below quarantine/.
func (db *DB) loadQuarantine() error {
	root := filepath.Join(db.dir, quarantineDir)
	if _, err := db.fs.Stat(root); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return db.walk(root, func(path string) error {
		db.addQuarantined(path, foundInQuarantine)
		return nil
	})
}

// settleQuarantine runs once every file is loaded: it names the
// collections of quarantined files and marks the buckets of their
// partitions dirty, so that rollups agree with the raw data kept. A rollup
// file is left to the rebuild when its partition lies within the raw data
// kept. The caller has the DB to itself.
func (db *DB) settleQuarantine() {
	byDir := make(map[string]*collection, len(db.colls))
	for _, c := range db.colls {
		byDir[collDirName(c.name)] = c
	}
	for _, q := range db.quarantine {
		c := byDir[q.dir]
		if c == nil {
			if q.level != model.LevelRaw {
				db.log.Error("quarantined rollup file cannot be rebuilt: its collection has no raw data", "path", q.Path)
			}
			continue
		}
		q.Collection = c.name
		if q.group < 0 || q.group >= db.opts.NumGroups {
			continue
		}
		db.markSpan(c, q.group, q.From, q.To, nil, 0)
		q.gen = db.rollGen
		// A rollup file of a collection without rollups has nothing to
		// rebuild: the next rollup pass just removes it.
		if q.level != model.LevelRaw && (c.settings.NoRollups || q.From >= db.horizon(c, model.LevelRaw)) {
			q.Rebuilding = true
		}
	}
	sort.Slice(db.quarantine, func(i, j int) bool { return db.quarantine[i].Path < db.quarantine[j].Path })
	for _, q := range db.quarantine {
		switch {
		case q.Rebuilding:
			db.log.Warn("quarantined rollup file; its buckets are rebuilt from raw data by the next flush", "path", q.Path)
		case q.Reason == foundInQuarantine:
			db.log.Error("file in quarantine; queries over its range fail until it is deleted or restored",
				"path", q.Path, "collection", q.Collection, "from", fmtNanos(q.From), "to", fmtNanos(q.To))
		}
	}
}

// foundInQuarantine is the reason given for a file already in quarantine
// at Open.
const foundInQuarantine = "found in quarantine"

// rebuiltQuarantine deletes the quarantined rollup files whose buckets a
// rollup pass up to cutoff has rebuilt. The caller holds flushMu.
func (db *DB) rebuiltQuarantine(cutoff uint64) {
	db.mu.Lock()
	var done []*quarantined
	db.quarantine = slices.DeleteFunc(db.quarantine, func(q *quarantined) bool {
		if q.Rebuilding && q.gen <= cutoff {
			done = append(done, q)
			return true
		}
		return false
	})
	db.mu.Unlock()
	for _, q := range done {
		path := filepath.Join(db.dir, filepath.FromSlash(q.Path))
		if err := db.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			db.log.Error("cannot remove quarantined rollup file after its rebuild", "path", path, "err", err)
			continue
		}
		db.log.Info("rollups of a quarantined file rebuilt from raw data; file removed", "path", path)
	}
}

// expireQuarantine deletes the quarantined files that retention would
// have dropped by now, ending their quarantine. The caller holds flushMu.
func (db *DB) expireQuarantine() error {
	db.mu.Lock()
	var gone []*quarantined
	if len(db.quarantine) > 0 {
		byDir := make(map[string]*collection, len(db.colls))
		for _, c := range db.colls {
			byDir[collDirName(c.name)] = c
		}
		db.quarantine = slices.DeleteFunc(db.quarantine, func(q *quarantined) bool {
			c := byDir[q.dir]
			if c == nil || q.Rebuilding || q.level == model.Level1y {
				return false
			}
			if from := db.horizon(c, q.level); from != math.MinInt64 && q.To < from {
				gone = append(gone, q)
				return true
			}
			return false
		})
	}
	db.mu.Unlock()
	var errs []error
	for _, q := range gone {
		path := filepath.Join(db.dir, filepath.FromSlash(q.Path))
		if err := db.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove expired quarantined file: %w", err))
			continue
		}
		db.log.Info("quarantined file expired by retention; removed", "path", path)
	}
	return errors.Join(errs...)
}

// CheckRange implements planner.RangeChecker: it returns a
// *QuarantineError when data of collection in [min, max] is in a
// quarantined file.
func (db *DB) CheckRange(collection string, min, max int64) error {
	return db.quarantineErr(collection, min, max)
}

// quarantineErr is checkQuarantine for a caller that does not hold mu.
func (db *DB) quarantineErr(collection string, min, max int64) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.checkQuarantine(collection, min, max)
}

// checkQuarantine returns a *QuarantineError when data of collection in
// [min, max] is in a quarantined file. The caller holds mu.
func (db *DB) checkQuarantine(collection string, min, max int64) error {
	if len(db.quarantine) == 0 {
		return nil
	}
	dir := collDirName(collection)
	for _, q := range db.quarantine {
		if q.Rebuilding || q.dir != dir || q.To < min || q.From > max {
			continue
		}
		return &QuarantineError{Collection: collection, File: q.QuarantinedFile}
	}
	return nil
}

// wrongEntry is an entry below collections/ of the wrong kind, and why.
type wrongEntry struct{ path, why string }

// wrongKind says why the entry e at path below root (collections/) is not
// of the kind the engine keeps under its name, or "" when it is, or the
// name is not one of the engine's. A "*.col" name must be a regular file;
// a collection's directory (collDirName), "group_NNNN" in it and
// "rollup_L" in a group must be directories. Symbolic links count as what
// they point to; one that points nowhere is wrong.
func (db *DB) wrongKind(root, path string, e os.DirEntry) (string, error) {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return "", nil
	}
	name := e.Name()
	depth := strings.Count(filepath.ToSlash(rel), "/") + 1
	wantDir := false
	switch {
	case strings.HasSuffix(name, ".col"):
	case depth == 1 && isCollDirName(name),
		depth == 2 && strings.HasPrefix(name, "group_"),
		depth == 3 && strings.HasPrefix(name, "rollup_"):
		wantDir = true
	default:
		return "", nil
	}
	mode := e.Type()
	if mode&os.ModeSymlink != 0 {
		st, err := db.fs.Stat(path)
		if errors.Is(err, os.ErrNotExist) {
			return "symbolic link to nothing where the engine keeps a " + kindName(wantDir), nil
		}
		if err != nil {
			return "", err
		}
		mode = st.Mode().Type()
	}
	switch {
	case wantDir && !mode.IsDir():
		return kindName(false) + " where the engine keeps a directory", nil
	case !wantDir && !mode.IsRegular():
		if mode.IsDir() {
			return "directory where the engine keeps a file", nil
		}
		return "special file (" + mode.String() + ") where the engine keeps a file", nil
	}
	return "", nil
}

func kindName(dir bool) string {
	if dir {
		return "directory"
	}
	return "file"
}

// isCollDirName reports whether d is a name collDirName makes.
func isCollDirName(d string) bool {
	if _, ok := parseCollDirName(d); ok {
		return true
	}
	return strings.Contains(d, "~~")
}

// rollupDirLevel returns the level of a rollup directory's name
// ("rollup_1h").
func rollupDirLevel(name string) (model.Level, bool) {
	n, ok := strings.CutPrefix(name, "rollup_")
	if !ok {
		return 0, false
	}
	for i, ln := range levelNamesForDirs {
		if i > 0 && ln == n {
			return model.Level(i), true
		}
	}
	return 0, false
}
