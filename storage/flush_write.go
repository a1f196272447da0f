// The write phase of a flush: the swapped-out generation into raw files,
// group by group.

package storage

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"

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
		for _, f := range written {
			db.attachFile(f)
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
	// New collection directories are entries of collections/.
	if err := db.fs.SyncDir(filepath.Join(db.dir, collectionsDir)); err != nil {
		return files, fmt.Errorf("sync data dir: %w", err)
	}
	return files, nil
}

// writeImmGroup writes the immutable generation of series ss, all of
// collection coll and group group, into one file per partition and
// returns the files written (opened), those before a failure included.
func (db *DB) writeImmGroup(coll string, group int, ss []*series) ([]*dataFile, error) {
	parts := make(map[int64][]colfile.SeriesData)
	names := make(map[int64]string) // partition index -> file name prefix
	part := db.opts.PartitionDuration.Nanoseconds()
	for _, s := range ss {
		byPart := make(map[int64][]model.Column)
		for i := range s.imm.cols {
			col := s.imm.cols[i].sorted()
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
			parts[p] = append(parts[p], colfile.SeriesData{Tags: s.tags, Columns: cols})
		}
	}
	var written []*dataFile
	for p, data := range parts {
		seq := db.seq.Add(1)
		dir := filepath.Join(db.collDir(coll), fmt.Sprintf("group_%04d", group))
		if err := db.mkdirDurable(dir); err != nil {
			return written, fmt.Errorf("create group dir: %w", err)
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%016d.col", names[p], seq))
		if _, err := colfile.WriteWith(path, coll, group, seq, data, &colfile.WriteOptions{FS: db.fs, BlockSize: db.opts.BlockSize, Yield: db.yieldToWrites}); err != nil {
			return written, fmt.Errorf("write colstore file: %w", err)
		}
		r, err := colfile.OpenWith(path, db.fs)
		if err != nil {
			return written, fmt.Errorf("reopen colstore file: %w", err)
		}
		written = append(written, &dataFile{path: path, r: r, meta: r.Meta()})
		delete(parts, p) // its columns can go
	}
	return written, nil
}
