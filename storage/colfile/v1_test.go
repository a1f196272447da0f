package colfile

import (
	"bufio"
	"encoding/binary"
	"math"
	"os"

	"github.com/golang/snappy"
	"github.com/soltixdb/soltix/model"
)

// This package writes only the current version. The version 1 encoder
// below exists so that tests can build version 1 files (the checked-in
// golden file, random files, fuzz seeds) to exercise the version 1 reader.

// writeV1 writes series as a version 1 file, not atomically.
func writeV1(path, collection string, group int, seq uint64, series []SeriesData) error {
	sorted, err := prepare(collection, series)
	if err != nil {
		return err
	}
	meta := Meta{Collection: collection, Group: group, Seq: seq}
	for _, s := range sorted {
		for _, c := range s.cols {
			if meta.Points == 0 {
				meta.MinTime, meta.MaxTime = c.Times[0], c.Times[c.Len()-1]
			}
			meta.MinTime = min(meta.MinTime, c.Times[0])
			meta.MaxTime = max(meta.MaxTime, c.Times[c.Len()-1])
			meta.Points += c.Len()
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	cw := &countingWriter{w: bufio.NewWriter(f)}
	writeHeader(cw, 1)
	idx := appendIndexHead(nil, &meta, 1)
	idx = binary.AppendUvarint(idx, uint64(len(sorted)))
	var crcBuf [4]byte
	for _, s := range sorted {
		idx = appendTags(idx, s.tags)
		idx = binary.AppendUvarint(idx, uint64(len(s.cols)))
		for _, c := range s.cols {
			stored := snappy.Encode(nil, appendBlockBodyV1(nil, c))
			crc := checksum(stored)
			off := cw.off
			cw.write(stored)
			binary.LittleEndian.PutUint32(crcBuf[:], crc)
			cw.write(crcBuf[:])

			idx = appendString(idx, c.Name)
			idx = append(idx, byte(c.Kind))
			idx = binary.AppendUvarint(idx, uint64(c.Len()))
			idx = binary.AppendVarint(idx, c.Times[0])
			idx = binary.AppendVarint(idx, c.Times[c.Len()-1])
			idx = binary.AppendUvarint(idx, off)
			idx = binary.AppendUvarint(idx, uint64(len(stored)))
			idx = binary.LittleEndian.AppendUint32(idx, crc)
		}
	}
	writeIndexAndFooter(cw, idx)
	if cw.err == nil {
		cw.err = cw.w.Flush()
	}
	if err := f.Close(); cw.err == nil {
		cw.err = err
	}
	return cw.err
}

// appendBlockBodyV1 appends the uncompressed version 1 body of a valid
// column to dst.
func appendBlockBodyV1(dst []byte, c *model.Column) []byte {
	dst = append(dst, byte(c.Kind))
	dst = binary.AppendUvarint(dst, uint64(len(c.Times)))
	var prev int64
	for _, t := range c.Times {
		dst = binary.AppendVarint(dst, t-prev)
		prev = t
	}
	switch c.Kind {
	case model.KindFloat:
		for _, f := range c.Floats {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
		}
	case model.KindInt:
		prev = 0
		for _, v := range c.Ints {
			dst = binary.AppendVarint(dst, v-prev)
			prev = v
		}
	case model.KindUint:
		for _, v := range c.Uints {
			dst = binary.AppendUvarint(dst, v)
		}
	case model.KindBool:
		var cur byte
		for i, v := range c.Bools {
			if v {
				cur |= 1 << (i % 8)
			}
			if i%8 == 7 {
				dst = append(dst, cur)
				cur = 0
			}
		}
		if len(c.Bools)%8 != 0 {
			dst = append(dst, cur)
		}
	case model.KindString:
		for _, s := range c.Strings {
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = append(dst, s...)
		}
	}
	return dst
}
