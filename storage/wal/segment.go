package wal

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/soltixdb/soltix/storage/vfs"
)

const (
	// segmentMagic opens every segment file.
	segmentMagic = "SLTXWAL"
	// segmentVersion is the format version written after the magic: in
	// version 2 a record's stored CRC is bound to its position (recordKey).
	segmentVersion byte = 2
	// segmentVersion1 is the first version, still replayed: its records'
	// CRCs cover their payloads only.
	segmentVersion1 byte = 1
	// segmentHeaderSizeV1 is the size of a version 1 header: the magic and
	// the version byte.
	segmentHeaderSizeV1 = len(segmentMagic) + 1
	// segmentHeaderSize is the size of a version 2 header: the magic, the
	// version byte, the segment's salt (4 bytes) and the CRC-32C of the
	// bytes before it (4 bytes).
	segmentHeaderSize = segmentHeaderSizeV1 + 8
	// recordHeaderSize is the size of a record's length and CRC fields.
	recordHeaderSize = 8
	// segmentSuffix ends every segment file name.
	segmentSuffix = ".wal"
	// segmentDigits is the number of decimal digits in a segment file name.
	segmentDigits = 16
)

// MaxRecordSize is the largest payload Append accepts (256 MiB).
const MaxRecordSize = 256 << 20

// castagnoli is the CRC-32C table used for record checksums.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendSegmentHeader appends the version 2 header of a segment with the
// given salt to dst.
func appendSegmentHeader(dst []byte, salt uint32) []byte {
	start := len(dst)
	dst = append(dst, segmentMagic...)
	dst = append(dst, segmentVersion)
	dst = binary.LittleEndian.AppendUint32(dst, salt)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// binding is what a record's stored CRC is bound to in a segment: nothing
// in version 1; the segment's salt and number in version 2.
type binding struct {
	v2   bool
	salt uint32
	seg  uint64
}

// key returns the value xored into the CRC of a record starting at byte off
// of the segment (0 in version 1). A record's bytes copied to another offset
// or into another segment (whose salt is drawn at random when it is
// created) fail their check there, except by a 1 in 2^32 chance: a copy
// inside a payload never passes as an intact record, and a client that
// cannot read the salt cannot frame one that does.
func (b binding) key(off int64) uint32 {
	if !b.v2 {
		return 0
	}
	// A bijective 64-bit mix (the finalizer of MurmurHash3) of the offset,
	// segment and salt; distinct offsets of one segment give distinct
	// 64-bit values.
	x := uint64(off)*0x9E3779B97F4A7C15 ^ b.seg*0xC2B2AE3D27D4EB4F ^ uint64(b.salt)<<32 ^ uint64(b.salt)
	x ^= x >> 33
	x *= 0xFF51AFD7ED558CCD
	x ^= x >> 33
	x *= 0xC4CEB9FE1A85EC53
	x ^= x >> 33
	return uint32(x)
}

// newSalt returns a random segment salt.
func newSalt() (uint32, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("segment salt: %w", err)
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// segmentName returns the file name of segment n, without the directory.
func segmentName(n uint64) string {
	return fmt.Sprintf("%0*d%s", segmentDigits, n, segmentSuffix)
}

// parseSegmentName returns the number of the segment named name, and false if
// name is not a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(digits) != segmentDigits {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return n, true
}

// listSegments returns the numbers of the segments in dir in ascending order.
func listSegments(fs vfs.FS, dir string) ([]uint64, error) {
	entries, err := fs.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read dir: %w", err)
	}
	var segs []uint64
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if n, ok := parseSegmentName(e.Name()); ok {
			segs = append(segs, n)
		}
	}
	slices.Sort(segs)
	return segs, nil
}

// appendRecord appends the framed form of payload to dst with the CRC of
// the payload, as in version 1; bindRecords binds it to its position.
func appendRecord(dst, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(payload, castagnoli))
	return append(dst, payload...)
}

// bindRecords xors into the CRC of every record framed in buf by
// appendRecord the key of the offset it is written at, buf's first byte
// going to offset start of the segment b describes.
func bindRecords(buf []byte, b binding, start int64) {
	for p := 0; p+recordHeaderSize <= len(buf); {
		length := int(binary.LittleEndian.Uint32(buf[p:]))
		crc := binary.LittleEndian.Uint32(buf[p+4:])
		binary.LittleEndian.PutUint32(buf[p+4:], crc^b.key(start+int64(p)))
		p += recordHeaderSize + length
	}
}

// syncDir fsyncs the directory dir so that file creations and removals in it
// are durable.
func syncDir(fs vfs.FS, dir string) error {
	if err := fs.SyncDir(dir); err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}

// createSegment creates segment n in dir (version 2, with a new random
// salt) and writes its header. With sync it also fsyncs the file and the
// directory before returning. It returns the file and the binding of the
// segment's records. On error no file is left open; a partially written
// file may remain and is treated as a torn tail by the next Replay.
func createSegment(fs vfs.FS, dir string, n uint64, sync bool) (vfs.File, binding, error) {
	salt, err := newSalt()
	if err != nil {
		return nil, binding{}, err
	}
	path := filepath.Join(dir, segmentName(n))
	f, err := fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, binding{}, fmt.Errorf("create segment: %w", err)
	}
	if _, err := f.Write(appendSegmentHeader(nil, salt)); err != nil {
		_ = f.Close()
		return nil, binding{}, fmt.Errorf("write segment header: %w", err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return nil, binding{}, fmt.Errorf("sync segment: %w", err)
		}
		if err := syncDir(fs, dir); err != nil {
			_ = f.Close()
			return nil, binding{}, err
		}
	}
	return f, binding{v2: true, salt: salt, seg: n}, nil
}

// parseSegmentHeader reads the header of segment seg from the first bytes
// of its file, hdr (at most segmentHeaderSize of them; size is the file's
// size). It returns the header's size and the binding of its records, or
// the damage: torn says the header is incomplete (the file is too short).
func parseSegmentHeader(hdr []byte, size int64, seg uint64) (n int, b binding, torn bool, err error) {
	if size < int64(segmentHeaderSizeV1) {
		return 0, b, true, errShortSegmentHeader
	}
	if string(hdr[:len(segmentMagic)]) != segmentMagic {
		return 0, b, false, errBadMagic
	}
	switch v := hdr[len(segmentMagic)]; v {
	case segmentVersion1:
		return segmentHeaderSizeV1, b, false, nil
	case segmentVersion:
		if size < int64(segmentHeaderSize) {
			return 0, b, true, errShortSegmentHeader
		}
		if crc32.Checksum(hdr[:segmentHeaderSize-4], castagnoli) != binary.LittleEndian.Uint32(hdr[segmentHeaderSize-4:]) {
			return 0, b, false, errHeaderChecksum
		}
		b = binding{v2: true, salt: binary.LittleEndian.Uint32(hdr[segmentHeaderSizeV1:]), seg: seg}
		return segmentHeaderSize, b, false, nil
	default:
		return 0, b, false, fmt.Errorf("%w %d", errBadVersion, v)
	}
}
