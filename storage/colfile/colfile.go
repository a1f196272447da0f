// Package colfile reads and writes immutable columnar files. It writes
// format version 6 (see Version) and reads versions
// 1 to 6.
//
// A colfile holds the data of one collection, one group and one time
// partition, written by one flush or by one compaction. It contains many
// series; each series has one column per field, and each column is cut into
// blocks of at most BlockSize values (WriteOptions). A block stores its times
// and values with the codecs of package storage/encoding, is snappy-compressed
// when that makes it smaller, and is checked by a CRC32C. The columns of a
// series usually share their timestamps: a block whose times equal those of
// the same block of an earlier column of its series stores only its values,
// and the index names the column that holds the times; a block holding only
// some of another column's times stores which ones (a bitmap, or the list
// of positions present or absent when that is smaller). An index after the
// blocks lists every series, its tags and, per column, every block's position
// and statistics: count, time range, first and last value and, for numeric
// kinds, min, max and sum. Aggregates over whole blocks can therefore be
// answered from the index alone, and range scans skip the blocks they cannot
// touch. Float statistics are stored as short decimals when the values
// are. A fixed-size footer at the end of the file points at the index. The
// byte layout is documented in docs/format.md.
//
// Writing:
//
//	meta, err := colfile.Write(path, "cpu", 0, seq, []colfile.SeriesData{
//		{Tags: tags, Columns: []model.Column{usage, idle}},
//	})
//
// A compaction records the files it replaces, so that recovery after a crash
// can tell which inputs are obsolete:
//
//	meta, err := colfile.WriteWith(path, "cpu", 0, seq, data,
//		&colfile.WriteOptions{Replaces: []uint64{3, 4, 7}})
//
// Writing builds the whole file under path+".tmp", fsyncs it, renames it to
// path and fsyncs the directory, so a reader never sees a partial file.
//
// Reading:
//
//	r, err := colfile.Open(path)
//	if err != nil { ... }
//	defer r.Close()
//	for i := range r.NumSeries() {
//		s := r.SeriesAt(i) // decodes the series' index entry; AllSeries decodes all
//		for j, c := range s.Columns {
//			col, err := r.ReadColumn(i, j)            // every block
//			part, err := r.ReadRange(i, j, lo, hi)    // only the blocks in [lo, hi]
//			for k, b := range c.Blocks {
//				if b.Stats { /* b.Count, b.SumFloat, ... without decoding */ }
//				blk, err := r.ReadBlock(i, j, k)
//			}
//		}
//	}
//
// Concurrency: a Reader is immutable after Open. Every method except Close
// may be called from many goroutines at once; reads use positioned reads
// (pread). Close must not be called while other calls are in flight.
//
// Damage: every check that fails because the bytes on disk are wrong (bad
// magic, CRC mismatch, out-of-range offsets, undecodable block, statistics
// that disagree with the block) returns a *CorruptionError, for which
// errors.Is(err, ErrCorrupt) holds. A file written by a newer, unknown format
// version is not corrupt; Open returns a *VersionError
// (errors.Is(err, ErrUnsupportedVersion)) for it instead, so that callers do
// not quarantine or delete files they merely cannot read.
package colfile

import (
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/soltixdb/soltix/model"
)

// Version is the format version this package writes. It reads versions
// MinVersion to Version. Version 3 is version 2 with the index stored
// behind a flag byte, snappy-compressed when that makes it smaller.
// Version 4 adds union blocks: a series none of whose columns holds all
// its times stores their union once, in one column's blocks, and the
// other columns select from it. Version 5 adds the strings' fields scheme
// (encoding.AppendStringsFields, tag 0x52, written with
// WriteOptions.StringFields), which stores strings of uvarints, such as
// rollup rows, field by field, dense Huffman tables for integer streams,
// and rollup rows of versions 7 and 8 (package storage); a version 4
// reader would reject them as corrupt. Version 6 adds the rANS packing of
// integer streams (packing kind 7, storage/encoding/ans.go), restart
// points in long integer bodies (storage/encoding/restart.go: the large
// blocks of compacted files, which a range read enters in the middle) and
// the strings' prefix scheme (encoding.AppendStrings, tag 0x53), which
// stores a prefix many of a block's strings share once; a version 5
// reader would reject each as corrupt. Its layout is otherwise version 5's.
const Version = 6

// MinVersion is the oldest format version this package reads.
const MinVersion = 1

// Magic is the 8-byte magic that starts and ends every colfile.
const Magic = "SLTXCOL\x00"

// Sizes of the fixed-size parts of the format, and limits.
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
	// DefaultBlockSize is the number of values per block when
	// WriteOptions.BlockSize is 0.
	DefaultBlockSize = 1000
	// MaxBlockSize is the largest number of values a version 2 block may
	// hold. It bounds the memory one block decode may need, whatever the
	// codecs' compression ratio.
	MaxBlockSize = 1 << 16
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
	// Key, when not empty, is the series' key, model.SeriesKey of the
	// collection and the sorted tags, which the caller already has: Write
	// then checks it against them instead of building it.
	Key string
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
	// Replaces lists, sorted ascending without duplicates, the Seq numbers
	// of the files whose data this file holds in full: the inputs of the
	// compaction that wrote it. It is empty for a flush and for every
	// version 1 file. After a crash, a file whose Seq appears in the
	// Replaces of another complete file is obsolete and may be deleted.
	Replaces []uint64
}

// BlockInfo describes one block of a column as recorded in the index.
//
// Count, MinTime and MaxTime are always set. The statistics (First, Last,
// Min, Max and the sums) are only recorded by format version 2; Stats
// reports whether they are present, and callers must check it before using
// them. MinTime is the time of First and MaxTime the time of Last.
//
// Min and Max are Null for bool and string columns. For floats they ignore
// NaN unless every value is NaN (then both are the first value), and they
// order -0 below +0. Exactly one sum is set, by kind: SumFloat for floats
// (the values added in time order, starting from +0), SumInt for ints and
// SumUint for uints; the integer sums wrap on overflow (modulo 2^64).
type BlockInfo struct {
	Count            int
	MinTime, MaxTime int64
	// Stats is true when the fields below were recorded (version 2).
	Stats       bool
	First, Last model.Value
	Min, Max    model.Value
	SumFloat    float64
	SumInt      int64
	SumUint     uint64
}

// ColumnInfo describes one column of one series as recorded in the index.
// Count, MinTime and MaxTime summarise Blocks, which are in time order and
// do not overlap.
type ColumnInfo struct {
	Name             string
	Kind             model.Kind
	Count            int
	MinTime, MaxTime int64
	Blocks           []BlockInfo
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
	// What describes what is damaged, naming the series, the column and
	// the block index for data blocks.
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
	return fmt.Sprintf("colfile: %s has format version %d, this reader supports versions %d to %d", e.Path, e.Version, MinVersion, Version)
}

// Is reports whether target is ErrUnsupportedVersion.
func (e *VersionError) Is(target error) bool { return target == ErrUnsupportedVersion }
