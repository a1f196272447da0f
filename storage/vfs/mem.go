package vfs

import (
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MemFS is an in-memory filesystem that can simulate a crash (power loss):
// CrashClone returns what a machine would find on its disk after one. It
// exists for tests of durability.
//
// It keeps two states of everything. A file's contents become durable when
// File.Sync returns; a directory's entries (files and directories created,
// renamed or removed in it) when SyncDir of that directory returns. A new
// directory is itself durable only once its parent has been synced: a file
// synced into a directory whose own entry was never synced is lost with it.
//
// Paths are cleaned; relative paths are taken from the root. All methods
// are safe for concurrent use.
type MemFS struct {
	mu   sync.Mutex
	root *memNode
}

// NewCrashableMem returns an empty MemFS holding only the root directory.
func NewCrashableMem() *MemFS {
	return &MemFS{root: newMemDir()}
}

// memNode is a file or a directory. The live fields are what the running
// program sees; the synced ones what survives a crash.
type memNode struct {
	dir bool
	// directories
	live, synced map[string]*memNode
	// files
	data, syncedData []byte
	mod              time.Time
}

func newMemDir() *memNode {
	return &memNode{dir: true, live: make(map[string]*memNode), synced: make(map[string]*memNode), mod: time.Now()}
}

// CrashClone returns a new MemFS holding only what was durable in fs: the
// entries of every directory as of its last SyncDir, and the contents of
// every file as of its last Sync. fs itself is unchanged and usable.
func (fs *MemFS) CrashClone() *MemFS {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	seen := make(map[*memNode]*memNode)
	var clone func(n *memNode) *memNode
	clone = func(n *memNode) *memNode {
		if c, ok := seen[n]; ok {
			return c
		}
		c := &memNode{dir: n.dir, mod: n.mod}
		seen[n] = c
		if !n.dir {
			c.data = slices.Clone(n.syncedData)
			c.syncedData = slices.Clone(n.syncedData)
			return c
		}
		c.live = make(map[string]*memNode, len(n.synced))
		c.synced = make(map[string]*memNode, len(n.synced))
		for name, child := range n.synced {
			cc := clone(child)
			c.live[name] = cc
			c.synced[name] = cc
		}
		return c
	}
	return &MemFS{root: clone(fs.root)}
}

// split returns the components of a cleaned path.
func split(name string) []string {
	name = filepath.ToSlash(filepath.Clean(name))
	name = strings.Trim(name, "/")
	if name == "" || name == "." {
		return nil
	}
	return strings.Split(name, "/")
}

// lookup returns the live node at name. The caller holds mu.
func (fs *MemFS) lookup(op, name string) (*memNode, error) {
	n := fs.root
	for _, c := range split(name) {
		if !n.dir {
			return nil, &os.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
		}
		next, ok := n.live[c]
		if !ok {
			return nil, &os.PathError{Op: op, Path: name, Err: os.ErrNotExist}
		}
		n = next
	}
	return n, nil
}

// parent returns the live directory holding name and name's base. The
// caller holds mu.
func (fs *MemFS) parent(op, name string) (*memNode, string, error) {
	parts := split(name)
	if len(parts) == 0 {
		return nil, "", &os.PathError{Op: op, Path: name, Err: os.ErrInvalid}
	}
	d, err := fs.lookup(op, strings.Join(parts[:len(parts)-1], "/"))
	if err != nil {
		return nil, "", err
	}
	if !d.dir {
		return nil, "", &os.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
	}
	return d, parts[len(parts)-1], nil
}

// Create implements FS.
func (fs *MemFS) Create(name string) (File, error) {
	return fs.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
}

// Open implements FS.
func (fs *MemFS) Open(name string) (File, error) { return fs.OpenFile(name, os.O_RDONLY, 0) }

// OpenFile implements FS. It honours O_CREATE, O_EXCL, O_TRUNC, O_APPEND and
// the access mode.
func (fs *MemFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, base, err := fs.parent("open", name)
	if err != nil {
		return nil, err
	}
	n, ok := d.live[base]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrExist}
	case !ok && flag&os.O_CREATE == 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
	case !ok:
		n = &memNode{mod: time.Now()}
		d.live[base] = n
	case n.dir && flag&(os.O_WRONLY|os.O_RDWR) != 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	}
	if flag&os.O_TRUNC != 0 && !n.dir {
		n.data = n.data[:0]
	}
	acc := flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	return &memFile{fs: fs, n: n, name: name, read: acc != os.O_WRONLY, write: acc != os.O_RDONLY, append: flag&os.O_APPEND != 0}, nil
}

// Rename implements FS.
func (fs *MemFS) Rename(oldname, newname string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	od, ob, err := fs.parent("rename", oldname)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	n, ok := od.live[ob]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: os.ErrNotExist}
	}
	nd, nb, err := fs.parent("rename", newname)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	if old, ok := nd.live[nb]; ok && old.dir != n.dir {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.EEXIST}
	}
	delete(od.live, ob)
	nd.live[nb] = n
	return nil
}

// Remove implements FS.
func (fs *MemFS) Remove(name string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, base, err := fs.parent("remove", name)
	if err != nil {
		return err
	}
	n, ok := d.live[base]
	if !ok {
		return &os.PathError{Op: "remove", Path: name, Err: os.ErrNotExist}
	}
	if n.dir && len(n.live) > 0 {
		return &os.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
	}
	delete(d.live, base)
	return nil
}

// MkdirAll implements FS. The directories it creates are not durable until
// their parents are synced.
func (fs *MemFS) MkdirAll(dir string, perm os.FileMode) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := fs.root
	for _, c := range split(dir) {
		next, ok := n.live[c]
		if !ok {
			next = newMemDir()
			n.live[c] = next
		}
		if !next.dir {
			return &os.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		n = next
	}
	return nil
}

// ReadDir implements FS.
func (fs *MemFS) ReadDir(dir string) ([]os.DirEntry, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, err := fs.lookup("readdir", dir)
	if err != nil {
		return nil, err
	}
	if !d.dir {
		return nil, &os.PathError{Op: "readdir", Path: dir, Err: syscall.ENOTDIR}
	}
	out := make([]os.DirEntry, 0, len(d.live))
	for name, n := range d.live {
		out = append(out, iofs.FileInfoToDirEntry(n.info(name)))
	}
	slices.SortFunc(out, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// Stat implements FS.
func (fs *MemFS) Stat(name string) (os.FileInfo, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, err := fs.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return n.info(filepath.Base(name)), nil
}

// SyncDir implements FS: the directory's current entries become durable.
func (fs *MemFS) SyncDir(dir string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, err := fs.lookup("sync", dir)
	if err != nil {
		return err
	}
	if !d.dir {
		return &os.PathError{Op: "sync", Path: dir, Err: syscall.ENOTDIR}
	}
	d.synced = make(map[string]*memNode, len(d.live))
	for name, n := range d.live {
		d.synced[name] = n
	}
	return nil
}

// info returns a FileInfo for n named name. The caller holds mu.
func (n *memNode) info(name string) os.FileInfo {
	return memInfo{name: name, size: int64(len(n.data)), dir: n.dir, mod: n.mod}
}

type memInfo struct {
	name string
	size int64
	dir  bool
	mod  time.Time
}

func (i memInfo) Name() string { return i.name }
func (i memInfo) Size() int64  { return i.size }
func (i memInfo) Mode() os.FileMode {
	if i.dir {
		return os.ModeDir | 0o755
	}
	return 0o644
}
func (i memInfo) ModTime() time.Time { return i.mod }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }

// memFile is an open MemFS file.
type memFile struct {
	fs                  *MemFS
	n                   *memNode
	name                string
	off                 int64
	read, write, append bool
	closed              bool
}

func (f *memFile) check(op string, want bool) error {
	if f.closed {
		return &os.PathError{Op: op, Path: f.name, Err: os.ErrClosed}
	}
	if !want || f.n.dir && op != "read" && op != "stat" {
		return &os.PathError{Op: op, Path: f.name, Err: syscall.EBADF}
	}
	return nil
}

func (f *memFile) Read(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read", f.read); err != nil {
		return 0, err
	}
	if f.off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[f.off:])
	f.off += int64(n)
	return n, nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read", f.read); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &os.PathError{Op: "read", Path: f.name, Err: os.ErrInvalid}
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write", f.write); err != nil {
		return 0, err
	}
	if f.append {
		f.off = int64(len(f.n.data))
	}
	if end := f.off + int64(len(p)); end > int64(len(f.n.data)) {
		f.n.data = append(f.n.data, make([]byte, end-int64(len(f.n.data)))...)
	}
	copy(f.n.data[f.off:], p)
	f.off += int64(len(p))
	f.n.mod = time.Now()
	return len(p), nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return &os.PathError{Op: "close", Path: f.name, Err: os.ErrClosed}
	}
	f.closed = true
	return nil
}

// Sync makes the file's current contents durable (not its name: that is
// SyncDir's job).
func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return &os.PathError{Op: "sync", Path: f.name, Err: os.ErrClosed}
	}
	f.n.syncedData = slices.Clone(f.n.data)
	return nil
}

func (f *memFile) Stat() (os.FileInfo, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("stat", true); err != nil {
		return nil, err
	}
	return f.n.info(filepath.Base(f.name)), nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate", f.write); err != nil {
		return err
	}
	if size < 0 {
		return &os.PathError{Op: "truncate", Path: f.name, Err: os.ErrInvalid}
	}
	if size <= int64(len(f.n.data)) {
		f.n.data = f.n.data[:size]
	} else {
		f.n.data = append(f.n.data, make([]byte, size-int64(len(f.n.data)))...)
	}
	return nil
}

func (f *memFile) Name() string { return f.name }
