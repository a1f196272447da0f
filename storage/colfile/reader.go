package colfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/golang/snappy"
	"github.com/soltixdb/soltix/model"
)

// Reader reads one colfile. Open loads the whole index into memory; data
// blocks are read on demand by ReadColumn. All methods except Close are safe
// for concurrent use.
type Reader struct {
	path   string
	ra     io.ReaderAt
	closer io.Closer
	meta   Meta
	series []SeriesInfo
	blocks [][]blockRef // blocks[i][j] locates column j of series i
}

// blockRef is the location and checksum of one data block.
type blockRef struct {
	off    int64
	length int64 // stored (compressed) length, without the 4-byte CRC trailer
	crc    uint32
}

// Open opens the colfile at path, checks its header, footer and index, and
// loads the index. Damaged files yield a *CorruptionError; files of another
// format version yield a *VersionError.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
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
	if v := binary.LittleEndian.Uint16(hdr[8:]); v != Version {
		return nil, &VersionError{Path: path, Version: v}
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
	if err := r.parseIndex(idx, int64(idxOff)); err != nil {
		return nil, err
	}
	return r, nil
}

// parseIndex decodes and validates the index, which starts at file offset
// base and ends where the footer begins.
func (r *Reader) parseIndex(idx []byte, base int64) error {
	d := &decoder{b: idx}
	// bad reports a structural problem found at the decoder's position.
	bad := func(format string, args ...any) error {
		return &CorruptionError{Path: r.path, Offset: base + int64(d.off), What: "index: " + fmt.Sprintf(format, args...), Err: d.err}
	}
	// count reads an element count, which cannot exceed the remaining bytes
	// since every element takes at least one byte.
	count := func(what string) (int, error) {
		n := d.uvarint()
		if d.err != nil {
			return 0, bad("read %s", what)
		}
		if n > uint64(len(d.b)-d.off) {
			return 0, bad("%s %d exceeds the %d remaining index bytes", what, n, len(d.b)-d.off)
		}
		return int(n), nil
	}

	m := &r.meta
	if n := d.uvarint(); n > MaxCollectionLen {
		return bad("collection name of %d bytes exceeds %d", n, MaxCollectionLen)
	} else {
		m.Collection = string(d.bytes(n))
	}
	group := d.varint()
	m.Seq = d.uvarint()
	m.MinTime = d.varint()
	m.MaxTime = d.varint()
	points := d.uvarint()
	if d.err != nil {
		return bad("read file meta")
	}
	if group < math.MinInt || group > math.MaxInt || points > math.MaxInt {
		return bad("group %d or point count %d out of range", group, points)
	}
	m.Group = int(group)
	nSeries, err := count("series count")
	if err != nil {
		return err
	}

	r.series = make([]SeriesInfo, nSeries)
	r.blocks = make([][]blockRef, nSeries)
	next := int64(HeaderSize) // blocks must tile the data region in index order
	var sum uint64
	var lo, hi int64
	for i := range r.series {
		nTags, err := count("tag count")
		if err != nil {
			return err
		}
		tags := make(model.Tags, nTags)
		for j := range tags {
			tags[j].Key = d.string()
			tags[j].Value = d.string()
			if d.err != nil {
				return bad("read tag %d of series %d", j, i)
			}
			if j > 0 && tags[j].Key <= tags[j-1].Key {
				return bad("tags of series %d not sorted by unique key at %q", i, tags[j].Key)
			}
		}
		key := model.SeriesKey(m.Collection, tags)
		if i > 0 && key <= r.series[i-1].Key {
			return bad("series %q not after %q", key, r.series[i-1].Key)
		}
		nCols, err := count("column count")
		if err != nil {
			return err
		}
		if nCols == 0 {
			return bad("series %q has no columns", key)
		}
		cols := make([]ColumnInfo, nCols)
		refs := make([]blockRef, nCols)
		for j := range cols {
			c := &cols[j]
			c.Name = d.string()
			c.Kind = model.Kind(d.byte())
			n := d.uvarint()
			c.MinTime = d.varint()
			c.MaxTime = d.varint()
			off := d.uvarint()
			length := d.uvarint()
			crc := d.uint32()
			if d.err != nil {
				return bad("read column %d of series %q", j, key)
			}
			switch {
			case j > 0 && c.Name <= cols[j-1].Name:
				return bad("columns of series %q not sorted by unique name at %q", key, c.Name)
			case !validKind(c.Kind):
				return bad("series %q column %q: invalid kind %d", key, c.Name, c.Kind)
			case off != uint64(next):
				return bad("series %q column %q: block offset %d, expected %d", key, c.Name, off, next)
			case length == 0 || length > uint64(base-next) || uint64(base-next)-length < blockTrailerSize:
				return bad("series %q column %q: block length %d at offset %d overruns the data region ending at %d", key, c.Name, length, off, base)
			case n == 0 || n > maxSnappyRatio*length:
				return bad("series %q column %q: count %d impossible for a %d-byte block", key, c.Name, n, length)
			case c.MinTime > c.MaxTime || n-1 > uint64(c.MaxTime)-uint64(c.MinTime):
				return bad("series %q column %q: %d unique times cannot span [%d, %d]", key, c.Name, n, c.MinTime, c.MaxTime)
			}
			c.Count = int(n)
			refs[j] = blockRef{off: int64(off), length: int64(length), crc: crc}
			next += int64(length) + blockTrailerSize
			if sum == 0 {
				lo, hi = c.MinTime, c.MaxTime
			}
			lo, hi = min(lo, c.MinTime), max(hi, c.MaxTime)
			sum += n
		}
		r.series[i] = SeriesInfo{Tags: tags, Key: key, Columns: cols}
		r.blocks[i] = refs
	}
	if d.off != len(d.b) {
		return bad("%d trailing bytes", len(d.b)-d.off)
	}
	if next != base {
		return bad("blocks end at %d but the index starts at %d", next, base)
	}
	if sum != points || lo != m.MinTime || hi != m.MaxTime {
		return bad("meta says %d points in [%d, %d], columns hold %d in [%d, %d]", points, m.MinTime, m.MaxTime, sum, lo, hi)
	}
	m.Points = int(points)
	return nil
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

// Meta returns the file's header information.
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

// ReadColumn reads, verifies and decodes column column of series series
// (positions in Series and SeriesInfo.Columns). The returned column is newly
// allocated and owned by the caller. A damaged block yields a
// *CorruptionError naming the file, the series key, the column and the
// block's offset.
func (r *Reader) ReadColumn(series, column int) (model.Column, error) {
	if series < 0 || series >= len(r.series) || column < 0 || column >= len(r.series[series].Columns) {
		return model.Column{}, fmt.Errorf("colfile: %s: no column %d of series %d", r.path, column, series)
	}
	s := &r.series[series]
	info := &s.Columns[column]
	ref := r.blocks[series][column]
	corrupt := func(err error, format string, args ...any) error {
		what := fmt.Sprintf("block of series %q column %q: ", s.Key, info.Name) + fmt.Sprintf(format, args...)
		return &CorruptionError{Path: r.path, Offset: ref.off, What: what, Err: err}
	}

	buf := make([]byte, ref.length+blockTrailerSize) // bounded by the file size, checked by Open
	if err := readFull(r.ra, buf, ref.off); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return model.Column{}, corrupt(err, "short read")
		}
		return model.Column{}, fmt.Errorf("colfile: read block of series %q column %q in %s: %w", s.Key, info.Name, r.path, err)
	}
	stored := buf[:ref.length]
	if trailer := binary.LittleEndian.Uint32(buf[ref.length:]); trailer != ref.crc {
		return model.Column{}, corrupt(nil, "block trailer CRC %08x differs from index CRC %08x", trailer, ref.crc)
	}
	if got := checksum(stored); got != ref.crc {
		return model.Column{}, corrupt(nil, "checksum mismatch: computed %08x, stored %08x", got, ref.crc)
	}
	col, err := decodeBlock(stored, info.Kind, info.Count)
	if err != nil {
		return model.Column{}, corrupt(err, "decode")
	}
	if col.Times[0] != info.MinTime || col.Times[len(col.Times)-1] != info.MaxTime {
		return model.Column{}, corrupt(nil, "times span [%d, %d], index says [%d, %d]", col.Times[0], col.Times[len(col.Times)-1], info.MinTime, info.MaxTime)
	}
	col.Name = info.Name
	return col, nil
}

// decodeBlock decompresses and decodes a block's stored bytes, whose CRC has
// been checked, holding count values of the given kind.
func decodeBlock(stored []byte, kind model.Kind, count int) (model.Column, error) {
	n, err := snappy.DecodedLen(stored)
	if err != nil {
		return model.Column{}, fmt.Errorf("snappy header: %w", err)
	}
	if uint64(n) > maxSnappyRatio*uint64(len(stored)) {
		return model.Column{}, fmt.Errorf("snappy claims %d decoded bytes from %d stored", n, len(stored))
	}
	body, err := snappy.Decode(make([]byte, n), stored)
	if err != nil {
		return model.Column{}, fmt.Errorf("snappy: %w", err)
	}
	return decodeBlockBody(body, kind, count)
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
