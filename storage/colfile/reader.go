package colfile

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
)

// Reader reads one colfile. Open checks the whole index and keeps it in
// memory as stored; a series' entry is decoded when it is read (SeriesAt,
// reader_series.go) and data blocks are read on demand by ReadBlock,
// ReadRange and ReadColumn. All methods except Close are safe for
// concurrent use.
type Reader struct {
	path    string
	version uint16
	ra      io.ReaderAt
	dataEnd int64 // where the data blocks end and the index starts
	closer  io.Closer
	meta    Meta
	// index is the file's index, kept to decode a series' entry when it is
	// read (reader_series.go); entries locate each series' entry in it.
	index   []byte
	entries []seriesEntry
	// last is the entry decoded last, reused while reads stay on its series.
	last atomic.Pointer[decodedSeries]

	// onDecode, when set (by tests), is called before each block decode,
	// and onRead before each block's stored bytes are read.
	onDecode func(series, column, block int)
	onRead   func(series, column, block int)
	// decoded counts the blocks decoded (see Decoded).
	decoded atomic.Int64
	// cachedMu guards cached: the offsets of the blocks this Reader put
	// into storedBlocks (a set: at most one per block of the file, however
	// often a block is evicted and read again), which Close forgets.
	cachedMu sync.Mutex
	cached   map[int64]struct{}
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
	// union is set (version 4) on a block that stores a superset of its
	// times (the union of its series' times in its window) and selects its
	// own among them (a bitmap, or a sparse list when sparse is set);
	// subset blocks of the series' other columns select from that union.
	union bool
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

// readFull reads exactly len(b) bytes at off.
// readerAtCtx binds a ReaderAtContext's reads to one context.
type readerAtCtx struct {
	ra  ReaderAtContext
	ctx context.Context
}

func (r readerAtCtx) ReadAt(p []byte, off int64) (int, error) {
	return r.ra.ReadAtContext(r.ctx, p, off)
}

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

// column returns the decoded index entry of a series and one of its
// columns, or an error for positions out of range.
func (r *Reader) column(series, column int) (*decodedSeries, *ColumnInfo, error) {
	if series < 0 || series >= len(r.entries) {
		return nil, nil, fmt.Errorf("colfile: %s: no column %d of series %d", r.path, column, series)
	}
	ds := r.entry(series)
	if column < 0 || column >= len(ds.info.Columns) {
		return nil, nil, fmt.Errorf("colfile: %s: no column %d of series %d", r.path, column, series)
	}
	return ds, &ds.info.Columns[column], nil
}

// ReadColumn reads, verifies and decodes every block of column column of
// series series (positions in Series and SeriesInfo.Columns). The returned
// column is newly allocated and owned by the caller. A damaged block yields
// a *CorruptionError naming the file, the series key, the column, the block
// index and the block's offset.
func (r *Reader) ReadColumn(series, column int) (model.Column, error) {
	ds, info, err := r.column(series, column)
	if err != nil {
		return model.Column{}, err
	}
	return r.readBlocks(context.Background(), ds, column, 0, len(info.Blocks))
}

// ReadBlock reads, verifies and decodes block block of a column (a
// position in ColumnInfo.Blocks). Ownership and errors are as for
// ReadColumn.
func (r *Reader) ReadBlock(series, column, block int) (model.Column, error) {
	return r.ReadBlockContext(context.Background(), series, column, block)
}

// ReadBlockContext is ReadBlock whose read is bound to ctx.
func (r *Reader) ReadBlockContext(ctx context.Context, series, column, block int) (model.Column, error) {
	ds, info, err := r.column(series, column)
	if err != nil {
		return model.Column{}, err
	}
	if block < 0 || block >= len(info.Blocks) {
		return model.Column{}, fmt.Errorf("colfile: %s: no block %d of column %d of series %d", r.path, block, column, series)
	}
	return r.readBlocks(ctx, ds, column, block, block+1)
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
	ds, info, err := r.column(series, column)
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
	if r.version >= 2 && (bs[lo].MinTime < min || bs[hi-1].MaxTime > max) {
		return r.readEdges(ctx, ds, column, lo, hi, min, max)
	}
	col, err := r.readBlocks(ctx, ds, column, lo, hi)
	if err != nil {
		return model.Column{}, err
	}
	if col.Times[0] >= min && col.Times[col.Len()-1] <= max {
		return col, nil
	}
	return col.Range(min, max), nil
}

// readEdges is ReadRangeContext over blocks [lo, hi) of a column when the
// first or the last of them reaches past [min, max] (a query's window
// starts or ends inside a block, as the partial buckets at its edges do).
// Those edge blocks decode into pooled scratch columns, the last one only
// up to max (encoding.Decode*Prefix), and only their values inside
// [min, max] are copied out; the blocks between decode straight into the
// result, which is allocated once at its exact size.
func (r *Reader) readEdges(ctx context.Context, ds *decodedSeries, column, lo, hi int, min, max int64) (model.Column, error) {
	info := &ds.info.Columns[column]
	bs := info.Blocks
	var head, tail model.Column
	first, last := lo, hi // the blocks inside [min, max]
	if bs[lo].MinTime < min || bs[lo].MaxTime > max {
		if err := ctx.Err(); err != nil {
			return model.Column{}, err
		}
		sc := getScratch(info.Kind)
		defer putScratch(sc)
		if err := r.readBlockIn(ctx, sc, ds, column, lo, min, max); err != nil {
			return model.Column{}, err
		}
		head = sc.Range(min, max)
		first = lo + 1
	}
	if hi-1 >= first && bs[hi-1].MaxTime > max {
		if err := ctx.Err(); err != nil {
			return model.Column{}, err
		}
		sc := getScratch(info.Kind)
		defer putScratch(sc)
		if err := r.readBlock(ctx, sc, ds, column, hi-1, max); err != nil {
			return model.Column{}, err
		}
		tail = sc.Range(min, max)
		last = hi - 1
	}
	want := head.Len() + tail.Len()
	for k := first; k < last; k++ {
		want += bs[k].Count
	}
	out := model.Column{Name: info.Name, Kind: info.Kind}
	if want == 0 {
		return out, nil
	}
	reserve(&out, want, int64(want))
	copyValues(&out, &head)
	for k := first; k < last; k++ {
		if err := ctx.Err(); err != nil {
			return model.Column{}, err
		}
		if err := r.readBlock(ctx, &out, ds, column, k, math.MaxInt64); err != nil {
			return model.Column{}, err
		}
	}
	copyValues(&out, &tail)
	return out, nil
}

// scratch holds the columns edge blocks decode into (readEdges).
var scratch sync.Pool

func getScratch(kind model.Kind) *model.Column {
	sc, _ := scratch.Get().(*model.Column)
	if sc == nil {
		sc = &model.Column{}
	}
	sc.Kind = kind
	return sc
}

// putScratch empties sc and returns it to the pool.
func putScratch(sc *model.Column) {
	clear(sc.Strings)
	*sc = model.Column{Times: sc.Times[:0], Floats: sc.Floats[:0], Ints: sc.Ints[:0],
		Uints: sc.Uints[:0], Bools: sc.Bools[:0], Strings: sc.Strings[:0]}
	scratch.Put(sc)
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
func (r *Reader) readBlocks(ctx context.Context, ds *decodedSeries, column, lo, hi int) (model.Column, error) {
	info := &ds.info.Columns[column]
	refs := ds.refs[column][lo:hi]
	col := model.Column{Name: info.Name, Kind: info.Kind}
	var want, stored int64
	for k := range refs {
		want += int64(info.Blocks[lo+k].Count)
		stored += refs[k].length
		if from := refs[k].timesFrom; from > 0 {
			stored += ds.refs[from-1][lo+k].length
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
		if err := r.readBlock(ctx, &col, ds, column, k, math.MaxInt64); err != nil {
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
func (r *Reader) readStored(ctx context.Context, ds *decodedSeries, column, k int, corrupt func(err error, format string, args ...any) error) ([]byte, error) {
	s := &ds.info
	ref := ds.refs[column][k]
	if r.onRead != nil {
		r.onRead(ds.i, column, k)
	}
	key := blockKey{r, ref.off}
	if stored, ok := storedBlocks.get(key); ok {
		return stored, nil
	}
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
	if ctx.Value(bulkRead{}) == nil {
		storedBlocks.put(key, stored, len(buf)+64)
		r.cachedMu.Lock()
		if r.cached == nil {
			r.cached = make(map[int64]struct{})
		}
		r.cached[ref.off] = struct{}{}
		r.cachedMu.Unlock()
	}
	return stored, nil
}

// corruptBlock returns a function making CorruptionErrors for block k of a
// column, at that block's offset.
func (r *Reader) corruptBlock(ds *decodedSeries, column, k int, suffix string) func(err error, format string, args ...any) error {
	s := &ds.info
	off := ds.refs[column][k].off
	return func(err error, format string, args ...any) error {
		what := fmt.Sprintf("block %d of series %q column %q%s: ", k, s.Key, s.Columns[column].Name, suffix) + fmt.Sprintf(format, args...)
		return &CorruptionError{Path: r.path, Offset: off, What: what, Err: err}
	}
}

// readBlock reads, verifies and decodes block k of a column and appends
// its values whose times are at most upTo to col (math.MaxInt64: all of
// them). A block whose times are shared gets them by reading and decoding
// the times of the block it shares them with. The times are checked
// against the index whole; the statistics only when the block decodes
// whole (a cut block's values are those up to upTo: numbers stop decoding
// there).
func (r *Reader) readBlock(ctx context.Context, col *model.Column, ds *decodedSeries, column, k int, upTo int64) error {
	return r.readBlockIn(ctx, col, ds, column, k, math.MinInt64, upTo)
}

// readBlockIn is readBlock that may also leave out the values before from
// (a window that starts inside the block): a block of numbers then
// decodes from its last restart point before from (encoding's
// Decode*Range), not from its start. col gets the block's times and values
// from the first it decoded.
func (r *Reader) readBlockIn(ctx context.Context, col *model.Column, ds *decodedSeries, column, k int, from, upTo int64) error {
	info := &ds.info.Columns[column]
	bi := &info.Blocks[k]
	ref := ds.refs[column][k]
	corrupt := r.corruptBlock(ds, column, k, "")

	stored, err := r.readStored(ctx, ds, column, k, corrupt)
	if err != nil {
		return err
	}
	var all []int64 // the owner's times, for a block whose times are shared
	if ref.timesFrom > 0 {
		if all, err = r.ownerTimes(ctx, ds, column, k); err != nil {
			return err
		}
	}
	r.decoded.Add(1)
	if r.onDecode != nil {
		r.onDecode(ds.i, column, k)
	}

	start := col.Len()
	switch {
	case r.version == 1:
		dec, err := decodeBlockV1(stored, info.Kind, bi.Count)
		if err != nil {
			return corrupt(err, "decode")
		}
		appendColumn(col, &dec)
	case ref.union:
		ts, err := decodeUnionBlockAll(col, stored, bi.Count, ref.sparse, upTo)
		if err != nil {
			return corrupt(err, "decode")
		}
		if sharesTimes(ds, column, k) {
			sharedTimes.put(timesKey{r, ds.i, column, k}, ts, timesSize(ts)) // a slice of their own
		}
	case ref.subset:
		if err := decodeSubsetBlockUpTo(col, stored, bi.Count, all, ref.sparse, upTo); err != nil {
			return corrupt(err, "decode")
		}
	default:
		// The block's times are its own or another column's (all).
		return r.readTimedBlock(col, ds, column, k, stored, all, from, upTo, corrupt)
	}

	ts := col.Times[start:]
	if ts[0] != bi.MinTime || ts[len(ts)-1] != bi.MaxTime {
		return corrupt(nil, "times span [%d, %d], index says [%d, %d]", ts[0], ts[len(ts)-1], bi.MinTime, bi.MaxTime)
	}
	if start > 0 && ts[0] <= col.Times[start-1] {
		return corrupt(nil, "block starts at %d, not after the previous block's %d", ts[0], col.Times[start-1])
	}
	if n := valuesLen(col); n < len(col.Times) {
		col.Times = col.Times[:n] // cut at upTo
		return nil
	}
	got := col.Slice(start, col.Len())
	if bi.Stats {
		if st := blockStats(&got); !sameBlockInfo(&st, bi) {
			return corrupt(nil, "statistics of the decoded values differ from the index")
		}
	}
	return nil
}

// readTimedBlock is readBlockIn for a block that stores its own times
// (all nil) or has exactly those of another column's block (all): it
// appends to col only the times and values in [from, upTo], and checks
// the statistics when that is the whole block.
func (r *Reader) readTimedBlock(col *model.Column, ds *decodedSeries, column, k int, stored []byte, all []int64, from, upTo int64, corrupt func(err error, format string, args ...any) error) error {
	bi := &ds.info.Columns[column].Blocks[k]
	if err := checkCount(bi.Count); err != nil {
		return corrupt(err, "decode")
	}
	body, err := blockBody(stored)
	if err != nil {
		return corrupt(err, "decode")
	}
	ts, values := all, body
	if all == nil {
		sc := getTimes()
		defer putTimes(sc)
		if sc.ts, values, err = decodeBodyTimes(sc.ts[:0], body, bi.Count); err != nil {
			return corrupt(err, "decode")
		}
		ts = sc.ts
		if sharesTimes(ds, column, k) {
			own := slices.Clone(ts)
			sharedTimes.put(timesKey{r, ds.i, column, k}, own, timesSize(own))
		}
	} else if len(all) != bi.Count {
		return corrupt(nil, "%d shared times, index says %d", len(all), bi.Count)
	}
	if ts[0] != bi.MinTime || ts[len(ts)-1] != bi.MaxTime {
		return corrupt(nil, "times span [%d, %d], index says [%d, %d]", ts[0], ts[len(ts)-1], bi.MinTime, bi.MaxTime)
	}
	start := col.Len()
	if start > 0 && ts[0] <= col.Times[start-1] {
		return corrupt(nil, "block starts at %d, not after the previous block's %d", ts[0], col.Times[start-1])
	}
	skip, cut, err := decodeValuesIn(col, values, ts, from, upTo)
	if err != nil {
		return corrupt(err, "decode")
	}
	col.Times = append(col.Times, ts[skip:cut]...)
	if skip > 0 || cut < len(ts) || !bi.Stats {
		return nil // part of the block: its statistics do not apply
	}
	got := col.Slice(start, col.Len())
	if st := blockStats(&got); !sameBlockInfo(&st, bi) {
		return corrupt(nil, "statistics of the decoded values differ from the index")
	}
	return nil
}

// timesScratch holds the times of a block being read (readTimedBlock).
type timesScratch struct{ ts []int64 }

var timesPool = sync.Pool{New: func() any { return new(timesScratch) }}

func getTimes() *timesScratch { return timesPool.Get().(*timesScratch) }

func putTimes(sc *timesScratch) {
	if cap(sc.ts) <= MaxBlockSize {
		timesPool.Put(sc)
	}
}

// ownerTimes returns the times that block k of a column takes from the
// block at the same position of another column (its owner, blockRef's
// timesFrom): the owner's own times, or its union times. They come from
// sharedTimes when another read has decoded them; else the owner's stored
// bytes are read, checked and decoded, and cached. The result must not be
// modified.
func (r *Reader) ownerTimes(ctx context.Context, ds *decodedSeries, column, k int) ([]int64, error) {
	owner := ds.refs[column][k].timesFrom - 1
	key := timesKey{r, ds.i, owner, k}
	if ts, ok := sharedTimes.get(key); ok {
		return ts, nil
	}
	// Open checked that the owner is an earlier column of the series
	// whose block k stores its own times, with this block's time range.
	ownerCorrupt := r.corruptBlock(ds, owner, k, fmt.Sprintf(" (holding the times of column %q)", ds.info.Columns[column].Name))
	stored, err := r.readStored(ctx, ds, owner, k, ownerCorrupt)
	if err != nil {
		return nil, err
	}
	var all []int64
	if ds.refs[owner][k].union {
		all, err = decodeUnionBlockTimes(stored)
	} else {
		all, err = decodeBlockTimes(nil, stored, ds.info.Columns[owner].Blocks[k].Count)
	}
	if err != nil {
		return nil, ownerCorrupt(err, "decode times")
	}
	sharedTimes.put(key, all, timesSize(all))
	return all, nil
}

// copyValues appends the values of src to dst, which has the same kind,
// copying them (appendColumn may take src's slices).
func copyValues(dst, src *model.Column) {
	if src.Len() == 0 {
		return
	}
	dst.Times = append(dst.Times, src.Times...)
	switch dst.Kind {
	case model.KindFloat:
		dst.Floats = append(dst.Floats, src.Floats...)
	case model.KindInt:
		dst.Ints = append(dst.Ints, src.Ints...)
	case model.KindUint:
		dst.Uints = append(dst.Uints, src.Uints...)
	case model.KindBool:
		dst.Bools = append(dst.Bools, src.Bools...)
	case model.KindString:
		dst.Strings = append(dst.Strings, src.Strings...)
	}
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
	decodedCache.drop(r)
	sharedTimes.drop(r)
	r.cachedMu.Lock()
	keys := make([]blockKey, 0, len(r.cached))
	for off := range r.cached {
		keys = append(keys, blockKey{r, off})
	}
	storedBlocks.forget(keys)
	r.cached = nil
	r.cachedMu.Unlock()
	if r.closer == nil {
		return nil
	}
	err := r.closer.Close()
	r.closer = nil
	return err
}
