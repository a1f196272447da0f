// Package errorfs wraps a vfs.FS with fault injection for tests: rules make
// chosen operations on chosen files fail, write only part of their data, or
// read back corrupted bytes, and every call is counted.
//
//	fs := errorfs.New(vfs.Default)
//	// The third and later fsyncs of WAL segments fail.
//	fs.Inject(errorfs.Rule{Op: errorfs.OpSync, Path: "*.wal", After: 2, Err: syscall.EIO})
//	// The disk fills up after 4096 bytes of colfile data; the write that
//	// crosses the limit writes what fits and fails.
//	fs.Inject(errorfs.Rule{Op: errorfs.OpWrite, Path: "*.col.tmp", AfterBytes: 4096, Err: syscall.ENOSPC, Short: true})
//	// Reads of colfiles return bit 3 of byte 15 flipped (bit offset 123).
//	fs.Inject(errorfs.Rule{Op: errorfs.OpRead, Path: "*.col", FlipBitAt: 123})
//	...
//	n := fs.Count(errorfs.OpSync, "*.wal") // fsyncs of segments so far
//	fs.Clear()                             // the disk is healthy again
//
// # Rules
//
// A call matches a rule when its operation is the rule's Op and its path
// matches the rule's Path (and Match, if set). Every matching call counts
// towards the rule's After, whether or not it fails. The first After
// matching calls after Inject pass through; from then on the rule fires on
// every matching call until Clear: a failed disk stays failed. When several
// rules fire on one call, the first injected one decides the error; every
// firing corruption rule is applied.
//
// An injected error is returned wrapped the way package os wraps errors
// (*os.PathError, or *os.LinkError for Rename), so errors.Is(err,
// syscall.EIO) holds. The wrapped operation is not performed, except that a
// short write writes part of its data, and Close always closes the
// underlying file.
//
// # Concurrency
//
// An FS and its Files are safe for concurrent use as far as the wrapped FS
// and Files are (see package vfs). Inject, Clear and Count may be called at
// any time; a rule applies to calls that begin after Inject returns. Files
// opened before Inject are subject to the new rules too.
//
// # Renames
//
// An open File's path is its file's current name: a Rename of a file that
// is open through the FS moves the File's later calls to the new name, as
// the rename moves the file (a WAL segment prepared under a spare name
// and renamed into place is a *.wal file from then on).
package errorfs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/soltixdb/soltix/storage/vfs"
)

// Op is a kind of filesystem operation that rules select and Count counts.
type Op int

// The operations. OpenFile counts as OpCreate when its flags include
// os.O_CREATE and as OpOpen otherwise. File.Stat and FS.Stat are both
// OpStat; File.Read and File.ReadAt are both OpRead.
const (
	OpCreate Op = iota + 1
	OpOpen
	OpRead
	OpWrite
	OpSync
	OpTruncate
	OpClose
	OpStat
	OpRename
	OpRemove
	OpMkdirAll
	OpReadDir
	OpSyncDir
)

var opNames = [...]string{
	OpCreate:   "create",
	OpOpen:     "open",
	OpRead:     "read",
	OpWrite:    "write",
	OpSync:     "sync",
	OpTruncate: "truncate",
	OpClose:    "close",
	OpStat:     "stat",
	OpRename:   "rename",
	OpRemove:   "remove",
	OpMkdirAll: "mkdirall",
	OpReadDir:  "readdir",
	OpSyncDir:  "syncdir",
}

// String returns the lowercase name of the operation, as used in the errors
// errorfs returns.
func (o Op) String() string {
	if o.valid() {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

func (o Op) valid() bool { return o >= OpCreate && o <= OpSyncDir }

// Rule is a fault to inject. Exactly one effect must be chosen: an error
// (Err, optionally with Short for writes) or, for OpRead only, a bit flip
// (Err nil, FlipBitAt).
type Rule struct {
	// Op is the operation the rule applies to. It is required.
	Op Op
	// Path is a filepath.Match pattern. A pattern without a path separator
	// is matched against the base name of the file ("*.wal"), any other
	// against the whole cleaned path. Empty matches every path. Rename
	// matches if either its old or its new name matches; MkdirAll, ReadDir
	// and SyncDir match on the directory.
	Path string
	// Match, if not nil, must also return true for the path, for
	// predicates a glob cannot express (strings.Contains, say).
	Match func(path string) bool
	// After is the number of matching calls that pass through before the
	// rule fires.
	After int
	// AfterBytes, for OpWrite only, lets matching writes store AfterBytes
	// bytes in total (counted from Inject, over all matching files) before
	// the rule fires: the write that would exceed the limit is the first to
	// fail. Zero means no byte limit.
	AfterBytes int64
	// Err is the error a firing rule returns, such as syscall.EIO or
	// syscall.ENOSPC. It may be nil only for a bit-flipping OpRead rule.
	Err error
	// Short, for OpWrite only, makes a failing write store part of its data
	// before returning Err: as much as AfterBytes still allows, or half of
	// the buffer (rounded down) if AfterBytes is zero.
	Short bool
	// FlipBitAt, for an OpRead rule with a nil Err, is the position in bits
	// from the start of the file of the bit to flip in the data a firing
	// read returns: bit FlipBitAt%8 (0 is the least significant) of byte
	// FlipBitAt/8. Reads that do not cover that byte are unchanged. The
	// file itself is not modified.
	FlipBitAt int64
}

// validate reports why r cannot be injected.
func (r *Rule) validate() error {
	if !r.Op.valid() {
		return fmt.Errorf("invalid op %v", r.Op)
	}
	if _, err := filepath.Match(r.Path, ""); err != nil {
		return fmt.Errorf("path %q: %w", r.Path, err)
	}
	switch {
	case r.After < 0 || r.AfterBytes < 0 || r.FlipBitAt < 0:
		return fmt.Errorf("negative After, AfterBytes or FlipBitAt")
	case r.Op != OpWrite && (r.AfterBytes != 0 || r.Short):
		return fmt.Errorf("AfterBytes and Short need OpWrite, not %v", r.Op)
	case r.Err == nil && r.Op != OpRead:
		return fmt.Errorf("%v rule without Err has no effect", r.Op)
	case r.Err != nil && r.FlipBitAt != 0:
		return fmt.Errorf("rule sets both Err and FlipBitAt")
	}
	return nil
}

// flips reports whether r corrupts reads rather than failing them.
func (r *Rule) flips() bool { return r.Op == OpRead && r.Err == nil }

// matches reports whether r selects a call of op on path (and newpath, for a
// rename).
func (r *Rule) matches(op Op, path, newpath string) bool {
	if op != r.Op {
		return false
	}
	one := func(p string) bool {
		return matchPath(r.Path, p) && (r.Match == nil || r.Match(p))
	}
	return one(path) || (newpath != "" && one(newpath))
}

// matchPath reports whether path matches the glob pattern (see Rule.Path).
func matchPath(pattern, path string) bool {
	if pattern == "" {
		return true
	}
	path = filepath.Clean(path)
	if !strings.ContainsRune(pattern, filepath.Separator) {
		path = filepath.Base(path)
	}
	ok, _ := filepath.Match(pattern, path)
	return ok
}

// rule is an injected Rule with its counters.
type rule struct {
	Rule
	calls   int   // matching calls so far
	written int64 // bytes stored by matching writes
	tripped bool  // an AfterBytes rule has fired
}

// call identifies the calls Count counts.
type call struct {
	op            Op
	path, newpath string
}

// FS is a vfs.FS that injects faults into the FS it wraps. Create it with
// New.
type FS struct {
	inner vfs.FS

	mu     sync.Mutex
	rules  []*rule
	counts map[call]int64
	open   map[*file]struct{} // the Files not yet closed
}

var _ vfs.FS = (*FS)(nil)

// New returns an FS that passes every call to inner until a rule is
// injected.
func New(inner vfs.FS) *FS {
	return &FS{inner: inner, counts: make(map[call]int64), open: make(map[*file]struct{})}
}

// Inject adds a rule. It panics if the rule is invalid (no Op, a bad
// pattern, options that do not apply to the Op, or no effect), since that is
// a mistake in the test.
func (fs *FS) Inject(r Rule) {
	if err := r.validate(); err != nil {
		panic("errorfs: " + err.Error())
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rules = append(fs.rules, &rule{Rule: r})
}

// Clear removes every rule. Call counts are kept.
func (fs *FS) Clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rules = nil
}

// Count returns the number of calls of op since New on paths matching the
// glob pattern (see Rule.Path), including calls that failed.
func (fs *FS) Count(op Op, pattern string) int64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var n int64
	for c, k := range fs.counts {
		if c.op == op && (matchPath(pattern, c.path) || (c.newpath != "" && matchPath(pattern, c.newpath))) {
			n += k
		}
	}
	return n
}

// verdict is what the rules decide about one call.
type verdict struct {
	err   error   // the injected error, nil to proceed
	limit int     // for a failing write, the bytes to store first
	flips []int64 // for a read, the bit offsets to flip

	// For a write, the matching rules and the bytes reserved against
	// their byte limits: all of the buffer if err is nil, limit otherwise.
	// Reserving in check keeps the limits exact under concurrent writes.
	writeRules []*rule
	reserved   int
}

// check counts a call of op on path (newpath for a rename) and applies the
// rules to it. size is the length of a read or write buffer.
func (fs *FS) check(op Op, path, newpath string, size int) verdict {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.counts[call{op, path, newpath}]++
	var v verdict
	for _, r := range fs.rules {
		if !r.matches(op, path, newpath) {
			continue
		}
		if op == OpWrite {
			v.writeRules = append(v.writeRules, r)
		}
		r.calls++
		if r.calls <= r.After {
			continue
		}
		if r.flips() {
			v.flips = append(v.flips, r.FlipBitAt)
			continue
		}
		if v.err != nil {
			continue
		}
		limit := 0
		if op == OpWrite {
			if r.AfterBytes > 0 && !r.tripped {
				if r.written+int64(size) <= r.AfterBytes {
					continue
				}
				r.tripped = true
			}
			if r.Short {
				limit = size / 2
				if r.AfterBytes > 0 {
					limit = int(max(0, min(int64(size), r.AfterBytes-r.written)))
				}
			}
		}
		v.err, v.limit = r.Err, limit
	}
	v.reserved = size
	if v.err != nil {
		v.reserved = v.limit
	}
	for _, r := range v.writeRules {
		r.written += int64(v.reserved)
	}
	return v
}

// wrote corrects the byte counts of a write that v reserved, which stored n
// bytes.
func (fs *FS) wrote(v *verdict, n int) {
	if n == v.reserved {
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, r := range v.writeRules {
		r.written -= int64(v.reserved - n)
	}
}

// pathError wraps an injected error like package os does.
func pathError(op Op, path string, err error) error {
	return &os.PathError{Op: op.String(), Path: path, Err: err}
}

// Create implements vfs.FS; it is OpCreate.
func (fs *FS) Create(name string) (vfs.File, error) {
	if v := fs.check(OpCreate, name, "", 0); v.err != nil {
		return nil, pathError(OpCreate, name, v.err)
	}
	return fs.wrap(fs.inner.Create(name))
}

// Open implements vfs.FS; it is OpOpen.
func (fs *FS) Open(name string) (vfs.File, error) {
	if v := fs.check(OpOpen, name, "", 0); v.err != nil {
		return nil, pathError(OpOpen, name, v.err)
	}
	return fs.wrap(fs.inner.Open(name))
}

// OpenFile implements vfs.FS; it is OpCreate if flag has os.O_CREATE and
// OpOpen otherwise.
func (fs *FS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	op := OpOpen
	if flag&os.O_CREATE != 0 {
		op = OpCreate
	}
	if v := fs.check(op, name, "", 0); v.err != nil {
		return nil, pathError(op, name, v.err)
	}
	return fs.wrap(fs.inner.OpenFile(name, flag, perm))
}

// wrap returns the errorfs File for a file the inner FS opened.
func (fs *FS) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	w := &file{fs: fs, f: f, path: f.Name()}
	fs.mu.Lock()
	fs.open[w] = struct{}{}
	fs.mu.Unlock()
	return w, nil
}

// Rename implements vfs.FS; it is OpRename.
func (fs *FS) Rename(oldname, newname string) error {
	if v := fs.check(OpRename, oldname, newname, 0); v.err != nil {
		return &os.LinkError{Op: OpRename.String(), Old: oldname, New: newname, Err: v.err}
	}
	if err := fs.inner.Rename(oldname, newname); err != nil {
		return err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for f := range fs.open {
		if filepath.Clean(f.path) == filepath.Clean(oldname) {
			f.path = newname
		}
	}
	return nil
}

// Remove implements vfs.FS; it is OpRemove.
func (fs *FS) Remove(name string) error {
	if v := fs.check(OpRemove, name, "", 0); v.err != nil {
		return pathError(OpRemove, name, v.err)
	}
	return fs.inner.Remove(name)
}

// MkdirAll implements vfs.FS; it is OpMkdirAll.
func (fs *FS) MkdirAll(dir string, perm os.FileMode) error {
	if v := fs.check(OpMkdirAll, dir, "", 0); v.err != nil {
		return pathError(OpMkdirAll, dir, v.err)
	}
	return fs.inner.MkdirAll(dir, perm)
}

// ReadDir implements vfs.FS; it is OpReadDir.
func (fs *FS) ReadDir(dir string) ([]os.DirEntry, error) {
	if v := fs.check(OpReadDir, dir, "", 0); v.err != nil {
		return nil, pathError(OpReadDir, dir, v.err)
	}
	return fs.inner.ReadDir(dir)
}

// Stat implements vfs.FS; it is OpStat.
func (fs *FS) Stat(name string) (os.FileInfo, error) {
	if v := fs.check(OpStat, name, "", 0); v.err != nil {
		return nil, pathError(OpStat, name, v.err)
	}
	return fs.inner.Stat(name)
}

// SyncDir implements vfs.FS; it is OpSyncDir.
func (fs *FS) SyncDir(dir string) error {
	if v := fs.check(OpSyncDir, dir, "", 0); v.err != nil {
		return pathError(OpSyncDir, dir, v.err)
	}
	return fs.inner.SyncDir(dir)
}

// file is a vfs.File whose calls go through the rules of fs.
type file struct {
	fs   *FS
	f    vfs.File
	path string // guarded by fs.mu: Rename changes it

	// mu guards pos, the offset of Read and Write, tracked for inner files
	// that cannot report it (see offset).
	mu  sync.Mutex
	pos int64
}

// offset returns the current offset of Read.
func (f *file) offset() int64 {
	if s, ok := f.f.(io.Seeker); ok {
		if off, err := s.Seek(0, io.SeekCurrent); err == nil {
			return off
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pos
}

// advance moves the tracked offset by n bytes.
func (f *file) advance(n int) {
	f.mu.Lock()
	f.pos += int64(n)
	f.mu.Unlock()
}

// Read implements vfs.File; it is OpRead.
func (f *file) Read(p []byte) (int, error) {
	path := f.name()
	v := f.fs.check(OpRead, path, "", len(p))
	if v.err != nil {
		return 0, pathError(OpRead, path, v.err)
	}
	off := int64(0)
	if len(v.flips) > 0 {
		off = f.offset()
	}
	n, err := f.f.Read(p)
	f.advance(n)
	flip(p[:n], off, v.flips)
	return n, err
}

// ReadAt implements vfs.File; it is OpRead.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	path := f.name()
	v := f.fs.check(OpRead, path, "", len(p))
	if v.err != nil {
		return 0, pathError(OpRead, path, v.err)
	}
	n, err := f.f.ReadAt(p, off)
	flip(p[:n], off, v.flips)
	return n, err
}

// flip flips the bits at the file bit offsets in bits within p, which holds
// the file's bytes from offset off.
func flip(p []byte, off int64, bits []int64) {
	for _, b := range bits {
		if i := b/8 - off; i >= 0 && i < int64(len(p)) {
			p[i] ^= 1 << (b % 8)
		}
	}
}

// Write implements vfs.File; it is OpWrite.
func (f *file) Write(p []byte) (int, error) {
	path := f.name()
	v := f.fs.check(OpWrite, path, "", len(p))
	if v.err == nil {
		n, err := f.f.Write(p)
		f.advance(n)
		f.fs.wrote(&v, n)
		return n, err
	}
	n := 0
	if v.limit > 0 {
		var err error
		n, err = f.f.Write(p[:v.limit])
		f.advance(n)
		if err != nil {
			f.fs.wrote(&v, n)
			return n, err
		}
	}
	f.fs.wrote(&v, n)
	return n, pathError(OpWrite, path, v.err)
}

// Sync implements vfs.File; it is OpSync.
func (f *file) Sync() error {
	path := f.name()
	if v := f.fs.check(OpSync, path, "", 0); v.err != nil {
		return pathError(OpSync, path, v.err)
	}
	return f.f.Sync()
}

// Truncate implements vfs.File; it is OpTruncate.
func (f *file) Truncate(size int64) error {
	path := f.name()
	if v := f.fs.check(OpTruncate, path, "", 0); v.err != nil {
		return pathError(OpTruncate, path, v.err)
	}
	return f.f.Truncate(size)
}

// Stat implements vfs.File; it is OpStat.
func (f *file) Stat() (os.FileInfo, error) {
	path := f.name()
	if v := f.fs.check(OpStat, path, "", 0); v.err != nil {
		return nil, pathError(OpStat, path, v.err)
	}
	return f.f.Stat()
}

// Close implements vfs.File; it is OpClose. The underlying file is closed
// even when an error is injected.
func (f *file) Close() error {
	path := f.name()
	v := f.fs.check(OpClose, path, "", 0)
	err := f.f.Close()
	f.fs.mu.Lock()
	delete(f.fs.open, f)
	f.fs.mu.Unlock()
	if v.err != nil {
		return pathError(OpClose, path, v.err)
	}
	return err
}

// Name implements vfs.File. It is not an operation rules can select.
func (f *file) Name() string { return f.name() }

// name returns the file's current path.
func (f *file) name() string {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return f.path
}
