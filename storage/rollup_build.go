package storage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/colfile"
)

// rollupWork is one group's share of a rollup pass, taken under the lock.
type rollupWork struct {
	coll   string
	group  int
	dir    string // the group's directory
	fields []string
	series []model.Tags
	hours  []int64 // 1h buckets to recompute, sorted
	files  [len(levelNamesForDirs)]map[int64]*rollFile
	from   [len(levelNamesForDirs)]int64
}

// rollupLocked recomputes every bucket marked dirty at generation cutoff or
// earlier, in every level, and installs the new files. The caller holds
// flushMu, and the data those marks stand for is in files (or memory).
func (db *DB) rollupLocked(ctx context.Context, cutoff uint64) error {
	start := time.Now()
	var works []*rollupWork
	db.mu.RLock()
	for name, c := range db.colls {
		if c.settings.NoRollups {
			continue
		}
		for gi, g := range c.rollups {
			w := &rollupWork{coll: name, group: gi,
				dir: filepath.Join(db.collDir(name), fmt.Sprintf("group_%04d", gi))}
			hours := g.dirty[model.Level1h].upTo(cutoff)
			var spans []dirtySpan
			for _, sp := range g.spans {
				if sp.gen <= cutoff {
					spans = append(spans, sp)
				}
			}
			if len(hours) == 0 && len(spans) == 0 {
				continue
			}
			for l := range w.from {
				w.from[l] = db.horizon(c, model.Level(l))
			}
			// held lists the time ranges that hold data: raw files (one
			// partition each) and 1h rollup files (one day each).
			var held [][2]int64
			for _, s := range c.series {
				if s.group != gi {
					continue
				}
				w.series = append(w.series, s.tags)
				for _, fs := range s.files {
					held = append(held, [2]int64{fs.f.meta.MinTime, fs.f.meta.MaxTime})
				}
			}
			for l := model.Level1h; l <= model.Level1y; l++ {
				w.files[l] = make(map[int64]*rollFile)
				for _, f := range g.files[l] {
					w.files[l][f.part] = f
					if l == model.Level1h {
						held = append(held, [2]int64{f.part, partEnd(l, f.part)})
					}
				}
			}
			slices.SortFunc(held, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0])*2 + cmp.Compare(a[1], b[1]) })
			held = slices.Compact(held)
			// A span covers the hours of the data it can touch: only those
			// inside a range that holds data, so that a span over the whole
			// int64 range costs the hours of its data, not 5 million.
			for _, sp := range spans {
				for _, r := range held {
					hours = appendHours(hours, max(sp.lo, r[0]), min(sp.hi, r[1]))
				}
			}
			slices.Sort(hours)
			hours = slices.Compact(hours)
			// Raw data before the horizon is gone: keep those rows.
			hours = slices.DeleteFunc(hours, func(h int64) bool { return h < w.from[model.LevelRaw] })
			w.hours = hours
			for f := range c.fields {
				w.fields = append(w.fields, f)
			}
			sort.Strings(w.fields)
			works = append(works, w)
		}
	}
	db.mu.RUnlock()

	type built struct {
		w     *rollupWork
		files [len(levelNamesForDirs)]map[int64]*rollFile // nil value: partition now empty
	}
	var done []built
	cleanup := func() {
		for _, b := range done {
			for _, m := range b.files {
				for _, f := range m {
					if f != nil {
						f.close()
						db.fs.Remove(f.path)
					}
				}
			}
		}
	}
	rows := 0
	for _, w := range works {
		files, n, err := db.buildGroup(ctx, w)
		done = append(done, built{w: w, files: files})
		if err != nil {
			cleanup()
			return fmt.Errorf("rollup %s group %d: %w", w.coll, w.group, err)
		}
		rows += n
	}

	// The new files' names must be durable before the WAL that marked
	// their buckets dirty goes.
	newDirs := make(map[string]bool)
	for _, b := range done {
		for _, m := range b.files {
			for _, f := range m {
				if f != nil {
					newDirs[filepath.Dir(f.path)] = true
				}
			}
		}
	}
	for d := range newDirs {
		if err := db.fs.SyncDir(d); err != nil {
			cleanup()
			return fmt.Errorf("sync rollup dir: %w", err)
		}
	}
	var retired []*rollFile
	db.mu.Lock()
	for _, b := range done {
		c := db.colls[b.w.coll]
		g := c.rollupsOf(b.w.group)
		for l := model.Level1h; l <= model.Level1y; l++ {
			for part, nf := range b.files[l] {
				i := slices.IndexFunc(g.files[l], func(f *rollFile) bool { return f.part == part })
				if i >= 0 {
					retired = append(retired, g.files[l][i])
					g.files[l] = slices.Delete(g.files[l], i, i+1)
				}
				if nf != nil {
					g.files[l] = append(g.files[l], nf)
				}
			}
			sort.Slice(g.files[l], func(i, j int) bool { return g.files[l][i].part < g.files[l][j].part })
		}
	}
	// Every mark up to cutoff has been handled, in groups with work and
	// without.
	for _, c := range db.colls {
		for _, g := range c.rollups {
			for l := model.Level1h; l <= model.Level1y; l++ {
				g.dirty[l].clear(cutoff)
			}
			g.spans = slices.DeleteFunc(g.spans, func(sp dirtySpan) bool { return sp.gen <= cutoff })
		}
	}
	db.mu.Unlock()
	var errs []error
	dirs := make(map[string]bool)
	for _, f := range retired {
		f.retire()
		if err := db.fs.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove replaced rollup file: %w", err))
		}
		dirs[filepath.Dir(f.path)] = true
	}
	for d := range dirs {
		errs = append(errs, db.fs.SyncDir(d))
	}
	if len(works) > 0 {
		db.log.Info("rolled up", "groups", len(works), "rows", rows, "took", time.Since(start).Round(time.Millisecond))
	}
	return errors.Join(errs...)
}

// partitionRows are the rows of one partition of one level, by series key.
type partitionRows map[string]*seriesRows

// buildGroup recomputes one group's dirty buckets and writes the changed
// partitions of every level. It returns the new files by level and
// partition (nil for a partition left empty) and the rows written.
func (db *DB) buildGroup(ctx context.Context, w *rollupWork) ([len(levelNamesForDirs)]map[int64]*rollFile, int, error) {
	var out [len(levelNamesForDirs)]map[int64]*rollFile
	for l := range out {
		out[l] = make(map[int64]*rollFile)
	}
	rowsWritten := 0
	// changed[l] lists the buckets of level l recomputed, sorted.
	changed := w.hours
	for l := model.Level1h; l <= model.Level1y && len(changed) > 0; l++ {
		// Group the changed buckets by partition.
		byPart := make(map[int64][]int64)
		var parts []int64
		for _, b := range changed {
			p := partOf(l, b)
			if _, ok := byPart[p]; !ok {
				parts = append(parts, p)
			}
			byPart[p] = append(byPart[p], b)
		}
		slices.Sort(parts)
		var next []int64
		for _, p := range parts {
			if err := ctx.Err(); err != nil {
				return out, rowsWritten, err
			}
			content := make(partitionRows)
			if f := w.files[l][p]; f != nil {
				old, err := readAllRows(f.r, l)
				if err != nil {
					return out, rowsWritten, fmt.Errorf("read %s: %w", f.path, err)
				}
				content = old
			}
			buckets := byPart[p]
			drop := make(map[int64]bool, len(buckets))
			for _, b := range buckets {
				drop[b] = true
			}
			for _, sr := range content {
				for _, fr := range sr.fields {
					fr.rows = slices.DeleteFunc(fr.rows, func(r rollRow) bool { return drop[r.start] })
				}
			}
			var err error
			if l == model.Level1h {
				err = db.rollRaw(ctx, w, content, buckets)
			} else {
				err = db.rollFiner(w, l, content, buckets, out[l-1])
			}
			if err != nil {
				return out, rowsWritten, err
			}
			nf, n, err := db.writeRollFile(w, l, p, content)
			if err != nil {
				return out, rowsWritten, err
			}
			out[l][p] = nf
			rowsWritten += n
			// The parent bucket (the partition) changed; the next level
			// recomputes it only where this level is complete.
			if l < model.Level1y && p >= w.from[l] {
				next = append(next, p)
			}
		}
		changed = next
	}
	return out, rowsWritten, nil
}

// appendHours appends the starts of the 1h buckets holding [lo, hi].
func appendHours(hours []int64, lo, hi int64) []int64 {
	if lo > hi {
		return hours
	}
	for h := model.Level1h.Floor(lo); h <= hi; {
		hours = append(hours, h)
		if h = model.Level1h.Next(h); h == math.MaxInt64 {
			break
		}
	}
	return hours
}

// rollRaw computes the 1h rows of the listed hours (all in one day) from
// raw data into content.
func (db *DB) rollRaw(ctx context.Context, w *rollupWork, content partitionRows, hours []int64) error {
	lo, hi := hours[0], bucketEnd(model.Level1h, hours[len(hours)-1])
	for _, tags := range w.series {
		cols, err := db.readKept(ctx, w.coll, tags, w.fields, lo, hi)
		if err != nil {
			return err
		}
		key := model.SeriesKey(w.coll, tags)
		for _, col := range cols {
			if col.Len() == 0 {
				continue
			}
			var fr *fieldRows
			for _, h := range hours {
				sub := col.Range(h, bucketEnd(model.Level1h, h))
				if sub.Len() == 0 {
					continue
				}
				if fr == nil {
					fr = content.field(key, tags, col.Name, col.Kind)
				}
				row := rollRow{start: h, s: model.Summarize(&sub)}
				if sub.Kind == model.KindFloat {
					row.dec = decimalSum(sub.Floats)
					row.dec.exact(&row.s)
				}
				fr.rows = append(fr.rows, row)
			}
			if fr != nil {
				sort.Slice(fr.rows, func(i, j int) bool { return fr.rows[i].start < fr.rows[j].start })
			}
		}
	}
	return nil
}

// rollFiner computes the rows of level l for the listed buckets from the
// new files of level l-1, whose partitions are exactly those buckets.
func (db *DB) rollFiner(w *rollupWork, l model.Level, content partitionRows, buckets []int64, finer map[int64]*rollFile) error {
	for _, b := range buckets {
		f := finer[b]
		if f == nil {
			continue // the finer partition is empty now
		}
		src, err := readAllRows(f.r, l.Finer())
		if err != nil {
			return fmt.Errorf("read %s: %w", f.path, err)
		}
		for key, sr := range src {
			for name, fr := range sr.fields {
				if len(fr.rows) == 0 {
					continue
				}
				var s model.Summary
				dec := fr.rows[0].dec
				for i := range fr.rows {
					s.Merge(&fr.rows[i].s)
					if i > 0 {
						dec = dec.plus(fr.rows[i].dec)
					}
				}
				dec.exact(&s)
				dst := content.field(key, sr.tags, name, fr.kind)
				dst.rows = append(dst.rows, rollRow{start: b, s: s, dec: dec})
			}
		}
	}
	// Sorted once, after every bucket is in (old rows and new ones mix).
	for _, sr := range content {
		for _, fr := range sr.fields {
			sort.Slice(fr.rows, func(i, j int) bool { return fr.rows[i].start < fr.rows[j].start })
		}
	}
	return nil
}

func (pr partitionRows) field(key string, tags model.Tags, name string, kind model.Kind) *fieldRows {
	sr := pr[key]
	if sr == nil {
		sr = &seriesRows{tags: tags, fields: make(map[string]*fieldRows)}
		pr[key] = sr
	}
	fr := sr.fields[name]
	if fr == nil {
		fr = &fieldRows{kind: kind}
		sr.fields[name] = fr
	}
	return fr
}

// writeRollFile writes one partition of a level; it returns nil when the
// partition has no rows.
func (db *DB) writeRollFile(w *rollupWork, l model.Level, part int64, content partitionRows) (*rollFile, int, error) {
	var data []colfile.SeriesData
	rows := 0
	for _, sr := range content {
		cols := encodeRows(sr, l)
		if len(cols) == 0 {
			continue
		}
		for _, fr := range sr.fields {
			rows += len(fr.rows)
		}
		data = append(data, colfile.SeriesData{Tags: sr.tags, Columns: cols})
	}
	if len(data) == 0 {
		return nil, 0, nil
	}
	dir := filepath.Join(w.dir, "rollup_"+levelNamesForDirs[l])
	if err := db.mkdirDurable(dir); err != nil {
		return nil, 0, fmt.Errorf("create rollup dir: %w", err)
	}
	seq := db.seq.Add(1)
	path := filepath.Join(dir, fmt.Sprintf("%s-%016d.col", partName(l, part), seq))
	// Rollup rows are read whole: block statistics would only repeat the
	// first and last row of every block.
	if _, err := colfile.WriteWith(path, w.coll, w.group, seq, data, &colfile.WriteOptions{FS: db.fs, BlockSize: db.opts.BlockSize, NoStats: true}); err != nil {
		return nil, 0, fmt.Errorf("write rollup file: %w", err)
	}
	// rollupLocked syncs the directory before it installs the file.
	r, err := colfile.OpenWith(path, db.fs)
	if err != nil {
		return nil, 0, fmt.Errorf("reopen rollup file: %w", err)
	}
	return &rollFile{dataFile: &dataFile{path: path, r: r, meta: r.Meta()}, level: l, part: part}, rows, nil
}
