package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/colfile"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/wal"
)

// Options configure a DB. The zero value of each field means its default.
type Options struct {
	// NumGroups is the number of groups devices are hashed into (default
	// 16). It is fixed when the data directory is created and read back
	// from it afterwards.
	NumGroups int
	// PartitionDuration is the time span of one colstore file (default 24h,
	// aligned to the Unix epoch).
	PartitionDuration time.Duration
	// ShardTag is the tag whose value names a point's device (default
	// "device_id"). A series without it is its own device.
	ShardTag string
	// Sync is the WAL's fsync policy (default wal.SyncAlways).
	Sync wal.SyncMode
	// WALSegmentSize is the size at which a WAL segment is rotated.
	WALSegmentSize int64
	// WALRecovery is what Open does with WAL corruption that is not a torn
	// tail (default wal.RecoverStrict: refuse to open; see
	// docs/format-wal.md).
	WALRecovery wal.Recovery
	// FlushInterval is how often the background flusher moves memory into
	// files (default 10 minutes; negative disables background flushes).
	FlushInterval time.Duration
	// MaxMemoryPoints makes the background flusher flush as soon as memory
	// holds this many field values (default 4,000,000).
	MaxMemoryPoints int
	// CompactFiles makes the background flusher compact a collection's
	// group and partition once it holds this many files (default 4;
	// negative disables background compaction).
	CompactFiles int
	// Logger receives the engine's logs (default slog.Default()).
	Logger *slog.Logger
	// BlockSize is the number of values per colstore block (default
	// colfile.DefaultBlockSize).
	BlockSize int
	// FS is the filesystem every file operation goes through (default
	// vfs.Default); tests inject faults with storage/vfs/errorfs.
	FS vfs.FS
	// Now is the clock retention is measured against (default time.Now).
	Now func() time.Time
	// RetentionInterval is how often the background flusher drops what
	// retention has expired (default 1 minute).
	RetentionInterval time.Duration
	// WriteStallTimeout is how long a write waits for memory when memory
	// is over its bound (see Health) before it fails with ErrBackpressure
	// (default 5 seconds; negative: fail at once).
	WriteStallTimeout time.Duration
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.NumGroups <= 0 {
		r.NumGroups = 16
	}
	if r.PartitionDuration <= 0 {
		r.PartitionDuration = 24 * time.Hour
	}
	if r.ShardTag == "" {
		r.ShardTag = "device_id"
	}
	if r.FlushInterval == 0 {
		r.FlushInterval = 10 * time.Minute
	}
	if r.MaxMemoryPoints <= 0 {
		r.MaxMemoryPoints = 4_000_000
	}
	if r.CompactFiles == 0 {
		r.CompactFiles = 4
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.FS == nil {
		r.FS = vfs.Default
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.RetentionInterval <= 0 {
		r.RetentionInterval = time.Minute
	}
	if r.WriteStallTimeout == 0 {
		r.WriteStallTimeout = 5 * time.Second
	}
	return r
}

// MaxCollectionLen is the longest collection name, in bytes, that Write
// accepts (the colstore format's limit).
const MaxCollectionLen = colfile.MaxCollectionLen

// DB is a single-node storage engine over one data directory. It is safe
// for concurrent use.
//
// Lock order: flushMu, then swapMu, then mu.
type DB struct {
	dir  string
	lock *dirLock
	fs   vfs.FS
	opts Options
	log  *slog.Logger
	wal  *wal.WAL

	seq atomic.Uint64 // last batch or file sequence number handed out

	flushMu sync.Mutex   // one flush at a time
	swapMu  sync.RWMutex // writers hold it shared from WAL append to apply; a flush takes it to swap memory

	mu        sync.RWMutex
	colls     map[string]*collection
	tombs     []*tombstone // live deletes that still cover file data, by seq
	memPoints int          // field values in the active memory generation
	immPoints int          // field values in the generation being flushed
	closed    bool
	settings  map[string]CollectionSettings // by collection; absent means defaults
	rollGen   uint64                        // rollup generation dirty marks are made at (rollup.go)
	rollMeta  bool                          // meta.json says rollups are maintained
	layout    int                           // meta.json "layout" (layout.go)
	// quarantine lists the damaged files moved aside (quarantine.go).
	quarantine []*quarantined
	// rollState is the rollup state of collections (rollup_state.go).
	rollState map[string]*rollupState
	// rawDropped is, by collection, the latest raw horizon retention has
	// enforced (rollup_state.go).
	rawDropped map[string]int64

	// migrateCrashAt makes the layout migration fail before its step of
	// that number (1-based), as a crash would; tests only.
	migrateCrashAt int

	shut bool // set under flushMu once Close has closed the WAL

	health healthState // failures and stalls, for Health (health.go)
	// memChanged is closed, and replaced, whenever a flush ends or the DB
	// closes, to wake writes waiting for memory; guarded by mu.
	memChanged chan struct{}

	dirsMu sync.Mutex
	dirs   map[string]bool // directories below dir known durable in this process (mkdirDurable)

	stop chan struct{} // closed by Close to stop the background flusher
	done chan struct{} // closed when the background flusher has exited
	full chan struct{} // signalled when memory reaches MaxMemoryPoints

	timing timings // flush and compaction durations, for Stats
}

// collection is the in-memory index of one collection.
type collection struct {
	name   string
	fields map[string]model.Kind
	series map[string]*series
	// tags maps tag key → tag value → series keys.
	tags map[string]map[string]map[string]struct{}

	settings CollectionSettings
	rollups  map[int]*groupRollups // by group
}

// series is one series with its data sources, oldest first.
type series struct {
	coll  string
	key   string
	tags  model.Tags
	group int
	files []fileSeries // sorted by file seq
	imm   *memSeries   // being flushed, or nil
	mem   *memSeries   // active, or nil
}

// fileSeries is a series' entry in one colstore file.
type fileSeries struct {
	f   *dataFile
	idx int // index in f.r.Series()
}

// dataFile is an open colstore file. Readers hold a reference while they
// read it; compaction retires it, and the last of the two closes it.
type dataFile struct {
	path      string
	r         *colfile.Reader
	meta      colfile.Meta
	refs      atomic.Int64
	obsolete  atomic.Bool
	closeOnce sync.Once
}

// acquire takes a reference. The caller holds mu, so the file cannot be
// retired at the same time.
func (f *dataFile) acquire() { f.refs.Add(1) }

// release drops a reference and closes a retired file no one reads.
func (f *dataFile) release() {
	if f.refs.Add(-1) == 0 && f.obsolete.Load() {
		f.close()
	}
}

// retire marks a file replaced; it is closed now or by its last reader.
func (f *dataFile) retire() {
	f.obsolete.Store(true)
	if f.refs.Load() == 0 {
		f.close()
	}
}

func (f *dataFile) close() { f.closeOnce.Do(func() { f.r.Close() }) }

// dataDirMeta is the data directory's own description, in meta.json.
type dataDirMeta struct {
	// Format is 1 for the first layout and 2 from layout 2 on, which
	// versions that know only format 1 refuse to open.
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
	if err := db.migrateLayout(); err != nil {
		lock.unlock()
		return nil, err
	}
	if err := db.loadSettings(); err != nil {
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
	w, err := wal.Open(filepath.Join(dir, "wal"), &wal.Options{Sync: o.Sync, SegmentSize: o.WALSegmentSize, Logger: o.Logger, FS: o.FS, Recovery: o.WALRecovery})
	if err != nil {
		db.closeFiles()
		lock.unlock()
		return nil, fmt.Errorf("open wal: %w", err)
	}
	db.wal = w
	start := time.Now()
	records, points := 0, 0
	err = w.Replay(func(segment uint64, rec []byte) error {
		if recordKind(rec) == recordDelete {
			t, err := decodeDelete(rec)
			if err != nil {
				return fmt.Errorf("wal segment %d: %w", segment, err)
			}
			db.applyDelete(t)
			db.bumpSeq(t.seq)
			records++
			return nil
		}
		seq, pts, err := decodeBatch(rec)
		if err != nil {
			return fmt.Errorf("wal segment %d: %w", segment, err)
		}
		if conflicts := db.checkKinds(pts, true); len(conflicts) > 0 {
			// A record that clashes with the schema can only come from
			// files written by a different version; keep the data we
			// can and say so rather than refuse to start.
			db.log.Warn("wal record clashes with the schema; clashing fields skipped", "segment", segment, "conflicts", len(conflicts))
		}
		db.apply(seq, pts)
		db.bumpSeq(seq)
		records++
		points += len(pts)
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
		if m.Format < 1 || m.Format > 2 || m.NumGroups <= 0 {
			return fmt.Errorf("read %s: unsupported format %d or num_groups %d", path, m.Format, m.NumGroups)
		}
		if configuredGroups > 0 && configuredGroups != m.NumGroups {
			db.log.Warn("num_groups is fixed by the data directory; ignoring the configured value",
				"configured", db.opts.NumGroups, "data_dir", m.NumGroups)
		}
		db.opts.NumGroups = m.NumGroups
		db.rollMeta = m.Rollups == 1
		db.layout = m.Layout
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
	m := dataDirMeta{Format: 1, NumGroups: db.opts.NumGroups, Layout: db.layout}
	if db.layout >= 2 {
		// Format 1 readers would write collections where this layout
		// no longer looks for them: make them refuse the directory.
		m.Format = 2
	}
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

// loadFiles opens every colstore file below the data directory.
func (db *DB) loadFiles() error {
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
			for _, f := range files {
				f.r.Close()
			}
			for _, f := range rolls {
				f.r.Close()
			}
			return fmt.Errorf("open colstore file: %w", err)
		}
		df := &dataFile{path: p, r: r, meta: r.Meta()}
		if l, part, ok := parseRollupPath(p); ok {
			rolls = append(rolls, &rollFile{dataFile: df, level: l, part: part})
			continue
		}
		files = append(files, df)
	}
	if err := db.attachRollFiles(rolls); err != nil {
		return err
	}
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
		db.log.Warn("removing colstore file replaced by a compaction", "path", f.path)
		f.r.Close()
		if err := db.fs.Remove(f.path); err != nil {
			db.log.Error("cannot remove replaced colstore file; it stays ignored", "path", f.path, "err", err)
		}
		return true
	})
	sort.Slice(files, func(i, j int) bool { return files[i].meta.Seq < files[j].meta.Seq })
	for _, f := range files {
		db.attachFile(f)
		db.bumpSeq(f.meta.Seq)
	}
	return nil
}

// attachRollFiles registers the rollup files found at start-up: for each
// collection, group, level and partition the file with the highest
// sequence number wins (a crash may have left the one it replaced).
func (db *DB) attachRollFiles(rolls []*rollFile) error {
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
			db.log.Warn("removing replaced rollup file", "path", f.path)
			f.r.Close()
			if err := db.fs.Remove(f.path); err != nil {
				db.log.Error("cannot remove replaced rollup file; it stays ignored", "path", f.path, "err", err)
			}
			continue
		}
		seen[k] = true
		db.bumpSeq(f.meta.Seq)
		c := db.coll(f.meta.Collection)
		g := c.rollupsOf(f.meta.Group)
		g.files[f.level] = append(g.files[f.level], f)
		// Series whose raw data retention dropped live on in rollups.
		for _, si := range f.r.Series() {
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
		for _, g := range c.rollups {
			for l := range g.files {
				sort.Slice(g.files[l], func(i, j int) bool { return g.files[l][i].part < g.files[l][j].part })
			}
		}
	}
	return nil
}

// attachFile registers a file's series. The caller holds mu or has the DB
// to itself.
func (db *DB) attachFile(f *dataFile) {
	c := db.coll(f.meta.Collection)
	for i, si := range f.r.Series() {
		for _, ci := range si.Columns {
			if _, ok := c.fields[ci.Name]; !ok {
				c.fields[ci.Name] = ci.Kind
			}
		}
		s := db.seriesFor(c, si.Key, si.Tags)
		s.files = append(s.files, fileSeries{f: f, idx: i})
	}
}

func (db *DB) bumpSeq(seq uint64) {
	for {
		cur := db.seq.Load()
		if seq <= cur || db.seq.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// coll returns the collection, creating it. The caller holds mu.
func (db *DB) coll(name string) *collection {
	c := db.colls[name]
	if c == nil {
		c = &collection{name: name, fields: make(map[string]model.Kind), series: make(map[string]*series),
			tags: make(map[string]map[string]map[string]struct{}), settings: db.settings[name]}
		db.colls[name] = c
	}
	return c
}

// seriesFor returns the series with key, creating and indexing it. The
// caller holds mu.
func (db *DB) seriesFor(c *collection, key string, tags model.Tags) *series {
	s := c.series[key]
	if s != nil {
		return s
	}
	s = &series{coll: c.name, key: key, tags: tags, group: db.groupOf(key, tags)}
	c.series[key] = s
	for _, t := range tags {
		vals := c.tags[t.Key]
		if vals == nil {
			vals = make(map[string]map[string]struct{})
			c.tags[t.Key] = vals
		}
		keys := vals[t.Value]
		if keys == nil {
			keys = make(map[string]struct{})
			vals[t.Value] = keys
		}
		keys[key] = struct{}{}
	}
	return s
}

// groupOf hashes a series' device to its group: FNV-1a (64 bit) of the
// shard tag's value, or of the series key when the series has no shard
// tag, modulo the number of groups.
func (db *DB) groupOf(key string, tags model.Tags) int {
	device := key
	if tags.Has(db.opts.ShardTag) {
		device = tags.Get(db.opts.ShardTag)
	}
	h := fnv.New64a()
	h.Write([]byte(device))
	return int(h.Sum64() % uint64(db.opts.NumGroups))
}

// Write makes a batch of points durable and visible. Either the whole batch
// is written or none of it: a field whose kind clashes with the collection's
// schema fails the batch with a *ConflictError, a WAL failure with
// ErrUnavailable. Points must have a collection and at least one field.
func (db *DB) Write(ctx context.Context, points []model.Point) error {
	if len(points) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range points {
		p := &points[i]
		if p.Collection == "" || len(p.Fields) == 0 {
			return fmt.Errorf("point %d: a point needs a collection and at least one field", i)
		}
		if len(p.Collection) > MaxCollectionLen {
			return fmt.Errorf("point %d: collection name of %d bytes exceeds %d", i, len(p.Collection), MaxCollectionLen)
		}
	}
	if err := db.waitForMemory(ctx); err != nil {
		return err
	}
	db.swapMu.RLock()
	defer db.swapMu.RUnlock()

	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return ErrClosed
	}
	// Reserve the kinds of new fields now, so that two concurrent batches
	// cannot give one field two kinds.
	if err := db.checkRetention(points); err != nil {
		db.mu.Unlock()
		return err
	}
	conflicts := db.checkKinds(points, false)
	db.mu.Unlock()
	if len(conflicts) > 0 {
		return &ConflictError{Conflicts: conflicts}
	}

	seq := db.seq.Add(1)
	rb := recordBufs.Get().(*recordBuf)
	rb.buf = rb.enc.encode(rb.buf[:0], seq, points)
	_, err := db.wal.Append(rb.buf) // the WAL copies the record before it returns
	if cap(rb.buf) <= maxPooledRecord {
		recordBufs.Put(rb)
	}
	if err != nil {
		db.health.walErrors.Add(1)
		db.log.Error("wal append failed; write not acknowledged", "err", err)
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}

	db.mu.Lock()
	db.apply(seq, points)
	full := db.memPoints >= db.opts.MaxMemoryPoints
	db.mu.Unlock()
	if full {
		// Wake the background flusher now rather than at its next tick,
		// so memory stays near the bound at high ingest rates.
		select {
		case db.full <- struct{}{}:
		default:
		}
	}
	return nil
}

// recordBuf is a batch encoder and its output buffer, reused across
// writes through recordBufs; buffers above maxPooledRecord are dropped.
type recordBuf struct {
	enc batchEncoder
	buf []byte
}

const maxPooledRecord = 8 << 20

var recordBufs = sync.Pool{New: func() any { return new(recordBuf) }}

// checkKinds checks every field against the collection's schema and the
// earlier points of the batch, registering new fields. With drop set,
// clashing fields are removed from their points instead of failing. The
// caller holds mu.
func (db *DB) checkKinds(points []model.Point, drop bool) []Conflict {
	var conflicts []Conflict
	var added []struct{ c, f string }
	for i := range points {
		p := &points[i]
		c := db.coll(p.Collection)
		clash := false
		for _, f := range p.Fields {
			have, ok := c.fields[f.Key]
			switch {
			case !ok:
				c.fields[f.Key] = f.Value.Kind
				added = append(added, struct{ c, f string }{p.Collection, f.Key})
			case have != f.Value.Kind:
				conflicts = append(conflicts, Conflict{Point: i, Collection: p.Collection, Field: f.Key, Have: have, Got: f.Value.Kind})
				clash = true
			}
		}
		if drop && clash {
			kept := make([]model.Field, 0, len(p.Fields))
			for _, f := range p.Fields {
				if c.fields[f.Key] == f.Value.Kind {
					kept = append(kept, f)
				}
			}
			p.Fields = kept
		}
	}
	if len(conflicts) > 0 && !drop {
		// The batch is refused: forget the fields it introduced.
		for _, a := range added {
			delete(db.colls[a.c].fields, a.f)
		}
	}
	return conflicts
}

// checkRetention refuses points older than their collection's raw
// retention. The caller holds mu.
func (db *DB) checkRetention(points []model.Point) error {
	var now int64
	nowRead := false
	for i := range points {
		p := &points[i]
		r := db.settings[p.Collection].Retention[model.LevelRaw]
		if kept := db.rawKept(p.Collection); p.Time < kept {
			return &RetentionError{Point: i, Collection: p.Collection, Time: p.Time, Retention: r, Kept: kept}
		}
		if r <= 0 {
			continue
		}
		if !nowRead {
			now, _ = timex.FromTime(db.now())
			nowRead = true
		}
		if cut, _ := timex.Sub(now, int64(r)); p.Time < cut {
			return &RetentionError{Point: i, Collection: p.Collection, Time: p.Time, Retention: r}
		}
	}
	return nil
}

func (db *DB) now() time.Time { return db.opts.Now() }

// apply adds a batch to the active memory generation and marks the rollup
// buckets it touches dirty. The caller holds mu.
func (db *DB) apply(seq uint64, points []model.Point) {
	// Mark each (collection, group, hour) of the batch once: a batch
	// usually spans few hours but many devices.
	type markKey struct {
		c     *collection
		group int
		hour  int64
	}
	var last markKey
	var marked map[markKey]bool
	// Points of one device often share their Tags slice (the line
	// protocol parser reuses a repeated measurement-and-tags section), so
	// their series is found by that slice before building a key.
	type sharedTags struct {
		coll string
		tags *model.Tag
		n    int
	}
	type found struct {
		c *collection
		s *series
	}
	var known map[sharedTags]found
	for i := range points {
		p := &points[i]
		var f found
		var sk sharedTags
		if len(p.Tags) > 0 {
			sk = sharedTags{p.Collection, &p.Tags[0], len(p.Tags)}
			f = known[sk]
		}
		if f.s == nil {
			f.c = db.coll(p.Collection)
			f.s = db.seriesFor(f.c, model.SeriesKey(p.Collection, p.Tags), p.Tags)
			if sk.tags != nil {
				if known == nil {
					known = make(map[sharedTags]found)
				}
				known[sk] = f
			}
		}
		c, s := f.c, f.s
		if k := (markKey{c, s.group, model.Level1h.Floor(p.Time)}); k != last {
			if marked == nil {
				marked = make(map[markKey]bool)
			}
			if !marked[k] {
				marked[k] = true
				db.markWrite(c, s.group, p.Time)
			}
			last = k
		}
		if s.mem == nil {
			s.mem = newMemSeries()
		}
		for _, f := range p.Fields {
			mc := s.mem.cols[f.Key]
			if mc == nil {
				mc = newMemColumn(f.Key, f.Value.Kind)
				s.mem.cols[f.Key] = mc
			}
			mc.append(p.Time, f.Value, seq)
			s.mem.points++
			db.memPoints++
		}
	}
}

// Flush writes everything acknowledged before it was called into colstore
// files and then drops the WAL segments that held it. Concurrent writes go
// on while it runs.
func (db *DB) Flush(ctx context.Context) error {
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	err := db.flushLocked(ctx)
	db.noteFlush(ctx, err)
	return err
}

func (db *DB) flushLocked(ctx context.Context) error {
	start := time.Now()
	// Swap: the active generation becomes immutable. Holding swapMu
	// exclusively means no batch is between its WAL append and its apply,
	// so every record in a segment before the new one is in imm (or in
	// files already).
	db.swapMu.Lock()
	db.mu.Lock()
	if db.shut {
		db.mu.Unlock()
		db.swapMu.Unlock()
		return ErrClosed
	}
	var work []*series
	for _, c := range db.colls {
		for _, s := range c.series {
			if s.mem != nil && s.imm == nil {
				s.imm, s.mem = s.mem, nil
				work = append(work, s)
			}
		}
	}
	db.immPoints += db.memPoints
	db.memPoints = 0
	cutoff := db.rollGen
	db.rollGen++
	seg, err := db.wal.Rotate()
	tombs := append([]*tombstone(nil), db.tombs...)
	db.mu.Unlock()
	db.swapMu.Unlock()
	if err != nil {
		db.unswap(work)
		return fmt.Errorf("rotate wal: %w", err)
	}
	// Live tombstones must outlive the segments about to be removed.
	for _, t := range tombs {
		if _, err := db.wal.Append(appendDelete(nil, t)); err != nil {
			db.unswap(work)
			return fmt.Errorf("carry tombstone over: %w", err)
		}
	}
	if len(work) == 0 {
		if err := db.finishRollups(ctx, cutoff); err != nil {
			return err
		}
		return db.wal.RemoveBefore(seg)
	}

	// Build one file per collection, group and partition.
	type fileKey struct {
		coll      string
		group     int
		partition int64
	}
	parts := make(map[fileKey][]colfile.SeriesData)
	names := make(map[int64]string) // partition index -> file name prefix
	part := db.opts.PartitionDuration.Nanoseconds()
	for _, s := range work {
		byPart := make(map[int64][]model.Column)
		for _, mc := range s.imm.cols {
			col := mc.sorted()
			for lo := 0; lo < col.Len(); {
				p := timex.FloorDiv(col.Times[lo], part)
				if _, ok := names[p]; !ok {
					names[p] = partitionFileName(col.Times[lo], part)
				}
				hi := lo
				for hi < col.Len() && timex.FloorDiv(col.Times[hi], part) == p {
					hi++
				}
				byPart[p] = append(byPart[p], col.Slice(lo, hi))
				lo = hi
			}
		}
		for p, cols := range byPart {
			k := fileKey{coll: s.coll, group: s.group, partition: p}
			parts[k] = append(parts[k], colfile.SeriesData{Tags: s.tags, Columns: cols})
		}
	}
	var written []*dataFile
	var werr error
	for k, data := range parts {
		if err := ctx.Err(); err != nil {
			werr = err
			break
		}
		seq := db.seq.Add(1)
		dir := filepath.Join(db.collDir(k.coll), fmt.Sprintf("group_%04d", k.group))
		if err := db.mkdirDurable(dir); err != nil {
			werr = fmt.Errorf("create group dir: %w", err)
			break
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%016d.col", names[k.partition], seq))
		if _, err := colfile.WriteWith(path, k.coll, k.group, seq, data, &colfile.WriteOptions{FS: db.fs, BlockSize: db.opts.BlockSize}); err != nil {
			werr = fmt.Errorf("write colstore file: %w", err)
			break
		}
		r, err := colfile.OpenWith(path, db.fs)
		if err != nil {
			werr = fmt.Errorf("reopen colstore file: %w", err)
			break
		}
		written = append(written, &dataFile{path: path, r: r, meta: r.Meta()})
	}
	if werr == nil {
		// New collection directories are entries of collections/.
		if err := db.fs.SyncDir(filepath.Join(db.dir, collectionsDir)); err != nil {
			werr = fmt.Errorf("sync data dir: %w", err)
		}
	}

	db.mu.Lock()
	for _, f := range written {
		db.attachFile(f)
	}
	if werr != nil {
		db.mu.Unlock()
		// Keep the data in memory (and the WAL segments): fold imm back
		// into the active generation so the next flush tries again.
		// Anything already written is harmless: memory wins over files.
		db.unswap(work)
		return werr
	}
	for _, s := range work {
		s.imm = nil
	}
	db.immPoints = 0
	db.mu.Unlock()
	// The WAL holds what marked the rollups dirty until they are rebuilt.
	if err := db.finishRollups(ctx, cutoff); err != nil {
		return err
	}
	if err := db.wal.RemoveBefore(seg); err != nil {
		return fmt.Errorf("truncate wal: %w", err)
	}
	took := time.Since(start)
	db.timing.flushed(took, time.Now())
	db.log.Info("flushed", "series", len(work), "files", len(written), "took", took.Round(time.Millisecond))
	return nil
}

// finishRollups runs the rollup pass of a flush and, the first time,
// records in meta.json that rollups are maintained.
func (db *DB) finishRollups(ctx context.Context, cutoff uint64) error {
	if err := db.rollupLocked(ctx, cutoff); err != nil {
		return err
	}
	db.rebuiltQuarantine(cutoff)
	if !db.rollMeta {
		db.rollMeta = true
		if err := db.saveDirMeta(); err != nil {
			db.rollMeta = false
			return err
		}
	}
	return nil
}

// unswap folds the immutable generation of each series back into its
// active one after a failed flush.
func (db *DB) unswap(work []*series) {
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, s := range work {
		if s.imm == nil {
			continue
		}
		// The active points are counted in memPoints already.
		db.memPoints += s.imm.points
		if s.mem != nil {
			// The batch sequence numbers keep last-write-wins intact
			// whatever order the values are appended in.
			for name, mc := range s.mem.cols {
				dst := s.imm.cols[name]
				if dst == nil {
					s.imm.cols[name] = mc
					continue
				}
				seqs := mc.seqs()
				col := mc.column()
				for i := 0; i < col.Len(); i++ {
					dst.append(col.Times[i], col.Value(i), seqs[i])
				}
			}
			s.imm.points += s.mem.points
		}
		s.mem, s.imm = s.imm, nil
	}
	db.immPoints = 0
}

// partitionLayout formats the start of a file's partition in its name.
const partitionLayout = "20060102T150405Z"

// partitionFileName names the raw partition of width part holding t by its
// true start, which for the partition holding math.MinInt64 lies before
// the int64 range (1677-09-21T00:00:00Z for a day).
func partitionFileName(t, part int64) string {
	return timex.FloorTime(t, part, 0).Format(partitionLayout)
}

func (db *DB) flushLoop() {
	defer close(db.done)
	if db.opts.FlushInterval < 0 {
		<-db.stop
		return
	}
	// Background work stops between compaction units once Close begins.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-db.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	// Check memory once a second, or more often for short intervals.
	tick := time.NewTicker(min(time.Second, max(db.opts.FlushInterval/2, 10*time.Millisecond)))
	defer tick.Stop()
	last, lastRetention := time.Now(), time.Now()
	for {
		select {
		case <-db.stop:
			return
		case <-tick.C:
		case <-db.full:
		}
		if time.Since(lastRetention) >= db.opts.RetentionInterval {
			if err := db.EnforceRetention(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
				db.log.Error("dropping expired files failed", "err", err)
			}
			lastRetention = time.Now()
		}
		db.mu.RLock()
		n := db.memPoints
		pending := db.rollupsPending()
		db.mu.RUnlock()
		if !pending && (n == 0 || (n < db.opts.MaxMemoryPoints && time.Since(last) < db.opts.FlushInterval)) {
			continue
		}
		if err := db.Flush(ctx); err != nil {
			// The flusher retries every tick: log the first failure and
			// then one in 60, not one a second for as long as the disk
			// stays full.
			if n := db.Health().ConsecutiveFlushFailures; n <= 1 || n%60 == 0 {
				db.log.Error("background flush failed; data stays in memory and the WAL", "err", err, "consecutive_failures", n)
			}
		}
		last = time.Now()
		if db.opts.CompactFiles > 0 {
			if err := db.compact(ctx, db.opts.CompactFiles); err != nil && ctx.Err() == nil {
				db.log.Error("background compaction failed; the old files keep serving", "err", err)
			}
		}
	}
}

// Close stops accepting writes, flushes memory into files, and closes the
// WAL and every file. It is safe to call more than once.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	db.mu.Unlock()
	db.wakeWriters()
	close(db.stop)
	<-db.done
	ferr := db.Flush(context.Background())
	db.flushMu.Lock()
	werr := db.wal.Close()
	db.shut = true
	db.flushMu.Unlock()
	db.closeFiles()
	return errors.Join(ferr, werr, db.lock.unlock())
}

func (db *DB) closeFiles() {
	seen := make(map[*dataFile]bool)
	for _, c := range db.colls {
		for _, g := range c.rollups {
			for _, fs := range g.files {
				for _, f := range fs {
					f.close()
				}
			}
		}
		for _, s := range c.series {
			for _, fs := range s.files {
				if !seen[fs.f] {
					seen[fs.f] = true
					fs.f.close()
				}
			}
		}
	}
}

// Collections implements planner.Source.
func (db *DB) Collections() []string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	out := make([]string, 0, len(db.colls))
	for name, c := range db.colls {
		if len(c.series) > 0 {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// lookup returns an existing collection with at least one series.
func (db *DB) lookup(name string) *collection {
	c := db.colls[name]
	if c == nil || len(c.series) == 0 {
		return nil
	}
	return c
}

// Fields implements planner.Source.
func (db *DB) Fields(collection string) (map[string]model.Kind, bool) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	c := db.lookup(collection)
	if c == nil {
		return nil, false
	}
	out := make(map[string]model.Kind, len(c.fields))
	for k, v := range c.fields {
		out[k] = v
	}
	return out, true
}

// TagKeys implements planner.Source.
func (db *DB) TagKeys(collection string) []string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	c := db.lookup(collection)
	if c == nil {
		return nil
	}
	out := make([]string, 0, len(c.tags))
	for k := range c.tags {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TagValues implements planner.Source.
func (db *DB) TagValues(collection, key string) []string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	c := db.lookup(collection)
	if c == nil {
		return nil
	}
	out := make([]string, 0, len(c.tags[key]))
	for v := range c.tags[key] {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Series implements planner.Source.
func (db *DB) Series(collection string, match func(model.Tags) bool) []model.Tags {
	db.mu.RLock()
	defer db.mu.RUnlock()
	c := db.lookup(collection)
	if c == nil {
		return nil
	}
	keys := make([]string, 0, len(c.series))
	for k, s := range c.series {
		if match == nil || match(s.tags) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]model.Tags, len(keys))
	for i, k := range keys {
		out[i] = c.series[k].tags
	}
	return out
}

// Explain implements planner.Source. For a rollup level it counts the rows
// the level holds for the series in [min, max] (from the file index, all
// fields) and the dirty buckets there.
func (db *DB) Explain(collection string, series []model.Tags, min, max int64, level model.Level) model.ReadPlan {
	db.mu.RLock()
	defer db.mu.RUnlock()
	var plan model.ReadPlan
	c := db.lookup(collection)
	if c == nil {
		return plan
	}
	groups := make(map[int]bool)
	files := make(map[*dataFile]bool)
	for _, tags := range series {
		s := c.series[model.SeriesKey(collection, tags)]
		if s == nil {
			continue
		}
		groups[s.group] = true
		for _, fs := range s.files {
			if fs.f.meta.MaxTime >= min && fs.f.meta.MinTime <= max {
				files[fs.f] = true
			}
		}
		for _, gen := range []*memSeries{s.imm, s.mem} {
			if gen != nil {
				plan.MemoryPoints += gen.points
			}
		}
	}
	for g := range groups {
		plan.Groups = append(plan.Groups, g)
	}
	sort.Ints(plan.Groups)
	plan.Files = len(files)
	if level != model.LevelRaw && !c.settings.NoRollups {
		db.explainLevel(c, series, min, max, level, &plan)
	}
	return plan
}
