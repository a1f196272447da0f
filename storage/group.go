// Groups as a unit the cluster addresses: which group a series is in, the
// series and counters of a group. Moving a group between nodes is in
// group_snapshot.go (the sender), group_import.go (the receiver) and
// group_drop.go (the old owner afterwards).

package storage

import (
	"fmt"
	"iter"
	"slices"
	"sort"
	"sync"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
)

// NumGroups returns the number of groups devices are hashed into, fixed
// by the data directory (meta.json).
func (db *DB) NumGroups() int { return db.opts.NumGroups }

// ShardTag returns the tag whose value names a point's device.
func (db *DB) ShardTag() string { return db.opts.ShardTag }

// GroupOf returns the group of the series with these tags in collection:
// model.GroupOf of model.DeviceOf, with this DB's shard tag and number of
// groups. A router computing the same with the same two settings agrees.
func (db *DB) GroupOf(collection string, tags model.Tags) int {
	return db.groupOf(model.SeriesKey(collection, tags), tags)
}

// groupOf hashes a series' device to its group: FNV-1a (64 bit) of the
// shard tag's value, or of the series key when the series has no shard
// tag, modulo the number of groups.
func (db *DB) groupOf(key string, tags model.Tags) int {
	return model.GroupOf(model.DeviceOf(key, tags, db.opts.ShardTag), db.opts.NumGroups)
}

// HeldGroups returns, in order, the groups this DB holds any series of
// (in memory, raw files or rollup files). A node compares it with the
// groups the cluster map gives it to find what a move left behind.
func (db *DB) HeldGroups() []int {
	db.mu.RLock()
	defer db.mu.RUnlock()
	var out []int
	for _, g := range db.groups {
		if len(g.series) > 0 {
			out = append(out, g.id)
		}
	}
	return out
}

// LastSeq returns the sequence number of the last change this DB made to
// group g (0: none it still knows of): the highest number of a write
// batch with values in g, a delete naming a series of g, a raw or rollup
// file of g (a flush, compaction, rollup pass or ImportGroup writes
// files under new numbers), and g's last DropGroup. It never goes down.
// Concurrent writes apply in any order, so while writes are in flight a
// change numbered below it may still arrive; once none is, every change
// to g is numbered at most LastSeq(g) and every later one above it:
// replication resumes a replica of g from the S it last copied, and a
// node compares the numbers to know whether g changed. Sequence numbers
// are this DB's own (ImportGroup renumbers what it imports), and every
// number it hands out later is above every group's LastSeq.
//
// A flush records every group's LastSeq in groups.json before it removes
// WAL segments, and Open starts from there, the files' metadata, the
// drops and the WAL replay, so a restart, clean or not, gives the value
// before it back. (Only a file written by a compaction after the last
// flush and removed by retention before the next can leave it lower, and
// then no data carries the lost number.) It answers 0 for a group outside
// [0, NumGroups).
func (db *DB) LastSeq(g int) uint64 {
	if db.checkGroup(g) != nil {
		return 0
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	gr := db.groups[g]
	return max(gr.lastSeq, gr.dropSeq)
}

// checkGroup refuses a group number outside [0, NumGroups).
func (db *DB) checkGroup(g int) error {
	if g < 0 || g >= db.opts.NumGroups {
		return fmt.Errorf("group %d outside [0, %d)", g, db.opts.NumGroups)
	}
	return nil
}

// SeriesIn is Series restricted to the groups for which in returns true
// (nil: every group): the series of collection in those groups that match
// accepts (nil: all), sorted by series key. A node answers with it for the
// groups it owns.
func (db *DB) SeriesIn(collection string, in func(g int) bool, match func(model.Tags) bool) []model.Tags {
	db.mu.RLock()
	defer db.mu.RUnlock()
	c := db.lookup(collection)
	if c == nil {
		return nil
	}
	var keys []string
	add := func(series map[string]*series) {
		for k, s := range series {
			if match == nil || match(s.tags) {
				keys = append(keys, k)
			}
		}
	}
	if in == nil {
		keys = make([]string, 0, len(c.series))
		add(c.series)
	} else {
		for _, g := range db.groups {
			if in(g.id) {
				add(g.series[c])
			}
		}
	}
	sort.Strings(keys)
	out := make([]model.Tags, len(keys))
	for i, k := range keys {
		out[i] = c.series[k].tags
	}
	return out
}

// GroupStats are the counters of one group, over every collection.
type GroupStats struct {
	Group int
	// Series counts the group's series.
	Series int
	// Files and Bytes count the group's local raw colstore files and
	// their size; RollupFiles and RollupBytes its local rollup files;
	// ColdFiles and ColdBytes its files of either kind in the cold store
	// (a move does not copy them).
	Files       int
	Bytes       int64
	RollupFiles int
	RollupBytes int64
	ColdFiles   int
	ColdBytes   int64
	// MemoryPoints counts the field values in memory not yet flushed.
	MemoryPoints int
}

// GroupStats returns the counters of group g. A file's size is asked of
// the filesystem the first time and remembered (files never change).
func (db *DB) GroupStats(g int) (GroupStats, error) {
	if err := db.checkGroup(g); err != nil {
		return GroupStats{}, err
	}
	st := GroupStats{Group: g}
	raw, rolls := db.groupFiles(g, true)
	for _, f := range raw {
		if f.cold != nil {
			st.ColdFiles++
			st.ColdBytes += f.cold.entry.Size
			continue
		}
		st.Files++
		st.Bytes += db.sizeOf(f)
	}
	for _, f := range rolls {
		if f.cold != nil {
			st.ColdFiles++
			st.ColdBytes += f.cold.entry.Size
			continue
		}
		st.RollupFiles++
		st.RollupBytes += db.sizeOf(f.dataFile)
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	gr := db.groups[g]
	for _, series := range gr.series {
		st.Series += len(series)
	}
	st.MemoryPoints = gr.memPoints + gr.immPoints
	return st, nil
}

// sizeOf returns a file's size in bytes (0 when it cannot be read).
func (db *DB) sizeOf(f *dataFile) int64 {
	if n := f.size.Load(); n > 0 {
		return n
	}
	fi, err := db.fs.Stat(f.path)
	if err != nil {
		return 0
	}
	f.size.Store(fi.Size())
	return fi.Size()
}

// groupFiles returns the raw and (with rollups set) rollup files of group g
// in every collection, raw files by sequence number. It takes the read
// lock.
func (db *DB) groupFiles(g int, rollups bool) ([]*dataFile, []*rollFile) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.groupFilesLocked(g, rollups)
}

// groupFilesLocked is groupFiles for a caller holding mu.
func (db *DB) groupFilesLocked(g int, rollups bool) ([]*dataFile, []*rollFile) {
	var raw []*dataFile
	var rolls []*rollFile
	for _, files := range db.groups[g].files {
		raw = append(raw, files...)
	}
	if rollups {
		for _, gr := range db.groups[g].rollups {
			for l := range gr.files {
				rolls = append(rolls, gr.files[l]...)
			}
		}
	}
	sort.Slice(raw, func(i, j int) bool { return raw[i].meta.Seq < raw[j].meta.Seq })
	return raw, rolls
}

// group is one of the DB's groups: the unit a cluster places on nodes and
// moves between them. It owns the rollup state and rollup files of every
// collection with series in it. Its fields are guarded by the DB's mu.
type group struct {
	id      int
	slabs   slabs // where its memory columns' chunks come from (memslab.go)
	rollups map[*collection]*groupRollups
	// series are the group's series by collection and key.
	series map[*collection]map[string]*series
	// dropSeq is the sequence number of the group's last DropGroup (0:
	// none): its data with lower numbers is gone (group_drop.go).
	dropSeq uint64
	// expecting is set by ExpectGroup until ImportGroup or DropGroup
	// (group_import.go). Retention keeps the raw files of an expected
	// group until then: the import rolls them up with the snapshot's.
	expecting bool
	// lastSeq is the highest sequence number of a write batch with
	// values in the group, a delete naming one of its series, or a raw
	// or rollup file of it (see LastSeq).
	lastSeq uint64
	// memPoints and immPoints count the field values of the group's
	// series in the active memory generation and in the one being
	// flushed; the DB's memPoints and immPoints are their sums.
	memPoints, immPoints int
	// memBytes and immBytes are the same generations' estimated bytes
	// (memColumn.bytes); the DB's memBytes and immBytes are their sums.
	memBytes, immBytes int
	// rawFrom is, by collection name, where the group's raw data is
	// complete from when that differs from the collection's rawComplete:
	// after an import (the snapshot's raw data may be older or newer
	// than this DB's), or, at Open, for a group with files older than
	// the retention horizon. Retention moves it on (setRawDropped).
	rawFrom map[string]int64
	// files are the group's raw files by collection and partition (a
	// compaction unit), each list by sequence number. Reads find a
	// series' files through the series (series.files).
	files map[partKey][]*dataFile
	// applied is the group's replication position (applied.go).
	applied uint64
	// applyMu lets one WriteApplied, DeleteApplied or SetApplied of the
	// group run at a time; it is not guarded by mu but taken before
	// every other lock of the DB.
	applyMu sync.Mutex
}

// partKey names the raw files of one collection and partition in a group.
type partKey struct {
	coll      string
	partition int64
}

// groupFile adds a raw file to its group's files (add set) or removes
// it. A file naming a group outside the DB's is in no group. The caller
// holds mu or has the DB to itself.
func (db *DB) groupFile(f *dataFile, add bool) {
	if f.meta.Group < 0 || f.meta.Group >= len(db.groups) {
		return
	}
	g := db.groups[f.meta.Group]
	if add {
		g.noteSeq(f.meta.Seq)
	}
	k := partKey{f.meta.Collection, timex.FloorDiv(f.meta.MinTime, db.opts.PartitionDuration.Nanoseconds())}
	files := slices.DeleteFunc(g.files[k], func(o *dataFile) bool { return o == f })
	if add {
		i := sort.Search(len(files), func(i int) bool { return files[i].meta.Seq > f.meta.Seq })
		files = slices.Insert(files, i, f)
	}
	if len(files) == 0 {
		delete(g.files, k)
	} else {
		g.files[k] = files
	}
}

// detachFiles removes the raw files listed from their series and groups.
// The caller holds mu.
func (db *DB) detachFiles(gone map[*dataFile]bool) {
	colls := make(map[string]bool)
	for f := range gone {
		colls[f.meta.Collection] = true
		db.groupFile(f, false)
	}
	for name := range colls {
		if c := db.colls[name]; c != nil {
			for _, s := range c.series {
				s.files = slices.DeleteFunc(s.files, func(fs fileSeries) bool { return gone[fs.f] })
			}
		}
	}
}

func newGroups(n int) []*group {
	out := make([]*group, n)
	for i := range out {
		out[i] = &group{id: i, rollups: make(map[*collection]*groupRollups), files: make(map[partKey][]*dataFile),
			series: make(map[*collection]map[string]*series), rawFrom: make(map[string]int64)}
	}
	return out
}

// noteSeq records that sequence number seq changed the group. The
// caller holds mu or has the DB to itself.
func (g *group) noteSeq(seq uint64) {
	if seq > g.lastSeq {
		g.lastSeq = seq
	}
}

// forgetMemory takes group g's values in memory out of the DB's counts,
// for a caller about to forget its series. The caller holds mu.
func (db *DB) forgetMemory(g int) {
	gr := db.groups[g]
	db.memPoints -= gr.memPoints
	db.immPoints -= gr.immPoints
	gr.memPoints, gr.immPoints = 0, 0
	db.memBytes -= gr.memBytes
	db.immBytes -= gr.immBytes
	gr.memBytes, gr.immBytes = 0, 0
}

// addSeries adds a series of collection c to the group. The caller holds
// mu.
func (g *group) addSeries(c *collection, s *series) {
	m := g.series[c]
	if m == nil {
		m = make(map[string]*series)
		g.series[c] = m
	}
	m[s.key] = s
}

// removeSeries removes a series of collection c from the group. The
// caller holds mu.
func (g *group) removeSeries(c *collection, s *series) {
	if m := g.series[c]; m != nil {
		delete(m, s.key)
		if len(m) == 0 {
			delete(g.series, c)
		}
	}
}

// rollupsOf returns the rollup state of collection c in the group,
// creating it. The caller holds mu.
func (g *group) rollupsOf(c *collection) *groupRollups {
	r := g.rollups[c]
	if r == nil {
		r = &groupRollups{}
		g.rollups[c] = r
	}
	return r
}

// collRollups yields, by group number, the rollup state of collection c
// in every group that has one. The caller holds mu.
func (db *DB) collRollups(c *collection) iter.Seq2[int, *groupRollups] {
	return func(yield func(int, *groupRollups) bool) {
		for _, g := range db.groups {
			if r := g.rollups[c]; r != nil && !yield(g.id, r) {
				return
			}
		}
	}
}

// forgetRollups drops the rollup state of collection c in every group.
// The caller holds mu.
func (db *DB) forgetRollups(c *collection) {
	for _, g := range db.groups {
		delete(g.rollups, c)
	}
}
