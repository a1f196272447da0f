package errorfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/soltixdb/soltix/storage/vfs"
)

// withFile opens path read-write through fs, calls fn with it and closes it,
// returning fn's error.
func withFile(fs *FS, path string, fn func(f vfs.File) error) error {
	f, err := fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = fn(f)
	_ = f.Close()
	return err
}

func TestErrorRules(t *testing.T) {
	tests := []struct {
		op   Op
		dirs bool // the targets are directories rather than files
		do   func(fs *FS, path string) error
	}{
		{OpCreate, false, func(fs *FS, path string) error {
			f, err := fs.Create(path)
			if err == nil {
				err = f.Close()
			}
			return err
		}},
		{OpCreate, false, func(fs *FS, path string) error { // OpenFile with O_CREATE
			f, err := fs.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
			if err == nil {
				err = f.Close()
			}
			return err
		}},
		{OpOpen, false, func(fs *FS, path string) error {
			f, err := fs.Open(path)
			if err == nil {
				err = f.Close()
			}
			return err
		}},
		{OpRead, false, func(fs *FS, path string) error {
			return withFile(fs, path, func(f vfs.File) error {
				_, err := f.Read(make([]byte, 4))
				return err
			})
		}},
		{OpRead, false, func(fs *FS, path string) error { // ReadAt
			return withFile(fs, path, func(f vfs.File) error {
				_, err := f.ReadAt(make([]byte, 4), 2)
				return err
			})
		}},
		{OpWrite, false, func(fs *FS, path string) error {
			return withFile(fs, path, func(f vfs.File) error {
				n, err := f.Write([]byte("abc"))
				if err != nil && n != 0 {
					return fmt.Errorf("failed write stored %d bytes, want 0", n)
				}
				return err
			})
		}},
		{OpSync, false, func(fs *FS, path string) error {
			return withFile(fs, path, func(f vfs.File) error { return f.Sync() })
		}},
		{OpTruncate, false, func(fs *FS, path string) error {
			return withFile(fs, path, func(f vfs.File) error { return f.Truncate(3) })
		}},
		{OpClose, false, func(fs *FS, path string) error {
			f, err := fs.Open(path)
			if err != nil {
				return err
			}
			return f.Close()
		}},
		{OpStat, false, func(fs *FS, path string) error {
			_, err := fs.Stat(path)
			return err
		}},
		{OpStat, false, func(fs *FS, path string) error { // File.Stat
			return withFile(fs, path, func(f vfs.File) error {
				_, err := f.Stat()
				return err
			})
		}},
		{OpRename, false, func(fs *FS, path string) error { return fs.Rename(path, path+".new") }},
		{OpRemove, false, func(fs *FS, path string) error { return fs.Remove(path) }},
		{OpMkdirAll, true, func(fs *FS, path string) error { return fs.MkdirAll(path, 0o755) }},
		{OpReadDir, true, func(fs *FS, path string) error {
			_, err := fs.ReadDir(path)
			return err
		}},
		{OpSyncDir, true, func(fs *FS, path string) error { return fs.SyncDir(path) }},
	}
	const after, calls = 2, 4
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d-%v", i, tt.op), func(t *testing.T) {
			dir := t.TempDir()
			// Each call gets its own target, so that Create, Rename and
			// Remove can succeed more than once.
			target := func(ext string, i int) string {
				if tt.op == OpMkdirAll {
					// A directory MkdirAll creates, with its parent.
					return filepath.Join(dir, fmt.Sprintf("f%d", i), "d"+ext)
				}
				return filepath.Join(dir, fmt.Sprintf("f%d%s", i, ext))
			}
			for i := range calls {
				if tt.op == OpMkdirAll {
					break
				}
				for _, ext := range []string{".x", ".y"} {
					p := target(ext, i)
					var err error
					if tt.dirs {
						err = os.MkdirAll(p, 0o755)
					} else {
						err = os.WriteFile(p, []byte("0123456789"), 0o644)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			fs := New(vfs.Default)
			fs.Inject(Rule{Op: tt.op, Path: "*.x", After: after, Err: syscall.EIO})
			for i := range calls {
				p := target(".x", i)
				err := tt.do(fs, p)
				if i < after && err != nil {
					t.Errorf("%v call %d on %s: got %v, want nil", tt.op, i+1, p, err)
				}
				if i >= after && !errors.Is(err, syscall.EIO) {
					t.Errorf("%v call %d on %s: got %v, want %v", tt.op, i+1, p, err, syscall.EIO)
				}
				p = target(".y", i)
				if err := tt.do(fs, p); err != nil {
					t.Errorf("%v call %d on non-matching %s: got %v, want nil", tt.op, i+1, p, err)
				}
			}
			if got := fs.Count(tt.op, "*.x"); got != calls {
				t.Errorf("Count(%v, *.x) = %d, want %d", tt.op, got, calls)
			}
			if got := fs.Count(tt.op, "*.y"); got != calls {
				t.Errorf("Count(%v, *.y) = %d, want %d", tt.op, got, calls)
			}
			fs.Clear()
			if err := tt.do(fs, target(".x", calls-1)); errors.Is(err, syscall.EIO) {
				t.Errorf("%v after Clear: got %v, want no injected error", tt.op, err)
			}
		})
	}
}

func TestErrorWrapping(t *testing.T) {
	dir := t.TempDir()
	fs := New(vfs.Default)
	fs.Inject(Rule{Op: OpRename, Path: "*.col", Err: syscall.EIO})
	fs.Inject(Rule{Op: OpCreate, Err: syscall.ENOSPC})
	old, new := filepath.Join(dir, "a.tmp"), filepath.Join(dir, "a.col")
	err := fs.Rename(old, new)
	var le *os.LinkError
	if !errors.As(err, &le) || le.Old != old || le.New != new || !errors.Is(err, syscall.EIO) {
		t.Errorf("Rename(%s, %s) into a matching new name: got %#v, want *os.LinkError wrapping EIO", old, new, err)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed Rename touched the filesystem: Stat(%s) = %v", old, err)
	}
	f, err := fs.Create(old)
	var pe *os.PathError
	if f != nil || !errors.As(err, &pe) || pe.Op != "create" || pe.Path != old || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Create(%s) with an empty Path rule: got %v, %#v; want nil, *os.PathError wrapping ENOSPC", old, f, err)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed Create created the file: Stat(%s) = %v", old, err)
	}
	// Errors of the wrapped FS pass through.
	if _, err := fs.Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing): got %v, want %v", err, os.ErrNotExist)
	}
}

func TestMatch(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "wal")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rule Rule
		path string
		want bool
	}{
		{Rule{Path: ""}, filepath.Join(dir, "anything"), true},
		{Rule{Path: "*.wal"}, filepath.Join(sub, "0001.wal"), true},
		{Rule{Path: "*.wal"}, filepath.Join(sub, "0001.wal.tmp"), false},
		{Rule{Path: "0001.*"}, filepath.Join(sub, "0001.wal"), true},
		{Rule{Path: filepath.Join(sub, "*")}, filepath.Join(sub, "0001.wal"), true},
		{Rule{Path: filepath.Join(dir, "*")}, filepath.Join(sub, "0001.wal"), false},
		{Rule{Path: "*.wal", Match: func(p string) bool { return strings.Contains(p, "/wal/") }}, filepath.Join(sub, "1.wal"), true},
		{Rule{Path: "*.wal", Match: func(p string) bool { return strings.Contains(p, "/other/") }}, filepath.Join(sub, "1.wal"), false},
	}
	for _, tt := range tests {
		fs := New(vfs.Default)
		tt.rule.Op, tt.rule.Err = OpStat, syscall.EIO
		fs.Inject(tt.rule)
		_, err := fs.Stat(tt.path)
		if got := errors.Is(err, syscall.EIO); got != tt.want {
			t.Errorf("rule with Path %q: Stat(%s) = %v, want an injected error: %v", tt.rule.Path, tt.path, err, tt.want)
		}
	}
}

func TestShortWrite(t *testing.T) {
	tests := []struct {
		name   string
		rule   Rule
		writes []int // buffer lengths, in order
		want   []int // bytes each write stores
		// wantErr[i] says whether write i fails.
		wantErr []bool
	}{
		{"disk full, short", Rule{AfterBytes: 10, Short: true}, []int{4, 4, 4, 4, 1}, []int{4, 4, 2, 0, 0}, []bool{false, false, true, true, true}},
		{"disk full, whole writes", Rule{AfterBytes: 10}, []int{4, 4, 4, 1}, []int{4, 4, 0, 0}, []bool{false, false, true, true}},
		{"limit reached exactly", Rule{AfterBytes: 10, Short: true}, []int{5, 5, 1}, []int{5, 5, 0}, []bool{false, false, true}},
		{"first write too big", Rule{AfterBytes: 3, Short: true}, []int{8}, []int{3}, []bool{true}},
		{"short after calls", Rule{After: 1, Short: true}, []int{4, 6, 7}, []int{4, 3, 3}, []bool{false, true, true}},
		{"after calls and bytes", Rule{After: 2, AfterBytes: 2, Short: true}, []int{4, 4, 4}, []int{4, 4, 0}, []bool{false, false, true}},
		{"error after calls", Rule{After: 2}, []int{4, 4, 4}, []int{4, 4, 0}, []bool{false, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fs := New(vfs.Default)
			r := tt.rule
			r.Op, r.Path, r.Err = OpWrite, "*.tmp", syscall.ENOSPC
			fs.Inject(r)
			path := filepath.Join(dir, "a.tmp")
			f, err := fs.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			other, err := fs.Create(filepath.Join(dir, "b.col"))
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			for i, size := range tt.writes {
				buf := bytes.Repeat([]byte{byte('a' + i)}, size)
				n, err := f.Write(buf)
				if n != tt.want[i] || (err != nil) != tt.wantErr[i] || (err != nil && !errors.Is(err, syscall.ENOSPC)) {
					t.Errorf("write #%d of %d bytes: got %d, %v; want %d, error %v", i+1, size, n, err, tt.want[i], tt.wantErr[i])
				}
				want = append(want, buf[:n]...)
				if n, err := other.Write(buf); n != size || err != nil {
					t.Errorf("write #%d to non-matching file: got %d, %v; want %d, nil", i+1, n, err, size)
				}
			}
			for _, c := range []vfs.File{f, other} {
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("file contents: got %q, want %q", got, want)
			}
			if got, want := fs.Count(OpWrite, "*.tmp"), int64(len(tt.writes)); got != want {
				t.Errorf("Count(OpWrite, *.tmp) = %d, want %d", got, want)
			}
		})
	}
}

func TestAfterBytesShared(t *testing.T) {
	// The byte limit covers every matching file, also under concurrency:
	// exactly AfterBytes bytes are stored in total.
	const writers, limit = 8, 1000
	dir := t.TempDir()
	fs := New(vfs.Default)
	fs.Inject(Rule{Op: OpWrite, Path: "*.tmp", AfterBytes: limit, Short: true, Err: syscall.ENOSPC})
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			f, err := fs.Create(filepath.Join(dir, fmt.Sprintf("%d.tmp", g)))
			if err != nil {
				t.Error(err)
				return
			}
			defer func() { _ = f.Close() }()
			for {
				if _, err := f.Write(make([]byte, 7)); err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Errorf("Write: got %v, want %v", err, syscall.ENOSPC)
					}
					return
				}
			}
		})
	}
	wg.Wait()
	var total int64
	for g := range writers {
		fi, err := os.Stat(filepath.Join(dir, fmt.Sprintf("%d.tmp", g)))
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	if total != limit {
		t.Errorf("%d concurrent writers with AfterBytes %d: stored %d bytes in total, want %d", writers, limit, total, limit)
	}
}

func TestFlipBit(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 256)
	for i := range data {
		data[i] = byte(i)
	}
	path, other := filepath.Join(dir, "a.col"), filepath.Join(dir, "a.idx")
	for _, p := range []string{path, other} {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const bit = 123 // byte 15, bit 3
	corrupt := bytes.Clone(data)
	corrupt[15] ^= 1 << 3

	fs := New(vfs.Default)
	fs.Inject(Rule{Op: OpRead, Path: "*.col", After: 1, FlipBitAt: bit})

	readAll := func(p string, chunk int) []byte {
		t.Helper()
		f, err := fs.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = f.Close() }()
		var out []byte
		buf := make([]byte, chunk)
		for {
			n, err := f.Read(buf)
			out = append(out, buf[:n]...)
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	readAt := func(p string, off, n int) []byte {
		t.Helper()
		f, err := fs.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = f.Close() }()
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, int64(off)); err != nil {
			t.Fatal(err)
		}
		return buf
	}

	// The first matching read passes (After: 1).
	if got := readAt(path, 0, 256); !bytes.Equal(got, data) {
		t.Errorf("first ReadAt with After 1: got corrupted data, want intact")
	}
	if got := readAt(path, 0, 256); !bytes.Equal(got, corrupt) {
		t.Errorf("ReadAt(0, 256): got %v, want bit %d flipped", got[:20], bit)
	}
	if got := readAt(path, 10, 10); !bytes.Equal(got, corrupt[10:20]) {
		t.Errorf("ReadAt(10, 10): got %v, want %v", got, corrupt[10:20])
	}
	if got := readAt(path, 15, 1); !bytes.Equal(got, corrupt[15:16]) {
		t.Errorf("ReadAt(15, 1): got %v, want %v", got, corrupt[15:16])
	}
	if got := readAt(path, 16, 100); !bytes.Equal(got, data[16:116]) {
		t.Errorf("ReadAt(16, 100) past the flipped byte: got corrupted data, want intact")
	}
	for _, chunk := range []int{1, 7, 15, 16, 300} {
		if got := readAll(path, chunk); !bytes.Equal(got, corrupt) {
			t.Errorf("Read in %d-byte chunks: got %v, want bit %d flipped", chunk, got[:20], bit)
		}
	}
	if got := readAll(other, 7); !bytes.Equal(got, data) {
		t.Errorf("Read of non-matching file: got corrupted data, want intact")
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
		t.Errorf("file on disk after corrupt reads: got %v, %v; want unchanged", got[:20], err)
	}
	fs.Clear()
	if got := readAt(path, 0, 256); !bytes.Equal(got, data) {
		t.Errorf("ReadAt after Clear: got corrupted data, want intact")
	}
}

func TestCount(t *testing.T) {
	dir := t.TempDir()
	fs := New(vfs.Default)
	tmp, col := filepath.Join(dir, "a.col.tmp"), filepath.Join(dir, "a.col")
	fs.Inject(Rule{Op: OpSync, Path: "*.tmp", Err: syscall.EIO})
	f, err := fs.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_ = f.Sync() // Fails; failures count too.
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fs.Rename(tmp, col); err != nil {
		t.Fatal(err)
	}
	fs.Clear()
	if err := fs.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		op      Op
		pattern string
		want    int64
	}{
		{OpSync, "*.tmp", 3},
		{OpSync, "", 3},
		{OpSync, "*.col", 0},
		{OpCreate, "*.tmp", 1},
		{OpClose, "*", 1},
		{OpRename, "*.tmp", 1},
		{OpRename, "*.col", 1}, // matched by the new name
		{OpRename, "*.wal", 0},
		{OpSyncDir, filepath.Base(dir), 1},
		{OpWrite, "", 0},
	}
	for _, tt := range tests {
		if got := fs.Count(tt.op, tt.pattern); got != tt.want {
			t.Errorf("Count(%v, %q) = %d, want %d", tt.op, tt.pattern, got, tt.want)
		}
	}
}

func TestInjectInvalid(t *testing.T) {
	tests := []Rule{
		{Path: "*.wal", Err: syscall.EIO},                            // no Op
		{Op: OpSync, Path: "[", Err: syscall.EIO},                    // bad pattern
		{Op: OpSync, Path: "*.wal"},                                  // no effect
		{Op: OpSync, Short: true, Err: syscall.EIO},                  // Short on a non-write
		{Op: OpRead, AfterBytes: 10, Err: syscall.EIO},               // AfterBytes on a non-write
		{Op: OpRead, FlipBitAt: 3, Err: syscall.EIO},                 // both effects
		{Op: OpWrite, After: -1, Err: syscall.EIO},                   // negative After
		{Op: Op(99), Err: syscall.EIO},                               // unknown Op
		{Op: OpRead, FlipBitAt: -8},                                  // negative FlipBitAt
		{Op: OpWrite, AfterBytes: -1, Short: true, Err: syscall.EIO}, // negative AfterBytes
	}
	for _, r := range tests {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Inject(%+v): no panic, want a panic", r)
				}
			}()
			New(vfs.Default).Inject(r)
		}()
	}
}

// TestRenameMovesOpenFile: a rule on *.wal applies to a file opened under
// another name once it is renamed to a .wal name, and no longer to a file
// renamed away from one; Name follows.
func TestRenameMovesOpenFile(t *testing.T) {
	fs := New(vfs.Default)
	dir := t.TempDir()
	spare, seg, old := filepath.Join(dir, "next.spare"), filepath.Join(dir, "1.wal"), filepath.Join(dir, "1.old")
	f, err := fs.OpenFile(spare, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fs.Inject(Rule{Op: OpSync, Path: "*.wal", Err: syscall.EIO})
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync before the rename: %v", err)
	}
	if err := fs.Rename(spare, seg); err != nil {
		t.Fatal(err)
	}
	if f.Name() != seg {
		t.Errorf("Name after the rename = %q, want %q", f.Name(), seg)
	}
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync after the rename to .wal: %v, want EIO", err)
	}
	if err := fs.Rename(seg, old); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync after the rename away from .wal: %v", err)
	}
}
