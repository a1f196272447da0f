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

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/cold"
	"github.com/soltixdb/soltix/storage/colfile"
)

// coldFile is what a dataFile that lives in the cold store adds: its entry
// in the cold list and the reader of its object.
type coldFile struct {
	entry coldEntry
	obj   *cold.Reader
}

// coldReaderAt is a cold file as the colfile reader sees it: the header,
// index and footer from the local copy, the data blocks from the object
// (ranged reads through the cold store's cache). A block read counts in
// the query's model.ColdReads, when its context has one.
type coldReaderAt struct {
	stub *coldStub
	obj  *cold.Reader
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
		return 0, fmt.Errorf("read %s: negative offset", r.obj.Key())
	case end <= int64(len(r.stub.header)):
		return copy(p, r.stub.header[off:]), nil
	case off >= r.stub.dataEnd:
		if off >= r.stub.size {
			return 0, io.EOF
		}
		n := copy(p, r.stub.tail[off-r.stub.dataEnd:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	qc := model.ColdReadsFrom(ctx)
	var before cold.Stats
	if qc != nil {
		before = r.obj.Stats()
	}
	n, err := r.obj.ReadAtContext(ctx, p, off)
	if qc != nil {
		after := r.obj.Stats()
		qc.Add(r.obj.Key(), int64(n), after.BytesFetched-before.BytesFetched, after.CacheHits-before.CacheHits)
	}
	return n, err
}

// coldName is how errors and logs name a cold object.
func (db *DB) coldName(key string) string {
	return "s3://" + db.opts.Cold.Bucket() + "/" + key
}

// openCold opens the cold file of an entry: from its index copy, or, when
// the copy is missing or damaged, from the object (and the copy is made
// again). Its dataFile carries the entry's sequence number and no
// Replaces (they were settled before the file went cold, and an imported
// file's name another DB's files).
func (db *DB) openCold(e coldEntry) (*dataFile, error) {
	if db.opts.Cold == nil {
		return nil, fmt.Errorf("%s is a cold file (%s) and no cold store is configured", e.relPath(), e.Key)
	}
	obj := db.opts.Cold.Reader(e.Key, e.Size)
	stub, err := db.readStub(e.Seq)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			db.log.Warn("index copy of a cold file is unreadable; fetching it again", "object", db.coldName(e.Key), "err", err)
		}
		if stub, err = db.fetchStub(context.Background(), obj); err != nil {
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
	return db.coldDataFile(e, stub, obj)
}

// coldDataFile opens a cold file over its index copy.
func (db *DB) coldDataFile(e coldEntry, stub *coldStub, obj *cold.Reader) (*dataFile, error) {
	r, err := colfile.NewReader(&coldReaderAt{stub: stub, obj: obj}, e.Size, db.coldName(e.Key))
	if err != nil {
		return nil, fmt.Errorf("open cold file: %w", err)
	}
	meta := r.Meta()
	if meta.Collection != e.Coll || meta.Group != e.Group {
		return nil, fmt.Errorf("cold file %s holds collection %q group %d, the list says %q group %d",
			db.coldName(e.Key), meta.Collection, meta.Group, e.Coll, e.Group)
	}
	meta.Seq, meta.Replaces = e.Seq, nil
	f := &dataFile{path: filepath.Join(db.dir, e.relPath()), r: r, meta: meta, cold: &coldFile{entry: e, obj: obj}}
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
