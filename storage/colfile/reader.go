package colfile

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"sync/atomic"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
)

// Reader reads one colfile. Open loads the whole index into memory; data
// blocks are read on demand by ReadBlock, ReadRange and ReadColumn. All
// methods except Close are safe for concurrent use.
type Reader struct {
	path    string
	version uint16
	ra      io.ReaderAt
	dataEnd int64 // where the data blocks end and the index starts
	closer  io.Closer
	meta    Meta
	series  []SeriesInfo
	blocks  [][][]blockRef // blocks[i][j][k] locates block k of column j of series i

	// onDecode, when set (by tests), is called before each block decode.
	onDecode func(series, column, block int)
	// decoded counts the blocks decoded (see Decoded).
	decoded atomic.Int64
}

// blockRef is the location of one data block.
type blockRef struct {
	off    int64
	length int64  // stored length, without the 4-byte CRC trailer
	crc    uint32 // the index's copy of the CRC (version 1 only)
	// timesFrom is 0 when the block stores its own times, and k+1 when
	// its times are those of the block at the same position in column k
	// of the same series (version 2 only), which stores its own. With
	// subset set, the block holds some of those times, chosen by a
	// selection at the start of its body: a bitmap, or a sparse list of
	// positions when sparse is set too.
	timesFrom int
	subset    bool
	sparse    bool
}

// Open opens the colfile at path with the operating system's filesystem.
// It is OpenWith(path, nil).
func Open(path string) (*Reader, error) { return OpenWith(path, nil) }

// OpenWith opens the colfile at path through fs (nil means vfs.Default),
// checks its header, footer and index, and loads the index. Damaged files
// yield a *CorruptionError; files of an unknown format version yield a
// *VersionError. The Reader keeps the file open until Close.
func OpenWith(path string, fs vfs.FS) (*Reader, error) {
	if fs == nil {
		fs = vfs.Default
	}
	f, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("colfile: open: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("colfile: stat: %w", err)
	}
	r, err := newReader(f, st.Size(), path)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader opens the colfile held by ra, which is size bytes long, as
// OpenWith does a file: it reads and checks the header, footer and index
// (three reads) and keeps ra for the data blocks. name stands for the file
// in errors and Path. When ra also implements ReaderAtContext, the reads of
// ReadRangeContext use it with their context. Close does not close ra.
func NewReader(ra io.ReaderAt, size int64, name string) (*Reader, error) {
	return newReader(ra, size, name)
}

// ReaderAtContext is an io.ReaderAt whose reads can also be bound to a
// context (a remote object's ranged reads).
type ReaderAtContext interface {
	io.ReaderAt
	ReadAtContext(ctx context.Context, p []byte, off int64) (int, error)
}

// DataEnd returns the offset where the file's data blocks end and its
// index begins: bytes [HeaderSize, DataEnd) are the blocks, the rest the
// index and the footer.
func (r *Reader) DataEnd() int64 { return r.dataEnd }

// newReader opens a colfile held by ra, which is size bytes long. path is
// used in error messages only.
func newReader(ra io.ReaderAt, size int64, path string) (*Reader, error) {
	r := &Reader{path: path, ra: ra}
	corrupt := func(off int64, err error, format string, args ...any) error {
		return &CorruptionError{Path: path, Offset: off, What: fmt.Sprintf(format, args...), Err: err}
	}

	if size < HeaderSize+FooterSize {
		return nil, corrupt(0, nil, "file too short: %d bytes, need at least %d", size, HeaderSize+FooterSize)
	}

	var hdr [HeaderSize]byte
	if err := readFull(ra, hdr[:], 0); err != nil {
		return nil, fmt.Errorf("colfile: read header of %s: %w", path, err)
	}
	if string(hdr[:8]) != Magic {
		return nil, corrupt(0, nil, "bad magic %q", hdr[:8])
	}
	r.version = binary.LittleEndian.Uint16(hdr[8:])
	if r.version < MinVersion || r.version > Version {
		return nil, &VersionError{Path: path, Version: r.version}
	}

	footOff := size - FooterSize
	var foot [FooterSize]byte
	if err := readFull(ra, foot[:], footOff); err != nil {
		return nil, fmt.Errorf("colfile: read footer of %s: %w", path, err)
	}
	if string(foot[24:]) != Magic {
		return nil, corrupt(footOff+24, nil, "bad footer magic %q", foot[24:])
	}
	if got, want := checksum(foot[:20]), binary.LittleEndian.Uint32(foot[20:]); got != want {
		return nil, corrupt(footOff, nil, "footer checksum mismatch: computed %08x, stored %08x", got, want)
	}
	idxOff := binary.LittleEndian.Uint64(foot[0:])
	idxLen := binary.LittleEndian.Uint64(foot[8:])
	idxCRC := binary.LittleEndian.Uint32(foot[16:])
	if idxOff < HeaderSize || idxOff > uint64(footOff) || idxLen != uint64(footOff)-idxOff {
		return nil, corrupt(footOff, nil, "index offset %d and length %d do not fit a %d-byte file", idxOff, idxLen, size)
	}

	idx := make([]byte, idxLen) // bounded by the file size, checked above
	if err := readFull(ra, idx, int64(idxOff)); err != nil {
		return nil, fmt.Errorf("colfile: read index of %s: %w", path, err)
	}
	if got := checksum(idx); got != idxCRC {
		return nil, corrupt(int64(idxOff), nil, "index checksum mismatch: computed %08x, footer says %08x", got, idxCRC)
	}
	if r.version >= 3 {
		var err error
		if idx, err = indexBody(idx); err != nil {
			return nil, corrupt(int64(idxOff), err, "index: %v", err)
		}
	}
	if err := r.parseIndex(idx, int64(idxOff)); err != nil {
		return nil, err
	}
	r.dataEnd = int64(idxOff)
	return r, nil
}

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
func (p *indexParser) block(off, length, minLen uint64, where string) (blockRef, error) {
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

	r.series = make([]SeriesInfo, nSeries)
	r.blocks = make([][][]blockRef, nSeries)
	var sum uint64
	var lo, hi int64
	for i := range r.series {
		nTags, err := p.count("tag count")
		if err != nil {
			return err
		}
		tags := make(model.Tags, nTags)
		for j := range tags {
			tags[j].Key = d.string()
			tags[j].Value = d.string()
			if d.err != nil {
				return p.bad("read tag %d of series %d", j, i)
			}
			if j > 0 && tags[j].Key <= tags[j-1].Key {
				return p.bad("tags of series %d not sorted by unique key at %q", i, tags[j].Key)
			}
		}
		key := model.SeriesKey(m.Collection, tags)
		if i > 0 && key <= r.series[i-1].Key {
			return p.bad("series %q not after %q", key, r.series[i-1].Key)
		}
		nCols, err := p.count("column count")
		if err != nil {
			return err
		}
		if nCols == 0 {
			return p.bad("series %q has no columns", key)
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
				return p.bad("read column %d of series %q", j, key)
			}
			switch {
			case j > 0 && c.Name <= cols[j-1].Name:
				return p.bad("columns of series %q not sorted by unique name at %q", key, c.Name)
			case !validKind(c.Kind):
				return p.bad("series %q column %q: invalid kind %d", key, c.Name, c.Kind)
			case compact && (c.Kind != model.KindFloat || noStats):
				return p.bad("series %q column %q: kind byte %#x: compact float statistics need a float column with statistics", key, c.Name, kindByte)
			}
			if r.version == 1 {
				refs[j], err = p.columnV1(c, key)
			} else {
				refs[j], err = p.columnV2(c, key, nCols, cols[:j], refs[:j], noStats, compact)
			}
			if err != nil {
				return err
			}
			if sum == 0 {
				lo, hi = c.MinTime, c.MaxTime
			}
			lo, hi = min(lo, c.MinTime), max(hi, c.MaxTime)
			sum += uint64(c.Count)
		}
		if err := p.checkSubsets(key, cols, refs); err != nil {
			return err
		}
		r.series[i] = SeriesInfo{Tags: tags, Key: key, Columns: cols}
		r.blocks[i] = refs
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
	where := fmt.Sprintf("series %q column %q", key, c.Name)
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
		where := fmt.Sprintf("series %q column %q block %d", key, c.Name, k)
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
		if from > uint64(nCols) {
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
			case earlierRefs[src][k].timesFrom != 0:
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
// and holds at least as many times in a range that contains the block's.
func (p *indexParser) checkSubsets(key string, cols []ColumnInfo, refs [][]blockRef) error {
	for j := range cols {
		for k, ref := range refs[j] {
			if !ref.subset {
				continue
			}
			b := &cols[j].Blocks[k]
			src := ref.timesFrom - 1
			sc := &cols[src]
			where := fmt.Sprintf("series %q column %q block %d", key, cols[j].Name, k)
			switch {
			case k >= len(sc.Blocks):
				return p.bad("%s: times from column %q, which has no block %d", where, sc.Name, k)
			case refs[src][k].timesFrom != 0:
				return p.bad("%s: times from column %q, whose block %d does not store its times", where, sc.Name, k)
			case b.Count > sc.Blocks[k].Count || b.MinTime < sc.Blocks[k].MinTime || b.MaxTime > sc.Blocks[k].MaxTime:
				return p.bad("%s: %d times in [%d, %d] cannot be a subset of the %d in [%d, %d] of column %q",
					where, b.Count, b.MinTime, b.MaxTime, sc.Blocks[k].Count, sc.Blocks[k].MinTime, sc.Blocks[k].MaxTime, sc.Name)
			}
		}
	}
	return nil
}

// readerAtCtx binds a ReaderAtContext's reads to one context.
type readerAtCtx struct {
	ra  ReaderAtContext
	ctx context.Context
}

func (r readerAtCtx) ReadAt(p []byte, off int64) (int, error) {
	return r.ra.ReadAtContext(r.ctx, p, off)
}

// readFull reads exactly len(b) bytes at off.
func readFull(ra io.ReaderAt, b []byte, off int64) error {
	n, err := ra.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// Path returns the path the Reader was opened with.
func (r *Reader) Path() string { return r.path }

// Version returns the file's format version.
func (r *Reader) Version() int { return int(r.version) }

// Meta returns the file's header information. Its Replaces slice belongs
// to the Reader and must not be modified.
func (r *Reader) Meta() Meta { return r.meta }

// Series returns the file's series sorted by Key. The slice and the values
// it refers to belong to the Reader and must not be modified.
func (r *Reader) Series() []SeriesInfo { return r.series }

// Find returns the position in Series of the series with the given key, and
// whether it is present.
func (r *Reader) Find(key string) (int, bool) {
	i := sort.Search(len(r.series), func(i int) bool { return r.series[i].Key >= key })
	return i, i < len(r.series) && r.series[i].Key == key
}

// column returns the index entry of a column, or an error for positions
// out of range.
func (r *Reader) column(series, column int) (*ColumnInfo, error) {
	if series < 0 || series >= len(r.series) || column < 0 || column >= len(r.series[series].Columns) {
		return nil, fmt.Errorf("colfile: %s: no column %d of series %d", r.path, column, series)
	}
	return &r.series[series].Columns[column], nil
}

// ReadColumn reads, verifies and decodes every block of column column of
// series series (positions in Series and SeriesInfo.Columns). The returned
// column is newly allocated and owned by the caller. A damaged block yields
// a *CorruptionError naming the file, the series key, the column, the block
// index and the block's offset.
func (r *Reader) ReadColumn(series, column int) (model.Column, error) {
	info, err := r.column(series, column)
	if err != nil {
		return model.Column{}, err
	}
	return r.readBlocks(context.Background(), series, column, 0, len(info.Blocks))
}

// ReadBlock reads, verifies and decodes block block of a column (a
// position in ColumnInfo.Blocks). Ownership and errors are as for
// ReadColumn.
func (r *Reader) ReadBlock(series, column, block int) (model.Column, error) {
	return r.ReadBlockContext(context.Background(), series, column, block)
}

// ReadBlockContext is ReadBlock whose read is bound to ctx.
func (r *Reader) ReadBlockContext(ctx context.Context, series, column, block int) (model.Column, error) {
	info, err := r.column(series, column)
	if err != nil {
		return model.Column{}, err
	}
	if block < 0 || block >= len(info.Blocks) {
		return model.Column{}, fmt.Errorf("colfile: %s: no block %d of column %d of series %d", r.path, block, column, series)
	}
	return r.readBlocks(ctx, series, column, block, block+1)
}

// Decoded returns how many blocks the Reader has decoded since it was
// opened (a block whose times come from another column counts once).
func (r *Reader) Decoded() int64 { return r.decoded.Load() }

// ReadRange returns the values of a column whose times lie in [min, max]
// (inclusive). It reads and decodes only the blocks whose time range
// overlaps [min, max]; the result is empty (but named and typed) when none
// does or when min > max. Ownership and errors are as for ReadColumn.
func (r *Reader) ReadRange(series, column int, min, max int64) (model.Column, error) {
	return r.ReadRangeContext(context.Background(), series, column, min, max)
}

// ReadRangeContext is ReadRange that checks ctx before decoding each block
// and returns its error once it ends.
func (r *Reader) ReadRangeContext(ctx context.Context, series, column int, min, max int64) (model.Column, error) {
	info, err := r.column(series, column)
	if err != nil {
		return model.Column{}, err
	}
	if min > max {
		return model.Column{Name: info.Name, Kind: info.Kind}, nil
	}
	bs := info.Blocks
	lo := sort.Search(len(bs), func(k int) bool { return bs[k].MaxTime >= min })
	hi := sort.Search(len(bs), func(k int) bool { return bs[k].MinTime > max })
	if lo >= hi {
		return model.Column{Name: info.Name, Kind: info.Kind}, nil
	}
	col, err := r.readBlocks(ctx, series, column, lo, hi)
	if err != nil {
		return model.Column{}, err
	}
	if col.Times[0] >= min && col.Times[col.Len()-1] <= max {
		return col, nil
	}
	return col.Range(min, max), nil
}

// maxValuesPerStoredByte bounds how many values the readers allocate room
// for before decoding anything, per stored byte they are about to decode.
// An index that claims more (a very compressible column, or a lie) gets
// room for that many at first; the rest is reserved as blocks decode (see
// reserve), so a corrupt count cannot force a large allocation up front.
const maxValuesPerStoredByte = 16

// readBlocks decodes blocks [lo, hi) of a column into one new column,
// checking ctx before each block.
//
// The output's room follows the index's value counts: all of it at once
// when the stored bytes make the count plausible, otherwise doubling as
// blocks decode, never past the total the index claims. Either way the
// allocations add up to less than three times the result (a column of a
// constant value, decoding to thousands of values per stored byte, used to
// copy everything decoded so far at every block: quadratic).
func (r *Reader) readBlocks(ctx context.Context, series, column, lo, hi int) (model.Column, error) {
	info := &r.series[series].Columns[column]
	refs := r.blocks[series][column][lo:hi]
	col := model.Column{Name: info.Name, Kind: info.Kind}
	var want, stored int64
	for k := range refs {
		want += int64(info.Blocks[lo+k].Count)
		stored += refs[k].length
		if from := refs[k].timesFrom; from > 0 {
			stored += r.blocks[series][from-1][lo+k].length
		}
	}
	if r.version >= 2 {
		reserve(&col, int(min(want, maxValuesPerStoredByte*stored)), want)
	}
	for k := lo; k < hi; k++ {
		if err := ctx.Err(); err != nil {
			return model.Column{}, err
		}
		if r.version >= 2 {
			reserve(&col, info.Blocks[k].Count, want)
		}
		if err := r.readBlock(ctx, &col, series, column, k); err != nil {
			return model.Column{}, err
		}
	}
	return col, nil
}

// reserve makes room for n more values in col's times and value slices.
// When it must reallocate, it at least doubles the room, but never past
// total values in all (the most the caller will append), so successive
// calls allocate less than twice total overall.
func reserve(col *model.Column, n int, total int64) {
	if cap(col.Times)-len(col.Times) >= n {
		return
	}
	size := max(2*int64(cap(col.Times)), int64(len(col.Times)+n))
	size = max(min(size, total), int64(len(col.Times)+n))
	col.Times = resize(col.Times, int(size))
	switch col.Kind {
	case model.KindFloat:
		col.Floats = resize(col.Floats, int(size))
	case model.KindInt:
		col.Ints = resize(col.Ints, int(size))
	case model.KindUint:
		col.Uints = resize(col.Uints, int(size))
	case model.KindBool:
		col.Bools = resize(col.Bools, int(size))
	case model.KindString:
		col.Strings = resize(col.Strings, int(size))
	}
}

// resize returns s with capacity size (at least len(s)), copied when it
// must be reallocated.
func resize[T any](s []T, size int) []T {
	if cap(s) >= size {
		return s
	}
	ns := make([]T, len(s), size)
	copy(ns, s)
	return ns
}

// readStored reads block k of a column and checks its CRC. It returns the
// stored bytes (without the CRC) or an error made by corrupt for damage.
func (r *Reader) readStored(ctx context.Context, series, column, k int, corrupt func(err error, format string, args ...any) error) ([]byte, error) {
	s := &r.series[series]
	ref := r.blocks[series][column][k]
	buf := make([]byte, ref.length+blockTrailerSize) // bounded by the file size, checked by Open
	var ra io.ReaderAt = r.ra
	if rc, ok := r.ra.(ReaderAtContext); ok {
		ra = readerAtCtx{rc, ctx}
	}
	if err := readFull(ra, buf, ref.off); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, corrupt(err, "short read")
		}
		return nil, fmt.Errorf("colfile: read block %d of series %q column %q in %s: %w", k, s.Key, s.Columns[column].Name, r.path, err)
	}
	stored := buf[:ref.length]
	trailer := binary.LittleEndian.Uint32(buf[ref.length:])
	if r.version == 1 && trailer != ref.crc {
		return nil, corrupt(nil, "block trailer CRC %08x differs from index CRC %08x", trailer, ref.crc)
	}
	if got := checksum(stored); got != trailer {
		return nil, corrupt(nil, "checksum mismatch: computed %08x, stored %08x", got, trailer)
	}
	return stored, nil
}

// corruptBlock returns a function making CorruptionErrors for block k of a
// column, at that block's offset.
func (r *Reader) corruptBlock(series, column, k int, suffix string) func(err error, format string, args ...any) error {
	s := &r.series[series]
	off := r.blocks[series][column][k].off
	return func(err error, format string, args ...any) error {
		what := fmt.Sprintf("block %d of series %q column %q%s: ", k, s.Key, s.Columns[column].Name, suffix) + fmt.Sprintf(format, args...)
		return &CorruptionError{Path: r.path, Offset: off, What: what, Err: err}
	}
}

// readBlock reads, verifies and decodes block k of a column and appends
// its values to col. A block whose times are shared gets them by reading
// and decoding the times of the block it shares them with.
func (r *Reader) readBlock(ctx context.Context, col *model.Column, series, column, k int) error {
	info := &r.series[series].Columns[column]
	bi := &info.Blocks[k]
	ref := r.blocks[series][column][k]
	corrupt := r.corruptBlock(series, column, k, "")

	stored, err := r.readStored(ctx, series, column, k, corrupt)
	if err != nil {
		return err
	}
	var ownerStored []byte
	var ownerCorrupt func(err error, format string, args ...any) error
	if ref.timesFrom > 0 {
		// Open checked that the owner is an earlier column of the series
		// whose block k stores its own times, with this block's count and
		// time range.
		owner := ref.timesFrom - 1
		ownerCorrupt = r.corruptBlock(series, owner, k, fmt.Sprintf(" (holding the times of column %q)", info.Name))
		if ownerStored, err = r.readStored(ctx, series, owner, k, ownerCorrupt); err != nil {
			return err
		}
	}
	r.decoded.Add(1)
	if r.onDecode != nil {
		r.onDecode(series, column, k)
	}

	start := col.Len()
	switch {
	case r.version == 1:
		dec, err := decodeBlockV1(stored, info.Kind, bi.Count)
		if err != nil {
			return corrupt(err, "decode")
		}
		appendColumn(col, &dec)
	case ref.subset:
		owner := ref.timesFrom - 1
		all, err := decodeBlockTimes(nil, ownerStored, r.series[series].Columns[owner].Blocks[k].Count)
		if err != nil {
			return ownerCorrupt(err, "decode times")
		}
		if err := decodeSubsetBlock(col, stored, bi.Count, all, ref.sparse); err != nil {
			return corrupt(err, "decode")
		}
	case ref.timesFrom > 0:
		if col.Times, err = decodeBlockTimes(col.Times, ownerStored, bi.Count); err != nil {
			return ownerCorrupt(err, "decode times")
		}
		if err := decodeSharedBlock(col, stored, bi.Count); err != nil {
			return corrupt(err, "decode")
		}
	default:
		if err := decodeBlock(col, stored, bi.Count); err != nil {
			return corrupt(err, "decode")
		}
	}

	got := col.Slice(start, col.Len())
	if got.Times[0] != bi.MinTime || got.Times[got.Len()-1] != bi.MaxTime {
		return corrupt(nil, "times span [%d, %d], index says [%d, %d]", got.Times[0], got.Times[got.Len()-1], bi.MinTime, bi.MaxTime)
	}
	if start > 0 && got.Times[0] <= col.Times[start-1] {
		return corrupt(nil, "block starts at %d, not after the previous block's %d", got.Times[0], col.Times[start-1])
	}
	if bi.Stats {
		if st := blockStats(&got); !sameBlockInfo(&st, bi) {
			return corrupt(nil, "statistics of the decoded values differ from the index")
		}
	}
	return nil
}

// appendColumn appends the values of src to dst, which has the same kind.
func appendColumn(dst, src *model.Column) {
	if dst.Len() == 0 && cap(dst.Times) == 0 {
		name := dst.Name
		*dst = *src
		dst.Name = name
		return
	}
	dst.Times = append(dst.Times, src.Times...)
	dst.Floats = append(dst.Floats, src.Floats...)
	dst.Ints = append(dst.Ints, src.Ints...)
	dst.Uints = append(dst.Uints, src.Uints...)
	dst.Bools = append(dst.Bools, src.Bools...)
	dst.Strings = append(dst.Strings, src.Strings...)
}

// Close closes the file. It must not be called while other methods run.
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	err := r.closer.Close()
	r.closer = nil
	return err
}
