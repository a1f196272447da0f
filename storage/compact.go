package storage

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/colfile"
)

// A compaction unit is every file of one collection, group and time
// partition. Compaction rewrites a unit as one file: values merged with the
// later file winning a tie, tombstones applied, nothing else changed. The
// new file has a fresh sequence number (above every input and every
// tombstone, so no tombstone applies to it) and lists the inputs' numbers
// in Meta.Replaces. The inputs are removed only after the new file is
// durable; a crash in between leaves both on disk, and Open then deletes
// the replaced ones, so exactly one of the two sets is ever visible.
//
// Compaction runs under flushMu, one unit at a time: flushes and deletes
// wait for at most one unit, writes and queries never wait.

type unitKey struct {
	coll      string
	group     int
	partition int64
}

// units returns the files of every unit, oldest first. The caller holds mu.
func (db *DB) units() map[unitKey][]*dataFile {
	out := make(map[unitKey][]*dataFile)
	for _, g := range db.groups {
		for k, files := range g.files {
			out[unitKey{coll: k.coll, group: g.id, partition: k.partition}] = slices.Clone(files)
		}
	}
	return out
}

// Compact compacts every unit that has more than one file or holds data a
// tombstone covers, and returns when all are done; a unit with cold files
// only for its deletes (see compact).
func (db *DB) Compact(ctx context.Context) error {
	return db.compact(ctx, 2)
}

// compact compacts the units with at least minFiles files, and those with
// data a tombstone covers. A unit with cold files is compacted only for
// its deletes: merging its files would fetch them all to write one local
// file, which Tier would then upload again.
func (db *DB) compact(ctx context.Context, minFiles int) error {
	db.mu.RLock()
	var todo []unitKey
	for k, files := range db.units() {
		cold := slices.ContainsFunc(files, func(f *dataFile) bool { return f.cold != nil })
		if len(files) >= minFiles && !cold || db.unitCovered(files) {
			todo = append(todo, k)
		}
	}
	db.mu.RUnlock()
	var errs []error
	for _, k := range todo {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := db.compactUnit(ctx, k); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unitFiles returns the files of one unit, by sequence number. The caller
// holds mu.
func (db *DB) unitFiles(k unitKey) []*dataFile {
	if k.group < 0 || k.group >= len(db.groups) {
		return nil
	}
	return slices.Clone(db.groups[k.group].files[partKey{k.coll, k.partition}])
}

// unitCovered reports whether a tombstone covers data of the files. The
// caller holds mu.
func (db *DB) unitCovered(files []*dataFile) bool {
	for _, t := range db.tombs {
		for _, f := range files {
			if t.coll != f.meta.Collection || t.seq <= f.meta.Seq {
				continue
			}
			for _, si := range f.r.AllSeries() {
				for _, ci := range si.Columns {
					if t.covers(si.Key, f.meta.Seq, ci.MinTime, ci.MaxTime) {
						return true
					}
				}
			}
		}
	}
	return false
}

// compactUnit rewrites the files a unit holds now. The inputs are read
// under flushMu, so they are every file of the unit: the output, which
// gets a new (higher) sequence number, must not outrank a file it does not
// include, or that file's newer values would lose to the output's older
// ones.
func (db *DB) compactUnit(ctx context.Context, k unitKey) error {
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	return db.compactUnitLocked(ctx, k)
}

// compactUnitLocked is compactUnit for a caller holding flushMu.
func (db *DB) compactUnitLocked(ctx context.Context, k unitKey) error {
	cc := &compactCount{}
	err := db.compactUnitCounted(ctx, k, cc)
	db.timing.compactDone(cc, err)
	return err
}

// compactUnitCounted is compactUnitLocked, noting in cc what it read and
// wrote.
func (db *DB) compactUnitCounted(ctx context.Context, k unitKey, cc *compactCount) error {
	start := time.Now()
	db.mu.RLock()
	if db.shut {
		db.mu.RUnlock()
		return ErrClosed
	}
	inputs := db.unitFiles(k)
	if len(inputs) == 0 || len(inputs) == 1 && !db.unitCovered(inputs) {
		db.mu.RUnlock()
		return nil // compacted meanwhile, or dropped
	}
	tombs := append([]*tombstone(nil), db.tombs...)
	db.mu.RUnlock()
	cc.ran = true
	for _, f := range inputs {
		if f.cold == nil {
			if fi, err := db.fs.Stat(f.path); err == nil {
				cc.in += fi.Size()
			}
		}
	}

	// Merge every series of every input. Inputs are immutable and cannot
	// be removed while flushMu is held, so no lock is needed to read them.
	// Each input lists its series sorted by key: they are merged in key
	// order, one series at a time, each input's entry decoded once.
	type field struct {
		name string
		kind model.Kind
		cols []model.Column // by input, oldest first: the later wins a tie
	}
	var out []colfile.SeriesData
	points := 0
	pos := make([]int, len(inputs))
	var fields []field
	for {
		key, found := "", false
		for i, f := range inputs {
			if pos[i] < f.r.NumSeries() {
				if k := f.r.Key(pos[i]); !found || k < key {
					key, found = k, true
				}
			}
		}
		if !found {
			break
		}
		fields = fields[:0]
		var tags model.Tags
		for i, f := range inputs {
			if pos[i] >= f.r.NumSeries() || f.r.Key(pos[i]) != key {
				continue
			}
			info, cols, err := f.r.ReadSeries(ctx, pos[i])
			if err != nil {
				return fmt.Errorf("compact: read %s: %w", f.name(), err)
			}
			pos[i]++
			if tags == nil {
				tags = info.Tags
			}
			for j, col := range cols {
				ci := &info.Columns[j]
				for _, t := range tombs {
					if t.coll == f.meta.Collection && t.covers(key, f.meta.Seq, ci.MinTime, ci.MaxTime) {
						col = cut(col, t.min, t.max)
					}
				}
				k := slices.IndexFunc(fields, func(fd field) bool { return fd.name == ci.Name })
				if k < 0 {
					k = len(fields)
					if k < cap(fields) {
						fields = fields[:k+1]
						fields[k] = field{name: ci.Name, cols: fields[k].cols[:0]}
					} else {
						fields = append(fields, field{name: ci.Name})
					}
				}
				fields[k].kind = ci.Kind
				fields[k].cols = append(fields[k].cols, col)
			}
		}
		sd := colfile.SeriesData{Tags: tags, Key: key, Columns: make([]model.Column, 0, len(fields))}
		for k := range fields {
			fd := &fields[k]
			merged, ok := concatDisjoint(fd.name, fd.kind, fd.cols)
			if !ok {
				merged = mergeColumns(fd.name, fd.kind, fd.cols)
			}
			clear(fd.cols) // the next series reuses the slice
			if merged.Len() > 0 {
				sd.Columns = append(sd.Columns, merged)
				points += merged.Len()
			}
		}
		if len(sd.Columns) > 0 {
			out = append(out, sd)
		}
	}

	replaces := make([]uint64, len(inputs))
	for i, f := range inputs {
		replaces[i] = f.meta.Seq
	}
	var output *dataFile
	var kinds []fieldKind
	if len(out) > 0 {
		// The fields in the order a pass over the file (in key order,
		// as out is) meets them (attachWritten).
		for _, sd := range out {
			for _, c := range sd.Columns {
				if !slices.ContainsFunc(kinds, func(f fieldKind) bool { return f.name == c.Name }) {
					kinds = append(kinds, fieldKind{c.Name, c.Kind})
				}
			}
		}
		seq := db.seq.Add(1)
		first := inputs[0]
		path := filepath.Join(filepath.Dir(first.path), fmt.Sprintf("%s-%016d.col", partitionName(first.path), seq))
		// A unit of cold files may have no local directory.
		if err := db.mkdirDurable(filepath.Dir(path)); err != nil {
			return fmt.Errorf("compact: %w", err)
		}
		r, err := colfile.WriteOpen(path, first.meta.Collection, first.meta.Group, seq, out,
			&colfile.WriteOptions{Replaces: replaces, FS: db.fs, BlockSize: db.opts.CompactBlockSize, Yield: db.yieldToWrites})
		if err != nil {
			return fmt.Errorf("compact: write: %w", err)
		}
		output = &dataFile{path: path, r: r, meta: r.Meta()}
		if fi, err := db.fs.Stat(path); err == nil {
			cc.out = fi.Size()
		}
	}

	// Swap the inputs for the output.
	db.mu.Lock()
	obsolete := make(map[*dataFile]bool, len(inputs))
	for _, f := range inputs {
		obsolete[f] = true
	}
	db.detachFiles(obsolete)
	if output != nil {
		db.attachWritten(output, kinds)
	}
	db.dropSpentTombstones()
	db.mu.Unlock()

	errs := []error{db.discard(inputs, false, "compact: remove")}
	took := time.Since(start)
	db.log.Info("compacted", "collection", inputs[0].meta.Collection, "group", inputs[0].meta.Group,
		"inputs", len(inputs), "points", points, "took", took.Round(time.Millisecond))
	err := errors.Join(errs...)
	if err == nil {
		db.timing.compacted(took)
	}
	return err
}

// partitionName returns the partition part of a colstore file name
// ("20250101T000000Z" of "20250101T000000Z-0000000000000042.col").
func partitionName(path string) string {
	base := filepath.Base(path)
	if i := len(base) - len("-0000000000000042.col"); i > 0 {
		return base[:i]
	}
	return "p"
}

// concatDisjoint returns the values of cols, columns of one field and
// kind, in one column when each starts after the one before it ends (the
// usual inputs of a compaction: successive flushes), what mergeColumns
// returns for them, with the column's slices allocated once at their
// size. It returns false for fewer than two non-empty columns (which
// mergeColumns returns as they are) and for columns that overlap, are out
// of order or of another kind.
func concatDisjoint(name string, kind model.Kind, cols []model.Column) (model.Column, bool) {
	total, n := 0, 0
	var last int64
	for _, c := range cols {
		if c.Len() == 0 {
			continue
		}
		if c.Kind != kind || n > 0 && c.Times[0] <= last {
			return model.Column{}, false
		}
		last = c.Times[c.Len()-1]
		total += c.Len()
		n++
	}
	if n < 2 {
		return model.Column{}, false
	}
	out := model.NewColumn(name, kind, total)
	for _, c := range cols {
		appendColumn(&out, c, 0, c.Len())
	}
	return out, true
}
