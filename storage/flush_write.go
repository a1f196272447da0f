// The write phase of a flush: the swapped-out generation into raw files,
// group by group.

package storage

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/colfile"
)

// writeImm writes the immutable generation of the series in work (swapped
// out by the flush) into colstore files, one per collection, group and
// partition, and returns how many it wrote.
//
// It goes group by group: a group's columns are sorted and encoded, its
// files written and attached, and its series' immutable generation
// released under one lock, before the next group's columns are built. So
// the flush holds, on top of the memory it is emptying, the copies of one
// group rather than of every series (with a million series the copies of
// every group together were the flush's peak, docs/benchmarks-million.md "A
// million series"), and writes waiting for memory resume as the groups
// are written rather than at the end.
//
// On an error, the groups written so far stay in files (their generation
// released); the caller folds the rest back into memory (unswap). The WAL
// keeps every record until the whole flush is done, so a crash in between
// replays them: memory wins over files for what both hold.
func (db *DB) writeImm(ctx context.Context, work []*series) (int, error) {
	type groupKey struct {
		coll  string
		group int
	}
	byGroup := make(map[groupKey][]*series)
	var keys []groupKey
	for _, s := range work {
		k := groupKey{s.coll, s.group}
		if _, ok := byGroup[k]; !ok {
			keys = append(keys, k)
		}
		byGroup[k] = append(byGroup[k], s)
	}
	slices.SortFunc(keys, func(a, b groupKey) int {
		return cmp.Or(cmp.Compare(a.coll, b.coll), cmp.Compare(a.group, b.group))
	})
	files := 0
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return files, err
		}
		ss := byGroup[k]
		written, err := db.writeImmGroup(k.coll, k.group, ss)
		db.mu.Lock()
		for _, w := range written {
			db.attachWritten(w.f, w.fields)
		}
		files += len(written)
		if err != nil {
			db.mu.Unlock()
			return files, err
		}
		n, b := 0, 0
		for _, s := range ss {
			n += s.imm.points
			b += s.imm.bytes
			s.imm = nil
		}
		db.immPoints -= n
		db.groups[k.group].immPoints -= n
		db.immBytes -= b
		db.groups[k.group].immBytes -= b
		// Wake the writes waiting for memory (waitForMemory).
		close(db.memChanged)
		db.memChanged = make(chan struct{})
		db.mu.Unlock()
		delete(byGroup, k)
	}
	db.flushArena.trim()
	// New collection directories are entries of collections/.
	if err := db.fs.SyncDir(filepath.Join(db.dir, collectionsDir)); err != nil {
		return files, fmt.Errorf("sync data dir: %w", err)
	}
	return files, nil
}

// flushCols holds the memory of the column headers writeImmGroup builds.
var flushCols sync.Pool

// getFlushCols returns an empty slice with room for n columns.
func getFlushCols(n int) []model.Column {
	if p, _ := flushCols.Get().(*[]model.Column); p != nil && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]model.Column, 0, n)
}

// putFlushCols clears cols, which must not be used any more, so that the
// pool does not keep the values they refer to alive, and pools its memory.
func putFlushCols(cols []model.Column) {
	cols = cols[:cap(cols)]
	clear(cols)
	cols = cols[:0]
	flushCols.Put(&cols)
}

// writtenFile is a file the DB has just written, opened, and the names
// and kinds of its columns in file order (attachWritten).
type writtenFile struct {
	f      *dataFile
	fields []fieldKind
}

// fieldKind is a field's name and kind.
type fieldKind struct {
	name string
	kind model.Kind
}

// flushPart is what a flush writes into one partition's file: series
// and their columns in that partition.
type flushPart struct {
	p    int64
	name string // the file name's partition part
	ss   []flushSeries
}

type flushSeries struct {
	s    *series
	cols []model.Column
}

// writeImmGroup writes the immutable generation of series ss, all of
// collection coll and group group, into one file per partition and
// returns the files written (opened), those before a failure included.
//
// The values of most series fall in one partition: their columns go to
// it whole, into one slice for the group sized once; only a series
// spanning partitions is cut. The files are opened from what the writer
// built (colfile.WriteOpen), not read back.
func (db *DB) writeImmGroup(coll string, group int, ss []*series) ([]writtenFile, error) {
	part := db.opts.PartitionDuration.Nanoseconds()
	var parts []*flushPart
	byP := make(map[int64]*flushPart)
	partOf := func(p, t int64) *flushPart {
		fp := byP[p]
		if fp == nil {
			fp = &flushPart{p: p, name: partitionFileName(t, part)}
			if len(parts) == 0 {
				fp.ss = make([]flushSeries, 0, len(ss))
			}
			byP[p] = fp
			parts = append(parts, fp)
		}
		return fp
	}
	n := 0
	for _, s := range ss {
		n += len(s.imm.cols)
	}
	// The columns' headers and their values live in scratch memory
	// reused across groups and flushes: the writer is done with them
	// when WriteOpen returns.
	cols := getFlushCols(n)
	defer putFlushCols(cols)
	db.flushArena.reset()
	defer db.flushArena.reset()
	for _, s := range ss {
		start := len(cols)
		single := true
		var p int64
		for i := range s.imm.cols {
			col := s.imm.cols[i].sortedIn(&db.flushArena)
			if col.Len() == 0 {
				continue
			}
			lo := timex.FloorDiv(col.Times[0], part)
			if timex.FloorDiv(col.Times[col.Len()-1], part) != lo || len(cols) > start && lo != p {
				single = false
			}
			p = lo
			cols = append(cols, col)
		}
		if len(cols) == start {
			continue
		}
		if single {
			fp := partOf(p, cols[start].Times[0])
			fp.ss = append(fp.ss, flushSeries{s: s, cols: cols[start:len(cols):len(cols)]})
			continue
		}
		// The series spans partitions: its columns are cut at their
		// boundaries.
		split := slices.Clone(cols[start:])
		cols = cols[:start]
		byPart := make(map[int64][]model.Column)
		var order []int64
		for _, col := range split {
			for lo := 0; lo < col.Len(); {
				p := timex.FloorDiv(col.Times[lo], part)
				partOf(p, col.Times[lo])
				hi := lo
				for hi < col.Len() && timex.FloorDiv(col.Times[hi], part) == p {
					hi++
				}
				if _, ok := byPart[p]; !ok {
					order = append(order, p)
				}
				byPart[p] = append(byPart[p], col.Slice(lo, hi))
				lo = hi
			}
		}
		for _, p := range order {
			fp := byP[p]
			fp.ss = append(fp.ss, flushSeries{s: s, cols: byPart[p]})
		}
	}
	slices.SortFunc(parts, func(a, b *flushPart) int { return cmp.Compare(a.p, b.p) })
	var written []writtenFile
	for k, fp := range parts {
		seq := db.seq.Add(1)
		dir := filepath.Join(db.collDir(coll), fmt.Sprintf("group_%04d", group))
		if err := db.mkdirDurable(dir); err != nil {
			return written, fmt.Errorf("create group dir: %w", err)
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%016d.col", fp.name, seq))
		// In key order, the file's: the writer finds them sorted, and
		// the fields are listed in the order a pass over the file meets
		// them (attachFile).
		slices.SortFunc(fp.ss, func(a, b flushSeries) int { return strings.Compare(a.s.key, b.s.key) })
		data := make([]colfile.SeriesData, len(fp.ss))
		var fields []fieldKind
		for i, e := range fp.ss {
			data[i] = colfile.SeriesData{Tags: e.s.tags, Columns: e.cols, Key: e.s.key}
			for _, c := range e.cols {
				if !slices.ContainsFunc(fields, func(f fieldKind) bool { return f.name == c.Name }) {
					fields = append(fields, fieldKind{c.Name, c.Kind})
				}
			}
		}
		r, err := colfile.WriteOpen(path, coll, group, seq, data, &colfile.WriteOptions{FS: db.fs, BlockSize: db.opts.BlockSize, Yield: db.yieldToWrites})
		if err != nil {
			return written, fmt.Errorf("write colstore file: %w", err)
		}
		written = append(written, writtenFile{f: &dataFile{path: path, r: r, meta: r.Meta()}, fields: fields})
		parts[k] = nil // its columns can go
	}
	return written, nil
}
