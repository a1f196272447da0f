package storage

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/soltixdb/soltix/model"
)

// ReadLimit implements planner.LimitSource: Read restricted to the n rows
// (times at which any of the fields has a value) with the smallest times
// in [min, max], or with desc the largest.
//
// Each field is read on its own from the newest blocks (desc) or the oldest
// ones first, across every file of the series, and stops once the values
// it has decoded and memory settle its n rows: with desc, once n merged
// values lie above the newest time a block not yet decoded may hold (any
// value there is then final, whatever an older source says), and
// symmetrically otherwise. ORDER BY time DESC LIMIT 1 over files therefore
// decodes one block per column. ctx is checked before each block. Like
// Read, it fails with a *QuarantineError when data it needs is in a
// quarantined file.
func (db *DB) ReadLimit(ctx context.Context, collection string, tags model.Tags, fields []string, min, max int64, n int, desc bool) ([]model.Column, error) {
	if n < 1 {
		return nil, fmt.Errorf("storage: ReadLimit of %d rows", n)
	}
	if err := db.quarantineErr(collection, min, max); err != nil {
		return nil, err
	}
	srcs, err := db.snapshot(collection, tags, fields, min, max)
	if err != nil {
		return nil, err
	}
	defer release(srcs)
	out := make([]model.Column, len(fields))
	for i := range srcs {
		if out[i], err = db.limitField(ctx, &srcs[i], min, max, n, desc); err != nil {
			return nil, err
		}
	}
	if len(out) < 2 {
		return out, nil
	}
	// Each field holds its own n rows; the n rows of the series are among
	// their times: keep those up to the n-th distinct one.
	bound, ok := nthTime(out, n, desc)
	if !ok {
		return out, nil
	}
	for i := range out {
		if desc {
			out[i] = out[i].Range(bound, max)
		} else {
			out[i] = out[i].Range(min, bound)
		}
	}
	return out, nil
}

// nthTime returns the n-th distinct time of the union of the columns'
// (sorted) times, counted from the smallest or with desc from the largest,
// and false when the union holds at most n times. It walks the columns
// together from that end, so it costs O(n) per column.
func nthTime(cols []model.Column, n int, desc bool) (int64, bool) {
	total := 0
	for i := range cols {
		total += cols[i].Len()
	}
	if total <= n {
		return 0, false
	}
	if sameTimes(cols) {
		// Every field has a value at every row (the usual case): the
		// union is one column's times.
		ts := cols[0].Times
		if len(ts) <= n {
			return 0, false
		}
		if desc {
			return ts[len(ts)-n], true
		}
		return ts[n-1], true
	}
	pos := make([]int, len(cols)) // values taken from each column's end
	for seen := 0; ; {
		var t int64
		found := false
		for i := range cols {
			c := &cols[i]
			if pos[i] == c.Len() {
				continue
			}
			ct := c.Times[pos[i]]
			if desc {
				ct = c.Times[c.Len()-1-pos[i]]
			}
			if !found || (desc && ct > t) || (!desc && ct < t) {
				t, found = ct, true
			}
		}
		if !found {
			return 0, false
		}
		for i := range cols {
			c := &cols[i]
			if pos[i] == c.Len() {
				continue
			}
			ct := c.Times[pos[i]]
			if desc {
				ct = c.Times[c.Len()-1-pos[i]]
			}
			if ct == t {
				pos[i]++
			}
		}
		if seen++; seen == n {
			return t, true
		}
	}
}

// sameTimes reports whether the columns hold the same times.
func sameTimes(cols []model.Column) bool {
	for i := 1; i < len(cols); i++ {
		if !slices.Equal(cols[i].Times, cols[0].Times) {
			return false
		}
	}
	return true
}

// limitField returns the values of one field at its n smallest times in
// [min, max], or with desc its n largest (see ReadLimit).
//
// When the blocks overlapping [min, max] and memory hold at most n values
// together, all of them are the answer: they are read as Read reads them,
// each file column's blocks decoded into one column sized from the index,
// instead of block by block (the chunks of a scan usually cover what is
// left of a series).
func (db *DB) limitField(ctx context.Context, fs *fieldSources, min, max int64, n int, desc bool) (model.Column, error) {
	if fs.atMost(min, max, n) {
		return db.merge(ctx, fs, fs.memColumns(), min, max, nil)
	}
	mem := make([]model.Column, len(fs.mem))
	for i := range fs.mem {
		mem[i] = fs.mem[i].limit(min, max, n, desc)
	}
	// The blocks of each file column that overlap [min, max] are
	// [next[k], end[k]) for ascending reads and walked down from end[k]-1
	// for descending ones; within a file column they are in time order
	// and do not overlap.
	next := make([]int, len(fs.files))
	end := make([]int, len(fs.files))
	for k := range fs.files {
		bs := fs.files[k].info.Blocks
		next[k] = sort.Search(len(bs), func(b int) bool { return bs[b].MaxTime >= min })
		end[k] = sort.Search(len(bs), func(b int) bool { return bs[b].MinTime > max })
	}
	// pick returns the file column whose next block comes first in the
	// read's direction, or -1 when none is left.
	pick := func() int {
		best := -1
		for k := range fs.files {
			if next[k] >= end[k] {
				continue
			}
			bs := fs.files[k].info.Blocks
			if best < 0 {
				best = k
				continue
			}
			bb := fs.files[best].info.Blocks
			if desc && bs[end[k]-1].MaxTime > bb[end[best]-1].MaxTime ||
				!desc && bs[next[k]].MinTime < bb[next[best]].MinTime {
				best = k
			}
		}
		return best
	}
	decoded := make([][]model.Column, len(fs.files)) // per file column, its decoded blocks
	// total counts the values decoded and in memory; the answer is looked
	// for only once it reaches check, which doubles after each miss, so
	// that the work of looking stays linear in what is decoded.
	total, check := 0, n
	for i := range mem {
		total += mem[i].Len()
	}
	for {
		// Every value beyond the next block's bound is known: no block
		// left holds one.
		k := pick()
		lo, hi, known := min, max, true
		switch {
		case k < 0:
		case desc:
			bt := fs.files[k].info.Blocks[end[k]-1].MaxTime
			lo, known = bt+1, bt < max
		default:
			bt := fs.files[k].info.Blocks[next[k]].MinTime
			hi, known = bt-1, bt > min
		}
		look := k < 0
		if !look && known && total >= check {
			look, check = true, 2*total
		}
		if look && (k < 0 || countIn(decoded, mem, lo, hi) >= n) {
			merged := mergeDecoded(fs, decoded, mem, lo, hi)
			if k < 0 || merged.Len() >= n {
				if merged.Len() > n {
					if desc {
						merged = merged.Slice(merged.Len()-n, merged.Len())
					} else {
						merged = merged.Slice(0, n)
					}
				}
				return merged, nil
			}
		}
		if err := ctx.Err(); err != nil {
			return model.Column{}, err
		}
		b := next[k]
		if desc {
			end[k]--
			b = end[k]
		} else {
			next[k]++
		}
		fc := &fs.files[k]
		col, err := fc.f.r.ReadBlockContext(ctx, fc.si, fc.col, b)
		if err != nil {
			return model.Column{}, fmt.Errorf("read %s: %w", fc.f.name(), err)
		}
		col = col.Range(min, max)
		for _, t := range fc.tombs {
			col = cut(col, t.min, t.max)
		}
		decoded[k] = append(decoded[k], col)
		total += col.Len()
	}
}

// atMost reports whether the field's blocks that overlap [min, max] and
// its memory columns hold at most n values together (an upper bound on its
// values in [min, max], from the index's block counts).
func (fs *fieldSources) atMost(min, max int64, n int) bool {
	total := 0
	for i := range fs.mem {
		if total += fs.mem[i].n; total > n {
			return false
		}
	}
	for k := range fs.files {
		bs := fs.files[k].info.Blocks
		lo := sort.Search(len(bs), func(b int) bool { return bs[b].MaxTime >= min })
		for b := lo; b < len(bs) && bs[b].MinTime <= max; b++ {
			if total += bs[b].Count; total > n {
				return false
			}
		}
	}
	return true
}

// countIn counts the values with times in [lo, hi] in the decoded blocks
// and memory columns, repeats included.
func countIn(decoded [][]model.Column, mem []model.Column, lo, hi int64) int {
	n := 0
	count := func(c *model.Column) {
		i, _ := slices.BinarySearch(c.Times, lo)
		j, found := slices.BinarySearch(c.Times, hi)
		if found {
			j++
		}
		n += max(j-i, 0)
	}
	for _, cs := range decoded {
		for i := range cs {
			count(&cs[i])
		}
	}
	for i := range mem {
		count(&mem[i])
	}
	return n
}

// mergeDecoded merges the values in [lo, hi] of the decoded blocks (each
// file column's in time order) and memory, the newer source winning a tie
// as in merge.
func mergeDecoded(fs *fieldSources, decoded [][]model.Column, mem []model.Column, lo, hi int64) model.Column {
	cols := make([]model.Column, 0, len(decoded)+len(mem))
	for _, cs := range decoded {
		cs = slices.Clone(cs)
		slices.SortFunc(cs, func(a, b model.Column) int {
			return cmpFirst(&a, &b)
		})
		col := model.Column{Name: fs.name, Kind: fs.kind}
		for i := range cs {
			r := cs[i].Range(lo, hi)
			appendColumn(&col, r, 0, r.Len())
		}
		cols = append(cols, col)
	}
	for i := range mem {
		cols = append(cols, mem[i].Range(lo, hi))
	}
	return mergeColumns(fs.name, fs.kind, cols)
}

// cmpFirst orders columns by their first time, empty ones first.
func cmpFirst(a, b *model.Column) int {
	switch {
	case a.Len() == 0 && b.Len() == 0:
		return 0
	case a.Len() == 0:
		return -1
	case b.Len() == 0:
		return 1
	case a.Times[0] < b.Times[0]:
		return -1
	case a.Times[0] > b.Times[0]:
		return 1
	}
	return 0
}

// limit returns the memory column's values in [min, max], sorted and
// deduplicated, keeping only the n smallest times or with desc the n
// largest: no other value of it can be among the n rows of a read. A column
// appended in time order copies only the chunks it needs.
func (m *memColumn) limit(min, max int64, n int, desc bool) model.Column {
	if !m.ordered {
		c := m.sorted()
		c = c.Range(min, max)
		if c.Len() > n {
			if desc {
				return c.Slice(c.Len()-n, c.Len())
			}
			return c.Slice(0, n)
		}
		return c
	}
	// Chunks hold increasing times: take ranges of them from the end (or
	// the start) until n values are found.
	var parts []model.Column
	got := 0
	chunks := m.numChunks()
	for i := range chunks {
		k := i
		if desc {
			k = chunks - 1 - i
		}
		c := m.chunk(k)
		if c.Len() == 0 || c.Times[c.Len()-1] < min || c.Times[0] > max {
			continue
		}
		r := c.Range(min, max)
		parts = append(parts, r)
		if got += r.Len(); got >= n {
			break
		}
	}
	if desc {
		slices.Reverse(parts)
	}
	out := model.Column{Name: m.name, Kind: m.kind}
	for _, p := range parts {
		appendColumn(&out, p, 0, p.Len())
	}
	if out.Len() > n {
		if desc {
			return out.Slice(out.Len()-n, out.Len())
		}
		return out.Slice(0, n)
	}
	return out
}
