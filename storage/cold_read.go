// Reading cold files: a colfile reader over the local index copy and the
// object's ranged reads, and opening the cold list's files at Open.

package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/cold"
	"github.com/soltixdb/soltix/storage/colfile"
)

// coldFile is what a dataFile that lives in the cold store adds: its entry
// in the cold list and what reads it.
type coldFile struct {
	entry coldEntry
	ra    *coldReaderAt
}

// coldReaderAt is a cold file as the colfile reader sees it: the header,
// index and footer from the local copy, the data blocks from the object
// (ranged reads through the cold store's cache). A block read counts in
// the query's model.ColdReads, when its context has one.
type coldReaderAt struct {
	db   *DB
	key  string
	size int64
	stub *coldStub
	obj  atomic.Pointer[cold.Reader] // made at the first block read
}

// object returns the reader of the object, once the DB has a cold store.
func (r *coldReaderAt) object() (*cold.Reader, error) {
	if o := r.obj.Load(); o != nil {
		return o, nil
	}
	s := r.db.store()
	if s == nil {
		return nil, fmt.Errorf("read cold object %s: the cold store is not reachable yet", r.key)
	}
	r.obj.CompareAndSwap(nil, s.Reader(r.key, r.size))
	return r.obj.Load(), nil
}

// store returns the DB's cold store (nil: none, or not reachable yet).
func (db *DB) store() *cold.Store { return db.coldStore.Load() }

// SetCold gives a DB opened with Options.ColdPending its cold store, once
// it could be opened. It fails when the DB has one already.
func (db *DB) SetCold(s *cold.Store) error {
	if s == nil || !db.coldStore.CompareAndSwap(nil, s) {
		return errors.New("set cold store: the DB has one already")
	}
	db.kickTier()
	return nil
}

// ReadAt implements io.ReaderAt.
func (r *coldReaderAt) ReadAt(p []byte, off int64) (int, error) {
	return r.ReadAtContext(context.Background(), p, off)
}

// ReadAtContext implements colfile.ReaderAtContext.
func (r *coldReaderAt) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	switch {
	case off < 0:
		return 0, fmt.Errorf("read %s: negative offset", r.key)
	case end <= int64(len(r.stub.header)):
		return copy(p, r.stub.header[off:]), nil
	case off >= r.stub.dataEnd && r.stub.tail != nil:
		if off >= r.stub.size {
			return 0, io.EOF
		}
		n := copy(p, r.stub.tail[off-r.stub.dataEnd:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	obj, err := r.object()
	if err != nil {
		return 0, err
	}
	qc := model.ColdReadsFrom(ctx)
	var before cold.Stats
	if qc != nil {
		before = obj.Stats()
	}
	n, err := obj.ReadAtContext(ctx, p, off)
	if qc != nil {
		after := obj.Stats()
		qc.Add(r.key, int64(n), after.BytesFetched-before.BytesFetched, after.CacheHits-before.CacheHits)
	}
	return n, err
}

// coldName is how errors and logs name a cold object.
func (db *DB) coldName(key string) string {
	if s := db.store(); s != nil {
		return "s3://" + s.Bucket() + "/" + key
	}
	return "cold object " + key
}

// openCold opens the cold file of an entry: from its index copy, or, when
// the copy is missing or damaged, from the object (and the copy is made
// again). Its dataFile carries the entry's sequence number and no
// Replaces (they were settled before the file went cold, and an imported
// file's name another DB's files).
func (db *DB) openCold(e coldEntry) (*dataFile, error) {
	if db.store() == nil && !db.opts.ColdPending {
		return nil, fmt.Errorf("%s is a cold file (%s) and no cold store is configured", e.relPath(), e.Key)
	}
	stub, err := db.readStub(e.Seq)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			db.log.Warn("index copy of a cold file is unreadable; fetching it again", "object", db.coldName(e.Key), "err", err)
		}
		s := db.store()
		if s == nil {
			return nil, fmt.Errorf("cold file %s: the index copy is lost and the cold store is not reachable yet", e.Key)
		}
		if stub, err = db.fetchStub(context.Background(), s.Reader(e.Key, e.Size)); err != nil {
			return nil, err
		}
		if err := db.writeStub(e.Seq, stub); err != nil {
			return nil, err
		}
		if err := db.fs.SyncDir(filepath.Join(db.dir, coldDir)); err != nil {
			return nil, err
		}
	}
	if stub.size != e.Size {
		return nil, fmt.Errorf("cold file %s: index copy says %d bytes, the list %d", db.coldName(e.Key), stub.size, e.Size)
	}
	return db.coldDataFile(e, stub)
}

// coldDataFile opens a cold file over its index copy.
func (db *DB) coldDataFile(e coldEntry, stub *coldStub) (*dataFile, error) {
	ra := &coldReaderAt{db: db, key: e.Key, size: e.Size, stub: stub}
	r, err := colfile.NewReader(ra, e.Size, db.coldName(e.Key))
	if err != nil {
		return nil, fmt.Errorf("open cold file: %w", err)
	}
	// The reader has parsed the index: the copy's bytes of it need not
	// stay in memory (a read there, which the reader does not make,
	// would go to the object).
	ra.stub = &coldStub{size: stub.size, dataEnd: stub.dataEnd, header: stub.header}
	meta := r.Meta()
	if meta.Collection != e.Coll || meta.Group != e.Group {
		return nil, fmt.Errorf("cold file %s holds collection %q group %d, the list says %q group %d",
			db.coldName(e.Key), meta.Collection, meta.Group, e.Coll, e.Group)
	}
	meta.Seq, meta.Replaces = e.Seq, nil
	f := &dataFile{path: filepath.Join(db.dir, e.relPath()), r: r, meta: meta, cold: &coldFile{entry: e, ra: ra}}
	f.size.Store(e.Size)
	return f, nil
}

// fetchStub reads a cold file's header, index and footer from its object.
func (db *DB) fetchStub(ctx context.Context, obj *cold.Reader) (*coldStub, error) {
	r, err := colfile.NewReader(obj, obj.Size(), db.coldName(obj.Key()))
	if err != nil {
		return nil, fmt.Errorf("fetch index of cold file: %w", err)
	}
	return stubFrom(ctx, obj, obj.Size(), r.DataEnd())
}

// stubFrom reads the index copy of a colfile of size bytes whose blocks end
// at dataEnd from ra.
func stubFrom(ctx context.Context, ra io.ReaderAt, size, dataEnd int64) (*coldStub, error) {
	if dataEnd < colfile.HeaderSize || dataEnd > size || size-dataEnd > maxColdStub {
		return nil, fmt.Errorf("index of %d bytes at %d does not fit a %d-byte file", size-dataEnd, dataEnd, size)
	}
	s := &coldStub{size: size, dataEnd: dataEnd, header: make([]byte, colfile.HeaderSize), tail: make([]byte, size-dataEnd)}
	read := func(b []byte, off int64) error {
		var n int
		var err error
		if rc, ok := ra.(colfile.ReaderAtContext); ok {
			n, err = rc.ReadAtContext(ctx, b, off)
		} else {
			n, err = ra.ReadAt(b, off)
		}
		if n == len(b) {
			return nil
		}
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if err := read(s.header, 0); err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	if err := read(s.tail, dataEnd); err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	return s, nil
}

// readStub reads the index copy of cold file seq.
func (db *DB) readStub(seq uint64) (*coldStub, error) {
	b, err := db.readFile(db.stubPath(seq))
	if err != nil {
		return nil, err
	}
	s, err := decodeColdStub(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", db.stubPath(seq), err)
	}
	return s, nil
}

// writeStub writes the index copy of cold file seq and fsyncs it; the
// caller syncs the directory.
func (db *DB) writeStub(seq uint64, s *coldStub) error {
	if err := db.mkdirDurable(filepath.Join(db.dir, coldDir)); err != nil {
		return err
	}
	path := db.stubPath(seq)
	tmp := path + ".tmp"
	f, err := db.fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("write index copy: %w", err)
	}
	_, werr := f.Write(appendColdStub(nil, s))
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		db.fs.Remove(tmp)
		return fmt.Errorf("write index copy %s: %w", tmp, err)
	}
	if err := db.fs.Rename(tmp, path); err != nil {
		return fmt.Errorf("write index copy: %w", err)
	}
	return nil
}
