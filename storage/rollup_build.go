package storage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/soltixdb/soltix/internal/sketch"
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
	// marked[l] lists the buckets of level l marked dirty (sorted; for 1h
	// also every hour a span covers).
	marked [len(levelNamesForDirs)][]int64
	spans  []dirtySpan // the spans the pass handles
	files  [len(levelNamesForDirs)]map[int64]*rollFile
	from   [len(levelNamesForDirs)]int64
	// days holds, per series key, field and day, the quantile sketch of
	// the day's raw values, computed while the 1h rows of the day are
	// built, for the 1d row (daySketch).
	days map[daySketchKey]*sketch.Sketch
	// elide leaves out the 1M and 1y rows whose data lies in one day
	// (elision, below).
	elide bool
	// now is the clock when the work was taken, which tells the days
	// still being written (rollup_owed.go); open collects those whose 1h
	// rows the pass built without reading them whole (so their 1d rows
	// have no sketch), settled the closed days owed a sketch the pass
	// reads whole.
	now           time.Time
	open, settled []int64
}

type daySketchKey struct {
	key, field string
	day        int64
}

// rollupLocked recomputes every bucket marked dirty at generation cutoff or
// earlier, in every level, and installs the new files. The caller holds
// flushMu, and the data those marks stand for is in files (or memory).
//
// A bucket is recomputed from the finest data still kept under it: the
// next finer level whose retention still holds the whole bucket, or raw
// data. A bucket no finer data holds any more keeps its rows, except those
// of the series a delete over it removed data of: those rows are dropped,
// since a summary cannot subtract points it no longer has. Every marked
// bucket is handled one way or the other, so every mark up to cutoff is
// cleared.
func (db *DB) rollupLocked(ctx context.Context, cutoff uint64) error {
	start := time.Now()
	var works []*rollupWork
	db.mu.RLock()
	for _, c := range db.colls {
		if c.settings.NoRollups {
			continue
		}
		for gi, g := range db.collRollups(c) {
			if w := db.groupRollupWork(c, gi, g, cutoff); w != nil {
				works = append(works, w)
			}
		}
	}
	db.mu.RUnlock()
	if len(works) > 0 {
		// An older version would read elided buckets as empty.
		if err := db.requireElideFormat(); err != nil {
			return err
		}
	}

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
		g := db.groups[b.w.group].rollupsOf(c)
		for l := model.Level1h; l <= model.Level1y; l++ {
			for part, nf := range b.files[l] {
				i := slices.IndexFunc(g.files[l], func(f *rollFile) bool { return f.part == part })
				if i >= 0 {
					retired = append(retired, g.files[l][i])
					g.files[l] = slices.Delete(g.files[l], i, i+1)
				}
				if nf != nil {
					g.files[l] = append(g.files[l], nf)
					db.groups[b.w.group].noteSeq(nf.meta.Seq)
				}
			}
			sort.Slice(g.files[l], func(i, j int) bool { return g.files[l][i].part < g.files[l][j].part })
		}
	}
	// Every mark up to cutoff has been handled, in groups with work and
	// without.
	for _, c := range db.colls {
		for _, g := range db.collRollups(c) {
			for l := model.Level1h; l <= model.Level1y; l++ {
				g.dirty[l].clear(cutoff)
			}
			g.spans = slices.DeleteFunc(g.spans, func(sp dirtySpan) bool { return sp.gen <= cutoff })
		}
	}
	db.notePendingRollups(start)
	db.mu.Unlock()
	errs := []error{db.settleOwed(works), db.clearPendingRollups(cutoff), db.discard(rollData(retired), false, "remove replaced rollup file")}
	if len(works) > 0 {
		db.log.Info("rolled up", "groups", len(works), "rows", rows, "took", time.Since(start).Round(time.Millisecond))
	}
	return errors.Join(errs...)
}

// groupRollupWork takes group gi's share of a rollup pass up to cutoff for
// collection c: its marked buckets and spans, the horizons, the series,
// fields and files it needs; nil when the group has nothing marked. The
// caller holds mu.
func (db *DB) groupRollupWork(c *collection, gi int, g *groupRollups, cutoff uint64) *rollupWork {
	name := c.name
	w := &rollupWork{coll: name, group: gi,
		dir: filepath.Join(db.collDir(name), fmt.Sprintf("group_%04d", gi)), now: db.now()}
	marked := false
	for l := model.Level1h; l <= model.Level1y; l++ {
		w.marked[l] = g.dirty[l].upTo(cutoff)
		marked = marked || len(w.marked[l]) > 0
	}
	if buildSketches {
		// A closed day owed its sketch: its first hour, which makes the
		// pass read the day whole (rollRaw).
		w.settled = db.owedClosed(c, gi, w.now)
		w.marked[model.Level1h] = append(w.marked[model.Level1h], w.settled...)
		marked = marked || len(w.settled) > 0
	}
	for _, sp := range g.spans {
		if sp.gen <= cutoff {
			w.spans = append(w.spans, sp)
		}
	}
	if !marked && len(w.spans) == 0 {
		return nil
	}
	for l := range w.from {
		w.from[l] = db.horizon(c, model.Level(l))
		if l == int(model.LevelRaw) {
			w.from[l] = db.rawCompleteIn(c, gi)
		}
	}
	// held lists the time ranges that hold data: raw files (one
	// partition each) and 1h rollup files (one day each).
	var held [][2]int64
	for _, s := range db.groups[gi].series[c] {
		w.series = append(w.series, s.tags)
		for _, fs := range s.files {
			held = append(held, [2]int64{fs.f.meta.MinTime, fs.f.meta.MaxTime})
		}
	}
	for l := model.Level1h; l <= model.Level1y; l++ {
		w.files[l] = make(map[int64]*rollFile)
		for _, f := range g.files[l] {
			w.files[l][f.part] = f
			switch {
			case l == model.Level1h:
				held = append(held, [2]int64{f.part, partEnd(l, f.part)})
			case f.meta.Points > 0:
				// Buckets only this level may hold any more (the
				// finer ones expired): a span reaches them here.
				for _, sp := range w.spans {
					w.marked[l] = appendBuckets(w.marked[l], l, max(sp.lo, f.meta.MinTime), min(sp.hi, f.meta.MaxTime))
				}
			}
		}
	}
	slices.SortFunc(held, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0])*2 + cmp.Compare(a[1], b[1]) })
	held = slices.Compact(held)
	// A span covers the hours of the data it can touch: only those
	// inside a range that holds data, so that a span over the whole
	// int64 range costs the hours of its data, not 5 million.
	hours := w.marked[model.Level1h]
	for _, sp := range w.spans {
		for _, r := range held {
			hours = appendBuckets(hours, model.Level1h, max(sp.lo, r[0]), min(sp.hi, r[1]))
		}
	}
	slices.Sort(hours)
	w.marked[model.Level1h] = slices.Compact(hours)
	w.elide = w.from[model.Level1d] == math.MinInt64 && !db.noElide[name]
	for f := range c.fields {
		w.fields = append(w.fields, f)
	}
	sort.Strings(w.fields)
	return w
}

// partitionRows are the rows of one partition of one level, by series key.
type partitionRows map[string]*seriesRows

// buildGroup recomputes one group's dirty buckets and writes the changed
// partitions of every level. It returns the new files by level and
// partition (nil for a partition left empty, or expired at its level) and
// the rows written.
func (db *DB) buildGroup(ctx context.Context, w *rollupWork) ([len(levelNamesForDirs)]map[int64]*rollFile, int, error) {
	// The day sketches serve this group's 1d rows only: the pass keeps
	// every group's work until it installs the files, so they go now.
	defer func() { w.days = nil }()
	var out [len(levelNamesForDirs)]map[int64]*rollFile
	for l := range out {
		out[l] = make(map[int64]*rollFile)
	}
	src := &rowSource{w: w, out: &out}
	rowsWritten := 0
	var changed []int64 // the buckets of the level below, handled
	for l := model.Level1h; l <= model.Level1y; l++ {
		// This level's marks, and the parents of every bucket handled
		// below: their data changed whether or not that level keeps it.
		buckets := slices.Clone(w.marked[l])
		for _, b := range changed {
			buckets = append(buckets, l.Floor(b))
		}
		slices.Sort(buckets)
		buckets = slices.Compact(buckets)
		changed = buckets
		byPart := make(map[int64][]int64)
		var parts []int64
		for _, b := range buckets {
			p := partOf(l, b)
			if _, ok := byPart[p]; !ok {
				parts = append(parts, p)
			}
			byPart[p] = append(byPart[p], b)
		}
		for _, p := range parts {
			if err := ctx.Err(); err != nil {
				return out, rowsWritten, err
			}
			if partEnd(l, p) < w.from[l] {
				// Expired at this level: coarser levels take the data
				// from finer ones; the file, if retention has not
				// dropped it yet, goes now rather than stay stale.
				if w.files[l][p] != nil {
					out[l][p] = nil
				}
				continue
			}
			content := make(partitionRows)
			if f := w.files[l][p]; f != nil {
				old, err := readAllRows(f.r, l)
				if err != nil {
					return out, rowsWritten, fmt.Errorf("read %s: %w", f.name(), err)
				}
				content = old
			}
			var fromRaw []int64
			for _, b := range byPart[p] {
				end := bucketEnd(l, b)
				f, ok := w.source(l, b)
				if !ok {
					// No finer data is left: drop the rows of the series
					// a delete over this bucket removed data of.
					var fileSeq uint64
					if f := w.files[l][p]; f != nil {
						fileSeq = f.meta.Seq
					}
					for _, sp := range w.spans {
						if sp.keys != nil && sp.lo <= end && sp.hi >= b && sp.stale(fileSeq) {
							content.drop(b, func(key string) bool { _, ok := sp.keys[key]; return ok })
						}
					}
					continue
				}
				content.drop(b, func(string) bool { return true })
				if f == model.LevelRaw {
					fromRaw = append(fromRaw, b)
				} else if err := src.merge(content, l, b, f); err != nil {
					return out, rowsWritten, err
				}
			}
			if len(fromRaw) > 0 {
				if err := db.rollRaw(ctx, w, l, content, fromRaw); err != nil {
					return out, rowsWritten, err
				}
			}
			content.sortRows()
			nf, n, err := db.writeRollFile(w, l, p, content)
			if err != nil {
				return out, rowsWritten, err
			}
			out[l][p] = nf
			rowsWritten += n
		}
	}
	return out, rowsWritten, nil
}

// appendBuckets appends the starts of the buckets of level l holding
// [lo, hi].
func appendBuckets(buckets []int64, l model.Level, lo, hi int64) []int64 {
	if lo > hi {
		return buckets
	}
	for b := l.Floor(lo); b <= hi; {
		buckets = append(buckets, b)
		if b = l.Next(b); b == math.MaxInt64 {
			break
		}
	}
	return buckets
}

// source returns the level a bucket b of level l is recomputed from: the
// coarsest finer level whose retention still holds all of b (every finer
// level that holds it agrees), or raw data; ok is false when none does.
func (w *rollupWork) source(l model.Level, b int64) (model.Level, bool) {
	if l == model.Level1y && w.from[model.Level1d] == math.MinInt64 {
		// The 1M rows may be elided: the 1d level holds them all.
		return model.Level1d, true
	}
	for f := l - 1; f >= model.Level1h; f-- {
		if b >= w.from[f] {
			return f, true
		}
	}
	return model.LevelRaw, b >= w.from[model.LevelRaw]
}

// drop removes the rows of bucket b of the series keep selects.
func (pr partitionRows) drop(b int64, sel func(key string) bool) {
	for key, sr := range pr {
		if !sel(key) {
			continue
		}
		for _, fr := range sr.fields {
			fr.rows = slices.DeleteFunc(fr.rows, func(r rollRow) bool { return r.start == b })
		}
	}
}

// sortRows sorts every field's rows by bucket start.
func (pr partitionRows) sortRows() {
	for _, sr := range pr {
		for _, fr := range sr.fields {
			sort.Slice(fr.rows, func(i, j int) bool { return fr.rows[i].start < fr.rows[j].start })
		}
	}
}

// rollRaw computes the rows of level l of the listed buckets (all in one
// partition) from raw data into content: 1h buckets with one read of
// their day, coarser ones with one read each.
func (db *DB) rollRaw(ctx context.Context, w *rollupWork, l model.Level, content partitionRows, buckets []int64) error {
	reads := [][]int64{buckets}
	if l > model.Level1h {
		reads = reads[:0]
		for _, b := range buckets {
			reads = append(reads, []int64{b})
		}
	}
	for _, bs := range reads {
		lo, hi := bs[0], bucketEnd(l, bs[len(bs)-1])
		day := model.Level1d.Floor(lo)
		sketchDay := l == model.Level1h && buildSketches
		if sketchDay && dayOpen(day, w.now) {
			// Still being written: the sketch waits for it to close.
			sketchDay = false
			w.open = append(w.open, day)
		}
		if sketchDay {
			// The whole day (the 1h partition), for the 1d row's sketch.
			lo, hi = day, bucketEnd(model.Level1d, day)
		}
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
				db.yieldToWrites()
				if sketchDay {
					if sk := model.SketchOf(&col); sk != nil {
						if w.days == nil {
							w.days = make(map[daySketchKey]*sketch.Sketch)
						}
						w.days[daySketchKey{key, col.Name, day}] = sk
					}
				}
				var fr *fieldRows
				for _, b := range bs {
					sub := col.Range(b, bucketEnd(l, b))
					if sub.Len() == 0 {
						continue
					}
					if fr == nil {
						fr = content.field(key, tags, col.Name, col.Kind)
					}
					row := rollRow{start: b, s: model.Summarize(&sub)}
					if buildSketches && l > model.Level1h {
						row.s.Sketch = model.SketchOf(&sub)
					}
					switch sub.Kind {
					case model.KindFloat:
						row.dec = decimalSum(sub.Floats)
						row.dec.exact(&row.s)
					case model.KindInt:
						row.dec = intSum(sub.Ints)
						row.dec.exactM2(&row.s)
					case model.KindUint:
						row.dec = uintSum(sub.Uints)
						row.dec.exactM2(&row.s)
					}
					fr.rows = append(fr.rows, row)
				}
			}
		}
	}
	return nil
}

// Elision. A 1M or 1y row whose data lies in one day is the 1d row of
// that day (the same values: the same summary, and its sketch merged from
// that one row's), so it is not stored while the 1d level keeps every
// day (its retention forever): a one-day data set, or a series written
// once a month or a year, stores one row instead of three. A read answers
// a clean 1M or 1y bucket without a row from the finer level
// (rollSnap.coarseGap), and a late write into another day of the bucket
// marks it dirty, so the next pass stores its row again. The 1y rows are
// then built from the 1d rows, since the 1M rows of some months may be
// missing. Before the 1d level stops keeping every day (a retention
// set), the collection's 1M and 1y rows are rebuilt whole
// (restoreElided).
func (w *rollupWork) elides(l model.Level, s *model.Summary) bool {
	return w.elide && l >= model.Level1M && s.Count > 0 &&
		model.Level1d.Floor(s.MinTime) == model.Level1d.Floor(s.MaxTime)
}

// buildSketches is whether 1d rows get the quantile sketch of their
// values (and so coarser rows too). Always true but in
// TestRollupSketchDiskBytes, which measures what sketches cost on disk.
//
// 1h rows carry no sketch: an hour of readings spends about as many bytes
// on its sketch as a day does (the bins of the values' spread), so 1h
// sketches would cost 24 times the bytes of 1d ones. The 1d sketch is
// built from the day's raw values, which the pass reads whole while it
// builds the day's 1h rows (so a late write into one hour reads its whole
// day, not the hour), and 1M and 1y sketches merge the finer ones.
var buildSketches = true

// daySketch returns the sketch of the raw values of field of series key
// over day that this pass computed, when it counts n values (those of the
// day's 1h rows), else nil.
func (w *rollupWork) daySketch(key, field string, day int64, n int) *sketch.Sketch {
	sk := w.days[daySketchKey{key, field, day}]
	if sk == nil || sk.Count() != uint64(n) {
		return nil
	}
	return sk
}

// rowSource reads the rows of finer levels for a rollup pass: a level's
// new file where the pass rebuilt its partition, else its current one.
type rowSource struct {
	w   *rollupWork
	out *[len(levelNamesForDirs)]map[int64]*rollFile
}

// merge computes the rows of bucket b of level l from the rows of the
// finer level f inside it, into content.
func (rs *rowSource) merge(content partitionRows, l model.Level, b int64, f model.Level) error {
	end := bucketEnd(l, b)
	type acc struct {
		s   model.Summary
		dec decSum
		n   int
	}
	sums := make(map[string]map[string]*acc)
	tags := make(map[string]model.Tags)
	kinds := make(map[string]map[string]model.Kind)
	for p := partOf(f, b); p <= end; {
		file, rebuilt := rs.out[f][p]
		if !rebuilt {
			file = rs.w.files[f][p]
		}
		if file != nil {
			rows, err := readAllRows(file.r, f)
			if err != nil {
				return fmt.Errorf("read %s: %w", file.name(), err)
			}
			for key, sr := range rows {
				for name, fr := range sr.fields {
					for i := range fr.rows {
						r := &fr.rows[i]
						if r.start < b || r.start > end {
							continue
						}
						if sums[key] == nil {
							sums[key] = make(map[string]*acc)
							kinds[key] = make(map[string]model.Kind)
							tags[key] = sr.tags
						}
						a := sums[key][name]
						if a == nil {
							a = &acc{dec: r.dec}
							sums[key][name] = a
							kinds[key][name] = fr.kind
						} else {
							a.dec = a.dec.plus(r.dec)
						}
						a.s.Merge(&r.s)
						a.n++
					}
				}
			}
		}
		next := partEnd(f, p)
		if next == math.MaxInt64 {
			break
		}
		p = next + 1
	}
	for key, m := range sums {
		for name, a := range m {
			if rs.w.elides(l, &a.s) {
				continue
			}
			if kinds[key][name] == model.KindFloat {
				a.dec.exact(&a.s)
			} else {
				a.dec.exactM2(&a.s)
			}
			if a.s.Sketch == nil && l == model.Level1d {
				a.s.Sketch = rs.w.daySketch(key, name, b, a.s.Count)
			}
			dst := content.field(key, tags[key], name, kinds[key][name])
			dst.rows = append(dst.rows, rollRow{start: b, s: a.s, dec: a.dec})
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
	// first and last row of every block. The strings' fields scheme
	// (colfile.WriteOptions.StringFields) would store TSBS cpu-only's 1h
	// rows in 22% fewer bytes, but decoding them through it cost the
	// queries that read many 1h columns about 10% more CPU, and still 2–9%
	// with a decoder that allocates once per block (docs/benchmarks-scale.md,
	// "fields scheme on rollup files"): its integer column per field of the
	// rows (about ten, of 24 values each) costs more to decode than a plain
	// block's one copy, so it stays off until a read decodes only the
	// fields it needs. The strings' prefix scheme (tag 0x53, which every
	// string block tries) gets nearly as much (the rows' shared head,
	// count and time offsets stored once: 1h files −21%) and decodes as
	// fast as the plain scheme.
	if _, err := colfile.WriteWith(path, w.coll, w.group, seq, data, &colfile.WriteOptions{FS: db.fs, BlockSize: db.opts.BlockSize, NoStats: true, Yield: db.yieldToWrites}); err != nil {
		return nil, 0, fmt.Errorf("write rollup file: %w", err)
	}
	// rollupLocked syncs the directory before it installs the file.
	r, err := colfile.OpenWith(path, db.fs)
	if err != nil {
		return nil, 0, fmt.Errorf("reopen rollup file: %w", err)
	}
	return &rollFile{dataFile: &dataFile{path: path, r: r, meta: r.Meta()}, level: l, part: part}, rows, nil
}
