package colfile

// The index parser: decoding and validating a colfile's index when a
// Reader opens it (docs/format.md, "Index").

import (
	"errors"
	"fmt"
	"math"
	"unique"

	"github.com/soltixdb/soltix/model"
)

// indexBody returns the index held by the stored form of a version 3
// index (storedIndex). A compressed index is bounded like a block
// (unsnappy), so a damaged length cannot make the reader allocate more
// than a small multiple of the file.
func indexBody(stored []byte) ([]byte, error) {
	if len(stored) == 0 {
		return nil, errors.New("no flag byte")
	}
	switch stored[0] {
	case indexRaw:
		return stored[1:], nil
	case indexSnappy:
		return unsnappy(stored[1:])
	}
	return nil, fmt.Errorf("flag %d", stored[0])
}

// indexParser decodes an index whose first byte is at file offset base.
// Blocks must tile the data region [HeaderSize, base) in index order; next
// is where the next block must start.
type indexParser struct {
	r    *Reader
	d    decoder
	base int64
	next int64
}

// bad reports a structural problem found at the decoder's position.
func (p *indexParser) bad(format string, args ...any) error {
	return &CorruptionError{Path: p.r.path, Offset: p.base + int64(p.d.off), What: "index: " + fmt.Sprintf(format, args...), Err: p.d.err}
}

// count reads an element count, which cannot exceed the remaining bytes
// since every element takes at least one byte.
func (p *indexParser) count(what string) (int, error) {
	n := p.d.uvarint()
	if p.d.err != nil {
		return 0, p.bad("read %s", what)
	}
	if n > uint64(len(p.d.b)-p.d.off) {
		return 0, p.bad("%s %d exceeds the %d remaining index bytes", what, n, len(p.d.b)-p.d.off)
	}
	return int(n), nil
}

// block checks that a block of the given stored length starts at p.next
// and fits the data region, and advances p.next past it and its trailer.
// minLen is the smallest stored length the format allows.
func (p *indexParser) block(off, length, minLen uint64, where place) (blockRef, error) {
	room := uint64(p.base - p.next)
	switch {
	case off != uint64(p.next):
		return blockRef{}, p.bad("%s: block offset %d, expected %d", where, off, p.next)
	case length < minLen || length > room || room-length < blockTrailerSize:
		return blockRef{}, p.bad("%s: block length %d at offset %d overruns the data region ending at %d", where, length, off, p.base)
	}
	ref := blockRef{off: p.next, length: int64(length)}
	p.next += int64(length) + blockTrailerSize
	return ref, nil
}

// place names a column, or one of its blocks, in the index's errors. It is
// formatted only when an error is made: the index is decoded again each
// time a series is read (reader_series.go).
type place struct {
	key, column string
	block       int // -1: the column
}

func (w place) String() string {
	if w.block < 0 {
		return fmt.Sprintf("series %q column %q", w.key, w.column)
	}
	return fmt.Sprintf("series %q column %q block %d", w.key, w.column, w.block)
}

// parseIndex decodes and validates the index, which starts at file offset
// base and ends where the footer begins.
func (r *Reader) parseIndex(idx []byte, base int64) error {
	p := &indexParser{r: r, d: decoder{b: idx}, base: base, next: HeaderSize}
	d := &p.d

	m := &r.meta
	if n := d.uvarint(); n > MaxCollectionLen {
		return p.bad("collection name of %d bytes exceeds %d", n, MaxCollectionLen)
	} else {
		m.Collection = string(d.bytes(n))
	}
	group := d.varint()
	m.Seq = d.uvarint()
	m.MinTime = d.varint()
	m.MaxTime = d.varint()
	points := d.uvarint()
	if d.err != nil {
		return p.bad("read file meta")
	}
	if group < math.MinInt || group > math.MaxInt || points > math.MaxInt {
		return p.bad("group %d or point count %d out of range", group, points)
	}
	m.Group = int(group)
	if r.version >= 2 {
		n, err := p.count("replaced file count")
		if err != nil {
			return err
		}
		if n > 0 {
			m.Replaces = make([]uint64, n)
		}
		for i := range m.Replaces {
			v := d.uvarint()
			if i > 0 {
				if v >= math.MaxUint64-m.Replaces[i-1] {
					return p.bad("replaced file %d overflows", i)
				}
				v += m.Replaces[i-1] + 1
			}
			m.Replaces[i] = v
		}
		if d.err != nil {
			return p.bad("read replaced files")
		}
	}
	nSeries, err := p.count("series count")
	if err != nil {
		return err
	}

	r.index = d.b
	r.entries = make([]seriesEntry, nSeries)
	var sum uint64
	var lo, hi int64
	prev := ""
	for i := range r.entries {
		e := seriesEntry{off: d.off, next: p.next}
		info, _, err := p.seriesEntry(i, m.Collection, prev)
		if err != nil {
			return err
		}
		for _, c := range info.Columns {
			if sum == 0 {
				lo, hi = c.MinTime, c.MaxTime
			}
			lo, hi = min(lo, c.MinTime), max(hi, c.MaxTime)
			sum += uint64(c.Count)
		}
		// One copy of a key serves every file and the DB's series index.
		e.key = unique.Make(info.Key)
		r.entries[i] = e
		prev = info.Key
	}
	if d.off != len(d.b) {
		return p.bad("%d trailing bytes", len(d.b)-d.off)
	}
	if p.next != base {
		return p.bad("blocks end at %d but the index starts at %d", p.next, base)
	}
	if sum != points || lo != m.MinTime || hi != m.MaxTime {
		return p.bad("meta says %d points in [%d, %d], columns hold %d in [%d, %d]", points, m.MinTime, m.MaxTime, sum, lo, hi)
	}
	m.Points = int(points)
	return nil
}

// seriesEntry decodes and checks the index entry of series i at the
// decoder's position, whose key must sort after prev (unless i is 0), and
// advances p.next past its blocks.
func (p *indexParser) seriesEntry(i int, collection, prev string) (SeriesInfo, [][]blockRef, error) {
	d := &p.d
	r := p.r
	nTags, err := p.count("tag count")
	if err != nil {
		return SeriesInfo{}, nil, err
	}
	tags := make(model.Tags, nTags)
	for j := range tags {
		tags[j].Key = d.string()
		tags[j].Value = d.string()
		if d.err != nil {
			return SeriesInfo{}, nil, p.bad("read tag %d of series %d", j, i)
		}
		if j > 0 && tags[j].Key <= tags[j-1].Key {
			return SeriesInfo{}, nil, p.bad("tags of series %d not sorted by unique key at %q", i, tags[j].Key)
		}
	}
	key := model.SeriesKey(collection, tags)
	if i > 0 && key <= prev {
		return SeriesInfo{}, nil, p.bad("series %q not after %q", key, prev)
	}
	nCols, err := p.count("column count")
	if err != nil {
		return SeriesInfo{}, nil, err
	}
	if nCols == 0 {
		return SeriesInfo{}, nil, p.bad("series %q has no columns", key)
	}
	cols := make([]ColumnInfo, nCols)
	refs := make([][]blockRef, nCols)
	for j := range cols {
		c := &cols[j]
		c.Name = d.string()
		kindByte := d.byte()
		c.Kind = model.Kind(kindByte)
		var noStats, compact bool
		if r.version >= 2 {
			noStats, compact = kindByte&kindNoStats != 0, kindByte&kindCompactFloats != 0
			c.Kind &^= kindNoStats | kindCompactFloats
		}
		if d.err != nil {
			return SeriesInfo{}, nil, p.bad("read column %d of series %q", j, key)
		}
		switch {
		case j > 0 && c.Name <= cols[j-1].Name:
			return SeriesInfo{}, nil, p.bad("columns of series %q not sorted by unique name at %q", key, c.Name)
		case !validKind(c.Kind):
			return SeriesInfo{}, nil, p.bad("series %q column %q: invalid kind %d", key, c.Name, c.Kind)
		case compact && (c.Kind != model.KindFloat || noStats):
			return SeriesInfo{}, nil, p.bad("series %q column %q: kind byte %#x: compact float statistics need a float column with statistics", key, c.Name, kindByte)
		}
		if r.version == 1 {
			refs[j], err = p.columnV1(c, key)
		} else {
			refs[j], err = p.columnV2(c, key, nCols, cols[:j], refs[:j], noStats, compact)
		}
		if err != nil {
			return SeriesInfo{}, nil, err
		}
	}
	if err := p.checkSubsets(key, cols, refs); err != nil {
		return SeriesInfo{}, nil, err
	}
	return SeriesInfo{Tags: tags, Key: key, Columns: cols}, refs, nil
}

// columnV1 reads the rest of a version 1 column entry (one block, no
// statistics) after its name and kind.
func (p *indexParser) columnV1(c *ColumnInfo, key string) ([]blockRef, error) {
	d := &p.d
	n := d.uvarint()
	c.MinTime = d.varint()
	c.MaxTime = d.varint()
	off := d.uvarint()
	length := d.uvarint()
	crc := d.uint32()
	if d.err != nil {
		return nil, p.bad("read column %q of series %q", c.Name, key)
	}
	where := place{key: key, column: c.Name, block: -1}
	ref, err := p.block(off, length, 1, where)
	if err != nil {
		return nil, err
	}
	switch {
	case n == 0 || n > maxSnappyRatio*length:
		return nil, p.bad("%s: count %d impossible for a %d-byte block", where, n, length)
	case c.MinTime > c.MaxTime || n-1 > uint64(c.MaxTime)-uint64(c.MinTime):
		return nil, p.bad("%s: %d unique times cannot span [%d, %d]", where, n, c.MinTime, c.MaxTime)
	}
	ref.crc = crc
	c.Count = int(n)
	c.Blocks = []BlockInfo{{Count: c.Count, MinTime: c.MinTime, MaxTime: c.MaxTime}}
	return []blockRef{ref}, nil
}

// minStoredV2 is the shortest stored version 2 block: the flag and a
// one-byte times length.
const minStoredV2 = 2

// columnV2 reads the rest of a version 2 column entry (its blocks) after
// its name and kind. earlier and earlierRefs are the series' columns
// before this one, which its blocks may take their times from. noStats
// and compact are the statistics bits of the kind byte.
func (p *indexParser) columnV2(c *ColumnInfo, key string, nCols int, earlier []ColumnInfo, earlierRefs [][]blockRef, noStats, compact bool) ([]blockRef, error) {
	d := &p.d
	nBlocks, err := p.count("block count")
	if err != nil {
		return nil, err
	}
	if nBlocks == 0 {
		return nil, p.bad("series %q column %q has no blocks", key, c.Name)
	}
	c.Blocks = make([]BlockInfo, nBlocks)
	refs := make([]blockRef, nBlocks)
	for k := range c.Blocks {
		b := &c.Blocks[k]
		n := d.uvarint()
		from := d.uvarint()
		if k == 0 {
			b.MinTime = d.varint()
		} else {
			prev := c.Blocks[k-1].MaxTime
			gap := d.uvarint()
			if d.err == nil && (gap == 0 || gap > uint64(math.MaxInt64)-uint64(prev)) {
				return nil, p.bad("series %q column %q block %d: gap %d after time %d", key, c.Name, k, gap, prev)
			}
			b.MinTime = prev + int64(gap)
		}
		span := d.uvarint()
		length := d.uvarint()
		var statsErr error
		if !noStats {
			statsErr = d.stats(c.Kind, b, n, compact)
		}
		if d.err != nil {
			return nil, p.bad("read block %d of series %q column %q", k, key, c.Name)
		}
		where := place{key: key, column: c.Name, block: k}
		if refs[k], err = p.block(uint64(p.next), length, minStoredV2, where); err != nil {
			return nil, err
		}
		switch {
		case n == 0 || n > MaxBlockSize:
			return nil, p.bad("%s: count %d outside [1, %d]", where, n, MaxBlockSize)
		case span > uint64(math.MaxInt64)-uint64(b.MinTime) || n-1 > span || (n == 1) != (span == 0):
			return nil, p.bad("%s: %d unique times cannot span %d from %d", where, n, span, b.MinTime)
		case statsErr != nil:
			return nil, p.bad("%s: impossible statistics: %v", where, statsErr)
		}
		b.Count = int(n)
		b.MaxTime = b.MinTime + int64(span)
		c.Count += b.Count
		if p.r.version >= 4 && (from == 3*uint64(nCols)+1 || from == 3*uint64(nCols)+2) {
			// A union block: it stores the union of its series' times
			// in its window and selects its own, by a bitmap (3·nCols+1)
			// or a sparse list (3·nCols+2).
			refs[k].union, refs[k].sparse = true, from == 3*uint64(nCols)+2
		} else if from > uint64(nCols) {
			// A subset of the times of column src's block k, selected
			// by a bitmap (from = nCols+src+1) or a sparse list
			// (2·nCols+src+1), checked once every column of the series
			// is read.
			sparse := from > 2*uint64(nCols)
			src := from - uint64(nCols) - 1
			if sparse {
				src -= uint64(nCols)
			}
			if src >= uint64(nCols) || src == uint64(len(earlier)) {
				return nil, p.bad("%s: times from a subset of column %d of %d", where, src, nCols)
			}
			refs[k].timesFrom, refs[k].subset, refs[k].sparse = int(src)+1, true, sparse
		} else if from > 0 {
			if from > uint64(len(earlier)) {
				return nil, p.bad("%s: times from column %d, which is not an earlier column of the series", where, from-1)
			}
			src := int(from - 1)
			switch sc := &earlier[src]; {
			case k >= len(sc.Blocks):
				return nil, p.bad("%s: times from column %q, which has no block %d", where, sc.Name, k)
			case earlierRefs[src][k].timesFrom != 0 || earlierRefs[src][k].union:
				return nil, p.bad("%s: times from column %q, whose block %d does not store its times", where, sc.Name, k)
			case sc.Blocks[k].Count != b.Count || sc.Blocks[k].MinTime != b.MinTime || sc.Blocks[k].MaxTime != b.MaxTime:
				return nil, p.bad("%s: %d times in [%d, %d], but the block of column %q it takes them from has %d in [%d, %d]",
					where, b.Count, b.MinTime, b.MaxTime, sc.Name, sc.Blocks[k].Count, sc.Blocks[k].MinTime, sc.Blocks[k].MaxTime)
			}
			refs[k].timesFrom = int(from)
		}
	}
	c.MinTime = c.Blocks[0].MinTime
	c.MaxTime = c.Blocks[nBlocks-1].MaxTime
	return refs, nil
}

// checkSubsets checks the blocks of a series that take a subset of another
// column's times: that column has the block, stores its own times there,
// and holds at least as many times in a range that contains the block's
// (unless its block is a union block, whose union times only the block
// itself records).
func (p *indexParser) checkSubsets(key string, cols []ColumnInfo, refs [][]blockRef) error {
	for j := range cols {
		for k, ref := range refs[j] {
			if !ref.subset {
				continue
			}
			b := &cols[j].Blocks[k]
			src := ref.timesFrom - 1
			sc := &cols[src]
			where := place{key: key, column: cols[j].Name, block: k}
			switch {
			case k >= len(sc.Blocks):
				return p.bad("%s: times from column %q, which has no block %d", where, sc.Name, k)
			case refs[src][k].timesFrom != 0:
				return p.bad("%s: times from column %q, whose block %d does not store its times", where, sc.Name, k)
			case refs[src][k].union:
				// The union's count and range are not in the index; the
				// selection is checked against it when the block is read.
			case b.Count > sc.Blocks[k].Count || b.MinTime < sc.Blocks[k].MinTime || b.MaxTime > sc.Blocks[k].MaxTime:
				return p.bad("%s: %d times in [%d, %d] cannot be a subset of the %d in [%d, %d] of column %q",
					where, b.Count, b.MinTime, b.MaxTime, sc.Blocks[k].Count, sc.Blocks[k].MinTime, sc.Blocks[k].MaxTime, sc.Name)
			}
		}
	}
	return nil
}
