package storage

import (
	"context"
	"fmt"
	"sort"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/colfile"
)

// fileCol is one colstore column a read uses, with the deletes that cover
// its data of the series.
type fileCol struct {
	f     *dataFile
	si    int
	col   int
	info  *colfile.ColumnInfo
	tombs []*tombstone
}

// fieldSources are the sources of one field of one series for a read:
// files oldest first, then memory (immutable, then active).
type fieldSources struct {
	name  string
	kind  model.Kind
	files []fileCol
	mem   []memColumn
}

// snapshot takes, under the read lock, the sources of the fields of one
// series that may hold times in [min, max], acquiring every file it lists;
// the caller reads them without the lock and then calls release.
func (db *DB) snapshot(collection string, tags model.Tags, fields []string, min, max int64) ([]fieldSources, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	c := db.lookup(collection)
	if c == nil {
		return nil, fmt.Errorf("collection %q: %w", collection, model.ErrNotFound)
	}
	out := make([]fieldSources, len(fields))
	s := c.series[model.SeriesKey(collection, tags)]
	for i, name := range fields {
		fs := &out[i]
		fs.name, fs.kind = name, c.fields[name]
		if s == nil {
			continue
		}
		for _, sf := range s.files {
			info := sf.f.r.SeriesAt(sf.idx)
			for ci := range info.Columns {
				col := &info.Columns[ci]
				if col.Name != name || col.MaxTime < min || col.MinTime > max {
					continue
				}
				fc := fileCol{f: sf.f, si: sf.idx, col: ci, info: col}
				for _, t := range db.tombs {
					if t.coll == collection && t.covers(s.key, sf.f.meta.Seq, col.MinTime, col.MaxTime) {
						fc.tombs = append(fc.tombs, t)
					}
				}
				sf.f.acquire()
				fs.files = append(fs.files, fc)
			}
		}
		for _, gen := range []*memSeries{s.imm, s.mem} {
			if gen == nil {
				continue
			}
			if mc := gen.find(name, 0); mc != nil {
				fs.mem = append(fs.mem, mc.snapshot())
			}
		}
	}
	return out, nil
}

func release(srcs []fieldSources) {
	for _, fs := range srcs {
		for _, fc := range fs.files {
			fc.f.release()
		}
	}
}

// Read implements planner.Source. It fails with a *QuarantineError when
// data it needs is in a quarantined file.
func (db *DB) Read(ctx context.Context, collection string, tags model.Tags, fields []string, min, max int64) ([]model.Column, error) {
	if err := db.quarantineErr(collection, min, max); err != nil {
		return nil, err
	}
	return db.readKept(ctx, collection, tags, fields, min, max)
}

// readKept is Read over the files kept, quarantined ones left out: what
// rollups are built from.
func (db *DB) readKept(ctx context.Context, collection string, tags model.Tags, fields []string, min, max int64) ([]model.Column, error) {
	srcs, err := db.snapshot(collection, tags, fields, min, max)
	if err != nil {
		return nil, err
	}
	defer release(srcs)
	out := make([]model.Column, len(fields))
	for i := range srcs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if out[i], err = db.merge(ctx, &srcs[i], srcs[i].memColumns(), min, max, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// memColumns returns the memory sources sorted and deduplicated.
func (fs *fieldSources) memColumns() []model.Column {
	out := make([]model.Column, len(fs.mem))
	for i := range fs.mem {
		out[i] = fs.mem[i].sorted()
	}
	return out
}

// merge reads the file sources of one field over [min, max] and merges
// them with the (sorted) memory columns, the newer source winning a tie.
// Blocks listed in skip (by file column index, then block index) are left
// out. ctx is checked before each block is decoded.
func (db *DB) merge(ctx context.Context, fs *fieldSources, mem []model.Column, min, max int64, skip map[[2]int]bool) (model.Column, error) {
	cols, err := db.readSources(ctx, fs, mem, min, max, skip)
	if err != nil {
		return model.Column{}, err
	}
	return mergeColumns(fs.name, fs.kind, cols), nil
}

// readSources reads the values of fs in [min, max] from each of its files
// (but the blocks in skip) and memory columns, one column per source, in
// the order mergeColumns gives priority by.
func (db *DB) readSources(ctx context.Context, fs *fieldSources, mem []model.Column, min, max int64, skip map[[2]int]bool) ([]model.Column, error) {
	var cols []model.Column
	for k, fc := range fs.files {
		var col model.Column
		var err error
		if skip == nil {
			// Only the blocks that overlap [min, max] are read.
			col, err = fc.f.r.ReadRangeContext(ctx, fc.si, fc.col, min, max)
		} else {
			col, err = readBlocksExcept(ctx, &fc, k, min, max, skip)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", fc.f.name(), err)
		}
		for _, t := range fc.tombs {
			col = cut(col, t.min, t.max)
		}
		cols = append(cols, col)
	}
	for _, col := range mem {
		cols = append(cols, col.Range(min, max))
	}
	return cols, nil
}

// readBlocksExcept decodes the blocks of a file column that overlap
// [min, max] and are not in skip, trimmed to [min, max].
func readBlocksExcept(ctx context.Context, fc *fileCol, k int, min, max int64, skip map[[2]int]bool) (model.Column, error) {
	out := model.Column{Name: fc.info.Name, Kind: fc.info.Kind}
	for b, bi := range fc.info.Blocks {
		if bi.MaxTime < min || bi.MinTime > max || skip[[2]int{k, b}] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		col, err := fc.f.r.ReadBlockContext(ctx, fc.si, fc.col, b)
		if err != nil {
			return out, err
		}
		col = col.Range(min, max)
		appendColumn(&out, col, 0, col.Len())
	}
	return out, nil
}

// ConcurrentReads reports that Read, ReadLimit and ReadParts may be called
// from several goroutines at once (planner.ConcurrentSource): each takes
// its snapshot of the sources under the read lock and decodes without it.
func (db *DB) ConcurrentReads() bool { return true }

// ReadParts implements model.SummarySource. A colstore block becomes a
// summary when it has statistics (format v2), lies inside [min, max] and
// whole() accepts its range, no delete covers it, and no other source (an
// older or newer file, or memory) holds a value of the field in its time
// range — so its statistics are exactly what last-write-wins leaves there.
//
// level is the coarsest rollup level to answer from (see rollup.go): clean
// rollup buckets that whole() accepts become summaries, everything else
// comes from finer levels and raw data.
func (db *DB) ReadParts(ctx context.Context, collection string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool, level model.Level) ([]model.Part, error) {
	return db.readParts(ctx, collection, tags, field, min, max, whole, level, true)
}

// ReadPartsWithoutSketches is ReadParts with no quantile sketch in the
// rollup summaries (planner.SketchlessSource): their bytes are skipped,
// not decoded, which is most of the work of reading a 1d row.
func (db *DB) ReadPartsWithoutSketches(ctx context.Context, collection string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool, level model.Level) ([]model.Part, error) {
	return db.readParts(ctx, collection, tags, field, min, max, whole, level, false)
}

func (db *DB) readParts(ctx context.Context, collection string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool, level model.Level, sketches bool) ([]model.Part, error) {
	if err := db.quarantineErr(collection, min, max); err != nil {
		return nil, err
	}
	if level != model.LevelRaw {
		if rs, ok := db.takeRollSnap(collection, tags, level, min, max); ok {
			defer rs.release()
			rs.noSketch = !sketches
			return db.readLevels(ctx, rs, collection, tags, field, min, max, whole, level)
		}
	}
	return db.readRawParts(ctx, collection, tags, field, min, max, whole)
}

// readRawParts is ReadParts from raw data: memory, files, and the block
// statistics of files.
func (db *DB) readRawParts(ctx context.Context, collection string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool) ([]model.Part, error) {
	srcs, err := db.snapshot(collection, tags, []string{field}, min, max)
	if err != nil {
		return nil, err
	}
	defer release(srcs)
	fs := &srcs[0]
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mem := fs.memColumns()
	var sums []*model.Summary
	skip := make(map[[2]int]bool)
	for k := range fs.files {
		fc := &fs.files[k]
		for b, bi := range fc.info.Blocks {
			if !bi.Stats || bi.MinTime < min || bi.MaxTime > max || !whole(bi.MinTime, bi.MaxTime) ||
				coveredByTombstone(fc, bi.MinTime, bi.MaxTime) || overlapsOthers(fs, k, mem, bi.MinTime, bi.MaxTime) {
				continue
			}
			skip[[2]int{k, b}] = true
			sums = append(sums, &model.Summary{
				Count: bi.Count, MinTime: bi.MinTime, MaxTime: bi.MaxTime,
				First: bi.First, Last: bi.Last, Min: bi.Min, Max: bi.Max,
				SumFloat: bi.SumFloat, SumInt: bi.SumInt, SumUint: bi.SumUint,
			})
		}
	}
	if len(sums) == 0 {
		skip = nil // nothing skipped: read ranges, not blocks one by one
	}
	cols, err := db.readSources(ctx, fs, mem, min, max, skip)
	if err != nil {
		return nil, err
	}
	// Sources that do not overlap in time (files flushed one after the
	// other) become parts of their own, in time order, rather than being
	// copied into one merged column.
	runs, ok := disjointRuns(fs.name, cols)
	if !ok {
		runs = []model.Column{mergeColumns(fs.name, fs.kind, cols)}
	}
	sort.Slice(sums, func(i, j int) bool { return sums[i].MinTime < sums[j].MinTime })
	return interleave(runs, sums), nil
}

// interleave returns runs (columns in time order, none overlapping
// another) and sums (summaries in time order, no run's value inside one)
// as parts in time order: a run is cut where a summary falls between two
// of its values.
func interleave(runs []model.Column, sums []*model.Summary) []model.Part {
	parts := make([]model.Part, 0, len(runs)+2*len(sums))
	si := 0
	for _, c := range runs {
		for at := 0; at < c.Len(); {
			for si < len(sums) && sums[si].MinTime <= c.Times[at] {
				parts = append(parts, model.Part{Summary: sums[si]})
				si++
			}
			end := c.Len()
			if si < len(sums) {
				end = at + sort.Search(c.Len()-at, func(i int) bool { return c.Times[at+i] >= sums[si].MinTime })
			}
			parts = append(parts, model.Part{Values: c.Slice(at, end)})
			at = end
		}
	}
	for ; si < len(sums); si++ {
		parts = append(parts, model.Part{Summary: sums[si]})
	}
	return parts
}

func coveredByTombstone(fc *fileCol, lo, hi int64) bool {
	for _, t := range fc.tombs {
		if t.max >= lo && t.min <= hi {
			return true
		}
	}
	return false
}

// overlapsOthers reports whether any source but file column k holds a value
// (or, for files, a block) in [lo, hi].
func overlapsOthers(fs *fieldSources, k int, mem []model.Column, lo, hi int64) bool {
	for j := range fs.files {
		if j == k {
			continue
		}
		o := fs.files[j].info
		if o.MaxTime < lo || o.MinTime > hi {
			continue
		}
		for _, ob := range o.Blocks {
			if ob.MaxTime >= lo && ob.MinTime <= hi {
				return true
			}
		}
	}
	for _, c := range mem {
		i := sort.Search(c.Len(), func(i int) bool { return c.Times[i] >= lo })
		if i < c.Len() && c.Times[i] <= hi {
			return true
		}
	}
	return false
}
