package colfile

// A Reader's series: the index stays in memory as the file stores it, and a
// series' entry (its tags, columns, blocks and their statistics) is decoded
// when it is asked for. A decoded index takes about ten times the bytes of
// the stored one, and a store with a million series keeps every file of
// every partition and rollup level open, so only the stored form and, per
// series, its key and where its entry starts are kept (docs/benchmarks-million.md,
// "A million series").

import (
	"context"
	"fmt"
	"sort"
	"unique"
	"unsafe"

	"github.com/soltixdb/soltix/model"
)

// seriesEntry locates the index entry of one series.
type seriesEntry struct {
	// key is model.SeriesKey of the series, shared through unique.Make:
	// holding the handle keeps one copy for every file and the DB's index.
	key  unique.Handle[string]
	off  int   // offset of the entry in Reader.index
	next int64 // file offset of the series' first block
}

// decodedSeries is the decoded index entry of series i.
type decodedSeries struct {
	i    int
	info SeriesInfo
	refs [][]blockRef // refs[j][k] locates block k of column j
}

// NumSeries returns the number of series in the file.
func (r *Reader) NumSeries() int { return len(r.entries) }

// Key returns the key (model.SeriesKey) of series i, without decoding its
// entry.
func (r *Reader) Key(i int) string { return r.entries[i].key.Value() }

// SeriesAt returns series i (0 ≤ i < NumSeries; series are sorted by Key),
// decoding its index entry. The values it refers to belong to the Reader
// and must not be modified.
func (r *Reader) SeriesAt(i int) SeriesInfo { return r.entry(i).info }

// AllSeries returns every series of the file sorted by Key, decoding the
// whole index: for passes over the whole file (compaction, start-up). The
// slice is the caller's; the values it refers to must not be modified.
func (r *Reader) AllSeries() []SeriesInfo {
	out := make([]SeriesInfo, len(r.entries))
	for i := range out {
		out[i] = r.decode(i).info
	}
	return out
}

// Find returns the position of the series with the given key, and whether
// it is present.
func (r *Reader) Find(key string) (int, bool) {
	i := sort.Search(len(r.entries), func(i int) bool { return r.entries[i].key.Value() >= key })
	return i, i < len(r.entries) && r.entries[i].key.Value() == key
}

// entry returns the decoded entry of series i: the last one this Reader
// decoded when it is that series, else from the process's cache of
// decoded entries, else decoded now and cached.
func (r *Reader) entry(i int) *decodedSeries {
	if ds := r.last.Load(); ds != nil && ds.i == i {
		return ds
	}
	ds, ok := decodedCache.get(entryKey{r, i})
	if !ok {
		ds = r.decode(i)
		decodedCache.put(entryKey{r, i}, ds, entrySize(ds))
	}
	r.last.Store(ds)
	return ds
}

// decodedCache is the process's cache of decoded index entries: the series
// being queried stay decoded (a day's raw file holds some ten blocks per
// column, and their statistics decode to some 200 bytes each), the rest
// of a million series do not.
var decodedCache = newLRU[entryKey, *decodedSeries](16 << 20)

// entryKey names the index entry of series i of r.
type entryKey struct {
	r *Reader
	i int
}

func (k entryKey) reader() *Reader { return k.r }

// entrySize estimates the bytes a decoded entry holds.
func entrySize(ds *decodedSeries) int {
	n := 256 + 48*len(ds.info.Tags)
	for j, c := range ds.info.Columns {
		n += int(unsafe.Sizeof(c)) + len(c.Name) + len(c.Blocks)*int(unsafe.Sizeof(BlockInfo{})) +
			len(ds.refs[j])*int(unsafe.Sizeof(blockRef{}))
	}
	return n
}

// decode decodes the index entry of series i. Open checked every entry of
// the index, which does not change afterwards, so an entry that no longer
// decodes is a bug (memory corrupted), not damage on disk.
func (r *Reader) decode(i int) *decodedSeries {
	e := &r.entries[i]
	p := &indexParser{r: r, d: decoder{b: r.index, off: e.off}, base: r.dataEnd, next: e.next}
	prev := ""
	if i > 0 {
		prev = r.entries[i-1].key.Value()
	}
	info, refs, err := p.seriesEntry(i, r.meta.Collection, prev)
	if err != nil {
		panic(fmt.Sprintf("colfile: %s: series %d no longer decodes after Open checked it: %v", r.path, i, err))
	}
	info.Key = e.key.Value()
	return &decodedSeries{i: i, info: info, refs: refs}
}

// ReadSeries decodes the index entry of series i and reads every column
// of it, as SeriesAt and ReadColumn do, for passes over a whole file
// (compaction): the entry is decoded once and not kept in the cache of
// decoded entries, where it would push out the series queries are
// reading. The columns are newly allocated and owned by the caller.
func (r *Reader) ReadSeries(ctx context.Context, i int) (SeriesInfo, []model.Column, error) {
	if i < 0 || i >= len(r.entries) {
		return SeriesInfo{}, nil, fmt.Errorf("colfile: %s: no series %d", r.path, i)
	}
	ds := r.decode(i)
	// A whole series is read to be rewritten (compaction): its blocks
	// would only push the blocks queries come back to out of the cache.
	ctx = context.WithValue(ctx, bulkRead{}, true)
	cols := make([]model.Column, len(ds.info.Columns))
	for j := range cols {
		col, err := r.readBlocks(ctx, ds, j, 0, len(ds.info.Columns[j].Blocks))
		if err != nil {
			return SeriesInfo{}, nil, err
		}
		cols[j] = col
	}
	return ds.info, cols, nil
}
