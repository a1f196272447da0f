package storage

// Rollups.
//
// For every collection with rollups on, each group keeps four rollup
// levels (1h, 1d, 1M, 1y; UTC calendar buckets). A level holds, per series,
// field and bucket, the model.Summary of the bucket's values after
// last-write-wins and deletes (count, sums, min, max, first and last with
// their times, and M2 for stddev). Levels are colstore files, one per
// partition: a 1h file holds one UTC day, a 1d file one month, a 1M file
// one year, and the single 1y file everything. A file is rewritten whole
// when any of its buckets changes.
//
// Dirty buckets. A write marks the buckets holding its time at every level
// dirty, a delete marks its time range (a span) dirty in the groups of its
// series. Each mark carries the rollup generation current when it was made;
// a flush advances the generation when it swaps memory out, and once the
// data is in files it recomputes the buckets marked up to that generation
// (rollupLocked) and clears those marks, all before the WAL is truncated.
// A bucket is clean when no mark and no span covers it; a clean bucket's
// rows are exactly its data, and a clean bucket without a row holds no
// data. Reads use clean buckets only and answer dirty ones from finer
// levels and finally raw data, so answers stay exact while the pipeline
// catches up. After a crash the WAL replays the writes and deletes whose
// rollups may be missing, which marks their buckets dirty again.

import (
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
)

// dirtySet is a sorted set of bucket starts, each with the generation of
// its latest mark.
type dirtySet struct {
	keys []int64
	gens []uint64
}

func (d *dirtySet) mark(b int64, gen uint64) {
	i, ok := slices.BinarySearch(d.keys, b)
	if ok {
		d.gens[i] = max(d.gens[i], gen)
		return
	}
	d.keys = slices.Insert(d.keys, i, b)
	d.gens = slices.Insert(d.gens, i, gen)
}

// count returns how many keys lie in [lo, hi].
func (d *dirtySet) count(lo, hi int64) int {
	i, _ := slices.BinarySearch(d.keys, lo)
	j := i
	for j < len(d.keys) && d.keys[j] <= hi {
		j++
	}
	return j - i
}

// upTo returns the keys marked at generation cutoff or earlier.
func (d *dirtySet) upTo(cutoff uint64) []int64 {
	var out []int64
	for i, k := range d.keys {
		if d.gens[i] <= cutoff {
			out = append(out, k)
		}
	}
	return out
}

// clear removes the keys marked at generation cutoff or earlier.
func (d *dirtySet) clear(cutoff uint64) {
	k := 0
	for i := range d.keys {
		if d.gens[i] > cutoff {
			d.keys[k], d.gens[k] = d.keys[i], d.gens[i]
			k++
		}
	}
	d.keys, d.gens = d.keys[:k], d.gens[:k]
}

// dirtySpan marks every bucket overlapping [lo, hi] dirty. A span made
// by a delete lists the deleted series (keys) and carries the delete's
// sequence number: where a bucket can no longer be recomputed from finer
// data, those series' rows of the bucket are dropped, unless they are in
// a rollup file written after the delete (a higher sequence number: the
// delete was applied to it already, and a delete replayed from the WAL
// must not drop rows of points written after it). A span without keys
// (rollups turned on) only rebuilds.
type dirtySpan struct {
	lo, hi int64
	gen    uint64
	keys   map[string]struct{}
	seq    uint64
}

// stale reports whether the span still has to be applied to rows read
// from a rollup file with sequence number fileSeq.
func (sp *dirtySpan) stale(fileSeq uint64) bool {
	return sp.keys == nil || fileSeq < sp.seq
}

// groupRollups is the rollup state of one collection's group.
type groupRollups struct {
	dirty [len(levelNamesForDirs)]dirtySet // by level; index 0 unused
	spans []dirtySpan
	files [len(levelNamesForDirs)][]*rollFile // by level, sorted by partition
}

// levelNamesForDirs names the rollup directories by level ("rollup_1h").
var levelNamesForDirs = [...]string{"", "1h", "1d", "1M", "1y"}

// anyDirty reports whether any bucket of level l overlapping [lo, hi] is
// dirty, given a level's marks and the spans.
func anyDirty(d *dirtySet, spans []dirtySpan, l model.Level, lo, hi int64) bool {
	if d.count(l.Floor(lo), hi) > 0 {
		return true
	}
	for _, sp := range spans {
		if sp.hi >= lo && sp.lo <= hi {
			return true
		}
	}
	return false
}

// rollFile is an open rollup file.
type rollFile struct {
	*dataFile
	level model.Level
	part  int64 // partition start; math.MinInt64 for the 1y level's one file
}

// partLevel is the level whose buckets are the partitions of level l's
// files (LevelRaw: one partition).
func partLevel(l model.Level) model.Level {
	if l == model.Level1y {
		return model.LevelRaw
	}
	return l + 1
}

// partOf returns the partition start of level l holding bucket b.
func partOf(l model.Level, b int64) int64 {
	if pl := partLevel(l); pl != model.LevelRaw {
		return pl.Floor(b)
	}
	return math.MinInt64
}

// partEnd returns the last instant of the partition of level l starting at
// part.
func partEnd(l model.Level, part int64) int64 {
	if pl := partLevel(l); pl != model.LevelRaw {
		return pl.End(part)
	}
	return math.MaxInt64
}

// bucketEnd returns the last instant of level l's bucket starting at b.
func bucketEnd(l model.Level, b int64) int64 { return l.End(b) }

const allPartitions = "all"

// partName names the file of level l's partition starting at part: the
// partition's true start (which, for the partition holding math.MinInt64,
// lies before the int64 range), or "all" for the 1y level's one file.
func partName(l model.Level, part int64) string {
	if pl := partLevel(l); pl != model.LevelRaw {
		return pl.FloorTime(part).Format(partitionLayout)
	}
	return allPartitions
}

// parseRollupPath recognises <coll>/group_NNNN/rollup_<level>/<part>-<seq>.col.
func parseRollupPath(path string) (model.Level, int64, bool) {
	dir := filepath.Base(filepath.Dir(path))
	name, ok := strings.CutPrefix(dir, "rollup_")
	if !ok {
		return 0, 0, false
	}
	var l model.Level
	for i, n := range levelNamesForDirs {
		if i > 0 && n == name {
			l = model.Level(i)
		}
	}
	if l == model.LevelRaw {
		return 0, 0, false
	}
	p := partitionName(path)
	if p == allPartitions {
		return l, math.MinInt64, true
	}
	t, err := time.Parse(partitionLayout, p)
	if err != nil {
		return 0, 0, false
	}
	// The partition holding math.MinInt64 is named for its true start,
	// before the int64 range: its key is math.MinInt64. A name after the
	// range is no partition of ours.
	part, ok := timex.FromTime(t)
	if !ok && part == math.MaxInt64 {
		return 0, 0, false
	}
	return l, part, true
}

// A rollup file has one column per field of each series: its name is the
// field's name, colSep and the field's kind as a decimal digit ("v\x001");
// its kind is string; its times are bucket starts and each value is the
// bucket's summary encoded by appendRow. One column per field keeps the
// index small when a partition holds a single bucket (docs/format.md).
const colSep = "\x00"

// rollupColumn returns the column name of a field of kind k.
func rollupColumn(field string, k model.Kind) string {
	return field + colSep + strconv.Itoa(int(k))
}

// parseRollupColumn splits a rollup column name at its last colSep: a
// field name may hold colSep too, the kind never does.
func parseRollupColumn(name string) (string, model.Kind, bool) {
	i := strings.LastIndex(name, colSep)
	if i < 0 {
		return "", 0, false
	}
	f, k := name[:i], name[i+len(colSep):]
	if len(k) != 1 || k[0] < '1' || k[0] > '5' {
		return "", 0, false
	}
	return f, model.Kind(k[0] - '0'), true
}

// markWrite marks the buckets holding t dirty in every level. The caller
// holds mu.
func (db *DB) markWrite(c *collection, group int, t int64) {
	if c.settings.NoRollups {
		return
	}
	g := db.groups[group].rollupsOf(c)
	for _, l := range model.Levels {
		g.dirty[l].mark(l.Floor(t), db.rollGen)
	}
	if db.dirtySince == 0 {
		db.dirtySince = time.Now().UnixNano()
	}
}

// markSpan marks every bucket overlapping [lo, hi] dirty in group; keys
// are the series a delete with sequence number seq removed data of (nil:
// a rebuild). The caller holds mu.
func (db *DB) markSpan(c *collection, group int, lo, hi int64, keys map[string]struct{}, seq uint64) {
	if c.settings.NoRollups {
		return
	}
	g := db.groups[group].rollupsOf(c)
	g.spans = append(g.spans, dirtySpan{lo: lo, hi: hi, gen: db.rollGen, keys: keys, seq: seq})
	if db.dirtySince == 0 {
		db.dirtySince = time.Now().UnixNano()
	}
}

// Rollups implements planner.SummarySource.
func (db *DB) Rollups(collection string) (bool, int64) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	c := db.colls[collection]
	if c == nil {
		return false, math.MinInt64
	}
	return !c.settings.NoRollups, db.horizon(c, model.LevelRaw)
}

// rollupsPending reports whether some rollup work waits for a flush
// without memory data to trigger it (a delete, rollups turned on, or a
// closed day owed its sketch: rollup_owed.go). The caller holds mu.
func (db *DB) rollupsPending() bool {
	for _, c := range db.colls {
		for _, g := range db.collRollups(c) {
			if len(g.spans) > 0 {
				return true
			}
		}
	}
	return db.owedDue()
}
