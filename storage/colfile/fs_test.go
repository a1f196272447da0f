package colfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
)

// TestWriteFaults injects a failure into every filesystem operation of a
// write in turn: the write must fail with the injected error and leave
// neither the file nor its tmp behind.
func TestWriteFaults(t *testing.T) {
	series := goldenSeries()
	tests := []struct {
		name string
		rule errorfs.Rule
	}{
		{"create", errorfs.Rule{Op: errorfs.OpCreate, Err: syscall.EACCES}},
		{"first write", errorfs.Rule{Op: errorfs.OpWrite, Err: syscall.EIO}},
		{"disk full", errorfs.Rule{Op: errorfs.OpWrite, AfterBytes: 100, Err: syscall.ENOSPC, Short: true}},
		{"sync", errorfs.Rule{Op: errorfs.OpSync, Err: syscall.EIO}},
		{"close", errorfs.Rule{Op: errorfs.OpClose, Err: syscall.EIO}},
		{"rename", errorfs.Rule{Op: errorfs.OpRename, Err: syscall.EXDEV}},
		{"sync dir", errorfs.Rule{Op: errorfs.OpSyncDir, Err: syscall.EIO}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f.col")
			fs := errorfs.New(vfs.Default)
			fs.Inject(tc.rule)
			meta, err := WriteWith(path, "cpu", 1, 2, series, &WriteOptions{BlockSize: 2, FS: fs})
			if !errors.Is(err, tc.rule.Err) {
				t.Fatalf("WriteWith with failing %s: got %v, want %v", tc.rule.Op, err, tc.rule.Err)
			}
			if !sameMeta(meta, Meta{}) {
				t.Errorf("meta on error: got %+v, want zero", meta)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				t.Errorf("%s left behind after the failed write", e.Name())
			}
			// The same FS, healed, writes the file.
			fs.Clear()
			if _, err := WriteWith(path, "cpu", 1, 2, series, &WriteOptions{FS: fs}); err != nil {
				t.Fatalf("WriteWith after Clear: %v", err)
			}
			r, err := OpenWith(path, fs)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if n := fs.Count(errorfs.OpOpen, "f.col"); n != 1 {
				t.Errorf("OpenWith opened f.col %d times through the FS, want 1", n)
			}
		})
	}
}

// TestReadFaults checks that I/O errors while reading are reported as such,
// not as corruption, and that bits flipped on the way from the disk are.
func TestReadFaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.col")
	series := []SeriesData{{Tags: tags("host", "a"), Columns: []model.Column{icol("x", times(10, 0, 1), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)}}}
	if _, err := WriteWith(path, "c", 0, 1, series, &WriteOptions{BlockSize: 4}); err != nil {
		t.Fatal(err)
	}
	fs := errorfs.New(vfs.Default)
	fs.Inject(errorfs.Rule{Op: errorfs.OpOpen, Err: syscall.ENOENT})
	if _, err := OpenWith(path, fs); !errors.Is(err, syscall.ENOENT) || errors.Is(err, ErrCorrupt) {
		t.Errorf("OpenWith with failing open: got %v, want ENOENT and not ErrCorrupt", err)
	}
	fs.Clear()

	r, err := OpenWith(path, fs)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fs.Inject(errorfs.Rule{Op: errorfs.OpRead, Err: syscall.EIO})
	if _, err := r.ReadColumn(0, 0); !errors.Is(err, syscall.EIO) || errors.Is(err, ErrCorrupt) {
		t.Errorf("ReadColumn with failing reads: got %v, want EIO and not ErrCorrupt", err)
	}
	fs.Clear()
	ref := r.blockRefs()[0][0][1]
	fs.Inject(errorfs.Rule{Op: errorfs.OpRead, FlipBitAt: 8*(ref.off+1) + 2})
	if _, err := r.ReadBlock(0, 0, 0); err != nil {
		t.Errorf("ReadBlock(0, 0, 0) with block 1 damaged: %v", err)
	}
	if _, err := r.ReadColumn(0, 0); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ReadColumn with a flipped bit in block 1: got %v, want ErrCorrupt", err)
	}
	fs.Clear()
	if _, err := r.ReadColumn(0, 0); err != nil {
		t.Errorf("ReadColumn after Clear: %v", err)
	}
}
