// The node's durable list of cold files (cold/list) and the local copies
// of their header, index and footer (cold/<seq>.idx): their formats, and
// reading and writing them through the vfs seam (docs/format.md, "Cold
// file list").

package storage

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/colfile"
)

// coldDir is the directory, at the top of the data directory, that holds
// the cold list and the index copies.
const coldDir = "cold"

const (
	coldListMagic   = "SOLTIXCL"
	coldListVersion = 1
	coldStubMagic   = "SOLTIXCI"
	coldStubVersion = 1
	// Bounds the decoders hold every field to.
	maxColdKey      = 1024
	maxColdName     = 255
	maxColdChecksum = 256
	// maxColdStub bounds an index copy (header, index and footer).
	maxColdStub = 1 << 30
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func crc32Checksum(b []byte) uint32 { return crc32.Checksum(b, crcTable) }

// The flags of a coldEntry.
const (
	// coldShared: the object may be read by another node too (a group
	// snapshot carried the entry; it arrived in one). Only retention
	// deletes it; anything else only forgets it.
	coldShared = 1 << 0
	// coldGone: the file is no longer part of the DB; its object is still
	// to be deleted (retried until it is, then the entry goes).
	coldGone  = 1 << 1
	coldFlags = coldShared | coldGone
)

// coldEntry is one file of the DB that lives in the cold store.
type coldEntry struct {
	Coll  string
	Group int
	Level model.Level
	// Name is the file's name in its group's directory (or the level's
	// rollup directory) were it local: "<partition>-<seq>.col".
	Name string
	// Seq is the file's sequence number in this DB: its rank among the
	// group's files (for a file of an import it differs from the one its
	// footer holds).
	Seq uint64
	// Key, Size and Checksum are the object's, as the upload or the
	// import's check found them.
	Key      string
	Size     int64
	Checksum string
	Flags    byte
}

func (e *coldEntry) shared() bool { return e.Flags&coldShared != 0 }
func (e *coldEntry) gone() bool   { return e.Flags&coldGone != 0 }

// relPath returns the path, below the data directory, the file would
// have were it local.
func (e *coldEntry) relPath() string {
	dir := filepath.Join(collectionsDir, collDirName(e.Coll), fmt.Sprintf("group_%04d", e.Group))
	if e.Level != model.LevelRaw {
		dir = filepath.Join(dir, "rollup_"+levelNamesForDirs[e.Level])
	}
	return filepath.Join(dir, e.Name)
}

// coldList is the content of cold/list: the DB's id in object names and
// its cold entries, by sequence number.
type coldList struct {
	id      [8]byte
	entries []coldEntry
}

// appendColdList encodes a cold list:
//
//	magic "SOLTIXCL", version (uint16 LE), id (8 bytes), entry count
//	(uvarint), the entries, CRC-32C of everything before (uint32 LE)
//
// and each entry: flags (byte), level (byte), group, seq, size (uvarints),
// collection, name, key, checksum (uvarint length and bytes).
func appendColdList(b []byte, l *coldList) []byte {
	start := len(b)
	b = append(b, coldListMagic...)
	b = binary.LittleEndian.AppendUint16(b, coldListVersion)
	b = append(b, l.id[:]...)
	b = binary.AppendUvarint(b, uint64(len(l.entries)))
	for i := range l.entries {
		e := &l.entries[i]
		b = append(b, e.Flags, byte(e.Level))
		b = binary.AppendUvarint(b, uint64(e.Group))
		b = binary.AppendUvarint(b, e.Seq)
		b = binary.AppendUvarint(b, uint64(e.Size))
		for _, s := range []string{e.Coll, e.Name, e.Key, e.Checksum} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], crcTable))
}

// listDecoder reads the fields of a cold list or index copy, remembering
// the first problem.
type listDecoder struct {
	b   []byte
	off int
	err error
}

func (d *listDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("at byte %d: %s", d.off, fmt.Sprintf(format, args...))
	}
}

func (d *listDecoder) uvarint(what string, limit uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad %s", what)
		return 0
	}
	if v > limit {
		d.fail("%s %d exceeds %d", what, v, limit)
		return 0
	}
	d.off += n
	return v
}

func (d *listDecoder) bytes(what string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b)-d.off {
		d.fail("%s: %d bytes, %d left", what, n, len(d.b)-d.off)
		return nil
	}
	v := d.b[d.off : d.off+n]
	d.off += n
	return v
}

func (d *listDecoder) str(what string, limit int) string {
	n := d.uvarint(what+" length", uint64(limit))
	return string(d.bytes(what, int(n)))
}

// decodeColdList decodes cold/list, checking every field: a damaged or
// foreign file is an error, never a shorter list.
func decodeColdList(b []byte) (*coldList, error) {
	const head = len(coldListMagic) + 2 + 8
	if len(b) < head+1+4 {
		return nil, fmt.Errorf("%d bytes is too short for a cold list", len(b))
	}
	if string(b[:len(coldListMagic)]) != coldListMagic {
		return nil, errors.New("not a cold list (bad magic)")
	}
	if v := binary.LittleEndian.Uint16(b[len(coldListMagic):]); v != coldListVersion {
		return nil, fmt.Errorf("cold list version %d, this version reads %d", v, coldListVersion)
	}
	body := b[:len(b)-4]
	if got, want := crc32.Checksum(body, crcTable), binary.LittleEndian.Uint32(b[len(b)-4:]); got != want {
		return nil, fmt.Errorf("cold list checksum mismatch: computed %08x, stored %08x", got, want)
	}
	l := &coldList{}
	copy(l.id[:], b[len(coldListMagic)+2:head])
	d := &listDecoder{b: body, off: head}
	// Every entry takes at least 9 bytes.
	n := d.uvarint("entry count", uint64(len(body)-head)/9)
	if n > 0 {
		l.entries = make([]coldEntry, 0, n)
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		var e coldEntry
		flags := d.bytes("flags", 2)
		if d.err != nil {
			break
		}
		e.Flags, e.Level = flags[0], model.Level(flags[1])
		if e.Flags&^coldFlags != 0 {
			d.fail("entry %d: unknown flags %#x", i, e.Flags)
		}
		if e.Level > model.Level1y {
			d.fail("entry %d: level %d", i, e.Level)
		}
		e.Group = int(d.uvarint("group", 1<<20))
		e.Seq = d.uvarint("seq", 1<<63-1)
		e.Size = int64(d.uvarint("size", 1<<62))
		e.Coll = d.str("collection", MaxCollectionLen)
		e.Name = d.str("name", maxColdName)
		e.Key = d.str("key", maxColdKey)
		e.Checksum = d.str("checksum", maxColdChecksum)
		if d.err != nil {
			break
		}
		if err := e.check(); err != nil {
			d.fail("entry %d: %v", i, err)
			break
		}
		if len(l.entries) > 0 && l.entries[len(l.entries)-1].Seq >= e.Seq {
			d.fail("entry %d: seq %d not after %d", i, e.Seq, l.entries[len(l.entries)-1].Seq)
			break
		}
		l.entries = append(l.entries, e)
	}
	if d.err == nil && d.off != len(body) {
		d.fail("%d trailing bytes", len(body)-d.off)
	}
	if d.err != nil {
		return nil, fmt.Errorf("cold list: %w", d.err)
	}
	return l, nil
}

// check refuses an entry that names no file of a collection: one that
// would make a path outside its group's directory, or no object.
func (e *coldEntry) check() error {
	switch {
	case e.Coll == "":
		return errors.New("no collection")
	case e.Key == "":
		return errors.New("no object key")
	case e.Seq == 0:
		return errors.New("seq 0")
	case !strings.HasSuffix(e.Name, ".col") || strings.ContainsAny(e.Name, "/\\") || strings.HasPrefix(e.Name, "."):
		return fmt.Errorf("file name %q", e.Name)
	}
	return nil
}

// newColdID returns a random id for the names of this DB's objects.
func newColdID() ([8]byte, error) {
	var id [8]byte
	_, err := rand.Read(id[:])
	return id, err
}

// idString is the id as object names carry it.
func (l *coldList) idString() string { return hex.EncodeToString(l.id[:]) }

// find returns the index of the entry with sequence number seq.
func (l *coldList) find(seq uint64) (int, bool) {
	return slices.BinarySearchFunc(l.entries, seq, func(e coldEntry, s uint64) int {
		switch {
		case e.Seq < s:
			return -1
		case e.Seq > s:
			return 1
		}
		return 0
	})
}

func (db *DB) coldListPath() string { return filepath.Join(db.dir, coldDir, "list") }

// loadColdList reads cold/list; a DB without one has an empty list with a
// new id (written with the first entry).
func (db *DB) loadColdList() (*coldList, error) {
	b, err := db.readFile(db.coldListPath())
	if errors.Is(err, os.ErrNotExist) {
		id, err := newColdID()
		if err != nil {
			return nil, fmt.Errorf("cold list id: %w", err)
		}
		return &coldList{id: id}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cold list: %w", err)
	}
	l, err := decodeColdList(b)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", db.coldListPath(), err)
	}
	return l, nil
}

// saveColdList writes cold/list durably (tmp, fsync, rename, fsync dir),
// after making meta.json say formatCold when the list has entries.
func (db *DB) saveColdList(l *coldList) error {
	if len(l.entries) > 0 {
		if err := db.requireColdFormat(); err != nil {
			return fmt.Errorf("save cold list: %w", err)
		}
	}
	if err := db.mkdirDurable(filepath.Join(db.dir, coldDir)); err != nil {
		return fmt.Errorf("save cold list: %w", err)
	}
	if err := db.writeFileSync(db.coldListPath(), appendColdList(nil, l)); err != nil {
		return fmt.Errorf("save cold list: %w", err)
	}
	return nil
}

// coldStub is the local copy of a cold file's header, index and footer:
// everything but its data blocks, so that opening it and answering from
// its index and block statistics read nothing from the cold store.
type coldStub struct {
	size    int64  // the object's size
	dataEnd int64  // where the blocks end and the index begins
	header  []byte // bytes [0, colfile.HeaderSize)
	tail    []byte // bytes [dataEnd, size)
}

// appendColdStub encodes an index copy:
//
//	magic "SOLTIXCI", version (uint16 LE), object size (uint64 LE),
//	data end (uint64 LE), the header's bytes, the bytes from data end to
//	the object's end, CRC-32C of everything before (uint32 LE)
func appendColdStub(b []byte, s *coldStub) []byte {
	start := len(b)
	b = append(b, coldStubMagic...)
	b = binary.LittleEndian.AppendUint16(b, coldStubVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.size))
	b = binary.LittleEndian.AppendUint64(b, uint64(s.dataEnd))
	b = append(b, s.header...)
	b = append(b, s.tail...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], crcTable))
}

// decodeColdStub decodes an index copy. The colfile reader checks the
// header, index and footer again when it opens the file over it.
func decodeColdStub(b []byte) (*coldStub, error) {
	const head = len(coldStubMagic) + 2 + 8 + 8
	if len(b) < head+colfile.HeaderSize+4 {
		return nil, fmt.Errorf("%d bytes is too short for an index copy", len(b))
	}
	if string(b[:len(coldStubMagic)]) != coldStubMagic {
		return nil, errors.New("not an index copy (bad magic)")
	}
	if v := binary.LittleEndian.Uint16(b[len(coldStubMagic):]); v != coldStubVersion {
		return nil, fmt.Errorf("index copy version %d, this version reads %d", v, coldStubVersion)
	}
	if got, want := crc32.Checksum(b[:len(b)-4], crcTable), binary.LittleEndian.Uint32(b[len(b)-4:]); got != want {
		return nil, fmt.Errorf("index copy checksum mismatch: computed %08x, stored %08x", got, want)
	}
	size := binary.LittleEndian.Uint64(b[len(coldStubMagic)+2:])
	dataEnd := binary.LittleEndian.Uint64(b[len(coldStubMagic)+10:])
	tail := uint64(len(b) - 4 - head - colfile.HeaderSize)
	if dataEnd < colfile.HeaderSize || dataEnd > size || size-dataEnd != tail || size > 1<<62 {
		return nil, fmt.Errorf("index copy: data end %d and %d index bytes do not fit a %d-byte file", dataEnd, tail, size)
	}
	s := &coldStub{size: int64(size), dataEnd: int64(dataEnd)}
	s.header = bytes.Clone(b[head : head+colfile.HeaderSize])
	s.tail = bytes.Clone(b[head+colfile.HeaderSize : len(b)-4])
	return s, nil
}

// stubPath is where the index copy of the cold file with sequence number
// seq is kept.
func (db *DB) stubPath(seq uint64) string {
	return filepath.Join(db.dir, coldDir, fmt.Sprintf("%016d.idx", seq))
}
