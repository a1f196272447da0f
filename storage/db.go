package storage

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/cold"
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
	// WALSegmentAge is the age at which a non-empty WAL segment is
	// rotated (default wal.DefaultMaxSegmentAge; negative: never by age).
	WALSegmentAge time.Duration
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
	// MaxMemoryBytes bounds the memory the values waiting for a flush and
	// the series index take, by an estimate of their bytes (memBytes,
	// docs/operations.md "Memory"): the background flusher flushes once
	// the values not being flushed yet take half of what the index leaves
	// of it, and writes wait for a flush (then fail with
	// ErrBackpressure, as for MaxMemoryPoints) while the values take all
	// of that, half while flushes fail. The index's share is at most
	// seven eighths: the values keep at least an eighth. Default: 96
	// bytes per MaxMemoryPoints (384 MiB); negative: no bound in bytes.
	MaxMemoryBytes int64
	// CompactFiles makes the background flusher compact a collection's
	// group and partition once it holds this many files (default 4;
	// negative disables background compaction).
	CompactFiles int
	// Logger receives the engine's logs (default slog.Default()).
	Logger *slog.Logger
	// BlockSize is the number of values per colstore block (default
	// colfile.DefaultBlockSize).
	BlockSize int
	// CompactBlockSize is the number of values per block of the files
	// compaction writes (default DefaultCompactBlockSize, or BlockSize
	// when that is set). A compacted partition is mostly read through its
	// rollups, and its blocks only for the partial hours at a window's
	// edges, so its blocks are larger: each block costs an index entry, a
	// checksum and a code table (docs/format.md).
	CompactBlockSize int
	// FS is the filesystem every file operation goes through (default
	// vfs.Default); tests inject faults with storage/vfs/errorfs.
	FS vfs.FS
	// Now is the clock retention is measured against (default time.Now).
	Now func() time.Time
	// DefaultSettings are the settings of every collection that has none
	// of its own (the zero value: rollups on, everything kept). When they
	// change between runs, Open applies the change to those collections
	// as SetSettings would: rollup files removed or rebuilt, expired data
	// dropped.
	DefaultSettings CollectionSettings
	// RetentionInterval is how often the background flusher drops what
	// retention has expired (default 1 minute).
	RetentionInterval time.Duration
	// WriteStallTimeout is how long a write waits for memory when memory
	// is over its bound (see Health) before it fails with ErrBackpressure
	// (default 5 seconds; negative: fail at once).
	WriteStallTimeout time.Duration
	// Cold is the cold store files move to once their collection's
	// ColdAfter says so (see Tier); nil keeps every file local. A data
	// directory that has cold files needs it to open, unless ColdPending.
	Cold *cold.Store
	// ColdPending says a cold store is configured but could not be
	// opened yet (S3 unreachable at start-up); SetCold gives it later.
	// Meanwhile files stay local, and reads of cold files' blocks fail
	// naming the object (their index and statistics answer).
	ColdPending bool
	// TierInterval is how often the background tierer runs (default 10
	// minutes; negative: only when Tier is called).
	TierInterval time.Duration
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
	if r.MaxMemoryBytes == 0 {
		r.MaxMemoryBytes = BytesPerMemoryPoint * int64(r.MaxMemoryPoints)
		if r.MaxMemoryBytes/BytesPerMemoryPoint != int64(r.MaxMemoryPoints) {
			r.MaxMemoryBytes = math.MaxInt64
		}
	}
	if r.CompactFiles == 0 {
		r.CompactFiles = 4
	}
	if r.CompactBlockSize <= 0 {
		r.CompactBlockSize = DefaultCompactBlockSize
		if r.BlockSize > 0 {
			r.CompactBlockSize = r.BlockSize
		}
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
	if r.TierInterval == 0 {
		r.TierInterval = 10 * time.Minute
	}
	return r
}

// MaxCollectionLen is the longest collection name, in bytes, that Write
// accepts (the colstore format's limit).
const MaxCollectionLen = colfile.MaxCollectionLen

// DefaultCompactBlockSize is Options.CompactBlockSize's default: about
// eleven hours of a reading every 10 s.
const DefaultCompactBlockSize = 4096

// DB is a single-node storage engine over one data directory. It is safe
// for concurrent use.
//
// Lock order: a group's applyMu (applied.go), then importMu, then
// flushMu, then swapMu, then mu; groupsMu, pinMu and dirsMu are taken
// last.
type DB struct {
	dir  string
	lock *dirLock
	fs   vfs.FS
	opts Options
	log  *slog.Logger
	wal  *wal.WAL

	seq atomic.Uint64 // last batch or file sequence number handed out

	// gate counts the writes in flight; the background work yields to
	// them (writegate.go).
	gate writeGate

	// groups are the DB's groups, by number (group.go).
	groups []*group
	// lastDrop is the highest dropSeq of any group (group_drop.go);
	// written under flushMu, swapMu and mu, read during Open.
	lastDrop uint64

	flushMu sync.Mutex   // one flush at a time
	swapMu  sync.RWMutex // writers hold it shared from WAL append to apply; a flush takes it to swap memory
	// flushArena holds a flush's sorted copies of one group's memory
	// columns (writeImmGroup); used under flushMu.
	flushArena colArena

	mu        sync.RWMutex
	colls     map[string]*collection
	tombs     []*tombstone // live deletes that still cover file data, by seq
	memPoints int          // field values in the active memory generation
	immPoints int          // field values in the generation being flushed
	memBytes  int          // estimated bytes of the active generation (memColumn.bytes)
	immBytes  int          // and of the generation being flushed
	idxBytes  int          // estimated bytes of the series index (seriesBytes)
	keyBuf    []byte       // scratch series key of seriesOf
	tagSlab   model.Tags   // the tags of new series are cut from it (keepTags)
	known     knownSeries  // apply's series by shared Tags slice
	applying  applyScratch // apply's working memory, kept between batches
	closed    bool
	settings  map[string]CollectionSettings // by collection; absent means Options.DefaultSettings
	// lastDefault is Options.DefaultSettings as the node last ran with
	// them (collections.json), until applyDefaultChange applies the new.
	lastDefault CollectionSettings
	rollGen     uint64 // rollup generation dirty marks are made at (rollup.go)
	rollMeta    bool   // meta.json says rollups are maintained
	layout      int    // meta.json "layout" (layout.go)
	// quarantine lists the damaged files moved aside (quarantine.go).
	quarantine []*quarantined
	// rollState is the rollup state of collections (rollup_state.go).
	rollState map[string]*rollupState
	// noElide lists the collections whose elided rollup rows a settings
	// change is storing again (restoreElided).
	noElide map[string]bool
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

	timing timings // flush, rollup and compaction durations, for Stats
	// dirtySince is when (Unix ns) the oldest rollup work still pending
	// was marked, 0 when none is (obs.go). Guarded by mu.
	dirtySince int64

	// pinMu guards pins and unpinned: the files group snapshots hold, and
	// those whose removal waits for the snapshots' Close
	// (group_snapshot.go). It is taken after every other lock.
	pinMu    sync.Mutex
	pins     map[string]int
	unpinned map[string]bool
	// importMu lets one ImportGroup run at a time (group_import.go).
	importMu sync.Mutex
	// groupsMu guards groupsMeta, the content of groups.json, and its
	// writes (group_meta.go). It is taken after mu.
	groupsMu   sync.Mutex
	groupsMeta groupsMeta
	// metaMu guards writes of meta.json, groupsFormat, appliedFormat,
	// coldFormat and elideFormat
	// (open.go); it is taken after groupsMu.
	metaMu        sync.Mutex
	groupsFormat  bool // meta.json says format 3 or above: groups were dropped or imported
	appliedFormat bool // meta.json says format 4: the WAL may hold applied records
	coldFormat    bool // meta.json says format 5: the directory may have cold files
	elideFormat   bool // meta.json says format 6: 1M and 1y rows may be elided

	// coldMu guards coldList, the cold files (cold_list.go), and its
	// writes; it is taken after every other lock but metaMu.
	coldMu   sync.Mutex
	coldList *coldList
	// coldStore is Options.Cold, or what SetCold gave.
	coldStore atomic.Pointer[cold.Store]
	// tierMu lets one Tier run at a time and guards tierFail, the upload
	// failures by file sequence number (cold_tier.go).
	tierMu   sync.Mutex
	tierFail map[uint64]*tierBackoff
	// lastSweep is when Tier last swept expired objects (guarded by
	// tierMu).
	lastSweep time.Time
	coldCnt   coldCounters
	tierKick  chan struct{} // wakes the tierer (objects to delete)
	tierDone  chan struct{} // closed when the tierer has exited
}

// collection is the in-memory index of one collection.
type collection struct {
	name   string
	fields map[string]model.Kind
	series map[string]*series
	// The postings index (postings.go): byID holds the series by id (nil
	// once removed; ids are not reused), tags maps tag key → its values,
	// each with the ascending ids of the series holding it. A list is
	// only ever appended to in place; removing an id replaces the list,
	// so that a list handed out under mu stays valid without it.
	byID []*series
	tags map[string]*tagValues
	// version counts the series added and removed; order caches the ids
	// sorted by series key as of a version.
	version uint64
	order   atomic.Pointer[keyOrder]

	settings CollectionSettings
}

// series is one series with its data sources, oldest first.
type series struct {
	coll   string
	key    string
	keyRef unique.Handle[string] // keeps key the one copy its files share (index.go)
	tags   model.Tags
	id     int32 // in the collection's postings index
	group  int
	files  []fileSeries // sorted by file seq
	imm    *memSeries   // being flushed, or nil
	mem    *memSeries   // active, or nil
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
	size      atomic.Int64 // bytes on disk, once sizeOf has asked (0: not yet)
	closeOnce sync.Once
	// cold is set for a file that lives in the cold store (cold_read.go);
	// path is then where it would be were it local.
	cold *coldFile
}

// name is how errors name the file: its path, or its object.
func (f *dataFile) name() string { return f.r.Path() }

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
	<-db.tierDone
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
		for _, g := range db.collRollups(c) {
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
