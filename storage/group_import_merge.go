package storage

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/colfile"
)

// stageImport writes the files the import installs into stage, with the
// paths they will have below the data directory. The caller holds
// flushMu, so the receiver's files do not change meanwhile.
func (db *DB) stageImport(ctx context.Context, g int, man *groupManifest, files []*importedFile, stage string) ([]importOut, error) {
	// The deletes that rank newer than the snapshot are those since the
	// group was last dropped here: an older one (kept for the sake of
	// another group's files) was applied on the nodes that held the
	// group since, and writes made there after it must stay.
	db.mu.RLock()
	var tombs []*tombstone
	for _, t := range db.tombs {
		if t.seq > db.groups[g].dropSeq {
			tombs = append(tombs, t)
		}
	}
	db.mu.RUnlock()
	groupDir := fmt.Sprintf("group_%04d", g)
	part := db.opts.PartitionDuration.Nanoseconds()
	var outs []importOut

	// Raw data, one receiver partition (compaction unit) at a time.
	type unitIn struct {
		lo, hi int64
		files  []*importedFile
	}
	units := make(map[unitKey]*unitIn)
	addUnit := func(f *importedFile, t int64) {
		k := unitKey{coll: f.meta.Collection, group: g, partition: timex.FloorDiv(t, part)}
		u := units[k]
		if u == nil {
			lo, hi := timex.Span(t, part, 0)
			u = &unitIn{lo: lo, hi: hi}
			units[k] = u
		}
		if !slices.Contains(u.files, f) {
			u.files = append(u.files, f)
		}
	}
	for _, f := range files {
		if f.roll {
			continue
		}
		for si, info := range f.r.AllSeries() {
			for ci, c := range info.Columns {
				if timex.FloorDiv(c.MinTime, part) == timex.FloorDiv(c.MaxTime, part) {
					addUnit(f, c.MinTime)
					continue
				}
				// A column over several of our partitions (the sender's
				// are longer): the partitions its times are in.
				col, err := f.r.ReadColumn(si, ci)
				if err != nil {
					return nil, fmt.Errorf("read %s: %w", f.path, err)
				}
				for i, t := range col.Times {
					if i == 0 || timex.FloorDiv(t, part) != timex.FloorDiv(col.Times[i-1], part) {
						addUnit(f, t)
					}
				}
			}
		}
	}
	keys := make([]unitKey, 0, len(units))
	for k := range units {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].coll != keys[j].coll {
			return keys[i].coll < keys[j].coll
		}
		return keys[i].partition < keys[j].partition
	})
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		u := units[k]
		sort.Slice(u.files, func(i, j int) bool { return u.files[i].meta.Seq < u.files[j].meta.Seq })
		db.mu.RLock()
		recv := db.unitFiles(k)
		db.mu.RUnlock()
		o, err := db.stageUnit(k, u.lo, u.hi, u.files, recv, tombs, stage, groupDir)
		if err != nil {
			return nil, err
		}
		if o != nil {
			outs = append(outs, *o)
		}
	}

	// Rollups, one partition of a level at a time.
	latest := latestRollups(files)
	rkeys := make([]rollKey, 0, len(latest))
	for k := range latest {
		rkeys = append(rkeys, k)
	}
	sort.Slice(rkeys, func(i, j int) bool {
		a, b := rkeys[i], rkeys[j]
		if a.coll != b.coll {
			return a.coll < b.coll
		}
		if a.level != b.level {
			return a.level < b.level
		}
		return a.part < b.part
	})
	for _, k := range rkeys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		db.mu.RLock()
		noRollups := db.settingsOf(k.coll).NoRollups
		var old *rollFile
		if c := db.colls[k.coll]; c != nil && db.groups[g].rollups[c] != nil {
			for _, rf := range db.groups[g].rollups[c].files[k.level] {
				if rf.part == k.part {
					old = rf
				}
			}
		}
		db.mu.RUnlock()
		if noRollups {
			continue
		}
		f := latest[k]
		rows, err := readAllRows(f.r, k.level)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.path, err)
		}
		// This DB's deletes rank newer than the snapshot: a row of a
		// deleted series in a bucket a delete touches goes where no raw
		// data was left when the delete came, as a rollup pass drops it
		// (the file written here has a higher sequence number than the
		// deletes, so no pass would drop it later). Where raw data was
		// left, the sender applied a delete it had before the snapshot
		// to its rows exactly, and one after it cuts the snapshot's raw
		// data, from which the rebuild recomputes the bucket.
		for _, t := range tombs {
			if t.coll != k.coll {
				continue
			}
			for key, sr := range rows {
				if _, ok := t.keys[key]; !ok {
					continue
				}
				for _, fr := range sr.fields {
					fr.rows = slices.DeleteFunc(fr.rows, func(r rollRow) bool {
						return r.start < t.rawFrom && r.start <= t.max && bucketEnd(k.level, r.start) >= t.min
					})
				}
			}
		}
		if old != nil {
			mine, err := readAllRows(old.r, k.level)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", old.name(), err)
			}
			db.mu.RLock()
			rawFrom := max(db.importRawFrom(g, man, k.coll), db.rawKept(k.coll))
			db.mu.RUnlock()
			overlayRows(rows, mine, k.level, rawFrom)
		}
		var data []colfile.SeriesData
		for _, sr := range rows {
			if cols := encodeRows(sr, k.level); len(cols) > 0 {
				data = append(data, colfile.SeriesData{Tags: sr.tags, Columns: cols})
			}
		}
		if len(data) == 0 {
			continue
		}
		seq := db.seq.Add(1)
		rel := filepath.Join(collectionsDir, collDirName(k.coll), groupDir, "rollup_"+levelNamesForDirs[k.level],
			fmt.Sprintf("%s-%016d.col", partName(k.level, k.part), seq))
		if err := db.writeStaged(stage, rel, k.coll, g, seq, data, nil, true); err != nil {
			return nil, err
		}
		outs = append(outs, importOut{rel: rel, coll: k.coll, roll: true, level: k.level, part: k.part, oldRoll: old})
	}
	return outs, nil
}

// stageUnit writes one raw partition of the import: the snapshot's data
// of [lo, hi], then the receiver's files of the partition over it (recv,
// by sequence number), each with the receiver's tombstones applied. It
// returns nil when the snapshot has no data left there.
func (db *DB) stageUnit(k unitKey, lo, hi int64, in []*importedFile, recv []*dataFile, tombs []*tombstone, stage, groupDir string) (*importOut, error) {
	type seriesAcc struct {
		tags model.Tags
		cols map[string][]model.Column
		kind map[string]model.Kind
	}
	acc := make(map[string]*seriesAcc)
	var order []string
	add := func(key string, tags model.Tags, col model.Column, seq uint64) {
		for _, t := range tombs {
			if t.coll == k.coll && col.Len() > 0 && t.covers(key, seq, col.Times[0], col.Times[col.Len()-1]) {
				col = cut(col, t.min, t.max)
			}
		}
		if col.Len() == 0 {
			return
		}
		a := acc[key]
		if a == nil {
			a = &seriesAcc{tags: tags, cols: make(map[string][]model.Column), kind: make(map[string]model.Kind)}
			acc[key] = a
			order = append(order, key)
		}
		a.cols[col.Name] = append(a.cols[col.Name], col)
		a.kind[col.Name] = col.Kind
	}
	for _, f := range in {
		for si, info := range f.r.AllSeries() {
			for ci, c := range info.Columns {
				if c.MaxTime < lo || c.MinTime > hi {
					continue
				}
				col, err := f.r.ReadRange(si, ci, lo, hi)
				if err != nil {
					return nil, fmt.Errorf("read %s: %w", f.path, err)
				}
				col.Name, col.Kind = c.Name, c.Kind
				// Seq 0: every tombstone here is newer than the snapshot.
				add(info.Key, info.Tags, col, 0)
			}
		}
	}
	if len(acc) == 0 {
		return nil, nil
	}
	for _, f := range recv {
		for si, info := range f.r.AllSeries() {
			for ci := range info.Columns {
				col, err := f.r.ReadColumn(si, ci)
				if err != nil {
					return nil, fmt.Errorf("read %s: %w", f.path, err)
				}
				add(info.Key, info.Tags, col, f.meta.Seq)
			}
		}
	}
	var data []colfile.SeriesData
	minT := int64(math.MaxInt64)
	for _, key := range order {
		a := acc[key]
		sd := colfile.SeriesData{Tags: a.tags}
		names := make([]string, 0, len(a.cols))
		for n := range a.cols {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			merged := mergeColumns(n, a.kind[n], a.cols[n])
			if merged.Len() > 0 {
				sd.Columns = append(sd.Columns, merged)
				minT = min(minT, merged.Times[0])
			}
		}
		if len(sd.Columns) > 0 {
			data = append(data, sd)
		}
	}
	replaces := make([]uint64, len(recv))
	for i, f := range recv {
		replaces[i] = f.meta.Seq
	}
	seq := db.seq.Add(1)
	rel := filepath.Join(collectionsDir, collDirName(k.coll), groupDir,
		fmt.Sprintf("%s-%016d.col", partitionFileName(minT, db.opts.PartitionDuration.Nanoseconds()), seq))
	if err := db.writeStaged(stage, rel, k.coll, k.group, seq, data, replaces, false); err != nil {
		return nil, err
	}
	return &importOut{rel: rel, coll: k.coll, replaces: recv}, nil
}

// importRawFrom is where group g's raw data of coll is complete from once
// the import of man is in (group.rawFrom): where the snapshot's is, and,
// unless the group was expected (retention keeps an expected group's
// files), where this DB's retention dropped its own files of the group.
// The caller holds mu.
func (db *DB) importRawFrom(g int, man *groupManifest, coll string) int64 {
	from := man.Collections[coll].RawCompleteNs
	if d, ok := db.rawDropped[coll]; ok && !db.groups[g].expecting {
		from = max(from, d)
	}
	return max(from, db.rawKept(coll))
}

// overlayRows puts the rows of mine over those of rows: mine wins per
// series, field and bucket, except in buckets ending before rawFrom,
// which no finer data will rebuild: there a row of the snapshot is the
// whole bucket (writes there after the snapshot are refused as too old),
// and a row of this DB only what was forwarded to it.
func overlayRows(rows, mine partitionRows, l model.Level, rawFrom int64) {
	for key, sr := range mine {
		dst := rows[key]
		if dst == nil {
			rows[key] = sr
			continue
		}
		for name, fr := range sr.fields {
			d := dst.fields[name]
			if d == nil || d.kind != fr.kind {
				dst.fields[name] = fr
				continue
			}
			at := make(map[int64]int, len(d.rows))
			for i, r := range d.rows {
				at[r.start] = i
			}
			for _, r := range fr.rows {
				if i, ok := at[r.start]; ok {
					if bucketEnd(l, r.start) >= rawFrom {
						d.rows[i] = r
					}
				} else {
					d.rows = append(d.rows, r)
				}
			}
			sort.Slice(d.rows, func(i, j int) bool { return d.rows[i].start < d.rows[j].start })
		}
	}
}

// rollKey is one rollup partition of a level of a collection.
type rollKey struct {
	coll  string
	level model.Level
	part  int64
}

// latestRollups returns each rollup partition's latest file among files
// (the highest sequence number).
func latestRollups(files []*importedFile) map[rollKey]*importedFile {
	latest := make(map[rollKey]*importedFile)
	for _, f := range files {
		k := rollKey{f.meta.Collection, f.level, f.part}
		if f.roll && (latest[k] == nil || latest[k].meta.Seq < f.meta.Seq) {
			latest[k] = f
		}
	}
	return latest
}
