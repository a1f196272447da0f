package vfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// File is an open file. *os.File implements it. See the package
// documentation for buffer ownership and concurrency.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.Closer
	// Sync commits the file's contents to stable storage.
	Sync() error
	// Stat returns the file's FileInfo.
	Stat() (os.FileInfo, error)
	// Truncate changes the size of the file. It does not change the offset
	// used by Read and Write.
	Truncate(size int64) error
	// Name returns the name the file was opened with.
	Name() string
}

// FS is a filesystem. Its methods behave like the functions of package os
// of the same name, except SyncDir. Every method is safe for concurrent use.
type FS interface {
	// Create creates or truncates the named file and opens it for reading
	// and writing (os.O_RDWR|os.O_CREATE|os.O_TRUNC, mode 0644).
	Create(name string) (File, error)
	// Open opens the named file for reading.
	Open(name string) (File, error)
	// OpenFile opens the named file with the os.O_* flags and, when it
	// creates the file, the permissions perm.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Rename renames oldname to newname, replacing newname if it exists.
	// The rename is durable only after SyncDir of the directories involved.
	Rename(oldname, newname string) error
	// Remove removes the named file or empty directory.
	Remove(name string) error
	// MkdirAll creates dir and any missing parents with permissions perm.
	MkdirAll(dir string, perm os.FileMode) error
	// ReadDir returns the entries of dir sorted by file name.
	ReadDir(dir string) ([]os.DirEntry, error)
	// Stat returns the FileInfo of the named file.
	Stat(name string) (os.FileInfo, error)
	// SyncDir fsyncs the directory dir, making the creations, renames and
	// removals of the files in it durable.
	SyncDir(dir string) error
}

// Default is the operating system's filesystem.
var Default FS = osFS{}

// osFS implements FS with package os.
type osFS struct{}

var _ File = (*os.File)(nil)

func (osFS) Create(name string) (File, error) { return wrapFile(os.Create(name)) }

func (osFS) Open(name string) (File, error) { return wrapFile(os.Open(name)) }

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	return wrapFile(os.OpenFile(name, flag, perm))
}

func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) MkdirAll(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }

func (osFS) ReadDir(dir string) ([]os.DirEntry, error) { return os.ReadDir(dir) }

func (osFS) Stat(name string) (os.FileInfo, error) { return os.Stat(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// wrapFile converts the results of an os open function, so that a failed
// open returns a nil File rather than a non-nil File holding a nil *os.File.
func wrapFile(f *os.File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return f, nil
}

// MkdirAllSync creates dir and any missing parents, like FS.MkdirAll, and
// makes each directory it creates durable by syncing its parent, top down.
// A directory that already existed is left as it is.
func MkdirAllSync(fs FS, dir string, perm os.FileMode) error {
	dir = filepath.Clean(dir)
	var missing []string
	for d := dir; ; {
		fi, err := fs.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return &os.PathError{Op: "mkdir", Path: d, Err: syscall.ENOTDIR}
			}
			break
		}
		if !os.IsNotExist(err) {
			return err
		}
		missing = append(missing, d)
		p := filepath.Dir(d)
		if p == d {
			break
		}
		d = p
	}
	if len(missing) == 0 {
		return nil
	}
	if err := fs.MkdirAll(dir, perm); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := fs.SyncDir(filepath.Dir(missing[i])); err != nil {
			return err
		}
	}
	return nil
}
