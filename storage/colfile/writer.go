package colfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/golang/snappy"
	"github.com/soltixdb/soltix/model"
)

// Write writes a colfile holding series to path, atomically: it writes
// path+".tmp", fsyncs it, renames it to path and fsyncs the directory. It
// validates all input before creating anything; on any error nothing new is
// left at path and the tmp file is removed. (If the directory fsync fails
// after the rename, Write removes path again, so an existing file at path is
// lost in that case.) Write computes MinTime, MaxTime and Points of the
// returned Meta. It does not modify series.
func Write(path, collection string, group int, seq uint64, series []SeriesData) (meta Meta, err error) {
	meta = Meta{Collection: collection, Group: group, Seq: seq}
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

	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return Meta{}, fmt.Errorf("colfile: create tmp file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close() // May already be closed; the write error matters.
			_ = os.Remove(tmp)
			meta = Meta{}
		}
	}()
	if err = writeTo(f, meta, sorted); err != nil {
		return meta, fmt.Errorf("colfile: write %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return meta, fmt.Errorf("colfile: sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return meta, fmt.Errorf("colfile: close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return meta, fmt.Errorf("colfile: rename tmp file: %w", err)
	}
	if err = syncDir(filepath.Dir(path)); err != nil {
		_ = os.Remove(path)
		return meta, fmt.Errorf("colfile: sync directory: %w", err)
	}
	return meta, nil
}

// syncDir fsyncs a directory so that a rename inside it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// preparedSeries is one validated input series with its tags and columns
// sorted into file order.
type preparedSeries struct {
	key  string
	tags model.Tags
	cols []*model.Column
}

// prepare validates the input and returns it in file order without
// modifying it.
func prepare(collection string, series []SeriesData) ([]preparedSeries, error) {
	out := make([]preparedSeries, len(series))
	for i := range series {
		s := &series[i]
		tags := append(model.Tags(nil), s.Tags...)
		sort.SliceStable(tags, func(a, b int) bool { return tags[a].Key < tags[b].Key })
		for j := 1; j < len(tags); j++ {
			if tags[j].Key == tags[j-1].Key {
				return nil, fmt.Errorf("series %d: duplicate tag key %q", i, tags[j].Key)
			}
		}
		key := model.SeriesKey(collection, tags)
		if len(s.Columns) == 0 {
			return nil, fmt.Errorf("series %q: no columns", key)
		}
		cols := make([]*model.Column, len(s.Columns))
		for j := range s.Columns {
			cols[j] = &s.Columns[j]
		}
		sort.Slice(cols, func(a, b int) bool { return cols[a].Name < cols[b].Name })
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
	sort.Slice(out, func(a, b int) bool { return out[a].key < out[b].key })
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
}

func (cw *countingWriter) write(b []byte) {
	if cw.err != nil {
		return
	}
	n, err := cw.w.Write(b)
	cw.off += uint64(n)
	cw.err = err
}

// writeTo writes the complete file: header, blocks, index and footer.
func writeTo(f *os.File, meta Meta, series []preparedSeries) error {
	cw := &countingWriter{w: bufio.NewWriterSize(f, 256<<10)}

	var hdr [HeaderSize]byte
	copy(hdr[:], Magic)
	binary.LittleEndian.PutUint16(hdr[8:], Version)
	cw.write(hdr[:])

	// The index is built in memory while the blocks stream out.
	idx := binary.AppendUvarint(nil, uint64(len(meta.Collection)))
	idx = append(idx, meta.Collection...)
	idx = binary.AppendVarint(idx, int64(meta.Group))
	idx = binary.AppendUvarint(idx, meta.Seq)
	idx = binary.AppendVarint(idx, meta.MinTime)
	idx = binary.AppendVarint(idx, meta.MaxTime)
	idx = binary.AppendUvarint(idx, uint64(meta.Points))
	idx = binary.AppendUvarint(idx, uint64(len(series)))

	var body, stored []byte
	var crcBuf [4]byte
	for _, s := range series {
		idx = binary.AppendUvarint(idx, uint64(len(s.tags)))
		for _, t := range s.tags {
			idx = appendString(idx, t.Key)
			idx = appendString(idx, t.Value)
		}
		idx = binary.AppendUvarint(idx, uint64(len(s.cols)))
		for _, c := range s.cols {
			body = appendBlockBody(body[:0], c)
			stored = snappy.Encode(stored[:cap(stored)], body)
			crc := checksum(stored)
			off := cw.off
			cw.write(stored)
			binary.LittleEndian.PutUint32(crcBuf[:], crc)
			cw.write(crcBuf[:])

			idx = appendString(idx, c.Name)
			idx = append(idx, byte(c.Kind))
			idx = binary.AppendUvarint(idx, uint64(len(c.Times)))
			idx = binary.AppendVarint(idx, c.Times[0])
			idx = binary.AppendVarint(idx, c.Times[len(c.Times)-1])
			idx = binary.AppendUvarint(idx, off)
			idx = binary.AppendUvarint(idx, uint64(len(stored)))
			idx = binary.LittleEndian.AppendUint32(idx, crc)
		}
	}
	if cw.err != nil {
		return cw.err
	}

	idxOff := cw.off
	cw.write(idx)
	var foot [FooterSize]byte
	binary.LittleEndian.PutUint64(foot[0:], idxOff)
	binary.LittleEndian.PutUint64(foot[8:], uint64(len(idx)))
	binary.LittleEndian.PutUint32(foot[16:], checksum(idx))
	binary.LittleEndian.PutUint32(foot[20:], checksum(foot[:20]))
	copy(foot[24:], Magic)
	cw.write(foot[:])
	if cw.err != nil {
		return cw.err
	}
	return cw.w.Flush()
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}
