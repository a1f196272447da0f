package colfile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unique"

	"github.com/golang/snappy"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
)

// WriteOptions holds the optional parameters of WriteWith. A nil
// *WriteOptions and the zero value both mean the defaults.
type WriteOptions struct {
	// BlockSize is the largest number of values per block; 0 means
	// DefaultBlockSize. It must not exceed MaxBlockSize. Smaller blocks
	// make range scans finer and the index larger.
	BlockSize int
	// Replaces lists the Seq numbers of the files a compaction merged into
	// this one (see Meta.Replaces); nil for a flush. WriteWith records it
	// sorted and without duplicates; it must not contain the file's own seq.
	Replaces []uint64
	// FS is the filesystem to write through; nil means vfs.Default.
	FS vfs.FS
	// NoStats leaves the block statistics out of the index (every column's
	// kind byte then has the noStats bit). For files whose readers never
	// use them, such as rollup files, whose string columns would repeat
	// their first and last values there.
	NoStats bool
	// Yield, when set, is called before each column is encoded: a
	// background writer's chance to give way to more urgent work.
	Yield func()
	// StringFields lets string blocks take the fields scheme
	// (encoding.AppendStringsFields, version 5) where it is smaller: for
	// strings of uvarints, such as rollup rows, a third to a half fewer
	// bytes, decoded about twice as slowly.
	StringFields bool
}

// Write writes a colfile holding series to path with the default options.
// It is WriteWith(path, collection, group, seq, series, nil).
func Write(path, collection string, group int, seq uint64, series []SeriesData) (Meta, error) {
	return WriteWith(path, collection, group, seq, series, nil)
}

// WriteWith writes a colfile holding series to path, atomically: it writes
// path+".tmp", fsyncs it, renames it to path and fsyncs the directory. It
// validates all input before creating anything; on any error nothing new is
// left at path and the tmp file is removed. (If the directory fsync fails
// after the rename, WriteWith removes path again, so an existing file at
// path is lost in that case.) WriteWith computes MinTime, MaxTime and Points
// of the returned Meta. It does not modify series or opts.
func WriteWith(path, collection string, group int, seq uint64, series []SeriesData, opts *WriteOptions) (Meta, error) {
	return writeFile(path, collection, group, seq, series, opts, nil)
}

// writeFile is WriteWith. When keep is not nil, it also records there what
// a Reader over the file holds (WriteOpen).
func writeFile(path, collection string, group int, seq uint64, series []SeriesData, opts *WriteOptions, keep *written) (meta Meta, err error) {
	var o WriteOptions
	if opts != nil {
		o = *opts
	}
	if o.BlockSize == 0 {
		o.BlockSize = DefaultBlockSize
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.BlockSize < 1 || o.BlockSize > MaxBlockSize {
		return Meta{}, fmt.Errorf("colfile: write %s: block size %d outside [1, %d]", path, o.BlockSize, MaxBlockSize)
	}
	meta = Meta{Collection: collection, Group: group, Seq: seq}
	if len(o.Replaces) > 0 {
		meta.Replaces = slices.Compact(slices.Sorted(slices.Values(o.Replaces)))
		if _, found := slices.BinarySearch(meta.Replaces, seq); found {
			return Meta{}, fmt.Errorf("colfile: write %s: file %d cannot replace itself", path, seq)
		}
	}
	if len(collection) > MaxCollectionLen {
		return Meta{}, fmt.Errorf("colfile: write %s: collection name of %d bytes exceeds %d", path, len(collection), MaxCollectionLen)
	}
	sorted, err := prepare(collection, series)
	if err != nil {
		return Meta{}, fmt.Errorf("colfile: write %s: %w", path, err)
	}
	for _, s := range sorted {
		for _, c := range s.cols {
			lo, hi := c.Times[0], c.Times[len(c.Times)-1]
			if meta.Points == 0 {
				meta.MinTime, meta.MaxTime = lo, hi
			}
			meta.MinTime = min(meta.MinTime, lo)
			meta.MaxTime = max(meta.MaxTime, hi)
			meta.Points += len(c.Times)
		}
	}

	fs := o.FS
	tmp := path + ".tmp"
	f, err := fs.Create(tmp)
	if err != nil {
		return Meta{}, fmt.Errorf("colfile: create tmp file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close() // May already be closed; the write error matters.
			_ = fs.Remove(tmp)
			meta = Meta{}
		}
	}()
	if err = writeTo(f, meta, sorted, o.BlockSize, o.NoStats, o.StringFields, o.Yield, keep); err != nil {
		return meta, fmt.Errorf("colfile: write %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return meta, fmt.Errorf("colfile: sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return meta, fmt.Errorf("colfile: close %s: %w", tmp, err)
	}
	if err = fs.Rename(tmp, path); err != nil {
		return meta, fmt.Errorf("colfile: rename tmp file: %w", err)
	}
	if err = fs.SyncDir(filepath.Dir(path)); err != nil {
		_ = fs.Remove(path)
		return meta, fmt.Errorf("colfile: sync directory: %w", err)
	}
	return meta, nil
}

// preparedSeries is one validated input series with its tags and columns
// sorted into file order.
type preparedSeries struct {
	key  string
	tags model.Tags
	cols []*model.Column
}

// prepare validates the input and returns it in file order without
// modifying it. It allocates per call, not per series, unless a series'
// tags need sorting or its key is not given.
func prepare(collection string, series []SeriesData) ([]preparedSeries, error) {
	out := make([]preparedSeries, len(series))
	n := 0
	for i := range series {
		n += len(series[i].Columns)
	}
	ptrs := make([]*model.Column, n)
	for i := range series {
		s := &series[i]
		tags := s.Tags
		if !slices.IsSortedFunc(tags, tagOrder) {
			tags = slices.Clone(tags)
			slices.SortStableFunc(tags, tagOrder)
		}
		for j := 1; j < len(tags); j++ {
			if tags[j].Key == tags[j-1].Key {
				return nil, fmt.Errorf("series %d: duplicate tag key %q", i, tags[j].Key)
			}
		}
		key := s.Key
		if key == "" {
			key = model.SeriesKey(collection, tags)
		} else if !keyIs(key, collection, tags) {
			return nil, fmt.Errorf("series %d: key %q is not the key of its collection and tags", i, key)
		}
		if len(s.Columns) == 0 {
			return nil, fmt.Errorf("series %q: no columns", key)
		}
		cols := ptrs[:len(s.Columns):len(s.Columns)]
		ptrs = ptrs[len(s.Columns):]
		for j := range s.Columns {
			cols[j] = &s.Columns[j]
		}
		slices.SortFunc(cols, func(a, b *model.Column) int { return strings.Compare(a.Name, b.Name) })
		for j, c := range cols {
			if j > 0 && c.Name == cols[j-1].Name {
				return nil, fmt.Errorf("series %q: duplicate column %q", key, c.Name)
			}
			if err := checkColumn(c); err != nil {
				return nil, fmt.Errorf("series %q: %w", key, err)
			}
		}
		out[i] = preparedSeries{key: key, tags: tags, cols: cols}
	}
	slices.SortFunc(out, func(a, b preparedSeries) int { return strings.Compare(a.key, b.key) })
	for i := 1; i < len(out); i++ {
		if out[i].key == out[i-1].key {
			return nil, fmt.Errorf("duplicate series %q", out[i].key)
		}
	}
	return out, nil
}

// countingWriter tracks the offset of everything written through it.
type countingWriter struct {
	w   *bufio.Writer
	off uint64
	err error
	crc [blockTrailerSize]byte // room for a block trailer (writeBlock)
}

func (cw *countingWriter) write(b []byte) {
	if cw.err != nil {
		return
	}
	n, err := cw.w.Write(b)
	cw.off += uint64(n)
	cw.err = err
}

// appendIndexHead appends the file-level part of an index: the meta and,
// for version 2, the replaced files. It does not include the series count.
func appendIndexHead(idx []byte, meta *Meta, version int) []byte {
	idx = appendString(idx, meta.Collection)
	idx = binary.AppendVarint(idx, int64(meta.Group))
	idx = binary.AppendUvarint(idx, meta.Seq)
	idx = binary.AppendVarint(idx, meta.MinTime)
	idx = binary.AppendVarint(idx, meta.MaxTime)
	idx = binary.AppendUvarint(idx, uint64(meta.Points))
	if version >= 2 {
		idx = binary.AppendUvarint(idx, uint64(len(meta.Replaces)))
		prev := uint64(0)
		for i, s := range meta.Replaces {
			if i == 0 {
				idx = binary.AppendUvarint(idx, s)
			} else {
				idx = binary.AppendUvarint(idx, s-prev-1)
			}
			prev = s
		}
	}
	return idx
}

// appendTags appends a series' tags to an index.
func appendTags(idx []byte, tags model.Tags) []byte {
	idx = binary.AppendUvarint(idx, uint64(len(tags)))
	for _, t := range tags {
		idx = appendString(idx, t.Key)
		idx = appendString(idx, t.Value)
	}
	return idx
}

// writeTo writes the complete version 2 file: header, blocks, index and
// footer.
func writeTo(w io.Writer, meta Meta, series []preparedSeries, blockSize int, noStats, stringFields bool, yield func(), keep *written) error {
	ws := getWriteScratch(w)
	defer putWriteScratch(ws)
	cw := &countingWriter{w: ws.bw}
	writeHeader(cw, Version)

	// The index is built in memory while the blocks stream out.
	idx := appendIndexHead(ws.idx[:0], &meta, Version)
	idx = binary.AppendUvarint(idx, uint64(len(series)))
	enc := &ws.enc
	enc.fields = stringFields // the scratch is shared between files
	owners := &ws.owners
	blocks := ws.blocks[:0]
	defer func() { ws.blocks = blocks[:0] }()
	if keep != nil {
		keep.entries = make([]seriesEntry, 0, len(series))
	}
	for _, s := range series {
		if keep != nil {
			// One copy of a key serves every file and the DB's series
			// index, as for the keys Open reads (parseIndex).
			keep.entries = append(keep.entries, seriesEntry{key: unique.Make(s.key), off: len(idx), next: int64(cw.off)})
		}
		idx = appendTags(idx, s.tags)
		nCols := len(s.cols)
		idx = binary.AppendUvarint(idx, uint64(nCols))
		owners.reset()
		base, subset, union := planSubsets(s.cols, blockSize, enc, ws.subset[:0])
		ws.subset = subset
		for j, c := range s.cols {
			if yield != nil {
				yield()
			}
			n := c.Len()
			blocks = blocks[:0]
			if union != nil && (j == base || subset[j]) {
				// Cut at blocks of the union of the series' times; the
				// base's blocks store the union and select their own
				// times, the subset columns select theirs from it.
				lo := 0
				for b := 0; b*blockSize < len(union); b++ {
					all := union[b*blockSize : min((b+1)*blockSize, len(union))]
					hi := lo
					for hi < n && c.Times[hi] <= all[len(all)-1] {
						hi++
					}
					blk := c.Slice(lo, hi)
					sel, sparse := enc.subsetSelection(all, blk.Times)
					var stored []byte
					var from int
					if j == base {
						stored, from = enc.encodeUnion(&blk, all, sel), 3*nCols+1
					} else {
						stored, from = enc.encode(&blk, true, sel), nCols+base+1
					}
					if sparse {
						from += nCols
						if j == base {
							from = 3*nCols + 2
						}
					}
					blocks = writeBlock(cw, blocks, stored, &blk, from)
					lo = hi
				}
			} else if subset[j] {
				// Cut at the base column's blocks; each block holds a
				// subset of the base block's times.
				bt := s.cols[base].Times
				lo := 0
				for b := 0; b*blockSize < len(bt); b++ {
					all := bt[b*blockSize : min((b+1)*blockSize, len(bt))]
					hi := lo
					for hi < n && c.Times[hi] <= all[len(all)-1] {
						hi++
					}
					blk := c.Slice(lo, hi)
					sel, sparse := enc.subsetSelection(all, blk.Times)
					from := nCols + base + 1
					if sparse {
						from += nCols
					}
					blocks = writeBlock(cw, blocks, enc.encode(&blk, true, sel), &blk, from)
					lo = hi
				}
			} else {
				for b, lo := 0, 0; lo < n; b, lo = b+1, lo+blockSize {
					blk := c.Slice(lo, min(lo+blockSize, n))
					from := -1
					if j != base || union != nil { // the base keeps its own times: subsets refer to it
						from = owners.find(s.cols, b, lo, blockSize, blk.Times)
					}
					if from < 0 {
						owners.add(b, j)
					}
					blocks = writeBlock(cw, blocks, enc.encode(&blk, from >= 0, nil), &blk, from+1)
				}
			}
			idx = appendColumnEntry(idx, c, blocks, noStats)
		}
		if cw.err != nil {
			return cw.err
		}
	}
	ws.idx = idx // the grown buffer serves the next file
	if keep != nil {
		keep.index = bytes.Clone(idx)
		keep.dataEnd = int64(cw.off)
	}
	ws.stored = appendStoredIndex(ws.stored[:0], idx)
	writeIndexAndFooter(cw, ws.stored)
	if cw.err != nil {
		return cw.err
	}
	return cw.w.Flush()
}

// written is what writeTo records, when asked, for a Reader over the file
// it writes (WriteOpen): what Open would read back and keep.
type written struct {
	index   []byte // the index, uncompressed
	entries []seriesEntry
	dataEnd int64 // where the index starts
}

// writeScratch is the memory one writeTo call works in; it is pooled so
// that a flush writing a file per group and partition, or a compaction,
// does not grow it again for each file.
type writeScratch struct {
	bw     *bufio.Writer
	idx    []byte // the index being built
	stored []byte // its stored form
	enc    blockEncoder
	owners timeOwners
	blocks []pendingBlock
	subset []bool
}

// maxPooledIndex is the largest index buffer kept for the next file: a
// large compaction's index is let go rather than held by the pool.
const maxPooledIndex = 16 << 20

var writeScratchPool = sync.Pool{New: func() any {
	return &writeScratch{bw: bufio.NewWriterSize(nil, 256<<10)}
}}

// getWriteScratch returns pooled scratch memory whose buffered writer
// writes to w.
func getWriteScratch(w io.Writer) *writeScratch {
	ws := writeScratchPool.Get().(*writeScratch)
	ws.bw.Reset(w)
	return ws
}

// putWriteScratch returns ws to the pool, dropping its references to
// the file and to oversized buffers.
func putWriteScratch(ws *writeScratch) {
	ws.bw.Reset(nil)
	if cap(ws.idx) > maxPooledIndex {
		ws.idx = nil
	}
	if cap(ws.stored) > maxPooledIndex {
		ws.stored = nil
	}
	writeScratchPool.Put(ws)
}

// pendingBlock is a block written to the file whose index entry is not
// yet appended: the entries of a column follow its kind byte, and the form
// of their statistics depends on all of them.
type pendingBlock struct {
	info   BlockInfo
	from   int // the entry's times from field
	length int // stored length, without the CRC
}

// writeBlock writes a block's stored bytes and CRC and adds its entry, for
// the values blk and times from field from, to blocks.
func writeBlock(cw *countingWriter, blocks []pendingBlock, stored []byte, blk *model.Column, from int) []pendingBlock {
	cw.write(stored)
	binary.LittleEndian.PutUint32(cw.crc[:], checksum(stored))
	cw.write(cw.crc[:])
	return append(blocks, pendingBlock{info: blockStats(blk), from: from, length: len(stored)})
}

// appendColumnEntry appends the index entry of column c, whose blocks were
// written: its name, its kind byte and its block entries. A float column
// takes the compact statistics when they are smaller in total.
func appendColumnEntry(idx []byte, c *model.Column, blocks []pendingBlock, noStats bool) []byte {
	idx = appendString(idx, c.Name)
	kind := byte(c.Kind)
	compact := false
	switch {
	case noStats:
		kind |= kindNoStats
	case c.Kind == model.KindFloat:
		var buf [64]byte
		size := 0
		for k := range blocks {
			size += len(appendCompactFloats(buf[:0], &blocks[k].info))
		}
		if compact = size < 40*len(blocks); compact {
			kind |= kindCompactFloats
		}
	}
	idx = append(idx, kind)
	idx = binary.AppendUvarint(idx, uint64(len(blocks)))
	for k := range blocks {
		b := &blocks[k]
		idx = binary.AppendUvarint(idx, uint64(b.info.Count))
		idx = binary.AppendUvarint(idx, uint64(b.from))
		if k == 0 {
			idx = binary.AppendVarint(idx, b.info.MinTime)
		} else {
			idx = binary.AppendUvarint(idx, uint64(b.info.MinTime)-uint64(blocks[k-1].info.MaxTime))
		}
		idx = binary.AppendUvarint(idx, uint64(b.info.MaxTime)-uint64(b.info.MinTime))
		idx = binary.AppendUvarint(idx, uint64(b.length))
		switch {
		case noStats:
		case compact:
			idx = appendCompactFloats(idx, &b.info)
		default:
			idx = appendStats(idx, c.Kind, &b.info)
		}
	}
	return idx
}

// planSubsets picks the series' base column (the first with the most
// values) and the columns that hold a strict subset of its times, with at
// least one value in each of its blocks: those store a selection of the
// base's times (subsetSelection) instead of their own (a column with some
// missing values would otherwise repeat nearly the same timestamps).
//
// When some columns are not such subsets (each field of a reading may be
// missing on its own, so no column holds every time) and cutting at
// blocks of the union of all the columns' times makes more columns
// subsets, it returns that union as well: the base then stores the union
// in each of its blocks (encodeUnion) and the columns marked in subset,
// which have a value in each block of the union, select from it. It takes
// the union only when that makes the times smaller (timesBytes); e is
// scratch space.
func planSubsets(cols []*model.Column, blockSize int, e *blockEncoder, subset []bool) (int, []bool, []int64) {
	base := 0
	for j, c := range cols {
		if c.Len() > cols[base].Len() {
			base = j
		}
	}
	subset = slices.Grow(subset[:0], len(cols))[:len(cols)]
	clear(subset)
	bt := cols[base].Times
	covered, missed := 0, 0
	for j, c := range cols {
		if j == base {
			continue
		}
		if c.Len() == len(bt) {
			if slices.Equal(c.Times, bt) {
				covered++
			} else {
				missed++
			}
			continue
		}
		if subset[j] = isSubset(c.Times, bt, blockSize); subset[j] {
			covered++
		} else {
			missed++
		}
	}
	if missed == 0 {
		return base, subset, nil
	}
	union := seriesTimes(cols)
	usub := make([]bool, len(cols))
	ucovered := 0
	for j, c := range cols {
		if j != base && valueInEveryBlock(c.Times, union, blockSize) {
			usub[j] = true
			ucovered++
		}
	}
	if ucovered <= covered || !valueInEveryBlock(bt, union, blockSize) {
		return base, subset, nil
	}
	cost := make([]int, 0, (len(bt)+blockSize-1)/blockSize)
	for lo := 0; lo < len(bt); lo += blockSize {
		e.times = appendTimes(e.times[:0], bt[lo:min(lo+blockSize, len(bt))])
		cost = append(cost, len(e.times))
	}
	if timesBytes(cols, base, usub, union, blockSize, e, cost) >= timesBytes(cols, base, subset, nil, blockSize, e, cost) {
		return base, subset, nil
	}
	return base, usub, union
}

// timesBytes estimates how many bytes the times of a series take, written
// in blocks of blockSize as planSubsets planned them (base, subset and
// union as it returns them): the selections, counted exactly, and the
// times stored, each block counted as the base column's block with the
// same number (cost, its encoded sizes), which the other columns' times
// and the union nearly equal: encoding every candidate block would double
// the writer's work on such series.
func timesBytes(cols []*model.Column, base int, subset []bool, union []int64, blockSize int, e *blockEncoder, cost []int) int {
	est := func(b int) int { return cost[min(b, len(cost)-1)] }
	bt := cols[base].Times
	if union != nil {
		bt = union
	}
	size := 0
	selected := func(c *model.Column) { // the blocks of c cut at bt's
		lo := 0
		for b := 0; b*blockSize < len(bt); b++ {
			all := bt[b*blockSize : min((b+1)*blockSize, len(bt))]
			hi := lo
			for hi < c.Len() && c.Times[hi] <= all[len(all)-1] {
				hi++
			}
			sel, _ := e.subsetSelection(all, c.Times[lo:hi])
			size += len(sel)
			if union != nil && c == cols[base] {
				size += est(b)
			}
			lo = hi
		}
	}
	var owners timeOwners
	for j, c := range cols {
		if union != nil && j == base || subset[j] {
			selected(c)
			continue
		}
		for b, lo := 0, 0; lo < c.Len(); b, lo = b+1, lo+blockSize {
			blk := c.Times[lo:min(lo+blockSize, c.Len())]
			if j != base || union != nil {
				if owners.find(cols, b, lo, blockSize, blk) >= 0 {
					continue
				}
			}
			owners.add(b, j)
			size += est(b)
		}
	}
	return size
}

// isSubset reports whether the times ts (sorted) are all among bt
// (sorted), with at least one in each block of blockSize of bt.
func isSubset(ts, bt []int64, blockSize int) bool {
	i := 0
	for b := 0; b*blockSize < len(bt); b++ {
		last := bt[min((b+1)*blockSize, len(bt))-1]
		inBlock := 0
		for ; i < len(ts) && ts[i] <= last; i++ {
			if _, found := slices.BinarySearch(bt[b*blockSize:], ts[i]); !found {
				return false
			}
			inBlock++
		}
		if inBlock == 0 {
			return false
		}
	}
	return i == len(ts)
}

// valueInEveryBlock reports whether the times ts (sorted, all among
// union) have at least one in each block of blockSize of union.
func valueInEveryBlock(ts, union []int64, blockSize int) bool {
	i := 0
	for b := 0; b*blockSize < len(union); b++ {
		last := union[min((b+1)*blockSize, len(union))-1]
		inBlock := 0
		for ; i < len(ts) && ts[i] <= last; i++ {
			inBlock++
		}
		if inBlock == 0 {
			return false
		}
	}
	return true
}

// seriesTimes returns the sorted union of the columns' times.
func seriesTimes(cols []*model.Column) []int64 {
	n := 0
	for _, c := range cols {
		n = max(n, c.Len())
	}
	u := make([]int64, 0, n+n/8)
	for _, c := range cols {
		u = mergeTimes(u, c.Times)
	}
	return u
}

// mergeTimes returns the sorted union of a and b (both sorted, unique),
// reusing a's memory when it can.
func mergeTimes(a, b []int64) []int64 {
	extra := 0
	i := 0
	for _, t := range b {
		for i < len(a) && a[i] < t {
			i++
		}
		if i == len(a) || a[i] != t {
			extra++
		}
	}
	if extra == 0 {
		return a
	}
	out := make([]int64, len(a)+extra)
	i, j, k := len(a)-1, len(b)-1, len(out)-1
	for ; j >= 0; k-- {
		switch {
		case i >= 0 && a[i] > b[j]:
			out[k] = a[i]
			i--
		case i >= 0 && a[i] == b[j]:
			out[k] = a[i]
			i--
			j--
		default:
			out[k] = b[j]
			j--
		}
	}
	copy(out[:k+1], a[:i+1])
	return out
}

// timeOwners records, while one series is written, which columns store
// their own times in each block position, so that a later column whose
// block holds the same times can refer to one of them instead of storing
// the times again.
type timeOwners struct {
	cols [][]int // cols[b]: the columns whose block b stores its times
}

// reset forgets the previous series, keeping the memory.
func (o *timeOwners) reset() {
	for b := range o.cols {
		o.cols[b] = o.cols[b][:0]
	}
}

// add records that block b of column j stores its times.
func (o *timeOwners) add(b, j int) {
	for len(o.cols) <= b {
		o.cols = append(o.cols, nil)
	}
	o.cols[b] = append(o.cols[b], j)
}

// find returns the position of an earlier column of the series whose block
// b, which starts at value lo and holds at most bs values, stores exactly
// the times ts, or -1.
func (o *timeOwners) find(cols []*model.Column, b, lo, bs int, ts []int64) int {
	if b >= len(o.cols) {
		return -1
	}
	for _, k := range o.cols[b] {
		other := cols[k].Times
		other = other[lo:min(lo+bs, len(other))]
		if len(other) == len(ts) && (&other[0] == &ts[0] || slices.Equal(other, ts)) {
			return k
		}
	}
	return -1
}

// writeHeader writes the magic and the version.
func writeHeader(cw *countingWriter, version uint16) {
	var hdr [HeaderSize]byte
	copy(hdr[:], Magic)
	binary.LittleEndian.PutUint16(hdr[8:], version)
	cw.write(hdr[:])
}

// writeIndexAndFooter writes the index at the current offset and the footer
// pointing at it.
func writeIndexAndFooter(cw *countingWriter, idx []byte) {
	idxOff := cw.off
	cw.write(idx)
	var foot [FooterSize]byte
	binary.LittleEndian.PutUint64(foot[0:], idxOff)
	binary.LittleEndian.PutUint64(foot[8:], uint64(len(idx)))
	binary.LittleEndian.PutUint32(foot[16:], checksum(idx))
	binary.LittleEndian.PutUint32(foot[20:], checksum(foot[:20]))
	copy(foot[24:], Magic)
	cw.write(foot[:])
}

// storedIndex returns the stored form of a version 3 index: the flag
// indexSnappy and the snappy-compressed index when that is smaller, else
// indexRaw and the index.
func storedIndex(idx []byte) []byte { return appendStoredIndex(nil, idx) }

// appendStoredIndex is storedIndex appending to dst, whose memory it
// reuses when it has room.
func appendStoredIndex(dst, idx []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 1+snappy.MaxEncodedLen(len(idx)))
	out := dst[n : n+1+snappy.MaxEncodedLen(len(idx))]
	if c := snappy.Encode(out[1:], idx); len(c) < len(idx) {
		out[0] = indexSnappy
		return dst[:n+1+len(c)]
	}
	dst = append(dst[:n], indexRaw)
	return append(dst, idx...)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}
