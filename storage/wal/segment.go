package wal

import (
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
	// segmentVersion is the format version written after the magic.
	segmentVersion byte = 1
	// segmentHeaderSize is the size of the magic plus the version byte.
	segmentHeaderSize = len(segmentMagic) + 1
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

// segmentHeader is the 8-byte header written at the start of every segment.
var segmentHeader = append([]byte(segmentMagic), segmentVersion)

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

// appendRecord appends the framed form of payload to dst.
func appendRecord(dst, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(payload, castagnoli))
	return append(dst, payload...)
}

// syncDir fsyncs the directory dir so that file creations and removals in it
// are durable.
func syncDir(fs vfs.FS, dir string) error {
	if err := fs.SyncDir(dir); err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}

// createSegment creates segment n in dir and writes its header. With sync it
// also fsyncs the file and the directory before returning. On error no file
// is left open; a partially written file may remain and is treated as a torn
// tail by the next Replay.
func createSegment(fs vfs.FS, dir string, n uint64, sync bool) (vfs.File, error) {
	path := filepath.Join(dir, segmentName(n))
	f, err := fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	if _, err := f.Write(segmentHeader); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write segment header: %w", err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("sync segment: %w", err)
		}
		if err := syncDir(fs, dir); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	return f, nil
}
