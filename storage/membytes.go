// The memory bound in bytes: what the values in memory and the series
// index are estimated to take, and when that makes a flush start or
// writes wait.

package storage

import (
	"math"
	"unsafe"

	"github.com/soltixdb/soltix/model"
)

// BytesPerMemoryPoint is what Options.MaxMemoryBytes defaults to per
// Options.MaxMemoryPoints (so 384 MiB for the default 4,000,000 points),
// the figure soltix's memory_limit also defaults to.
const BytesPerMemoryPoint = 96

// seriesBytes estimates what the series index holds for a series of key
// and tags: the series, its key, its entries in the collection's and the
// group's maps, and per tag its tags' strings and its entry in the tag
// index's set of that value. storage/BenchmarkSeriesMemory reports the
// estimate next to the heap it stands for.
func seriesBytes(key string, tags model.Tags) int {
	n := int(unsafe.Sizeof(series{})) + len(key) + 2*mapEntryBytes
	for _, t := range tags {
		n += int(unsafe.Sizeof(t)) + len(t.Key) + len(t.Value) + mapEntryBytes
	}
	return n
}

// mapEntryBytes estimates a map entry of a string key (and a pointer or
// empty value) with its share of the table's control bytes and slack.
const mapEntryBytes = 40

// memoryBudget returns the bytes the values in memory may take, both
// generations together: MaxMemoryBytes less the series index, but at
// least an eighth of it; math.MaxInt without a bound in bytes. The caller
// holds mu.
func (db *DB) memoryBudget() int {
	bound := db.opts.MaxMemoryBytes
	if bound < 0 || bound > math.MaxInt/2 {
		return math.MaxInt
	}
	return int(max(bound-int64(db.idxBytes), bound/8))
}

// flushDue reports whether the active generation is large enough for the
// background flusher to flush now: MaxMemoryPoints values, or half the
// memory budget (the other half takes the writes that arrive while it is
// flushed). Half, not a quarter as for values: with many series a flush
// costs in proportion to the series more than to the values, so fewer,
// larger flushes keep ingest going. The caller holds mu.
func (db *DB) flushDue() bool {
	return db.memPoints >= db.opts.MaxMemoryPoints || db.memBytes >= db.memoryBudget()/2
}
