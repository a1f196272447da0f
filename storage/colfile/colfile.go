// Package colfile reads and writes immutable columnar files, format version 1.
//
// A colfile holds the data of one collection, one group and one time
// partition, written by one flush or by one compaction. It contains many
// series; each series has one column per field, and each column is stored as
// one snappy-compressed, CRC32C-checked data block. An index after the blocks
// lists every series, its tags and, per column, the block's position and
// statistics (count, min/max time). A fixed-size footer at the end of the file
// points at the index. The byte layout is documented in docs/format.md.
//
// Writing:
//
//	meta, err := colfile.Write(path, "cpu", 0, seq, []colfile.SeriesData{
//		{Tags: tags, Columns: []model.Column{usage, idle}},
//	})
//
// Write builds the whole file under path+".tmp", fsyncs it, renames it to path
// and fsyncs the directory, so a reader never sees a partial file.
//
// Reading:
//
//	r, err := colfile.Open(path)
//	if err != nil { ... }
//	defer r.Close()
//	for i, s := range r.Series() {
//		for j := range s.Columns {
//			col, err := r.ReadColumn(i, j)
//			...
//		}
//	}
//
// Concurrency: a Reader is immutable after Open. Series, Meta and ReadColumn
// may be called from many goroutines at once; ReadColumn uses positioned
// reads (pread). Close must not be called while other calls are in flight.
//
// Damage: every check that fails because the bytes on disk are wrong (bad
// magic, CRC mismatch, out-of-range offsets, undecodable block) returns a
// *CorruptionError, for which errors.Is(err, ErrCorrupt) holds. A file
// written by a newer, unknown format version is not corrupt; Open returns a
// *VersionError (errors.Is(err, ErrUnsupportedVersion)) for it instead, so
// that callers do not quarantine or delete files they merely cannot read.
package colfile

import (
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/soltixdb/soltix/model"
)

// Version is the format version this package writes and the only one it reads.
const Version = 1

// Magic is the 8-byte magic that starts and ends every colfile.
const Magic = "SLTXCOL\x00"

// Sizes of the fixed-size parts of the format.
const (
	// HeaderSize is the size of the header: magic (8) and version (2).
	HeaderSize = 8 + 2
	// FooterSize is the size of the footer: index offset (8), index length
	// (8), index CRC (4), footer CRC (4) and magic (8).
	FooterSize = 8 + 8 + 4 + 4 + 8
	// MaxCollectionLen is the longest collection name a colfile may hold.
	// The name is part of every series key the reader builds, so the
	// limit keeps the memory Open spends on keys proportional to the
	// file size.
	MaxCollectionLen = 1024
	// blockTrailerSize is the size of the CRC32C that follows every block.
	blockTrailerSize = 4
	// maxSnappyRatio bounds the decoded size of a snappy block relative to
	// its stored size. Snappy's densest element, a 3-byte copy of 64 bytes,
	// expands about 21.3 times, so any larger claim is corrupt.
	maxSnappyRatio = 24
)

// castagnoli is the CRC32C table used for every checksum in the file.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// SeriesData is the input of Write for one series: its tags and its columns.
// Columns may come in any order; Write sorts them by name and sorts series by
// model.SeriesKey. Tags need not be sorted (Write sorts a copy) but keys must
// be unique. Each column must be non-empty, sorted by time with unique times,
// and have a value slice matching its Kind with the same length as Times.
// Write does not modify SeriesData or the slices it refers to.
type SeriesData struct {
	Tags    model.Tags
	Columns []model.Column
}

// Meta is the file's header information.
type Meta struct {
	// Collection is the collection every series in the file belongs to.
	Collection string
	// Group is the group (shard) of the collection the file belongs to.
	Group int
	// Seq orders files: a larger Seq was written later, and later writes
	// win when two files hold a value for the same series, field and time.
	Seq uint64
	// MinTime and MaxTime are the smallest and largest timestamps of any
	// point in the file. Both are 0 for a file with no series.
	MinTime, MaxTime int64
	// Points is the number of values in the file, summed over all columns.
	Points int
}

// ColumnInfo describes one column of one series as recorded in the index.
type ColumnInfo struct {
	Name             string
	Kind             model.Kind
	Count            int
	MinTime, MaxTime int64
}

// SeriesInfo describes one series as recorded in the index.
type SeriesInfo struct {
	// Tags is the series' tag set, sorted by key.
	Tags model.Tags
	// Key is model.SeriesKey(collection, Tags).
	Key string
	// Columns lists the series' columns sorted by name.
	Columns []ColumnInfo
}

// ErrCorrupt is the sentinel for damaged files: errors.Is(err, ErrCorrupt)
// is true for every *CorruptionError.
var ErrCorrupt = errors.New("colfile: corrupt file")

// ErrUnsupportedVersion is the sentinel for files of a format version this
// package cannot read: errors.Is(err, ErrUnsupportedVersion) is true for every
// *VersionError.
var ErrUnsupportedVersion = errors.New("colfile: unsupported format version")

// CorruptionError reports bytes on disk that do not form a valid colfile.
type CorruptionError struct {
	// Path is the file's path.
	Path string
	// Offset is the byte offset in the file where the damage was found
	// (for a block: the start of the block).
	Offset int64
	// What describes what is damaged, naming the series and column for
	// data blocks.
	What string
	// Err is the underlying cause, if any (for example a snappy error).
	Err error
}

// Error returns a message naming the file, the offset and what is damaged.
func (e *CorruptionError) Error() string {
	s := fmt.Sprintf("colfile: corrupt file %s at offset %d: %s", e.Path, e.Offset, e.What)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *CorruptionError) Unwrap() error { return e.Err }

// Is reports whether target is ErrCorrupt.
func (e *CorruptionError) Is(target error) bool { return target == ErrCorrupt }

// VersionError reports a file whose header carries a format version this
// package does not read.
type VersionError struct {
	// Path is the file's path.
	Path string
	// Version is the version found in the header.
	Version uint16
}

// Error returns a message naming the file and both versions.
func (e *VersionError) Error() string {
	return fmt.Sprintf("colfile: %s has format version %d, this reader supports only version %d", e.Path, e.Version, Version)
}

// Is reports whether target is ErrUnsupportedVersion.
func (e *VersionError) Is(target error) bool { return target == ErrUnsupportedVersion }
