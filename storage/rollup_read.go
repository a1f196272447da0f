// Reading through the rollup levels: snapshots of a series' rollup files and dirty marks, and answering a range from the coarsest clean level down.

package storage

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/soltixdb/soltix/model"
)

// rollSnap is what a read of one series' rollups uses: the files of its
// group per level overlapping the read (acquired), and the dirty state.
type rollSnap struct {
	key   string
	files [len(levelNamesForDirs)][]*rollFile
	dirty [len(levelNamesForDirs)]dirtySet
	spans []dirtySpan
	from  [len(levelNamesForDirs)]int64 // horizon per level
	// noSketch leaves the rows' quantile sketches out (undecoded).
	noSketch bool
}

func (rs *rollSnap) isDirty(l model.Level, lo, hi int64) bool {
	return anyDirty(&rs.dirty[l], rs.spans, l, lo, hi)
}

// rowDirty reports whether row r of level l (ending at end) may disagree
// with its data: a mark or a rebuild span covers it and finer data holds
// the bucket (else the rollup pass keeps the row: it is all there is), or
// a delete's span covers it that its file predates.
func (rs *rollSnap) rowDirty(l model.Level, r *rollRow, end int64) bool {
	src := rs.sourceable(l, r.start)
	if src && rs.dirty[l].count(l.Floor(r.start), end) > 0 {
		return true
	}
	for i := range rs.spans {
		sp := &rs.spans[i]
		if sp.hi < r.start || sp.lo > end {
			continue
		}
		if sp.keys == nil && src || sp.keys != nil && sp.stale(r.seq) {
			return true
		}
	}
	return false
}

// sourceable reports whether finer data (a finer level, or raw data)
// still holds all of bucket b of level l, as rollupWork.source decides.
func (rs *rollSnap) sourceable(l model.Level, b int64) bool {
	for f := l; f > model.LevelRaw; f-- {
		if b >= rs.from[f-1] {
			return true
		}
	}
	return false
}

// coarseGap reports whether a clean gap [glo, ghi] of level l may hold
// data all the same: a 1M or 1y row elided where the 1d level keeps the
// day its data lies in (rollupWork.elides), which the finer levels
// answer. That takes a 1d file holding the series over the gap. Asking
// the finer levels is exact wherever the 1d level keeps the gap, for
// files written before elision too: a clean bucket's rows agree at every
// level.
func (rs *rollSnap) coarseGap(l model.Level, glo, ghi int64) bool {
	if l < model.Level1M || glo < rs.from[model.Level1d] {
		return false
	}
	for _, f := range rs.files[model.Level1d] {
		if partEnd(model.Level1d, f.part) >= glo && f.part <= ghi {
			if _, ok := f.r.Find(rs.key); ok {
				return true
			}
		}
	}
	return false
}

func (rs *rollSnap) release() {
	for _, fs := range rs.files {
		for _, f := range fs {
			f.release()
		}
	}
}

// takeRollSnap snapshots the rollups of one series for levels up to top
// over [lo, hi]; ok is false when the collection has rollups off.
func (db *DB) takeRollSnap(collection string, tags model.Tags, top model.Level, lo, hi int64) (*rollSnap, bool) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	c := db.lookup(collection)
	if c == nil || c.settings.NoRollups {
		return nil, false
	}
	key := model.SeriesKey(collection, tags)
	rs := &rollSnap{key: key}
	for l := model.LevelRaw; l <= top; l++ {
		rs.from[l] = db.horizon(c, l)
		if l == model.LevelRaw {
			rs.from[l] = db.rawComplete(c)
		}
	}
	s := c.series[key]
	if s == nil {
		return rs, true
	}
	rs.from[model.LevelRaw] = db.rawCompleteIn(c, s.group)
	g := db.groups[s.group].rollups[c]
	if g == nil {
		return rs, true
	}
	// A delete's span leaves the rows of the series it did not delete
	// from clean: where finer data has expired they are all there is.
	for _, sp := range g.spans {
		if _, ok := sp.keys[key]; ok || sp.keys == nil {
			rs.spans = append(rs.spans, sp)
		}
	}
	for l := model.Level1h; l <= top; l++ {
		d := &g.dirty[l]
		i, _ := slices.BinarySearch(d.keys, l.Floor(lo))
		j := i
		for j < len(d.keys) && d.keys[j] <= hi {
			j++
		}
		rs.dirty[l] = dirtySet{keys: slices.Clone(d.keys[i:j]), gens: slices.Clone(d.gens[i:j])}
		for _, f := range g.files[l] {
			if partEnd(l, f.part) >= lo && f.part <= hi {
				f.acquire()
				rs.files[l] = append(rs.files[l], f)
			}
		}
	}
	return rs, true
}

// rows returns the rows of field at level l with bucket starts in
// [Floor(lo), hi], sorted.
func (rs *rollSnap) rows(ctx context.Context, l model.Level, field string, lo, hi int64) ([]rollRow, error) {
	type src struct {
		f      *rollFile
		si, ci int
		kind   model.Kind
	}
	var srcs []src
	n := 0 // at most this many rows, from the blocks in the range
	for _, f := range rs.files[l] {
		if partEnd(l, f.part) < lo || f.part > hi {
			continue
		}
		si, ok := f.r.Find(rs.key)
		if !ok {
			continue
		}
		ci, kind, ok := rollupColumnOf(f.r, si, field)
		if !ok {
			continue
		}
		for _, b := range f.r.SeriesAt(si).Columns[ci].Blocks {
			if b.MaxTime >= l.Floor(lo) && b.MinTime <= hi {
				n += b.Count
			}
		}
		srcs = append(srcs, src{f, si, ci, kind})
	}
	out := make([]rollRow, 0, n)
	for _, sc := range srcs {
		from := len(out)
		var err error
		if out, err = appendColumnRows(ctx, out, sc.f.r, l, sc.si, sc.ci, sc.kind, l.Floor(lo), hi, !rs.noSketch); err != nil {
			return nil, fmt.Errorf("read %s: %w", sc.f.name(), err)
		}
		for i := from; i < len(out); i++ {
			out[i].seq = sc.f.meta.Seq
		}
	}
	if !slices.IsSortedFunc(out, func(a, b rollRow) int { return cmp.Compare(a.start, b.start) }) {
		sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	}
	return out, nil
}

// readLevels answers ReadParts at level l and below.
func (db *DB) readLevels(ctx context.Context, rs *rollSnap, collection string, tags model.Tags, field string, lo, hi int64, whole func(lo, hi int64) bool, l model.Level) ([]model.Part, error) {
	if lo > hi {
		return nil, nil
	}
	if l == model.LevelRaw {
		return db.readRawParts(ctx, collection, tags, field, lo, hi, whole)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rows, err := rs.rows(ctx, l, field, lo, hi)
	if err != nil {
		return nil, err
	}
	parts := make([]model.Part, 0, len(rows))
	cursor := lo
	gapRows := false // the gap before cursor holds rows that cannot be used
	done := false
	gap := func(glo, ghi int64) error {
		if glo > ghi {
			return nil
		}
		// A clean gap without rows holds no data, where the level is
		// kept at all.
		if !gapRows && glo >= rs.from[l] && !rs.isDirty(l, glo, ghi) && !rs.coarseGap(l, glo, ghi) {
			return nil
		}
		sub, err := db.readLevels(ctx, rs, collection, tags, field, glo, ghi, whole, l.Finer())
		parts = append(parts, sub...)
		return err
	}
	for i := range rows {
		r := &rows[i]
		end := bucketEnd(l, r.start)
		if r.start < lo || end > hi || r.s.Count == 0 || !whole(r.s.MinTime, r.s.MaxTime) || rs.rowDirty(l, r, end) {
			gapRows = true
			continue
		}
		if r.start > cursor { // r.start-1 would wrap for a row at math.MinInt64
			if err := gap(cursor, r.start-1); err != nil {
				return nil, err
			}
		}
		parts = append(parts, model.Part{Summary: &r.s, Level: l})
		gapRows = false
		if end == math.MaxInt64 {
			done = true
			break
		}
		cursor = end + 1
	}
	if !done {
		if err := gap(cursor, hi); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

// explainLevel fills the rollup part of a ReadPlan. The caller holds mu.
func (db *DB) explainLevel(c *collection, series []model.Tags, min, max int64, l model.Level, plan *model.ReadPlan) {
	plan.Files, plan.ColdFiles = 0, 0
	groups := make(map[int][]string)
	for _, tags := range series {
		key := model.SeriesKey(c.name, tags)
		if s := c.series[key]; s != nil {
			groups[s.group] = append(groups[s.group], key)
		}
	}
	for gi, keys := range groups {
		g := db.groups[gi].rollups[c]
		if g == nil {
			continue
		}
		plan.Dirty += g.dirty[l].count(l.Floor(min), max)
		for _, sp := range g.spans {
			if sp.hi >= min && sp.lo <= max {
				plan.Dirty++
			}
		}
		for _, f := range g.files[l] {
			if partEnd(l, f.part) < min || f.part > max {
				continue
			}
			plan.Files++
			if f.cold != nil {
				plan.ColdFiles++
			}
			for _, key := range keys {
				si, ok := f.r.Find(key)
				if !ok {
					continue
				}
				for ci, col := range f.r.SeriesAt(si).Columns {
					// Whole blocks inside the range count from the
					// index; a block on an edge is read to count its
					// rows exactly.
					for b, bi := range col.Blocks {
						switch {
						case bi.MaxTime < l.Floor(min) || bi.MinTime > max:
						case bi.MinTime >= l.Floor(min) && bi.MaxTime <= max:
							plan.Rows += bi.Count
						default:
							if c, err := f.r.ReadBlock(si, ci, b); err == nil {
								in := c.Range(l.Floor(min), max)
								plan.Rows += in.Len()
							}
						}
					}
				}
			}
		}
	}
}
